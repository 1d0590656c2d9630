"""GoEmotions: multi-label Reddit comments, ``text<TAB>ids<TAB>comment id`` TSVs + ``emotions.txt``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from emofuse.data._readers import require_path
from emofuse.data.corpora._base import corpus_reader
from emofuse.data.corpora._io import decode, read_bytes
from emofuse.data.corpora._labels import LabelMap, build_corpus
from emofuse.data.corpora._records import Corpus, CorpusItem, suggest
from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.labels import get_label_space, get_mapping

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
                            f"({', '.join(ekman)}){suggest(group, ekman)}")
        for lab in labels:
            if lab not in emotions:
                raise DataError(f"{mapping_file.name}: {lab!r} is not a label of emotions.txt{suggest(lab, emotions)}")
            table[lab] = target
    if "neutral" in emotions:
        table.setdefault("neutral", "neutral")
    missing = [e for e in emotions if e not in table]
    if missing:
        raise DataError(f"{mapping_file.name}: labels {missing} of emotions.txt have no Ekman group")
    return table


def _sniff(path: Path) -> bool:
    if path.is_dir():
        return (path / "emotions.txt").is_file()
    return path.suffix.lower() == ".tsv" and (path.parent / "emotions.txt").is_file()


@corpus_reader("goemotions", layout="train/dev/test.tsv next to emotions.txt", sniff=_sniff, order=20,
               data_dir="goemotions")
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
    p = require_path(path, "GoEmotions path")
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
    emo_path = require_path(emotions if emotions is not None else p.parent / "emotions.txt", "GoEmotions emotions.txt")
    names = [ln.strip() for ln in emo_path.read_text(encoding="utf-8-sig").split("\n") if ln.strip()]
    if not names or len(set(names)) != len(names):
        raise DataError(f"{emo_path.name}: expected one distinct label per line, got {len(names)} lines "
                        f"with duplicates {sorted(n for n, c in Counter(names).items() if c > 1)}")
    native = "goemotions28" if tuple(names) == get_label_space("goemotions28").classes else None

    items = []
    text = decode(read_bytes(p), "utf-8-sig", p.name)
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
            mapping_file = None if ekman_mapping is None else require_path(ekman_mapping, "GoEmotions ekman mapping")
        label_map = _goemotions_ekman_table(names, native, mapping_file)
        label_space = "ekman7"
        info["ekman_mapping"] = str(mapping_file) if mapping_file else "emofuse.labels"
    return build_corpus("goemotions", items, modality="text", root=p, fmt="goemotions", native_space=native,
                  native_classes=names, label_map=label_map, label_space=label_space, unknown=unknown,
                  multilabel=True, info=info)
