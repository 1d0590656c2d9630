"""The shipped voice expert: offline loading, determinism, resampling, bad input, card."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _signals import vowel
from emofuse.errors import CheckpointError, DataError
from emofuse.experts import EXPERTS, list_experts, load_expert
from emofuse.experts.base import REQUIRED_CARD_FIELDS, read_card, weights_dir, write_weights
from emofuse.experts.voice import (
    FEATURE_NAMES,
    N_FEATURES,
    SAMPLE_RATE,
    VoiceEkmanExpert,
    VoiceHead,
    VoiceHeadConfig,
    frame_features,
    utterance_features,
)

NAME = "voice-ekman"


@pytest.fixture(scope="module")
def expert() -> VoiceEkmanExpert:
    return load_expert(NAME)


def test_registered():
    assert NAME in list_experts(modality="audio")
    assert EXPERTS.get(NAME) is VoiceEkmanExpert


def test_loads_offline_and_predicts_distributions(expert):
    out = expert.predict([(vowel(), SAMPLE_RATE), (vowel(f0=220.0, amp=0.3), SAMPLE_RATE)])
    assert out.probs.shape == (2, 7) and out.ekman.shape == (2, 7)
    assert out.probs.dtype == np.float32
    np.testing.assert_allclose(out.probs.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.ekman.sum(1), 1.0, atol=1e-5)
    assert np.isfinite(out.probs).all() and (out.probs >= 0).all()
    assert out.classes == ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
    assert out.info["duration_s"] == [1.5, 1.5]
    assert all(0.5 < v <= 1.0 for v in out.info["voiced_fraction"])
    assert len(out.to_records()) == 2


def test_deterministic_and_batch_independent(expert):
    a = expert.predict([(vowel(), SAMPLE_RATE), (vowel(f0=200.0), SAMPLE_RATE)])
    b = expert.predict([(vowel(), SAMPLE_RATE), (vowel(f0=200.0), SAMPLE_RATE)])
    one = expert.predict((vowel(f0=200.0), SAMPLE_RATE))
    np.testing.assert_array_equal(a.probs, b.probs)
    np.testing.assert_allclose(one.probs[0], a.probs[1], atol=1e-6)


def test_temperature_only_changes_the_ekman_sharpness(expert):
    out = expert.predict((vowel(), SAMPLE_RATE))
    assert out.probs.argmax() == out.ekman.argmax()
    assert expert.temperature == pytest.approx(read_card(weights_dir(NAME))["calibration"]["temperature"])


def test_other_sample_rates_and_stereo_are_resampled(expert):
    ref = expert.predict((vowel(), SAMPLE_RATE)).probs
    for sr in (22050, 44100, 8000):
        p = expert.predict((vowel(sr=sr), sr)).probs
        assert p.shape == (1, 7)
        # same content at another rate gives nearly the same answer (8 kHz loses the top band)
        assert np.abs(p - ref).max() < (0.35 if sr == 8000 else 0.1)
    stereo = np.stack([vowel(), vowel()])
    np.testing.assert_allclose(expert.predict((stereo, SAMPLE_RATE)).probs, ref, atol=1e-5)
    # integer PCM is scaled, not misread (quantisation noise moves the quiet edges a little)
    pcm = np.round(vowel() * 32767).astype(np.int16)
    np.testing.assert_allclose(expert.predict((pcm, SAMPLE_RATE)).probs, ref, atol=0.05)  # 16-bit rounding


def test_files_are_decoded(expert, tmp_path):
    sf = pytest.importorskip("soundfile")
    path = tmp_path / "vowel.flac"
    sf.write(path, vowel(sr=22050), 22050)
    out = expert.predict([path, str(path)])
    ref = expert.predict((vowel(), SAMPLE_RATE)).probs
    np.testing.assert_allclose(out.probs[0], out.probs[1], rtol=1e-5, atol=1e-7)
    assert np.abs(out.probs[0] - ref[0]).max() < 0.1


@pytest.mark.parametrize(("bad", "match"), [
    ((np.zeros(0, np.float32), SAMPLE_RATE), "empty"),
    ((vowel()[:1000], SAMPLE_RATE), "too short"),
    ((np.zeros(16000, np.float32), SAMPLE_RATE), "silent"),
    ((np.full(16000, np.nan, np.float32), SAMPLE_RATE), "NaN"),
    ((vowel(), 0), "sample rate"),
    (vowel(), "sample rate"),
    ([], "empty"),
    (42, "expected"),
])
def test_bad_inputs_raise_clear_errors(expert, bad, match):
    with pytest.raises(DataError, match=match):
        expert.predict(bad)


def test_missing_file_raises(expert, tmp_path):
    with pytest.raises(FileNotFoundError):
        expert.predict(tmp_path / "missing.wav")


def test_card_has_required_fields_and_matches_head():
    card = read_card(weights_dir(NAME))
    for f in REQUIRED_CARD_FIELDS:
        assert f in card, f
    assert card["name"] == NAME and card["modality"] == "audio" and card["label_space"] == "ekman7"
    assert card["preprocessing"]["n_features"] == N_FEATURES == len(FEATURE_NAMES)
    assert card["preprocessing"]["sample_rate"] == SAMPLE_RATE
    assert 0.05 < card["calibration"]["temperature"] < 20
    assert card["calibration"]["ece_after"] <= card["calibration"]["ece_before"] + 1e-9
    for corpus in ("ravdess", "emodb"):
        assert corpus in card["metrics"]["native"]
    assert "CC BY-NC-SA 4.0" in card["licenses"]["training_data"]["RAVDESS"]
    size = sum(p.stat().st_size for p in weights_dir(NAME).iterdir())
    assert size < 2_000_000


def test_features_are_finite_and_pitch_is_found():
    x = vowel(f0=140.0, seconds=1.0)
    v = utterance_features(x)
    assert v.shape == (N_FEATURES,) and v.dtype == np.float32 and np.isfinite(v).all()
    f0 = frame_features(x)["f0"]
    voiced = f0[f0 > 0]
    # the glide goes 140 -> 160 Hz over one second
    assert 130 < np.median(voiced) < 170
    # level normalisation: a 20 dB quieter copy gives the same statistics
    np.testing.assert_allclose(utterance_features(0.1 * x), v, rtol=1e-3, atol=1e-3)


def test_save_load_round_trip(tmp_path, expert):
    head = VoiceHead(VoiceHeadConfig(hidden=8))
    torch.manual_seed(0)
    for p in head.parameters():
        torch.nn.init.normal_(p)
    card = {**expert.card}
    card["head"] = {**card["head"], "config": head.config.to_dict()}
    write_weights(tmp_path, head, card)
    loaded = VoiceEkmanExpert.from_dir(tmp_path)
    x = torch.as_tensor(np.stack([utterance_features(vowel())]))
    torch.testing.assert_close(loaded.head(x), head.eval()(x))
    card["head"]["config"]["hidden"] = 16
    write_weights(tmp_path / "bad", head, card)
    with pytest.raises(CheckpointError):
        VoiceEkmanExpert.from_dir(tmp_path / "bad")
