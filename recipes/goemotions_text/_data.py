"""GoEmotions TSV reading for the recipe.

Uses the package's corpus reader (:func:`emofuse.corpora.read_goemotions`, which needs
``emotions.txt`` next to the TSV); a lone TSV without it (e.g. a test file copied elsewhere) is
read by a small private reader of the official layout, which assumes the official label order
(``text<TAB>comma-separated label ids<TAB>comment id``, no header). Both give identical texts,
ids and labels on the official train/dev files (checked).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emofuse.errors import DataError, MissingFileError
from emofuse.labels import get_label_space, mapping_matrix

SPACE = get_label_space("goemotions28")
EKMAN = get_label_space("ekman7")
#: (28, 7) 0/1 matrix of GoEmotions' own Ekman grouping.
GO2EK = mapping_matrix("goemotions28", "ekman7")


@dataclass
class GoSplit:
    """One split: texts, (N, 28) uint8 multi-hot labels, comment ids and a content hash."""

    name: str
    texts: list[str]
    labels: np.ndarray
    ids: list[str]
    sha1: str

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def ekman_multi(self) -> np.ndarray:
        """(N, 7) multi-hot Ekman groups of the gold labels."""
        return (self.labels.astype(np.float32) @ GO2EK > 0).astype(np.uint8)

    @property
    def ekman_single(self) -> np.ndarray:
        """(N,) Ekman class of samples whose gold labels fall in one group, -1 elsewhere."""
        em = self.ekman_multi
        return np.where(em.sum(1) == 1, em.argmax(1), -1).astype(np.int64)


def _read_tsv(path: Path) -> tuple[list[str], list[list[int]], list[str]]:
    texts, labels, ids = [], [], []
    with path.open(encoding="utf-8", newline="") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) != 3:
                raise DataError(f"{path}:{lineno}: expected 3 tab-separated columns (text, label ids, id), "
                                f"got {len(parts)}")
            text, labs, cid = parts
            try:
                ls = [int(x) for x in labs.split(",")]
            except ValueError:
                raise DataError(f"{path}:{lineno}: expected comma-separated label ids, got {labs!r}") from None
            if not ls or min(ls) < 0 or max(ls) >= len(SPACE):
                raise DataError(f"{path}:{lineno}: label ids {ls} outside 0..{len(SPACE) - 1}")
            texts.append(text)
            labels.append(ls)
            ids.append(cid)
    return texts, labels, ids


def read_split(path: str | Path, name: str | None = None) -> GoSplit:
    """Read one official GoEmotions TSV (train/dev/test)."""
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"GoEmotions split not found: {p}")
    from emofuse.corpora import read_goemotions

    if (p.parent / "emotions.txt").is_file():
        corpus = read_goemotions(p)
        if corpus.classes != SPACE.classes:
            raise DataError(f"{p.parent / 'emotions.txt'} is not the official 28-label list")
        texts, ids = corpus.texts(), corpus.ids()
        labs = [[SPACE.index(c) for c in item.label] for item in corpus]
    else:
        texts, labs, ids = _read_tsv(p)
    y = np.zeros((len(texts), len(SPACE)), dtype=np.uint8)
    for i, ls in enumerate(labs):
        y[i, ls] = 1
    sha1 = hashlib.sha1(p.read_bytes()).hexdigest()
    return GoSplit(name or p.stem, texts, y, ids, sha1)

