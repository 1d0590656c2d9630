"""Voice activity detection and utterance segmentation, streaming.

Speech probabilities come from Silero VAD (v6, ONNX), the copy that ships inside
``faster-whisper`` (run with onnxruntime; no torch, no download): one probability per 32 ms
frame of 16 kHz audio. :class:`SpeechSegmenter` turns that probability stream into utterances
as it arrives, so a long file never has to be held in memory:

1. hysteresis — speech starts when a frame reaches ``threshold`` and continues until the
   probability stays below ``neg_threshold`` for ``min_silence_s`` (short pauses inside a
   sentence do not split it);
2. utterances shorter than ``min_speech_s`` are dropped (clicks, breaths);
3. utterances longer than ``max_segment_s`` are cut at the least speech-like frame of their
   last third (so one long monologue still gives a timeline, and each piece fits one ASR
   window);
4. each utterance is padded by ``pad_s`` on both sides (never into the previous one).

Every utterance carries its mean speech probability, used as the voice path's quality signal.

Example:
    >>> seg = SpeechSegmenter(VadConfig(min_silence_s=0.2, min_speech_s=0.1, pad_s=0.0))
    >>> probs = [0.0] * 10 + [0.9] * 20 + [0.0] * 20
    >>> [(round(s.start, 3), round(s.end, 3)) for s in seg.push(probs) + seg.finish()]
    [(0.32, 0.96)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emofuse.errors import ConfigError

__all__ = ["FRAME_S", "FRAME_SAMPLES", "SpeechDetector", "SpeechSegmenter", "Utterance", "VadConfig"]

#: Samples per VAD frame at 16 kHz, and the frame length in seconds.
FRAME_SAMPLES = 512
FRAME_S = FRAME_SAMPLES / 16000


@dataclass(frozen=True)
class VadConfig:
    """Settings of :class:`SpeechSegmenter` (seconds and probabilities).

    Attributes:
        threshold: Probability at which speech starts.
        neg_threshold: Probability below which a frame counts as silence once speech started.
        min_silence_s: Silence that ends an utterance.
        min_speech_s: Shortest utterance kept.
        max_segment_s: Longest utterance before a forced cut.
        pad_s: Padding added on each side.
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_silence_s: float = 0.6
    min_speech_s: float = 0.3
    max_segment_s: float = 15.0
    pad_s: float = 0.15

    def __post_init__(self) -> None:
        if not (0 < self.neg_threshold <= self.threshold < 1):
            raise ConfigError(f"vad: need 0 < neg_threshold <= threshold < 1, got {self.neg_threshold}, "
                              f"{self.threshold}")
        if self.min_silence_s <= 0 or self.min_speech_s < 0 or self.pad_s < 0:
            raise ConfigError("vad: min_silence_s must be > 0, min_speech_s and pad_s >= 0")
        if self.max_segment_s < max(1.0, 2 * self.min_speech_s):
            raise ConfigError(f"vad: max_segment_s must be at least 1 s, got {self.max_segment_s}")


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech.

    Attributes:
        start: Start in seconds (padded).
        end: End in seconds (padded).
        speech_prob: Mean speech probability of its frames.
    """

    start: float
    end: float
    speech_prob: float


class SpeechDetector:
    """Silero VAD speech probabilities for a stream of 16 kHz mono audio.

    Feed any number of samples with :meth:`feed`; it returns the probabilities of the
    complete 32 ms frames seen so far (the remainder waits for the next call). Each frame is
    scored with the 64 samples before it as context, exactly as in one pass over the whole
    signal and the model's recurrent state carried from one call to the next, so the
    probabilities do not depend on how the audio was cut into chunks (a live
    microphone's 0.5 s chunks and a file's 2 s chunks give the same frames). The ONNX model is
    loaded once per process and shared by all detectors.

    Raises:
        ImportError: faster-whisper (which ships the model) or onnxruntime is not installed.
    """

    def __init__(self) -> None:
        self._session = _vad_session()
        self._rest = np.zeros(0, np.float32)
        self._context = np.zeros(_CONTEXT, np.float32)  # last samples of the previous frame
        self._h = np.zeros((1, 1, 128), np.float32)  # Silero's recurrent state
        self._c = np.zeros((1, 1, 128), np.float32)

    def _score(self, x: np.ndarray) -> np.ndarray:
        frames = x.reshape(-1, FRAME_SAMPLES)
        ctx = np.concatenate([self._context[None, :], frames[:-1, -_CONTEXT:]], axis=0)
        self._context = frames[-1, -_CONTEXT:].copy()
        batch = np.ascontiguousarray(np.concatenate([ctx, frames], axis=1), dtype=np.float32)
        out = []
        for i in range(0, len(batch), _MAX_BATCH):  # the recurrent state runs on across calls
            p, self._h, self._c = self._session.run(None, {"input": batch[i:i + _MAX_BATCH], "h": self._h,
                                                           "c": self._c})
            out.append(np.asarray(p, np.float32).reshape(-1))
        return np.concatenate(out)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Probabilities ``(F,)`` of the complete frames in ``rest + samples``."""
        x = np.concatenate([self._rest, np.asarray(samples, np.float32).reshape(-1)])
        n = (len(x) // FRAME_SAMPLES) * FRAME_SAMPLES
        self._rest = x[n:]
        if n == 0:
            return np.zeros(0, np.float32)
        return self._score(x[:n])

    def flush(self) -> np.ndarray:
        """Probability of the last partial frame (zero-padded), if any."""
        if len(self._rest) == 0:
            return np.zeros(0, np.float32)
        x = np.zeros(FRAME_SAMPLES, np.float32)
        x[:len(self._rest)] = self._rest
        self._rest = np.zeros(0, np.float32)
        return self._score(x)


_CONTEXT = 64  # samples of context Silero v6 reads before each 512-sample frame
_MAX_BATCH = 4096
_SESSION: Any = None


def _vad_session() -> Any:
    """The Silero VAD ONNX session shipped in faster-whisper (loaded once per process)."""
    global _SESSION
    if _SESSION is None:
        try:
            from faster_whisper.vad import get_vad_model
        except ImportError as err:  # pragma: no cover - part of the analyze extra
            raise ImportError("voice activity detection needs faster-whisper (it ships Silero VAD): "
                              "pip install 'emofuse[analyze]'") from err
        _SESSION = get_vad_model().session
    return _SESSION


class SpeechSegmenter:
    """Streaming speech-probability → utterance segmentation (see the module docstring).

    Args:
        config: Thresholds and durations.
        frame_s: Duration of one probability frame in seconds.
    """

    def __init__(self, config: VadConfig | None = None, frame_s: float = FRAME_S) -> None:
        self.config = config or VadConfig()
        self.frame_s = float(frame_s)
        self._i = 0  # index of the next frame
        self._start: int | None = None  # first frame of the open utterance
        self._probs: list[float] = []  # probabilities of the open utterance's frames
        self._silence = 0  # consecutive silent frames at the end of the open utterance
        self._last_end = 0.0  # end of the previous emitted utterance (padding never crosses it)

    def _emit(self, start: int, probs: Sequence[float], pad_end: bool = True) -> Utterance | None:
        c = self.config
        if len(probs) * self.frame_s < c.min_speech_s or not len(probs):
            return None
        s = max(self._last_end, start * self.frame_s - c.pad_s, 0.0)
        e = (start + len(probs)) * self.frame_s + (c.pad_s if pad_end else 0.0)
        self._last_end = e
        return Utterance(start=round(s, 3), end=round(e, 3), speech_prob=round(float(np.mean(probs)), 4))

    def push(self, probs: Any) -> list[Utterance]:
        """Consume frame probabilities; return the utterances that closed."""
        c = self.config
        out: list[Utterance] = []
        max_frames = max(1, int(c.max_segment_s / self.frame_s))
        min_sil = max(1, int(round(c.min_silence_s / self.frame_s)))
        for p in np.asarray(probs, dtype=np.float32).reshape(-1):
            p = float(p)
            if self._start is None:
                if p >= c.threshold:
                    self._start, self._probs, self._silence = self._i, [p], 0
            else:
                self._probs.append(p)
                self._silence = self._silence + 1 if p < c.neg_threshold else 0
                if self._silence >= min_sil:
                    u = self._emit(self._start, self._probs[:-self._silence])
                    if u:
                        out.append(u)
                    self._start = None
                elif len(self._probs) >= max_frames:
                    # cut at the least speech-like frame of the last third; keep the tail open
                    lo = 2 * len(self._probs) // 3
                    tail = np.asarray(self._probs[lo:])
                    cut = lo + len(tail) - 1 - int(np.argmin(tail[::-1]))  # the latest of equal minima
                    cut = max(cut, 1)
                    u = self._emit(self._start, self._probs[:cut], pad_end=False)
                    if u:
                        out.append(u)
                    # the next piece starts exactly where this one ended
                    self._start, self._probs = self._start + cut, self._probs[cut:]
                    self._silence = 0
            self._i += 1
        return out

    def finish(self) -> list[Utterance]:
        """Close the open utterance at the end of the stream."""
        if self._start is None:
            return []
        probs = self._probs[:len(self._probs) - self._silence] if self._silence else self._probs
        u = self._emit(self._start, probs)
        self._start, self._probs, self._silence = None, [], 0
        return [u] if u else []
