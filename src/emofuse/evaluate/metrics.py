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

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.special import expit
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
)
from torchmetrics.functional.regression import concordance_corrcoef, pearson_corrcoef

from emofuse.data.spec import TASKS
from emofuse.errors import ConfigError, DataError, UnknownNameError

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


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """Tensor / array / list → numpy array (detached, on CPU, bf16/f16 widened)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name}: expected an array or tensor, got {type(x).__name__} ({err})") from None
    if arr.dtype == object:
        raise DataError(f"{name}: expected a rectangular numeric array, got ragged or non-numeric data")
    return arr


def _as_float(x: Any, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """Finite float64 array with one of the allowed numbers of dimensions and at least one row."""
    arr = _to_numpy(x, name)
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise DataError(f"{name}: expected a {want} array, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{name}: expected at least one sample, got 0")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"{name}: expected numeric values, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"{name}: expected finite values, got {int(bad.sum())} NaN/inf entries")
    return arr


def _as_int(x: Any, name: str, hint: str = "") -> np.ndarray:
    """``(N,)`` int64 array from integer-valued input (floats like ``2.0`` are accepted)."""
    arr = _as_float(x, name, (1,))
    ints = np.rint(arr)
    if not np.array_equal(ints, arr):
        raise DataError(f"{name}: expected integer class indices, got non-integer values such as "
                        f"{float(arr[ints != arr][0])!r}{hint}")
    return ints.astype(np.int64)


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise DataError(f"expected {name_a} and {name_b} to have the same number of samples, "
                        f"got {a.shape[0]} and {b.shape[0]}")


def _check_range(labels: np.ndarray, num_classes: int, name: str) -> None:
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise DataError(f"{name}: expected class indices in [0, {num_classes}), got "
                        f"{sorted(set(labels[bad].tolist()))[:5]}")


def _check_binary(arr: np.ndarray, name: str) -> None:
    if not np.isin(arr, (0.0, 1.0)).all():
        raise DataError(f"{name}: expected a multi-hot 0/1 matrix, got values such as "
                        f"{arr[~np.isin(arr, (0.0, 1.0))][0]!r}")


def _check_probabilities(arr: np.ndarray, name: str) -> None:
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise DataError(f"{name}: expected probabilities in [0, 1], got values in "
                        f"[{arr.min():.4g}, {arr.max():.4g}] (apply a sigmoid to logits first, "
                        "or use compute_metrics('multilabel', logits, ...))")


def _names(classes: Sequence[str] | None, count: int, what: str = "classes") -> list[str]:
    if classes is None:
        return [str(i) for i in range(count)]
    names = [str(c) for c in classes]
    if len(names) != count:
        raise DataError(f"expected {count} {what} names to match the data, got {len(names)}: {names}")
    return names


# --------------------------------------------------------------------------- classification


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


# --------------------------------------------------------------------------- regression


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r via torchmetrics; ``nan`` when undefined (n < 2 or a constant vector)."""
    if x.shape[0] < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    with warnings.catch_warnings():
        # torchmetrics warns and returns nan for near-constant input; nan is our answer too
        warnings.simplefilter("ignore", UserWarning)
        return float(pearson_corrcoef(torch.from_numpy(y), torch.from_numpy(x)))


def _ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Concordance correlation via torchmetrics, with the degenerate cases made explicit."""
    if x.shape[0] < 2:
        return math.nan
    const_x, const_y = np.ptp(x) == 0, np.ptp(y) == 0
    if const_x and const_y:
        # 0 / (mean difference)^2: 0 if the constants differ, 0/0 (undefined) if they agree
        return math.nan if x[0] == y[0] else 0.0
    if const_x or const_y:
        return 0.0  # covariance is exactly 0 and the denominator is positive
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return float(concordance_corrcoef(torch.from_numpy(y), torch.from_numpy(x)))


def _regression_inputs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    true = _as_float(y_true, "y_true", (1, 2))
    pred = _as_float(y_pred, "y_pred", (1, 2))
    _check_same_length(true, pred, "y_true", "y_pred")
    # (N, 1) and (N,) are the same single target
    if true.ndim == 2 and true.shape[1] == 1:
        true = true[:, 0]
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if true.shape != pred.shape:
        raise DataError(f"expected y_true and y_pred of the same shape, got {true.shape} and {pred.shape}")
    return true, pred


def regression_metrics(y_true: Any, y_pred: Any, *, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Regression metrics: errors and agreement.

    ``pearson`` and ``ccc`` come from torchmetrics (``pearson_corrcoef``,
    ``concordance_corrcoef``). torchmetrics' CCC uses sample (``N - 1``) moments,
    ``2 cov / (var_t + var_p + (mean_t - mean_p)^2)``; Lin's population-moment form used by the
    AVEC scripts differs from it by ``O(1/N)``.

    Degenerate inputs never raise: with fewer than two samples both correlations are
    ``nan``; a constant vector makes ``pearson`` ``nan`` (undefined) while ``ccc`` is ``0.0``
    (its formula is well defined: a constant predictor has no concordance) unless both vectors
    are the same constant, where CCC is 0/0 and ``nan``.

    Args:
        y_true: ``(N,)``, ``(N, 1)`` or ``(N, K)`` targets.
        y_pred: Predictions of the same shape (``(N,)`` and ``(N, 1)`` are interchangeable).
        names: For ``K > 1`` targets, their names (e.g. ``["valence", "arousal"]``).

    Returns:
        Dict with float ``mae``, ``mse``, ``pearson``, ``ccc`` and int ``n``. For ``K > 1`` the
        four metrics are means over targets and ``per_target`` maps each target name (default
        ``"0"``, ``"1"``, ...) to its own ``mae``/``mse``/``pearson``/``ccc``.

    Raises:
        DataError: Empty input, NaN/inf values or mismatched shapes.

    Example:
        >>> m = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
        >>> round(m["mae"], 4), round(m["pearson"], 4), round(m["ccc"], 4)
        (0.3333, 0.982, 0.871)
    """
    true, pred = _regression_inputs(y_true, y_pred)
    if true.ndim == 1:
        return {
            "mae": float(mean_absolute_error(true, pred)),
            "mse": float(mean_squared_error(true, pred)),
            "pearson": _pearson(true, pred),
            "ccc": _ccc(true, pred),
            "n": int(true.shape[0]),
        }
    labels = _names(names or None, true.shape[1], "target")
    per = {n: regression_metrics(true[:, k], pred[:, k]) for k, n in enumerate(labels)}
    out: dict[str, Any] = {
        key: float(np.mean([m[key] for m in per.values()])) for key in ("mae", "mse", "pearson", "ccc")
    }
    for m in per.values():
        del m["n"]
    out["n"] = int(true.shape[0])
    out["per_target"] = per
    return out


