"""Gated Multimodal Unit (Arevalo et al., ICLR workshop 2017), generalised to M modalities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from emofuse.data.spec import Batch, Specifications
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model
from emofuse.models.fusion._ops import masked_softmax, weighted_sum


@dataclass
class GatedConfig(FusionConfig):
    """Gated fusion settings.

    Attributes:
        presence_flags: Let the gate see the ``(B, M)`` presence mask besides the embeddings.
    """

    presence_flags: bool = True


@register_model("gated")
class GatedFusion(FusionModel):
    """GMU: per-modality ``h_m = tanh(W_m z_m)`` mixed by input-dependent gates.

    The gate is a linear map of the concatenated embeddings ``(B, M*E [+ M])`` to ``(B, M)``
    scores, softmaxed over the modalities present in each sample (the original two-modality
    GMU uses one sigmoid gate ``g`` and ``1 - g``, the ``M = 2`` case of this softmax). The
    fused ``hidden = Σ_m g_m h_m`` ``(B, H)``; the gates are returned as ``weights`` ``(B, M)``.
    A sample with no modality present has all-zero gates and a zero ``hidden``.
    """

    config_class = GatedConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8}

    def __init__(self, spec: Specifications, config: GatedConfig) -> None:
        super().__init__(spec, config)
        self.encoders = self.build_encoders()
        m, e = len(self.modalities), config.hidden
        self.transforms = nn.ModuleDict({name: nn.Linear(e, e) for name in self.modalities})
        self.gate = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(m * e + (m if config.presence_flags else 0), m))
        self._finish_init()

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Transform each embedding, gate over present modalities, and sum."""
        emb = self.encode(self.encoders, batch, present)
        pm = self.present_matrix(present)
        parts = [emb[m] for m in self.modalities]
        if self.config.presence_flags:
            parts.append(pm)
        gates = masked_softmax(self.gate(torch.cat(parts, dim=-1)), pm.bool())
        h = torch.stack([torch.tanh(self.transforms[m](emb[m])) for m in self.modalities], dim=1)
        return FusionResult(hidden=weighted_sum(h, gates), weights=gates, embeddings=emb)
