"""The immutable data → model contract and the batch type every fusion model takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from emofuse.errors import DataError

Task = Literal["classification", "multilabel", "regression"]
TASKS: tuple[str, ...] = ("classification", "multilabel", "regression")


@dataclass(frozen=True)
class ModalitySpec:
    """Shape of one modality's features.

    Attributes:
        dim: Feature size ``D``.
        sequential: ``True`` for sequences ``(N, T, D)`` with lengths, ``False`` for pooled ``(N, D)``.
        max_len: Longest sequence ``T`` in the data (``1`` for pooled features).
    """

    dim: int
    sequential: bool = False
    max_len: int = 1


@dataclass(frozen=True)
class Specifications:
    """What a model needs to know about its data, fixed at construction (pyannote-style).

    Attributes:
        modalities: Modality name → :class:`ModalitySpec`, in a fixed order used for
            ``(batch, modality)`` weight tensors.
        task: ``classification`` (single label), ``multilabel`` or ``regression``.
        num_outputs: Number of classes (classification/multilabel) or targets (regression).
        label_space: Name of a registered label space, or ``None`` (regression, ad-hoc labels).
        classes: Class names in output order (empty for regression).
    """

    modalities: Mapping[str, ModalitySpec]
    task: Task
    num_outputs: int
    label_space: str | None = None
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DataError(f"task must be one of {TASKS}, got {self.task!r}")
        if not self.modalities:
            raise DataError("Specifications need at least one modality")
        if self.num_outputs < 1:
            raise DataError(f"num_outputs must be >= 1, got {self.num_outputs}")
        object.__setattr__(self, "modalities", dict(self.modalities))

    @property
    def modality_names(self) -> tuple[str, ...]:
        """Modality names in the spec's fixed order."""
        return tuple(self.modalities)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (stored in model cards)."""
        return {
            "modalities": {k: {"dim": v.dim, "sequential": v.sequential, "max_len": v.max_len}
                           for k, v in self.modalities.items()},
            "task": self.task,
            "num_outputs": self.num_outputs,
            "label_space": self.label_space,
            "classes": list(self.classes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Specifications:
        """Inverse of :meth:`to_dict`."""
        mods = {k: ModalitySpec(int(v["dim"]), bool(v["sequential"]), int(v.get("max_len", 1)))
                for k, v in d["modalities"].items()}
        return cls(mods, d["task"], int(d["num_outputs"]), d.get("label_space"),
                   tuple(d.get("classes", ())))


@dataclass
class Batch:
    """A mini-batch: one tensor per modality, lengths, and which modalities are present.

    Attributes:
        features: Modality → float tensor, ``(B, D)`` pooled or ``(B, T, D)`` sequence
            (padded with zeros past each sample's length). A modality missing from the dict is
            absent for every sample.
        lengths: Modality → long tensor ``(B,)`` of valid steps (``1`` for pooled features).
        present: Modality → bool tensor ``(B,)``; ``False`` marks a sample whose modality is
            missing (its features are ignored, whatever they hold).
        targets: ``(B,)`` long class indices, ``(B, C)`` float multi-hot, or ``(B,)``/``(B, K)``
            float regression targets; ``None`` at inference.
        groups: ``(B,)`` long group index (video/dialogue) for context models, or ``None``.
        positions: ``(B,)`` long order of the utterance inside its group, or ``None``.
        ids: Sample identifiers, length ``B``.
    """

    features: dict[str, Tensor]
    lengths: dict[str, Tensor] = field(default_factory=dict)
    present: dict[str, Tensor] = field(default_factory=dict)
    targets: Tensor | None = None
    groups: Tensor | None = None
    positions: Tensor | None = None
    ids: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Batch size ``B``."""
        for x in self.features.values():
            return int(x.shape[0])
        if self.targets is not None:
            return int(self.targets.shape[0])
        raise DataError("empty batch: no modality features and no targets")

    def mask(self, modality: str) -> Tensor:
        """``(B,)`` bool presence of ``modality`` (all ``False`` if the batch lacks it)."""
        if modality not in self.features:
            return torch.zeros(self.size, dtype=torch.bool)
        m = self.present.get(modality)
        if m is None:
            return torch.ones(self.size, dtype=torch.bool, device=self.features[modality].device)
        return m.bool()

    def length(self, modality: str) -> Tensor:
        """``(B,)`` long lengths of ``modality`` (``T`` or 1 when not given)."""
        x = self.features[modality]
        lens = self.lengths.get(modality)
        if lens is None:
            t = x.shape[1] if x.dim() == 3 else 1
            return torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        return lens.long()

    def select(self, index: Tensor | slice | list[int]) -> Batch:
        """Sub-batch of the given rows (used for batch-of-1 checks and context packing)."""
        ids = self.ids
        if ids:
            idx = torch.arange(len(ids))[index].tolist()
            ids = [self.ids[i] for i in (idx if isinstance(idx, list) else [idx])]
        sel = lambda t: None if t is None else t[index]  # noqa: E731
        return Batch(
            features={k: v[index] for k, v in self.features.items()},
            lengths={k: v[index] for k, v in self.lengths.items()},
            present={k: v[index] for k, v in self.present.items()},
            targets=sel(self.targets), groups=sel(self.groups), positions=sel(self.positions), ids=ids,
        )

    def drop(self, *modalities: str) -> Batch:
        """A copy in which ``modalities`` are marked absent for every sample."""
        present = dict(self.present)
        for m in modalities:
            if m in self.features:
                present[m] = torch.zeros(self.size, dtype=torch.bool, device=self.features[m].device)
        return Batch(dict(self.features), dict(self.lengths), present, self.targets, self.groups,
                     self.positions, list(self.ids))

    def to(self, device: torch.device | str) -> Batch:
        """Move every tensor to ``device``."""
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Batch({k: v.to(device) for k, v in self.features.items()},
                     {k: v.to(device) for k, v in self.lengths.items()},
                     {k: v.to(device) for k, v in self.present.items()},
                     mv(self.targets), mv(self.groups), mv(self.positions), list(self.ids))

    def validate(self, spec: Specifications) -> None:
        """Check shapes and finiteness against ``spec``; raise :class:`DataError` with details."""
        unknown = set(self.features) - set(spec.modalities)
        if unknown:
            raise DataError(f"batch has modalities {sorted(unknown)} the model was not built for "
                            f"(expected a subset of {list(spec.modalities)})")
        b = self.size
        for name, x in self.features.items():
            ms = spec.modalities[name]
            want = 3 if ms.sequential else 2
            if x.dim() != want or x.shape[0] != b or x.shape[-1] != ms.dim:
                shape = f"(B, T, {ms.dim})" if ms.sequential else f"(B, {ms.dim})"
                raise DataError(f"modality {name!r}: expected features of shape {shape} with B={b}, "
                                f"got {tuple(x.shape)}")
            if not torch.is_floating_point(x):
                raise DataError(f"modality {name!r}: expected a floating-point tensor, got {x.dtype}")
            if not torch.isfinite(x).all():
                raise DataError(f"modality {name!r}: features contain NaN or inf")
