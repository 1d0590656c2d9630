"""Early fusion: concatenate the per-modality embeddings and mix them with an MLP."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from emofuse.data.spec import Batch
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model


@dataclass
class EarlyConcatConfig(FusionConfig):
    """Early fusion settings.

    Attributes:
        presence_flags: Append the ``(B, M)`` presence mask to the concatenation, so the MLP
            can tell a missing modality from one whose embedding happens to be zero.
    """

    presence_flags: bool = True


@register_model("early_concat")
class EarlyConcat(FusionModel):
    """Concatenate per-modality embeddings ``(B, M*E)`` (+ presence flags) → MLP → ``(B, H)``."""

    config_class = EarlyConcatConfig

    def __init__(self, spec, config: EarlyConcatConfig) -> None:  # noqa: ANN001
        super().__init__(spec, config)
        self.encoders = self.build_encoders()
        m = len(self.modalities)
        in_dim = m * config.hidden + (m if config.presence_flags else 0)
        self.mix = nn.Sequential(nn.Linear(in_dim, config.hidden), nn.GELU(), nn.Dropout(config.dropout),
                                 nn.Linear(config.hidden, config.hidden), nn.GELU())
        self._finish_init()

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Concatenate embeddings in spec order and mix them."""
        emb = self.encode(self.encoders, batch, present)
        parts = [emb[m] for m in self.modalities]
        if self.config.presence_flags:
            parts.append(self.present_matrix(present))
        return FusionResult(hidden=self.mix(torch.cat(parts, dim=-1)), embeddings=emb)
