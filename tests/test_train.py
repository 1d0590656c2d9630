import json

import numpy as np
import pytest
import torch

from emofuse.data.synthetic import make_synthetic
from emofuse.errors import CheckpointError, ConfigError
from emofuse.evaluate.predict import predict
from emofuse.models import create_model
from emofuse.models.checkpoint import load_checkpoint, save_checkpoint
from emofuse.train import TrainConfig, Trainer
from emofuse.train.trainer import modality_dropout, seed_everything


@pytest.fixture(scope="module")
def data():
    return make_synthetic(20, seed=0), make_synthetic(8, seed=1)


def test_must_overfit_small_training_set(data):
    train, _ = data
    small = train.subset(np.arange(40))
    model = create_model("early_concat", small.spec, hidden=32, dropout=0.0)
    cfg = TrainConfig(epochs=150, patience=150, lr=3e-3, batch_size=8, progress=False, monitor="accuracy",
                      class_weights=False)
    result = Trainer(cfg).fit(model, small, small)
    assert result.best_metrics["accuracy"] == 1.0
    assert result.history[-1]["train_loss"] < 0.2


def test_training_is_deterministic(data):
    train, valid = data
    cfg = TrainConfig(epochs=3, progress=False, seed=7, modality_dropout=0.3)
    outs = []
    for _ in range(2):
        seed_everything(7)  # initial weights come from the seed too
        model = create_model("early_concat", train.spec, hidden=16)
        Trainer(cfg).fit(model, train, valid)
        outs.append(predict(model, valid).logits)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_best_epoch_is_selected_on_validation(data):
    train, valid = data
    model = create_model("early_concat", train.spec, hidden=16)
    result = Trainer(TrainConfig(epochs=6, patience=100, progress=False, monitor="accuracy")).fit(model, train, valid)
    values = [h["valid_accuracy"] for h in result.history]
    assert result.best_epoch == int(np.argmax(values)) + 1
    assert result.best_metrics["accuracy"] == pytest.approx(max(values))
    # the restored weights are the best epoch's
    acc = Trainer(TrainConfig(progress=False)).evaluate(model, valid)["accuracy"]
    assert acc == pytest.approx(max(values))


def test_early_stopping_stops(data):
    train, valid = data
    model = create_model("early_concat", train.spec, hidden=8)
    result = Trainer(TrainConfig(epochs=200, patience=2, lr=0.0, progress=False)).fit(model, train, valid)
    assert len(result.history) == 3  # epoch 1 sets the best; two epochs without improvement stop


def test_modality_dropout_keeps_one_modality(data):
    train, _ = data
    batch = train.batch(np.arange(64))
    gen = torch.Generator().manual_seed(0)
    out = modality_dropout(batch, 0.9, ("text", "audio", "face"), gen)
    present = torch.stack([out.mask(m) for m in ("text", "audio", "face")], 1)
    assert present.any(1).all()
    before = torch.stack([batch.mask(m) for m in ("text", "audio", "face")], 1)
    assert not (present & ~before).any()  # never revives a missing modality
    assert present.sum() < before.sum()


def test_checkpoint_card_and_strict_loading(tmp_path, data):
    train, valid = data
    model = create_model("early_concat", train.spec, hidden=8)
    Trainer(TrainConfig(epochs=2, progress=False)).fit(model, train, valid, checkpoint_dir=tmp_path / "ckpt")
    card = json.loads((tmp_path / "ckpt" / "model_card.json").read_text())
    for key in ("model", "config", "spec", "emofuse_version", "metrics", "train", "selection"):
        assert key in card
    assert card["model"] == "early_concat" and card["selection"]["split"] == "validation"
    loaded, _ = load_checkpoint(tmp_path / "ckpt")
    np.testing.assert_allclose(predict(loaded, valid).logits, predict(model, valid).logits, atol=1e-6)
    # a checkpoint whose weights do not match its card fails loudly
    other = create_model("early_concat", train.spec, hidden=12)
    save_checkpoint(other, tmp_path / "bad")
    card_bad = json.loads((tmp_path / "bad" / "model_card.json").read_text())
    card_bad["config"]["hidden"] = 8
    (tmp_path / "bad" / "model_card.json").write_text(json.dumps(card_bad))
    with pytest.raises((CheckpointError, RuntimeError)):
        load_checkpoint(tmp_path / "bad")


def test_bad_train_config():
    with pytest.raises(ConfigError):
        TrainConfig(modality_dropout=1.5)
    with pytest.raises(ConfigError):
        TrainConfig(loss="hinge")
