"""The records every corpus reader returns: :class:`CorpusItem` and :class:`Corpus`.

Also the label mapping of items (:func:`map_items`), shared by the readers (through
:func:`emofuse.data.corpora._labels.build_corpus`) and :meth:`Corpus.to_label_space`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import DataError, UnknownNameError
from emofuse.labels import get_label_space, get_mapping

__all__ = ["Corpus", "CorpusItem", "Label"]

Label = str | tuple[str, ...]


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
        items, notes = map_items(self.items, table, classes, self.multilabel, "error", self.name)
        info = {**self.info, **merge_counts(self.info, notes)}
        return dataclasses.replace(self, classes=classes, items=items, label_space=target, info=info)



# ============================================================================ label mapping of items
def suggest(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def merge_counts(info: Mapping[str, Any], notes: Mapping[str, Counter[str]]) -> dict[str, dict[str, int]]:
    out = {}
    for key, counts in notes.items():
        if counts:
            merged = Counter(info.get(key, {}))
            merged.update(counts)
            out[key] = dict(sorted(merged.items()))
    return out


def map_items(items: Sequence[CorpusItem], table: Mapping[str, str | None] | None, classes: Sequence[str],
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
        shown = ", ".join(f"{lab!r} ({n} item{'s' if n != 1 else ''}{suggest(lab, pool)})"
                          for lab, n in unknown_counts.most_common(10))
        more = f" and {len(unknown_counts) - 10} more" if len(unknown_counts) > 10 else ""
        target = "label_map" if table is not None else f"classes {list(classes)}"
        raise DataError(f"{where}: {len(unknown_counts)} label names are not in the {target}: {shown}{more}. "
                        "Add them to label_map=, or pass unknown='drop' to drop those items")
    return out, {"unknown": unknown_counts, "unmapped": unmapped}


