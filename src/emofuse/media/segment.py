"""The segmenter: audio in, chunk by chunk; closed segments out, as soon as they are final.

:class:`Segmenter` owns everything that decides *where* the segments of a recording are, and
nothing about what is in them (it knows no expert):

* the **audio buffer** — only the audio of segments not yet closed is kept (at most one segment
  plus the open utterance), so memory stays flat whatever the length;
* **voice activity** — Silero speech probabilities (:class:`~emofuse.media.vad.SpeechDetector`,
  chunking-invariant) for every 32 ms frame, kept as the quality signal of every segment;
* the **segmentation** itself (``mode``):

  - ``"transcript"`` — the timed cues of a transcript, in time order;
  - ``"vad"`` — utterances from :class:`~emofuse.media.vad.SpeechSegmenter`; with
    ``fill_gaps``, speech-free stretches of at least ``min_gap_s`` are covered by fixed
    windows (``filler`` segments, e.g. so a video's face timeline has no holes), emitted as
    soon as the next utterance (or the end) bounds them;
  - ``"window"`` — fixed windows of ``window_s``, a short tail folded into the last one;

* **untimed transcripts** — sentences without times are spread over the speech segments in
  order, by duration, when the stream ends (:meth:`Segmenter.flush` sets ``text`` on the
  segments it emitted before; they are flagged ``approximate``).

Feed audio with :meth:`Segmenter.feed_audio` (any chunk length; a live microphone's 0.5 s
chunks give the same segments as a file's 2 s chunks), tell it how far a stream without audio
has got with :meth:`Segmenter.advance`, and call :meth:`Segmenter.flush` at the end. Each call
returns the segments that closed, each with its waveform (the first ``max_audio_s`` seconds,
16 kHz) and its mean speech probability.

Example:
    >>> import numpy as np
    >>> seg = Segmenter(mode="window", window_s=2.0, has_audio=True, vad=False)
    >>> closed = seg.feed_audio(0.0, np.zeros(16000 * 5, np.float32))
    >>> [(s.start, s.end) for s in closed]
    [(0.0, 2.0), (2.0, 4.0)]
    >>> [(s.start, s.end) for s in seg.flush(5.0)]
    [(4.0, 5.0)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emofuse.errors import ConfigError
from emofuse.media.vad import FRAME_S, VadConfig

__all__ = ["MODES", "SAMPLE_RATE", "AudioBuffer", "Segment", "Segmenter", "sentences", "windows"]

SAMPLE_RATE = 16000
MODES = ("transcript", "vad", "window")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def sentences(text: str) -> list[str]:
    """Split a text into sentences (line breaks and ``.!?…`` followed by a space)."""
    out = []
    for line in text.splitlines():
        out.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return out


@dataclass(eq=False)
class Segment:
    """One closed segment of a recording.

    Attributes:
        start: Start in seconds (media clock).
        end: End in seconds.
        source: ``"vad"``, ``"transcript"`` or ``"window"``.
        filler: A window over a speech-free stretch between utterances (no speech expected).
        text: Known words (from the transcript); ``None`` = unknown (speech recognition may
            fill it in).
        text_source: ``"transcript"`` or ``"asr"`` once ``text`` is set.
        approximate: ``text`` was spread from an untimed transcript (its times are a guess).
        speech_prob: Mean Silero speech probability over the analysed audio (0 without audio).
        audio: ``(T,)`` float32 16 kHz waveform of the first ``max_audio_s`` seconds, or
            ``None`` when no audio covers the segment. Dropped once the segment is analysed.
        speech: ``(start, end)`` of the voice activity inside the segment's audio (seconds,
            media clock; the VAD's padding included), so that a transcript cue or a window with
            silence around its speech reads like a voice-activity utterance; ``None`` when
            unknown (no VAD) or when no frame reached the speech threshold.
        words: Recognised words with media times (set by speech recognition).
        asr_confidence: Mean word probability of the recognised words.
        cache: Per-segment results shared between modality paths (e.g. one Whisper encoder
            pass read by speech recognition and the voice expert); cleared when done.
        context: ``(before, after)``: the recording's non-speech audio just before ``start``
            and just after the segment's audio (each at most the segmenter's ``context_s``,
            cut where the voice activity detector hears speech), so that the voice can be read
            with the room tone around it (:meth:`padded_speech`); ``None``: pad with digital
            silence. Dropped with ``audio``.
    """

    start: float
    end: float
    source: str
    filler: bool = False
    text: str | None = None
    text_source: str | None = None
    approximate: bool = False
    speech_prob: float = 0.0
    audio: np.ndarray | None = None
    speech: tuple[float, float] | None = None
    words: list[dict[str, Any]] = field(default_factory=list)
    asr_confidence: float | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    context: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def key(self) -> tuple[float, float]:
        """``(start, end)``: the order segments are reported in."""
        return (self.start, self.end)

    def speech_audio(self) -> tuple[float, np.ndarray | None]:
        """``(t0, wave)``: the audio of the voice activity inside the segment and its media start time.

        The whole ``audio`` (from ``start``) when the voice activity is unknown.
        """
        if self.audio is None or self.speech is None:
            return self.start, self.audio
        i0 = max(0, int(round((self.speech[0] - self.start) * SAMPLE_RATE)))
        i1 = min(len(self.audio), int(round((self.speech[1] - self.start) * SAMPLE_RATE)))
        if i1 - i0 < SAMPLE_RATE // 10:
            return self.start, self.audio
        return self.start + i0 / SAMPLE_RATE, self.audio[i0:i1]

    def padded_speech(self, pad_s: float) -> tuple[float, np.ndarray | None]:
        """``(t0, wave)``: :meth:`speech_audio` with ``pad_s`` seconds added on each side.

        The padding is the recording's own audio next to the speech where :attr:`context` is
        known (the segment's audio around its voice activity, then the context): a voice expert
        trained on whole recorded files heard room tone around the speech, not digital silence.
        Digital silence fills what the recording lacks (its start or end, speech next door) and
        all of the padding when :attr:`context` is ``None``. ``t0`` is the media time of the
        first sample of ``wave`` (``pad_s`` before the speech).
        """
        t0, speech = self.speech_audio()
        n = int(round(max(float(pad_s), 0.0) * SAMPLE_RATE))
        if speech is None or n == 0:
            return t0, speech
        empty = np.zeros(0, np.float32)
        left = right = empty
        if self.context is not None and self.audio is not None:
            i0 = max(0, int(round((t0 - self.start) * SAMPLE_RATE)))
            i1 = min(len(self.audio), i0 + len(speech))
            left = np.concatenate([self.context[0], self.audio[:i0]])[-n:]
            right = np.concatenate([self.audio[i1:], self.context[1]])[:n]
        wave = np.concatenate([np.zeros(n - len(left), np.float32), left, np.asarray(speech, np.float32),
                               right, np.zeros(n - len(right), np.float32)])
        return t0 - n / SAMPLE_RATE, wave


def windows(t0: float, t1: float, w: float, source: str = "window", filler: bool = False) -> list[Segment]:
    """Fixed windows of ``w`` seconds over ``[t0, t1)``; a tail under ``w / 2`` joins the last window."""
    out: list[Segment] = []
    t = t0
    while t < t1 - 1e-6:
        e = min(t1, t + w)
        if e - t < 0.5 * w and out:
            out[-1].end = round(e, 3)
        else:
            out.append(Segment(start=round(t, 3), end=round(e, 3), source=source, filler=filler))
        t = e
    return out


class AudioBuffer:
    """16 kHz mono audio from ``start`` on, trimmed as segments close (bounded memory)."""

    def __init__(self) -> None:
        self.start = 0.0
        self._parts: list[np.ndarray] = []
        self.n = 0
        self.seen = False

    @property
    def end(self) -> float:
        """Time just after the last buffered sample, seconds."""
        return self.start + self.n / SAMPLE_RATE

    def append(self, t: float, x: np.ndarray) -> None:
        """Add samples starting at time ``t`` (a gap since the last samples is filled with silence)."""
        if not self.seen:
            self.start, self.seen = t, True
        elif t > self.end + 1.0 / SAMPLE_RATE:
            gap = np.zeros(int(round((t - self.end) * SAMPLE_RATE)), np.float32)
            self._parts.append(gap)
            self.n += len(gap)
        self._parts.append(np.asarray(x, np.float32).reshape(-1))
        self.n += len(self._parts[-1])

    def _joined(self) -> np.ndarray:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0] if self._parts else np.zeros(0, np.float32)

    def get(self, s: float, e: float) -> np.ndarray:
        """A copy of the samples in ``[s, e)`` that are still buffered."""
        buf = self._joined()
        i0 = max(0, int(round((s - self.start) * SAMPLE_RATE)))
        i1 = max(i0, min(len(buf), int(round((e - self.start) * SAMPLE_RATE))))
        return buf[i0:i1].copy()

    def trim(self, keep_from: float) -> None:
        """Drop the samples before ``keep_from``."""
        drop = int((keep_from - self.start) * SAMPLE_RATE)
        if drop <= 0 or not self._parts:
            return
        buf = self._joined()
        drop = min(drop, len(buf))
        self._parts = [buf[drop:]]
        self.n = len(self._parts[0])
        self.start += drop / SAMPLE_RATE


class Segmenter:
    """Streaming segmentation of one recording (see the module docstring).

    Args:
        mode: ``"transcript"``, ``"vad"`` or ``"window"``.
        has_audio: The recording has audio (fed with :meth:`feed_audio`).
        cues: Timed transcript cues (objects with ``start``, ``end``, ``text``) for ``"transcript"``.
        untimed: Untimed transcript lines, spread over the speech segments at the end.
        window_s: Window length, seconds.
        fill_gaps: In ``"vad"`` mode, cover speech-free stretches with ``filler`` windows.
        min_gap_s: Shortest stretch filled.
        vad: Voice activity settings; ``False`` turns speech probabilities off (tests, text-only).
        max_audio_s: Longest stretch of audio handed out per segment (its start), seconds.
        context_s: Non-speech audio kept on each side of a speech segment (:attr:`Segment.context`),
            seconds; a segment closes once ``context_s`` of audio after it has arrived. 0 (or
            ``"window"`` mode): none.

    Raises:
        ConfigError: Unknown mode, or ``"transcript"`` without cues, or ``"vad"`` without audio.
    """

    def __init__(self, mode: str, *, has_audio: bool, cues: Sequence[Any] = (), untimed: Sequence[str] = (),
                 window_s: float = 5.0, fill_gaps: bool = False, min_gap_s: float = 2.0,
                 vad: VadConfig | bool | None = None, max_audio_s: float = 30.0, context_s: float = 0.0) -> None:
        if mode not in MODES:
            raise ConfigError(f"segmenter: mode must be one of {MODES}, got {mode!r}")
        if mode == "transcript" and not cues:
            raise ConfigError("segmenter: mode 'transcript' needs timed cues")
        if mode == "vad" and (not has_audio or vad is False):
            raise ConfigError("segmenter: mode 'vad' needs audio and voice activity detection")
        self.mode, self.has_audio = mode, bool(has_audio)
        self.window_s, self.fill_gaps, self.min_gap_s = float(window_s), bool(fill_gaps), float(min_gap_s)
        self.max_audio_s = float(max_audio_s)
        self.context_s = max(0.0, float(context_s)) if mode != "window" and has_audio else 0.0
        self.vad_config = vad if isinstance(vad, VadConfig) else VadConfig()
        self.untimed = [s for line in untimed for s in sentences(line)]
        self.buffer = AudioBuffer()
        self._detector: Any = None
        self._utterances: Any = None
        if self.has_audio and vad is not False:
            from emofuse.media.vad import SpeechDetector, SpeechSegmenter

            self._detector = SpeechDetector()
            if mode == "vad":
                self._utterances = SpeechSegmenter(self.vad_config)
        self._probs: list[np.ndarray] = []
        self._n_probs = 0
        self._vad_t0: float | None = None
        self._pending: list[Segment] = []  # known but not yet closed (their audio is incomplete)
        if mode == "transcript":
            self._pending = [Segment(start=float(c.start), end=float(c.end if c.end is not None else c.start),
                                     source="transcript", text=c.text, text_source="transcript")
                             for c in sorted(cues, key=lambda c: c.start)]
        self._next_window = 0.0  # window mode: start of the next window to emit
        self._speech_end = 0.0  # vad mode: end of the last utterance (start of the current gap)
        self._t = 0.0  # how far the stream has got
        self._emitted: list[Segment] = []  # kept (without audio) only to spread untimed text over
        self.n_emitted = 0

    # ------------------------------------------------------------------ speech probabilities

    def _vad_frames(self, s: float, e: float) -> tuple[int, np.ndarray] | None:
        """``(i0, probs)``: the index of the first VAD frame in ``[s, e)`` and the frames' probabilities."""
        if not self._n_probs or self._vad_t0 is None:
            return None
        i0 = max(0, int((s - self._vad_t0) / FRAME_S))
        i1 = min(self._n_probs, max(i0 + 1, int(np.ceil((e - self._vad_t0) / FRAME_S))))
        if i0 >= i1:
            return None
        if len(self._probs) > 1:
            self._probs = [np.concatenate(self._probs)]
        return i0, self._probs[0][i0:i1]

    def speech_prob(self, s: float, e: float) -> float:
        """Mean speech probability of the VAD frames in ``[s, e)`` (0 when none were seen)."""
        frames = self._vad_frames(s, e)
        return 0.0 if frames is None else float(frames[1].mean())

    def _speech_span(self, s: float, e: float) -> tuple[float, float] | None:
        """Start of the first and end of the last VAD frame at the speech threshold in ``[s, e)``."""
        frames = self._vad_frames(s, e)
        if frames is None:
            return None
        i0, probs = frames
        hit = np.flatnonzero(probs >= self.vad_config.threshold)
        if not len(hit):
            return None
        t0 = float(self._vad_t0 or 0.0)  # set: frames were found
        return t0 + (i0 + hit[0]) * FRAME_S, t0 + (i0 + hit[-1] + 1) * FRAME_S

    def speech_bounds(self, s: float, e: float) -> tuple[float, float] | None:
        """First to last VAD frame at the speech threshold in ``[s, e)``, widened by the VAD padding."""
        span = self._speech_span(s, e)
        pad = self.vad_config.pad_s
        return None if span is None else (max(s, span[0] - pad), min(e, span[1] + pad))

    def context(self, start: float, a_end: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """``(before, after)``: buffered non-speech audio before ``start`` and after ``a_end``.

        Each at most :attr:`context_s` long, cut the VAD padding away from the nearest frame at
        the speech threshold (the room tone stops where a neighbouring utterance's segment would
        begin or end); nothing after ``a_end`` when the segment's audio stops before its ``end``
        (the speech goes on).
        """
        c, buf, pad = self.context_s, self.buffer, self.vad_config.pad_s
        pre_s = max(buf.start, start - c)
        post_e = a_end + c if a_end >= end - 1e-6 else a_end
        before = self._speech_span(pre_s, start)
        if before is not None:
            pre_s = max(pre_s, before[1] + pad)
        after = self._speech_span(a_end, post_e)
        if after is not None:
            post_e = min(post_e, max(a_end, after[0] - pad))
        empty = np.zeros(0, np.float32)
        return (buf.get(pre_s, start) if pre_s < start else empty,
                buf.get(a_end, post_e) if post_e > a_end else empty)

    def _add_probs(self, p: np.ndarray) -> list[Segment]:
        if len(p):
            self._probs.append(p)
            self._n_probs += len(p)
        if self._utterances is None:
            return []
        return [Segment(start=u.start, end=u.end, source="vad") for u in self._utterances.push(p)]

    # ------------------------------------------------------------------ closing segments

    def _close(self, seg: Segment) -> Segment:
        """Attach the segment's audio and speech probability; it is final from here on."""
        if seg.filler:
            seg.speech_prob = self.speech_prob(seg.start, seg.end)
        else:
            a_end = min(seg.end, seg.start + self.max_audio_s)
            seg.speech_prob = self.speech_prob(seg.start, a_end)
            if self.has_audio and self.buffer.seen and seg.start < self.buffer.end:
                seg.audio = self.buffer.get(seg.start, a_end)
                seg.speech = self.speech_bounds(seg.start, a_end) if seg.source != "vad" else (seg.start, a_end)
                if self.context_s:
                    seg.context = self.context(seg.start, a_end, seg.end)
        if self.untimed:
            self._emitted.append(seg)
        self.n_emitted += 1
        return seg

    def _gap(self, until: float) -> list[Segment]:
        """Filler windows over the speech-free stretch since the last utterance (vad mode)."""
        out: list[Segment] = []
        if self.mode == "vad" and self.fill_gaps and until - self._speech_end >= self.min_gap_s:
            out = windows(self._speech_end, until, self.window_s, filler=True)
        return out

    def _ready(self, final: bool, end: float) -> list[Segment]:
        """Pending segments whose audio is complete (all of them when ``final``)."""
        audio_end = self.buffer.end if self.buffer.seen else self._t
        out, keep = [], []
        for s in self._pending:
            need = min(s.end, s.start + self.max_audio_s)
            if self.context_s and need >= s.end:  # the room tone after it must have arrived too
                need += self.context_s
            if final or need <= audio_end or (not self.has_audio and s.end <= self._t):
                if final:
                    s.end = min(s.end, end) if s.source == "vad" else s.end
                out.append(s)
            else:
                keep.append(s)
        self._pending = keep
        closed: list[Segment] = []
        for s in out:
            if s.source == "vad":
                closed += [self._close(w) for w in self._gap(s.start)]
                self._speech_end = s.end
            closed.append(self._close(s))
        return closed

    def _windows_until(self, t: float, final: bool) -> list[Segment]:
        if self.mode != "window":
            return []
        if final:
            ws = windows(self._next_window, t, self.window_s)
        else:  # a window is final once the next one cannot be folded into it
            ws = []
            while self._next_window + 1.5 * self.window_s <= t + 1e-9:
                e = self._next_window + self.window_s
                ws.append(Segment(start=round(self._next_window, 3), end=round(e, 3), source="window"))
                self._next_window = e
        if final and ws:
            self._next_window = ws[-1].end
        self._pending.extend(ws)
        return []

    def _trim(self) -> None:
        keep = min([s.start for s in self._pending], default=self.buffer.end) - self.context_s
        if self.mode == "window":  # the next window is not pending yet but its audio is coming in
            keep = min(keep, self._next_window)
        if self._utterances is not None:
            keep = min(keep, self.buffer.end - self.vad_config.max_segment_s - 1.0 - self.context_s)
        self.buffer.trim(keep)

    # ------------------------------------------------------------------ public API

    def feed_audio(self, start: float, samples: np.ndarray) -> list[Segment]:
        """Add 16 kHz mono audio starting at ``start`` seconds; return the segments that closed."""
        x = np.asarray(samples, np.float32).reshape(-1)
        self.buffer.append(start, x)
        if self._vad_t0 is None:
            self._vad_t0 = start
        if self._detector is not None:
            self._pending.extend(self._add_probs(self._detector.feed(x)))
        self._t = max(self._t, self.buffer.end)
        self._windows_until(self._t, final=False)
        closed = self._ready(final=False, end=self._t)
        self._trim()
        return closed

    def advance(self, t: float) -> list[Segment]:
        """The stream has reached ``t`` seconds (e.g. a video frame); closes segments of a stream without audio."""
        self._t = max(self._t, float(t))
        if self.has_audio:
            return []
        self._windows_until(self._t, final=False)
        return self._ready(final=False, end=self._t)

    def flush(self, end: float) -> list[Segment]:
        """The stream ended at ``end`` seconds: close everything still open.

        Also spreads untimed transcript sentences over the speech segments (emitted before or
        now) and sets their ``text``.
        """
        end = max(float(end), self._t)
        if self._detector is not None:
            self._pending.extend(self._add_probs(self._detector.flush()))
        if self._utterances is not None:
            self._pending.extend(Segment(start=u.start, end=u.end, source="vad") for u in self._utterances.finish())
        self._windows_until(end, final=True)
        closed = self._ready(final=True, end=end)
        if self.mode == "vad":
            closed += [self._close(w) for w in self._gap(end)]
        self._spread_untimed()
        return closed

    def _spread_untimed(self) -> None:
        if not self.untimed:
            return
        ordered = sorted(self._emitted, key=lambda s: s.key)
        targets = [s for s in ordered if s.source in ("vad", "transcript")] or ordered
        if not targets:
            return
        total = sum(max(s.end - s.start, 1e-3) for s in targets)
        acc, bounds = 0.0, []
        for s in targets:
            acc += max(s.end - s.start, 1e-3)
            bounds.append(acc / total)
        assigned: list[list[str]] = [[] for _ in targets]
        for k, sent in enumerate(self.untimed):
            pos = (k + 0.5) / len(self.untimed)
            assigned[next(i for i, b in enumerate(bounds) if pos <= b + 1e-9)].append(sent)
        for s, words in zip(targets, assigned, strict=True):
            s.text, s.text_source, s.approximate = " ".join(words), "transcript", True
        self.untimed = []
