"""`emofuse evaluate <expert> <corpus>` on generated corpora in official layouts."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

pytestmark = pytest.mark.integration


def _voice(sr: float, f0: float, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * t * 2.0)) ** 2
    return (0.2 * wave * envelope + 0.003 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def emodb_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("emodb") / "wav"
    d.mkdir()
    for i, (name, f0) in enumerate([("03a01Wa", 220), ("03a01Nc", 120), ("08a02Fb", 260), ("08a02Lc", 110),
                                    ("11b01Ta", 140)]):
        sf.write(d / f"{name}.wav", _voice(22050, f0, seed=i), 22050)  # EmoDB copy rate: resampled, not rejected
    return d


def run(*args):
    return subprocess.run([sys.executable, "-m", "emofuse", *args], capture_output=True, text=True, timeout=300)


def test_evaluate_voice_expert_on_emodb_layout(tmp_path, emodb_dir):
    proc = run("evaluate", "voice-ekman", str(emodb_dir), "--json", "--predictions", str(tmp_path / "p.csv"))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["n"] == 5 and metrics["space"] == "ekman7"
    # boredom maps to neutral, so nothing is dropped; the confusion matrix counts every item
    assert metrics["dropped"] == 0
    assert int(np.sum(metrics["confusion_matrix"])) == 5
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["id"] for r in rows] and len(rows) == 5
    assert {r["true"] for r in rows} <= {"anger", "neutral", "happiness", "sadness"}
    probs = np.array([[float(r[f"p_{c}"]) for c in metrics["classes"]] for r in rows])
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)


def test_unknown_expert_is_suggested(emodb_dir):
    proc = run("evaluate", "voice-ekmn", str(emodb_dir))
    assert proc.returncode == 2 and "Did you mean: voice-ekman" in proc.stderr
