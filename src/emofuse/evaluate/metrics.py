"""Evaluation metrics for classification, multi-label and regression outputs.

Every metric comes from scikit-learn or torchmetrics; this module only validates inputs at
the boundary, fixes conventions (absent classes, constant vectors, MOSI binarisation) and
returns plain Python numbers so results serialise to JSON unchanged. The two pieces written
here by hand (the vectorised per-class F1 of :func:`tune_thresholds` and the MOSI
conventions of :func:`mosi_metrics`) are tested against scikit-learn and against a port of
MMSA's evaluation code in ``tests/test_metrics.py``.

Inputs may be ``torch.Tensor``, ``numpy.ndarray`` or nested lists. Undefined values are
``float("nan")`` (Python's ``json`` writes them as ``NaN``), never an exception.

Example:
    >>> m = classification_metrics([0, 1, 1, 2], [0, 1, 2, 2], classes=["neg", "neu", "pos"])
    >>> m["accuracy"], m["uar"]
    (0.75, 0.8333333333333334)
    >>> m["confusion_matrix"]
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    >>> monitor_mode("f1_macro"), monitor_mode("val/mae")
    ('max', 'min')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

from emofuse.data.spec import TASKS
from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.evaluate._checks import (
    _as_float,
    _as_int,
    _check_binary,
    _check_probabilities,
    _check_range,
    _check_same_length,
    _names,
    _to_numpy,
)
from emofuse.evaluate.regression import mosi_metrics, regression_metrics

__all__ = [
    "DEFAULT_THRESHOLD_GRID",
    "MONITOR_MODES",
    "classification_metrics",
    "compute_metrics",
    "monitor_mode",
    "mosi_metrics",
    "multilabel_metrics",
    "regression_metrics",
    "tune_thresholds",
]

#: Thresholds tried by :func:`tune_thresholds`: 0.05, 0.10, ..., 0.95.
DEFAULT_THRESHOLD_GRID: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))

_MAX = (
    "accuracy", "f1_macro", "f1_micro", "f1_weighted", "uar", "precision_macro", "recall_macro",
    "exact_match", "pearson", "ccc", "acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc5", "acc7",
)
_MIN = ("mae", "mse", "loss")

#: Metric name → ``"max"`` (higher is better) or ``"min"`` (lower is better), for checkpointing
#: and early stopping.
MONITOR_MODES: dict[str, str] = {**dict.fromkeys(_MAX, "max"), **dict.fromkeys(_MIN, "min")}

_SPLIT_PREFIXES = ("train", "val", "valid", "validation", "dev", "test")


def monitor_mode(name: str) -> str:
    """Whether a monitored metric should be maximised or minimised.

    A split prefix such as ``"val/"``, ``"val_"`` or ``"test."`` is ignored, so
    ``monitor_mode("val/f1_macro") == monitor_mode("f1_macro")``.

    Args:
        name: Metric name, a key of :data:`MONITOR_MODES` with an optional split prefix.

    Returns:
        ``"max"`` or ``"min"``.

    Raises:
        UnknownNameError: ``name`` is not a known metric (the message lists close matches).
    """
    if name in MONITOR_MODES:
        return MONITOR_MODES[name]
    for split in _SPLIT_PREFIXES:
        for sep in ("/", "_", "."):
            prefix = split + sep
            if name.startswith(prefix) and name[len(prefix):] in MONITOR_MODES:
                return MONITOR_MODES[name[len(prefix):]]
    raise UnknownNameError("metric", name, MONITOR_MODES)


# --------------------------------------------------------------------------- input checks


def classification_metrics(
    y_true: Any,
    scores: Any,
    *,
    num_classes: int | None = None,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Single-label classification metrics.

    Conventions (chosen to agree with scikit-learn's defaults and with torchmetrics):

    * ``uar`` (unweighted average recall, the usual speech-emotion headline metric) is the
      mean recall over the classes **present in** ``y_true``; a class with no true samples has
      no recall and is left out, even if it is predicted. This equals
      ``sklearn.metrics.balanced_accuracy_score`` and
      ``recall_score(average="macro", labels=<classes in y_true>)``. Wrong predictions *into*
      an absent class still lower the recall of the true class.
    * ``f1_macro`` averages F1 over classes that occur in ``y_true`` **or** the predictions
      (scikit-learn's default label set, and what torchmetrics' macro F1 does); a class
      predicted but never true scores F1 0. ``zero_division=0`` throughout.
    * ``per_class_recall`` holds every class; an absent class has recall ``nan``, so ``uar``
      is the nan-mean of its values.

    Args:
        y_true: ``(N,)`` integer class indices in ``[0, C)``.
        scores: ``(N, C)`` logits or probabilities (the arg-max is the prediction), or
            ``(N,)`` predicted class indices.
        num_classes: ``C``; needed only when ``scores`` are indices and ``classes`` is not
            given (otherwise it is taken from ``scores`` / ``classes`` and must agree).
            Defaults to ``max(label) + 1``.
        classes: Class names in index order, used as keys of the per-class results.

    Returns:
        Dict with ``accuracy``, ``f1_macro``, ``f1_weighted``, ``uar`` (floats),
        ``per_class_recall`` (name → float), ``confusion_matrix`` (``C`` lists of ``C`` ints,
        rows are true classes, columns predicted), ``support`` (name → int number of true
        samples) and ``n`` (int). Class names default to ``"0"``, ``"1"``, ...

    Raises:
        DataError: Empty input, mismatched lengths, NaN/inf scores, non-integer labels,
            labels or predictions outside ``[0, C)``, or inconsistent ``num_classes``/``classes``.

    Example:
        >>> m = classification_metrics([0, 0, 1], [[2.0, 0.1], [0.3, 0.9], [0.0, 1.0]])
        >>> m["accuracy"], m["per_class_recall"], m["support"]
        (0.6666666666666666, {'0': 0.5, '1': 1.0}, {'0': 2, '1': 1})
    """
    true = _as_int(y_true, "y_true")
    raw = _to_numpy(scores, "scores")
    if raw.ndim == 2:
        s = _as_float(raw, "scores", (2,))
        c = s.shape[1]
        if num_classes is not None and num_classes != c:
            raise DataError(f"expected scores with num_classes={num_classes} columns, got shape {s.shape}")
        pred = s.argmax(axis=1).astype(np.int64)
    elif raw.ndim == 1:
        pred = _as_int(raw, "scores", " ((N,) scores are read as predicted classes; pass (N, C) scores)")
        c = num_classes if num_classes is not None else len(classes) if classes is not None else None
    else:
        raise DataError(f"scores: expected (N, C) scores or (N,) predicted indices, got shape {raw.shape}")
    _check_same_length(true, pred, "y_true", "scores")
    if c is None:
        c = int(max(true.max(), pred.max())) + 1
    if classes is not None and len(classes) != c:
        raise DataError(f"expected {c} class names to match the scores, got {len(classes)}")
    if c < 1:
        raise DataError(f"expected num_classes >= 1, got {c}")
    _check_range(true, c, "y_true")
    _check_range(pred, c, "scores (predicted classes)")
    names = _names(classes, c)
    labels = np.arange(c)

    support = np.bincount(true, minlength=c)
    present = labels[support > 0]
    recall = recall_score(true, pred, labels=labels, average=None, zero_division=0)
    recall = np.where(support > 0, recall, np.nan)
    return {
        "accuracy": float(accuracy_score(true, pred)),
        "f1_macro": float(f1_score(true, pred, average="macro", zero_division=0)),
        "f1_weighted": float(f1_score(true, pred, average="weighted", zero_division=0)),
        "uar": float(recall_score(true, pred, labels=present, average="macro", zero_division=0)),
        "per_class_recall": {n: float(r) for n, r in zip(names, recall, strict=True)},
        "confusion_matrix": confusion_matrix(true, pred, labels=labels).tolist(),
        "support": {n: int(k) for n, k in zip(names, support, strict=True)},
        "n": int(true.shape[0]),
    }


