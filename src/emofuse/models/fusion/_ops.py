"""Masked operations over the modality axis shared by the fusion zoo.

All functions work per sample (row), so a sample's result never depends on the other samples
of its batch, and they never produce NaN — not even for a sample with no modality present,
whose weights are all zero (and whose combined prediction is the neutral one).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

#: Ways to combine per-modality predictions (see :func:`combine_predictions`).
COMBINE_MODES: tuple[str, ...] = ("prob", "logit")


def _neg(dtype: torch.dtype) -> float:
    # a finite "minus infinity": exp(_neg - anything sensible) is exactly 0, yet sums and
    # gradients stay finite (true -inf gives NaN for rows where every entry is masked)
    return torch.finfo(dtype).min / 4


def masked_softmax(scores: Tensor, present: Tensor, top_k: int = 0) -> Tensor:
    """Softmax over the present modalities of each row, optionally keeping only the top ``k``.

    Args:
        scores: ``(B, M)`` unnormalised scores.
        present: ``(B, M)`` bool, ``True`` where a modality is present.
        top_k: Keep the ``k`` highest-scoring present modalities of each row (``0``: all).

    Returns:
        ``(B, M)`` weights: non-negative, exactly ``0`` on absent (and dropped) modalities,
        rows summing to 1 — or all zeros for a row with no modality present.
    """
    keep = present.bool()
    s = scores.masked_fill(~keep, _neg(scores.dtype))
    if 0 < top_k < scores.shape[-1]:
        idx = s.topk(top_k, dim=-1).indices
        keep = keep & torch.zeros_like(keep).scatter(-1, idx, True)
        s = s.masked_fill(~keep, _neg(scores.dtype))
    return s.softmax(-1) * keep.to(scores.dtype)


def presence_weights(present: Tensor) -> Tensor:
    """``(B, M)`` uniform weights over the present modalities (zeros for an all-absent row)."""
    p = present.float()
    return p / p.sum(-1, keepdim=True).clamp_min(1.0)


def weighted_sum(values: Tensor, weights: Tensor) -> Tensor:
    """``values`` ``(B, M, D)`` weighted by ``weights`` ``(B, M)`` → ``(B, D)``."""
    return (weights.unsqueeze(-1) * values).sum(1)


def combine_predictions(logits: Tensor, weights: Tensor, task: str, mode: str = "prob") -> Tensor:
    """Fuse per-modality predictions ``(B, M, C)`` with weights ``(B, M)`` into logits ``(B, C)``.

    ``mode="prob"`` averages *probabilities* (a mixture): for classification the result is
    ``log Σ_m w_m softmax(l_m)``, so its softmax is exactly the weighted mean of the
    per-modality distributions; for multilabel it is the logit of the weighted mean of the
    per-label sigmoids. ``mode="logit"`` averages log-probabilities (classification; a
    normalised product of experts) or logits (multilabel). Regression always takes the
    weighted mean of the predicted values. A row whose weights are all zero (no modality
    present) gets zeros: the uniform distribution, probability 0.5, or value 0.

    Args:
        logits: ``(B, M, C)`` per-modality logits (or regression values).
        weights: ``(B, M)`` non-negative weights, rows summing to 1 or all zero.
        task: ``classification``, ``multilabel`` or ``regression``.
        mode: ``prob`` or ``logit``.

    Returns:
        ``(B, C)`` fused logits.
    """
    if task == "regression":
        return weighted_sum(logits, weights)
    if mode == "logit":
        per = logits.log_softmax(-1) if task == "classification" else logits
        return weighted_sum(per, weights)
    if mode != "prob":
        raise ValueError(f"combine mode must be one of {COMBINE_MODES}, got {mode!r}")
    active = weights > 0
    logw = torch.where(active, weights.clamp_min(torch.finfo(weights.dtype).tiny).log(), _neg(weights.dtype))
    logw = logw.unsqueeze(-1)
    if task == "classification":
        fused = torch.logsumexp(logits.log_softmax(-1) + logw, dim=1)
    else:  # multilabel: logit of the mixture probability, in log space for stability
        log_q = torch.logsumexp(F.logsigmoid(logits) + logw, dim=1)
        log_not_q = torch.logsumexp(F.logsigmoid(-logits) + logw, dim=1)
        fused = log_q - log_not_q
    return torch.where(active.any(-1, keepdim=True), fused, 0.0)
