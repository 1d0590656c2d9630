"""What the three deletion tests share: argument checks and the result they report.

A deletion test (:func:`~emofuse.explain.words.word_deletion_curve`,
:func:`~emofuse.explain.voice.voice_deletion_curve`,
:func:`~emofuse.explain.face.face_deletion_curve`) deletes, for each fraction, the parts of an
input its explainer scored highest and, as the baseline, random parts of the same size, and
records how far the target-class probability falls. A faithful explainer's curve lies above
the random one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emofuse.errors import ConfigError

__all__ = ["check_deletion_args", "deletion_result"]


def check_deletion_args(name: str, fractions: Sequence[float], n_random: int) -> list[float]:
    """``fractions`` as floats in ``(0, 1]``; :class:`ConfigError` naming ``name`` otherwise or if ``n_random`` < 1."""
    fr = [float(f) for f in fractions]
    if not fr or any(not 0.0 < f <= 1.0 for f in fr):
        raise ConfigError(f"{name}: fractions must be in (0, 1], got {list(fractions)}")
    if int(n_random) < 1:
        raise ConfigError(f"{name}: n_random must be >= 1, got {n_random}")
    return fr


def deletion_result(fractions: Sequence[float], top: np.ndarray, random: np.ndarray, p_full: np.ndarray,
                    **extra: Any) -> dict[str, Any]:
    """The common result of a deletion test.

    Args:
        fractions: ``F`` fractions deleted.
        top: ``(N, F)`` drop of each item's target probability when its top-scored parts go.
        random: ``(N, F)`` the same for random parts (averaged over the random draws).
        p_full: ``(N,)`` target probability of the intact items.
        **extra: Test-specific entries (``mean_deleted``, ``n_cells``, ...).

    Returns:
        ``{"fractions", "top", "random", "top_std", "random_std", "n_items", "target_prob_full", **extra}``:
        means and standard deviations over items, probabilities in 0..1.
    """
    top, random = np.asarray(top, np.float64), np.asarray(random, np.float64)
    return {"fractions": [float(f) for f in fractions], **extra, "top": top.mean(0).tolist(),
            "random": random.mean(0).tolist(), "top_std": top.std(0).tolist(), "random_std": random.std(0).tolist(),
            "n_items": int(top.shape[0]), "target_prob_full": float(np.mean(p_full))}
