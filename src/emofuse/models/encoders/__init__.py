"""Per-modality encoders: ``(B, T, D)`` or ``(B, D)`` features + lengths → ``(B, E)`` embeddings.

Every encoder is registered in :data:`ENCODERS` and built with
``ENCODERS.get(name)(in_dim, out_dim, dropout=...)``. All are padding-exact: the output of a
sample does not depend on how much padding its batch adds (so batch-of-1 equals batched).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from emofuse.registry import Registry

ENCODERS: Registry[type[nn.Module]] = Registry("encoder")


def as_sequence(x: Tensor) -> Tensor:
    """View pooled ``(B, D)`` features as length-1 sequences ``(B, 1, D)``."""
    return x.unsqueeze(1) if x.dim() == 2 else x


def step_mask(lengths: Tensor, t: int) -> Tensor:
    """``(B, T)`` bool, True on valid steps."""
    return torch.arange(t, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: Tensor, lengths: Tensor) -> Tensor:
    """Mean over the valid steps of ``x`` ``(B, T, D)`` → ``(B, D)``."""
    m = step_mask(lengths, x.shape[1]).unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


@ENCODERS.register("mlp")
class PoolMLPEncoder(nn.Module):
    """Mean-pool over valid steps, then a two-layer MLP with LayerNorm.

    Args:
        in_dim: Feature size ``D``.
        out_dim: Embedding size ``E``.
        dropout: Dropout probability.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(out_dim, out_dim), nn.GELU(),
        )

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``x`` ``(B, T, D)`` or ``(B, D)``, ``lengths`` ``(B,)`` → ``(B, E)``."""
        return self.net(masked_mean(as_sequence(x), lengths))


@ENCODERS.register("gru")
class BiGRUEncoder(nn.Module):
    """Bidirectional GRU over packed sequences; concatenated final states → ``(B, E)``.

    Args:
        in_dim: Feature size ``D``.
        out_dim: Embedding size ``E`` (each direction has ``E // 2`` units).
        dropout: Dropout on the input and the output.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.rnn = nn.GRU(in_dim, max(out_dim // 2, 1), batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * max(out_dim // 2, 1), out_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``x`` ``(B, T, D)`` or ``(B, D)``, ``lengths`` ``(B,)`` → ``(B, E)``."""
        x = self.drop(self.norm(as_sequence(x)))
        packed = pack_padded_sequence(x, lengths.clamp_min(1).cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.rnn(packed)  # h: (2, B, E/2)
        return self.drop(self.proj(torch.cat([h[0], h[1]], dim=-1)))


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal position encodings added to ``(B, T, E)`` inputs."""

    def __init__(self, dim: int, max_len: int = 4096) -> None:
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : dim // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Add positions to ``x`` ``(B, T, E)``."""
        t = x.shape[1]
        if t > self.pe.shape[0]:
            self.pe = SinusoidalPositions(x.shape[-1], 2 * t).pe.to(x.device)
        return x + self.pe[:t].to(x.dtype)


@ENCODERS.register("transformer")
class TransformerEncoder(nn.Module):
    """Linear projection, sinusoidal positions, a 2-layer transformer, masked mean pooling.

    Args:
        in_dim: Feature size ``D``.
        out_dim: Embedding size ``E`` (must be divisible by ``heads``).
        dropout: Dropout probability.
        heads: Attention heads.
        layers: Transformer layers.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.1, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        heads = heads if out_dim % heads == 0 else 1
        self.proj = nn.Sequential(nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim))
        self.pos = SinusoidalPositions(out_dim)
        layer = nn.TransformerEncoderLayer(out_dim, heads, 2 * out_dim, dropout, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``x`` ``(B, T, D)`` or ``(B, D)``, ``lengths`` ``(B,)`` → ``(B, E)``."""
        x = as_sequence(x)
        valid = step_mask(lengths.clamp_min(1), x.shape[1])
        h = self.encoder(self.pos(self.proj(x)), src_key_padding_mask=~valid)
        return self.norm(masked_mean(h, lengths.clamp_min(1)))