def mosi_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """CMU-MOSI / MOSEI sentiment metrics for scores in ``[-3, 3]`` (MMSA conventions).

    * ``acc2_has0`` / ``f1_has0``: negative (``< 0``) vs non-negative (``>= 0``), zeros
      included; F1 is the support-weighted F1 of the two classes.
    * ``acc2_non0`` / ``f1_non0``: samples whose **true** score is exactly 0 are dropped; the
      rest are positive when ``> 0``. A *prediction* of exactly 0 counts as negative here and
      as non-negative in ``has0`` (as in MMSA). ``nan`` when every true score is 0.
    * ``acc5`` / ``acc7``: truth and prediction are clipped to ``[-2, 2]`` / ``[-3, 3]`` and
      rounded to the nearest integer with ``numpy.round``, which rounds halves to even
      (``0.5 → 0``, ``1.5 → 2``, ``2.5 → 2``, ``-0.5 → 0``). MMSA, and therefore published
      MOSI/MOSEI numbers, use the same ``np.round``; we keep it for comparability rather than
      rounding halves away from zero. MOSEI labels are thirds, so only MOSI's few
      half-integer labels are affected.
    * ``mae`` and ``pearson`` as in :func:`regression_metrics`.

    Unlike MMSA's classification-mode "Non0_acc_2", which compares predictions coded 0/1 with
    targets coded 0/2 and so scores perfect predictions below 1, every accuracy here is 1.0
    for perfect predictions (tested).

    Args:
        y_true: ``(N,)`` or ``(N, 1)`` true sentiment scores.
        y_pred: Predictions of the same shape.

    Returns:
        Dict of floats: ``acc2_has0``, ``f1_has0``, ``acc2_non0``, ``f1_non0``, ``acc5``,
        ``acc7``, ``mae``, ``pearson``.

    Raises:
        DataError: Empty input, NaN/inf, mismatched shapes, or more than one target column.

    Example:
        >>> m = mosi_metrics([-1.2, 0.0, 0.4, 2.6], [-0.8, 0.3, 0.6, 3.4])
        >>> m["acc2_has0"], m["acc2_non0"], m["acc7"]
        (1.0, 1.0, 0.75)
    """
    true, pred = _regression_inputs(y_true, y_pred)
    if true.ndim != 1:
        raise DataError(f"mosi_metrics: expected one sentiment score per sample, got shape {true.shape}")
    has0_t, has0_p = true >= 0, pred >= 0
    keep = true != 0
    if keep.any():
        non0_t, non0_p = true[keep] > 0, pred[keep] > 0
        acc2_non0 = float(accuracy_score(non0_t, non0_p))
        f1_non0 = float(f1_score(non0_t, non0_p, average="weighted", zero_division=0))
    else:
        acc2_non0 = f1_non0 = math.nan

    def round_acc(limit: float) -> float:
        t = np.round(np.clip(true, -limit, limit))
        p = np.round(np.clip(pred, -limit, limit))
        return float(np.mean(t == p))

    return {
        "acc2_has0": float(accuracy_score(has0_t, has0_p)),
        "f1_has0": float(f1_score(has0_t, has0_p, average="weighted", zero_division=0)),
        "acc2_non0": acc2_non0,
        "f1_non0": f1_non0,
        "acc5": round_acc(2.0),
        "acc7": round_acc(3.0),
        "mae": float(mean_absolute_error(true, pred)),
        "pearson": _pearson(true, pred),
    }


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
