"""``emofuse robustness features`` as a user runs it (Typer's CliRunner), on a tiny generated set."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from emofuse.cli import app
from emofuse.data.dataset import FeatureDataset


def make_dataset(n: int, seed: int) -> FeatureDataset:
    """Text carries the label (opposite signs across dims, so LayerNorm keeps it); audio is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    sign = np.where(y == 1, 1.0, -1.0)[:, None] * np.array([1.0, -1.0, 1.0])
    text = (2.0 * sign + 0.5 * rng.normal(size=(n, 3))).astype(np.float32)
    audio = rng.normal(size=(n, 4)).astype(np.float32)
    return FeatureDataset({"text": text, "audio": audio}, y, classes=("neg", "pos"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from emofuse.models import create_model
    from emofuse.train.trainer import TrainConfig, Trainer, seed_everything

    d = tmp_path_factory.mktemp("rb")
    train, valid = make_dataset(120, 0), make_dataset(60, 1)
    seed_everything(0)
    model = create_model("late_average", train.spec, hidden=8)
    Trainer(TrainConfig(epochs=6, patience=6, progress=False, lr=5e-3)).fit(model, train, valid,
                                                                            checkpoint_dir=d / "ckpt")
    valid.save(d / "valid")
    other = FeatureDataset({"text": valid.features["text"], "face": valid.features["audio"]}, valid.targets,
                           classes=("neg", "pos"))
    other.save(d / "other")
    return d


def invoke(*args: str):
    return CliRunner().invoke(app, ["robustness", *args])


def test_features_json_and_report_files(files, tmp_path) -> None:
    r = invoke("features", str(files / "ckpt"), str(files / "valid"), "--format", "json", "--noise-levels", "0.5,4",
               "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    rows = doc["rows"]
    subsets = [x for x in rows if x["kind"] == "subset"]
    assert [x["condition"] for x in subsets] == ["text+audio", "text", "audio"]
    assert all(x["target"] == "late_average" and x["n"] == 60 for x in rows)
    acc = {x["condition"]: x["accuracy"] for x in subsets}
    assert acc["text"] > 0.85 > 0.7 > acc["audio"]
    noise = [x for x in rows if x["kind"] == "feature_noise"]
    assert sorted({x["level"] for x in noise}) == [0.0, 0.5, 4.0] and {x["modality"] for x in noise} == {"text",
                                                                                                          "audio"}
    assert {(c["modality"], len(c["levels"])) for c in doc["measures"]} == {("text", 3), ("audio", 3)}
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["robustness.csv", "robustness.json", "robustness.md", "robustness.png"]
    assert json.loads((tmp_path / "out" / "robustness.json").read_text(encoding="utf-8"))["meta"]["noise_levels"] \
        == [0.5, 4.0]


def test_features_table_markdown_and_csv(files) -> None:
    r = invoke("features", str(files / "ckpt"), str(files / "valid"), "--noise-levels", "1", "--target", "mine")
    assert r.exit_code == 0, r.output
    assert "text+audio" in r.stdout and "noise σ=1 on audio" in r.stdout and "mine" in r.stdout
    md = invoke("features", str(files / "ckpt"), str(files / "valid"), "--noise-levels", "1", "--format", "markdown")
    assert md.exit_code == 0 and "| target | kind | condition | level |" in md.stdout
    c = invoke("features", str(files / "ckpt"), str(files / "valid"), "--noise-levels", "1", "--format", "csv")
    back = list(csv.DictReader(io.StringIO(c.stdout)))
    assert c.exit_code == 0 and len(back) == 3 + 2 * 2 and back[0]["kind"] == "subset"


@pytest.mark.parametrize(("args", "message"), [
    (["no/such/ckpt", "{valid}"], "checkpoint not found: no/such/ckpt"),
    (["{valid}", "{valid}"], "is not a zoo checkpoint folder"),
    (["{ckpt}", "no/such/data"], "dataset not found: no/such/data"),
    (["{ckpt}", "{other}"], "do not match the checkpoint's ['text', 'audio']: it lacks ['audio']"),
    (["{ckpt}", "{valid}", "--format", "xml"], "Unknown robustness report format 'xml'"),
    (["{ckpt}", "{valid}", "--noise-levels", "0,lots"], "--noise-levels: 'lots' is not a number"),
    (["{ckpt}", "{valid}", "--noise-levels", "-1"], "noise levels must be finite σ >= 0"),
])
def test_bad_input_is_one_clear_line(files, args, message) -> None:
    paths = {"valid": files / "valid", "ckpt": files / "ckpt", "other": files / "other"}
    r = invoke("features", *[a.format(**paths) for a in args])
    assert r.exit_code == 2
    assert message in r.stderr.replace("\n", "") and r.stderr.startswith("error:")
    assert "Traceback" not in r.output and r.stdout == ""


def test_robustness_help_lists_features() -> None:
    r = CliRunner().invoke(app, ["robustness", "--help"])
    assert r.exit_code == 0 and "features" in r.stdout
