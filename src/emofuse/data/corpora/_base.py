"""The corpus-reader registry and the entry points :func:`load_corpus`, :func:`sniff_corpus`.

A reader module registers its function with :func:`corpus_reader`, giving how its layout is
recognised (``sniff``) and, for an official corpus, the folder name it has under
``data_dir`` / ``$EMOFUSE_DATA_DIR``. Option validation and sniffing are those of
:class:`~emofuse.data._readers.ReaderRegistry`, shared with the feature-format readers.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emofuse.data._readers import ReaderRegistry, Sniffer
from emofuse.data.corpora._records import Corpus
from emofuse.errors import ConfigError, DataError, MissingFileError, UnknownNameError

__all__ = ["CORPORA", "DATA_DIR_ENV", "corpus_reader", "list_corpora", "load_corpus", "sniff_corpus"]

#: Environment variable naming the folder that holds the corpora (``fer2013/``, ``emodb/`` ...).
DATA_DIR_ENV = "EMOFUSE_DATA_DIR"

CorpusReader = Callable[..., Corpus]
#: Every corpus reader, by name.
CORPORA: ReaderRegistry[CorpusReader] = ReaderRegistry("corpus reader", "corpus")
#: Sub-folder of ``data_dir`` / ``$EMOFUSE_DATA_DIR`` holding each official corpus.
_OFFICIAL_DIRS: dict[str, str] = {}


def corpus_reader(name: str, *, layout: str, sniff: Sniffer | None = None, order: int = 50,
                  data_dir: str | None = None) -> Callable[[CorpusReader], CorpusReader]:
    """Register a corpus reader (decorator).

    Args:
        name: Reader name (``format=`` value; an official corpus' name too).
        layout: One line describing the layout it reads (shown when sniffing fails).
        sniff: Recognises the layout from an existing path; ``None``: only read with ``format=name``.
        order: Sniffers run in increasing order (specific layouts first, generic ones last).
        data_dir: For an official corpus, its folder under ``data_dir`` / ``$EMOFUSE_DATA_DIR``,
            so that ``load_corpus(name)`` finds it.
    """
    register = CORPORA.register(name, layout=layout, sniff=sniff, order=order)

    def deco(reader: CorpusReader) -> CorpusReader:
        register(reader)
        if data_dir is not None:
            _OFFICIAL_DIRS[name] = data_dir
        return reader

    return deco


def list_corpora(pattern: str = "*") -> list[str]:
    """Names of the registered corpus readers matching a shell-style ``pattern``."""
    return CORPORA.names(pattern)


def sniff_corpus(path: str | Path) -> str:
    """Name of the reader for ``path``, told from its layout.

    Folders: ``Actor_NN`` sub-folders → ``ravdess``; ``emotions.txt`` → ``goemotions``; a
    ``wav/`` sub-folder or files named like ``03a01Wa.wav`` → ``emodb``; ``fer2013.csv[.gz]`` →
    ``fer2013``; class sub-folders holding images or audio → ``folders``. Files: a ``.tsv`` next
    to ``emotions.txt`` → ``goemotions``; a CSV whose header has ``pixels`` → ``fer2013``; a CSV
    whose header has ``path`` → ``audio_csv``. Other tables need ``format="text_table"``.

    Raises:
        MissingFileError: ``path`` does not exist.
        DataError: no reader recognises it.
    """
    return CORPORA.sniff(path)


def _official_path(source: str, format: str, data_dir: str | Path | None) -> Path:  # noqa: A002
    if format not in ("auto", source):
        raise ConfigError(f"corpus name {source!r} contradicts format={format!r}")
    if source not in _OFFICIAL_DIRS:
        raise DataError(f"reader {source!r} reads a user's own data: pass the path of the file or folder")
    base = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if not base:
        raise MissingFileError(f"corpus {source!r} given by name, but no data folder: pass data_dir= or set "
                               f"${DATA_DIR_ENV} to the folder holding {_OFFICIAL_DIRS[source]}/")
    return Path(base) / _OFFICIAL_DIRS[source]


def load_corpus(source: str | Path, *, format: str = "auto", data_dir: str | Path | None = None,  # noqa: A002
                **options: Any) -> Corpus:
    """Read a raw corpus with any registered reader.

    Args:
        source: A path (file or folder) in a reader's layout, or the name of an official
            corpus (``fer2013``, ``goemotions``, ``emodb``, ``ravdess``) found in the folder of
            that name under ``data_dir`` (default: ``$EMOFUSE_DATA_DIR``).
        format: A reader name from :data:`CORPORA`, or ``"auto"`` to sniff it (see :func:`sniff_corpus`).
        data_dir: Folder holding the official corpora, for a ``source`` given by name.
        **options: Reader options (``usage=``, ``split=``, ``view=``, ``label_map=`` ...); an
            unknown option raises :class:`UnknownNameError` listing the reader's options.

    Returns:
        The corpus.

    Raises:
        MissingFileError: the path does not exist (or a name is given with no data folder).
        UnknownNameError: unknown corpus name, ``format`` or option (with close matches).
        DataError: the content does not fit the reader's format, or the corpus is empty.
    """
    path = Path(source)
    if isinstance(source, str) and source in CORPORA and not path.exists():
        path = _official_path(source, format, data_dir)
        format = source
    if not path.exists():
        bare = isinstance(source, str) and not any(ch in source for ch in "/\\.") and format == "auto"
        if bare and difflib.get_close_matches(str(source), CORPORA.names(), n=1, cutoff=0.5):
            raise UnknownNameError("corpus", str(source), CORPORA.names())
        hint = f" (nor is {source!r} a corpus name: {', '.join(_OFFICIAL_DIRS)})" if bare else ""
        raise MissingFileError(f"corpus path {path} does not exist{hint}")
    fmt = CORPORA.sniff(path) if format == "auto" else format
    reader = CORPORA.get(fmt)
    CORPORA.check_options(fmt, options)
    return reader(path, **options)
