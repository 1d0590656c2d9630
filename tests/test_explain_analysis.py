"""Explanations of the analysis fusion: Shapley sums, the explain setting, the report, and ``emofuse explain``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from emofuse.analysis import AnalysisResult, AnalyzeConfig, ModalityResult, SegmentResult, make_fuser
from emofuse.analysis.explain import explain_segment, segment_at, segment_contributions
from emofuse.analysis.fusion import RuleFusion
from emofuse.analysis.result import EKMAN
from emofuse.explain import rationale_statements


def dist(top: str, p: float) -> list[float]:
    rest = (1.0 - p) / (len(EKMAN) - 1)
    return [p if c == top else rest for c in EKMAN]


def crafted(index: int = 0, start: float = 0.0) -> SegmentResult:
    """Voice and face read anger, the words read sadness weakly; physio is missing."""
    seg = SegmentResult(index=index, start=start, end=start + 2.0, text="fine, whatever", text_source="input")
    seg.modalities = {"text": ModalityResult.from_probs(dist("sadness", 0.4), reliability=0.9),
                      "audio": ModalityResult.from_probs(dist("anger", 0.85), reliability=0.9),
                      "face": ModalityResult.from_probs(dist("anger", 0.7), reliability=0.8),
                      "physio": ModalityResult.missing("no wearable signals given")}
    return seg


@pytest.fixture(scope="module")
def fusers():  # noqa: ANN201
    return {f: make_fuser(AnalyzeConfig(fusion=f)) for f in ("evidence", "trained")}


@pytest.mark.parametrize("kind", ["evidence", "trained"])
def test_segment_shapley_sums_and_agreeing_signals_count_for_the_label(fusers, kind: str) -> None:  # noqa: ANN001
    fuser = fusers[kind]
    seg = crafted()
    c = segment_contributions(seg, fuser)
    probs, _ = fuser(seg.modalities)
    assert c["full"] == pytest.approx(dict(zip(EKMAN, probs, strict=True)), abs=1e-6)  # v(full): the fusion
    assert c["base"] == pytest.approx({k: 1 / 7 for k in EKMAN})  # v(∅): uniform over ekman7
    for k in EKMAN:  # Σ_m φ_m = v(full) − v(∅), every class
        total = sum(d["contributions"][k] for d in c["modalities"].values())
        assert total == pytest.approx(c["full"][k] - c["base"][k], abs=1e-5)
    assert c["target"] == "anger" and set(c["modalities"]) == {"text", "audio", "face"}
    assert c["modalities"]["audio"]["contribution"] > 0 and c["modalities"]["face"]["contribution"] > 0
    assert c["missing"] == {"physio": "no wearable signals given"}
    st = rationale_statements(c)
    assert st[0].kind == "driver" and st[0].modalities[0] in ("audio", "face")
    (dis,) = [s for s in st if s.kind == "disagreement"]
    assert set(dis.modalities) == {"audio", "face"}


def test_single_and_no_signal_segments() -> None:
    rule = RuleFusion("evidence")
    seg = SegmentResult(index=0, start=0.0, end=1.0, modalities={"face": ModalityResult.missing("no face")})
    c, why = explain_segment(seg, rule)
    assert c["target"] is None and c["modalities"] == {} and why.startswith("No signal was present")
    seg.modalities["audio"] = ModalityResult.from_probs(dist("fear", 0.6), reliability=1.0)
    c, why = explain_segment(seg, rule)
    assert c["full"]["fear"] == pytest.approx(0.6, abs=1e-3)  # one signal: passed through
    assert c["modalities"]["audio"]["contribution"] == pytest.approx(c["full"]["fear"] - 1 / 7, abs=1e-6)
    assert "only signal present" in why and "face was missing (no face)" in why


def test_segment_at_finds_the_covering_or_nearest_segment() -> None:
    segs = [crafted(0, 0.0), crafted(1, 2.0), crafted(2, 10.0)]
    assert segment_at(segs, 3.1).index == 1 and segment_at(segs, 8.0).index == 2 and segment_at(segs, 99).index == 2


def test_explain_setting_fills_the_segments_and_round_trips(tmp_path) -> None:  # noqa: ANN001
    from emofuse.analysis import AnalysisSession

    off = {"segmentation": "window", "text": False, "audio": False, "face": False}
    plain = AnalysisSession(off, has_audio=True, vad=False)
    plain.feed_audio(0.0, np.zeros(16000 * 3, np.float32))
    res = plain.result()
    assert all(s.contributions is None and s.rationale is None for s in res.segments)  # absent by default
    assert all("contributions" not in s and "rationale" not in s for s in res.to_dict()["segments"])
    cfg = AnalyzeConfig.from_dict({**off, "fusion": "evidence", "explain": True})  # what --set explain=true gives
    session = AnalysisSession(cfg, has_audio=True, vad=False)
    session.feed_audio(0.0, np.zeros(16000 * 3, np.float32))
    seg = crafted(5, 3.0)
    session._fuse(seg)  # the hook every closed segment goes through
    assert seg.label == "anger" and seg.contributions == segment_contributions(seg, session.fusion)
    assert seg.rationale and seg.rationale.startswith("The ")
    res = session.result()
    res.segments.append(seg)
    assert all(s.rationale for s in res.segments)
    back = AnalysisResult.from_dict(json.loads(res.to_json()))
    assert back == res and back.segments[-1].contributions == seg.contributions
    page = res.save(tmp_path / "r", formats=["html"])["html"].read_text(encoding="utf-8")
    assert "<th>why</th>" in page and "drove the label anger" in page


# --------------------------------------------------------------------------- the command


def run_cli(*args: str) -> tuple[int, str]:
    from emofuse.cli import app

    out = CliRunner().invoke(app, list(args))
    return out.exit_code, out.output


@pytest.fixture(scope="module")
def checkpoint_and_data(tmp_path_factory):  # noqa: ANN201
    import torch

    from emofuse.data.dataset import FeatureDataset
    from emofuse.models import create_model
    from emofuse.models.checkpoint import save_checkpoint

    d = tmp_path_factory.mktemp("explain")
    rng = np.random.default_rng(0)
    n = 10
    ds = FeatureDataset({"text": rng.normal(size=(n, 6)).astype(np.float32),
                         "audio": rng.normal(size=(n, 4)).astype(np.float32)}, rng.integers(0, 2, n),
                        present={"audio": np.arange(n) != 3}, classes=["negative", "positive"])
    ds.save(d / "data")
    torch.manual_seed(0)
    model = create_model("late_weighted", ds.spec, tiny=True, dropout=0.0)
    save_checkpoint(model, d / "ckpt")
    return d / "ckpt", d / "data"


def test_cli_explains_a_checkpoint_on_a_dataset(checkpoint_and_data) -> None:  # noqa: ANN001
    ckpt, data = checkpoint_and_data
    code, out = run_cli("explain", str(ckpt), str(data), "--index", "3", "--index", "0", "--json")
    assert code == 0, out
    items = json.loads(out)
    assert [i["index"] for i in items] == [3, 0]
    three, zero = items[0]["contributions"], items[1]["contributions"]
    assert set(three["modalities"]) == {"text"} and "audio" in three["missing"]
    for exp in (three, zero):
        t = exp["target"]
        total = sum(d["contribution"] for d in exp["modalities"].values())
        assert total == pytest.approx(exp["full"][t] - exp["base"][t], abs=1e-5)
    assert items[0]["rationale"].startswith("The text drove") or items[0]["rationale"].startswith("No signal")
    code, out = run_cli("explain", str(ckpt), str(data), "--index", "0")
    assert code == 0 and "contribution to" in out and zero["target"] in out
    code, out = run_cli("explain", str(ckpt), str(data), "--index", "99")
    assert code == 2 and "out of range" in out


@pytest.mark.parametrize("fusion", ["evidence", "trained"])
def test_cli_explains_a_segment_of_a_saved_analysis(tmp_path, fusers, fusion: str) -> None:  # noqa: ANN001
    from emofuse.analysis.fusion import apply_fusion

    cfg = AnalyzeConfig(fusion=fusion)
    segs = [crafted(0, 0.0), crafted(1, 2.0)]
    for s in segs:
        apply_fusion(s, fusers[fusion])
    res = AnalysisResult(source="clip.mp4", kind="video", duration=4.0, segments=segs, config=cfg.to_dict())
    path = tmp_path / "analysis.json"
    res.to_json(path)
    code, out = run_cli("explain", "--result", str(path), "--at", "2.5", "--json")
    assert code == 0, out
    item = json.loads(out)
    assert item["segment"]["index"] == 1 and "warning" not in item  # the saved fusion is rebuilt exactly
    exp = item["contributions"]
    assert exp == segment_contributions(segs[1], fusers[fusion]) and item["rationale"]
    code, out = run_cli("explain", str(path), "--at", "0.5")  # FILE itself may be the analysis JSON
    assert code == 0 and "segment 0" in out and "drove the label anger" in out.replace("\n", " ")


@pytest.mark.parametrize(("snr", "stated"), [(3.0, True), (35.0, False), (None, False)])
def test_rationale_says_when_noise_cut_the_voice_weight(fusers, snr, stated) -> None:  # noqa: ANN001
    seg = crafted()
    if snr is not None:
        seg.modalities["audio"].quality = {"speech_prob": 0.9, "snr_db": snr}
    _, text = explain_segment(seg, fusers["evidence"])
    assert ("heard through noise (about 3 dB SNR), so it counted 15% of its weight" in text) is stated
    assert "heard through noise" in text or not stated
