"""Streaming media decoding with PyAV: probe a file, then walk its audio and video in one pass.

:func:`probe` opens a container and reports what it holds (:class:`MediaInfo`) without
decoding. :func:`stream_media` then demuxes the file **once**, in packet order, and yields

* :class:`AudioChunk` — mono float32 audio resampled to ``sample_rate`` (16 kHz by default)
  with FFmpeg's resampler, in pieces of about ``chunk_s`` seconds, and
* :class:`VideoSample` — RGB frames sampled at ``fps`` (by presentation time, so variable
  frame rates are handled), downscaled by FFmpeg's scaler so the long side is at most
  ``max_side`` pixels; frames that are not sampled are decoded (codecs require it) but never
  converted to arrays.

Nothing accumulates: memory is bounded by one chunk and one frame, whatever the media length.

Damaged files: a 0-byte, missing or unreadable file raises a clear
:class:`~emofuse.errors.DataError`/:class:`~emofuse.errors.MissingFileError` at
:func:`probe`. A damaged stretch mid-way (corrupt bytes in a download or recording) is
skipped: packets that do not decode are dropped and decoding resumes at the next decodable
packet the demuxer finds (MPEG-TS and Matroska resync on their own). What was lost is measured
on the streams' timestamps — audio lost is filled with silence so later audio keeps its time,
video frames missing after damage are counted — and reported at the end of the walk as one
:class:`StreamEvent` of kind ``"skipped"`` per stream ("decoding skipped 0.6 s of damaged audio
at 2.6–3.2 s"). Only when demuxing itself cannot go on (a truncated download, an unreadable
container) does the walk end early, with a :class:`StreamEvent` of kind ``"error"`` saying
where decoding stopped, after everything decoded before it has been yielded — callers analyse
what could be read.

Example:
    >>> info = MediaInfo(path="x.wav", duration=2.0, has_audio=True, has_video=False)
    >>> info.kind
    'audio'
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import ConfigError, DataError, MissingFileError
from emofuse.media._damage import AUDIO_GAP_S, Damage

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "AudioChunk",
    "MediaInfo",
    "StreamEvent",
    "VideoSample",
    "prefetch",
    "probe",
    "stream_media",
]

#: Largest input file accepted, in bytes (an upload guard; pass ``max_bytes`` to change it).
MAX_FILE_BYTES = 20 * 2**30
#: Video frames with more pixels than this (a little above 8K UHD) are not decoded: the video
#: stream is skipped with a reason, the audio is still analysed.
MAX_PIXELS = 8192 * 4608


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds.

    Attributes:
        path: The file.
        duration: Duration in seconds (container duration, else the longest stream's).
        has_audio: Whether there is an audio stream; ``has_video`` likewise for video.
        format: Container format name (e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``).
        audio: Audio stream facts (codec, sample_rate, channels); empty without audio.
        video: Video stream facts (codec, width, height, fps, frames); empty without video.
        skip_video: Why the video stream will not be decoded (e.g. a huge resolution), or ``None``.
    """

    path: str
    duration: float
    has_audio: bool
    has_video: bool
    format: str = ""
    audio: dict[str, Any] = field(default_factory=dict)
    video: dict[str, Any] = field(default_factory=dict)
    skip_video: str | None = None

    @property
    def kind(self) -> str:
        """``"video"`` when there is a usable video stream, else ``"audio"``."""
        return "video" if self.has_video and self.skip_video is None else "audio"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready facts."""
        return asdict(self)


@dataclass(frozen=True)
class AudioChunk:
    """A piece of the audio track.

    Attributes:
        start: Time of the first sample in seconds (from the first audio sample).
        samples: ``(T,)`` mono float32 waveform at the requested sample rate.
    """

    start: float
    samples: np.ndarray


@dataclass(frozen=True)
class VideoSample:
    """One sampled video frame.

    Attributes:
        t: Presentation time in seconds from the stream start.
        rgb: ``(H, W, 3)`` uint8 RGB image, long side at most ``max_side`` pixels.
        scale: Factor from original pixels to ``rgb`` pixels (``<= 1``).
    """

    t: float
    rgb: np.ndarray
    scale: float


@dataclass(frozen=True)
class StreamEvent:
    """Something that happened while decoding.

    ``kind == "error"``: decoding stopped early (the last item); ``kind == "skipped"``: damaged
    stretches of one stream were skipped and decoding went on.

    Attributes:
        kind: ``"error"`` or ``"skipped"``.
        message: What happened and at which time.
        t: Media time (seconds) reached when it happened (``"skipped"``: where the first skipped stretch starts).
        spans: ``"skipped"``: the ``(start, end)`` seconds of each skipped stretch.
    """

    kind: str
    message: str
    t: float
    spans: tuple[tuple[float, float], ...] = ()


def _import_av() -> Any:
    try:
        import av
    except ImportError as err:  # pragma: no cover - av is part of the audio extra
        raise ImportError("decoding media needs PyAV: pip install 'emofuse[audio]'") from err
    av.logging.set_level(av.logging.PANIC)  # FFmpeg's own stderr chatter; errors surface as exceptions
    return av


def _check_path(path: str | Path, max_bytes: int) -> Path:
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"media file not found: {p}")
    if not p.is_file():
        raise DataError(f"{p}: expected a media file, got a folder or special file")
    size = p.stat().st_size
    if size == 0:
        raise DataError(f"{p}: the file is empty (0 bytes)")
    if size > max_bytes:
        raise DataError(f"{p}: the file is {size / 2**30:.1f} GiB, over the {max_bytes / 2**30:.1f} GiB limit "
                        "(raise max_bytes to analyse it)")
    return p


def _fps(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            v = float(rate)
            if math.isfinite(v) and v > 0:
                return v
    return 0.0


def probe(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, max_pixels: int = MAX_PIXELS) -> MediaInfo:
    """Open a media file and report its streams without decoding them.

    Raises:
        MissingFileError: ``path`` does not exist.
        DataError: A folder, a 0-byte or oversized file, or a file FFmpeg cannot open or that
            holds neither audio nor video.
    """
    av = _import_av()
    p = _check_path(path, max_bytes)
    try:
        container = av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as err:
        hint = ""
        if "moov atom not found" in str(err):
            hint = ("; it looks truncated: an MP4/MOV whose end (the 'moov' index) is missing, e.g. from an "
                    "interrupted download or recording, cannot be read")
        raise DataError(f"{p}: not a readable audio or video file ({err}){hint}") from None
    with container:
        a = container.streams.audio[0] if container.streams.audio else None
        v = container.streams.video[0] if container.streams.video else None
        # cover art in audio files is an attached picture, not a video track
        if v is not None and (v.disposition & av.stream.Disposition.attached_pic):
            v = None
        if a is None and v is None:
            raise DataError(f"{p}: the file has neither an audio nor a video stream")
        durs = []
        if container.duration is not None and container.duration > 0:
            durs.append(container.duration / 1e6)
        for s in (a, v):
            if s is not None and s.duration is not None and s.time_base is not None:
                durs.append(float(s.duration * s.time_base))
        duration = max(durs) if durs else 0.0
        audio: dict[str, Any] = {}
        if a is not None:
            cc = a.codec_context
            audio = {"codec": cc.name, "sample_rate": int(cc.sample_rate or a.rate or 0),
                     "channels": int(getattr(cc, "channels", 0) or len(cc.layout.channels))}
        video: dict[str, Any] = {}
        skip = None
        if v is not None:
            cc = v.codec_context
            w, h = int(cc.width or 0), int(cc.height or 0)
            video = {"codec": cc.name, "width": w, "height": h, "fps": round(_fps(v), 3),
                     "frames": int(v.frames or 0)}
            if w * h > max_pixels:
                skip = (f"video resolution {w}x{h} is over the {max_pixels / 1e6:.0f}-megapixel limit; "
                        "the video stream was not decoded")
            elif w <= 0 or h <= 0:
                skip = "the video stream reports no frame size"
        return MediaInfo(path=str(p), duration=round(duration, 3), has_audio=a is not None, has_video=v is not None,
                         format=container.format.name, audio=audio, video=video, skip_video=skip)


def _skipped(damage: Damage) -> list[StreamEvent]:
    return [StreamEvent(kind="skipped", message=m, t=t, spans=spans) for m, t, spans in damage.events()]


def _scaled_size(w: int, h: int, max_side: int) -> tuple[int, int, float]:
    s = min(1.0, max_side / max(w, h))
    # even sizes keep FFmpeg's scaler on its fast paths
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2), s


def stream_media(
    info: MediaInfo,
    *,
    audio: bool = True,
    video: bool = True,
    sample_rate: int = 16000,
    chunk_s: float = 2.0,
    fps: float = 3.0,
    max_side: int = 640,
    threads: int = 0,
) -> Iterator[AudioChunk | VideoSample | StreamEvent]:
    """Walk a file once, yielding audio chunks and sampled frames in decode order.

    Args:
        info: From :func:`probe`.
        audio: Decode the audio stream (if any).
        video: Decode the video stream (if any and not skipped, see :attr:`MediaInfo.skip_video`).
        sample_rate: Output audio rate in Hz (resampled, mono).
        chunk_s: Approximate audio chunk length in seconds.
        fps: Video frames sampled per second of media time (``<= 0``: none).
        max_side: Long side of sampled frames in pixels (downscaled, never upscaled).
        threads: Decoder threads (0 = FFmpeg's choice).

    Yields:
        :class:`AudioChunk`, :class:`VideoSample` and, when decoding breaks, one final
        :class:`StreamEvent`.
    """
    if sample_rate <= 0 or chunk_s <= 0 or max_side < 16:
        raise ConfigError(f"stream_media: need sample_rate > 0, chunk_s > 0, max_side >= 16; got "
                          f"{sample_rate}, {chunk_s}, {max_side}")
    av = _import_av()
    container = av.open(info.path)
    try:
        streams = []
        a = container.streams.audio[0] if (audio and info.has_audio and container.streams.audio) else None
        v = None
        if video and fps > 0 and info.kind == "video" and container.streams.video:
            v = container.streams.video[0]
            v.thread_type = "AUTO"
            if threads:
                v.codec_context.thread_count = int(threads)
        streams = [s for s in (a, v) if s is not None]
        if not streams:
            return
        resampler = av.AudioResampler(format="flt", layout="mono", rate=int(sample_rate)) if a is not None else None
        chunk_n = max(1, int(round(chunk_s * sample_rate)))
        pending: list[np.ndarray] = []
        n_pending = 0
        a_pos = 0  # samples emitted so far
        # times are measured from the container's start (streams may begin a little later)
        c_t0 = container.start_time / 1e6 if container.start_time is not None else 0.0
        a_t0: float | None = None
        next_t = 0.0
        step = 1.0 / fps if fps > 0 else math.inf
        size: tuple[int, int, float] | None = None
        t_reached = 0.0

        def flush(final: bool) -> Iterator[AudioChunk]:
            nonlocal pending, n_pending, a_pos
            while n_pending >= chunk_n or (final and n_pending > 0):
                buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
                take = buf if final and n_pending < chunk_n else buf[:chunk_n]
                rest = buf[len(take):]
                yield AudioChunk(start=(a_t0 or 0.0) + a_pos / sample_rate,
                                 samples=np.ascontiguousarray(take, dtype=np.float32))
                a_pos += len(take)
                pending, n_pending = ([rest] if len(rest) else []), len(rest)

        a_next: float | None = None  # media time the next audio frame should start at
        v_last: float | None = None  # time of the last decoded video frame
        v_period = 1.0 / _fps(v) if v is not None and _fps(v) > 0 else 0.0
        damage = Damage(av, c_t0)

        try:
            for packet in container.demux(streams):
                if packet.stream is a:
                    for frame in damage.decode(packet):
                        ft = None if frame.time is None else float(frame.time) - c_t0
                        if a_t0 is None and ft is not None:
                            a_t0 = max(0.0, ft)
                        if ft is not None and a_next is not None and ft - a_next > AUDIO_GAP_S:
                            # audio lost to damage: silence in its place keeps the later audio at its time
                            damage.lost_audio(a_next, ft)
                            gap = np.zeros(int(round((ft - a_next) * sample_rate)), np.float32)
                            pending.append(gap)
                            n_pending += len(gap)
                        if ft is not None and frame.sample_rate:
                            a_next = ft + frame.samples / frame.sample_rate
                        for out in resampler.resample(frame):
                            x = out.to_ndarray().reshape(-1)
                            pending.append(x)
                            n_pending += len(x)
                        t_reached = max(t_reached, (a_t0 or 0.0) + (a_pos + n_pending) / sample_rate)
                    yield from flush(False)
                elif packet.stream is v:
                    for frame in damage.decode(packet):
                        if frame.time is None:
                            continue
                        t = max(0.0, float(frame.time) - c_t0)
                        t_reached = max(t_reached, t)
                        if v_last is not None:
                            damage.video_pause(v_last, t, v_period)
                        v_last = max(v_last or 0.0, t)
                        if t + 1e-6 < next_t:
                            continue
                        if size is None:
                            size = _scaled_size(frame.width, frame.height, max_side)
                        rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1])
                        yield VideoSample(t=round(t, 4), rgb=rgb, scale=size[2])
                        next_t = (math.floor(t / step + 1e-6) + 1) * step
            if resampler is not None:
                for out in resampler.resample(None):
                    x = out.to_ndarray().reshape(-1)
                    pending.append(x)
                    n_pending += len(x)
            yield from flush(True)
            yield from _skipped(damage)
        except (av.error.FFmpegError, ValueError, MemoryError) as err:
            # demuxing itself cannot go on (or a stream cannot be converted): end with what was read
            yield from flush(True)
            yield from _skipped(damage)
            yield StreamEvent(kind="error", t=round(t_reached, 3),
                              message=f"decoding stopped at {t_reached:.1f} s of {info.duration:.1f} s: {err}")
    finally:
        container.close()


class _Failed:
    def __init__(self, err: BaseException) -> None:
        self.err = err


def prefetch(items: Iterator[Any], maxsize: int = 8) -> Iterator[Any]:
    """Run a decoding iterator in a background thread, at most ``maxsize`` items ahead.

    FFmpeg decodes with the GIL released, so decoding the next chunks overlaps with the
    analysis of the current ones; the bounded queue keeps memory flat (a slow consumer stops
    the decoder). An error in the decoder is raised in the consumer; a consumer that stops
    early stops the decoder too.

    Example:
        >>> list(prefetch(iter(range(5)), maxsize=2))
        [0, 1, 2, 3, 4]
    """
    import queue
    import threading

    q: queue.Queue[Any] = queue.Queue(maxsize=max(1, int(maxsize)))
    done, stop = object(), threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for x in items:
                if not put(x):
                    return
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which raises it
            put(_Failed(err))
        finally:
            put(done)

    worker = threading.Thread(target=run, name="emofuse-decode", daemon=True)
    worker.start()
    try:
        while True:
            x = q.get()
            if x is done:
                return
            if isinstance(x, _Failed):
                raise x.err
            yield x
    finally:
        stop.set()
        worker.join(timeout=5.0)
