"""Readers for raw emotion corpora: labelled images, audio files and texts.

The per-modality experts (face, voice, text) train on raw corpora, not on pre-extracted
features. Every reader here lists a corpus in its official layout and returns a
:class:`Corpus`: an ordered list of :class:`CorpusItem` (id, label, and the file path, text
or pixels of one example) plus the class names. Readers never decode media: audio and image
files are listed by path and decoded later by the component that consumes them.

One entry point, :func:`load_corpus`, takes a path (the reader is sniffed from its layout)
or a corpus name (resolved under ``data_dir`` or ``$EMOFUSE_DATA_DIR``); the readers are
registered in :data:`CORPORA`:

==============  =====================================================================================
reader          what it reads
==============  =====================================================================================
``fer2013``     ``emotion,pixels,Usage`` CSV (plain, gzipped, or a ``.tar.gz``/``.zip`` holding it)
``goemotions``  ``text<TAB>ids<TAB>comment id`` TSV + ``emotions.txt`` (+ ``ekman_mapping.json``)
``emodb``       Berlin EmoDB ``wav/SSTTTEv.wav`` files
``ravdess``     RAVDESS ``Actor_NN/MM-VV-EE-II-SS-RR-AA.<ext>`` files
``audio_csv``   a CSV listing audio files (``path,label,speaker`` columns by default)
``text_table``  a CSV/TSV with a text column and a label column
``folders``     images or audio files in class-named sub-folders (``root/<class>/*``)
==============  =====================================================================================

Every reader takes ``label_map`` (raw label → target class, a dict or a JSON/YAML file),
``label_space`` (a registered space the labels must belong to, or are mapped to through
:mod:`emofuse.labels`) and ``unknown`` (``"error"`` or ``"drop"`` for labels outside them).
A missing path raises :class:`~emofuse.errors.MissingFileError`, an empty corpus or bad
content :class:`~emofuse.errors.DataError`, an unknown option value
:class:`~emofuse.errors.UnknownNameError` (with close matches).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for name in ("03a01Wa.wav", "03a02Fc.wav", "08b01Nd.wav"):
    ...         _ = (Path(d) / name).write_bytes(b"")
    ...     corpus = load_corpus(d)
    >>> corpus.name, len(corpus), corpus.speakers()
    ('emodb', 3, ['03', '08'])
    >>> corpus[0].label, corpus.labels_as_indices().tolist()
    ('anger', [0, 4, 6])
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import gzip
import inspect
import io
import json
import os
import re
import tarfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import ConfigError, DataError, MissingFileError, UnknownNameError
from emofuse.labels import get_label_space, get_mapping
from emofuse.registry import Registry

__all__ = [
    "AUDIO_EXTENSIONS",
    "CORPORA",
    "DATA_DIR_ENV",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "Corpus",
    "CorpusItem",
    "list_corpora",
    "load_corpus",
    "read_audio_csv",
    "read_emodb",
    "read_fer2013",
    "read_folders",
    "read_goemotions",
    "read_ravdess",
    "read_text_table",
    "sniff_corpus",
]

#: Environment variable naming the folder that holds the corpora (``fer2013/``, ``emodb/`` ...).
DATA_DIR_ENV = "EMOFUSE_DATA_DIR"
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".wma",
                                     ".aif", ".aiff")
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm")
#: What a reader does with a label outside its ``label_map`` / ``label_space``.
UNKNOWN_POLICIES: tuple[str, ...] = ("error", "drop")

Label = str | tuple[str, ...]
LabelMap = Mapping[str, Any] | str | Path


# ============================================================================ records
@dataclass(frozen=True, eq=False)
class CorpusItem:
    """One labelled example of a raw corpus (compared by identity: it may hold an array).

    Attributes:
        id: Identifier, unique within its corpus (a file stem, a comment id, a row number).
        label: Class name; a tuple of class names in a multi-label corpus (in class order).
        source: The media file (audio, image, video) for file-based corpora, else ``None``.
        text: The text of a text corpus (or the sentence spoken in a speech corpus).
        pixels: A ``(height, width)`` uint8 grey image for corpora that inline pixels (FER2013).
        speaker: Speaker / actor id where the corpus has one.
        meta: Further per-item fields (usage, intensity, gender, extra CSV columns ...).
    """

    id: str
    label: Label
    source: Path | None = None
    text: str | None = None
    pixels: np.ndarray | None = None
    speaker: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(repr=False, eq=False)
class Corpus:
    """A labelled raw corpus: items plus the ordered class names their labels come from.

    Construction validates the corpus: unique ids, unique classes, classes equal to those of
    ``label_space`` when one is named, and every item label among the classes.

    Attributes:
        name: Corpus name (``fer2013``, ``emodb`` ... or the file/folder stem of a generic corpus).
        classes: Class names in index order (all of them, including classes with no items).
        items: The examples, in a deterministic order (file order, or sorted paths).
        label_space: Registered label space of ``classes``, or ``None`` for ad-hoc classes.
        multilabel: Whether labels are tuples of class names.
        modality: ``face``, ``image``, ``audio``, ``audiovisual``, ``text`` or ``mixed``.
        root: The file or folder the corpus was read from.
        info: Reading notes: ``format`` (the reader), counts of ``skipped``/``excluded`` files,
            ``unknown``/``unmapped`` labels dropped, and reader options.
    """

    name: str
    classes: tuple[str, ...]
    items: list[CorpusItem]
    label_space: str | None = None
    multilabel: bool = False
    modality: str = "unknown"
    root: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes)
        self.items = list(self.items)
        if len(set(self.classes)) != len(self.classes):
            dup = sorted(c for c, n in Counter(self.classes).items() if n > 1)
            raise DataError(f"corpus {self.name!r}: duplicate classes {dup}")
        if self.label_space is not None:
            space = get_label_space(self.label_space)
            if space.classes != self.classes:
                raise DataError(f"corpus {self.name!r}: classes {list(self.classes)} are not those of label space "
                                f"{self.label_space!r} {list(space.classes)}")
        known = set(self.classes)
        for item in self.items:
            labels = item.label if self.multilabel else (item.label,)
            if self.multilabel != isinstance(item.label, tuple) or any(lab not in known for lab in labels):
                kind = "a tuple of class names" if self.multilabel else "one class name"
                raise DataError(f"corpus {self.name!r}: item {item.id!r} has label {item.label!r}; expected {kind} "
                                f"from {list(self.classes)}")
        ids = [item.id for item in self.items]
        if len(set(ids)) != len(ids):
            dup = [i for i, n in Counter(ids).items() if n > 1]
            raise DataError(f"corpus {self.name!r}: {len(dup)} duplicate item ids, e.g. {dup[:5]}")

    # ---------------------------------------------------------------- container
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[CorpusItem]:
        return iter(self.items)

    def __getitem__(self, index: int) -> CorpusItem:
        return self.items[index]

    def __repr__(self) -> str:
        kind = "multilabel" if self.multilabel else "single-label"
        return (f"Corpus(name={self.name!r}, items={len(self.items)}, classes={len(self.classes)}, "
                f"label_space={self.label_space!r}, modality={self.modality!r}, {kind})")

    # ---------------------------------------------------------------- views
    def ids(self) -> list[str]:
        """Item ids, in item order."""
        return [item.id for item in self.items]

    def labels(self) -> list[Label]:
        """Item labels (class names, or tuples of them when multi-label), in item order."""
        return [item.label for item in self.items]

    def labels_as_indices(self) -> np.ndarray:
        """Labels as class indices into :attr:`classes`.

        Returns:
            Single-label: ``(N,)`` int64 class indices. Multi-label: an ``(N, C)`` float32 0/1
            matrix (multi-hot, ready for a binary cross-entropy loss).
        """
        index = {c: i for i, c in enumerate(self.classes)}
        if not self.multilabel:
            return np.fromiter((index[item.label] for item in self.items), dtype=np.int64,  # type: ignore[index]
                               count=len(self.items))
        out = np.zeros((len(self.items), len(self.classes)), dtype=np.float32)
        for row, item in enumerate(self.items):
            out[row, [index[lab] for lab in item.label]] = 1.0
        return out

    def class_counts(self) -> dict[str, int]:
        """Items per class, in class order (classes without items count 0; multi-label counts every label)."""
        counts: Counter[str] = Counter()
        for item in self.items:
            counts.update(item.label if self.multilabel else (item.label,))  # type: ignore[arg-type]
        return {c: counts.get(c, 0) for c in self.classes}

    def speakers(self) -> list[str]:
        """Distinct speakers (sorted); empty when the corpus has none."""
        return sorted({item.speaker for item in self.items if item.speaker is not None})

    def groups(self, key: str = "speaker") -> np.ndarray:
        """Per-item group of ``key`` (``speaker`` or a ``meta`` field), shape ``(N,)``, for grouped splits.

        Raises:
            DataError: an item has no value for ``key``.
        """
        out = []
        for item in self.items:
            value = item.speaker if key == "speaker" else item.meta.get(key)
            if value is None:
                raise DataError(f"corpus {self.name!r}: item {item.id!r} has no {key!r}")
            out.append(str(value))
        return np.asarray(out, dtype=str)

    def texts(self) -> list[str]:
        """Item texts, in item order (raises :class:`DataError` if an item has none)."""
        missing = [item.id for item in self.items if item.text is None]
        if missing:
            raise DataError(f"corpus {self.name!r}: {len(missing)} items have no text, e.g. {missing[:3]}")
        return [item.text for item in self.items]  # type: ignore[misc]

    def sources(self) -> list[Path]:
        """Item media files, in item order (raises :class:`DataError` if an item has none)."""
        missing = [item.id for item in self.items if item.source is None]
        if missing:
            raise DataError(f"corpus {self.name!r}: {len(missing)} items have no source file, e.g. {missing[:3]}")
        return [item.source for item in self.items]  # type: ignore[misc]

    def pixel_array(self) -> np.ndarray:
        """Stacked item images, shape ``(N, height, width)`` uint8 (FER2013: ``(N, 48, 48)``)."""
        if not self.items:
            raise DataError(f"corpus {self.name!r} is empty")
        missing = [item.id for item in self.items if item.pixels is None]
        if missing:
            raise DataError(f"corpus {self.name!r}: {len(missing)} items have no pixels, e.g. {missing[:3]}")
        shapes = {item.pixels.shape for item in self.items}  # type: ignore[union-attr]
        if len(shapes) != 1:
            raise DataError(f"corpus {self.name!r}: images of different shapes {sorted(shapes)}")
        return np.stack([item.pixels for item in self.items])  # type: ignore[misc]

    # ---------------------------------------------------------------- selections
    def subset(self, indices: Iterable[int]) -> Corpus:
        """A corpus with the items at ``indices`` (same classes, so label indices do not change)."""
        return dataclasses.replace(self, items=[self.items[int(i)] for i in indices], info=dict(self.info))

    def filter(
        self,
        predicate: Callable[[CorpusItem], bool] | None = None,
        *,
        labels: Iterable[str] | None = None,
        speakers: Iterable[str] | None = None,
        exclude_speakers: Iterable[str] | None = None,
    ) -> Corpus:
        """Items that pass every given condition (same classes, so label indices do not change).

        Args:
            predicate: Keep items for which it returns true.
            labels: Keep items with one of these classes (multi-label: with any of them).
            speakers: Keep items of these speakers.
            exclude_speakers: Drop items of these speakers (e.g. the held-out speakers of a fold).

        Raises:
            UnknownNameError: a name in ``labels`` that is not a class.
        """
        keep_labels = None if labels is None else set(labels)
        for lab in keep_labels or ():
            if lab not in self.classes:
                raise UnknownNameError(f"class of corpus {self.name!r}", lab, self.classes)
        keep_spk = None if speakers is None else {str(s) for s in speakers}
        drop_spk = set() if exclude_speakers is None else {str(s) for s in exclude_speakers}

        def ok(item: CorpusItem) -> bool:
            if keep_labels is not None:
                labs = item.label if self.multilabel else (item.label,)
                if keep_labels.isdisjoint(labs):
                    return False
            if keep_spk is not None and item.speaker not in keep_spk:
                return False
            if item.speaker in drop_spk:
                return False
            return predicate is None or bool(predicate(item))

        return dataclasses.replace(self, items=[item for item in self.items if ok(item)], info=dict(self.info))

    def to_label_space(self, target: str) -> Corpus:
        """The corpus with labels mapped to another registered space (``fer2013`` → ``ekman7``).

        Items whose class has no counterpart in ``target`` are dropped and counted in
        ``info["unmapped"]``; multi-label items keep the labels that map.

        Raises:
            DataError: the corpus has no registered label space, or no mapping leads to ``target``.
        """
        if self.label_space is None:
            raise DataError(f"corpus {self.name!r} has ad-hoc classes and no label space; map its labels "
                            "when reading it, with label_map= and label_space=")
        table = get_mapping(self.label_space, target)
        classes = get_label_space(target).classes
        items, notes = _map_items(self.items, table, classes, self.multilabel, "error", self.name)
        info = {**self.info, **_merge_counts(self.info, notes)}
        return dataclasses.replace(self, classes=classes, items=items, label_space=target, info=info)


# ============================================================================ registry and entry point
CorpusReader = Callable[..., Corpus]
CORPORA: Registry[CorpusReader] = Registry("corpus reader")

#: Sub-folder of ``data_dir`` / ``$EMOFUSE_DATA_DIR`` holding each official corpus.
_DEFAULT_DIRS = {"fer2013": "fer2013", "goemotions": "goemotions", "emodb": "emodb", "ravdess": "ravdess"}


def list_corpora(pattern: str = "*") -> list[str]:
    """Names of the registered corpus readers matching a shell-style ``pattern``."""
    return CORPORA.names(pattern)


def load_corpus(source: str | Path, *, format: str = "auto", data_dir: str | Path | None = None,
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
        if format not in ("auto", source):
            raise ConfigError(f"corpus name {source!r} contradicts format={format!r}")
        format = source
        if source not in _DEFAULT_DIRS:
            raise DataError(f"reader {source!r} reads a user's own data: pass the path of the file or folder")
        base = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
        if not base:
            raise MissingFileError(f"corpus {source!r} given by name, but no data folder: pass data_dir= or set "
                                   f"${DATA_DIR_ENV} to the folder holding {_DEFAULT_DIRS[source]}/")
        path = Path(base) / _DEFAULT_DIRS[source]
    if not path.exists():
        bare = isinstance(source, str) and not any(ch in source for ch in "/\\.") and format == "auto"
        if bare and difflib.get_close_matches(str(source), CORPORA.names(), n=1, cutoff=0.5):
            raise UnknownNameError("corpus", str(source), CORPORA.names())
        hint = f" (nor is {source!r} a corpus name: {', '.join(_DEFAULT_DIRS)})" if bare else ""
        raise MissingFileError(f"corpus path {path} does not exist{hint}")
    fmt = sniff_corpus(path) if format == "auto" else format
    reader = CORPORA.get(fmt)
    params = inspect.signature(reader).parameters
    accepted = [n for n in params if n != "path"]
    for name in options:
        if name not in accepted:
            raise UnknownNameError(f"option of corpus reader {fmt!r}", name, accepted)
    return reader(path, **options)


def sniff_corpus(path: str | Path) -> str:
    """Name of the reader for ``path``, told from its layout.

    Folders: ``Actor_NN`` sub-folders → ``ravdess``; ``emotions.txt`` → ``goemotions``; a
    ``wav/`` sub-folder or files named like ``03a01Wa.wav`` → ``emodb``; ``fer2013.csv[.gz]`` →
    ``fer2013``; class sub-folders holding images or audio → ``folders``. Files: a CSV whose
    header has ``pixels`` → ``fer2013``; a ``.tsv`` next to ``emotions.txt`` → ``goemotions``;
    a CSV whose header has ``path`` → ``audio_csv``. Other tables need ``format="text_table"``.

    Raises:
        MissingFileError: ``path`` does not exist.
        DataError: no reader recognises it.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"corpus path {p} does not exist")
    if p.is_dir():
        subdirs = [d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")]
        if _ACTOR_DIR.match(p.name) or any(_ACTOR_DIR.match(d.name) for d in subdirs):
            return "ravdess"
        if (p / "emotions.txt").is_file():
            return "goemotions"
        if (p / "wav").is_dir() or any(_EMODB_RE.match(f.stem) for f in p.iterdir() if f.is_file()):
            return "emodb"
        if _fer_file_in(p) is not None:
            return "fer2013"
        media = AUDIO_EXTENSIONS + IMAGE_EXTENSIONS
        if any(f.is_file() and f.suffix.lower() in media for d in subdirs for f in d.rglob("*")):
            return "folders"
        raise DataError(f"cannot tell which corpus folder {p} holds (no Actor_NN/, emotions.txt, wav/, fer2013.csv "
                        f"or class sub-folders of media files); name the reader with format= "
                        f"(one of {CORPORA.names()})")
    if p.suffix.lower() == ".tsv" and (p.parent / "emotions.txt").is_file():
        return "goemotions"
    header = _first_line(p)
    cols = [c.strip().strip('"').lower() for c in re.split(r"[,\t;|]", header)]
    if "pixels" in cols:
        return "fer2013"
    if "path" in cols:
        return "audio_csv"
    raise DataError(f"cannot tell which corpus {p.name!r} holds from its header {header[:80]!r}; name the reader "
                    f"with format= (e.g. format='text_table', text_column=..., label_column=...; readers: "
                    f"{CORPORA.names()})")


# ============================================================================ shared helpers
def _require(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingFileError(f"{what} {p} does not exist")
    return p


def _names(value: str | Sequence[str], allowed: Sequence[str], what: str) -> tuple[str, ...]:
    """An option given as one name, several names or ``"all"`` → a tuple of allowed names."""
    names = (value,) if isinstance(value, str) else tuple(value)
    if names == ("all",):
        return tuple(allowed)
    for name in names:
        if name not in allowed:
            raise UnknownNameError(what, name, [*allowed, "all"])
    return names


def _check_unknown_policy(unknown: str) -> None:
    if unknown not in UNKNOWN_POLICIES:
        raise UnknownNameError("unknown-label policy", unknown, UNKNOWN_POLICIES)


def _read_bytes(path: Path) -> bytes:
    """File content, decompressed when it is gzip, or the single CSV/TSV inside a tar or zip archive.

    Compression is told from the magic bytes, not from the file name.
    """
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise DataError(f"{path.name}: not a readable gzip file ({e})") from None
    if len(data) > 262 and data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and m.name.lower().endswith((".csv", ".tsv", ".txt"))]
            if len(members) != 1:
                raise DataError(f"{path.name}: a tar archive must hold one .csv/.tsv file, found "
                                f"{[m.name for m in members]}")
            return tar.extractfile(members[0]).read()  # type: ignore[union-attr]
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith((".csv", ".tsv", ".txt"))]
            if len(names) != 1:
                raise DataError(f"{path.name}: a zip archive must hold one .csv/.tsv file, found {names}")
            return zf.read(names[0])
    return data


