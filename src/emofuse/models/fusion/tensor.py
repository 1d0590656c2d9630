"""Tensor Fusion Network (Zadeh et al., EMNLP 2017), generalised to any number of modalities."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from emofuse.data.spec import Batch, Specifications
from emofuse.errors import ConfigError
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model
from emofuse.models.encoders import ENCODERS


@dataclass
class TFNConfig(FusionConfig):
    """Tensor fusion settings.

    Attributes:
        tensor_dim: Size ``d`` of each modality's embedding entering the outer product. The
            fused tensor has ``∏_m (d_m + 1)`` entries, so keep it small.
        tensor_dims: Per-modality overrides of ``tensor_dim``, keyed by modality name
            (e.g. ``{"text": 32}``); names must be modalities of the spec.
    """

    tensor_dim: int = 16
    tensor_dims: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, d in {"tensor_dim": self.tensor_dim, **self.tensor_dims}.items():
            if not isinstance(d, int) or isinstance(d, bool) or d < 1:
                raise ConfigError(f"TFN: embedding size for {name!r} must be an int >= 1, got {d!r}")


@register_model("tfn")
class TFN(FusionModel):
    """Outer product of the ``[z_m; 1]`` vectors of all modalities → post-fusion MLP.

    Each modality is encoded to ``z_m`` ``(B, d_m)``; appending a constant 1 keeps every
    lower-order interaction (unimodal and bimodal terms) inside the product. The flattened
    tensor ``(B, ∏_m (d_m + 1))`` goes through a two-layer MLP to ``(B, H)``. An absent modality
    has ``z_m = 0``, so ``[0; 1]`` makes it neutral: the tensor then holds the interactions of
    the present modalities only.
    """

    config_class = TFNConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8, "tensor_dim": 3}

    def __init__(self, spec: Specifications, config: TFNConfig) -> None:
        super().__init__(spec, config)
        unknown = sorted(set(config.tensor_dims) - set(self.modalities))
        if unknown:
            raise ConfigError(f"TFN tensor_dims names unknown modalities {unknown}; "
                              f"the spec has {list(self.modalities)}")
        self.dims = {m: config.tensor_dims.get(m, config.tensor_dim) for m in self.modalities}
        enc = ENCODERS.get(config.encoder)
        self.encoders = nn.ModuleDict({m: enc(s.dim, self.dims[m], dropout=config.dropout)
                                       for m, s in spec.modalities.items()})
        self.fused_dim = math.prod(d + 1 for d in self.dims.values())
        self.post = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(self.fused_dim, config.hidden), nn.GELU(),
            nn.Dropout(config.dropout), nn.Linear(config.hidden, config.hidden), nn.GELU(),
        )
        self._finish_init()

    def fusion_tensor(self, emb: dict[str, Tensor]) -> Tensor:
        """Flattened outer product of ``[z_m; 1]`` over modalities (spec order) → ``(B, ∏(d_m+1))``."""
        out: Tensor | None = None
        for m in self.modalities:
            z = emb[m]
            z1 = torch.cat([z, torch.ones_like(z[:, :1])], dim=-1)
            out = z1 if out is None else (out.unsqueeze(-1) * z1.unsqueeze(1)).flatten(1)
        return out  # type: ignore[return-value]

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Encode, take the outer product, and map it to ``(B, H)``."""
        emb = self.encode(self.encoders, batch, present)
        return FusionResult(hidden=self.post(self.fusion_tensor(emb)), embeddings=emb)
