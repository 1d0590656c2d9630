"""The Multimodal Transformer (MulT; Tsai et al., ACL 2019), generalised to M modalities.

For every *target* modality ``t``, one cross-modal transformer per *source* modality ``s != t`` lets the target's steps
attend to the source's steps (query = ``t``, keys/values = ``s``). The outputs of a target's cross-modal transformers
are concatenated along the feature axis, passed through a self-attention "memory" transformer and pooled to one vector;
the vectors of all targets are concatenated and refined by a residual MLP.

The layer structure follows MMSA's MulT (``MMSA.models.singleTask.MULT``, itself from the authors' code) so
the same hyper-parameters give the same layer sizes:

* a bias-free temporal ``Conv1d`` projects each modality to ``d_model`` channels;
* every transformer layer is pre-norm, and a cross-modal layer normalises its query *and* its keys/values with the same
  ``LayerNorm`` (as in the original code); inputs are scaled by ``sqrt(dim)``; a final ``LayerNorm`` closes each
  transformer; there are no position embeddings (MMSA builds its encoders with ``position_embedding=False``);
* the memory transformers have ``max(nlevels, 3)`` layers unless ``mem_nlevels`` is set;
* the fused vector (``2 * d_model`` per target for three modalities) goes through
  ``proj2(dropout(relu(proj1(h)))) + h``.

What differs from MMSA, on purpose:

* **Unaligned, padded batches.** Every attention takes a key-padding mask built from the lengths, the convolution uses
  "same" zero padding over the valid steps (MMSA's ``padding=0`` shortens every sequence by ``kernel - 1`` and fails on
  sequences shorter than the kernel), and pooling picks each sample's *last valid* step (MMSA takes the last padded
  step). A sample's output therefore does not depend on the padding of its batch.
* **Missing modalities.** A sample whose source modality is absent gets zeros from that cross-modal transformer; a
  sample whose target modality is absent contributes a zero block to the concatenation. A modality absent from the whole
  batch is skipped, not computed. Fully masked attention rows are guarded, so no NaN appears.
* **Pooled modalities** ``(B, D)`` are length-1 sequences.
* ``attn_mask`` (MMSA's "future" mask, step ``i`` sees key steps ``j <= i + |T_k - T_q|``) uses each sample's
  valid lengths instead of the padded sizes.
* Key/value embedding dropout is drawn once per source and shared by keys and values and by all cross-modal
  transformers that read the source (MMSA draws it per transformer and separately for keys and values).
  Dropout is inactive at inference, so outputs at inference are the same.
* The projection is always applied (MMSA skips it when a modality's feature size already equals ``d_model``),
  and an extra ``Linear`` maps the fused vector to ``hidden`` when ``hidden`` differs from its size (``hidden
  = 2 * d_model * M`` for three modalities gives MMSA's exact layout).

Speed (the arithmetic is MMSA's; these change only how it is executed):

* attention runs in ``torch.nn.functional.scaled_dot_product_attention`` (a fused, blocked kernel that never
  materialises the ``heads x T_q x T_k`` attention matrix); head-averaged attention weights (computed and
  thrown away by MMSA) are not computed;
* a cross-modal layer's keys/values are ``W_i · LayerNorm_i(x_s)`` where ``x_s`` is the same source embedding
  in every layer, so the source is normalised once and the keys/values of *all* layers of *all* transformers
  reading it come from one matrix product, with the ``LayerNorm`` affine folded into the projection weights
  (cached when no gradient is needed);
* self-attention uses one fused QKV projection;
* with ``pool="last"`` only the pooled step is needed from the last memory layer, so that layer computes keys/values for
  all steps but attention, output projection and feed-forward for one query per sample (exact, in training too);
* ReLU and residual additions run in place; masks are built once per stream pair and omitted when a batch has
  no padding and no missing modality; modalities absent from the whole batch are skipped.

At MMSA's MOSI sizes (``d_model`` 50, 10 heads, 4 levels; 50/500/375 steps) about 60 % of the time is the ~30
million attention scores, at ~1 ns each in SDPA on one AVX-512 core; see ``bench/fusion_speed.py`` for the
measurements against MMSA.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emofuse.data.spec import Batch
from emofuse.errors import ConfigError
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model

POOLS = ("last", "mean")


@dataclass
class MulTConfig(FusionConfig):
    """MulT settings; the names follow MMSA's MulT hyper-parameters.

    Attributes:
        d_model: Size of every modality stream (MMSA ``dst_feature_dim_nheads[0]``); the memory transformers work
            on ``(M - 1) * d_model`` features.
        num_heads: Attention heads in every transformer (MMSA ``dst_feature_dim_nheads[1]``); must divide ``d_model``.
        nlevels: Layers of each cross-modal transformer (MMSA ``nlevels``).
        mem_nlevels: Layers of each memory (self-attention) transformer; ``None`` means ``max(nlevels, 3)`` as in MMSA.
        conv_kernels: Modality → kernel size of its temporal ``Conv1d`` projection (MMSA ``conv1d_kernel_size_l/a/v``);
            modalities not listed use ``conv_kernel``.
        conv_kernel: Default kernel size of the projections.
        attn_dropout: Dropout on attention weights of the memory transformers and of cross-modal transformers whose
            source has no entry in ``attn_dropouts``.
        attn_dropouts: Source modality → attention dropout of the cross-modal transformers reading it (MMSA
            ``attn_dropout`` for text, ``attn_dropout_a``, ``attn_dropout_v``).
        relu_dropout: Dropout after the feed-forward ReLU.
        res_dropout: Dropout on each residual branch.
        embed_dropout: Dropout on the scaled transformer inputs.
        out_dropout: Dropout inside the final residual block (MMSA ``output_dropout``).
        input_dropouts: Modality → dropout on its raw features (MMSA ``text_dropout``).
        attn_mask: MMSA's "future" mask: step ``i`` attends to key steps ``j <= i + |T_k - T_q|`` (causal in
            self-attention). MMSA's shipped MOSI config turns it on; it is off by default here.
        pool: ``"last"``: the last valid step of each memory transformer (as MMSA); ``"mean"``: the mean over valid
            steps.
    """

    d_model: int = 30
    num_heads: int = 6
    nlevels: int = 4
    mem_nlevels: int | None = None
    conv_kernels: dict[str, int] = field(default_factory=dict)
    conv_kernel: int = 1
    attn_dropout: float = 0.1
    attn_dropouts: dict[str, float] = field(default_factory=dict)
    relu_dropout: float = 0.1
    res_dropout: float = 0.1
    embed_dropout: float = 0.25
    out_dropout: float = 0.0
    input_dropouts: dict[str, float] = field(default_factory=dict)
    attn_mask: bool = False
    pool: str = "last"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.d_model < 1 or self.num_heads < 1 or self.d_model % self.num_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be a positive multiple of num_heads ({self.num_heads})")
        if self.nlevels < 1:
            raise ConfigError(f"nlevels must be >= 1, got {self.nlevels}")
        if self.mem_nlevels is not None and self.mem_nlevels < 1:
            raise ConfigError(f"mem_nlevels must be >= 1 or None, got {self.mem_nlevels}")
        for name, k in {"conv_kernel": self.conv_kernel, **self.conv_kernels}.items():
            if not isinstance(k, int) or isinstance(k, bool) or k < 1:
                raise ConfigError(f"conv kernel for {name!r} must be an int >= 1, got {k!r}")
        probs = {"attn_dropout": self.attn_dropout, "relu_dropout": self.relu_dropout,
                 "res_dropout": self.res_dropout, "embed_dropout": self.embed_dropout,
                 "out_dropout": self.out_dropout}
        probs.update({f"attn_dropouts[{k}]": v for k, v in self.attn_dropouts.items()})
        probs.update({f"input_dropouts[{k}]": v for k, v in self.input_dropouts.items()})
        for name, p in probs.items():
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
                raise ConfigError(f"{name} must be a probability in [0, 1), got {p!r}")
        if self.pool not in POOLS:
            raise ConfigError(f"pool must be one of {POOLS}, got {self.pool!r}")

    @property
    def memory_levels(self) -> int:
        """Resolved number of memory-transformer layers."""
        return self.mem_nlevels if self.mem_nlevels is not None else max(self.nlevels, 3)


# -- helpers ---------------------------------------------------------------------------------
def _xavier_linear(in_dim: int, out_dim: int) -> nn.Linear:
    lin = nn.Linear(in_dim, out_dim)
    nn.init.xavier_uniform_(lin.weight)
    nn.init.zeros_(lin.bias)
    return lin


def _dropout(x: Tensor, p: float, training: bool) -> Tensor:
    return F.dropout(x, p, True) if training and p > 0 else x


def _split_heads(x: Tensor, heads: int) -> Tensor:
    """``(B, T, E)`` (any strides) → ``(B, heads, T, E / heads)`` view."""
    return x.unflatten(-1, (heads, x.shape[-1] // heads)).transpose(1, 2)


def _merge_heads(x: Tensor) -> Tensor:
    """``(B, heads, T, hd)`` → ``(B, T, heads * hd)``."""
    return x.transpose(1, 2).flatten(2)


class _Mask:
    """Which key steps each query step may attend to, for one (query, key) stream pair.

    Built once per pair and forward, and shared by every layer of the pair's transformer.

    Attributes:
        attn: ``None`` (attend everywhere) or an additive float mask (``0`` / ``-inf``)
            broadcastable to ``(B, heads, T_q, T_k)``; every row has at least one ``0``.
    """

    __slots__ = ("attn",)

    def __init__(self, attn: Tensor | None = None) -> None:
        self.attn = attn


def _additive(allowed: Tensor, dtype: torch.dtype) -> Tensor:
    """Bool "may attend" → additive float mask, converted once instead of in every layer."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill_(~allowed, float("-inf"))


