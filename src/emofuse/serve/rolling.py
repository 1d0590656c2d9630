"""A live stream analysed by an :class:`~emofuse.analysis.AnalysisSession`, with a rolling estimate.

:class:`LiveAnalysis` is what one ``/live`` connection drives (from one worker thread, one call
at a time): audio chunks, video frames and physiological chunks go to the session exactly as
:func:`emofuse.analyze` feeds it from a file, and the session's closed segments come back.

**The rolling estimate** (:meth:`LiveAnalysis.rolling`) answers "what now?" between segments.
It builds a *provisional* segment over the last ``window_s`` seconds of each signal — the audio
still in the session's segmenter buffer with its voice-activity probabilities and bounds, the
face frames already read, the physiological signals received — and reads it with **the session's
own modality paths** (the same experts, reliabilities and missing reasons as a closed segment),
then fuses the readings with **the session's fuser**. The session is not disturbed: the
provisional segment is never queued, nothing is added to the result, the time spent is kept
out of the session's timings. Words are the exception by default: speech recognition over the
window every interval costs more than the rest together, so the text modality of a rolling
estimate is missing ("words come with closed segments") unless ``text=True``. The physiological
reading (features over the 60 s before the window's end) is read again only once
:data:`PHYSIO_EVERY_S` more seconds of signal have arrived.

Example:
    >>> decode_audio(b"\\x00\\x40\\x00\\xc0", "s16").tolist()
    [0.5, -0.5]
    >>> try:
    ...     decode_audio(b"\\x00\\x40\\x00", "s16")
    ... except DataError as err:
    ...     print(err)
    audio chunk of 3 bytes: 16-bit samples take 2 bytes each (send whole samples)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import math
import time
from typing import Any

import numpy as np

from emofuse.analysis import AnalysisSession, AnalyzeConfig, ModalityResult, SegmentResult
from emofuse.errors import DataError
from emofuse.modalities import MODALITIES
from emofuse.serve.errors import ServeError

__all__ = ["AUDIO_FORMATS", "PHYSIO_EVERY_S", "SAMPLE_RATE", "LiveAnalysis", "decode_audio", "decode_frame",
           "segment_dict"]

#: Rate of live audio, Hz (16 kHz mono).
SAMPLE_RATE = 16000
#: Sample formats of binary audio messages: little-endian 16-bit integers or 32-bit floats.
AUDIO_FORMATS = {"s16": ("<i2", 2, 32768.0), "f32": ("<f4", 4, 1.0)}
_IMAGE_FORMATS = ("JPEG", "WEBP", "PNG")
#: The rolling estimate reads the physiological signals again after this many new seconds of them.
PHYSIO_EVERY_S = 5.0


def decode_audio(data: bytes, fmt: str) -> np.ndarray:
    """A binary audio message as float32 samples.

    Raises:
        DataError: A byte count that is not whole samples.
    """
    dtype, width, scale = AUDIO_FORMATS[fmt]
    if len(data) % width:
        bits = "16-bit" if width == 2 else "32-bit float"
        raise DataError(f"audio chunk of {len(data)} bytes: {bits} samples take {width} bytes each "
                        "(send whole samples)")
    x = np.frombuffer(data, dtype=dtype).astype(np.float32)
    return x / scale if scale != 1.0 else x


def decode_frame(payload: str, *, max_bytes: int, max_pixels: int, max_side: int) -> tuple[np.ndarray, float]:
    """A base64 JPEG/WebP/PNG frame as ``(RGB uint8, scale)``, scaled so its long side is at most ``max_side``.

    Raises:
        DataError: Not base64, over ``max_bytes``, not one of the image formats, over ``max_pixels``.
    """
    from PIL import Image

    if not isinstance(payload, str) or not payload:
        raise DataError("frame: 'jpeg' must be a base64 string of a JPEG or WebP image")
    if len(payload) > (max_bytes * 4) // 3 + 4:
        raise DataError(f"frame: the image is over the {max_bytes}-byte limit")
    if payload.startswith("data:") and "," in payload[:64]:
        payload = payload.split(",", 1)[1]
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise DataError("frame: 'jpeg' is not valid base64") from None
    try:
        with Image.open(io.BytesIO(raw)) as im:
            if im.format not in _IMAGE_FORMATS:
                raise DataError(f"frame: a {im.format} image; send JPEG or WebP")
            w, h = im.size
            if w * h > max_pixels or w <= 0 or h <= 0:
                raise DataError(f"frame: {w}x{h} is over the {max_pixels}-pixel limit")
            if im.format == "JPEG":
                im.draft("RGB", (max_side, max_side))  # decode at a reduced size straight away
            img = im.convert("RGB")
    except DataError:
        raise
    except Exception as err:  # Pillow: unreadable, truncated or bomb-sized data
        raise DataError(f"frame: not a readable image ({type(err).__name__})") from None
    if max(img.size) > max_side:
        k = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))))
    return np.asarray(img, dtype=np.uint8), img.width / w


def segment_dict(seg: SegmentResult) -> dict[str, Any]:
    """A segment as plain data (as in the result's JSON; face pixels left out)."""
    d = dataclasses.asdict(seg)
    for r in d["modalities"].values():
        r.pop("thumbnail", None)
    return d


def _mod_dict(r: ModalityResult) -> dict[str, Any]:
    d = dataclasses.asdict(r)
    d.pop("thumbnail", None)
    return d


class LiveAnalysis:
    """One live stream: an :class:`AnalysisSession` fed chunk by chunk, plus the rolling estimate.

    Args:
        config: Analysis settings.
        audio: Audio will be sent. ``video``: frames will be sent. ``physio``: physiological chunks.
        resources: Shared models (the service's thread-safe ones).
        max_duration_s: Longest stream, seconds of media.
        window_s: Seconds of each signal the rolling estimate reads.
        text: Run speech recognition in the rolling estimate.
        max_frame_bytes / max_frame_pixels: Limits of one video frame.

    Raises:
        ConfigError / UnknownNameError: Bad settings (from the session).
        DataError: Nothing to analyse (no audio, video or physiological signals).
    """

    def __init__(self, config: AnalyzeConfig, *, audio: bool, video: bool, physio: bool, resources: Any,
                 max_duration_s: float, window_s: float = 3.0, text: bool = False,
                 max_frame_bytes: int = 4 * 2**20, max_frame_pixels: int = 4096 * 4096) -> None:
        if not (audio or video or physio):
            raise DataError("start: send at least one of audio, video or physio")
        self.session = AnalysisSession(config, has_audio=audio, has_video=video, physio_live=physio,
                                       resources=resources, source="<live>", kind="live")
        self.cfg = self.session.cfg
        self.max_duration_s, self.window_s, self.text = float(max_duration_s), float(window_s), bool(text)
        self.max_frame_bytes, self.max_frame_pixels = int(max_frame_bytes), int(max_frame_pixels)
        self.audio_t = 0.0  # seconds of audio received
        self.frame_t: float | None = None
        self.physio_t: float | None = None
        self.n_frames = 0
        self.n_physio = 0
        self.n_segments = 0
        self.changed = False  # new input since the last rolling estimate
        self._physio: tuple[float, ModalityResult] | None = None  # the last rolling physio reading

    # ------------------------------------------------------------------ input

    def _check_time(self, t: float) -> None:
        if t > self.max_duration_s:
            raise ServeError(413, "too_long", f"the stream passed the {self.max_duration_s:.0f}-s limit")

    def feed_audio(self, data: bytes, fmt: str = "s16") -> list[SegmentResult]:
        """A binary audio message (16 kHz mono) appended after the audio received so far."""
        x = decode_audio(data, fmt)
        if not self.session.has_audio:
            raise DataError("audio: this session was started with audio: false")
        start = self.audio_t
        self._check_time(start + len(x) / SAMPLE_RATE)
        out = self.session.feed_audio(start, x)
        self.audio_t = start + len(x) / SAMPLE_RATE
        self.changed = True
        return self._count(out)

    def feed_frame(self, t: float, payload: str) -> list[SegmentResult]:
        """A base64 JPEG/WebP frame at ``t`` seconds of the stream (the audio's clock)."""
        if not self.session.has_video:
            raise DataError("frame: this session was started with video: false")
        if self.frame_t is not None and t < self.frame_t:
            raise DataError(f"frame: time {t:g} s goes back before the previous frame ({self.frame_t:g} s)")
        self._check_time(t)
        rgb, scale = decode_frame(payload, max_bytes=self.max_frame_bytes, max_pixels=self.max_frame_pixels,
                                  max_side=self.cfg.max_side)
        out = self.session.feed_frame(t, rgb, scale)
        self.frame_t, self.n_frames, self.changed = t, self.n_frames + 1, True
        return self._count(out)

    def feed_rgb(self, t: float, rgb: np.ndarray, scale: float = 1.0) -> list[SegmentResult]:
        """A decoded frame (``(H, W, 3)`` uint8 RGB at ``t`` s, ``scale`` of the source size), e.g. from a file."""
        if not self.session.has_video:
            raise DataError("frame: this session was started with video: false")
        self._check_time(t)
        out = self.session.feed_frame(t, rgb, scale)
        self.frame_t, self.n_frames, self.changed = t, self.n_frames + 1, True
        return self._count(out)

    def feed_physio(self, name: str, start: float, samples: Any, rate: float) -> list[SegmentResult]:
        """A chunk of one physiological signal (:meth:`AnalysisSession.feed_physio`)."""
        x = np.asarray(samples, dtype=np.float64)
        if not (math.isfinite(start) and math.isfinite(rate) and rate > 0):
            raise DataError("physio: 'start' and 'rate' must be finite numbers, rate > 0")
        end = start + len(x) / rate
        self._check_time(end)
        out = self.session.feed_physio(name, start, x, rate)
        self.physio_t = max(self.physio_t or 0.0, end)
        self.n_physio, self.changed = self.n_physio + 1, True
        return self._count(out)

    def feed_physio_message(self, m: dict[str, Any]) -> list[SegmentResult]:
        """A ``{"type": "physio", "signal", "start", "rate", "samples"}`` message (checked here).

        Raises:
            ServeError: 422 a missing or mistyped field.
            DataError: A bad signal (unknown name, rate, unit, shape).
        """
        for key in ("signal", "start", "rate", "samples"):
            if key not in m:
                raise ServeError(422, "bad_message", f"physio: missing {key!r}")
        if not isinstance(m["samples"], list) or len(m["samples"]) > 1_000_000:
            raise ServeError(422, "bad_message", "physio: 'samples' must be a list (at most 1e6 values)")
        try:
            start, rate = float(m["start"]), float(m["rate"])
            samples = np.asarray(m["samples"], dtype=np.float64)
        except (TypeError, ValueError):
            raise ServeError(422, "bad_message", "physio: 'start', 'rate' and 'samples' must be numbers") from None
        from emofuse.media.physio import SIGNALS

        if m["signal"] not in SIGNALS:
            raise ServeError(422, "bad_message", f"physio: unknown signal {m['signal']!r}; one of "
                             f"{', '.join(SIGNALS)}")
        return self.feed_physio(str(m["signal"]), start, samples, rate)

    def close(self) -> tuple[list[SegmentResult], Any]:
        """End of the stream: the segments finished now and the whole :class:`~emofuse.analysis.AnalysisResult`."""
        end = max(self.audio_t, self.frame_t or 0.0, self.physio_t or 0.0)
        out = self._count(self.session.close(end))
        return out, self.session.result(duration=end)

    def _count(self, out: list[SegmentResult]) -> list[SegmentResult]:
        self.n_segments += len(out)
        return out

    # ------------------------------------------------------------------ the rolling estimate

    def _window(self, modality: str) -> Any:
        from emofuse.media.segment import Segment

        s = self.session
        end = {"face": self.frame_t, "physio": self.physio_t}.get(modality, self.audio_t if s.has_audio else None)
        if end is None or end <= 0:
            return None
        start = max(0.0, end - self.window_s)
        seg = Segment(start=round(start, 3), end=round(end, 3), source="rolling")
        if modality in ("text", "audio") and s.has_audio:
            sg = s.segmenter
            start = max(start, sg.buffer.start)
            seg.start = round(start, 3)
            seg.audio = sg.buffer.get(start, end)
            seg.speech_prob = sg.speech_prob(start, end)
            seg.speech = sg.speech_bounds(start, end)
            if sg.context_s:  # the room tone around the speech, as in a closed segment
                seg.context = sg.context(start, end, end)
        return seg

    def rolling(self) -> dict[str, Any] | None:
        """The rolling estimate (see the module docstring), or ``None`` before any input.

        Returns:
            ``{"t", "start", "end", "label", "confidence", "probs", "weights", "modalities"}``.
        """
        from emofuse.analysis.fusion import apply_fusion
        from emofuse.experts.whisper_features import SHARED_PASS

        s = self.session
        if s.closed:
            return None
        self.changed = False
        shared = s.ctx.shared.get(SHARED_PASS)
        kept = {m: dict(p.timings) for m, p in s.paths.items()}, getattr(shared, "seconds", None)
        mods: dict[str, ModalityResult] = {}
        spans = []
        try:
            for m, path in s.paths.items():
                seg = self._window(m)
                if seg is None:
                    mods[m] = ModalityResult.missing("nothing received yet")
                elif m == "text" and not self.text:
                    mods[m] = ModalityResult.missing("words come with closed segments")
                elif not path.can_read(seg):
                    mods[m] = ModalityResult.missing("waiting for more input")
                elif m in ("text", "audio") and (seg.audio is None or len(seg.audio) < SAMPLE_RATE // 10):
                    mods[m] = ModalityResult.missing("too little audio in the window")
                elif m == "physio" and self._physio is not None and seg.end - self._physio[0] < PHYSIO_EVERY_S:
                    mods[m] = self._physio[1]  # the body changes slowly; its features are costly
                    spans.append((seg.start, seg.end))
                else:
                    mods[m] = path.read([seg])[0]
                    spans.append((seg.start, seg.end))
                    if m == "physio":
                        self._physio = (seg.end, mods[m])
        finally:  # the estimate's time is not the session's
            for m, p in s.paths.items():
                p.timings.clear()
                p.timings.update(kept[0][m])
            shared = s.ctx.shared.get(SHARED_PASS)
            if shared is not None:
                shared.seconds = kept[1] if kept[1] is not None else 0.0
        for m, reason in s.whole.items():
            mods.setdefault(m, ModalityResult.missing(reason))
        mods = {m: mods[m] for m in sorted(mods, key=lambda m: MODALITIES.index(m) if m in MODALITIES else 99)}
        if not spans:
            return None
        start, end = min(a for a, _ in spans), max(b for _, b in spans)
        seg = SegmentResult(index=-1, start=start, end=end, source="rolling", modalities=mods)
        apply_fusion(seg, s.fusion)
        return {"t": round(end, 3), "start": round(start, 3), "end": round(end, 3), "label": seg.label,
                "confidence": seg.confidence, "probs": seg.probs, "weights": seg.weights,
                "modalities": {m: _mod_dict(r) for m, r in mods.items()}}

    def stats(self) -> dict[str, Any]:
        """What was received so far."""
        return {"audio_s": round(self.audio_t, 3), "frames": self.n_frames, "physio_chunks": self.n_physio,
                "segments": self.n_segments}

    @staticmethod
    def now() -> float:
        """The clock latencies are measured on (``time.perf_counter()``)."""
        return time.perf_counter()
