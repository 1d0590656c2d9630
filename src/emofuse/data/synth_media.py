"""Synthetic test and demo media: videos with a face photo and speech-like audio, written frame by frame.

This is a generator of data, not decoding, so it lives here and not in :mod:`emofuse.media`.

Used by the tests and by ``scripts/make_demo.py`` (the build script of the shipped demo clip):

* :func:`write_video` encodes a video (background: a smooth, slowly changing colour texture; an
  optional face photo drifting over it, hidden while ``face_visible(t)`` is False; an optional
  audio track) straight to disk, one frame at a time, so memory stays constant whatever the
  duration. Deterministic for a given ``seed`` (and encoder settings).
* :func:`write_audio` writes a mono waveform to WAV/FLAC (``soundfile``) or OGG-Opus/MP3/M4A
  (PyAV), chosen from the suffix.
* :func:`tone_speech` (from :mod:`emofuse.data.synth_speech`) makes a crude speech-like signal —
  harmonic "syllables" with pitch contours and vowel-like formants separated by pauses — for
  tests that need audio that is not silence (it is not speech: no ASR will find words in it).
* :func:`demo_face` and :func:`demo_speech` load the face photo and the audio of the demo shipped
  in :mod:`emofuse.demo`.

Video and lossy audio need PyAV (``pip install av``, the ``audio`` extra); the face resize needs
Pillow (the ``face`` extra). Containers follow the file suffix:

==========  ==============  ==============  =========
suffix      video codec     audio codec     ``vfr``
==========  ==============  ==============  =========
.mp4 .mov   libx264         aac             yes
.mkv        libx264         aac             yes
.webm       libvpx (VP8)    libopus         yes
.avi        mpeg4           pcm_s16le       no
==========  ==============  ==============  =========

Example:
    >>> x = tone_speech(1.0, sr=16000, seed=0)
    >>> x.shape, x.dtype, bool(abs(x).max() > 0.1)
    ((16000,), dtype('float32'), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.data.synth_speech import positive as _positive
from emofuse.data.synth_speech import tone_speech
from emofuse.errors import ConfigError, DataError

__all__ = [
    "AUDIO_SUFFIXES",
    "VIDEO_SUFFIXES",
    "demo_face",
    "demo_speech",
    "tone_speech",
    "write_audio",
    "write_video",
]

#: Video container per suffix: (FFmpeg format, default video codec, default audio codec, supports VFR).
_VIDEO_FORMATS: dict[str, tuple[str, str, str, bool]] = {
    ".mp4": ("mp4", "libx264", "aac", True),
    ".mov": ("mov", "libx264", "aac", True),
    ".mkv": ("matroska", "libx264", "aac", True),
    ".webm": ("webm", "libvpx", "libopus", True),
    ".avi": ("avi", "mpeg4", "pcm_s16le", False),
}
#: Suffixes :func:`write_video` accepts.
VIDEO_SUFFIXES = tuple(_VIDEO_FORMATS)
#: Audio container per suffix for PyAV-written files: (FFmpeg format, audio codec).
_AV_AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    ".ogg": ("ogg", "libopus"),
    ".opus": ("ogg", "libopus"),
    ".mp3": ("mp3", "libmp3lame"),
    ".m4a": ("ipod", "aac"),
}
#: Suffixes :func:`write_audio` accepts.
AUDIO_SUFFIXES = (".wav", ".flac", *_AV_AUDIO_FORMATS)
#: Fine time base of variable-frame-rate videos (ticks per second, as in MPEG-TS).
VFR_TIME_BASE = Fraction(1, 90000)
#: Audio samples per frame handed to the encoder (the encoder re-chunks to its own frame size).
_AUDIO_CHUNK = 4096
#: Opus accepts only these sample rates; other rates are resampled to 48 kHz by the encoder.
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def _import_av() -> Any:
    try:
        import av
    except ImportError as e:  # pragma: no cover - PyAV is in the audio extra
        raise ConfigError("writing video or lossy audio needs PyAV: pip install av") from e
    return av


def _mono(wave: Any, sr: Any, name: str = "audio") -> tuple[np.ndarray, int]:
    """Check a waveform ``(T,)`` and return it float32 (clipped to ±1) with an int rate.

    A 2-D array, ``(channels, T)`` or ``(T, channels)``, is averaged over its shorter axis.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise DataError(f"{name}: sample rate must be a positive integer (Hz), got {sr!r}")
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=int(np.argmin(x.shape)))
    if x.ndim != 1 or x.size == 0:
        raise DataError(f"{name}: expected a non-empty mono waveform (samples,), got shape {np.shape(wave)}")
    if not np.isfinite(x).all():
        raise DataError(f"{name}: waveform contains NaN or inf")
    return np.clip(x, -1.0, 1.0), int(sr)