def _build_mask(q_len: Tensor, k_valid: Tensor, full: bool, causal: bool, t_q: int, dtype: torch.dtype) -> _Mask:
    """Attention mask for queries of valid length ``q_len`` ``(B,)`` over keys ``k_valid`` ``(B, T_k)``.

    Args:
        q_len: Valid query steps per sample.
        k_valid: ``(B, T_k)`` bool, True on keys that may be attended (valid and present).
        full: No padding and nothing absent, for the keys and (if ``causal``) the queries.
        causal: Apply MMSA's future mask ``j <= i + |L_k - L_q|``.
        t_q: Number of query rows.
        dtype: Dtype of the attention inputs.
    """
    t_k = k_valid.shape[1]
    device = k_valid.device
    if not causal:
        if full:
            return _Mask()
        # guard: a sample without any valid key attends to key 0 (its output is zeroed later),
        # so the softmax never sees a fully masked row and no NaN appears
        k_valid = k_valid.clone()
        k_valid[:, 0] |= ~k_valid.any(1)
        return _Mask(_additive(k_valid[:, None, None, :], dtype))
    # SDPA's built-in causal mask is top-left aligned and, on CPU, skips nothing at these
    # lengths (its key blocks are 512 steps), so the offset mask is built explicitly
    if full and abs(t_k - t_q) >= t_k - 1:  # every query row sees every key
        return _Mask()
    k_len = k_valid.sum(1)
    offset = (k_len - q_len).abs()
    i = torch.arange(t_q, device=device)
    j = torch.arange(t_k, device=device)
    allowed = (j[None, None, :] <= (i[None, :] + offset[:, None])[:, :, None]) & k_valid[:, None, :]
    allowed[:, :, 0] |= ~allowed.any(-1)  # same guard, per query row
    return _Mask(_additive(allowed[:, None], dtype))


