"""Regularising augmentations of the face recipe: random erasing and CutMix (on preprocessed crops).

Both act on a batch ``(B, 1, 48, 48)`` of standardised crops (zero mean, unit std per image), so
an erased patch is filled with 0, the image mean. CutMix pastes a box of another image of the
batch and mixes the two labels by the pasted area (Yun et al., 2019); random erasing blanks a
box to mimic occlusion by hands, glasses or hair (Zhong et al., 2020).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812


def _boxes(b: int, size: int, area: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """``b`` boxes of the given area fractions, aspect ratio 0.5-2, uniformly placed: (y0, y1, x0, x1)."""
    ratio = torch.exp((torch.rand(b, generator=gen) * 2 - 1) * math.log(2.0))
    h = (torch.sqrt(area * ratio) * size).round().clamp(1, size).long()
    w = (torch.sqrt(area / ratio) * size).round().clamp(1, size).long()
    y0 = (torch.rand(b, generator=gen) * (size - h + 1)).floor().long()
    x0 = (torch.rand(b, generator=gen) * (size - w + 1)).floor().long()
    return y0, y0 + h, x0, x0 + w


def _box_mask(shape: torch.Size, boxes: tuple[torch.Tensor, ...]) -> torch.Tensor:
    b, _, hh, ww = shape
    y0, y1, x0, x1 = (t.view(b, 1, 1) for t in boxes)
    ys = torch.arange(hh).view(1, hh, 1)
    xs = torch.arange(ww).view(1, 1, ww)
    return ((ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)).unsqueeze(1)


def random_erase(x: torch.Tensor, gen: torch.Generator, p: float, area: tuple[float, float] = (0.02, 0.2)
                 ) -> torch.Tensor:
    """Each image, with probability ``p``, gets one box of ``area`` (fraction of the crop) set to 0."""
    if p <= 0:
        return x
    b = x.shape[0]
    frac = area[0] + (area[1] - area[0]) * torch.rand(b, generator=gen)
    mask = _box_mask(x.shape, _boxes(b, x.shape[-1], frac, gen))
    mask &= (torch.rand(b, generator=gen) < p).view(b, 1, 1, 1)
    return x.masked_fill(mask, 0.0)


def cutmix(x: torch.Tensor, gen: torch.Generator, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CutMix of a batch: ``(mixed x, partner index (B,), weight of the own label (B,))``."""
    b = x.shape[0]
    perm = torch.randperm(b, generator=gen)
    lam = torch.distributions.Beta(alpha, alpha).sample((b,)) if alpha > 0 else torch.ones(b)
    boxes = _boxes(b, x.shape[-1], (1 - lam).clamp(0, 1), gen)
    mask = _box_mask(x.shape, boxes)
    mixed = torch.where(mask, x[perm], x)
    own = 1.0 - mask.flatten(1).float().mean(1)  # the exact pasted share, after rounding the box
    return mixed, perm, own


def mixed_loss(z: torch.Tensor, y: torch.Tensor, perm: torch.Tensor | None, own: torch.Tensor | None,
               smoothing: float) -> torch.Tensor:
    """Cross-entropy with label smoothing, against the CutMix label mixture when ``perm`` is given."""
    ce = F.cross_entropy(z, y, reduction="none", label_smoothing=smoothing)
    if perm is None or own is None:
        return ce.mean()
    ce_b = F.cross_entropy(z, y[perm], reduction="none", label_smoothing=smoothing)
    return (own * ce + (1 - own) * ce_b).mean()