# --------------------------------------------------------------------------------------------- audio


def write_audio(path: str | Path, wave: Any, sr: int) -> Path:
    """Write a mono waveform to an audio file, the format chosen from the suffix.

    ``.wav`` (16-bit PCM) and ``.flac`` go through ``soundfile``; ``.ogg``/``.opus`` (Opus, rates
    other than 8/12/16/24/48 kHz are resampled to 48 kHz), ``.mp3`` and ``.m4a`` (AAC) through PyAV.

    Args:
        path: output file; its folder must exist.
        wave: ``(samples,)`` float waveform, full scale ±1 (2-D multichannel input is averaged to mono).
        sr: sample rate in Hz.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise ConfigError(f"unknown audio suffix {path.suffix!r} for {path}; use one of {', '.join(AUDIO_SUFFIXES)}")
    x, sr = _mono(wave, sr)
    if suffix in (".wav", ".flac"):
        import soundfile as sf

        sf.write(path, x, sr, subtype="PCM_16")
        return path
    av = _import_av()
    fmt, codec = _AV_AUDIO_FORMATS[suffix]
    with av.open(str(path), mode="w", format=fmt, options={"fflags": "+bitexact"}) as container:
        stream = _add_audio_stream(container, codec, sr)
        _AudioFeeder(stream, container, x, sr).feed_until(len(x) / sr)
        _flush(stream, container)
    return path


def _add_audio_stream(container: Any, codec: str, sr: int) -> Any:
    av = _import_av()
    try:
        codec_obj = av.codec.Codec(codec, "w")
    except Exception as e:  # noqa: BLE001 - FFmpeg builds differ; report which encoder is missing
        raise ConfigError(f"audio encoder {codec!r} is not available in this FFmpeg build") from e
    rates = codec_obj.audio_rates
    rate = sr if not rates or sr in rates else (48000 if 48000 in rates else max(rates))
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "mono"
    if codec in ("aac", "libopus", "libmp3lame", "mp3"):
        stream.bit_rate = 64000
    return stream


class _AudioFeeder:
    """Encodes ``total`` samples of a waveform (looped as needed) into a stream, chunk by chunk.

    Called as the video advances, so audio and video packets reach the muxer interleaved.
    """

    def __init__(self, stream: Any, container: Any, x: np.ndarray, sr: int, total: int | None = None) -> None:
        self.stream, self.container, self.x, self.sr = stream, container, x, sr
        self.total = len(x) if total is None else total
        self.pos = 0

    def feed_until(self, t: float) -> None:
        """Encode the samples up to time ``t`` (seconds)."""
        av = _import_av()
        end = min(self.total, int(round(t * self.sr)))
        while self.pos < end:
            idx = np.arange(self.pos, min(self.pos + _AUDIO_CHUNK, end)) % len(self.x)
            frame = av.AudioFrame.from_ndarray(self.x[idx][None, :], format="fltp", layout="mono")
            frame.sample_rate = self.sr
            frame.pts = self.pos
            frame.time_base = Fraction(1, self.sr)
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
            self.pos += len(idx)


def _flush(stream: Any, container: Any) -> None:
    for packet in stream.encode(None):
        container.mux(packet)


# --------------------------------------------------------------------------------------------- video


def _rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB uint8 ``(H, W, 3)`` (even H, W) to yuv420p planes, converted by FFmpeg (BT.601, limited range)."""
    av = _import_av()
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p")
    y, u, v = _yuv420_planes(frame.to_ndarray(), *rgb.shape[:2])
    return y.copy(), u.copy(), v.copy()


