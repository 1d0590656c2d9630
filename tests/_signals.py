"""Synthetic test signals shared by the test modules (no data needed)."""

from __future__ import annotations

import numpy as np

SR = 16000


def vowel(seconds: float = 1.5, f0: float = 140.0, amp: float = 0.1, sr: int = SR) -> np.ndarray:
    """A vowel-like harmonic signal (three formants) with a gentle pitch glide and an amplitude envelope."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * (f0 * t + 10.0 * t**2)
    x = np.zeros_like(t)
    for k in range(1, 25):
        fk = k * f0
        if fk > sr / 2 - 200:
            break
        gain = sum(1.0 / (1.0 + ((fk - f) / 150.0) ** 2) for f in (700.0, 1200.0, 2600.0)) / k
        x += gain * np.sin(k * phase)
    env = np.sin(np.pi * t / seconds) ** 0.5
    return (amp * env * x / np.abs(x).max()).astype(np.float32)
