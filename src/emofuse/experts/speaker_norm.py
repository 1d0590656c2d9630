"""Speaker-level feature normalisation for a voice expert: running statistics + a second head.

Emotion in the voice is largely a *change* from how a person usually sounds: one speaker's calm
voice is pitched and loud like another's anger. Z-scoring each utterance's features with the
statistics of other utterances of the same speaker removes much of that speaker (and channel)
offset. On the shipped ``whisper+hc`` features this raised the speaker-independent joint
RAVDESS+EmoDB UAR from 73.4 to 82.2 and the cross-corpus UARs by 11-21 points (validation
figures, ``recipes/voice_whisper/results_speaker_norm.md``).

It needs *several varied* utterances of one person: with 4 utterances it is worse than none,
with 8-16 it helps, and when every utterance carries the same emotion the normalisation removes
that emotion (chance level). So a speaker-normalised reading is blended with the plain one,
the weight rising from 0 at :attr:`SpeakerNormConfig.min_utterances` to 1 at
:attr:`SpeakerNormConfig.full_utterances` (:meth:`SpeakerNormConfig.weight`). It is opt-in:
``emofuse evaluate --speaker-norm`` (statistics over each speaker's items) and the analysis
setting ``voice_speaker_norm`` (running statistics over a recording's utterances, one person
assumed).

Weights: ``speaker_head.safetensors`` next to the expert's ``head.safetensors``, described by
the card's ``speaker_norm`` block (:func:`read_speaker_norm`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from emofuse import cards
from emofuse.errors import CheckpointError, DataError
from emofuse.experts.voice import VoiceHead, VoiceHeadConfig

__all__ = ["SPEAKER_WEIGHTS_FILE", "SpeakerNormConfig", "SpeakerNormHead", "SpeakerStats", "read_speaker_norm",
           "write_speaker_norm"]

#: File of the speaker-normalised head inside an expert's weights directory.
SPEAKER_WEIGHTS_FILE = "speaker_head.safetensors"


@dataclass(frozen=True)
class SpeakerNormConfig:
    """How a speaker-normalised reading is blended with the plain one (the card's ``speaker_norm``).

    Attributes:
        min_utterances: Utterances of the speaker below which the normalised reading gets no weight.
        full_utterances: Utterances from which it gets all the weight (linear in between).
        temperature: Calibration temperature of the normalised head's logits.
    """

    min_utterances: int = 8
    full_utterances: int = 16
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.min_utterances <= self.full_utterances or not self.temperature > 0:
            raise CheckpointError(f"speaker_norm: need 1 <= min_utterances <= full_utterances and temperature > 0, "
                                  f"got {self}")

    def weight(self, n: int) -> float:
        """Weight in ``[0, 1]`` of the normalised reading when the statistics hold ``n`` utterances."""
        if n < self.min_utterances:
            return 0.0
        if self.full_utterances == self.min_utterances:
            return 1.0
        return float(min(1.0, (n - self.min_utterances + 1) / (self.full_utterances - self.min_utterances + 1)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


class SpeakerStats:
    """Running per-dimension mean and variance of one speaker's utterance features.

    Updated batch by batch (Chan et al.'s parallel form of Welford's update), so a stream of
    utterances needs no history. Holds only ``n``, the mean and the sum of squared deviations:
    nothing of the audio.

    Args:
        n_features: Feature width ``F``.
    """

    def __init__(self, n_features: int) -> None:
        self.n = 0
        self.mean = np.zeros(n_features, np.float64)
        self._m2 = np.zeros(n_features, np.float64)

    def update(self, x: np.ndarray) -> SpeakerStats:
        """Add utterances ``x`` ``(N, F)``; returns ``self``.

        Raises:
            DataError: Wrong width or non-finite features.
        """
        x = np.atleast_2d(np.asarray(x, np.float64))
        if x.shape[1] != self.mean.shape[0]:
            raise DataError(f"speaker statistics of {self.mean.shape[0]} features got {x.shape[1]}")
        if not np.isfinite(x).all():
            raise DataError("speaker statistics: non-finite features")
        if len(x) == 0:
            return self
        nb, mb = len(x), x.mean(0)
        n = self.n + nb
        delta = mb - self.mean
        self._m2 += ((x - mb) ** 2).sum(0) + delta ** 2 * self.n * nb / n
        self.mean += delta * nb / n
        self.n = n
        return self

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation ``(F,)`` (zeros before two utterances)."""
        return np.sqrt(self._m2 / max(self.n, 1))

    def normalise(self, x: np.ndarray, floor: np.ndarray) -> np.ndarray:
        """``(x - mean) / max(std, floor)``, ``(N, F)`` float32.

        Raises:
            DataError: No utterance seen yet.
        """
        if self.n == 0:
            raise DataError("speaker statistics are empty: add utterances first")
        return ((np.asarray(x, np.float64) - self.mean) / np.maximum(self.std, floor)).astype(np.float32)


class SpeakerNormHead(nn.Module):
    """A :class:`~emofuse.experts.voice.VoiceHead` over speaker-normalised features, with its std floor.

    Shapes: normalised features ``(B, F)`` → logits ``(B, num_labels)``. ``floor`` ``(F,)`` is the
    smallest standard deviation a speaker's statistics may divide by (1e-3 of the training
    pool's; a few utterances can leave a dimension almost constant).
    """

    def __init__(self, config: VoiceHeadConfig) -> None:
        super().__init__()
        self.head = VoiceHead(config)
        self.register_buffer("floor", torch.full((config.n_features,), 1e-6))

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the native classes."""
        return self.head(x)


def read_speaker_norm(directory: str | Path, card: dict[str, Any]) -> tuple[SpeakerNormHead, SpeakerNormConfig] | None:
    """The speaker-normalised head of a weights directory, when its card has a ``speaker_norm`` block.

    Raises:
        MissingFileError: The card names the head but its file is missing.
        CheckpointError: Malformed block or tensors.
    """
    block = card.get("speaker_norm")
    if not block:
        return None
    known = {f.name for f in fields(SpeakerNormConfig)}
    try:
        cfg = SpeakerNormConfig(**{k: block[k] for k in known if k in block})
        module = SpeakerNormHead(VoiceHeadConfig.from_dict(block["head_config"]))
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{directory}: card block speaker_norm is malformed ({err})") from err
    cards.load_weights_strict(module, Path(directory) / SPEAKER_WEIGHTS_FILE)
    return module.eval(), cfg


def write_speaker_norm(directory: str | Path, module: SpeakerNormHead, cfg: SpeakerNormConfig,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``speaker_head.safetensors``; return the card's ``speaker_norm`` block (to merge in)."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    cards.save_weights(module, path / SPEAKER_WEIGHTS_FILE, metadata={"format": "emofuse-speaker-norm"})
    return {**cfg.to_dict(), "file": SPEAKER_WEIGHTS_FILE, "head_config": module.head.config.to_dict(),
            **(extra or {})}
