"""A speech-like test signal: :func:`tone_speech` (re-exported by :mod:`emofuse.data.synth_media`).

Example:
    >>> x = tone_speech(0.5, sr=8000, seed=1)
    >>> x.shape, x.dtype
    ((4000,), dtype('float32'))
"""

from __future__ import annotations

import math

import numpy as np

from emofuse.errors import DataError

__all__ = ["positive", "tone_speech"]


def positive(value: float, name: str, unit: str = "") -> float:
    """``value`` as a float; a :class:`DataError` unless it is a positive finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name} must be a number, got {value!r}") from e
    if not math.isfinite(v) or v <= 0:
        raise DataError(f"{name} must be positive and finite, got {value!r}{unit}")
    return v


def tone_speech(duration_s: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A crude speech-like waveform: voiced bursts with pitch contours and formants, between pauses.

    Bursts ("syllable groups") last 0.2-0.6 s, have a fundamental of 90-260 Hz that rises or falls
    (about ±25 %) with some vibrato, harmonics up to ~4 kHz shaped by three vowel-like formants
    that glide within the burst, 15 ms raised-cosine attack and 40 ms release, and a little
    breath noise. Pauses last 0.08-0.5 s. Deterministic for a ``seed``.

    Args:
        duration_s: length in seconds (> 0).
        sr: sample rate in Hz (> 0).
        seed: random seed.

    Returns:
        ``(round(duration_s * sr),)`` float32 waveform, peak about 0.5 (full scale 1.0).
    """
    duration_s = positive(duration_s, "duration_s", " s")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise DataError(f"sr must be a positive integer (Hz), got {sr!r}")
    sr = int(sr)
    n = int(round(duration_s * sr))
    if n == 0:
        raise DataError(f"duration_s={duration_s} is shorter than one sample at {sr} Hz")
    rng = np.random.default_rng(seed)
    out = np.zeros(n, dtype=np.float64)
    nyq = 0.45 * sr
    # F1, F2, F3 (Hz) of a few vowels
    vowels = np.array([[730, 1090, 2440], [270, 2290, 3010], [530, 1840, 2480], [300, 870, 2240], [570, 840, 2410]])
    pos = int(rng.uniform(0.02, 0.15) * sr)
    while pos < n:
        length = int(rng.uniform(0.2, 0.6) * sr)
        m = min(length, n - pos)
        t = np.arange(m) / sr
        frac = np.arange(m) / max(length - 1, 1)
        f_start = rng.uniform(90, 260)
        f0 = f_start * (1.0 + rng.uniform(-0.25, 0.25) * frac) * (1.0 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
        phase = 2 * np.pi * np.cumsum(f0) / sr
        va, vb = vowels[rng.integers(len(vowels))], vowels[rng.integers(len(vowels))]
        formants = va[None, :] + (vb - va)[None, :] * frac[:, None]  # (m, 3) gliding formants
        widths = np.array([90.0, 120.0, 160.0])
        burst = np.zeros(m)
        for h in range(1, int(min(4000.0, nyq) // (f_start * 0.75)) + 1):
            fh = h * f0
            gain = np.exp(-0.5 * ((fh[:, None] - formants) / widths) ** 2) @ np.array([1.0, 0.6, 0.3])
            gain = (gain + 0.02) * (fh < nyq) / h**0.5
            burst += gain * np.sin(h * phase)
        burst += 0.01 * rng.standard_normal(m)
        env = np.ones(m)
        a, r = min(int(0.015 * sr), m), min(int(0.04 * sr), m)
        env[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / max(a, 1))
        if r:
            env[m - r :] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
        out[pos : pos + m] = burst * env * rng.uniform(0.6, 1.0)
        pos += m + int(rng.uniform(0.08, 0.5) * sr)
    peak = np.abs(out).max()
    if peak > 0:
        out *= 0.5 / peak
    return out.astype(np.float32)
