"""Raw-media corruptions: achieved severities (SNR, RT60, occluded area, WER), determinism, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emofuse.errors import ConfigError, DataError
from emofuse.robustness.corrupt import (
    COMMON_WORDS,
    CORRUPTIONS,
    active_power,
    corrupt,
    get_corruption,
    list_corruptions,
    snr_db,
    synthetic_rir,
    word_error_rate,
)

SR = 16000


def _speechlike(seed: int = 0, seconds: float = 1.0) -> np.ndarray:
    """0.25 s of silence, then an amplitude-modulated two-tone 'voice', then silence again (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    tones = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 720 * t)
    voiced = 0.3 * tones * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))
    wave = np.concatenate([np.zeros(SR // 4), voiced, np.zeros(SR // 4)])
    return (wave + 1e-5 * rng.standard_normal(wave.size)).astype(np.float32)


def _face(h: int = 48, w: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(h, w), dtype=np.uint8)


def _input(name: str):
    mod = get_corruption(name).modality
    return {"audio": _speechlike(), "face": _face(), "text": "i am so happy to see you again today"}[mod]


BANK = [(_speechlike(s, 0.6) * (s + 1), SR) for s in range(1, 6)]
CTX = {"sample_rate": SR, "bank": BANK}


def test_registry_lists_every_modality_and_describes_each_corruption():
    assert list_corruptions("audio") == ["babble_noise", "reverb", "white_noise"]
    assert list_corruptions("face") == ["blur", "downscale", "jpeg", "occlusion"]
    assert list_corruptions("text") == ["word_errors"]
    assert list_corruptions() == sorted(list_corruptions("audio") + list_corruptions("face") + ["word_errors"])
    for name in CORRUPTIONS:
        spec = CORRUPTIONS.get(name)
        assert spec.unit and spec.description and spec.levels
        assert all(spec.low <= lv <= spec.high for lv in spec.levels)
        assert spec.condition(None) == "clean"
        assert spec.condition(spec.levels[0]) != spec.condition(spec.levels[-1])
    assert get_corruption("white_noise").condition(10) == "white noise 10 dB SNR"
    with pytest.raises(ConfigError, match="modality"):
        list_corruptions("smell")


@pytest.mark.parametrize("name", CORRUPTIONS.names())
def test_none_is_identity_and_same_seed_same_output(name):
    x = _input(name)
    clean = corrupt(name, x, None, **CTX)
    assert (clean == x) if isinstance(x, str) else np.array_equal(clean, x)
    level = get_corruption(name).levels[-1]
    a, b = corrupt(name, x, level, seed=3, **CTX), corrupt(name, x, level, seed=3, **CTX)
    if isinstance(x, str):
        assert a == b and a != x
    else:
        assert np.array_equal(a, b) and not np.array_equal(a, x)
        assert a.shape == x.shape and a.dtype == x.dtype and np.isfinite(a.astype(np.float64)).all()


@pytest.mark.parametrize("name", [n for n in CORRUPTIONS.names() if n not in ("downscale", "blur", "jpeg")])  # no draws
def test_different_seeds_give_different_draws(name):
    x, level = _input(name), get_corruption(name).levels[-1]
    outs = [corrupt(name, x, level, seed=s, **CTX) for s in range(4)]
    if isinstance(x, str):
        assert len(set(outs)) > 1
    else:
        assert any(not np.array_equal(outs[0], o) for o in outs[1:])


def test_errors_are_config_or_data_errors_with_clear_messages():
    with pytest.raises(ConfigError, match="Did you mean: blur"):
        corrupt("blurr", _face(), 2)
    with pytest.raises(KeyError):  # also a lookup error, like every unknown registry name
        get_corruption("whit_noise")
    for bad in (math.nan, "loud", True, 150, -30):
        with pytest.raises(ConfigError, match="white_noise.*dB SNR"):
            corrupt("white_noise", _speechlike(), bad)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        corrupt("occlusion", _face(), 1.5)
    with pytest.raises(ConfigError, match="sample_rate"):
        corrupt("reverb", _speechlike(), 0.5)
    with pytest.raises(ConfigError, match="bank"):
        corrupt("babble_noise", _speechlike(), 10)
    with pytest.raises(DataError, match="1-D float"):
        corrupt("white_noise", np.zeros((2, 100), np.float32), 10)
    with pytest.raises(DataError, match="1-D float"):
        corrupt("white_noise", np.zeros(100, np.int16), 10)
    with pytest.raises(DataError, match="NaN"):
        corrupt("white_noise", np.array([0.1, np.nan], np.float32), 10)
    with pytest.raises(DataError, match="uint8"):
        corrupt("blur", np.zeros((48, 48), np.float32), 2)
    with pytest.raises(DataError, match="string"):
        corrupt("word_errors", ["not", "a", "string"], 0.2)


# --------------------------------------------------------------------------------------------- audio

def test_active_power_ignores_silence():
    x = _speechlike()
    voiced = x[SR // 4: SR // 4 + SR].astype(np.float64)
    assert active_power(x, SR) == pytest.approx(np.mean(voiced**2), rel=0.02)
    assert np.mean(x.astype(np.float64) ** 2) < 0.7 * active_power(x, SR)  # plain power would be lower
    assert active_power(np.zeros(1000, np.float32), SR) == 0.0


@pytest.mark.parametrize("snr", [30, 10, 0, -5])
def test_white_noise_achieves_the_requested_snr(snr):
    x = _speechlike()
    y = corrupt("white_noise", x, snr, seed=1, sample_rate=SR)
    noise = y.astype(np.float64) - x
    assert snr_db(x, noise, SR) == pytest.approx(snr, abs=0.05)
    spectrum = np.abs(np.fft.rfft(noise)) ** 2  # white: flat, low band as strong as high band
    lo, hi = spectrum[: spectrum.size // 2].mean(), spectrum[spectrum.size // 2:].mean()
    assert 0.8 < lo / hi < 1.25


def test_white_noise_leaves_a_silent_wave_alone():
    z = np.zeros(800, np.float32)
    assert np.array_equal(corrupt("white_noise", z, 10, sample_rate=SR), z)


def test_babble_is_the_bank_speech_at_the_requested_snr():
    x = _speechlike()
    tone = lambda f: (0.1 * np.sin(2 * np.pi * f * np.arange(SR // 2) / SR)).astype(np.float32)  # noqa: E731
    bank = [tone(1500), tone(2500), (tone(3500)[::2].copy(), SR // 2)]  # last one needs resampling
    y = corrupt("babble_noise", x, 5, seed=2, sample_rate=SR, bank=bank, talkers=3)
    noise = y.astype(np.float64) - x
    assert snr_db(x, noise, SR) == pytest.approx(5, abs=0.05)
    spec = np.abs(np.fft.rfft(noise))
    freqs = np.fft.rfftfreq(noise.size, 1 / SR)
    peaks = sorted(freqs[np.argsort(spec)[-3:]].round(-1))
    assert peaks == [1500, 2500, 3500]  # the talkers are the bank's waves (the 8 kHz one resampled)
    with pytest.raises(ConfigError, match="talkers"):
        corrupt("babble_noise", x, 5, sample_rate=SR, bank=bank, talkers=0)


def _schroeder_rt60(h: np.ndarray, sr: int) -> float:
    """RT60 from the backward-integrated energy decay, fitted between -5 and -25 dB (T20 ×3)."""
    edc = np.cumsum((h[1:] ** 2)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    sel = (edc_db <= -5) & (edc_db >= -25)
    slope = np.polyfit(np.flatnonzero(sel) / sr, edc_db[sel], 1)[0]
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.3, 0.6, 1.0])
def test_synthetic_rir_decays_60_db_in_rt60(rt60):
    h = synthetic_rir(rt60, SR, np.random.default_rng(0))
    assert h[0] == 1.0 and h.size == round(1.2 * rt60 * SR)
    assert _schroeder_rt60(h, SR) == pytest.approx(rt60, rel=0.1)


def test_reverb_keeps_level_and_tail_grows_with_rt60():
    x = _speechlike()
    tails = []
    for rt60 in (0.3, 0.6, 1.0):
        y = corrupt("reverb", x, rt60, seed=0, sample_rate=SR)
        assert active_power(y, SR) == pytest.approx(active_power(x, SR), rel=1e-3)
        end = SR // 4 + SR  # the voice stops here; what follows is the room's tail
        tails.append(float(np.mean(y[end + SR // 20: end + SR // 5].astype(np.float64) ** 2)))
    assert tails[0] < tails[1] < tails[2]
    assert tails[0] > 1e3 * float(np.mean(x[-SR // 5:].astype(np.float64) ** 2))


# ---------------------------------------------------------------------------------------------- face

def test_blur_smooths_more_with_sigma_and_keeps_flat_images():
    img = np.kron((np.indices((12, 12)).sum(0) % 2) * 255, np.ones((4, 4))).astype(np.uint8)  # checkerboard
    stds = [corrupt("blur", img, s).astype(float).std() for s in (0.5, 1, 2, 4)]
    assert stds == sorted(stds, reverse=True) and stds[-1] < 0.1 * img.std()
    flat = np.full((30, 20), 77, np.uint8)
    assert np.array_equal(corrupt("blur", flat, 3), flat)


@pytest.mark.parametrize("shape", [(48, 48), (60, 40), (17, 90)])
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.6, 1.0])
def test_occlusion_covers_the_requested_fraction_with_one_block(shape, fraction):
    img = np.full(shape, 200, np.uint8)
    for seed in range(5):
        out = corrupt("occlusion", img, fraction, seed=seed)
        covered = out == 0
        # exact up to rounding the block's sides to whole pixels
        assert covered.mean() == pytest.approx(fraction, abs=1.5 / min(shape) + 0.01)
        if covered.any():
            rows, cols = np.flatnonzero(covered.any(1)), np.flatnonzero(covered.any(0))
            assert covered[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].all()  # one solid rectangle
    assert (corrupt("occlusion", img, 0.5, fill=255) >= 200).all()


def test_downscale_loses_detail_with_factor_and_keeps_size():
    img = _face(48, 48)
    assert np.array_equal(corrupt("downscale", img, 1), img)
    errs = []
    for f in (2, 4, 8):
        out = corrupt("downscale", img, f)
        assert out.shape == img.shape and out.dtype == np.uint8
        errs.append(np.abs(out.astype(int) - img).mean())
    assert errs == sorted(errs)
    smooth = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))  # a ramp survives downscaling
    assert np.abs(corrupt("downscale", smooth, 2).astype(int) - smooth).mean() < 3


def test_jpeg_error_grows_as_quality_drops_and_stacks_work():
    img = np.kron(_face(12, 12), np.ones((4, 4), np.uint8))
    errs = [np.abs(corrupt("jpeg", img, q).astype(int) - img).mean() for q in (95, 50, 10, 2)]
    assert errs == sorted(errs) and errs[0] < errs[-1] / 3
    stack = np.stack([_face(seed=s) for s in range(3)])
    out = corrupt("jpeg", stack, 10)
    assert out.shape == (3, 48, 48) and out.dtype == np.uint8
    assert np.array_equal(out[1], corrupt("jpeg", stack[1], 10))


# ---------------------------------------------------------------------------------------------- text

def test_word_error_rate_is_the_word_edit_distance():
    assert word_error_rate("a b c d", "a b c d") == 0
    assert word_error_rate("a b c d", "a x c d") == 0.25
    assert word_error_rate("a b c d", "a c d") == 0.25
    assert word_error_rate("a b c d", "a b y c d z") == 0.5
    assert word_error_rate("a b", "") == 1.0
    assert word_error_rate("", "") == 0.0


@pytest.mark.parametrize("wer", [0.1, 0.2, 0.3, 0.5, 1.0])
def test_word_errors_achieve_the_requested_wer_exactly_on_distinct_words(wer):
    ref = " ".join(f"w{i}" for i in range(100))  # no reference word is a possible substitute
    for seed in range(4):
        hyp = corrupt("word_errors", ref, wer, seed=seed)
        assert word_error_rate(ref, hyp) == pytest.approx(wer)
        assert set(hyp.split()) - set(ref.split()) <= set(COMMON_WORDS)


def test_word_errors_on_everyday_sentences_match_the_level_on_average():
    sents = ["i am so happy for you", "this is the worst thing that could happen", "why would you do that to me",
             "oh wow i did not expect that at all", "thanks so much it means a lot", "ok"]
    for wer in (0.1, 0.3, 0.5):
        n_ref = errs = 0
        for seed in range(60):
            for s in sents:
                hyp = corrupt("word_errors", s, wer, seed=seed)
                n_ref += len(s.split())
                errs += word_error_rate(s, hyp) * len(s.split())
        assert errs / n_ref == pytest.approx(wer, abs=0.03)
    assert corrupt("word_errors", "   ", 0.5) == "   "
    # a text is never erased: all-deletions become one substitution (still one error per word)
    outs = [corrupt("word_errors", "wow", 1.0, seed=s, mix=(0, 1, 0)) for s in range(5)]
    assert all(len(o.split()) == 1 and o != "wow" for o in outs)
    assert corrupt("word_errors", "keep me as i am", 0.0) == "keep me as i am"
    with pytest.raises(ConfigError, match="mix"):
        corrupt("word_errors", "a b c d", 0.5, mix=(1, -1, 0))
