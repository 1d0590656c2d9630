"""A CSV/TSV listing audio files and their labels (your own speech corpus)."""

from __future__ import annotations

from pathlib import Path

from emofuse.data._readers import require_path
from emofuse.data.corpora._base import corpus_reader
from emofuse.data.corpora._io import check_unknown_policy, column, first_line, header_columns, read_table, row_labels
from emofuse.data.corpora._labels import LabelMap, build_corpus
from emofuse.data.corpora._records import Corpus, CorpusItem
from emofuse.errors import MissingFileError


def _sniff(path: Path) -> bool:
    if not path.is_file():
        return False
    return "path" in header_columns(first_line(path))


@corpus_reader("audio_csv", layout="a CSV/TSV whose header has a path column (path,label,speaker)", sniff=_sniff,
               order=60)
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
    p = require_path(path, "audio CSV")
    check_unknown_policy(unknown)
    header, rows = read_table(p, delimiter, encoding)
    pcol, lcol = column(header, path_column, p), column(header, label_column, p)
    scol = None
    if speaker_column is not None and (speaker_column in header or speaker_column != "speaker"):
        scol = column(header, speaker_column, p)
    icol = None if id_column is None else column(header, id_column, p)
    used = {pcol, lcol, scol, icol}
    labels, n_empty = row_labels(rows, lcol, None, unknown, p)
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
    return build_corpus(p.stem, items, modality="audio", root=p, fmt="audio_csv", label_map=label_map,
                  label_space=label_space, unknown=unknown, info={"empty_labels": n_empty} if n_empty else None)
