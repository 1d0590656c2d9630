"""MultiBench's robustness measures of one curve (performance against imperfection level).

Liang et al., "MultiBench: Multiscale Benchmarks for Multimodal Representation Learning"
(NeurIPS 2021 Datasets and Benchmarks), §3 "Robustness", score a method by the curve of its
accuracy ``a_0 .. a_K`` over increasing imperfection levels ``x_0 < .. < x_K`` (``x_0`` clean):

* **relative robustness**: the area under that curve, so a method that is accurate under
  imperfection scores high whatever its clean accuracy;
* **effective robustness**: how much accuracy the method keeps *beyond* a reference method
  (MultiBench uses late fusion) once both curves are shifted to start at the same clean
  accuracy: ``Σ_i [(a_i − a_0) − (b_i − b_0)]``. It is 0 for the reference itself, positive
  for a method that degrades more slowly, negative for one that degrades faster.

MultiBench evaluates 11 levels evenly spaced on ``[0, 1]`` and integrates with a step of 0.1;
:func:`relative_robustness` integrates over the real levels rescaled to ``[0, 1]``, which gives
the same number on that grid and stays meaningful on uneven grids (``0, 0.25, 0.5, 1, 2``).
MultiBench then min-max normalises each measure across the methods of a task for its plots;
:func:`minmax_normalize` is that step, kept separate because it depends on who else is compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from emofuse.errors import DataError

__all__ = ["effective_robustness", "minmax_normalize", "relative_robustness"]


def _curve(levels: Sequence[float | None], values: Sequence[float], name: str = "curve") -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Levels (``None`` = 0, i.e. clean) and values as float arrays sorted by level."""
    x = np.asarray([0.0 if v is None else float(v) for v in levels], dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise DataError(f"{name}: expected as many levels as values, got {x.shape} and {y.shape}")
    if len(x) < 2:
        raise DataError(f"{name}: a robustness curve needs at least 2 levels (clean and one imperfect), got {len(x)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError(f"{name}: levels and values must be finite")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) == 0):
        raise DataError(f"{name}: repeated level in {x.tolist()} (average the seeds first)")
    return x, y


def relative_robustness(levels: Sequence[float | None], values: Sequence[float]) -> float:
    """Area under the performance curve, levels rescaled to ``[0, 1]``.

    ``RR = Σ_i (u_{i+1} − u_i) (a_i + a_{i+1}) / 2`` with ``u_i = (x_i − x_0) / (x_K − x_0)``:
    the trapezoid rule, i.e. the curve's mean performance over the imperfection range (in the
    units of ``values``, e.g. a fraction for accuracy). On MultiBench's grid of 11 levels
    ``0, 0.1, .., 1`` this is exactly its ``relative_robustness_helper``.

    Args:
        levels: ``(K+1,)`` imperfection levels (any order; sorted here; ``None`` = 0).
        values: ``(K+1,)`` performance (higher is better) at those levels.

    Returns:
        The area, between ``min(values)`` and ``max(values)``.

    Example:
        >>> relative_robustness([0, 0.5, 1], [1.0, 0.5, 0.5])
        0.625
    """
    x, y = _curve(levels, values)
    u = (x - x[0]) / (x[-1] - x[0])
    return float(np.sum(np.diff(u) * (y[1:] + y[:-1]) / 2))


def effective_robustness(levels: Sequence[float | None], values: Sequence[float],
                         baseline: Sequence[float], baseline_levels: Sequence[float | None] | None = None) -> float:
    """Performance kept beyond a reference method, after equalising clean performance.

    ``ER = Σ_i [a_i − (b_i + a_0 − b_0)] = Σ_i [(a_i − a_0) − (b_i − b_0)]``, summed over every
    level (the clean level adds 0), where ``b`` is the reference's curve at the same levels.

    Args:
        levels: ``(K+1,)`` imperfection levels of ``values``.
        values: ``(K+1,)`` performance of the method.
        baseline: ``(K+1,)`` performance of the reference method (MultiBench: late fusion).
        baseline_levels: Levels of ``baseline`` if given in another order; they must be the same set.

    Returns:
        The sum (units of ``values``); 0 when the method is the reference.

    Example:
        >>> round(effective_robustness([0, 1, 2], [0.9, 0.8, 0.7], [0.8, 0.6, 0.5]), 6)
        0.2
    """
    x, y = _curve(levels, values)
    bx, b = _curve(levels if baseline_levels is None else baseline_levels, baseline, "baseline")
    if x.shape != bx.shape or not np.allclose(x, bx):
        raise DataError(f"effective robustness compares curves at the same levels: {x.tolist()} vs {bx.tolist()}")
    return float(np.sum((y - y[0]) - (b - b[0])))


def minmax_normalize(scores: Mapping[str, float], *, higher_is_better: bool = True) -> dict[str, float]:
    """Rescale one measure across methods to ``[0, 1]`` (MultiBench's ``maxmin_normalize``).

    ``s' = (s − min s) / (max s − min s)``; with ``higher_is_better=False`` (errors) the scores
    are negated first. All-equal scores map to 1.0 (no method is worse than another).

    Example:
        >>> minmax_normalize({"a": 0.5, "b": 0.7, "c": 0.6})
        {'a': 0.0, 'b': 1.0, 'c': 0.5}
    """
    if not scores:
        return {}
    vals = {k: float(v) if higher_is_better else -float(v) for k, v in scores.items()}
    lo, hi = min(vals.values()), max(vals.values())
    if hi == lo:
        return dict.fromkeys(vals, 1.0)
    return {k: round((v - lo) / (hi - lo), 12) for k, v in vals.items()}
