"""Late (decision-level) fusion: each modality predicts alone, then the predictions are combined.

Every model here has one *expert* per modality (an encoder and a linear classifier) and
returns the experts' ``(B, C)`` predictions as ``modality_logits``, so the trainer can add an
auxiliary loss that keeps each modality able to predict on its own — which is what makes a
missing modality cheap at inference. Rows of a per-modality prediction whose modality is absent
for that sample carry no information (the classifier applied to a zero embedding): mask them
with ``batch.mask(m)``. Modalities missing from ``batch.features`` are left out of the dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from emofuse.data.spec import Batch, Specifications
from emofuse.errors import ConfigError
from emofuse.models.base import FusionConfig, FusionModel, FusionResult, register_model
from emofuse.models.fusion._ops import (
    COMBINE_MODES,
    combine_predictions,
    masked_softmax,
    presence_weights,
    weighted_sum,
)


@dataclass
class LateFusionConfig(FusionConfig):
    """Settings shared by the averaging late-fusion models.

    Attributes:
        combine: How per-modality predictions are averaged. ``"prob"`` (default) averages
            class probabilities — the fused ``logits`` are ``log Σ_m w_m softmax(l_m)``, whose
            softmax is exactly the weighted mean of the per-modality distributions (for
            multilabel: the logit of the mean per-label probability). ``"logit"`` averages
            log-probabilities (a normalised product of experts; multilabel: logits).
            Regression always averages the predicted values.
    """

    combine: str = "prob"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.combine not in COMBINE_MODES:
            raise ConfigError(f"combine must be one of {COMBINE_MODES}, got {self.combine!r}")


class ExpertFusion(FusionModel):
    """Base of models built on per-modality experts (late fusion, mixture of experts).

    Builds ``encoders`` (modality → ``(B, E)``) and ``classifiers`` (``(B, E)`` → ``(B, C)``);
    subclasses decide how the experts' predictions are weighted, and :meth:`fuse` returns the
    fused logits itself (:attr:`~emofuse.models.base.FusionModel.predicts_logits`: no shared head
    without a context encoder). Not registered itself.

    Args:
        spec: The data contract.
        config: The model's config.
    """

    predicts_logits: ClassVar[bool] = True

    def __init__(self, spec: Specifications, config: FusionConfig) -> None:
        super().__init__(spec, config)
        self.encoders = self.build_encoders()
        self.classifiers = self.build_classifiers()

    def experts(self, batch: Batch, present: dict[str, Tensor]) -> tuple[dict[str, Tensor], Tensor]:
        """Per-modality embeddings (modality → ``(B, E)``) and predictions ``(B, M, C)``."""
        emb = self.encode(self.encoders, batch, present)
        logits = torch.stack([self.classifiers[m](emb[m]) for m in self.modalities], dim=1)
        return emb, logits

    def modality_dict(self, logits: Tensor, batch: Batch) -> dict[str, Tensor]:
        """``(B, M, C)`` → modality → ``(B, C)``, for the modalities the batch carries."""
        return {m: logits[:, i] for i, m in enumerate(self.modalities) if m in batch.features}

    def combined(self, batch: Batch, emb: dict[str, Tensor], logits: Tensor, weights: Tensor,
                 mode: str) -> FusionResult:
        """Fuse ``logits`` ``(B, M, C)`` with ``weights`` ``(B, M)``; ``hidden`` is the weighted embedding."""
        fused = combine_predictions(logits, weights, self.spec.task, mode)
        hidden = weighted_sum(torch.stack([emb[m] for m in self.modalities], dim=1), weights)
        return FusionResult(hidden=hidden, logits=fused, modality_logits=self.modality_dict(logits, batch),
                            weights=weights, embeddings=emb)


@dataclass
class LateAverageConfig(LateFusionConfig):
    """Settings of :class:`LateAverage` (see :class:`LateFusionConfig`)."""


@register_model("late_average")
class LateAverage(ExpertFusion):
    """Average the per-modality predictions over the modalities present in each sample.

    ``weights`` ``(B, M)`` are uniform over the present modalities; ``hidden`` ``(B, E)`` is
    the mean of the present embeddings. A sample with no modality gets the neutral prediction
    (uniform distribution / zero).
    """

    config_class = LateAverageConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8}

    def __init__(self, spec: Specifications, config: LateAverageConfig) -> None:
        super().__init__(spec, config)
        self._finish_init()

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Average the experts' predictions with uniform weights over present modalities."""
        emb, logits = self.experts(batch, present)
        weights = presence_weights(self.present_matrix(present))
        return self.combined(batch, emb, logits, weights, self.config.combine)


