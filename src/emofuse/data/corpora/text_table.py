"""A CSV/TSV of labelled texts (your own text corpus, or e.g. MELD's official CSVs)."""

from __future__ import annotations

from pathlib import Path

from emofuse.data._readers import require_path
from emofuse.data.corpora._base import corpus_reader
from emofuse.data.corpora._io import check_unknown_policy, column, read_table, row_labels
from emofuse.data.corpora._labels import LabelMap, build_corpus
from emofuse.data.corpora._records import Corpus, CorpusItem


@corpus_reader("text_table", layout="a CSV/TSV with a text column and a label column (format='text_table', "
               "text_column=..., label_column=...)")
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
    p = require_path(path, "text table")
    check_unknown_policy(unknown)
    header, rows = read_table(p, delimiter, encoding)
    tcol, lcol = column(header, text_column, p), column(header, label_column, p)
    icol = None if id_column is None else column(header, id_column, p)
    scol = None if speaker_column is None else column(header, speaker_column, p)
    used = {tcol, lcol, icol, scol}
    labels, n_empty = row_labels(rows, lcol, label_sep, unknown, p)
    items = []
    for row, ((_, fields), lab) in enumerate(zip(rows, labels, strict=True)):
        if lab is None:
            continue
        meta = {h: v for k, (h, v) in enumerate(zip(header, fields, strict=True)) if k not in used}
        items.append(CorpusItem(fields[icol].strip() if icol is not None else str(row), lab, text=fields[tcol],
                                speaker=fields[scol].strip() or None if scol is not None else None, meta=meta))
    return build_corpus(p.stem, items, modality="text", root=p, fmt="text_table", label_map=label_map,
                  label_space=label_space, unknown=unknown, multilabel=label_sep is not None,
                  info={"empty_labels": n_empty} if n_empty else None)
