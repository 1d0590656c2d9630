"""Label handling shared by the corpus readers: ``label_map`` files and assembling a :class:`Corpus`.

Every reader takes ``label_map`` (raw label → target class, a dict or a JSON/YAML file),
``label_space`` (a registered space the labels must belong to, or are mapped to through
:mod:`emofuse.labels`) and ``unknown`` (``"error"`` or ``"drop"`` for labels outside them);
:func:`build_corpus` applies them the same way for every reader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emofuse.data._readers import require_path
from emofuse.data.corpora._io import check_unknown_policy
from emofuse.data.corpora._records import Corpus, CorpusItem, map_items, merge_counts, suggest
from emofuse.errors import DataError
from emofuse.labels import get_label_space, get_mapping

LabelMap = Mapping[str, Any] | str | Path


def load_label_map(label_map: LabelMap) -> dict[str, str | None]:
    """A label map as ``raw name → target class`` (``None`` = drop items of that raw label).

    Accepts a mapping or a JSON/YAML file, either as ``{raw: target}`` or grouped as
    ``{target: [raw, ...]}`` (the form of GoEmotions' ``ekman_mapping.json``).
    """
    where = "label_map"
    if isinstance(label_map, (str, Path)):
        p = require_path(label_map, "label_map file")
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


def build_corpus(
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
    check_unknown_policy(unknown)
    where = f"{root.name} ({fmt})"
    if not items:
        raise DataError(f"{where}: the corpus is empty (no items found)")
    info = {"format": fmt, **(info or {})}
    table: Mapping[str, str | None] | None = None
    if label_space is not None:
        classes: tuple[str, ...] = get_label_space(label_space).classes
    if label_map is not None:
        table = load_label_map(label_map)
        if label_space is not None:
            bad = sorted({t for t in table.values() if t is not None and t not in classes})
            if bad:
                hints = ", ".join(f"{b!r}{suggest(b, classes)}" for b in bad)
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
    mapped, notes = map_items(items, table, classes, multilabel, unknown, where)
    info.update(merge_counts(info, notes))
    if not mapped:
        raise DataError(f"{where}: no items left after mapping labels (dropped: {info})")
    return Corpus(name, classes, mapped, label_space=space, multilabel=multilabel, modality=modality, root=root,
                  info=info)


