"""Low-rank Multimodal Fusion (Liu et al., ACL 2018), for any number of modalities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from emofuse.data.spec import Batch, Specifications
from emofuse.errors import ConfigError
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model


@dataclass
class LMFConfig(FusionConfig):
    """Low-rank fusion settings.

    Attributes:
        rank: Rank ``R`` of the decomposition of the fusion weight tensor.
    """

    rank: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rank < 1:
            raise ConfigError(f"rank must be >= 1, got {self.rank}")


@register_model("lmf")
class LMF(FusionModel):
    """TFN's fusion tensor times a weight tensor, computed through rank-``R`` factors.

    With ``z_m`` ``(B, E)`` and modality factors ``W_m`` ``(R, E+1, H)``:
    ``f_m = [z_m; 1] W_m`` ``(B, R, H)``, ``h = Σ_r λ_r ∏_m f_m[:, r] + b`` ``(B, H)``. This
    equals a linear map of the full outer-product tensor of TFN whose weight tensor has rank
    ``R``, without ever building that tensor. An absent modality (``z_m = 0``) contributes its
    learned constant row ``W_m[:, E]``.
    """

    config_class = LMFConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8, "rank": 2}

    def __init__(self, spec: Specifications, config: LMFConfig) -> None:
        super().__init__(spec, config)
        self.encoders = self.build_encoders()
        e, h, r = config.hidden, config.hidden, config.rank
        # std (E+1)^-1/2 keeps each factor's output O(1) so the product over modalities
        # neither explodes nor vanishes with M
        self.factors = nn.ParameterDict({m: nn.Parameter(torch.randn(r, e + 1, h) * (e + 1) ** -0.5)
                                         for m in self.modalities})
        self.rank_weights = nn.Parameter(torch.full((r,), 1.0 / r))
        self.bias = nn.Parameter(torch.zeros(h))
        self.drop = nn.Dropout(config.dropout)
        self._finish_init()

    def fusion(self, emb: dict[str, Tensor]) -> Tensor:
        """Low-rank fusion of embeddings (modality → ``(B, E)``) → ``(B, H)``."""
        prod: Tensor | None = None
        for m in self.modalities:
            z = emb[m]
            z1 = torch.cat([z, torch.ones_like(z[:, :1])], dim=-1)  # (B, E+1)
            f = torch.einsum("be,reh->brh", z1, self.factors[m])  # (B, R, H)
            prod = f if prod is None else prod * f
        return torch.einsum("r,brh->bh", self.rank_weights, prod) + self.bias  # type: ignore[arg-type]

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Encode each modality and fuse the embeddings through the rank-``R`` factors."""
        emb = self.encode(self.encoders, batch, present)
        return FusionResult(hidden=self.fusion({m: self.drop(z) for m, z in emb.items()}), embeddings=emb)
