"""The per-modality expert interface shared by the text, voice and face experts.

An **expert** predicts emotions from one modality on its own. This is what makes a missing
modality cheap in the pipeline: fusion combines whichever experts have input.

Every expert

* has a registry ``name``, a ``modality`` (``"text"``, ``"audio"`` or ``"face"``) and a
  native label space (``"goemotions28"``, ``"fer2013"``, ...) that is single- or multi-label;
* answers :meth:`Expert.predict` with an :class:`ExpertOutput`: native probabilities
  ``(N, C)`` and a calibrated single-label distribution over ``ekman7`` ``(N, 7)``, the common
  space in which experts of different modalities are fused;
* ships its trained weights as ``weights/<name>/head.safetensors`` next to a JSON model card
  ``weights/<name>/card.json`` (package data). Large pretrained backbones come from their own
  packages; only the small trained part lives here. Loading reads safetensors only (nothing
  is unpickled) and is strict.

Example:
    >>> from emofuse.experts import list_experts
    >>> "text-goemotions" in list_experts()
    True
    >>> list_experts(modality="text")
    ['text-goemotions']
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from emofuse import cards
from emofuse.errors import CheckpointError, UnknownNameError
from emofuse.labels import get_label_space, mapping_matrix
from emofuse.modalities import MODALITIES as ALL_MODALITIES
from emofuse.registry import Registry

__all__ = [
    "CARD_FILE",
    "CARD_FORMAT",
    "CARD_FORMAT_VERSION",
    "EXPERTS",
    "MODALITIES",
    "REQUIRED_CARD_FIELDS",
    "WEIGHTS_FILE",
    "Expert",
    "ExpertNeeds",
    "ExpertOutput",
    "absent_class",
    "card_prior",
    "list_experts",
    "load_expert",
    "map_to_ekman",
    "read_card",
    "read_weights",
    "register_expert",
    "weights_dir",
    "write_weights",
]

#: Modalities an expert can read (the canonical names of :mod:`emofuse.modalities`).
MODALITIES = tuple(m for m in ALL_MODALITIES)
_CARD_KIND = cards.KINDS["expert"]
WEIGHTS_FILE = _CARD_KIND.weights_file
CARD_FILE = _CARD_KIND.card_file
CARD_FORMAT = _CARD_KIND.format
CARD_FORMAT_VERSION = _CARD_KIND.version
#: Fields every expert card must have (the model card contract, kept in :mod:`emofuse.cards`).
REQUIRED_CARD_FIELDS = _CARD_KIND.required
_WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"
_EKMAN = get_label_space("ekman7")


@dataclass(frozen=True)
class ExpertOutput:
    """What an expert says about ``N`` inputs.

    Attributes:
        expert: Registry name of the expert.
        label_space: Name of the native label space.
        classes: Native class names, column order of ``probs``.
        multilabel: Whether native classes are independent (sigmoid) rather than exclusive.
        probs: ``(N, C)`` float32 native probabilities in ``[0, 1]``; independent per class when
            ``multilabel``, otherwise rows sum to 1.
        ekman: ``(N, 7)`` float32 calibrated single-label distribution over ``ekman7``
            (rows sum to 1), the view used for fusion.
        thresholds: ``(C,)`` float32 decision thresholds of a multi-label expert, else ``None``.
        info: Per-input extras, each a list of length ``N`` (e.g. ``"n_tokens"``, ``"truncated"``).
    """

    expert: str
    label_space: str
    classes: tuple[str, ...]
    multilabel: bool
    probs: np.ndarray
    ekman: np.ndarray
    thresholds: np.ndarray | None = None
    info: dict[str, list[Any]] = field(default_factory=dict)

    ekman_classes: ClassVar[tuple[str, ...]] = _EKMAN.classes

    def __len__(self) -> int:
        return int(self.probs.shape[0])

    def labels(self) -> list[list[str]]:
        """Native decisions: labels above their thresholds (multi-label) or the arg-max.

        A multi-label row with no label above its threshold gets an empty list.
        """
        if not self.multilabel or self.thresholds is None:
            return [[self.classes[int(i)]] for i in self.probs.argmax(1)]
        hits = self.probs > self.thresholds[None, :]
        return [[self.classes[j] for j in np.flatnonzero(row)[np.argsort(-p[row])]]
                for row, p in zip(hits, self.probs, strict=True)]

    def top(self, k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable native classes of each input, as ``(name, probability)``."""
        k = max(1, min(int(k), len(self.classes)))
        idx = np.argsort(-self.probs, axis=1, kind="stable")[:, :k]
        return [[(self.classes[j], float(self.probs[i, j])) for j in row] for i, row in enumerate(idx)]

    def ekman_labels(self) -> list[str]:
        """Most probable ``ekman7`` class of each input."""
        return [self.ekman_classes[int(i)] for i in self.ekman.argmax(1)]

    def confidence(self) -> np.ndarray:
        """``(N,)`` probability of the top ``ekman7`` class (calibrated)."""
        return self.ekman.max(1)

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per input (probabilities as ``{class: float}``)."""
        labels, ek = self.labels(), self.ekman_labels()
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {
                "expert": self.expert,
                "labels": labels[i],
                "probs": {c: float(p) for c, p in zip(self.classes, self.probs[i], strict=True)},
                "ekman": ek[i],
                "ekman_probs": {c: float(p) for c, p in zip(self.ekman_classes, self.ekman[i], strict=True)},
                "confidence": float(self.ekman[i].max()),
            }
            rec.update({k: v[i] for k, v in self.info.items()})
            out.append(rec)
        return out


def map_to_ekman(probs: np.ndarray, label_space: str, eps: float = 1e-6) -> np.ndarray:
    """Native probabilities ``(N, C)`` → ``(N, 7)`` ekman7 logits through the label mapping.

    Each Ekman class gets the summed probability of the native classes mapped to it; the
    result is renormalised and returned as log-probabilities (so a temperature can be applied
    and a softmax recovers the renormalised distribution). Native classes without an Ekman
    counterpart are dropped. ``eps`` keeps empty groups finite.
    """
    m = mapping_matrix(label_space, "ekman7")
    grouped = probs.astype(np.float64) @ m.astype(np.float64) + eps
    grouped /= grouped.sum(1, keepdims=True)
    return np.log(grouped)


@dataclass(frozen=True)
class ExpertNeeds:
    """What an expert needs from whoever runs it (the analysis paths read this, not signatures).

    Attributes:
        input: Kind of input item: ``"text"`` (strings), ``"waveform"`` (``(samples, rate)``
            pairs or audio paths), ``"face_crop"`` (``(48, 48)`` uint8 crops or face images).
        sample_rate: Rate waveforms are read at (Hz), for ``"waveform"`` experts.
        threads: ``from_dir`` takes ``threads=`` for its own compute (e.g. a Whisper encoder).
        shared: Shared passes the expert can reuse instead of running its own, by name
            (``"whisper-encoder"``: :class:`~emofuse.experts.whisper_features.Encoded` per item,
            passed as ``predict(..., shared={"whisper-encoder": [...]})``).
    """

    input: str
    sample_rate: int | None = None
    threads: bool = False
    shared: tuple[str, ...] = ()


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


class Expert(ABC):
    """Base class of every expert.

    Subclasses set the class attributes, implement :meth:`_forward` (validated inputs →
    native logits, optional Ekman logits, per-input info) and :meth:`from_dir`.

    Args:
        card: The model card (dict), as read from ``card.json``.
    """

    name: ClassVar[str]
    modality: ClassVar[str]
    label_space: ClassVar[str]
    multilabel: ClassVar[bool]
    needs: ClassVar[ExpertNeeds]
    description: ClassVar[str] = ""

    def __init__(self, card: dict[str, Any]) -> None:
        self.card = card
        space = get_label_space(self.label_space)
        if tuple(card.get("classes", ())) != space.classes:
            raise CheckpointError(f"expert {self.name!r}: card classes {card.get('classes')} do not match label "
                                  f"space {self.label_space!r} {space.classes}")
        calib = card.get("calibration", {})
        self.temperature = float(calib.get("temperature", 1.0))
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise CheckpointError(f"expert {self.name!r}: temperature must be a positive number, "
                                  f"got {self.temperature!r}")
        th = card.get("thresholds")
        self.thresholds: np.ndarray | None = None
        if self.multilabel and th is not None:
            self.thresholds = np.asarray([float(th[c]) for c in space.classes], dtype=np.float32)

    @property
    def classes(self) -> tuple[str, ...]:
        """Native class names in output order."""
        return get_label_space(self.label_space).classes

    @property
    def prior(self) -> float:
        """Fusion prior of this expert: its validation skill above chance, from its own card.

        The card's ``fusion`` block names the metrics (paths into ``metrics``), the chance level
        of each, their weights, and a ``shade`` factor (e.g. for acted training speech); the
        prior is ``shade × Σ weight × (metric − chance)``, at least 0.
        """
        return card_prior(self.card)

    @property
    def pad_s(self) -> float:
        """Seconds of silence put before and after a segment before this expert reads it.

        From the card's ``preprocessing.segment_pad_s``: an expert trained on whole recorded
        files (speech with silence around it) reads voice-activity segments trimmed to the
        speech differently; padding hands it what it was trained on. 0 when the card says nothing.
        """
        return float((self.card.get("preprocessing") or {}).get("segment_pad_s", 0.0))

    @property
    def absent_class(self) -> str | None:
        """The class whose probability means *no evidence* rather than evidence of that class.

        Read from the card's ``fusion.absent_class`` (e.g. ``"neutral"`` for the text expert:
        lexically neutral words say nothing about how the speaker feels); ``None`` for experts
        whose every class is evidence (a neutral face is a neutral expression).
        """
        return absent_class(self.card)

    @classmethod
    @abstractmethod
    def from_dir(cls, directory: str | Path, **kwargs: Any) -> Expert:
        """Build the expert from a weights directory (``head.safetensors`` + ``card.json``)."""

    @abstractmethod
    def _forward(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None, dict[str, list[Any]]]:
        """Inputs → ``(native logits (N, C), ekman7 logits (N, 7) or None, info)``.

        Implementations validate their inputs and raise :class:`~emofuse.errors.DataError`.
        When the Ekman logits are ``None`` they are derived from the native probabilities by
        :func:`map_to_ekman`.
        """

    def predict(self, inputs: Any, *, shared: dict[str, list[Any]] | None = None) -> ExpertOutput:
        """Predict emotions for a batch of inputs of this expert's modality.

        Args:
            inputs: Items of the expert's input kind (:attr:`needs`), or a list of them.
            shared: Results of shared passes the expert declared in ``needs.shared`` (one per
                input), reused instead of being computed again; other names are refused.

        Raises:
            ConfigError: ``shared`` names a pass this expert does not take.

        Returns:
            :class:`ExpertOutput` with native probabilities ``(N, C)`` and the calibrated
            ``(N, 7)`` Ekman distribution (``softmax(ekman_logits / temperature)``).
        """
        if shared:
            unknown = sorted(set(shared) - set(self.needs.shared))
            if unknown:
                from emofuse.errors import ConfigError

                raise ConfigError(f"expert {self.name!r} takes no shared pass {unknown}; it takes "
                                  f"{list(self.needs.shared)}")
            logits, ek_logits, info = self._forward(inputs, shared=shared)  # type: ignore[call-arg]
        else:
            logits, ek_logits, info = self._forward(inputs)
        return self.output(logits, ek_logits, info)

    def output(self, logits: np.ndarray, ek_logits: np.ndarray | None, info: dict[str, list[Any]]) -> ExpertOutput:
        """The :class:`ExpertOutput` of native logits ``(N, C)`` and Ekman logits ``(N, 7)`` (or ``None``).

        What :meth:`predict` returns after :meth:`_forward`; experts with another route to their
        logits (e.g. a speaker-normalised reading) build their output with it too.
        """
        logits = np.asarray(logits, dtype=np.float64)
        probs = 1.0 / (1.0 + np.exp(-logits)) if self.multilabel else _softmax(logits)
        if ek_logits is None:
            ek_logits = map_to_ekman(probs, self.label_space)
        ekman = _softmax(np.asarray(ek_logits, dtype=np.float64) / self.temperature)
        return ExpertOutput(expert=self.name, label_space=self.label_space, classes=self.classes,
                            multilabel=self.multilabel, probs=probs.astype(np.float32),
                            ekman=ekman.astype(np.float32), thresholds=self.thresholds, info=info)

    def __call__(self, inputs: Any) -> ExpertOutput:
        """Same as :meth:`predict`."""
        return self.predict(inputs)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, modality={self.modality!r}, "
                f"label_space={self.label_space!r})")


EXPERTS: Registry[type[Expert]] = Registry("expert")


def card_prior(card: dict[str, Any]) -> float:
    """Fusion prior from a card's ``fusion`` block (see :attr:`Expert.prior`); 0 without one.

    Raises:
        CheckpointError: The block names a metric the card does not have.
    """
    block = card.get("fusion")
    if not block:
        return 0.0
    total = 0.0
    for item in block.get("skill", []):
        value: Any = card.get("metrics", {})
        for key in str(item["metric"]).split("."):
            if not isinstance(value, dict) or key not in value:
                raise CheckpointError(f"expert {card.get('name')!r}: fusion prior names metric "
                                      f"{item['metric']!r}, which its card does not have")
            value = value[key]
        total += float(item.get("weight", 1.0)) * (float(value) - float(item.get("chance", 0.0)))
    return max(0.0, float(block.get("shade", 1.0)) * total)


def absent_class(card: dict[str, Any]) -> str | None:
    """``fusion.absent_class`` of a card (see :attr:`Expert.absent_class`), checked against ekman7.

    Raises:
        CheckpointError: A class name that is not an ekman7 class.
    """
    name = (card.get("fusion") or {}).get("absent_class")
    if name is None:
        return None
    if name not in get_label_space("ekman7").classes:
        raise CheckpointError(f"expert {card.get('name')!r}: fusion.absent_class {name!r} is not an ekman7 class")
    return str(name)


def register_expert(cls: type[Expert]) -> type[Expert]:
    """Class decorator: register an :class:`Expert` subclass under its ``name``."""
    if getattr(cls, "modality", None) not in MODALITIES:
        raise ValueError(f"expert {cls.__name__}: modality must be one of {MODALITIES}, got "
                         f"{getattr(cls, 'modality', None)!r}")
    if not isinstance(getattr(cls, "needs", None), ExpertNeeds):
        raise ValueError(f"expert {cls.__name__}: declare what it needs as needs = ExpertNeeds(...)")
    get_label_space(cls.label_space)
    return EXPERTS.add(cls.name, cls)


def list_experts(pattern: str = "*", modality: str | None = None) -> list[str]:
    """Names of registered experts, optionally filtered by a shell pattern and a modality."""
    if modality is not None and modality not in MODALITIES:
        raise UnknownNameError("modality", modality, MODALITIES)
    return [n for n in EXPERTS.names(pattern) if modality is None or EXPERTS.get(n).modality == modality]


def load_expert(name: str, weights: str | Path | None = None, **kwargs: Any) -> Expert:
    """Load a registered expert with its shipped weights (or those in ``weights``).

    Args:
        name: Registry name (``"text-goemotions"``); a typo is answered with close matches.
        weights: Another weights directory with ``head.safetensors`` and ``card.json``
            (e.g. one written by a recipe); default the packaged ``weights/<name>/``.
        **kwargs: Passed to the expert's ``from_dir`` (e.g. ``batch_size``).

    Raises:
        UnknownNameError: No expert is called ``name``.
        MissingFileError: The weights or card are missing.
        ImportError: An optional backend of the expert is not installed (with the install hint).
        CheckpointError: The weights do not match the card.
    """
    cls = EXPERTS.get(name)
    return cls.from_dir(weights_dir(name) if weights is None else Path(weights), **kwargs)


# --------------------------------------------------------------------------- weights I/O


def weights_dir(name: str) -> Path:
    """Packaged weights directory of expert ``name`` (may not exist)."""
    return _WEIGHTS_ROOT / name


def read_card(directory: str | Path) -> dict[str, Any]:
    """Read and check ``card.json`` of a weights directory (:func:`emofuse.cards.read_card`, kind ``expert``).

    Raises:
        MissingFileError: No card.
        CheckpointError: Not valid JSON, not an emofuse expert card, a newer format, or missing
            required fields.
    """
    return cards.read_card(directory, kind="expert")


def read_weights(directory: str | Path, module: torch.nn.Module) -> dict[str, Any]:
    """Load ``head.safetensors`` into ``module`` strictly; return the card.

    Raises:
        MissingFileError: The weights or card are missing.
        CheckpointError: Missing/unexpected tensors or shape mismatches.
    """
    d = Path(directory)
    card = read_card(d)
    cards.load_weights_strict(module, d / WEIGHTS_FILE)
    return card


def write_weights(directory: str | Path, module: torch.nn.Module, card: dict[str, Any]) -> Path:
    """Write ``module``'s state as ``head.safetensors`` and ``card`` as ``card.json``.

    The card gets ``format``/``format_version`` (and ``emofuse_version`` when absent) and is
    checked for the required fields and machine-specific paths before anything is written.

    Raises:
        CheckpointError: The card lacks required fields or holds an absolute path.
    """
    d = Path(directory)
    cards.write_card(d, card, kind="expert")
    cards.save_weights(module, d / WEIGHTS_FILE, metadata={"format": CARD_FORMAT, "expert": str(card["name"])})
    return d