# --------------------------------------------------------------------------- multi-label


def _thresholds(thresholds: Any, c: int) -> np.ndarray:
    """Scalar or ``(C,)`` thresholds → validated ``(C,)`` float array."""
    t = _to_numpy(thresholds, "thresholds").astype(np.float64)
    if t.ndim == 0:
        t = np.full(c, float(t))
    if t.shape != (c,):
        raise DataError(f"thresholds: expected a scalar or shape ({c},), got shape {t.shape}")
    if not np.isfinite(t).all() or t.min() < 0.0 or t.max() > 1.0:
        raise DataError(f"thresholds: expected finite values in [0, 1], got {t.tolist()}")
    return t


def _multilabel_inputs(y_true: Any, probs: Any) -> tuple[np.ndarray, np.ndarray]:
    true = _as_float(y_true, "y_true", (2,))
    p = _as_float(probs, "probs", (2,))
    if true.shape != p.shape:
        raise DataError(f"expected y_true and probs of the same shape (N, C), got {true.shape} and {p.shape}")
    _check_binary(true, "y_true")
    _check_probabilities(p, "probs")
    return true.astype(np.int64), p


def multilabel_metrics(
    y_true: Any,
    probs: Any,
    *,
    thresholds: float | Sequence[float] | np.ndarray = 0.5,
    classes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Multi-label metrics after thresholding probabilities.

    A label is predicted when ``probs > threshold`` (strictly, as torchmetrics does). All
    averages are scikit-learn's with ``zero_division=0`` over **all** ``C`` labels, so a label
    that is neither true nor predicted anywhere scores F1 0 in the macro average.

    Args:
        y_true: ``(N, C)`` multi-hot 0/1 targets.
        probs: ``(N, C)`` probabilities in ``[0, 1]`` (not logits).
        thresholds: One threshold for every label, or ``(C,)`` per-label thresholds (e.g. from
            :func:`tune_thresholds` on the validation split).
        classes: Label names in column order, used as keys of ``per_class_f1``.

    Returns:
        Dict with ``f1_macro``, ``f1_micro``, ``f1_weighted``, ``precision_macro``,
        ``recall_macro``, ``exact_match`` (subset accuracy: every label of a sample right),
        all floats; ``per_class_f1`` (name → float) and ``n`` (int).

    Raises:
        DataError: Shape mismatch, empty input, NaN/inf, targets other than 0/1,
            probabilities outside ``[0, 1]``, or thresholds of the wrong shape or range.

    Example:
        >>> m = multilabel_metrics([[1, 0], [0, 1]], [[0.9, 0.2], [0.6, 0.7]], classes=["joy", "fear"])
        >>> m["exact_match"], m["per_class_f1"]
        (0.5, {'joy': 0.6666666666666666, 'fear': 1.0})
    """
    true, p = _multilabel_inputs(y_true, probs)
    c = true.shape[1]
    pred = (p > _thresholds(thresholds, c)).astype(np.int64)
    names = _names(classes, c)

    def score(fn: Any, average: str | None) -> Any:
        if c == 1:
            # sklearn reads an (N, 1) indicator as a binary column, not as one label; every
            # average of a single label is that label's binary score
            value = fn(true[:, 0], pred[:, 0], average="binary", zero_division=0)
            return [value] if average is None else value
        return fn(true, pred, average=average, zero_division=0)

    return {
        "f1_macro": float(score(f1_score, "macro")),
        "f1_micro": float(score(f1_score, "micro")),
        "f1_weighted": float(score(f1_score, "weighted")),
        "precision_macro": float(score(precision_score, "macro")),
        "recall_macro": float(score(recall_score, "macro")),
        "exact_match": float(accuracy_score(true, pred)),
        "per_class_f1": {n: float(f) for n, f in zip(names, score(f1_score, None), strict=True)},
        "n": int(true.shape[0]),
    }


def tune_thresholds(y_true: Any, probs: Any, grid: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Per-label decision thresholds that maximise each label's F1.

    Choose thresholds on the **validation** split only and then apply them unchanged to the
    test split; tuning on test data inflates the reported scores.

    For each label the F1 of ``probs[:, c] > t`` is computed for every ``t`` in ``grid``. Ties
    (plateaus, and labels with no positives, whose F1 is 0 everywhere) go to the grid value
    closest to 0.5, then to the smaller one, so uninformative labels keep the usual 0.5.

    Args:
        y_true: ``(N, C)`` multi-hot 0/1 targets.
        probs: ``(N, C)`` probabilities in ``[0, 1]``.
        grid: Candidate thresholds in ``[0, 1]``; default :data:`DEFAULT_THRESHOLD_GRID`
            (0.05, 0.10, ..., 0.95).

    Returns:
        ``(C,)`` float64 array of thresholds, each an element of ``grid``.

    Raises:
        DataError: Invalid targets/probabilities (as in :func:`multilabel_metrics`) or an
            empty grid or grid values outside ``[0, 1]``.

    Example:
        >>> tune_thresholds([[1, 0], [0, 1], [1, 1]], [[0.9, 0.2], [0.3, 0.35], [0.7, 0.8]], grid=[0.25, 0.5, 0.75])
        array([0.5 , 0.25])
    """
    true, p = _multilabel_inputs(y_true, probs)
    g = _to_numpy(DEFAULT_THRESHOLD_GRID if grid is None else grid, "grid").astype(np.float64).reshape(-1)
    if g.size == 0:
        raise DataError("grid: expected at least one threshold, got none")
    if not np.isfinite(g).all() or g.min() < 0.0 or g.max() > 1.0:
        raise DataError(f"grid: expected finite thresholds in [0, 1], got {g.tolist()}")
    # F1 = 2TP / (2TP + FP + FN) for every (threshold, label), computed in one pass; equals
    # sklearn's f1_score(average=None, zero_division=0) (tested).
    pos = true.astype(bool)
    n_pos = pos.sum(axis=0)
    f1 = np.zeros((g.size, true.shape[1]), dtype=np.float64)  # (G, C)
    for i, t in enumerate(g):  # one (N, C) mask at a time keeps memory flat
        pred = p > t
        tp = (pred & pos).sum(axis=0)
        denom = pred.sum(axis=0) + n_pos  # 2TP + FP + FN
        np.divide(2.0 * tp, denom, out=f1[i], where=denom > 0)
    order = np.lexsort((g, np.abs(g - 0.5)))  # closest to 0.5 first, then smaller
    f1 = f1[order]
    best = f1.argmax(axis=0)  # first maximum in tie-break order
    return g[order][best]


# --------------------------------------------------------------------------- dispatcher


def compute_metrics(
    task: str,
    outputs: Any,
    targets: Any,
    *,
    classes: Sequence[str] | None = None,
    thresholds: float | Sequence[float] | np.ndarray | None = None,
    mosi: bool = False,
) -> dict[str, Any]:
    """Metrics for a model's raw outputs, by task.

    Args:
        task: ``"classification"``, ``"multilabel"`` or ``"regression"``.
        outputs: Raw model outputs: ``(N, C)`` logits for classification (the arg-max is taken;
            no softmax needed) and for multi-label (a sigmoid is applied); ``(N,)``, ``(N, 1)``
            or ``(N, K)`` predictions for regression.
        targets: ``(N,)`` class indices, ``(N, C)`` multi-hot targets, or regression targets
            shaped like ``outputs``.
        classes: Class / label / target names in output order.
        thresholds: Multi-label decision thresholds on probabilities (scalar or ``(C,)``);
            default 0.5. Ignored by the other tasks.
        mosi: For single-target regression, add :func:`mosi_metrics` (the shared ``mae`` and
            ``pearson`` keys have identical values).

    Returns:
        The dict of :func:`classification_metrics`, :func:`multilabel_metrics` or
        :func:`regression_metrics` (merged with :func:`mosi_metrics` when ``mosi``).

    Raises:
        UnknownNameError: Unknown ``task``.
        ConfigError: ``mosi=True`` with a task other than regression.
        DataError: Invalid outputs or targets.

    Example:
        >>> compute_metrics("multilabel", [[3.0, -2.0], [0.0, 1.0]], [[1, 0], [0, 1]])["exact_match"]
        1.0
    """
    if task not in TASKS:
        raise UnknownNameError("task", task, TASKS)
    if mosi and task != "regression":
        raise ConfigError(f"mosi=True needs task 'regression', got {task!r}")
    classes = list(classes) if classes else None  # Specifications use () for "no names"
    if task == "classification":
        return classification_metrics(targets, outputs, classes=classes)
    if task == "multilabel":
        probs = expit(_as_float(outputs, "outputs", (2,)))
        return multilabel_metrics(targets, probs, thresholds=0.5 if thresholds is None else thresholds,
                                  classes=classes)
    out = regression_metrics(targets, outputs, names=classes)
    if mosi:
        out.update(mosi_metrics(targets, outputs))
    return out