def _yuv420_planes(packed: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y ``(h, w)``, U and V ``(h/2, w/2)`` planes of PyAV's packed yuv420p array ``(h * 3/2, w)``.

    The planes follow each other in the flat buffer (U does not start on a row boundary unless 4 | h).
    """
    flat = packed.reshape(-1)
    n = h * w
    return (
        flat[:n].reshape(h, w),
        flat[n : n + n // 4].reshape(h // 2, w // 2),
        flat[n + n // 4 :].reshape(h // 2, w // 2),
    )


def _smooth_field(rng: np.random.Generator, y: np.ndarray, x: np.ndarray, scale: float) -> np.ndarray:
    """A smooth random field ``(len(y), len(x))`` in about [-1, 1]: five plane waves, wavelengths 0.4-1.5 x ``scale``.

    Each wave ``cos(a x + b y + p)`` is built separably as ``cos(b y + p) cos(a x) - sin(b y + p) sin(a x)``.
    """
    field = np.zeros((len(y), len(x)), dtype=np.float32)
    for _ in range(5):
        angle, phase = rng.uniform(0, 2 * np.pi, 2)
        k = 2 * np.pi / (scale * rng.uniform(0.4, 1.5))
        ax, by = k * np.cos(angle) * x, k * np.sin(angle) * y + phase
        field += np.outer(np.cos(by), np.cos(ax)).astype(np.float32)
        field -= np.outer(np.sin(by), np.sin(ax)).astype(np.float32)
    return field / np.float32(np.sqrt(5 / 2))


def _backgrounds(h: int, w: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Two smooth colour textures (linear gradient + plane-wave blobs) as yuv420p planes, shape ``(h, w)``."""
    rng = np.random.default_rng(seed)
    y, x = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    out = []
    for _ in range(2):
        c0, c1 = rng.uniform(40, 200, 3).astype(np.float32), rng.uniform(40, 200, 3).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        g = ((np.sin(angle) * y / h)[:, None] + (np.cos(angle) * x / w)[None, :] + 1.0).astype(np.float32) / 2
        img = np.empty((h, w, 3), dtype=np.float32)
        for c in range(3):
            img[..., c] = c1[c] + (c0[c] - c1[c]) * g + 30.0 * _smooth_field(rng, y, x, max(h, w))
        out.append(_rgb_to_yuv420(np.clip(img, 0, 255).astype(np.uint8)))
    return out


def _prepare_face(face: Any, frame_h: int, frame_w: int, scale: float) -> tuple[np.ndarray, ...]:
    """Resize an RGB face photo to ``scale`` × frame height (even sizes) and convert it to yuv420p planes."""
    from PIL import Image

    a = np.asarray(face)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] not in (3, 4) or min(a.shape[:2]) < 8:
        raise DataError(f"face must be an RGB uint8 image (H, W, 3) of at least 8x8, got {a.dtype} {a.shape}")
    a = a[..., :3]
    fh = max(2, min(frame_h, int(round(frame_h * scale))) // 2 * 2)
    fw = max(2, min(frame_w, int(round(fh * a.shape[1] / a.shape[0]))) // 2 * 2)
    resized = np.asarray(Image.fromarray(a).resize((fw, fh), Image.Resampling.LANCZOS))
    return _rgb_to_yuv420(resized)


def _frame_times(duration_s: float, fps: float, vfr: bool, seed: int) -> tuple[list[int], Fraction]:
    """Presentation times (in ticks) of every frame and the time base of the ticks."""
    if not vfr:
        rate = Fraction(fps).limit_denominator(1001)
        n = max(1, int(math.floor(duration_s * rate + 1e-6)))
        return list(range(n)), 1 / rate
    # frame durations alternating short (0.5-1 x the nominal period) and long (1-1.5 x), on a 1/90000 s clock
    rng = np.random.default_rng(seed + 1)
    period = 1.0 / fps
    ticks, t = [], 0.0
    while t < duration_s - 1e-9 or not ticks:
        ticks.append(int(round(t / VFR_TIME_BASE)))
        t += period * (rng.uniform(0.5, 1.0) if len(ticks) % 2 else rng.uniform(1.0, 1.5))
    return ticks, VFR_TIME_BASE


def write_video(
    path: str | Path,
    *,
    duration_s: float,
    width: int = 1280,
    height: int = 720,
    fps: float = 30.0,
    audio: tuple[np.ndarray, int] | None = None,
    face: np.ndarray | None = None,
    face_visible: Callable[[float], bool] | None = None,
    vfr: bool = False,
    codec: str | None = None,
    crf: int = 28,
    preset: str = "ultrafast",
    audio_codec: str | None = None,
    seed: int = 0,
    face_scale: float = 0.7,
) -> Path:
    """Encode a synthetic video (and optional audio track) to ``path``, one frame at a time.

    The background is a smooth colour texture that slowly cross-fades between two precomputed
    images (period ~12 s) and drifts by a few pixels per second. A ``face`` photo is pasted at a
    slowly drifting position (Lissajous path, inside the frame) and hidden at the times ``t`` (s)
    where ``face_visible(t)`` is False. ``audio`` is looped or cut to ``duration_s`` and muxed as
    a second stream. Frames are generated directly as yuv420p and written as soon as they are
    made, so memory does not grow with the duration; at 1280x720, ``preset="ultrafast"`` this
    runs at a few hundred frames per second on 2 cores.

    Args:
        path: output file; the suffix picks the container (.mp4 .mov .mkv .webm .avi, see the
            module docstring). Its folder must exist.
        duration_s: length in seconds (> 0); the video has ``floor(duration_s * fps)`` frames
            (at least one; about as many with ``vfr``).
        width: frame width in pixels (even, > 0).
        height: frame height in pixels (even, > 0).
        fps: nominal frame rate in frames per second (> 0).
        audio: ``(waveform, sample_rate)`` — mono float waveform (full scale ±1) and its rate in Hz.
        face: RGB uint8 photo ``(H, W, 3)`` to paste (e.g. :func:`demo_face`), resized to
            ``face_scale`` × the frame height; for a head-and-shoulders photo like the demo's the
            face itself is then about a third of the frame height.
        face_visible: ``t -> bool`` (``t`` in seconds from the start); the face is shown where True.
            Default: always shown.
        vfr: write variable frame-rate timestamps — frame durations alternate between short
            (0.5-1 × ``1/fps``) and long (1-1.5 ×), random within those, on a 1/90000 s clock
            (Matroska/WebM store them rounded to 1 ms). Not supported for .avi.
        codec: video encoder; default per container (libx264, libvpx for .webm, mpeg4 for .avi).
        crf: constant rate factor (libx264 0-51, libvpx 4-63; lower is better quality); mpeg4
            uses it as a quantiser scale ``max(2, crf // 5)``.
        preset: libx264 speed preset (``ultrafast`` ... ``veryslow``); libvpx always uses its
            real-time mode.
        audio_codec: audio encoder; default per container (aac, libopus for .webm, pcm_s16le for
            .avi: FFmpeg's AVI muxer mis-times the video when the audio is MP3 with encoder delay).
        seed: random seed of the background textures, drift phases and VFR jitter.
        face_scale: pasted photo height as a fraction of the frame height (0 < face_scale <= 1).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        DataError: a non-positive duration, size or frame rate, odd frame sizes, or a bad face
            image or waveform.
        ConfigError: an unknown suffix, ``vfr`` for a container without it, or an encoder
            missing from this FFmpeg build.
    """
    path = Path(path)
    duration_s = _positive(duration_s, "duration_s", " s")
    fps = _positive(fps, "fps", " frames/s")
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise DataError(f"{name} must be a positive integer (pixels), got {v!r}")
        if v % 2:
            raise DataError(f"{name} must be even for yuv420p video, got {v}")
    width, height = int(width), int(height)
    if not 0 < float(face_scale) <= 1:
        raise DataError(f"face_scale must be in (0, 1], got {face_scale!r}")
    suffix = path.suffix.lower()
    if suffix not in _VIDEO_FORMATS:
        raise ConfigError(f"unknown video suffix {path.suffix!r} for {path}; use one of {', '.join(VIDEO_SUFFIXES)}")
    fmt, default_codec, default_audio_codec, vfr_ok = _VIDEO_FORMATS[suffix]
    if vfr and not vfr_ok:
        raise ConfigError(f"vfr=True needs a container with per-frame timestamps (.mkv, .mp4, ...), not {suffix}")
    codec = codec or default_codec
    audio_codec = audio_codec or default_audio_codec
    wave = None
    if audio is not None:
        if not isinstance(audio, tuple) or len(audio) != 2:
            raise DataError("audio must be a (waveform, sample_rate) tuple")
        wave = _mono(audio[0], audio[1])
    av = _import_av()
    try:
        av.codec.Codec(codec, "w")
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"video encoder {codec!r} is not available in this FFmpeg build") from e

    # precomputed content: two background textures with a drift margin, the face planes
    margin = 32
    bgs = _backgrounds(height + 2 * margin, width + 2 * margin, seed)
    base = [p.astype(np.int16) for p in bgs[1]]
    diff = [a.astype(np.int16) - b for a, b in zip(bgs[0], base, strict=True)]
    face_planes = _prepare_face(face, height, width, float(face_scale)) if face is not None else None
    rng = np.random.default_rng(seed)
    ph = rng.uniform(0, 2 * np.pi, 4)
    ticks, time_base = _frame_times(duration_s, fps, vfr, seed)

    packed = np.empty((height * 3 // 2, width), dtype=np.uint8)
    planes = _yuv420_planes(packed, height, width)
    tmp = [np.empty(p.shape, dtype=np.int16) for p in planes]

    with av.open(str(path), mode="w", format=fmt, options={"fflags": "+bitexact"}) as container:
        vstream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        vstream.codec_context.time_base = time_base
        vstream.time_base = time_base
        if codec == "libx264":
            vstream.options = {"crf": str(crf), "preset": preset}
        elif codec in ("libvpx", "libvpx-vp9"):
            vstream.options = {"crf": str(crf), "deadline": "realtime", "cpu-used": "8"}  # crf capped by bit_rate
            vstream.bit_rate = 2_000_000
        elif codec == "mpeg4":
            vstream.options = {"qscale": str(max(2, crf // 5))}
            vstream.codec_context.qscale = max(2, crf // 5)
        vstream.thread_type = "AUTO"
        astream = feeder = None
        if wave is not None:
            astream = _add_audio_stream(container, audio_codec, wave[1])
            feeder = _AudioFeeder(astream, container, wave[0], wave[1], total=int(round(duration_s * wave[1])))

        for tick in ticks:
            t = float(tick * time_base)
            # background: cross-fade weight (0..128, so diff * w fits in int16) and a slow drift of up to 2 * margin px
            w7 = int(round(64 + 64 * math.sin(2 * np.pi * t / 12.0 + ph[0])))
            ox = int(round(margin * (1 + 0.9 * math.sin(2 * np.pi * t / 17.0 + ph[1])))) // 2 * 2
            oy = int(round(margin * (1 + 0.9 * math.sin(2 * np.pi * t / 13.0 + ph[2])))) // 2 * 2
            for i, (dst, tm) in enumerate(zip(planes, tmp, strict=True)):
                s = 1 if i == 0 else 2  # chroma planes are half size
                hh, ww = dst.shape
                sl = (slice(oy // s, oy // s + hh), slice(ox // s, ox // s + ww))
                np.multiply(diff[i][sl], w7, out=tm)
                np.right_shift(tm, 7, out=tm)
                np.add(tm, base[i][sl], out=tm)
                dst[...] = tm
            if face_planes is not None and (face_visible is None or face_visible(t)):
                fy, fu, fv = face_planes
                fh, fw = fy.shape
                px = (width - fw) / 2 * (1 + 0.7 * math.sin(2 * np.pi * t / 19.0 + ph[3]))
                py = (height - fh) / 2 * (1 + 0.7 * math.sin(2 * np.pi * t / 23.0 + ph[3] * 1.7))
                x0, y0 = int(px) // 2 * 2, int(py) // 2 * 2
                planes[0][y0 : y0 + fh, x0 : x0 + fw] = fy
                planes[1][y0 // 2 : (y0 + fh) // 2, x0 // 2 : (x0 + fw) // 2] = fu
                planes[2][y0 // 2 : (y0 + fh) // 2, x0 // 2 : (x0 + fw) // 2] = fv
            frame = av.VideoFrame.from_ndarray(packed, format="yuv420p")
            frame.pts = tick
            frame.time_base = time_base
            for packet in vstream.encode(frame):
                container.mux(packet)
            if feeder is not None:
                feeder.feed_until(t + 0.5)  # audio runs a little ahead: keeps the mux queue short
        _flush(vstream, container)
        if feeder is not None:
            feeder.feed_until(duration_s)
            _flush(astream, container)
    return path


# --------------------------------------------------------------------------------------------- demo


def demo_face() -> np.ndarray:
    """The demo's face photo (NASA astronaut Eileen Collins, public domain) as RGB uint8 ``(H, W, 3)``."""
    from PIL import Image

    from emofuse.demo import demo_path

    with Image.open(demo_path("face.jpg")) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def demo_speech() -> tuple[np.ndarray, int]:
    """The demo clip's speech as ``(mono float32 waveform, 16000)`` (decoded and resampled by ``load_audio``)."""
    from emofuse.demo import demo_path
    from emofuse.media.audio import load_audio

    return load_audio(demo_path("demo.mp4"), 16000)