def _attend(q: Tensor, k: Tensor, v: Tensor, mask: _Mask, heads: int, p: float, training: bool) -> Tensor:
    """Multi-head attention on ``(B, T, E)`` projections (any strides) → ``(B, T_q, E)``."""
    out = F.scaled_dot_product_attention(
        _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads),
        attn_mask=mask.attn, dropout_p=p if training else 0.0,
    )
    return _merge_heads(out)


# -- layers ----------------------------------------------------------------------------------
class _Layer(nn.Module):
    """One pre-norm transformer layer with MMSA's parameter layout.

    ``in_proj_weight`` ``(3E, E)`` holds the Q, K and V projections (as in MMSA and ``nn.MultiheadAttention``);
    ``norm_attn`` normalises the query and, in cross-modal layers, the keys/values too.
    """

    def __init__(self, dim: int, heads: int, attn_dropout: float, relu_dropout: float, res_dropout: float) -> None:
        super().__init__()
        self.dim, self.heads = dim, heads
        self.attn_dropout, self.relu_dropout, self.res_dropout = attn_dropout, relu_dropout, res_dropout
        self.norm_attn = nn.LayerNorm(dim)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.out_proj = _xavier_linear(dim, dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.fc1 = _xavier_linear(dim, 4 * dim)
        self.fc2 = _xavier_linear(4 * dim, dim)

    def kv_weight(self) -> tuple[Tensor, Tensor]:
        """K/V projection ``(2E, E)`` and bias ``(2E,)`` with ``norm_attn``'s affine folded in.

        ``W (γ ⊙ z + β) + b = (W diag γ) z + (W β + b)`` for a normalised input ``z``.
        """
        w = self.in_proj_weight[self.dim:]
        return w * self.norm_attn.weight, torch.addmv(self.in_proj_bias[self.dim:], w, self.norm_attn.bias)

    def _finish(self, x: Tensor, attn: Tensor) -> Tensor:
        """Output projection, residual, feed-forward block."""
        # in-place ops only on fresh outputs whose values autograd does not keep
        training = self.training
        x = _dropout(self.out_proj(attn), self.res_dropout, training).add_(x)
        h = F.relu_(self.fc1(self.norm_ffn(x)))
        h = self.fc2(_dropout(h, self.relu_dropout, training))
        return _dropout(h, self.res_dropout, training).add_(x)

    def cross(self, x: Tensor, k: Tensor, v: Tensor, mask: _Mask, record: list[Tensor] | None = None) -> Tensor:
        """Cross-modal layer: ``x`` ``(B, T_q, E)`` attends to ``k``/``v`` ``(B, T_k, E)`` (weights to ``record``)."""
        q = F.linear(self.norm_attn(x), self.in_proj_weight[: self.dim], self.in_proj_bias[: self.dim])
        if record is not None:  # head-averaged weights (B, T_q, T_k), which SDPA never materialises
            s = _split_heads(q, self.heads) @ _split_heads(k, self.heads).mT / math.sqrt(self.dim // self.heads)
            record.append((s if mask.attn is None else s + mask.attn).softmax(-1).mean(1))
        return self._finish(x, _attend(q, k, v, mask, self.heads, self.attn_dropout, self.training))

    def self_attn(self, x: Tensor, mask: _Mask, rows: Tensor | None = None) -> Tensor:
        """Self-attention layer on ``x`` ``(B, T, E)``.

        With ``rows`` ``(B,)`` only those steps are computed as queries: the result is
        ``(B, 1, E)``, equal to the full layer's output at those steps.
        """
        h = self.norm_attn(x)
        d = self.dim
        if rows is None:
            qkv = F.linear(h, self.in_proj_weight, self.in_proj_bias)
            q, k, v = qkv[..., :d], qkv[..., d: 2 * d], qkv[..., 2 * d:]
        else:
            kv = F.linear(h, self.in_proj_weight[d:], self.in_proj_bias[d:])
            k, v = kv[..., :d], kv[..., d:]
            idx = torch.arange(x.shape[0], device=x.device)
            x = x[idx, rows].unsqueeze(1)
            q = F.linear(h[idx, rows].unsqueeze(1), self.in_proj_weight[:d], self.in_proj_bias[:d])
        return self._finish(x, _attend(q, k, v, mask, self.heads, self.attn_dropout, self.training))


class _Transformer(nn.Module):
    """A stack of :class:`_Layer` with a final ``LayerNorm`` (MMSA ``TransformerEncoder``)."""

    def __init__(self, dim: int, heads: int, layers: int, attn_dropout: float, relu_dropout: float,
                 res_dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [_Layer(dim, heads, attn_dropout, relu_dropout, res_dropout) for _ in range(layers)]
        )
        self.norm = nn.LayerNorm(dim)


# -- the model -------------------------------------------------------------------------------
@register_model("mult")
class MulT(FusionModel):
    """Multimodal Transformer over unaligned sequences: cross-modal attention for every ordered pair.

    Input: each modality ``(B, T_m, D_m)`` (or pooled ``(B, D_m)``) with lengths and presence.
    Output: ``hidden`` ``(B, H)``; ``embeddings[m]`` is the pooled memory-transformer output of
    target ``m``, ``(B, max(M - 1, 1) * d_model)`` (zeros where ``m`` is absent).

    With a single modality there is no cross-modal transformer: its projected stream goes
    straight to its memory transformer.
    """

    config_class = MulTConfig
    uses_sequences: ClassVar[bool] = True
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8, "d_model": 8, "num_heads": 2, "nlevels": 1, "mem_nlevels": 1}
    #: While it holds a dict (see :func:`emofuse.explain.attention.attention_maps`), forwards store the cross-modal
    #: weights ``"target<-source"`` → ``(B, T_q, T_k)`` in it, mean of heads and layers (per thread; outputs unchanged).
    attention_record: ClassVar[ContextVar[dict[str, Tensor] | None]] = ContextVar("mult_attention", default=None)

    def __init__(self, spec, config: MulTConfig) -> None:  # noqa: ANN001
        super().__init__(spec, config)
        mods = self.modalities
        for key, what in ((config.conv_kernels, "conv_kernels"), (config.attn_dropouts, "attn_dropouts"),
                          (config.input_dropouts, "input_dropouts")):
            unknown = sorted(set(key) - set(mods))
            if unknown:
                raise ConfigError(f"mult.{what} names modalities {unknown} that the spec lacks ({list(mods)})")
        d, heads = config.d_model, config.num_heads
        self.kernels = {m: config.conv_kernels.get(m, config.conv_kernel) for m in mods}
        self.proj = nn.ModuleDict({
            m: nn.Conv1d(s.dim, d, kernel_size=self.kernels[m], padding=0, bias=False)
            for m, s in spec.modalities.items()
        })
        cross = {}
        for t in mods:
            for s in mods:
                if s != t:
                    cross[f"{t}_with_{s}"] = _Transformer(
                        d, heads, config.nlevels, config.attn_dropouts.get(s, config.attn_dropout),
                        config.relu_dropout, config.res_dropout)
        self.cross = nn.ModuleDict(cross)
        self.mem_dim = max(len(mods) - 1, 1) * d
        self.memory = nn.ModuleDict({
            m: _Transformer(self.mem_dim, heads, config.memory_levels, config.attn_dropout, config.relu_dropout,
                            config.res_dropout)
            for m in mods
        })
        combined = len(mods) * self.mem_dim
        self.proj1 = nn.Linear(combined, combined)
        self.proj2 = nn.Linear(combined, combined)
        self.out_proj = nn.Identity() if combined == config.hidden else nn.Linear(combined, config.hidden)
        self.out_dim = config.hidden
        # the targets whose cross-modal transformers read each source, in a fixed order
        self._readers = {s: [t for t in mods if t != s] for s in mods}
        self._kv_cache: dict[str, tuple[tuple[int, ...], Tensor, Tensor]] = {}
        self._finish_init()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_kv_cache"] = {}  # derived tensors (possibly inference tensors): never copied or pickled
        return state

    # -- pieces ---------------------------------------------------------------------------
    def _embed(self, m: str, x: Tensor, valid: Tensor, full: bool) -> Tensor:
        """Features ``(B, T, D)`` → projected stream ``(B, T, d_model)`` (padding-exact "same" conv)."""
        p = self.config.input_dropouts.get(m, 0.0)
        x = _dropout(x, p, self.training)
        if not full:  # zero padding and absent samples (whatever they hold, NaN included)
            x = x.masked_fill(~valid.unsqueeze(-1), 0.0)
        k = self.kernels[m]
        w = self.proj[m].weight  # (d, D, k)
        if k == 1:
            return F.linear(x, w[:, :, 0])
        left = (k - 1) // 2
        x = F.pad(x, (0, 0, left, k - 1 - left))
        # conv as one matrix product over unfolded windows: (B, T, D*k) @ (D*k, d)
        return F.linear(x.unfold(1, k, 1).flatten(2), w.flatten(1))

    def _kv_params(self, s: str) -> tuple[Tensor, Tensor]:
        """Stacked, LayerNorm-folded K/V projections of every layer reading source ``s``."""
        layers = [layer for t in self._readers[s] for layer in self.cross[f"{t}_with_{s}"].layers]
        # no gradient needed: reuse the folded weights while the parameters are unchanged
        # (``_version`` counts in-place updates: optimiser steps, ``load_state_dict``)
        cacheable = not torch.is_grad_enabled()
        if cacheable:
            key = tuple(v for layer in layers for p in (layer.in_proj_weight, layer.in_proj_bias,
                        layer.norm_attn.weight, layer.norm_attn.bias) for v in (p.data_ptr(), p._version))
            hit = self._kv_cache.get(s)
            if hit is not None and hit[0] == key:
                return hit[1], hit[2]
        pairs = [layer.kv_weight() for layer in layers]
        w = torch.cat([p[0] for p in pairs])
        b = torch.cat([p[1] for p in pairs])
        if cacheable:
            self._kv_cache[s] = (key, w, b)
        else:
            self._kv_cache.pop(s, None)
        return w, b

    # -- forward ------------------------------------------------------------------------------
    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Cross-modal transformers → memory transformers → pooled, concatenated, residual MLP."""
        cfg = self.config
        training = self.training
        b = batch.size
        ref = next(iter(batch.features.values()), self.proj1.weight)
        device, dtype = ref.device, ref.dtype
        d = cfg.d_model

        # 1. projected streams of the modalities present somewhere in the batch
        streams: dict[str, Tensor] = {}  # m -> (B, T, d), scaled by sqrt(d)
        valid: dict[str, Tensor] = {}  # m -> (B, T) bool: valid step of a present sample
        lengths: dict[str, Tensor] = {}  # m -> (B,) valid steps, 0 where absent
        full: dict[str, bool] = {}  # m -> no padding and present in every sample
        for m in self.modalities:
            if m not in batch.features:
                continue
            pres = present[m].to(device)
            if not bool(pres.any()):
                continue
            x = batch.features[m]
            if x.dim() == 2:
                x = x.unsqueeze(1)
            t = x.shape[1]
            lens = batch.length(m).to(device).clamp(0, t) * pres
            if not bool((lens > 0).any()):
                continue
            steps = torch.arange(t, device=device)[None, :] < lens[:, None]
            is_full = bool(steps.all())
            streams[m] = self._embed(m, x, steps, is_full) * math.sqrt(d)
            valid[m], lengths[m], full[m] = steps, lens, is_full

        # 2. keys/values of every cross-modal layer, one matrix product per source
        kv: dict[str, list[Tensor]] = {}  # transformer name -> per-layer (B, T_s, 2d) views
        for s, x in streams.items():
            if not any(t in streams for t in self._readers[s]):
                continue
            # MMSA scales, drops out and normalises the source in every layer; the scaling and
            # normalisation are the same each time, only the LayerNorm affine differs (folded)
            z = F.layer_norm(_dropout(x, cfg.embed_dropout, training), (d,))
            w, bias = self._kv_params(s)
            allkv = F.linear(z, w, bias)  # (B, T_s, readers * nlevels * 2d)
            step = 2 * d
            for r, t in enumerate(self._readers[s]):
                base = r * cfg.nlevels
                kv[f"{t}_with_{s}"] = [allkv[..., (base + i) * step: (base + i + 1) * step]
                                       for i in range(cfg.nlevels)]

        # 3. per target: cross-modal transformers, memory transformer, pooling
        pooled: dict[str, Tensor] = {}
        record = self.attention_record.get()
        for t in self.modalities:
            if t not in streams:
                pooled[t] = torch.zeros(b, self.mem_dim, device=device, dtype=dtype)
                continue
            x_t = _dropout(streams[t], cfg.embed_dropout, training)
            t_len = x_t.shape[1]
            parts = []
            sources = [s for s in self.modalities if s != t]
            for s in sources:
                if s not in streams:
                    parts.append(x_t.new_zeros(b, t_len, d))
                    continue
                name = f"{t}_with_{s}"
                mask = _build_mask(lengths[t], valid[s], full[s] and (full[t] or not cfg.attn_mask),
                                   cfg.attn_mask, t_len, dtype)
                net = self.cross[name]
                h, rec = x_t, None if record is None else []
                for layer, layer_kv in zip(net.layers, kv[name], strict=True):
                    h = layer.cross(h, layer_kv[..., :d], layer_kv[..., d:], mask, rec)
                if rec:
                    record[f"{t}<-{s}"] = torch.stack(rec).mean(0)
                h = net.norm(h)
                if not full[s]:  # samples without this source get zeros from it
                    h = h * (lengths[s] > 0).to(h.dtype)[:, None, None]
                parts.append(h)
            if not sources:  # a single modality: its own stream feeds the memory transformer
                parts.append(x_t)
            pooled[t] = self._memory(t, torch.cat(parts, -1) if len(parts) > 1 else parts[0],
                                     lengths[t], valid[t], full[t])
            if not full[t]:
                pooled[t] = pooled[t] * (lengths[t] > 0).to(dtype)[:, None]

        # 4. concatenate over targets, residual block
        h = torch.cat([pooled[m] for m in self.modalities], -1)
        res = self.proj2(_dropout(F.relu(self.proj1(h)), cfg.out_dropout, training))
        hidden = self.out_proj(h + res)
        return FusionResult(hidden=hidden, embeddings=pooled)

    def _memory(self, t: str, h: Tensor, lengths: Tensor, valid: Tensor, full: bool) -> Tensor:
        """Self-attention memory transformer of target ``t`` on ``h`` ``(B, T, E)`` → pooled ``(B, E)``."""
        cfg = self.config
        net = self.memory[t]
        t_len = h.shape[1]
        x = _dropout(h * math.sqrt(self.mem_dim), cfg.embed_dropout, self.training)
        mask = _build_mask(lengths, valid, full, cfg.attn_mask, t_len, h.dtype)
        last = (lengths - 1).clamp_min(0)
        n = len(net.layers)
        for i, layer in enumerate(net.layers):
            if i == n - 1 and cfg.pool == "last":
                # only the pooled step is read from the last layer: compute just that query
                row_mask = mask
                if cfg.attn_mask:  # last valid step of a self-attention sees every valid key
                    row_mask = _build_mask(lengths, valid, full, False, 1, h.dtype)
                return net.norm(layer.self_attn(x, row_mask, rows=last)).squeeze(1)
            x = layer.self_attn(x, mask)
        w = valid.unsqueeze(-1).to(x.dtype)  # pool == "mean": mean over the valid steps
        return (net.norm(x) * w).sum(1) / w.sum(1).clamp_min(1.0)
