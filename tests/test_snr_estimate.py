"""Blind SNR estimate of speech and the voice reliability factor it feeds (generated audio)."""

from __future__ import annotations

import numpy as np
import pytest

from emofuse.analysis.paths.voice import SNR_FULL_DB, snr_factor
from emofuse.media.audio import SNR_CAP_DB, estimate_snr_db, pad_silence
from emofuse.robustness import corrupt

SR = 16000


def speech_like(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Harmonic 'syllables' of 180 ms with short pauses, under a faint room noise (-70 dB)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * seconds)) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    voice = sum(np.sin(2 * np.pi * np.cumsum(f0 * k) / SR) / k for k in range(1, 8))
    gate = (np.sin(2 * np.pi * t / 0.3) > -0.2).astype(float)  # ~2/3 voiced, the rest pauses
    return (0.2 * voice * gate + 3e-5 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("snr", [20.0, 10.0, 0.0])
def test_estimate_tracks_white_noise_snr(snr):
    est = [estimate_snr_db(corrupt("white_noise", speech_like(seed=s), snr, seed=s, sample_rate=SR), SR)
           for s in range(3)]
    assert np.median(est) == pytest.approx(snr, abs=3.5)


def test_clean_speech_is_high_and_padding_is_not_noise():
    clean = speech_like()
    assert estimate_snr_db(clean, SR) > 40
    noisy = corrupt("white_noise", clean, 5.0, seed=1, sample_rate=SR)
    # digital-silence padding (what the voice path adds around an utterance) must not read as "no noise"
    assert estimate_snr_db(pad_silence(noisy, 1.0), SR) == pytest.approx(estimate_snr_db(noisy, SR), abs=0.5)
    assert estimate_snr_db(np.zeros(SR, np.float32), SR) == SNR_CAP_DB  # nothing audible: nothing to say
    assert estimate_snr_db(clean[:40], SR) == SNR_CAP_DB  # too short to tell


def test_snr_factor_is_monotone_and_bounded():
    vals = [snr_factor(x) for x in (-10, 0, 5, 10, 15, SNR_FULL_DB, 40)]
    assert vals == sorted(vals) and vals[0] == 0.05 and vals[-1] == 1.0 and vals[3] == pytest.approx(0.5)
    assert snr_factor(None) == 1.0


def test_voice_expert_reports_the_snr_it_read():
    from emofuse.experts import load_expert

    expert = load_expert("voice-ekman")
    clean = speech_like()
    out = expert.predict([(clean, SR), (corrupt("white_noise", clean, 0.0, seed=0, sample_rate=SR), SR)])
    snr = out.info["snr_db"]
    assert snr[0] > 40 and abs(snr[1]) < 4
    assert snr_factor(snr[1]) < 0.25 < snr_factor(snr[0])
