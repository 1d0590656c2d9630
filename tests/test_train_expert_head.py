"""emofuse.train.expert_head: the one expert-head loop (hooks for loss, forward step, selection)."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emofuse.errors import ConfigError
from emofuse.experts.calibration import calibration_report, nll
from emofuse.train.expert_head import HeadTrainConfig, fit_head


def blobs(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=g) * 0.3 + (y[:, None] * 2.0 - 1.0) * torch.tensor([2.0, 1.0])
    return x, y


def _fit(head, x, y, cfg, **kw):
    def batches(epoch, gen):
        perm = torch.randperm(len(x), generator=gen)
        return [(x[i], y[i]) for i in perm.split(8)]

    def score(m):
        return {"acc": float((m(x).argmax(1) == y).float().mean()), "loss": float(F.cross_entropy(m(x), y))}

    return fit_head(head, batches, lambda m, b, g: m(b[0]), lambda out, b: F.cross_entropy(out, b[1]), score, cfg,
                    steps_per_epoch=int(np.ceil(len(x) / 8)), **kw)


def test_head_loop_overfits_a_tiny_separable_set():
    x, y = blobs()
    torch.manual_seed(0)
    head = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    res = _fit(head, x, y, HeadTrainConfig(epochs=40, lr=0.05, weight_decay=0.0, monitor="acc", log_every=0))
    assert res.best_score == 1.0
    assert res.history[-1]["train_loss"] < 0.2
    assert not head.training
    assert float((head(x).argmax(1) == y).float().mean()) == 1.0


def test_best_epoch_is_restored_and_early_stopping():
    x, y = blobs()
    torch.manual_seed(0)
    head = torch.nn.Linear(2, 2)
    res = _fit(head, x, y, HeadTrainConfig(epochs=30, lr=0.1, patience=2, monitor="acc", log_every=0))
    assert len(res.history) < 30  # stopped early once accuracy stopped improving
    assert res.best_epoch == min(r["epoch"] for r in res.history if r["acc"] == res.best_score)  # ties: earlier
    assert float((head(x).argmax(1) == y).float().mean()) == res.best_score


def test_run_dir_and_resume(tmp_path):
    x, y = blobs()
    torch.manual_seed(0)
    cfg = HeadTrainConfig(epochs=4, lr=0.05, monitor="acc", log_every=0)
    _fit(torch.nn.Linear(2, 2), x, y, HeadTrainConfig(epochs=4, lr=0.05, monitor="acc", log_every=0),
         run_dir=tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"last.pt", "best.safetensors", "history.json"}
    assert len(json.loads((tmp_path / "history.json").read_text())) == 4
    res = _fit(torch.nn.Linear(2, 2), x, y, cfg, run_dir=tmp_path, resume=True, log=lambda m: None)
    assert len(res.history) == 4  # nothing left to do: the state came back from last.pt


def test_bad_settings():
    with pytest.raises(ConfigError):
        HeadTrainConfig(epochs=0)
    with pytest.raises(ConfigError):
        HeadTrainConfig(patience=0)
    x, y = blobs()
    with pytest.raises(ConfigError, match="monitored"):
        _fit(torch.nn.Linear(2, 2), x, y, HeadTrainConfig(epochs=1, monitor="f1", log_every=0))


def test_temperature_fitting_lowers_nll_on_a_miscalibrated_toy():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    clean = np.eye(3)[y] * 1.5 + rng.standard_normal((600, 3))
    logits = clean * 6.0  # over-confident by a factor of ~6
    rep = calibration_report(logits, y, folds=np.arange(600) % 3)
    assert rep["temperature"] > 2.0
    assert rep["nll_after"] < rep["nll_before"] and rep["ece_after"] < rep["ece_before"]
    assert rep["nll_after_crossfit"] < rep["nll_before"] and len(rep["crossfit_temperatures"]) == 3
    assert rep["nll_after"] == pytest.approx(nll(logits, y, rep["temperature"]))
