"""The fusion-model contract: one config base, one forward signature, one output type.

Every fusion model subclasses :class:`FusionModel`, implements :meth:`FusionModel.fuse`, and
is registered with :func:`register_model`. ``forward(batch) -> ModelOutput`` is shared: it
computes presence masks, calls ``fuse``, applies the optional context encoder and the head.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from emofuse.config import from_dict
from emofuse.data.spec import Batch, Specifications
from emofuse.errors import ConfigError
from emofuse.models.encoders import ENCODERS
from emofuse.registry import Registry


@dataclass
class FusionConfig:
    """Settings shared by every fusion model (subclasses add their own fields).

    Attributes:
        hidden: Size ``E`` of each per-modality embedding and of the fused representation.
        encoder: Per-modality encoder name from :data:`emofuse.models.encoders.ENCODERS`.
        dropout: Dropout probability used throughout the model.
        context: Add a BiGRU context encoder over the utterances of one video/dialogue.
    """

    hidden: int = 64
    encoder: str = "mlp"
    dropout: float = 0.1
    context: bool = False

    def __post_init__(self) -> None:
        if self.hidden < 1:
            raise ConfigError(f"hidden must be >= 1, got {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        ENCODERS.get(self.encoder)  # unknown encoder names fail early, with suggestions


@dataclass
class FusionResult:
    """What :meth:`FusionModel.fuse` returns.

    Attributes:
        hidden: ``(B, H)`` fused representation (``H == model.out_dim``).
        logits: ``(B, C)`` logits if the model predicts directly (late fusion), else ``None``.
        modality_logits: Modality → ``(B, C)`` per-modality predictions, where the model has them.
        weights: ``(B, M)`` fusion weights in spec modality order (rows sum to 1 over present
            modalities), where the model has them.
        embeddings: Modality → ``(B, E)`` per-modality embeddings.
    """

    hidden: Tensor
    logits: Tensor | None = None
    modality_logits: dict[str, Tensor] = field(default_factory=dict)
    weights: Tensor | None = None
    embeddings: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class ModelOutput:
    """The output every fusion model returns.

    Attributes:
        logits: ``(B, C)`` class logits, multi-label logits or regression values.
        task: The task of the model's :class:`~emofuse.data.spec.Specifications`.
        hidden: ``(B, H)`` final representation (after the context encoder, if any).
        modalities: Modality names in the order of ``weights`` columns.
        modality_logits: Modality → ``(B, C)`` per-modality predictions (may be empty).
        weights: ``(B, M)`` modality fusion weights, or ``None`` if the model has none.
        embeddings: Modality → ``(B, E)`` per-modality embeddings (may be empty).
    """

    logits: Tensor
    task: str
    hidden: Tensor
    modalities: tuple[str, ...]
    modality_logits: dict[str, Tensor] = field(default_factory=dict)
    weights: Tensor | None = None
    embeddings: dict[str, Tensor] = field(default_factory=dict)

    @property
    def probs(self) -> Tensor:
        """Softmax (classification), sigmoid (multilabel) or the raw values (regression)."""
        if self.task == "classification":
            return self.logits.softmax(-1)
        if self.task == "multilabel":
            return self.logits.sigmoid()
        return self.logits


def run_over_groups(rnn: nn.RNNBase, x: Tensor, groups: Tensor | None, positions: Tensor | None) -> Tensor:
    """Run a batch-first ``rnn`` over the utterances of each group, in order of ``positions``.

    Args:
        rnn: A batch-first (bidirectional) LSTM or GRU taking ``(G, T, D)`` inputs.
        x: ``(B, D)`` one vector per utterance, rows in any order.
        groups: ``(B,)`` group index of each row, or ``None`` (every row its own group).
        positions: ``(B,)`` order of each row inside its group, or ``None`` (batch order).

    Returns:
        ``(B, K)`` the rnn output at each utterance, row-aligned with ``x`` (``K`` is the rnn's
        output size, ``2 * hidden_size`` when bidirectional). Groups never see each other.
    """
    b = x.shape[0]
    if groups is None:
        groups = torch.arange(b, device=x.device)
    if positions is None:
        positions = torch.arange(b, device=x.device)
    key = positions.long().to(x.device) - positions.min()
    groups = groups.long().to(x.device)
    order = torch.argsort(groups * (int(key.max()) + 1) + key, stable=True)
    _, counts = torch.unique_consecutive(groups[order], return_counts=True)
    padded = nn.utils.rnn.pad_sequence(list(torch.split(x[order], counts.tolist())), batch_first=True)
    packed = nn.utils.rnn.pack_padded_sequence(padded, counts.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = rnn(packed)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=padded.shape[1])
    valid = torch.arange(padded.shape[1], device=x.device)[None, :] < counts.to(x.device)[:, None]
    flat = out[valid]  # (B, K) in sorted order
    res = torch.empty_like(flat)
    res[order] = flat
    return res


class ContextEncoder(nn.Module):
    """BiGRU over the utterances of each context group, added residually to ``(B, H)``.

    Utterances are ordered by ``positions`` inside their group; a group's members must all be
    in the batch for the context to be complete (see ``FeatureDataset.iter_batches(whole_groups=True)``).
    """

    def __init__(self, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.rnn = nn.GRU(dim, dim, batch_first=True, bidirectional=True)
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * dim, dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, h: Tensor, groups: Tensor | None, positions: Tensor | None) -> Tensor:
        """``h`` ``(B, H)``, ``groups``/``positions`` ``(B,)`` → ``(B, H)``."""
        ctx = run_over_groups(self.rnn, h, groups, positions)
        return self.norm(h + self.out(ctx))


class FusionModel(nn.Module):
    """Base class of every fusion model.

    Subclasses set :attr:`config_class`, optionally :attr:`tiny` (overrides for the tiny test
    variant), build their layers in ``__init__`` (after ``super().__init__``), set
    ``self.out_dim`` to the size of :attr:`FusionResult.hidden`, and implement :meth:`fuse`.

    Args:
        spec: The data contract (modalities, task, number of outputs).
        config: The model's config dataclass.
    """

    config_class: ClassVar[type[FusionConfig]] = FusionConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": 8}
    registry_name: ClassVar[str] = ""
    #: Whether the model consumes whole sequences itself (True) or pooled embeddings.
    uses_sequences: ClassVar[bool] = False
    #: Whether :meth:`fuse` returns the logits itself (late fusion, mixture of experts). Such a
    #: model gets the shared head only with a context encoder (whose residual it carries).
    predicts_logits: ClassVar[bool] = False

    def __init__(self, spec: Specifications, config: FusionConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise ConfigError(f"{type(self).__name__} needs a {self.config_class.__name__}, "
                              f"got {type(config).__name__}")
        self.spec = spec
        self.config = config
        self.modalities = spec.modality_names
        self.out_dim = config.hidden

    # -- helpers shared by subclasses ---------------------------------------------------
    def build_encoders(self, out_dim: int | None = None) -> nn.ModuleDict:
        """One encoder per modality (``config.encoder``), each producing ``(B, out_dim)``."""
        cls = ENCODERS.get(self.config.encoder)
        dim = out_dim or self.config.hidden
        return nn.ModuleDict({m: cls(s.dim, dim, dropout=self.config.dropout) for m, s in self.spec.modalities.items()})

    def build_classifiers(self, in_dim: int | None = None) -> nn.ModuleDict:
        """One classifier per modality (dropout + linear), each ``(B, in_dim)`` → ``(B, C)`` logits."""
        dim = in_dim or self.config.hidden
        return nn.ModuleDict({m: nn.Sequential(nn.Dropout(self.config.dropout), nn.Linear(dim, self.spec.num_outputs))
                              for m in self.modalities})

    def encode(self, encoders: nn.ModuleDict, batch: Batch, present: dict[str, Tensor]) -> dict[str, Tensor]:
        """Run ``encoders`` on each modality; absent samples get zero embeddings ``(B, E)``."""
        out = {}
        b = batch.size
        for m in self.modalities:
            enc = encoders[m]
            if m in batch.features:
                x = batch.features[m]
                keep = present[m].to(x.device)
                # absent samples' features are ignored "whatever they hold" (NaN included):
                # zero them before the encoder, and select (not multiply) afterwards
                x = torch.where(keep.view(-1, *([1] * (x.dim() - 1))), x, 0.0)
                e = enc(x, batch.length(m))
                out[m] = torch.where(keep.unsqueeze(-1), e, 0.0)
            else:
                ref = next(iter(batch.features.values()), None)
                if ref is None:
                    ref = next(enc.parameters())
                out[m] = torch.zeros(b, self._enc_dim(enc), device=ref.device, dtype=ref.dtype)
        return out

    @staticmethod
    def _enc_dim(encoders: nn.Module) -> int:
        """Output size of an encoder (or of the first encoder of a ``ModuleDict``)."""
        mods = list(encoders.values()) if isinstance(encoders, nn.ModuleDict) else [encoders]
        for mod in mods:
            last = [p for p in mod.parameters() if p.dim() >= 1][-1]
            return int(last.shape[0])
        raise ConfigError("no encoders")

    def present_matrix(self, present: dict[str, Tensor]) -> Tensor:
        """``(B, M)`` float presence in spec order."""
        return torch.stack([present[m].float() for m in self.modalities], dim=1)

    # -- the contract -------------------------------------------------------------------
    def fuse(self, batch: Batch, present: dict[str, Tensor]) -> FusionResult:
        """Fuse the modalities of ``batch``; ``present`` maps modality → ``(B,)`` bool."""
        raise NotImplementedError

    def _finish_init(self) -> None:
        """Build the context encoder and head; called at the end of subclass ``__init__``.

        The head maps ``hidden`` to the outputs. A model that predicts its own logits
        (:attr:`predicts_logits`) has no use for it without a context encoder, so it gets none
        (``self.head is None``): every parameter a model holds takes part in its prediction.
        """
        self.context_encoder = ContextEncoder(self.out_dim, self.config.dropout) if self.config.context else None
        needs_head = not self.predicts_logits or self.context_encoder is not None
        self.head: nn.Module | None = (
            nn.Sequential(nn.Dropout(self.config.dropout), nn.Linear(self.out_dim, self.spec.num_outputs))
            if needs_head else None)

    def forward(self, batch: Batch) -> ModelOutput:
        """Predict from a :class:`~emofuse.data.spec.Batch`; any subset of modalities may be present."""
        if not hasattr(self, "head"):
            raise ConfigError(f"{type(self).__name__}.__init__ must call self._finish_init()")
        device = next(self.parameters()).device
        present = {m: batch.mask(m).to(device) for m in self.modalities}
        res = self.fuse(batch, present)
        hidden = res.hidden
        if self.context_encoder is not None:
            hidden = self.context_encoder(hidden, batch.groups, batch.positions)
        if res.logits is None:
            if self.head is None:
                raise ConfigError(f"{type(self).__name__} sets predicts_logits but fuse() returned no logits")
            logits = self.head(hidden)
        elif self.head is not None and self.context_encoder is not None:
            logits = res.logits + self.head(hidden)  # the context residual
        else:
            logits = res.logits
        return ModelOutput(logits=logits, task=self.spec.task, hidden=hidden, modalities=self.modalities,
                           modality_logits=res.modality_logits, weights=res.weights, embeddings=res.embeddings)


MODELS: Registry[type[FusionModel]] = Registry("fusion model")


def register_model(name: str) -> Any:
    """Class decorator: register a :class:`FusionModel` subclass under ``name``."""

    def deco(cls: type[FusionModel]) -> type[FusionModel]:
        cls.registry_name = name
        return MODELS.add(name, cls)

    return deco


def list_models(pattern: str = "*") -> list[str]:
    """Registered fusion model names matching ``pattern`` (shell-style)."""
    import emofuse.models.fusion  # noqa: F401  (registers the zoo)

    return MODELS.names(pattern)


def model_config(name: str, overrides: dict[str, Any] | None = None, *, tiny: bool = False) -> FusionConfig:
    """Resolved config of model ``name``: defaults, then the tiny preset, then ``overrides``."""
    import emofuse.models.fusion  # noqa: F401

    cls = MODELS.get(name)
    data = dict(cls.tiny) if tiny else {}
    data.update(overrides or {})
    return from_dict(cls.config_class, data, where=name)


def create_model(name: str, spec: Specifications, *, tiny: bool = False, **overrides: Any) -> FusionModel:
    """Build fusion model ``name`` for ``spec`` (unknown names/keys raise with suggestions).

    Example:
        >>> from emofuse.data.spec import ModalitySpec, Specifications
        >>> spec = Specifications({"text": ModalitySpec(4), "audio": ModalitySpec(3, True, 5)}, "classification", 2)
        >>> model = create_model("early_concat", spec, hidden=8)
        >>> type(model).__name__
        'EarlyConcat'
    """
    cfg = model_config(name, overrides, tiny=tiny)
    return MODELS.get(name)(spec, cfg)
