"""Voice occlusion and prosody: a stub expert that only hears a 1 kHz tone (known evidence), synthetic voices."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from emofuse.errors import ConfigError, DataError
from emofuse.explain.voice import prosody_summary, voice_deletion_curve, voice_occlusion

SR = 16000


class ToneExpert:
    """``p(anger) = sigmoid(40 · A − 2)`` where ``A`` is the wave's 1 kHz amplitude (rest: neutral).

    Only a 1 kHz tone raises anger, so its stretch is the whole evidence. ``calls`` records the batch
    size of every ``predict``.
    """

    name = "tone-stub"
    modality = "audio"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict(self, items):
        self.calls.append(len(items))
        rows = []
        for w, sr in items:
            w = np.asarray(w, np.float64)
            if float(np.abs(w).max()) <= 1e-4:
                raise DataError("silent")
            t = np.arange(len(w)) / sr
            amp = 2.0 * abs(np.sum(w * np.exp(-2j * np.pi * 1000.0 * t))) / len(w)
            p = 1.0 / (1.0 + np.exp(-(40.0 * amp - 2.0)))
            rows.append([p, 0, 0, 0, 0, 0, 1.0 - p])
        return SimpleNamespace(ekman=np.asarray(rows, np.float32))


def tone_at(start: float, end: float, duration: float = 3.0, seed: int = 0) -> np.ndarray:
    """Low noise with a 0.5-amplitude 1 kHz tone from ``start`` to ``end`` seconds."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration * SR)) / SR
    w = 0.01 * rng.standard_normal(t.size)
    on = (t >= start) & (t < end)
    w[on] += 0.5 * np.sin(2 * np.pi * 1000.0 * t[on])
    return w.astype(np.float32)


def vowel(f0: float = 140.0, duration: float = 2.0) -> np.ndarray:
    t = np.arange(int(duration * SR)) / SR
    return (0.1 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))).astype(np.float32)


def test_top_stretch_is_the_tone_and_copies_go_in_one_batch() -> None:
    expert = ToneExpert()
    r = voice_occlusion(expert, tone_at(1.0, 1.4), SR, target="anger")
    assert r["method"] == "occlusion" and r["target"] == "anger"
    assert r["window_s"] == 0.4 and r["hop_s"] == 0.2
    top = r["top"]
    assert top["start"] < 1.4 and top["end"] > 1.0
    assert top["start"] == pytest.approx(1.0) and top["end"] == pytest.approx(1.4)
    starts = [s["start"] for s in r["stretches"]]
    assert starts == sorted(starts) and starts[0] == 0.0
    assert r["stretches"][-1]["end"] == pytest.approx(3.0)
    # stretches away from the tone cost nothing
    far = [s for s in r["stretches"] if s["end"] <= 0.8 or s["start"] >= 1.6]
    assert far and max(abs(s["drop"]) for s in far) < 0.01
    assert top["drop"] > 0.5
    # one call for the full wave, one batched call for all occluded copies
    assert expert.calls == [1, len(r["stretches"])]
    assert r["prob"] == pytest.approx(float(expert.predict([(tone_at(1.0, 1.4), SR)]).ekman[0, 0]))


def test_span_silences_only_the_windows_over_it_and_keeps_their_drops() -> None:
    w = tone_at(1.0, 1.4)
    full = voice_occlusion(ToneExpert(), w, SR, target="anger")
    expert = ToneExpert()
    part = voice_occlusion(expert, w, SR, target="anger", span=(0.9, 1.9))
    inside = [s for s in full["stretches"] if s["end"] > 0.9 and s["start"] < 1.9]
    assert part["stretches"] == inside and part["top"] == full["top"]
    assert expert.calls == [1, len(inside)] and len(inside) < len(full["stretches"])  # fewer expert passes
    with pytest.raises(ConfigError, match="span"):
        voice_occlusion(expert, w, SR, span=(2.0, 1.0))


def test_predicted_target_by_default_and_other_rates() -> None:
    expert = ToneExpert()
    w = tone_at(0.5, 0.9, duration=2.0)
    r = voice_occlusion(expert, w, SR)
    assert r["target"] == "anger"
    # the same tone at 8 kHz: stretches are still in seconds
    w8 = w[::2].copy()
    r8 = voice_occlusion(expert, w8, 8000, window_s=0.4, hop_s=0.2)
    assert r8["top"]["start"] < 0.9 and r8["top"]["end"] > 0.5


def test_audio_shorter_than_a_window_is_one_stretch() -> None:
    expert = ToneExpert()
    w = tone_at(0.0, 0.3, duration=0.3)
    r = voice_occlusion(expert, w, SR, target="anger")
    assert len(r["stretches"]) == 1
    s = r["stretches"][0]
    assert s["start"] == 0.0 and s["end"] == pytest.approx(0.3)
    # the whole wave silenced: no evidence left, the uniform 1/7 stands in
    assert s["drop"] == pytest.approx(r["prob"] - 1 / 7, abs=1e-6)
    assert r["top"] == s


