"""Shapley contributions of each signal to a segment's fused label, and the rationale in words.

:func:`segment_contributions` fuses a segment's :class:`~emofuse.analysis.result.ModalityResult` s
again for every subset ``S`` of its present modalities (the others left out, as a missing
modality is) with the same :data:`~emofuse.analysis.fusion.Fuser`, and returns exact Shapley
values over those modalities: per class, and for the fused label's probability
(``Σ_m φ_m = v(full) − v(∅)``, see :mod:`emofuse.explain.shapley`).

**The empty coalition** ``v(∅)`` is the uniform distribution over the seven ``ekman7`` classes
(``1/7`` each): no signal, no evidence for any class. (A fuser asked to fuse nothing returns no
distribution; the uniform one stands for it.) ``v(full)`` is the segment's fused distribution,
unrounded.

:func:`explain_segment` adds the rationale (:func:`emofuse.explain.rationale`);
:func:`segment_at` finds the segment covering a time.

Example:
    >>> from emofuse.analysis.fusion import RuleFusion
    >>> seg = SegmentResult(index=0, start=0.0, end=1.0)
    >>> seg.modalities["audio"] = ModalityResult.from_probs([0.8, 0.04, 0.04, 0.04, 0.04, 0.02, 0.02],
    ...                                                      reliability=1.0)
    >>> c = segment_contributions(seg, RuleFusion("evidence"))
    >>> c["target"], c["modalities"]["audio"]["contribution"] == round(0.8 - 1 / 7, 6)
    ('anger', True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emofuse.analysis.fusion import Fuser
from emofuse.analysis.result import EKMAN, ModalityResult, SegmentResult
from emofuse.errors import DataError
from emofuse.explain import rationale, shapley_matrix

__all__ = ["explain_segment", "segment_at", "segment_contributions"]


def segment_contributions(seg: SegmentResult, fuser: Fuser) -> dict[str, Any]:
    """Shapley contributions of the present modalities of ``seg`` to its fusion by ``fuser``.

    Returns:
        The explanation dict of :meth:`emofuse.explain.Contributions.sample`: ``method``,
        ``task`` (``classification``), ``target`` (the fused label; ``None`` when nothing is
        present), ``classes`` (``EKMAN``), ``base`` (uniform) and ``full`` (the fused
        distribution) as ``{class: p}``, ``modalities`` (per present modality: its expert's own
        ``label``, its ``contribution`` to the fused label's probability and its
        ``contributions`` to every class) and ``missing`` (``{modality: reason}``). Numbers are
        rounded to 6 decimals.
    """
    on = [m for m, r in seg.modalities.items() if r is not None and r.ok]
    k = len(EKMAN)
    values = np.empty((2 ** len(on), k))
    for bits in range(2 ** len(on)):
        sub: dict[str, ModalityResult] = {m: seg.modalities[m] for b, m in enumerate(on) if bits >> b & 1}
        probs = fuser(sub)[0] if sub else None
        values[bits] = np.full(k, 1.0 / k) if probs is None else np.asarray(probs, np.float64)
    phi = shapley_matrix(len(on)) @ values if on else np.zeros((0, k))
    full = values[-1]
    target = EKMAN[int(np.argmax(full))] if on else None
    t = EKMAN.index(target) if target is not None else 0
    r6 = lambda x: round(float(x), 6)  # noqa: E731
    return {"method": "shapley", "task": "classification", "target": target, "classes": list(EKMAN),
            "base": {c: r6(1.0 / k) for c in EKMAN}, "full": {c: r6(v) for c, v in zip(EKMAN, full, strict=True)},
            "modalities": {m: {"label": seg.modalities[m].label, "contribution": r6(phi[j, t]),
                               "contributions": {c: r6(v) for c, v in zip(EKMAN, phi[j], strict=True)}}
                           for j, m in enumerate(on)},
            "missing": seg.missing()}


def explain_segment(seg: SegmentResult, fuser: Fuser) -> tuple[dict[str, Any], str]:
    """``(contributions, rationale)`` of one segment (see :func:`segment_contributions`).

    The rationale also cites the driving modality's within-modality evidence
    (:attr:`~emofuse.analysis.result.ModalityResult.evidence`) when the paths computed it, and a
    voice whose estimated SNR cut its fusion weight (:func:`~emofuse.analysis.paths.voice.snr_factor`).
    """
    from emofuse.analysis.paths.voice import snr_factor

    contrib = segment_contributions(seg, fuser)
    evidence = {m: r.evidence for m, r in seg.modalities.items() if r is not None and r.ok and r.evidence}
    noise = {m: {"snr_db": float(r.quality["snr_db"]), "weight_factor": snr_factor(r.quality["snr_db"])}
             for m, r in seg.modalities.items()
             if r is not None and r.ok and (r.quality or {}).get("snr_db") is not None}
    return contrib, rationale({**contrib, "evidence": evidence, "noise": noise})


def segment_at(segments: list[SegmentResult], t: float) -> SegmentResult:
    """The segment covering time ``t`` (seconds); between segments, the nearest one.

    Raises:
        DataError: No segments.
    """
    if not segments:
        raise DataError("the analysis has no segments")
    inside = [s for s in segments if s.start <= t <= s.end]
    if inside:
        return inside[0]
    dist = [min(abs(t - s.start), abs(t - s.end)) for s in segments]
    return segments[int(np.argmin(dist))]

