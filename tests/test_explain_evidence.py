"""Within-modality evidence in the analysis: the rationale that cites it, the data outputs, the HTML report,
and ``emofuse analyze --explain`` on real computations (the shipped experts, the demo clip)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from emofuse.analysis import AnalysisResult, AnalyzeConfig, ModalityResult, SegmentResult, make_fuser
from emofuse.analysis.explain import explain_segment
from emofuse.analysis.report_evidence import evidence_note, highlighted_text
from emofuse.analysis.result import EKMAN
from emofuse.explain import EPS, rationale_statements


def dist(top: str, p: float) -> list[float]:
    rest = (1.0 - p) / (len(EKMAN) - 1)
    return [p if c == top else rest for c in EKMAN]


TEXT = "I am so furious at you"


def words(scores: list[float]) -> list[dict]:
    out, pos = [], 0
    for w, s in zip(TEXT.split(), scores, strict=True):
        a = TEXT.index(w, pos)
        out.append({"word": w, "start": a, "end": a + len(w), "score": s})
        pos = a + len(w)
    return out


def segment(text_scores: list[float] | None = None, drop: float = 0.2, face_prob: float = 0.8) -> SegmentResult:
    """Words carry anger strongly; the voice reads anger less; the face reads fear."""
    seg = SegmentResult(index=0, start=10.0, end=12.0, text=TEXT, text_source="input")
    t = ModalityResult.from_probs(dist("anger", 0.9), reliability=1.0)
    t.evidence = {"method": "integrated_gradients", "target": "anger", "prob": 0.9,
                  "words": words(text_scores or [0.0, 0.01, 0.05, 0.5, 0.001, -0.02]), "top": ["furious"]}
    a = ModalityResult.from_probs(dist("anger", 0.5), reliability=0.5)
    a.evidence = {"method": "occlusion", "target": "anger", "prob": 0.5, "window_s": 0.4,
                  "stretches": [{"start": 10.2, "end": 10.6, "drop": drop}, {"start": 10.4, "end": 10.8, "drop": 0.01}],
                  "top": {"start": 10.2, "end": 10.6, "drop": drop},
                  "prosody": {"pitch_median_hz": 210.0, "pitch_range_semitones": 7.5, "energy_db": -18.0,
                              "voiced_fraction": 0.6, "rate_per_s": 4.0}}
    f = ModalityResult.from_probs(dist("fear", 0.6), reliability=0.4)
    f.evidence = {"method": "grad_cam", "target": "fear",
                  "frames": [{"t": 11.2, "prob": face_prob, "weight": 0.5, "grid": [[0.0] * 6] * 6, "peak": [30, 24]}]}
    seg.modalities = {"text": t, "audio": a, "face": f}
    return seg


@pytest.fixture(scope="module")
def fuser():  # noqa: ANN201
    return make_fuser(AnalyzeConfig(fusion="evidence"))


def test_rationale_cites_the_drivers_strongest_words_and_only_positive_ones(fuser) -> None:  # noqa: ANN001
    contrib, text = explain_segment(segment(), fuser)
    st = rationale_statements({**contrib, "evidence": {m: r.evidence for m, r in segment().modalities.items()}})
    assert st[0].kind == "driver" and st[0].modalities == ("text",)
    (ev,) = [s for s in st if s.kind == "evidence"]
    # the two largest scores over EPS, strongest first; the negative and tiny ones are not cited
    assert ev.modalities == ("text",) and ev.data["words"] == ["furious", "so"]
    assert "'furious' (+0.50)" in text and "'you'" not in text and "'at'" not in text
    assert "evidence" not in contrib  # the contributions dict (the JSON) stays as it was


def test_rationale_makes_no_claim_the_numbers_do_not_support(fuser) -> None:  # noqa: ANN001
    seg = segment(text_scores=[EPS / 2, 0.0, -0.3, -0.1, 0.0, 0.0])
    _, text = explain_segment(seg, fuser)
    assert "mostly from" not in text  # no word raised the label by more than EPS
    seg.modalities["text"] = ModalityResult.from_probs(dist("neutral", 0.3), reliability=0.1)  # voice drives now
    seg.modalities["face"] = ModalityResult.missing("no face in 4 sampled frames")
    contrib, text = explain_segment(seg, fuser)
    assert contrib["target"] == "anger" and "silencing the voice at 10.2–10.6 s lowers its anger by 0.20" in text
    seg.modalities["audio"].evidence["top"]["drop"] = 0.0
    _, text = explain_segment(seg, fuser)
    assert "silencing" not in text


def test_evidence_round_trips_and_face_pictures_never_reach_the_data_outputs() -> None:
    seg = segment()
    seg.modalities["face"].evidence_images = ["data:image/png;base64,AAAA"]
    res = AnalysisResult(source="x", kind="video", duration=12.0, segments=[seg])
    d = res.to_dict()
    assert d["segments"][0]["modalities"]["text"]["evidence"]["top"] == ["furious"]
    assert "evidence_images" not in json.dumps(d) and "base64" not in json.dumps(d)
    back = AnalysisResult.from_dict(json.loads(res.to_json()))
    assert back.segments[0].modalities["audio"].evidence == seg.modalities["audio"].evidence
    happy = ModalityResult.from_probs(dist("happiness", 0.9), reliability=1)
    plain = AnalysisResult(source="x", kind="text", duration=0.0,
                           segments=[SegmentResult(index=0, start=0, end=0, modalities={"text": happy})])
    assert "evidence" not in json.dumps(plain.to_dict())  # nothing added when explain is off


def test_html_highlights_words_and_shows_voice_and_face_evidence(tmp_path) -> None:  # noqa: ANN001
    seg = segment()
    marked = highlighted_text(seg.text, seg.modalities["text"], "#d62728")
    spans = re.findall(r'<span class="w" style="background:rgba\((\d+),(\d+),(\d+),([\d.]+)\)"', marked)
    assert len(spans) == 6 and re.sub(r"<[^>]+>", "", marked) == TEXT  # every word, text unchanged
    alpha = {w: float(s[3]) for w, s in zip(TEXT.split(), spans, strict=True)}
    assert alpha["furious"] == max(alpha.values()) and alpha["furious"] > 10 * alpha["am"]
    assert tuple(int(v) for v in spans[3][:3]) == (214, 39, 40)  # the label's colour for a word that raised it
    assert highlighted_text("other words", seg.modalities["text"], "#d62728") is None  # offsets do not fit
    note = evidence_note(seg.modalities["audio"])
    assert "strongest 10.2–10.6 s" in note and "pitch 210 Hz" in note and "voiced 60%" in note
    assert "<img" not in evidence_note(seg.modalities["face"])  # no pictures unless kept
    seg.modalities["face"].evidence_images = ["data:image/png;base64,iVBORw0KGgo="]
    assert '<img class="heat"' in evidence_note(seg.modalities["face"])
    res = AnalysisResult(source="x", kind="video", duration=12.0, segments=[seg])
    page = res.save(tmp_path / "r", formats=["html"])["html"].read_text(encoding="utf-8")
    assert 'class="w"' in page and "clearest at 11.2 s" in page


# ----------------------------------------------------------------- real computations


def test_analyze_text_with_explain_gives_word_evidence_and_a_rationale_citing_it() -> None:
    import emofuse

    res = emofuse.analyze(text="I am so furious and angry at you right now!", config={"explain": True})
    (seg,) = res.segments
    ev = seg.modalities["text"].evidence
    assert ev["method"] == "integrated_gradients" and ev["target"] == seg.modalities["text"].label
    assert [seg.text[w["start"]:w["end"]] for w in ev["words"]] == [w["word"] for w in ev["words"]]
    if ev["target"] == "anger":
        assert set(ev["top"][:2]) & {"furious", "angry"}
    assert ev["top"][0] in seg.rationale
    off = emofuse.analyze(text="I am so furious and angry at you right now!")
    assert off.segments[0].modalities["text"].evidence is None and off.segments[0].rationale is None
    assert off.segments[0].probs == seg.probs  # explaining changes no number


def test_analyze_media_with_explain_gives_voice_and_face_evidence(tmp_path) -> None:  # noqa: ANN001
    import emofuse
    from emofuse.demo import demo_path

    cfg = {"explain": True, "thumbnails": True, "asr": False}
    res = emofuse.analyze(demo_path("demo.mp4"), config=cfg)
    voiced = [s for s in res.segments if s.modalities["audio"].ok]
    faced = [s for s in res.segments if s.modalities["face"].ok]
    assert voiced and faced
    for s in voiced:
        ev = s.modalities["audio"].evidence
        assert ev["target"] == s.modalities["audio"].label and ev["stretches"]
        assert all(s.start - 1.0 <= x["start"] < x["end"] <= s.end + 1.0 for x in ev["stretches"])
        assert ev["prosody"]["voiced_fraction"] is not None
    for s in faced:
        ev = s.modalities["face"].evidence
        assert ev["target"] == s.modalities["face"].label and 1 <= len(ev["frames"]) <= 3
        assert all(s.start <= f["t"] < s.end for f in ev["frames"])
        assert np.asarray(ev["frames"][0]["grid"]).shape == (6, 6)
        assert s.modalities["face"].evidence_images  # thumbnails on: overlays for the report
    page = res.save(tmp_path / "r", formats=["html", "json"])
    assert '<img class="heat"' in page["html"].read_text(encoding="utf-8")
    assert "base64" not in page["json"].read_text(encoding="utf-8")
