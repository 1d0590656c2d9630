"""Mixture of modality experts: each modality predicts alone; a router weighs them per sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from emofuse.data.spec import Batch, Specifications
from emofuse.errors import ConfigError
from emofuse.models.base import FusionConfig, FusionResult, register_model
from emofuse.models.fusion._ops import COMBINE_MODES, masked_softmax
from emofuse.models.fusion.late import ExpertFusion


@dataclass
class MoEConfig(FusionConfig):
    """Mixture-of-experts settings.

    Attributes:
        top_k: Keep only the ``k`` highest-weighted present experts per sample and renormalise
            (``0``: use every present expert).
        router_hidden: Hidden size of the router MLP (``0``: ``hidden``).
        combine: ``"prob"`` mixes the experts' probabilities (a classic mixture), ``"logit"``
            mixes their log-probabilities; see :class:`~emofuse.models.fusion.late.LateFusionConfig`.

    Note:
        No load-balancing loss is applied. With many experts and ``top_k`` a Switch-style
        auxiliary loss (``M * Σ_m mean_b(w_bm) * frac_b(top1 = m)``) can be computed from the
        returned ``weights``; with a handful of modalities the per-modality auxiliary loss on
        ``modality_logits`` already keeps every expert trained.
    """

    top_k: int = 0
    router_hidden: int = 0
    combine: str = "prob"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.top_k < 0:
            raise ConfigError(f"top_k must be >= 0, got {self.top_k}")
        if self.router_hidden < 0:
            raise ConfigError(f"router_hidden must be >= 0, got {self.router_hidden}")
        if self.combine not in COMBINE_MODES:
            raise ConfigError(f"combine must be one of {COMBINE_MODES}, got {self.combine!r}")


@register_model("moe")
class MixtureOfExperts(ExpertFusion):
    """Modality experts mixed by a per-sample router.

    Each expert (encoder + linear classifier) predicts ``(B, C)`` from its modality alone. The
    router, an MLP over the concatenated embeddings and presence flags ``(B, M*E + M)``, gives
    scores ``(B, M)``; a softmax over the present modalities (optionally only the top ``k``)
    gives the ``weights``. The fused ``logits`` combine the experts' predictions with these
    weights; ``hidden`` is the weighted sum of the embeddings ``(B, E)``.
    """

    config_class = MoEConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8}

    def __init__(self, spec: Specifications, config: MoEConfig) -> None:
        super().__init__(spec, config)
        m = len(self.modalities)
        rh = config.router_hidden or config.hidden
        self.router = nn.Sequential(nn.Linear(m * config.hidden + m, rh), nn.GELU(), nn.Dropout(config.dropout),
                                    nn.Linear(rh, m))
        self._finish_init()

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Run every expert, route over the present ones, and mix their predictions."""
        emb, logits = self.experts(batch, present)
        pm = self.present_matrix(present)
        scores = self.router(torch.cat([emb[m] for m in self.modalities] + [pm], dim=-1))
        weights = masked_softmax(scores, pm.bool(), self.config.top_k)
        return self.combined(batch, emb, logits, weights, self.config.combine)