def test_bad_inputs() -> None:
    expert = ToneExpert()
    w = tone_at(1.0, 1.4)
    bad = w.copy()
    bad[100] = np.nan
    with pytest.raises(DataError, match="NaN"):
        voice_occlusion(expert, bad, SR)
    with pytest.raises(DataError, match="numpy array"):
        voice_occlusion(expert, w.tolist(), SR)
    with pytest.raises(DataError):
        voice_occlusion(expert, w, 0)
    with pytest.raises(ConfigError, match="happiness"):
        voice_occlusion(expert, w, SR, target="rage")
    with pytest.raises(ConfigError, match="hop_s"):
        voice_occlusion(expert, w, SR, window_s=0.2, hop_s=0.4)
    with pytest.raises(TypeError):
        voice_occlusion(object(), w, SR)
    with pytest.raises(ConfigError, match="voice expert"):
        voice_occlusion(SimpleNamespace(name="text-goemotions", modality="text", predict=expert.predict), w, SR)
    with pytest.raises(DataError, match="numpy array"):
        prosody_summary([0.0] * 1000, SR)
    with pytest.raises(DataError, match="too short"):
        prosody_summary(np.zeros(100, np.float32), SR)


def test_prosody_of_a_vowel() -> None:
    p = prosody_summary(vowel(140.0), SR)
    assert set(p) == {"pitch_median_hz", "pitch_range_semitones", "energy_db", "voiced_fraction", "rate_per_s"}
    assert p["pitch_median_hz"] == pytest.approx(140.0, rel=0.03)
    assert p["pitch_range_semitones"] < 1.0  # a steady vowel
    assert p["voiced_fraction"] > 0.9
    assert -40.0 < p["energy_db"] < 0.0
    assert p["rate_per_s"] < 1.0  # no syllables in a steady vowel
    # the same vowel 20 dB quieter reads 20 dB lower, same pitch; at 22.05 kHz the same pitch
    q = prosody_summary(0.1 * vowel(140.0), SR)
    assert q["energy_db"] == pytest.approx(p["energy_db"] - 20.0, abs=0.5)
    t = np.arange(int(2.0 * 22050)) / 22050
    v22 = (0.1 * sum(np.sin(2 * np.pi * 220.0 * k * t) / k for k in range(1, 8))).astype(np.float32)
    assert prosody_summary(v22, 22050)["pitch_median_hz"] == pytest.approx(220.0, rel=0.03)


def test_prosody_of_silence_and_of_syllables() -> None:
    s = prosody_summary(np.zeros(SR, np.float32), SR)
    assert s["voiced_fraction"] == 0.0 and s["pitch_median_hz"] is None and s["pitch_range_semitones"] is None
    assert s["rate_per_s"] == 0.0 and s["energy_db"] < -100.0
    # four "syllables" per second: the vowel gated on for 150 ms every 250 ms, pitch gliding 120→180 Hz
    t = np.arange(2 * SR) / SR
    f0 = 120.0 + 30.0 * t
    phase = 2 * np.pi * np.cumsum(f0) / SR
    v = 0.1 * sum(np.sin(k * phase) / k for k in range(1, 10))
    gate = ((t % 0.25) < 0.15).astype(np.float64)
    p = prosody_summary((v * gate).astype(np.float32), SR)
    assert p["rate_per_s"] == pytest.approx(4.0, abs=1.0)
    # silence padding around the speech does not dilute the rate (it even finds the first syllable,
    # whose rise the unpadded wave cuts off: 8 peaks in 2 s)
    padded = np.r_[np.zeros(SR), v * gate, np.zeros(SR)].astype(np.float32)
    assert prosody_summary(padded, SR)["rate_per_s"] == pytest.approx(4.0, abs=0.5)
    assert p["pitch_range_semitones"] == pytest.approx(12 * np.log2(174.0 / 126.0), abs=1.5)


def test_deletion_curve_prefers_the_tone() -> None:
    expert = ToneExpert()
    items = [(tone_at(a, a + 0.4, seed=i), SR) for i, a in enumerate((0.4, 1.0, 2.2))]
    c = voice_deletion_curve(expert, items, fractions=(0.1, 0.3), targets=["anger"] * 3, n_random=4)
    assert c["fractions"] == [0.1, 0.3] and c["n_items"] == 3
    assert set(c) >= {"fractions", "top", "random", "n_items", "target_prob_full"}
    assert all(t > r + 0.1 for t, r in zip(c["top"], c["random"], strict=True))
    assert c["mean_cells"] == pytest.approx(15.0)
    with pytest.raises(ConfigError, match="fractions"):
        voice_deletion_curve(expert, items, fractions=(1.5,))
    with pytest.raises(DataError, match="no items"):
        voice_deletion_curve(expert, [])
