"""Evaluate a shipped (or retrained) expert on any supported corpus file.

The corpus is read with :func:`emofuse.corpora.load_corpus` (official formats and the generic
readers), each item is given to the expert in its modality (text, audio file, face pixels or
image file), and predictions are scored with :mod:`emofuse.evaluate.metrics`.

Where the corpus uses the expert's native label space the native prediction is scored; else
both sides are mapped to ``ekman7`` (the expert's calibrated Ekman view against the corpus
labels mapped through :mod:`emofuse.labels`; classes with no Ekman counterpart are dropped and
counted). Multi-label corpora in the expert's native space are scored as multi-label with the
expert's tuned thresholds.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import DataError
from emofuse.evaluate.metrics import classification_metrics, multilabel_metrics
from emofuse.experts.base import Expert, ExpertOutput, load_expert
from emofuse.labels import get_label_space, get_mapping

EKMAN = get_label_space("ekman7").classes


def _inputs(expert: Expert, items: Sequence[Any]) -> list[Any]:
    """What the expert eats for each corpus item."""
    out = []
    for it in items:
        if expert.modality == "text":
            if not it.text:
                raise DataError(f"item {it.id}: no text for a text expert")
            out.append(it.text)
        elif expert.modality == "face" and it.pixels is not None:
            out.append(it.pixels)
        elif it.source is not None:
            out.append(str(it.source))
        else:
            raise DataError(f"item {it.id}: nothing a {expert.modality} expert can read")
    return out


def _concat(outputs: list[ExpertOutput]) -> ExpertOutput:
    first = outputs[0]
    info: dict[str, list[Any]] = {}
    for o in outputs:
        for k, v in o.info.items():
            info.setdefault(k, []).extend(v)
    return ExpertOutput(first.expert, first.label_space, first.classes, first.multilabel,
                        np.concatenate([o.probs for o in outputs]), np.concatenate([o.ekman for o in outputs]),
                        first.thresholds, info)


def evaluate_expert(
    name: str,
    data: str | Path,
    *,
    format: str = "auto",  # noqa: A002 - mirrors load_corpus
    batch_size: int = 64,
    predictions: str | Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    weights: str | Path | None = None,
    **reader_options: Any,
) -> dict[str, Any]:
    """Score expert ``name`` on the corpus at ``data``.

    Args:
        name: Expert registry name (``emofuse models list``).
        data: A corpus file or folder in a supported format (official test files included).
        format: Corpus reader name, or ``auto``.
        batch_size: Items per expert call.
        predictions: Optional CSV path: one row per item (id, true, predicted, probabilities).
        on_progress: Callback ``(done, total)`` after each batch.
        weights: Another weights directory for the same expert (a retrained one).
        **reader_options: Passed to the corpus reader (``usage=``, ``text_column=``, ``label_map=``...).

    Returns:
        Metrics (accuracy, macro/weighted F1, UAR, per-class recall, confusion matrix, or the
        multi-label set), plus ``expert``, ``space`` (where it was scored), ``classes``, ``n``
        and ``dropped`` (items whose label has no counterpart in that space).
    """
    from emofuse.corpora import load_corpus

    expert = load_expert(name, weights) if weights else load_expert(name)
    corpus = load_corpus(data, format=format, **reader_options)
    items = list(corpus.items)
    if not items:
        raise DataError(f"corpus {data} has no items")
    outputs = []
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        outputs.append(expert.predict(_inputs(expert, chunk)))
        if on_progress is not None:
            on_progress(min(start + batch_size, len(items)), len(items))
    out = _concat(outputs)
    native = corpus.label_space == expert.label_space
    result: dict[str, Any] = {"expert": name, "corpus": str(data), "n": len(items)}
    if native and corpus.multilabel:
        y = corpus.labels_as_indices()
        thr = out.thresholds if out.thresholds is not None else 0.5
        metrics = multilabel_metrics(y, out.probs, thresholds=thr, classes=list(expert.classes))
        result.update(space=expert.label_space, classes=list(expert.classes), dropped=0, **metrics)
        pred_names = [";".join(x) for x in out.labels()]
        true_names = [";".join(it.label) for it in items]
        probs, classes = out.probs, list(expert.classes)
    else:
        if corpus.multilabel:
            raise DataError(f"multi-label corpus in {corpus.label_space!r} cannot be scored against "
                            f"{expert.label_space!r}; give the single-label view (e.g. view='ekman7')")
        if native:
            classes, probs = list(expert.classes), out.probs
            true_idx = corpus.labels_as_indices()
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
        result.update(space=expert.label_space if native else "ekman7", classes=classes,
                      dropped=int((~keep).sum()), **metrics)
        pred_names = [classes[i] for i in probs.argmax(1)]
        true_names = [it.label if native else (table[it.label] or "") for it in items]
    if predictions is not None:
        path = Path(predictions)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "true", "predicted", *[f"p_{c}" for c in classes]])
            for i, it in enumerate(items):
                w.writerow([it.id, true_names[i], pred_names[i], *[f"{p:.6f}" for p in probs[i]]])
    return result
