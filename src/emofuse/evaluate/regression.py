"""Regression metrics (MAE, MSE, Pearson r, CCC) and the MOSI sentiment conventions.

Split from :mod:`emofuse.evaluate.metrics` (which re-exports both functions); the MOSI
conventions are tested against a port of MMSA's evaluation code in ``tests/test_metrics.py``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error
from torchmetrics.functional.regression import concordance_corrcoef, pearson_corrcoef

from emofuse.errors import DataError
from emofuse.evaluate._checks import _as_float, _check_same_length, _names

__all__ = ["mosi_metrics", "regression_metrics"]


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


