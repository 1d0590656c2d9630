"""Decode audio files to mono float32 waveforms at a target sample rate.

:func:`load_audio` reads a file with ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis, Opus,
MP3, AIFF, ...); when libsndfile cannot read it and PyAV is installed (``pip install av``), it
falls back to PyAV/FFmpeg for other containers (M4A, MP4, WebM, ...). Multichannel audio is
averaged to mono; any other sample rate is resampled (``soxr``, high quality; ``scipy``'s
polyphase filter when soxr is absent) — a wrong rate is converted, never rejected.

Bad input is answered at this boundary with one clear error:

* :class:`~emofuse.errors.MissingFileError` — the path does not exist;
* :class:`~emofuse.errors.DataError` — a folder, a 0-byte file, a corrupt/undecodable file, a
  container without an audio stream, audio with no samples, audio shorter than
  ``min_duration`` (default :data:`MIN_DURATION_S` = 0.25 s: too short for a 25 ms-frame
  emotion estimate to mean anything), non-finite samples, or **silent** audio — every sample
  within :data:`SILENCE_PEAK` (1e-4, about -80 dBFS) of zero, which includes all-zero files.
  Silence is an error by default because no emotion can be read from it; pass
  ``allow_silent=True`` to get the waveform anyway (e.g. to keep a timeline aligned).

Example:
    >>> import numpy as np
    >>> x = check_waveform(np.zeros((2, 8000)) + 0.1, 16000)   # (channels, samples) -> mono
    >>> x.shape, x.dtype
    ((8000,), dtype('float32'))
    >>> resample(np.ones(22050, dtype=np.float32), 22050, 16000).shape
    (16000,)
"""

from __future__ import annotations

import math
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import DataError, MissingFileError

__all__ = ["MIN_DURATION_S", "SILENCE_PEAK", "SNR_CAP_DB", "TARGET_RMS", "check_waveform", "estimate_snr_db",
           "level_normalise", "load_audio", "pad_silence", "resample"]

#: Shortest audio accepted by default, in seconds.
MIN_DURATION_S = 0.25
#: Audio whose absolute peak is at most this (full scale = 1.0) counts as silent.
SILENCE_PEAK = 1e-4
#: RMS (full scale 1.0) of the loudest 10% of 25 ms frames after :func:`level_normalise` (-20 dBFS).
TARGET_RMS = 0.1


