"""Integration tests: the real CLI, as a user runs it, on small generated data."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.integration


def run(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "emofuse", *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


def write_mosi_npz(path, n_videos, seed):
    """A file in the exact layout of the MOSI bc-LSTM features (train.npz / dev.npz / test.npz)."""
    rng = np.random.default_rng(seed)
    uid, vid, transcript, labels = [], [], [], []
    for v in range(n_videos):
        for k in rng.permutation(6)[: rng.integers(3, 7)]:
            uid.append(f"vid{seed}{v:02d}_{k + 1}")
            vid.append(f"vid{seed}{v:02d}")
            transcript.append("SOME WORDS")
            labels.append(int(rng.integers(0, 2)))
    y = np.asarray(labels, dtype=np.int64)
    sign = np.where(y == 1, 1.0, -1.0)[:, None]
    text = (0.8 * sign + rng.normal(size=(len(y), 100))).astype(np.float32)
    np.savez(path, utterance_id=np.asarray(uid), video_id=np.asarray(vid), transcript=np.asarray(transcript),
             text=text, audio=rng.normal(size=(len(y), 73)).astype(np.float32),
             video=rng.normal(size=(len(y), 100)).astype(np.float32), label=y)


@pytest.fixture(scope="module")
def mosi_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("mosi")
    write_mosi_npz(d / "train.npz", 14, 1)
    write_mosi_npz(d / "dev.npz", 5, 2)
    write_mosi_npz(d / "test.npz", 5, 3)  # stands in for the withheld official test file
    return d


def test_models_list_json_matches_registry():
    import emofuse

    rows = json.loads(run("models", "list", "--json").stdout)
    assert [r["name"] for r in rows if r["kind"] == "fusion"] == emofuse.list_models()
    assert {"early_concat", "late_average", "late_weighted", "late_stacking", "tfn", "lmf", "mult", "gated",
            "moe", "bilinear"} <= {r["name"] for r in rows}


def test_train_then_evaluate_official_layout(tmp_path, mosi_files):
    cfg = {"model": {"name": "gated", "params": {"hidden": 16, "context": True}},
           "data": {"train": str(mosi_files / "train.npz"), "valid": str(mosi_files / "dev.npz")},
           "train": {"epochs": 4, "patience": 4, "progress": False}, "output_dir": str(tmp_path / "run")}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    run("train", str(tmp_path / "cfg.yaml"), "--set", "train.seed=1")
    assert (tmp_path / "run" / "model.safetensors").is_file()
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["train"]["seed"] == 1  # the fully resolved config is saved with the run
    out = run("evaluate", str(tmp_path / "run"), str(mosi_files / "test.npz"), "--json",
              "--predictions", str(tmp_path / "pred.csv"))
    metrics = json.loads(out.stdout)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["classes"] == ["negative", "positive"]
    n = int(np.load(mosi_files / "test.npz")["label"].shape[0])
    assert metrics["n"] == n
    lines = (tmp_path / "pred.csv").read_text().strip().splitlines()
    assert len(lines) == n + 1 and lines[0].startswith("id,true,predicted,p_negative,p_positive")


def test_benchmark_writes_tables(tmp_path, mosi_files):
    out = run("benchmark", "--train", str(mosi_files / "train.npz"), "--valid", str(mosi_files / "dev.npz"),
              "--models", "early_concat,late_average", "--seeds", "2", "--epochs", "2", "--context", "both",
              "-o", str(tmp_path / "b"))
    assert "early_concat" in out.stdout and "±" in out.stdout
    report = json.loads((tmp_path / "b" / "results.json").read_text())
    assert len(report["runs"]) == 2 * 2 * 2 and report["split"] == "validation"
    assert (tmp_path / "b" / "results.csv").read_text().count("\n") == 9
    assert "| late_average | on |" in (tmp_path / "b" / "results.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["benchmark", "--models", "tnf", "--seeds", "1"], "Did you mean: tfn"),
        (["models", "show", "mutl"], "Did you mean: mult"),
        (["evaluate", "no/such/ckpt", "no/such.npz"], "not an emofuse fusion directory"),
        (["train", "missing.yaml"], "Config file not found"),
    ],
)
def test_bad_input_gives_clear_error(args, message):
    proc = run(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_config_key_and_pickle_without_opt_in(tmp_path, mosi_files):
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump({"train": {"epohcs": 3}}))
    proc = run("train", str(tmp_path / "cfg.yaml"), check=False)
    assert proc.returncode == 2 and "did you mean 'epochs'" in proc.stderr
    (tmp_path / "x.pkl").write_bytes(b"\x80\x04N.")
    proc = run("convert", str(tmp_path / "x.pkl"), str(tmp_path / "out"), check=False)
    assert proc.returncode == 2 and "pickle" in proc.stderr.lower()
