"""Multi-modal factorized bilinear pooling (MFB, Yu et al., ICCV 2017), for M modalities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from emofuse.data.spec import Batch, Specifications
from emofuse.errors import ConfigError
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model


@dataclass
class MFBConfig(FusionConfig):
    """Factorized bilinear pooling settings.

    Attributes:
        factor_k: Factor count ``k`` summed over by the pooling (the rank of each output unit).
        factor_o: Size ``o`` of the pooled bilinear vector before the output projection.
        power_eps: Small constant inside the signed square root, keeping its gradient finite at 0.
    """

    factor_k: int = 5
    factor_o: int = 32
    power_eps: float = 1e-6

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.factor_k < 1 or self.factor_o < 1:
            raise ConfigError(f"factor_k and factor_o must be >= 1, got {self.factor_k} and {self.factor_o}")
        if self.power_eps <= 0:
            raise ConfigError(f"power_eps must be > 0, got {self.power_eps}")


@register_model("bilinear")
class MFB(FusionModel):
    """Elementwise product of per-modality projections, sum-pooled over ``k`` factors.

    Each embedding ``z_m`` ``(B, E)`` is projected to ``(B, k*o)``; the projections of all
    modalities are multiplied elementwise (for two modalities exactly MFB's
    ``(U^T x) ∘ (V^T y)``; for more, their multilinear generalisation), reshaped to
    ``(B, o, k)`` and summed over ``k``, then power-normalised (signed square root) and
    L2-normalised to ``(B, o)``, and finally projected to ``(B, H)``. An absent modality is
    replaced by the all-ones vector, the identity of the product, so the result is the
    factorised pooling of the present modalities (a single present modality reduces to a
    sum-pooled linear projection).
    """

    config_class = MFBConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8, "factor_k": 2, "factor_o": 4}

    def __init__(self, spec: Specifications, config: MFBConfig) -> None:
        super().__init__(spec, config)
        self.encoders = self.build_encoders()
        k, o = config.factor_k, config.factor_o
        self.projections = nn.ModuleDict({m: nn.Linear(config.hidden, k * o) for m in self.modalities})
        self.drop = nn.Dropout(config.dropout)
        self.post = nn.Sequential(nn.Linear(o, config.hidden), nn.GELU())
        self._finish_init()

    def pooled(self, emb: dict[str, Tensor], present: dict[str, Tensor]) -> Tensor:
        """Normalised factorised pooling of the present modalities → ``(B, o)``."""
        prod: Tensor | None = None
        for m in self.modalities:
            p = self.projections[m](emb[m])
            p = torch.where(present[m].unsqueeze(-1), p, 1.0)  # neutral element of the product
            prod = p if prod is None else prod * p
        x = self.drop(prod).view(-1, self.config.factor_o, self.config.factor_k).sum(-1)  # type: ignore[union-attr]
        eps = self.config.power_eps
        x = torch.sqrt(F.relu(x) + eps) - torch.sqrt(F.relu(-x) + eps)
        return F.normalize(x, dim=-1)

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Encode, pool bilinearly, and project to ``(B, H)``."""
        emb = self.encode(self.encoders, batch, present)
        return FusionResult(hidden=self.post(self.pooled(emb, present)), embeddings=emb)
