"""Scoring analyses against labels: known answers on hand-built results, the CLI, bad labels."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emofuse.analysis.result import EKMAN, AnalysisResult, ModalityResult, SegmentResult
from emofuse.analysis.scoring import norm_label, read_labels, score_analyses
from emofuse.errors import DataError, MissingFileError


def onehot(label: str) -> list[float]:
    return [1.0 if c == label else 0.0 for c in EKMAN]


def seg(i: int, start: float, end: float, fused: str | None, **mods: str | None) -> SegmentResult:
    s = SegmentResult(index=i, start=start, end=end)
    for m, lab in mods.items():
        s.modalities[m] = (ModalityResult.from_probs(onehot(lab), reliability=1.0) if lab
                           else ModalityResult.missing("no reading"))
    if fused:
        s.probs = dict(zip(EKMAN, onehot(fused), strict=True))
        s.label = fused
    return s


@pytest.fixture
def results(tmp_path):
    # file a: two segments, anger then happiness; voice right twice, text right once, face missing once
    a = AnalysisResult(source="/media/a.mp4", kind="video", duration=4.0, segments=[
        seg(0, 0.0, 2.0, "anger", text="neutral", audio="anger", face="anger"),
        seg(1, 2.0, 4.0, "neutral", text="happiness", audio="happiness", face=None)])
    b = AnalysisResult(source="/other/b.wav", kind="audio", duration=2.0, segments=[
        seg(0, 0.0, 2.0, "sadness", text="sadness", audio="fear", face=None)])
    out = tmp_path / "runs"
    for r, name in ((a, "a"), (b, "b")):
        (out / name).mkdir(parents=True)
        r.to_json(out / name / "analysis.json")
    labels = tmp_path / "labels.csv"
    labels.write_text("file,start,end,label\na.mp4,0,2,angry\na.mp4,2,4,happy\nb,,,sad\n", encoding="utf-8")
    return out, labels


def test_segment_scores_per_modality_and_fused(results):
    out, labels = results
    rep = score_analyses([out], labels)
    o = rep["overall"]
    assert rep["n_items"] == 3 and rep["unmatched_files"] == []
    assert o["audio"]["accuracy"] == pytest.approx(2 / 3) and o["text"]["accuracy"] == pytest.approx(2 / 3)
    assert o["face"]["n"] == 1 and o["face"]["accuracy"] == 1.0
    assert o["face"]["coverage"] == pytest.approx(1 / 3, abs=1e-3)
    assert o["fused"]["accuracy"] == pytest.approx(2 / 3)
    assert rep["by_file"]["/media/a.mp4"]["text"]["accuracy"] == 0.5
    cm = o["audio"]["confusion_matrix"]
    assert cm[EKMAN.index("sadness")][EKMAN.index("fear")] == 1
    assert rep["best_single"] in ("text", "audio", "face")


def test_label_unit_pools_segments_in_a_span(tmp_path):
    r = AnalysisResult(source="clip.mp4", kind="video", duration=3.0, segments=[
        seg(0, 0.0, 1.0, "anger", audio="anger"), seg(1, 1.0, 3.0, "fear", audio="fear")])
    r.to_json(tmp_path / "analysis.json")
    (tmp_path / "l.csv").write_text("file,label\nclip.mp4,fear\n", encoding="utf-8")
    rep = score_analyses([tmp_path / "analysis.json"], tmp_path / "l.csv", unit="label")
    assert rep["n_items"] == 1 and rep["overall"]["audio"]["accuracy"] == 1.0  # 2 s of fear outweigh 1 s of anger


def test_bad_labels_are_refused(tmp_path):
    assert norm_label("Surprised") == "surprise"
    p = tmp_path / "l.csv"
    p.write_text("file,label\na.mp4,bored-ish\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        read_labels(p)
    p.write_text("name,emotion\na,anger\n", encoding="utf-8")
    with pytest.raises(DataError, match="file,label"):
        read_labels(p)
    p.write_text("file,start,end,label\na,3,1,anger\n", encoding="utf-8")
    with pytest.raises(DataError, match="end >= start"):
        read_labels(p)
    with pytest.raises(MissingFileError):
        read_labels(tmp_path / "none.csv")


def test_no_overlap_is_a_clear_error(results, tmp_path):
    out, _ = results
    p = tmp_path / "other.csv"
    p.write_text("file,label\nzzz.mp4,anger\n", encoding="utf-8")
    with pytest.raises(DataError, match="no analysed segment"):
        score_analyses([out], p)


def test_cli_prints_and_writes_json(results):
    out, labels = results
    proc = subprocess.run([sys.executable, "-m", "emofuse", "evaluate-analysis", str(out), "--labels", str(labels),
                           "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rep = json.loads(proc.stdout)
    assert rep["overall"]["fused"]["n"] == 3
    proc = subprocess.run([sys.executable, "-m", "emofuse", "evaluate-analysis", str(out), "--labels", str(labels)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "fused UAR minus best single" in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "emofuse", "evaluate-analysis", str(out / "nope"), "--labels",
                          str(labels)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "not found" in bad.stderr
