"""Evaluate a shipped (or retrained) expert on any supported corpus file.

The corpus is read with :func:`emofuse.data.corpora.load_corpus` (official formats and the
generic readers), each item is given to the expert in its modality (text, audio file, face
pixels or image file), and predictions are scored with :mod:`emofuse.evaluate.metrics`.

Face images of any size are accepted (a class-named folder of PNG/JPEG files, grey or colour):
small images (FER-style crops) are used as crops, larger ones go through face detection and the
FER-framed crop (:func:`emofuse.media.face.face_from_image`). Images in which no face is found,
and unreadable image files, are left out of the scores and counted (``no_face``,
``unreadable``, with the first ids in ``no_face_ids`` / ``unreadable_ids``).

Where the corpus uses the expert's native label space the native prediction is scored; else
both sides are mapped to ``ekman7`` (the expert's calibrated Ekman view against the corpus
labels mapped through :mod:`emofuse.labels`; classes with no Ekman counterpart are dropped and
counted). Multi-label corpora in the expert's native space are scored as multi-label with the
expert's tuned thresholds.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import DataError
from emofuse.evaluate.metrics import classification_metrics, multilabel_metrics
from emofuse.experts.base import Expert, ExpertOutput, load_expert
from emofuse.labels import get_label_space, get_mapping

EKMAN = get_label_space("ekman7").classes


#: Ids listed per skipped-item reason in the result (the counts cover all of them).
_SHOWN_IDS = 10


def expert_input(expert: Expert, item: Any, detector: Any = None) -> tuple[Any, str | None]:
    """What the expert eats for one corpus item, or ``(None, reason)`` for an item it cannot use.

    Text → the string; face → FER pixels as given, or the 48x48 grey crop of an image file
    (``(None, "no_face")`` / ``(None, "unreadable")`` when it has none); voice → the file path.
    """
    if expert.modality == "text":
        if not item.text:
            raise DataError(f"item {item.id}: no text for a text expert")
        return item.text, None
    if expert.modality == "face" and item.pixels is not None:
        return item.pixels, None
    if item.source is None:
        raise DataError(f"item {item.id}: nothing a {expert.modality} expert can read")
    if expert.modality != "face":
        return str(item.source), None
    from emofuse.media.face import face_from_image

    try:
        crop = face_from_image(item.source, **({"detector": detector} if detector is not None else {}))
    except DataError:
        return None, "unreadable"
    return (None, "no_face") if crop is None else (crop.gray, None)


def _concat(outputs: list[ExpertOutput]) -> ExpertOutput:
    first = outputs[0]
    info: dict[str, list[Any]] = {}
    for o in outputs:
        for k, v in o.info.items():
            info.setdefault(k, []).extend(v)
    return ExpertOutput(first.expert, first.label_space, first.classes, first.multilabel,
                        np.concatenate([o.probs for o in outputs]), np.concatenate([o.ekman for o in outputs]),
                        first.thresholds, info)


def _speaker_normalised(expert: Any, items: list[Any], feats: np.ndarray) -> tuple[list[ExpertOutput], dict[str, Any]]:
    """Outputs (in item order) of features ``(N, F)`` read with per-speaker statistics, and counts."""
    if any(not it.speaker for it in items):
        n = sum(not it.speaker for it in items)
        raise DataError(f"--speaker-norm needs a speaker for every item; {n} of {len(items)} have none "
                        "(give --speaker-column, or a corpus whose reader names speakers)")
    order = np.array([it.speaker for it in items])
    probs, ekman = np.zeros((len(items), len(expert.classes)), np.float32), np.zeros((len(items), 7), np.float32)
    weights: list[float] = [0.0] * len(items)
    first: ExpertOutput | None = None
    for spk in dict.fromkeys(order.tolist()):
        rows = np.flatnonzero(order == spk)
        stats = expert.speaker_stats().update(feats[rows])
        o = expert.predict_features(feats[rows], stats)
        probs[rows], ekman[rows] = o.probs, o.ekman
        for r, w in zip(rows, o.info["speaker_norm_weight"], strict=True):
            weights[r] = w
        first = first or o
    if first is None:
        raise DataError("--speaker-norm: no item to read")
    out = ExpertOutput(first.expert, first.label_space, first.classes, first.multilabel, probs, ekman,
                       first.thresholds, {"speaker_norm_weight": weights})
    w = np.asarray(weights)
    return [out], {"speakers": int(len(set(order.tolist()))), "items_plain": int((w == 0).sum()),
                   "items_full_weight": int((w == 1).sum()), "min_utterances": expert.speaker_norm[1].min_utterances,
                   "full_utterances": expert.speaker_norm[1].full_utterances}


def evaluate_expert(
    name: str,
    data: str | Path,
    *,
    format: str = "auto",  # noqa: A002 - mirrors load_corpus
    batch_size: int = 64,
    predictions: str | Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    weights: str | Path | None = None,
    detector: Any = None,
    by: str | None = None,
    speaker_norm: bool = False,
    **reader_options: Any,
) -> dict[str, Any]:
    """Score expert ``name`` on the corpus at ``data``.

    Args:
        name: Expert registry name (``emofuse models list``).
        data: A corpus file or folder in a supported format (official test files included); for
            a physio expert a labelled recording (WESAD ``SX_wrist.npz``) or a folder of them
            (:func:`emofuse.experts.evaluate_physio.evaluate_physio`).
        format: Corpus reader name, or ``auto``.
        batch_size: Items per expert call.
        predictions: Optional CSV path: one row per item (id, true, predicted, probabilities).
        on_progress: Callback ``(done, total)`` after each batch.
        weights: Another weights directory for the same expert (a retrained one).
        detector: Face detector for face images larger than a crop (default: MediaPipe; see
            :func:`emofuse.media.face.crop_face`).
        by: Also report accuracy and UAR per group of items: ``speaker``, or any per-item field
            the reader gives (``gender`` for RAVDESS and EmoDB, ``intensity``, a CSV column...);
            ``result["by_group"]`` holds each group's ``n``/``accuracy``/``uar`` and the
            worst-group gaps (best minus worst). Single-label scoring only.
        speaker_norm: Read each item with the speaker-normalised head blended in, its statistics
            taken over all scored items of the same speaker (:mod:`emofuse.experts.speaker_norm`;
            transductive, as when one recording holds many utterances of one person). Needs a
            speaker per item and an expert whose weights ship that head; ``result["speaker_norm"]``
            counts the speakers and the items read without it (too few utterances).
        **reader_options: Passed to the corpus reader (``usage=``, ``text_column=``, ``label_map=``...).

    Returns:
        Metrics (accuracy, macro/weighted F1, UAR, per-class recall, confusion matrix, or the
        multi-label set), plus ``expert``, ``space`` (where it was scored), ``classes``, ``n``
        (items scored) and ``dropped`` (items whose label has no counterpart in that space);
        for face images also ``no_face`` and ``unreadable`` (items left out, see the module notes).

    Raises:
        DataError: No item could be used (e.g. no face found in any image).
    """
    from emofuse.data.corpora import load_corpus

    expert = load_expert(name, weights) if weights else load_expert(name)
    if speaker_norm and getattr(expert, "speaker_norm", None) is None:
        raise DataError(f"--speaker-norm: expert {name!r} (these weights) ships no speaker-normalised head; "
                        "voice-whisper weights with a card block 'speaker_norm' do")
    if expert.modality == "physio":  # labelled recordings, read as windows (not corpus items)
        from emofuse.experts.evaluate_physio import evaluate_physio

        if by not in (None, "subject", "speaker"):
            raise DataError(f"--by {by}: a physio evaluation reports per subject only")
        return evaluate_physio(expert, data, predictions=predictions, on_progress=on_progress)
    corpus = load_corpus(data, format=format, **reader_options)
    all_items = list(corpus.items)
    if not all_items:
        raise DataError(f"corpus {data} has no items")
    items: list[Any] = []
    kept: list[int] = []  # indices of the scored items in the corpus
    skipped: dict[str, list[Any]] = {}
    outputs = []
    for start in range(0, len(all_items), batch_size):
        inputs = []
        for k, it in enumerate(all_items[start:start + batch_size], start=start):
            x, reason = expert_input(expert, it, detector)
            if reason is not None:
                skipped.setdefault(reason, []).append(it)
                continue
            items.append(it)
            kept.append(k)
            inputs.append(x)
        if inputs:
            outputs.append(expert.features(inputs) if speaker_norm else expert.predict(inputs))
        if on_progress is not None:
            on_progress(min(start + batch_size, len(all_items)), len(all_items))
    notes: dict[str, Any] = {}
    if expert.modality == "face" and any(it.pixels is None for it in all_items):  # image files
        for reason in ("no_face", "unreadable"):
            notes[reason] = len(skipped.get(reason, []))
            if skipped.get(reason):
                notes[f"{reason}_ids"] = [it.id for it in skipped[reason][:_SHOWN_IDS]]
    if not items:
        raise DataError(f"corpus {data}: none of its {len(all_items)} items could be used by expert {name!r} "
                        f"({', '.join(f'{k}: {len(v)}' for k, v in skipped.items())}); face images need a "
                        "detectable face, or must be face crops already (at most 64 px)")
    notes_sn: dict[str, Any] = {}
    if speaker_norm:
        outputs, notes_sn = _speaker_normalised(expert, items, np.concatenate(outputs))
    out = _concat(outputs)
    scored = corpus if len(items) == len(all_items) else corpus.subset(kept)
    native = corpus.label_space == expert.label_space
    result: dict[str, Any] = {"expert": name, "corpus": str(data), "n": len(items), **notes}
    if notes_sn:
        result["speaker_norm"] = notes_sn
    if by is not None and corpus.multilabel and corpus.label_space != "ekman7":
        raise DataError(f"--by {by}: per-group figures need single-label scoring")
    if native and corpus.multilabel:
        y = scored.labels_as_indices()
        thr = out.thresholds if out.thresholds is not None else 0.5
        metrics = multilabel_metrics(y, out.probs, thresholds=thr, classes=list(expert.classes))
        result.update(space=expert.label_space, classes=list(expert.classes), dropped=0, **metrics)
        pred_names = [";".join(x) for x in out.labels()]
        true_names = [";".join(it.label) for it in items]
        probs, classes = out.probs, list(expert.classes)
    else:
        single = None
        if corpus.multilabel and corpus.label_space == "ekman7":
            # the single-label Ekman view: the items whose labels fall in one Ekman group (as the
            # experts' cards report it); the others are counted in ``dropped``
            single = np.array([len(set(it.label)) == 1 for it in items])
            if not single.any():
                raise DataError(f"corpus {data}: no item has exactly one {corpus.label_space} label")
        elif corpus.multilabel:
            raise DataError(f"multi-label corpus in {corpus.label_space!r} cannot be scored against "
                            f"{expert.label_space!r}; give the single-label view (e.g. view='ekman7')")
        if single is not None:
            classes, probs = list(EKMAN), out.ekman
            keep = single
            true_idx = np.array([EKMAN.index(next(iter(it.label))) for it, k in zip(items, keep, strict=True) if k],
                                dtype=np.int64)
            table = None
        elif native:
            classes, probs = list(expert.classes), out.probs
            true_idx = scored.labels_as_indices()
            keep = np.ones(len(items), dtype=bool)
        else:
            if corpus.label_space is None:
                raise DataError("the corpus has no label space; pass label_space= (or a label_map onto one)")
            table = get_mapping(corpus.label_space, "ekman7")
            mapped = [table[it.label] for it in items]
            keep = np.array([m is not None for m in mapped])
            classes, probs = list(EKMAN), out.ekman
            true_idx = np.array([EKMAN.index(m) for m in mapped if m is not None], dtype=np.int64)
        metrics = classification_metrics(true_idx, probs[keep], num_classes=len(classes), classes=classes)
        if by is not None:
            result["by_group"] = by_group([it for it, k in zip(items, keep, strict=True) if k], true_idx,
                                          probs[keep].argmax(1), by, len(classes))
        result.update(space=expert.label_space if native and single is None else "ekman7", classes=classes,
                      dropped=int((~keep).sum()), **metrics)
        pred_names = [classes[i] for i in probs.argmax(1)]
        true_names = [";".join(sorted(set(it.label))) if single is not None else
                      it.label if native else (table[it.label] or "") for it in items]
    if predictions is not None:
        path = Path(predictions)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            extra = ["skipped"] if skipped else []
            w.writerow(["id", "true", "predicted", *[f"p_{c}" for c in classes], *extra])
            for i, it in enumerate(items):
                w.writerow([it.id, true_names[i], pred_names[i], *[f"{p:.6f}" for p in probs[i]],
                            *([""] if skipped else [])])
            for reason, left_out in skipped.items():  # listed, not scored: no prediction
                for it in left_out:
                    true = ";".join(it.label) if isinstance(it.label, tuple) else it.label
                    w.writerow([it.id, true, "", *[""] * len(classes), reason])
    return result


def by_group(items: list[Any], y: np.ndarray, pred: np.ndarray, key: str, n_classes: int) -> dict[str, Any]:
    """Accuracy and UAR per group of ``items`` (``key``: ``speaker`` or a ``meta`` field), with counts and gaps.

    Args:
        items: The scored corpus items.
        y: ``(N,)`` true class indices.
        pred: ``(N,)`` predicted class indices.
        key: ``"speaker"`` or a per-item ``meta`` field (``gender``, ``intensity``, ...).
        n_classes: Number of classes (UAR averages the recall of the classes a group has).

    Raises:
        DataError: No item carries ``key``.
    """
    values = [it.speaker if key == "speaker" else (it.meta or {}).get(key) for it in items]
    if all(v is None for v in values):
        fields = sorted({k for it in items for k in (it.meta or {})} | ({"speaker"} if items[0].speaker else set()))
        raise DataError(f"--by {key}: the items have no such field; they have {fields}")
    groups: dict[str, Any] = {}
    for g in sorted({str(v) for v in values if v is not None}):
        m = np.array([str(v) == g for v in values])
        recalls = [float((pred[m & (y == c)] == c).mean()) for c in range(n_classes) if (m & (y == c)).any()]
        groups[g] = {"n": int(m.sum()), "accuracy": round(float((pred[m] == y[m]).mean()), 4),
                     "uar": round(float(np.mean(recalls)), 4)}
    acc = [v["accuracy"] for v in groups.values()]
    uar = [v["uar"] for v in groups.values()]
    return {"key": key, "groups": groups, "worst_group": min(groups, key=lambda g: groups[g]["uar"]),
            "accuracy_gap": round(max(acc) - min(acc), 4), "uar_gap": round(max(uar) - min(uar), 4),
            "ungrouped": int(sum(v is None for v in values))}