def _decode(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise DataError(f"{name}: not valid {encoding} text ({e}); pass encoding= (e.g. 'latin-1')") from None


def _first_line(path: Path) -> str:
    """First line of a (possibly compressed) text file, read without loading a big plain file whole."""
    with path.open("rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04" or path.name.lower().endswith((".tar", ".tgz", ".tar.gz")):
        line = _read_bytes(path).split(b"\n", 1)[0]
    elif head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as f:
            line = f.readline(1 << 16)
    else:
        with path.open("rb") as f:
            line = f.readline(1 << 16)
    return line.decode("utf-8-sig", "replace").strip()


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _load_label_map(label_map: LabelMap) -> dict[str, str | None]:
    """A label map as ``raw name → target class`` (``None`` = drop items of that raw label).

    Accepts a mapping or a JSON/YAML file, either as ``{raw: target}`` or grouped as
    ``{target: [raw, ...]}`` (the form of GoEmotions' ``ekman_mapping.json``).
    """
    where = "label_map"
    if isinstance(label_map, (str, Path)):
        p = _require(label_map, "label_map file")
        where = f"label_map {p.name}"
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() == ".json":
            try:
                loaded = json.loads(text)
            except ValueError as e:
                raise DataError(f"{where}: not valid JSON ({e})") from None
        else:
            import yaml

            try:
                loaded = yaml.safe_load(text)
            except yaml.YAMLError as e:
                raise DataError(f"{where}: not valid YAML/JSON ({e})") from None
    else:
        loaded = label_map
    if not isinstance(loaded, Mapping) or not loaded:
        raise DataError(f"{where}: expected a non-empty mapping of raw label → class, got {type(loaded).__name__}")
    grouped = [isinstance(v, (list, tuple)) for v in loaded.values()]
    if any(grouped) and not all(grouped):
        raise DataError(f"{where}: give either raw → class pairs or class → [raw, ...] lists, not both")
    table: dict[str, str | None] = {}
    if all(grouped):
        for target, raws in loaded.items():
            for raw in raws:
                if str(raw) in table:
                    raise DataError(f"{where}: raw label {raw!r} is listed under {table[str(raw)]!r} and {target!r}")
                table[str(raw)] = str(target)
        return table
    for raw, target in loaded.items():
        if target is not None and not isinstance(target, (str, int)):
            raise DataError(f"{where}: target of {raw!r} must be a class name or null, got {target!r}")
        table[str(raw)] = None if target is None else str(target)
    return table


def _merge_counts(info: Mapping[str, Any], notes: Mapping[str, Counter[str]]) -> dict[str, dict[str, int]]:
    out = {}
    for key, counts in notes.items():
        if counts:
            merged = Counter(info.get(key, {}))
            merged.update(counts)
            out[key] = dict(sorted(merged.items()))
    return out


def _map_items(items: Sequence[CorpusItem], table: Mapping[str, str | None] | None, classes: Sequence[str],
               multilabel: bool, unknown: str, where: str) -> tuple[list[CorpusItem], dict[str, Counter[str]]]:
    """Map item labels through ``table`` (or check them against ``classes`` when ``table`` is None).

    Labels mapped to ``None`` are removed (counted as ``unmapped``); labels outside the table or
    the classes raise :class:`DataError` or, with ``unknown="drop"``, are removed (counted as
    ``unknown``). Items left without a label are dropped.
    """
    known = {c: i for i, c in enumerate(classes)}
    unknown_counts: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    out: list[CorpusItem] = []
    for item in items:
        raw = item.label if isinstance(item.label, tuple) else (item.label,)
        new: list[str] = []
        for lab in raw:
            if table is not None:
                if lab not in table:
                    unknown_counts[lab] += 1
                    continue
                target = table[lab]
                if target is None:
                    unmapped[lab] += 1
                    continue
            else:
                target = lab
            if target not in known:
                unknown_counts[lab] += 1
                continue
            new.append(target)
        if not new:
            continue
        if multilabel:
            label: Label = tuple(sorted(set(new), key=known.__getitem__))
        else:
            label = new[0]
        out.append(item if label == item.label else dataclasses.replace(item, label=label))
    if unknown_counts and unknown == "error":
        pool = list(table) if table is not None else list(classes)
        shown = ", ".join(f"{lab!r} ({n} item{'s' if n != 1 else ''}{_suggest(lab, pool)})"
                          for lab, n in unknown_counts.most_common(10))
        more = f" and {len(unknown_counts) - 10} more" if len(unknown_counts) > 10 else ""
        target = "label_map" if table is not None else f"classes {list(classes)}"
        raise DataError(f"{where}: {len(unknown_counts)} label names are not in the {target}: {shown}{more}. "
                        "Add them to label_map=, or pass unknown='drop' to drop those items")
    return out, {"unknown": unknown_counts, "unmapped": unmapped}


def _build(
    name: str,
    items: list[CorpusItem],
    *,
    modality: str,
    root: Path,
    fmt: str,
    native_space: str | None = None,
    native_classes: Sequence[str] | None = None,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
    multilabel: bool = False,
    info: dict[str, Any] | None = None,
) -> Corpus:
    """Apply ``label_map`` / ``label_space`` to raw items and assemble the :class:`Corpus`.

    Classes: those of ``label_space`` if given; else the targets of ``label_map`` in the order
    they first appear in it; else ``native_classes`` (the corpus' own); else the sorted raw labels.
    """
    _check_unknown_policy(unknown)
    where = f"{root.name} ({fmt})"
    if not items:
        raise DataError(f"{where}: the corpus is empty (no items found)")
    info = {"format": fmt, **(info or {})}
    table: Mapping[str, str | None] | None = None
    if label_space is not None:
        classes: tuple[str, ...] = get_label_space(label_space).classes
    if label_map is not None:
        table = _load_label_map(label_map)
        if label_space is not None:
            bad = sorted({t for t in table.values() if t is not None and t not in classes})
            if bad:
                hints = ", ".join(f"{b!r}{_suggest(b, classes)}" for b in bad)
                raise DataError(f"{where}: label_map targets {hints} are not classes of label space "
                                f"{label_space!r} ({', '.join(classes)})")
        else:
            classes = tuple(dict.fromkeys(t for t in table.values() if t is not None))
        space = label_space
    elif label_space is not None:
        if native_space is not None and native_space != label_space:
            table = get_mapping(native_space, label_space)
        space = label_space
    elif native_classes is not None:
        classes, space = tuple(native_classes), native_space
    else:
        raw = {lab for item in items for lab in (item.label if isinstance(item.label, tuple) else (item.label,))}
        classes, space = tuple(sorted(raw)), None
    mapped, notes = _map_items(items, table, classes, multilabel, unknown, where)
    info.update(_merge_counts(info, notes))
    if not mapped:
        raise DataError(f"{where}: no items left after mapping labels (dropped: {info})")
    return Corpus(name, classes, mapped, label_space=space, multilabel=multilabel, modality=modality, root=root,
                  info=info)


def _skip_report(skipped: list[str], total: int, where: str, pattern: str, strict: bool) -> None:
    if not skipped:
        return
    examples = ", ".join(skipped[:5])
    if strict:
        raise DataError(f"{where}: {len(skipped)} of {total} files are not named like {pattern}, e.g. {examples} "
                        "(strict=True; pass strict=False to skip them)")
    warnings.warn(f"{where}: skipped {len(skipped)} of {total} files not named like {pattern}, e.g. {examples}",
                  stacklevel=3)


# ============================================================================ FER2013
FER2013_USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
_FER_SIDE = 48


def _fer_file_in(folder: Path) -> Path | None:
    for name in ("fer2013.csv.gz", "fer2013.csv", "fer2013.tar.gz", "fer2013.zip"):
        if (folder / name).is_file():
            return folder / name
    cands = sorted(f for f in folder.iterdir() if f.is_file() and f.name.lower().endswith((".csv", ".csv.gz")))
    return cands[0] if len(cands) == 1 else None


def _fer_pixel_row(text: bytes, line: int, name: str) -> np.ndarray:
    """One ``pixels`` field → 2304 int16 values, parsed by numpy's C text parser.

    ``np.fromstring`` stops early on anything that is not a number, with a DeprecationWarning
    that the caller turns into an error; the slow diagnosis below runs only for such a bad row.
    """
    per_row = _FER_SIDE * _FER_SIDE
    try:
        values = np.fromstring(text.strip(b' "'), dtype=np.int16, sep=" ")
    except (DeprecationWarning, ValueError):
        values = None
    if values is None or values.size != per_row:
        tokens = text.strip(b' "').split()
        odd = next((t for t in tokens if not t.isdigit()), None)
        what = f"value {odd.decode('utf-8', 'replace')!r}" if odd is not None else f"{len(tokens)} pixel values"
        raise DataError(f"{name} line {line}: {what}; expected {per_row} space-separated integers 0..255 "
                        f"({_FER_SIDE}x{_FER_SIDE} grey levels)")
    return values


@CORPORA.register("fer2013")
def read_fer2013(
    path: str | Path,
    *,
    usage: str | Sequence[str] | None = None,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """Read FER2013 face images from the official ``fer2013.csv`` (``emotion,pixels,Usage``).

    The file may be plain, gzipped or inside a ``.tar.gz``/``.zip`` (told from its magic bytes,
    not its name); a folder holding ``fer2013.csv[.gz]`` is accepted too. Any number of rows is
    read, so the official test rows read like the training rows. Parsing is vectorised (the
    35,887-row file takes about as long as its decompression).

    Args:
        path: The CSV file, or a folder holding it.
        usage: Keep rows of this ``Usage`` (``Training``, ``PublicTest``, ``PrivateTest``) or of
            several; ``None`` keeps all rows.
        label_map: Map the ``fer2013`` class names to other classes.
        label_space: Label space of the result: ``fer2013`` (default) or any space with a
            registered mapping (``ekman7``); with ``label_map``, the space its targets belong to.
        unknown: ``error`` or ``drop`` for class names outside ``label_map``.

    Returns:
        Items with id = the 0-based data row, ``pixels`` ``(48, 48)`` uint8, ``meta["usage"]``;
        label space ``fer2013`` (0 angry … 6 neutral), modality ``face``.

    Raises:
        UnknownNameError: a ``usage`` value that is not an official one (with close matches).
        DataError: a header without ``emotion``/``pixels``, a row without 2304 pixel values, an
            emotion outside 0..6, or no rows of the requested usage.
    """
    p = _require(path, "FER2013 path")
    if p.is_dir():
        found = _fer_file_in(p)
        if found is None:
            raise MissingFileError(f"{p} holds no fer2013.csv or fer2013.csv.gz")
        p = found
    wanted = None if usage is None else set(_names(usage, FER2013_USAGES, "FER2013 usage"))
    lines = _read_bytes(p).split(b"\n")
    header = lines[0].decode("utf-8-sig", "replace").strip()
    cols = [c.strip().strip('"').lower() for c in header.split(",")]
    if "emotion" not in cols or "pixels" not in cols:
        raise DataError(f"{p.name}: header {header[:80]!r} lacks the columns emotion and pixels of fer2013.csv")
    j_emo, j_pix = cols.index("emotion"), cols.index("pixels")
    j_use = cols.index("usage") if "usage" in cols else None
    if j_use is None and wanted is not None:
        raise DataError(f"{p.name} has no Usage column, so usage={usage!r} cannot select rows")
    classes = get_label_space("fer2013").classes
    official = {u.encode(): u for u in FER2013_USAGES}
    usages: Counter[str] = Counter()
    rows: list[tuple[int, int, str, bytes, str]] = []  # (data row, line, usage, pixel field, class)
    data_row = -1
    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.rstrip(b"\r").split(b",")
        if len(fields) == 1 and not fields[0].strip():
            continue
        data_row += 1
        if len(fields) != len(cols):
            raise DataError(f"{p.name} line {lineno}: {len(fields)} fields, expected {len(cols)} ({header})")
        use = ""
        if j_use is not None:
            raw_use = fields[j_use].strip(b' "')
            if raw_use not in official:
                raise DataError(f"{p.name} line {lineno}: Usage {raw_use.decode('utf-8', 'replace')!r} is not one "
                                f"of {list(FER2013_USAGES)}")
            use = official[raw_use]
        usages[use] += 1
        if wanted is not None and use not in wanted:
            continue
        code = fields[j_emo].strip(b' "')
        if not (code.isdigit() and int(code) < len(classes)):
            raise DataError(f"{p.name} line {lineno}: emotion {code.decode('utf-8', 'replace')!r} is not a class "
                            f"0..{len(classes) - 1} ({', '.join(classes)})")
        rows.append((data_row, lineno, use, fields[j_pix], classes[int(code)]))
    del lines
    if not rows:
        raise DataError(f"{p.name}: no rows with Usage in {sorted(wanted or ())}; the file holds {dict(usages)}")
    pixels = np.empty((len(rows), _FER_SIDE * _FER_SIDE), dtype=np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # np.fromstring's "could not be read to its end"
        for k, (_, lineno, _, text, _) in enumerate(rows):
            pixels[k] = _fer_pixel_row(text, lineno, p.name)
    if pixels.min() < 0 or pixels.max() > 255:
        k = int(np.flatnonzero((pixels < 0).any(axis=1) | (pixels > 255).any(axis=1))[0])
        raise DataError(f"{p.name} line {rows[k][1]}: pixel values must lie in 0..255")
    images = pixels.astype(np.uint8).reshape(len(rows), _FER_SIDE, _FER_SIDE)
    del pixels
    items = [CorpusItem(str(row), label, pixels=images[k], meta={"usage": use})
             for k, (row, _, use, _, label) in enumerate(rows)]
    return _build("fer2013", items, modality="face", root=p, fmt="fer2013", native_space="fer2013",
                  native_classes=classes, label_map=label_map, label_space=label_space, unknown=unknown,
                  info={"usage": None if wanted is None else sorted(wanted)})


# ============================================================================ GoEmotions
#: Ekman group names of GoEmotions' ekman_mapping.json that differ from the ekman7 class names.
_EKMAN_ALIASES = {"joy": "happiness"}


def _goemotions_ekman_table(emotions: Sequence[str], native_space: str | None,
                            mapping_file: Path | None) -> dict[str, str | None]:
    """GoEmotions label → ekman7 class, from ``ekman_mapping.json`` or emofuse's own mapping."""
    if mapping_file is None:
        if native_space != "goemotions28":
            raise DataError("emotions.txt differs from the 28 GoEmotions labels, so emofuse's built-in Ekman "
                            "mapping does not apply; give ekman_mapping= (a JSON file {ekman: [labels]})")
        return dict(get_mapping("goemotions28", "ekman7"))
    try:
        groups = json.loads(mapping_file.read_text(encoding="utf-8"))
    except ValueError as e:
        raise DataError(f"{mapping_file.name}: not valid JSON ({e})") from None
    if not isinstance(groups, Mapping) or not all(isinstance(v, list) for v in groups.values()):
        raise DataError(f"{mapping_file.name}: expected {{ekman emotion: [GoEmotions labels]}}")
    ekman = get_label_space("ekman7").classes
    table: dict[str, str | None] = {}
    for group, labels in groups.items():
        target = _EKMAN_ALIASES.get(group, group)
        if target not in ekman:
            raise DataError(f"{mapping_file.name}: group {group!r} is not an Ekman class "
                            f"({', '.join(ekman)}){_suggest(group, ekman)}")
        for lab in labels:
            if lab not in emotions:
                raise DataError(f"{mapping_file.name}: {lab!r} is not a label of emotions.txt{_suggest(lab, emotions)}")
            table[lab] = target
    if "neutral" in emotions:
        table.setdefault("neutral", "neutral")
    missing = [e for e in emotions if e not in table]
    if missing:
        raise DataError(f"{mapping_file.name}: labels {missing} of emotions.txt have no Ekman group")
    return table


@CORPORA.register("goemotions")
def read_goemotions(
    path: str | Path,
    *,
    split: str | None = None,
    emotions: str | Path | None = None,
    ekman_mapping: str | Path | None = "auto",
    view: str = "goemotions28",
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    r"""Read GoEmotions Reddit comments (multi-label text) in the official ``data/`` layout.

    Each TSV line is ``text<TAB>comma-separated label ids<TAB>comment id`` (no header); label
    ids index the lines of ``emotions.txt``. Texts are taken verbatim (quotes are not CSV quoting).

    Args:
        path: A ``.tsv`` file, or the folder holding ``train.tsv``/``dev.tsv``/``test.tsv``.
        split: Which TSV of a folder (``train``, ``dev``, ``test``); optional when it holds one.
        emotions: The label list (default: ``emotions.txt`` next to the TSV).
        ekman_mapping: ``{ekman: [labels]}`` JSON for ``view="ekman7"``; ``"auto"`` uses
            ``ekman_mapping.json`` next to the TSV when present, ``None`` (or no file) emofuse's
            own GoEmotions → ekman7 mapping. The file's ``joy`` group is ekman7 ``happiness``.
        view: ``goemotions28`` (the labels of ``emotions.txt``) or ``ekman7`` (each label mapped
            to its Ekman group; ``neutral`` stays ``neutral``; duplicates merge).
        label_map: Map the labels to other classes yourself (instead of ``view``).
        label_space: Label space of ``label_map``'s targets.
        unknown: ``error`` or ``drop`` for labels outside ``label_map``.

    Returns:
        A multi-label corpus: id = comment id, ``text``, label = tuple of class names; label
        space ``goemotions28`` (when ``emotions.txt`` is the official list) or ``ekman7``.

    Raises:
        MissingFileError: the TSV or ``emotions.txt`` is missing.
        DataError: a malformed line, a label id outside ``emotions.txt``, a bad mapping file.
    """
    p = _require(path, "GoEmotions path")
    if p.is_dir():
        tsvs = {f.stem: f for f in sorted(p.glob("*.tsv"))}
        if split is not None:
            if split not in tsvs:
                raise UnknownNameError(f"GoEmotions split in {p}", split, tsvs)
            p = tsvs[split]
        elif len(tsvs) == 1:
            p = next(iter(tsvs.values()))
        else:
            raise DataError(f"{p} holds {len(tsvs)} GoEmotions splits {sorted(tsvs)}: choose one with split=")
    elif split is not None:
        raise DataError(f"split={split!r} selects a TSV in a folder; {p.name} is already a file")
    views = ("goemotions28", "ekman7")
    if view not in views:
        raise UnknownNameError("GoEmotions view", view, views)
    if view == "ekman7" and (label_map is not None or label_space not in (None, "ekman7")):
        raise ConfigError("view='ekman7' maps labels to ekman7 itself; give either view= or label_map=/label_space=")
    emo_path = _require(emotions if emotions is not None else p.parent / "emotions.txt", "GoEmotions emotions.txt")
    names = [ln.strip() for ln in emo_path.read_text(encoding="utf-8-sig").split("\n") if ln.strip()]
    if not names or len(set(names)) != len(names):
        raise DataError(f"{emo_path.name}: expected one distinct label per line, got {len(names)} lines "
                        f"with duplicates {sorted(n for n, c in Counter(names).items() if c > 1)}")
    native = "goemotions28" if tuple(names) == get_label_space("goemotions28").classes else None

    items = []
    text = _decode(_read_bytes(p), "utf-8-sig", p.name)
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines: texts hold \u2028 etc.
        line = line.rstrip("\r")
        if not line.strip():
            continue
        parts = line.rsplit("\t", 2)
        if len(parts) != 3:
            raise DataError(f"{p.name} line {lineno}: expected text<TAB>label ids<TAB>comment id, "
                            f"got {len(parts)} field(s): {line[:60]!r}")
        body, ids, cid = parts
        try:
            codes = [int(c) for c in ids.split(",") if c.strip()]
        except ValueError:
            raise DataError(f"{p.name} line {lineno}: label ids {ids!r} are not comma-separated integers") from None
        bad = [c for c in codes if not 0 <= c < len(names)]
        if bad or not codes:
            raise DataError(f"{p.name} line {lineno}: label ids {ids!r} must lie in 0..{len(names) - 1} "
                            f"(the {len(names)} lines of {emo_path.name})")
        labels = tuple(names[c] for c in sorted(set(codes)))
        items.append(CorpusItem(cid.strip(), labels, text=body))
    info: dict[str, Any] = {"view": view, "split": split or p.stem}
    if view == "ekman7":
        if ekman_mapping == "auto":
            auto = p.parent / "ekman_mapping.json"
            mapping_file = auto if auto.is_file() else None
        else:
            mapping_file = None if ekman_mapping is None else _require(ekman_mapping, "GoEmotions ekman mapping")
        label_map = _goemotions_ekman_table(names, native, mapping_file)
        label_space = "ekman7"
        info["ekman_mapping"] = str(mapping_file) if mapping_file else "emofuse.labels"
    return _build("goemotions", items, modality="text", root=p, fmt="goemotions", native_space=native,
                  native_classes=names, label_map=label_map, label_space=label_space, unknown=unknown,
                  multilabel=True, info=info)


# ============================================================================ EmoDB
_EMODB_RE = re.compile(r"^(?P<speaker>\d{2})(?P<text>[a-z]\d{2})(?P<emotion>[WLEAFTN])(?P<version>[a-z])$")
#: EmoDB emotion letters (German initials) → emodb7 classes.
EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
                  "N": "neutral"}
# Speaker genders from the EmoDB documentation (10 actors, 5 female, 5 male).
_EMODB_GENDER = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male", "12": "male",
                 "13": "female", "14": "female", "15": "male", "16": "female"}


@CORPORA.register("emodb")
def read_emodb(
    path: str | Path,
    *,
    strict: bool = False,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """List the Berlin Database of Emotional Speech (EmoDB) utterances from their file names.

    File names follow ``SSTTTEv.wav``: speaker ``SS``, text code ``TTT``, emotion letter ``E``
    (W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral), version ``v``.
    Any audio extension is accepted (a converted copy); nothing is decoded.

    Args:
        path: The EmoDB folder (its ``wav/`` sub-folder is used when present) or ``wav/`` itself.
        strict: Raise on files not named like ``SSTTTEv.<audio>`` instead of skipping them with a warning.
        label_map: Map the emodb7 class names to other classes.
        label_space: ``emodb7`` (default) or a space with a registered mapping (``ekman7``).
        unknown: ``error`` or ``drop`` for class names outside ``label_map``.

    Returns:
        Items sorted by file name: id = file stem, ``source``, ``speaker`` = ``SS``, ``text`` =
        the text code ``TTT`` (the sentence, e.g. ``a01``, the same in every emotion); ``meta``:
        ``text_code``, ``version``, ``gender``. Label space ``emodb7``; ``info["skipped"]``.
    """
    p = _require(path, "EmoDB folder")
    if not p.is_dir():
        raise DataError(f"EmoDB path {p} must be a folder (of SSTTTEv.wav files, or holding wav/)")
    folder = p / "wav" if (p / "wav").is_dir() else p
    files = sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
    items, skipped = [], []
    for f in files:
        m = _EMODB_RE.match(f.stem)
        if m is None or f.suffix.lower() not in AUDIO_EXTENSIONS:
            skipped.append(f.name)
            continue
        spk = m["speaker"]
        meta = {"text_code": m["text"], "version": m["version"]}
        if spk in _EMODB_GENDER:
            meta["gender"] = _EMODB_GENDER[spk]
        items.append(CorpusItem(f.stem, EMODB_EMOTIONS[m["emotion"]], source=f, text=m["text"], speaker=spk,
                                meta=meta))
    _skip_report(skipped, len(files), f"EmoDB {folder}", "SSTTTEv.wav (e.g. 03a01Wa.wav)", strict)
    return _build("emodb", items, modality="audio", root=folder, fmt="emodb", native_space="emodb7",
                  native_classes=get_label_space("emodb7").classes, label_map=label_map, label_space=label_space,
                  unknown=unknown, info={"skipped": len(skipped)})


# ============================================================================ RAVDESS
_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
_ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")
RAVDESS_MODALITIES = {"01": "audio_video", "02": "video", "03": "audio"}
RAVDESS_CHANNELS = {"01": "speech", "02": "song"}
RAVDESS_STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
_RAVDESS_INTENSITY = {"01": "normal", "02": "strong"}


@CORPORA.register("ravdess")
def read_ravdess(
    path: str | Path,
    *,
    modalities: str | Sequence[str] = "audio",
    vocal_channels: str | Sequence[str] = "speech",
    strict: bool = False,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """List RAVDESS recordings from their file names (``Actor_NN/MM-VV-EE-II-SS-RR-AA.<ext>``).

    Codes: ``MM`` modality (01 audio-video, 02 video-only, 03 audio-only), ``VV`` vocal
    channel (01 speech, 02 song), ``EE`` emotion 01..08 (ravdess8: neutral calm happy sad
    angry fearful disgust surprised), ``II`` intensity (01 normal, 02 strong), ``SS``
    statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), ``RR``
    repetition, ``AA`` actor (odd male, even female). Files are found recursively in any
    common audio (wav, flac, mp3, ogg, m4a ...) or video (mp4 ...) format; nothing is decoded.

    Args:
        path: The folder holding ``Actor_NN/`` (or one ``Actor_NN`` folder).
        modalities: Which recordings to keep: ``audio`` (default), ``audio_video``, ``video``, several, or ``all``.
        vocal_channels: ``speech`` (default), ``song``, or ``all``.
        strict: Raise on files with malformed names (or in a different actor's folder) instead of
            skipping them with a warning.
        label_map: Map the ravdess8 class names to other classes.
        label_space: ``ravdess8`` (default) or a space with a registered mapping (``ekman7``).
        unknown: ``error`` or ``drop`` for class names outside ``label_map``.

    Returns:
        Items sorted by path: id = file stem, ``source``, ``speaker`` = actor ``AA``, ``text`` =
        the statement; ``meta``: ``modality``, ``vocal_channel``, ``intensity``, ``statement``,
        ``repetition``, ``actor``, ``gender``. ``info``: ``skipped`` and ``excluded`` counts.
    """
    p = _require(path, "RAVDESS folder")
    if not p.is_dir():
        raise DataError(f"RAVDESS path {p} must be a folder holding Actor_NN/ folders")
    mods = set(_names(modalities, tuple(RAVDESS_MODALITIES.values()), "RAVDESS modality"))
    chans = set(_names(vocal_channels, tuple(RAVDESS_CHANNELS.values()), "RAVDESS vocal channel"))
    media = AUDIO_EXTENSIONS + VIDEO_EXTENSIONS
    files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
    items, skipped = [], []
    excluded: Counter[str] = Counter()
    emotions = get_label_space("ravdess8").classes
    for f in files:
        m = _RAVDESS_RE.match(f.stem)
        codes = m.groups() if m else ()
        ok = (m is not None and f.suffix.lower() in media and codes[0] in RAVDESS_MODALITIES
              and codes[1] in RAVDESS_CHANNELS and 1 <= int(codes[2]) <= len(emotions)
              and codes[3] in _RAVDESS_INTENSITY and codes[4] in RAVDESS_STATEMENTS and codes[6] != "00")
        folder = _ACTOR_DIR.match(f.parent.name)
        if ok and folder is not None and folder.group(1) != codes[6]:
            ok = False
        if not ok:
            skipped.append(str(f.relative_to(p)))
            continue
        modality, channel, emo, intensity, statement, rep, actor = codes
        if RAVDESS_MODALITIES[modality] not in mods:
            excluded[f"modality={RAVDESS_MODALITIES[modality]}"] += 1
            continue
        if RAVDESS_CHANNELS[channel] not in chans:
            excluded[f"vocal_channel={RAVDESS_CHANNELS[channel]}"] += 1
            continue
        meta = {"modality": RAVDESS_MODALITIES[modality], "vocal_channel": RAVDESS_CHANNELS[channel],
                "intensity": _RAVDESS_INTENSITY[intensity], "statement": statement, "repetition": int(rep),
                "actor": actor, "gender": "male" if int(actor) % 2 else "female"}
        items.append(CorpusItem(f.stem, emotions[int(emo) - 1], source=f, text=RAVDESS_STATEMENTS[statement],
                                speaker=actor, meta=meta))
    _skip_report(skipped, len(files), f"RAVDESS {p}", "Actor_NN/MM-VV-EE-II-SS-RR-AA.<audio>", strict)
    if not items and excluded:
        raise DataError(f"RAVDESS {p}: all {sum(excluded.values())} recordings were excluded by the filters "
                        f"({dict(excluded)}); widen modalities= / vocal_channels=")
    modality = "audio" if mods <= {"audio"} else "audiovisual"
    return _build("ravdess", items, modality=modality, root=p, fmt="ravdess", native_space="ravdess8",
                  native_classes=emotions, label_map=label_map, label_space=label_space, unknown=unknown,
                  info={"skipped": len(skipped), "excluded": dict(sorted(excluded.items())),
                        "modalities": sorted(mods), "vocal_channels": sorted(chans)})


# ============================================================================ generic tables
def _read_table(path: Path, delimiter: str | None, encoding: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` rows of a CSV/TSV; the delimiter is sniffed from the header.

    Sniffing counts ``, TAB ; |`` in the header line (headers rarely hold free text); a tie
    falls back to the file suffix (``.tsv`` → TAB, else comma).
    """
    text = _decode(_read_bytes(path), encoding, path.name)
    if delimiter is None:
        header_line = text.split("\n", 1)[0]
        counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
        best = max(counts.values())
        default = "\t" if path.suffix.lower() == ".tsv" or path.name.lower().endswith(".tsv.gz") else ","
        delimiter = default if best == 0 or counts[default] == best else max(counts, key=counts.__getitem__)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path.name}: the file is empty") from None
    rows = []
    for fields in reader:
        if not fields or not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise DataError(f"{path.name} line {reader.line_num}: {len(fields)} fields, expected {len(header)} "
                            f"({header}); is the delimiter {delimiter!r} right? (pass delimiter=)")
        rows.append((reader.line_num, fields))
    return header, rows


def _column(header: list[str], name: str, path: Path) -> int:
    if name not in header:
        raise UnknownNameError(f"column of {path.name}", name, header)
    return header.index(name)


def _row_labels(rows: list[tuple[int, list[str]]], col: int, label_sep: str | None, unknown: str,
                path: Path) -> tuple[list[Label | None], int]:
    """Raw labels per row (``None`` for an empty label that ``unknown="drop"`` drops) and the count of those."""
    labels: list[Label | None] = []
    empty = []
    for line, fields in rows:
        cell = fields[col].strip()
        lab: Label | None = cell
        if label_sep is not None:
            lab = tuple(dict.fromkeys(x.strip() for x in cell.split(label_sep) if x.strip()))
        if not lab:
            empty.append(line)
            lab = None
        labels.append(lab)
    if empty and unknown == "error":
        raise DataError(f"{path.name}: {len(empty)} rows have an empty label (lines {empty[:5]}); fill them or "
                        "pass unknown='drop'")
    return labels, len(empty)


@CORPORA.register("audio_csv")
def read_audio_csv(
    path: str | Path,
    *,
    path_column: str = "path",
    label_column: str = "label",
    speaker_column: str | None = "speaker",
    id_column: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8-sig",
    check_files: bool = True,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """Read a CSV/TSV that lists audio files and their labels (your own speech corpus).

    Args:
        path: The table (delimiter sniffed from the header; gzip told from the magic bytes).
        path_column: Column of audio file paths; relative paths are resolved against the table's folder.
        label_column: Column of class names.
        speaker_column: Column of speaker ids (``None``: none; the default ``speaker`` may be absent).
        id_column: Column of item ids (default: the path as written in the table).
        delimiter: Field delimiter, if sniffing picks the wrong one.
        encoding: Text encoding.
        check_files: Check that every listed file exists.
        label_map: Raw label → class (dict, or a JSON/YAML file; ``{class: [raw, ...]}`` works too).
        label_space: Registered space the (mapped) labels must belong to; its classes become the corpus classes.
        unknown: ``error`` or ``drop`` for labels outside ``label_map``/``label_space`` (and empty labels).

    Returns:
        Items in table order with ``source``, ``speaker``; the other columns go to ``meta``.

    Raises:
        MissingFileError: listed files that do not exist (the first few are named).
        UnknownNameError: a column name not in the header (with close matches).
    """
    p = _require(path, "audio CSV")
    _check_unknown_policy(unknown)
    header, rows = _read_table(p, delimiter, encoding)
    pcol, lcol = _column(header, path_column, p), _column(header, label_column, p)
    scol = None
    if speaker_column is not None and (speaker_column in header or speaker_column != "speaker"):
        scol = _column(header, speaker_column, p)
    icol = None if id_column is None else _column(header, id_column, p)
    used = {pcol, lcol, scol, icol}
    labels, n_empty = _row_labels(rows, lcol, None, unknown, p)
    items, missing = [], []
    for (_, fields), lab in zip(rows, labels, strict=True):
        raw = fields[pcol].strip()
        src = Path(raw).expanduser()
        if not src.is_absolute():
            src = p.parent / src
        if check_files and not src.is_file():
            missing.append(raw)
        if lab is None:
            continue
        meta = {h: v for k, (h, v) in enumerate(zip(header, fields, strict=True)) if k not in used}
        items.append(CorpusItem(fields[icol].strip() if icol is not None else raw, lab, source=src,
                                speaker=fields[scol].strip() or None if scol is not None else None, meta=meta))
    if missing:
        raise MissingFileError(f"{p.name}: {len(missing)} of {len(rows)} listed audio files do not exist "
                               f"(relative paths are resolved against {p.parent}), e.g. {missing[:5]}")
    return _build(p.stem, items, modality="audio", root=p, fmt="audio_csv", label_map=label_map,
                  label_space=label_space, unknown=unknown, info={"empty_labels": n_empty} if n_empty else None)


@CORPORA.register("text_table")
def read_text_table(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    id_column: str | None = None,
    speaker_column: str | None = None,
    label_sep: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8-sig",
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """Read a CSV/TSV of labelled texts (your own text corpus, or e.g. MELD's official CSVs).

    Example for MELD: ``text_column="Utterance", label_column="Emotion",
    speaker_column="Speaker", label_space="meld7"``.

    Args:
        path: The table (delimiter sniffed from the header; gzip told from the magic bytes).
        text_column: Column of texts.
        label_column: Column of class names.
        id_column: Column of item ids (default: the 0-based data row).
        speaker_column: Column of speaker ids, if any.
        label_sep: Separator of several labels in one cell (``","``): makes the corpus multi-label.
        delimiter: Field delimiter, if sniffing picks the wrong one.
        encoding: Text encoding.
        label_map: Raw label → class (dict, or a JSON/YAML file; ``{class: [raw, ...]}`` works too).
        label_space: Registered space the (mapped) labels must belong to; its classes become the corpus classes.
        unknown: ``error`` or ``drop`` for labels outside ``label_map``/``label_space`` (and empty labels).

    Returns:
        Items in table order with ``text`` (and ``speaker``); the other columns go to ``meta``.
        ``info["unknown"]`` counts labels dropped with ``unknown="drop"``.
    """
    p = _require(path, "text table")
    _check_unknown_policy(unknown)
    header, rows = _read_table(p, delimiter, encoding)
    tcol, lcol = _column(header, text_column, p), _column(header, label_column, p)
    icol = None if id_column is None else _column(header, id_column, p)
    scol = None if speaker_column is None else _column(header, speaker_column, p)
    used = {tcol, lcol, icol, scol}
    labels, n_empty = _row_labels(rows, lcol, label_sep, unknown, p)
    items = []
    for row, ((_, fields), lab) in enumerate(zip(rows, labels, strict=True)):
        if lab is None:
            continue
        meta = {h: v for k, (h, v) in enumerate(zip(header, fields, strict=True)) if k not in used}
        items.append(CorpusItem(fields[icol].strip() if icol is not None else str(row), lab, text=fields[tcol],
                                speaker=fields[scol].strip() or None if scol is not None else None, meta=meta))
    return _build(p.stem, items, modality="text", root=p, fmt="text_table", label_map=label_map,
                  label_space=label_space, unknown=unknown, multilabel=label_sep is not None,
                  info={"empty_labels": n_empty} if n_empty else None)


# ============================================================================ class folders
@CORPORA.register("folders")
def read_folders(
    path: str | Path,
    *,
    extensions: Sequence[str] | None = None,
    recursive: bool = True,
    label_map: LabelMap | None = None,
    label_space: str | None = None,
    unknown: str = "error",
) -> Corpus:
    """List images or audio files stored in class-named sub-folders (``root/<class>/*.png|jpg|wav ...``).

    Args:
        path: The root folder; each sub-folder is a class (its name, or ``label_map`` of it).
        extensions: File suffixes to list (default: common image and audio formats).
        recursive: Also list files in nested folders of a class folder (``root/happy/spk1/x.wav``).
        label_map: Folder name → class (dict, or a JSON/YAML file).
        label_space: Registered space the (mapped) folder names must belong to.
        unknown: ``error`` or ``drop`` for folder names outside ``label_map``/``label_space``.

    Returns:
        Items sorted by path: id = path relative to the root, ``source``. Classes: those of
        ``label_space``, else of ``label_map``, else the sorted folder names (empty ones included).
        Modality ``image``, ``audio`` or ``mixed``. Files are not decoded.
    """
    p = _require(path, "class folder root")
    if not p.is_dir():
        raise DataError(f"{p} must be a folder of class sub-folders")
    exts = tuple(e.lower() if e.startswith(".") else f".{e.lower()}"
                 for e in (extensions or AUDIO_EXTENSIONS + IMAGE_EXTENSIONS))
    class_dirs = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{p} has no class sub-folders (expected root/<class>/<files>)")
    items = []
    for d in class_dirs:
        found = d.rglob("*") if recursive else d.glob("*")
        for f in sorted(found):
            if f.is_file() and f.suffix.lower() in exts and not f.name.startswith("."):
                items.append(CorpusItem(f.relative_to(p).as_posix(), d.name, source=f))
    if not items:
        raise DataError(f"{p}: no files with suffixes {list(exts)} in its {len(class_dirs)} class folders")
    kinds = {"image" if it.source.suffix.lower() in IMAGE_EXTENSIONS  # type: ignore[union-attr]
             else "audio" if it.source.suffix.lower() in AUDIO_EXTENSIONS else "other"  # type: ignore[union-attr]
             for it in items}
    modality = kinds.pop() if len(kinds) == 1 else "mixed"
    root_files = sum(1 for f in p.iterdir() if f.is_file() and f.suffix.lower() in exts)
    native = [d.name for d in class_dirs] if label_map is None and label_space is None else None
    return _build(p.name, items, modality=modality, root=p, fmt="folders", native_classes=native,
                  label_map=label_map, label_space=label_space, unknown=unknown,
                  info={"root_files_ignored": root_files} if root_files else None)
