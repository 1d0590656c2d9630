"""emofuse.cards: one card format per kind, strict weights, portable shipped cards."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emofuse import cards
from emofuse.data.synthetic import make_synthetic
from emofuse.errors import CheckpointError, MissingFileError
from emofuse.evaluate.predict import predict
from emofuse.experts.base import read_card as read_expert_card
from emofuse.experts.base import read_weights, weights_dir, write_weights
from emofuse.experts.voice import VoiceHead, VoiceHeadConfig
from emofuse.models import create_model
from emofuse.models.checkpoint import load_checkpoint, save_checkpoint

WEIGHTS_ROOT = Path(cards.__file__).parent / "experts" / "weights"
SHIPPED = sorted(WEIGHTS_ROOT.glob("*/card.json"))


def raises_exactly(exc_type: type[Exception], fn, *args, match: str | None = None, **kwargs) -> Exception:
    with pytest.raises(exc_type, match=match) as info:
        fn(*args, **kwargs)
    assert type(info.value) is exc_type, f"expected exactly {exc_type.__name__}, got {type(info.value).__name__}"
    return info.value


@pytest.fixture(scope="module")
def data():
    return make_synthetic(12, seed=0)


@pytest.fixture
def expert_card() -> dict:
    return {k: v for k, v in read_expert_card(weights_dir("voice-ekman")).items()
            if k not in ("format", "format_version")}


def _write(d: Path, name: str, text: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    return d


# --------------------------------------------------------------------------- cards


def test_corrupt_json_is_a_checkpoint_error(tmp_path):
    _write(tmp_path, "card.json", '{"format": "emofuse-expert", ')
    raises_exactly(CheckpointError, cards.read_card, tmp_path, "expert", match="not valid JSON")
    _write(tmp_path, "card.json", "[1, 2]")
    raises_exactly(CheckpointError, cards.read_card, tmp_path, "expert", match="JSON object")


def test_wrong_kind_is_a_checkpoint_error(tmp_path, expert_card):
    cards.write_card(tmp_path, expert_card, kind="expert")
    (tmp_path / "model_card.json").write_text((tmp_path / "card.json").read_text())
    err = raises_exactly(CheckpointError, cards.read_card, tmp_path, "fusion", match="emofuse-fusion")
    assert "expert card" in str(err)
    _write(tmp_path, "card.json", json.dumps({**expert_card, "format": "something-else"}))
    raises_exactly(CheckpointError, cards.read_card, tmp_path, "expert", match="something-else")


@pytest.mark.parametrize("kind", ["expert", "fusion"])
def test_newer_format_version_asks_to_upgrade(tmp_path, kind, expert_card):
    spec = cards.KINDS[kind]
    doc = {**expert_card, "model": "x", "config": {}, "spec": {}, "format": spec.format,
           "format_version": spec.version + 1}
    _write(tmp_path, spec.card_file, json.dumps(doc))
    raises_exactly(CheckpointError, cards.read_card, tmp_path, kind, match="upgrade emofuse")


def test_missing_required_field(tmp_path, expert_card):
    cards.write_card(tmp_path, expert_card, kind="expert")
    doc = json.loads((tmp_path / "card.json").read_text())
    del doc["licenses"]
    (tmp_path / "card.json").write_text(json.dumps(doc))
    raises_exactly(CheckpointError, cards.read_card, tmp_path, "expert", match="licenses")
    raises_exactly(CheckpointError, cards.write_card, tmp_path / "w", {"name": "x"}, "expert", match="lacks")


def test_missing_card_names_the_file(tmp_path):
    err = raises_exactly(MissingFileError, cards.read_card, tmp_path, "expert")
    assert "card.json" in str(err)
    err = raises_exactly(MissingFileError, load_checkpoint, tmp_path)
    assert "model_card.json" in str(err)


def test_legacy_fusion_card_without_format_loads(tmp_path, data):
    model = create_model("early_concat", data.spec, hidden=8)
    save_checkpoint(model, tmp_path)
    doc = json.loads((tmp_path / "model_card.json").read_text())
    assert doc["format"] == "emofuse-fusion" and doc["format_version"] == 1
    legacy = {k: v for k, v in doc.items() if k not in ("format", "format_version")}
    (tmp_path / "model_card.json").write_text(json.dumps(legacy))
    loaded, card = load_checkpoint(tmp_path)
    assert card["format_version"] == 0
    np.testing.assert_array_equal(predict(loaded, data).logits, predict(model.eval(), data).logits)


def test_checkpoint_of_an_earlier_version_loads(tmp_path, data):
    """Cards that named the face modality ``video`` (as MOSI does) and late-fusion models that
    carried an unused ``head.*`` load into today's models and predict the same."""
    from safetensors.torch import load_file, save_file

    model = create_model("late_weighted", data.spec, hidden=8)
    save_checkpoint(model, tmp_path)
    doc = json.loads((tmp_path / "model_card.json").read_text())
    assert "face" in doc["spec"]["modalities"]
    doc["spec"]["modalities"] = {("video" if k == "face" else k): v for k, v in doc["spec"]["modalities"].items()}
    legacy = {k: v for k, v in doc.items() if k not in ("format", "format_version")}  # as earlier versions wrote
    (tmp_path / "model_card.json").write_text(json.dumps(legacy))
    state = {".".join("video" if p == "face" else p for p in k.split(".")): v
             for k, v in load_file(str(tmp_path / "model.safetensors")).items()}
    assert any(".video." in k or k.startswith("video.") for k in state)
    state["head.weight"] = torch.zeros(2, 8)
    save_file(state, str(tmp_path / "model.safetensors"))
    loaded, _ = load_checkpoint(tmp_path)
    assert "face" in loaded.spec.modalities and "video" not in loaded.spec.modalities
    np.testing.assert_allclose(predict(loaded, data).logits, predict(model.eval(), data).logits, atol=1e-6)
    state["unknown.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "model.safetensors"))
    raises_exactly(CheckpointError, load_checkpoint, tmp_path, match="unknown.weight")


def test_cards_refuse_absolute_paths(tmp_path, expert_card):
    bad = {**expert_card, "training_data": {"recipe": "python train.py --data-dir /home/me/data"}}
    raises_exactly(CheckpointError, cards.write_card, tmp_path, bad, "expert", match="machine-specific")
    assert not (tmp_path / "card.json").exists()
    assert cards.find_absolute_paths({"a": "https://example.org/x/y", "b": "ms/face", "c": "1/2"}) == []
    assert cards.find_absolute_paths({"a": ["C:\\data"], "b": "~/data/x"}) == [("a[0]", "C:\\data"),
                                                                                ("b", "~/data/x")]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_shipped_cards_hold_no_absolute_path(path):
    card = json.loads(path.read_text(encoding="utf-8"))
    assert cards.find_absolute_paths(card) == []
    text = path.read_text(encoding="utf-8")
    for root in ("/work", "/home", "/tmp", "/root", "/Users"):
        assert root not in text
    assert cards.read_card(path.parent, "expert")["name"] == path.parent.name


def test_shipped_cards_are_found():
    assert {p.parent.name for p in SHIPPED} >= {"face-fer2013", "text-goemotions", "voice-ekman", "voice-whisper"}


# --------------------------------------------------------------------------- strict weights


class Tiny(torch.nn.Module):
    def __init__(self, width: int = 3, extra: bool = False) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(2, width)
        if extra:
            self.more = torch.nn.Linear(width, 1)


def test_missing_weights_file(tmp_path, expert_card):
    raises_exactly(MissingFileError, cards.load_weights_strict, Tiny(), tmp_path / "head.safetensors")
    cards.write_card(tmp_path, expert_card, kind="expert")
    err = raises_exactly(MissingFileError, read_weights, tmp_path, Tiny())
    assert "head.safetensors" in str(err)


def test_unreadable_weights_file(tmp_path):
    (tmp_path / "w.safetensors").write_bytes(b"not safetensors at all")
    raises_exactly(CheckpointError, cards.load_weights_strict, Tiny(), tmp_path / "w.safetensors")


def test_extra_tensor(tmp_path):
    p = cards.save_weights(Tiny(extra=True), tmp_path / "w.safetensors")
    err = raises_exactly(CheckpointError, cards.load_weights_strict, Tiny(), p, match="unexpected")
    assert "more.weight" in str(err)


def test_missing_tensor(tmp_path):
    p = cards.save_weights(Tiny(), tmp_path / "w.safetensors")
    err = raises_exactly(CheckpointError, cards.load_weights_strict, Tiny(extra=True), p, match="missing")
    assert "more.bias" in str(err)


def test_wrong_shape_is_not_a_raw_runtime_error(tmp_path):
    p = cards.save_weights(Tiny(width=3), tmp_path / "w.safetensors")
    err = raises_exactly(CheckpointError, cards.load_weights_strict, Tiny(width=4), p, match="shape")
    assert "lin.weight" in str(err) and "(3, 2)" in str(err) and "(4, 2)" in str(err)


def test_fusion_checkpoint_with_wrong_shape(tmp_path, data):
    save_checkpoint(create_model("early_concat", data.spec, hidden=12), tmp_path)
    doc = json.loads((tmp_path / "model_card.json").read_text())
    doc["config"]["hidden"] = 8
    (tmp_path / "model_card.json").write_text(json.dumps(doc))
    raises_exactly(CheckpointError, load_checkpoint, tmp_path, match="shape")
    (tmp_path / "model.safetensors").unlink()
    raises_exactly(MissingFileError, load_checkpoint, tmp_path, match="model.safetensors")


# --------------------------------------------------------------------------- round trips


def test_zoo_model_round_trip(tmp_path, data):
    torch.manual_seed(0)
    model = create_model("early_concat", data.spec, hidden=8).eval()
    save_checkpoint(model, tmp_path, note="round trip")
    loaded, card = load_checkpoint(tmp_path)
    assert card["note"] == "round trip" and card["model"] == "early_concat"
    np.testing.assert_array_equal(predict(loaded, data).logits, predict(model, data).logits)


def test_expert_head_round_trip(tmp_path, expert_card):
    torch.manual_seed(0)
    head = VoiceHead(VoiceHeadConfig(hidden=8))
    for p in head.parameters():
        torch.nn.init.normal_(p)
    card = {**expert_card, "head": {**expert_card["head"], "config": head.config.to_dict()}}
    write_weights(tmp_path, head, card)
    again = VoiceHead(VoiceHeadConfig.from_dict(read_expert_card(tmp_path)["head"]["config"]))
    read_weights(tmp_path, again)
    assert not again.training
    x = torch.randn(5, head.config.n_features)
    torch.testing.assert_close(again(x), head.eval()(x), rtol=0, atol=0)


# --------------------------------------------------------------------------- helpers


def test_replace_block(tmp_path):
    p = tmp_path / "README.md"
    cards.replace_block(p, "one", "<!-- a -->", "<!-- b -->", title="T")
    cards.replace_block(p, "two", "<!-- a -->", "<!-- b -->")
    text = p.read_text()
    assert text.startswith("# T\n") and "two" in text and "one" not in text and text.count("<!-- a -->") == 1


def test_round_floats_and_mean_std():
    assert cards.round_floats({"a": [0.123456, 1], "b": (2.0,)}) == {"a": [0.1235, 1], "b": [2.0]}
    assert cards.mean_std({"uar_mean": 0.51234, "uar_std": 0.0}, "uar") == {"mean": 0.5123, "std": 0.0}