@dataclass
class LateWeightedConfig(LateFusionConfig):
    """Settings of :class:`LateWeighted` (see :class:`LateFusionConfig`)."""


@register_model("late_weighted")
class LateWeighted(ExpertFusion):
    """Weighted average of per-modality predictions with learned *global* modality weights.

    One learnable scalar per modality (initialised to 0: a plain average); the weights are
    their softmax, renormalised over the modalities present in each sample, ``(B, M)``.
    """

    config_class = LateWeightedConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8}

    def __init__(self, spec: Specifications, config: LateWeightedConfig) -> None:
        super().__init__(spec, config)
        self.modality_scores = nn.Parameter(torch.zeros(len(self.modalities)))
        self._finish_init()

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Average the experts' predictions with the learned weights, renormalised per sample."""
        emb, logits = self.experts(batch, present)
        pm = self.present_matrix(present).bool()
        weights = masked_softmax(self.modality_scores.expand(pm.shape[0], -1), pm)
        return self.combined(batch, emb, logits, weights, self.config.combine)


@dataclass
class LateStackingConfig(FusionConfig):
    """Settings of :class:`LateStacking`.

    Attributes:
        meta_hidden: Hidden size of the meta-learner (also the size of ``hidden``).
    """

    meta_hidden: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.meta_hidden < 1:
            raise ConfigError(f"meta_hidden must be >= 1, got {self.meta_hidden}")


@register_model("late_stacking")
class LateStacking(ExpertFusion):
    """Stacked generalisation: a small MLP learns to combine the per-modality predictions.

    The meta-learner sees the concatenated per-modality probabilities (softmax for
    classification, sigmoid for multilabel, the values for regression), zeroed for absent
    modalities, plus the ``(B, M)`` presence flags: ``(B, M*C + M)`` → ``(B, meta_hidden)`` →
    ``(B, C)``. Unlike classic stacking (meta-learner fitted on held-out predictions) everything
    is trained end to end; the auxiliary loss on ``modality_logits`` keeps the experts honest.
    There are no modality weights (``weights`` is ``None``).
    """

    config_class = LateStackingConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8, "meta_hidden": 8}

    def __init__(self, spec: Specifications, config: LateStackingConfig) -> None:
        super().__init__(spec, config)
        m, c = len(self.modalities), spec.num_outputs
        self.meta = nn.Sequential(nn.Linear(m * c + m, config.meta_hidden), nn.GELU(), nn.Dropout(config.dropout))
        self.meta_out = nn.Linear(config.meta_hidden, c)
        self.out_dim = config.meta_hidden
        self._finish_init()

    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Feed the experts' probabilities and the presence flags to the meta-learner."""
        emb, logits = self.experts(batch, present)
        if self.spec.task == "classification":
            probs = logits.softmax(-1)
        elif self.spec.task == "multilabel":
            probs = logits.sigmoid()
        else:
            probs = logits
        pm = self.present_matrix(present).to(probs.dtype)
        hidden = self.meta(torch.cat([(probs * pm.unsqueeze(-1)).flatten(1), pm], dim=-1))
        return FusionResult(hidden=hidden, logits=self.meta_out(hidden),
                            modality_logits=self.modality_dict(logits, batch), embeddings=emb)
