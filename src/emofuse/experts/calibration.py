"""Probability calibration for single-label expert outputs: ECE and temperature scaling.

* :func:`expected_calibration_error` is the usual top-label ECE with equal-width confidence
  bins (Guo et al. 2017): ``sum_b |B_b|/N * |accuracy(B_b) - mean confidence(B_b)|``. It agrees
  with ``torchmetrics``' ``multiclass_calibration_error(norm="l1")`` (parity-tested) and with
  hand-computed answers.
* :func:`fit_temperature` finds the ``T > 0`` minimising the negative log-likelihood of
  ``softmax(logits / T)`` on held-out data (validation split only). Dividing logits by a
  positive constant never changes the arg-max, so accuracy and F1 are unchanged.
* :func:`calibration_report` is what the training recipes put on a model card: the fitted
  temperature, ECE and NLL before and after, and, given fold ids, the cross-fitted figures
  (each fold's logits scaled by a temperature fitted on the other folds).

Example:
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    >>> round(expected_calibration_error(probs, [0, 1, 1], n_bins=10), 4)
    0.3333
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from emofuse.errors import DataError

__all__ = ["apply_temperature", "calibration_report", "expected_calibration_error", "fit_temperature", "nll"]

_T_BOUNDS = (0.05, 20.0)


def _check(scores: Any, labels: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] < 2:
        raise DataError(f"{name}: expected an (N, C) array with N >= 1 and C >= 2, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise DataError(f"{name}: expected finite values, got NaN/inf")
    if y.shape != (s.shape[0],):
        raise DataError(f"labels: expected shape ({s.shape[0]},) to match {name}, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"labels: expected integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= s.shape[1]:
        raise DataError(f"labels: expected class indices in [0, {s.shape[1]}), got values in [{y.min()}, {y.max()}]")
    return s, y.astype(np.int64)


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = 15) -> float:
    """Top-label expected calibration error with ``n_bins`` equal-width bins on ``(0, 1]``.

    A confidence ``c`` falls in bin ``b`` when ``b/n < c <= (b+1)/n`` (bins closed on the right,
    as in torchmetrics).

    Args:
        probs: ``(N, C)`` probabilities (rows should sum to 1).
        labels: ``(N,)`` integer true classes.
        n_bins: Number of bins.

    Returns:
        ECE in ``[0, 1]``.
    """
    p, y = _check(probs, labels, "probs")
    if p.min() < 0 or p.max() > 1:
        raise DataError(f"probs: expected probabilities in [0, 1], got [{p.min():.4g}, {p.max():.4g}]")
    if n_bins < 1:
        raise DataError(f"n_bins: expected >= 1, got {n_bins}")
    conf = p.max(1)
    correct = (p.argmax(1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def nll(logits: Any, labels: Any, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)``."""
    z, y = _check(logits, labels, "logits")
    return float(-log_softmax(z / temperature, axis=1)[np.arange(len(y)), y].mean())


def fit_temperature(logits: Any, labels: Any) -> float:
    """Temperature ``T`` in ``[0.05, 20]`` minimising :func:`nll` on held-out data.

    Args:
        logits: ``(N, C)`` logits (or log-probabilities) of a single-label classifier.
        labels: ``(N,)`` true classes.

    Returns:
        The fitted temperature (``> 1`` softens over-confident predictions).
    """
    z, y = _check(logits, labels, "logits")
    res = minimize_scalar(lambda lt: nll(z, y, float(np.exp(lt))), bounds=tuple(np.log(_T_BOUNDS)),
                          method="bounded", options={"xatol": 1e-5})
    return float(np.exp(res.x))


def apply_temperature(logits: Any, temperature: float) -> np.ndarray:
    """``softmax(logits / temperature)`` as float64 ``(N, C)``."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    return np.exp(log_softmax(z, axis=1))


def calibration_report(logits: Any, labels: Any, folds: Any = None, n_bins: int = 15) -> dict[str, Any]:
    """Temperature scaling of held-out logits and its ECE/NLL figures.

    Args:
        logits: ``(N, C)`` held-out (validation or out-of-fold) logits.
        labels: ``(N,)`` true classes.
        folds: Optional ``(N,)`` fold index of each row; then the temperature applied to a
            fold is fitted on the other folds (cross-fitting), which estimates the optimism of
            fitting and measuring on the same rows.
        n_bins: ECE bins.

    Returns:
        ``temperature``, ``ece_before``, ``ece_after``, ``nll_before``, ``nll_after`` (and
        ``crossfit_temperatures``, ``ece_after_crossfit``, ``nll_after_crossfit`` with ``folds``).
    """
    z, y = _check(logits, labels, "logits")
    t = fit_temperature(z, y)
    out: dict[str, Any] = {
        "temperature": t,
        "ece_before": expected_calibration_error(apply_temperature(z, 1.0), y, n_bins),
        "ece_after": expected_calibration_error(apply_temperature(z, t), y, n_bins),
        "nll_before": nll(z, y),
        "nll_after": nll(z, y, t),
    }
    if folds is not None:
        f = np.asarray(folds)
        if f.shape != y.shape:
            raise DataError(f"folds: expected shape {y.shape}, got {f.shape}")
        scaled = np.zeros_like(z)
        temps = []
        for k in np.unique(f):
            te = f == k
            tk = fit_temperature(z[~te], y[~te])
            temps.append(tk)
            scaled[te] = z[te] / tk
        out.update(crossfit_temperatures=temps,
                   ece_after_crossfit=expected_calibration_error(apply_temperature(scaled, 1.0), y, n_bins),
                   nll_after_crossfit=nll(scaled, y))
    return out