def resample(x: np.ndarray, sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono waveform ``(T,)`` from ``sr`` to ``target_sr`` Hz (float32 out).

    Uses ``soxr`` (VHQ) when installed, else ``scipy.signal.resample_poly``; the output has
    ``round(T * target_sr / sr)`` samples.
    """
    sr, target_sr = int(sr), int(target_sr)
    if sr <= 0 or target_sr <= 0:
        raise DataError(f"sample rates must be positive, got sr={sr}, target_sr={target_sr}")
    x = np.asarray(x, dtype=np.float32)
    if sr == target_sr or x.size == 0:
        return x
    try:
        import soxr
    except ImportError:  # pragma: no cover - soxr is a declared dependency of the audio extra
        from scipy.signal import resample_poly

        g = gcd(sr, target_sr)
        y = resample_poly(x.astype(np.float64), target_sr // g, sr // g)
        n = int(round(x.shape[0] * target_sr / sr))
        return np.ascontiguousarray(y[:n], dtype=np.float32)
    return np.ascontiguousarray(soxr.resample(x, sr, target_sr, quality="VHQ"), dtype=np.float32)


def check_waveform(
    x: Any,
    sr: int,
    *,
    target_sr: int | None = None,
    min_duration: float = MIN_DURATION_S,
    allow_silent: bool = False,
    name: str = "waveform",
) -> np.ndarray:
    """Validate an in-memory waveform and return it mono float32 (resampled to ``target_sr``).

    Args:
        x: ``(T,)`` mono, or ``(C, T)`` / ``(T, C)`` multichannel (the shorter axis is taken
            as channels), float or integer samples (integers are scaled to ``[-1, 1]``).
        sr: Its sample rate in Hz.
        target_sr: Resample to this rate (default: keep ``sr``).
        min_duration: Shortest duration accepted, in seconds.
        allow_silent: Accept audio whose peak is at most :data:`SILENCE_PEAK`.
        name: How the input is named in error messages (a file path, ``"waveform 3"``).

    Returns:
        ``(T',)`` float32 mono waveform at ``target_sr`` (or ``sr``).

    Raises:
        DataError: Wrong shape or dtype, non-finite samples, empty, too short or silent audio,
            or a non-positive sample rate.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise DataError(f"{name}: expected a positive integer sample rate in Hz, got {sr!r}")
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise DataError(f"{name}: expected numeric audio samples, got dtype {a.dtype}")
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        a = (a.astype(np.float64) - (info.max + info.min + 1) / 2) / (info.max + 1 - (info.max + info.min + 1) / 2)
    if a.ndim == 2:
        a = a.mean(axis=0 if a.shape[0] <= a.shape[1] else 1)
    elif a.ndim != 1:
        raise DataError(f"{name}: expected a (T,) mono or (C, T) multichannel waveform, got shape {a.shape}")
    if a.size == 0:
        raise DataError(f"{name}: audio is empty (0 samples)")
    if not np.isfinite(a).all():
        raise DataError(f"{name}: audio contains NaN or infinite samples")
    duration = a.shape[0] / float(sr)
    if duration < min_duration:
        raise DataError(f"{name}: audio is too short ({duration:.3f} s; at least {min_duration:g} s expected)")
    if not allow_silent and float(np.abs(a).max()) <= SILENCE_PEAK:
        raise DataError(f"{name}: audio is silent (peak {float(np.abs(a).max()):.2g} <= {SILENCE_PEAK:g}); "
                        "pass allow_silent=True to accept it")
    a = a.astype(np.float32)
    if target_sr is not None and int(target_sr) != int(sr):
        a = resample(a, int(sr), int(target_sr))
    return a


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (frames, channels)
    return data.T, int(sr)


def _read_pyav(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        raise DataError(f"{path}: not a readable audio or video file ({err})") from None
    with container:
        if not container.streams.audio:
            raise DataError(f"{path}: the file has no audio stream")
        stream = container.streams.audio[0]
        sr = int(stream.rate or stream.codec_context.sample_rate or 0)
        res = av.AudioResampler(format="fltp", layout="mono", rate=sr or None)
        chunks = []
        try:
            for frame in container.decode(stream):
                sr = sr or int(frame.sample_rate)
                for out in res.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in res.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as err:
            raise DataError(f"{path}: the audio stream could not be decoded ({err})") from None
    data = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return data[None, :], sr


def load_audio(
    path: str | Path,
    target_sr: int = 16000,
    *,
    min_duration: float = MIN_DURATION_S,
    allow_silent: bool = False,
) -> tuple[np.ndarray, int]:
    """Decode an audio file to a mono float32 waveform at ``target_sr`` Hz.

    Args:
        path: Audio file (WAV, FLAC, OGG, MP3, ...; other containers need PyAV).
        target_sr: Output sample rate in Hz; other rates are resampled.
        min_duration: Shortest duration accepted, in seconds (default 0.25 s).
        allow_silent: Return silent/all-zero audio instead of raising.

    Returns:
        ``(waveform, target_sr)``: waveform ``(T,)`` float32 in ``[-1, 1]``.

    Raises:
        MissingFileError: ``path`` does not exist.
        DataError: A folder, an empty (0-byte), corrupt or undecodable file, no audio stream,
            no samples, too short or silent audio (see the module docstring).
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"audio file not found: {p}")
    if not p.is_file():
        raise DataError(f"{p}: expected an audio file, got a folder or special file")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: the file is empty (0 bytes)")
    if int(target_sr) <= 0:
        raise DataError(f"target_sr: expected a positive sample rate, got {target_sr}")
    try:
        data, sr = _read_soundfile(p)
    except ImportError:  # pragma: no cover - soundfile is a declared dependency of the audio extra
        raise ImportError("decoding audio needs soundfile: pip install 'emofuse[audio]'") from None
    except Exception as err:  # libsndfile cannot read it: try FFmpeg when available
        try:
            import av  # noqa: F401
        except ImportError:
            raise DataError(f"{p}: not a decodable audio file ({err}); for containers such as M4A/MP4 "
                            "install PyAV: pip install av") from None
        data, sr = _read_pyav(p)
    if data.size == 0 or sr <= 0:
        raise DataError(f"{p}: the file holds no audio samples")
    wave = check_waveform(data, sr, target_sr=int(target_sr), min_duration=min_duration,
                          allow_silent=allow_silent, name=str(p))
    return wave, int(target_sr)


def level_normalise(wave: np.ndarray, target_rms: float = TARGET_RMS) -> np.ndarray:
    """Scale ``wave`` so that the RMS of its loudest 10% of 25 ms / 10 ms frames is ``target_rms``."""
    x = np.asarray(wave, dtype=np.float32).reshape(-1)
    if x.size == 0:
        return x
    win, hop = 400, 160
    padded = np.pad(x.astype(np.float64), (win // 2, win // 2))
    fr = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop]
    energy = (fr ** 2).mean(1)
    top = np.sort(energy)[-max(1, len(energy) // 10):]
    rms = float(np.sqrt(top.mean()))
    if not math.isfinite(rms) or rms <= 1e-8:
        return x
    return (x * np.float32(target_rms / rms)).astype(np.float32)


def pad_silence(wave: np.ndarray, pad_s: float, sample_rate: int = 16000) -> np.ndarray:
    """``wave`` with ``pad_s`` seconds of digital silence before and after it (unchanged for 0).

    Args:
        wave: ``(T,)`` mono waveform.
        pad_s: Seconds added on each side (>= 0).
        sample_rate: Rate of ``wave``, Hz.
    """
    n = int(round(max(float(pad_s), 0.0) * sample_rate))
    x = np.asarray(wave, np.float32).reshape(-1)
    return x if n == 0 else np.concatenate([np.zeros(n, np.float32), x, np.zeros(n, np.float32)])


#: Highest SNR :func:`estimate_snr_db` reports (dB): cleaner audio is all the same to a listener.
SNR_CAP_DB = 60.0
#: Frames at most this power (full scale 1.0) are digital silence (padding), not background noise.
_DIGITAL_SILENCE = 1e-10


def estimate_snr_db(wave: np.ndarray, sample_rate: int = 16000, *, frame_s: float = 0.02,
                    noise_fraction: float = 0.1) -> float:
    """Blind signal-to-noise ratio of a speech waveform, in dB (a quality cue, not a measurement).

    The wave is cut into ``frame_s`` frames; the mean power of the quietest ``noise_fraction``
    of them is the noise floor (speech pauses and closures leave the background audible), the
    mean of the louder half is speech plus noise: SNR = 10 log10((P_loud - P_noise) / P_noise),
    clipped to ``[-10, SNR_CAP_DB]``. Digital-silence frames (padding) are ignored. It tracks
    stationary noise (white, hum, fans) well — within about 3 dB of the mixing SNR on speech
    with pauses — but cannot see babble, whose floor is other people's speech.

    Args:
        wave: ``(T,)`` mono float waveform.
        sample_rate: Its rate, Hz.
        frame_s: Frame length, seconds.
        noise_fraction: Share of the quietest frames taken as the noise floor.

    Returns:
        The estimate in dB; ``SNR_CAP_DB`` for a wave with no audible frame or too short to tell.
    """
    w = np.asarray(wave, np.float64).reshape(-1)
    hop = max(1, int(round(frame_s * sample_rate)))
    n = w.size // hop
    if n < 4:
        return SNR_CAP_DB
    p = (w[: n * hop].reshape(n, hop) ** 2).mean(1)
    p = np.sort(p[p > _DIGITAL_SILENCE])
    if p.size < 4:
        return SNR_CAP_DB
    noise = float(p[: max(1, int(p.size * noise_fraction))].mean())
    loud = float(p[p.size // 2:].mean())
    if loud - noise <= 0:
        return -10.0
    return float(np.clip(10 * np.log10((loud - noise) / noise), -10.0, SNR_CAP_DB))
