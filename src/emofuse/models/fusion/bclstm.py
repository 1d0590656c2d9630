"""Hierarchical bidirectional contextual LSTM (bc-LSTM; Poria et al., ACL 2017).

"Context-dependent sentiment analysis in user-generated videos" classifies each utterance
of a video from the utterances around it, in two levels:

1. **Unimodal context.** For each modality, a bidirectional LSTM runs over the video's
   utterances (in their order); a dense layer on its outputs gives *contextual unimodal*
   features, each trained with its own classifier.
2. **Multimodal context.** The contextual unimodal features of an utterance are concatenated
   and a second bidirectional LSTM runs over the video again; a dense layer and a softmax
   classify each utterance.

The paper trains level 1 first (each modality with its own classifier) and freezes it; here
both levels are trained together, end to end. With ``unimodal_heads=True`` each contextual
unimodal feature also gets the paper's level-1 classifier, returned as ``modality_logits``,
so the trainer's auxiliary loss (``aux_weight``) supervises level 1 while level 2 trains;
otherwise only the fused prediction is supervised. Utterance
features first pass the configured per-modality encoder (``mlp`` by default), so
sequence features are pooled and every modality reaches the LSTMs at size ``E = hidden``.

With ``context=False`` there are no LSTMs: the model is the paper's non-contextual baseline
(per-modality embeddings, concatenation, dense layer). With ``context=True``
the utterances of one group (``Batch.groups``, ordered by ``Batch.positions``) form the
sequence; without groups every utterance is its own one-step sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from emofuse.data.spec import Batch, Specifications
from emofuse.errors import ConfigError
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model, run_over_groups


class ContextLSTM(nn.Module):
    """One bc-LSTM level: BiLSTM over a group's utterances, dropout, dense + ReLU.

    Args:
        in_dim: Input size ``D`` per utterance.
        out_dim: Output size ``E`` per utterance (the LSTM has ``out_dim`` units per direction).
        dropout: Dropout on the input and on the LSTM outputs.
    """

    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.rnn = nn.LSTM(in_dim, out_dim, batch_first=True, bidirectional=True)
        self.dense = nn.Linear(2 * out_dim, out_dim)

    def forward(self, h: Tensor, groups: Tensor | None, positions: Tensor | None) -> Tensor:
        """``h`` ``(B, D)``, ``groups``/``positions`` ``(B,)`` or ``None`` → ``(B, E)``."""
        out = run_over_groups(self.rnn, self.drop(h), groups, positions)
        return torch.relu(self.dense(self.drop(out)))


@dataclass
class BCLSTMConfig(FusionConfig):
    """bc-LSTM settings (``hidden`` is the size of every embedding, LSTM direction and dense layer).

    Attributes:
        context_dropout: Dropout inside both context levels (on the LSTM inputs and outputs);
            negative means ``dropout``. The paper regularises its LSTMs heavily.
        unimodal_heads: Give each contextual unimodal feature ``(B, E)`` its own classifier
            (the paper's level-1 supervision); needs ``context``. Their ``(B, C)`` logits come
            back as ``modality_logits`` for the trainer's auxiliary loss.
    """

    context_dropout: float = -1.0
    unimodal_heads: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.context_dropout >= 1.0:
            raise ConfigError(f"context_dropout must be < 1, got {self.context_dropout}")
        if self.unimodal_heads and not self.context:
            raise ConfigError("unimodal_heads needs context: true (they classify the contextual unimodal features)")


@register_model("bc_lstm")
class BCLSTM(FusionModel):
    """Hierarchical bc-LSTM: per-modality context LSTMs, then a fusion context LSTM.

    ``fuse`` encodes each modality ``(B, D_m)`` → ``(B, E)``; with context, a unimodal
    :class:`ContextLSTM` per modality (input: embedding and presence flag, ``(B, E + 1)``)
    makes it contextual. The concatenated embeddings and presence flags ``(B, M*E + M)`` go
    through a dense layer to ``hidden`` ``(B, H)``, and (with context) the fusion-level
    :class:`ContextLSTM` — this model's ``context_encoder`` — runs over the group again before
    the head. Absent modalities have zero embeddings; their flags tell the fusion level they
    are missing.
    """

    config_class = BCLSTMConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8}

    def __init__(self, spec: Specifications, config: BCLSTMConfig) -> None:
        super().__init__(spec, config)
        e, m = config.hidden, len(self.modalities)
        self.encoders = self.build_encoders()
        self.unimodal = (nn.ModuleDict({name: ContextLSTM(e + 1, e, self._ctx_dropout) for name in self.modalities})
                         if config.context else None)
        self.unimodal_heads = self.build_classifiers(e) if config.unimodal_heads else None
        self.fusion = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(m * e + m, e), nn.ReLU())
        self._finish_init()

    @property
    def _ctx_dropout(self) -> float:
        cd = self.config.context_dropout
        return self.config.dropout if cd < 0 else cd

    def _finish_init(self) -> None:
        """The fusion-level context LSTM replaces the shared residual context encoder."""
        super()._finish_init()
        self.context_encoder = (ContextLSTM(self.out_dim, self.out_dim, self._ctx_dropout)
                                if self.config.context else None)

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Per-modality (contextual) embeddings ``(B, E)``, the fused ``(B, H)`` and, with
        ``unimodal_heads``, the level-1 logits ``(B, C)`` of the modalities the batch carries."""
        emb = self.encode(self.encoders, batch, present)
        pm = self.present_matrix(present)
        if self.unimodal is not None:
            for j, name in enumerate(self.modalities):
                ctx = self.unimodal[name](torch.cat([emb[name], pm[:, j:j + 1]], -1), batch.groups, batch.positions)
                emb[name] = torch.where(present[name].unsqueeze(-1), ctx, 0.0)
        level1 = ({name: self.unimodal_heads[name](emb[name]) for name in self.modalities if name in batch.features}
                  if self.unimodal_heads is not None else {})
        hidden = self.fusion(torch.cat([emb[name] for name in self.modalities] + [pm], -1))
        return FusionResult(hidden=hidden, modality_logits=level1, embeddings=emb)
