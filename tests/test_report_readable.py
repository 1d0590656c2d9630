"""The HTML report for readers who are not ML experts: how to read it, the experts' cards, one legend,
only the modalities the input has, face thumbnails only when asked."""

from __future__ import annotations

import base64
import copy
import html
import io
import itertools
import re

import numpy as np
import pytest

from emofuse.analysis import report_cards
from emofuse.analysis.config import AnalyzeConfig
from emofuse.analysis.faces import FacePath
from emofuse.analysis.paths.base import PathContext
from emofuse.analysis.paths.face import THUMB_PX, FaceModalityPath
from emofuse.analysis.report_common import EMOTION_COLORS
from emofuse.analysis.report_html import write_html
from emofuse.analysis.result import EKMAN, AnalysisResult, ModalityResult, SegmentResult
from emofuse.experts import read_card, weights_dir
from emofuse.media.segment import Segment

EXPERTS = {"text": "text-goemotions", "audio": "voice-whisper", "face": "face-fer2013"}


def probs(label: str, p: float = 0.7) -> list[float]:
    rest = (1.0 - p) / (len(EKMAN) - 1)
    return [p if c == label else rest for c in EKMAN]


def make_result(mods: tuple[str, ...], absent: dict[str, str] | None = None, thumbnail: str | None = None,
                kind: str = "video") -> AnalysisResult:
    """Two segments read by the shipped experts of ``mods``; ``absent`` modalities missing for the whole input."""
    absent = absent or {}
    segs = []
    for i, (label, missing) in enumerate([("happiness", {}), ("anger", {"audio": "silence <quiet>"})]):
        seg_mods = {}
        for m in mods:
            if m in absent or m in missing:
                seg_mods[m] = ModalityResult.missing(absent.get(m) or missing[m])
            else:
                seg_mods[m] = ModalityResult.from_probs(probs(label), reliability=0.8, expert=EXPERTS[m])
                if m == "face":
                    seg_mods[m].thumbnail = thumbnail
        present = [m for m in mods if seg_mods[m].ok]
        segs.append(SegmentResult(index=i, start=2.0 * i, end=2.0 * i + 1.5, text=f"words {i}", text_source="asr",
                                  source="vad", modalities=seg_mods, probs=dict(zip(EKMAN, probs(label), strict=True)),
                                  label=label, confidence=0.7, weights={m: 1 / len(present) for m in present}))
    return AnalysisResult(source="clip.mp4", kind=kind, duration=4.0, segments=segs, modalities=dict(absent))


def page_of(result: AnalysisResult, tmp_path) -> str:
    return write_html(result, tmp_path / "r.html").read_text(encoding="utf-8")


def columns(page: str) -> list[str]:
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", page).group(1)
    return re.findall(r"<th>(.*?)</th>", head)


def headline(card: dict) -> float:
    """The card's own headline figure: its fusion skill metric of the largest weight."""
    item = max(card["fusion"]["skill"], key=lambda s: s.get("weight", 1.0))
    value = card["metrics"]
    for key in item["metric"].split("."):
        value = value[key]
    return float(value)


# --------------------------------------------------------------------------- how to read, the cards


def test_the_report_says_how_to_read_it(tmp_path) -> None:
    page = page_of(make_result(("text", "audio", "face")), tmp_path)
    assert "<h2>How to read this report</h2>" in page
    section = page[page.index("How to read this report"):page.index("<h2>Timeline</h2>")]
    for words in ("calibrated probability", "not a certainty", "Fusion weights", "add up to 1", "missing",
                  "low quality", "uninformative", "<em>expresses</em>", "do not say what anyone feels",
                  "Not for decisions about people"):
        assert words in section, words
    assert page.index("How to read this report") < page.index("<h2>Segments")


def test_card_figures_and_limits_are_read_from_the_cards(tmp_path) -> None:
    page = page_of(make_result(("text", "audio", "face")), tmp_path)
    assert "<h2>The models behind these readings</h2>" in page
    for name in EXPERTS.values():
        card = read_card(weights_dir(name))
        assert f"<h3>{name} " in page
        assert f"{100 * headline(card):.1f} %" in page, name
        assert html.escape(card["limitations"][0]) in page
        split = card["metrics"].get("split") or card["metrics"]["protocol"]
        assert html.escape(split) in page


def test_a_changed_card_changes_the_report(tmp_path, monkeypatch) -> None:
    """Nothing is typed into the report code: a card with other figures and limits shows those."""
    shipped = read_card(weights_dir("face-fer2013"))
    card = copy.deepcopy(shipped)
    card["metrics"]["publictest"]["uar"] = 0.4321
    card["limitations"] = ["Only tested on <three> photos."]
    card["fusion"]["skill"] = [{"metric": "publictest.uar", "chance": 0.25, "weight": 1.0}]
    monkeypatch.setattr(report_cards, "_read_card", lambda name: card if name == "face-fer2013" else None)
    page = page_of(make_result(("face",)), tmp_path)
    assert "balanced accuracy 43.2 %" in page and "chance 25.0 %" in page
    assert f"{100 * headline(shipped):.1f} %" not in page
    assert "Only tested on &lt;three&gt; photos." in page


def test_an_expert_without_a_card_is_named(tmp_path) -> None:
    res = make_result(("text",))
    for s in res.segments:
        s.modalities["text"].expert = "my-own-text-expert"
    page = page_of(res, tmp_path)
    assert "my-own-text-expert (text): no model card found" in page


# --------------------------------------------------------------------------- only the modalities the input has


def test_an_audio_file_has_no_face_column_row_or_panel(tmp_path) -> None:
    res = make_result(("text", "audio", "face"), absent={"face": "no video stream"}, kind="audio")
    page = page_of(res, tmp_path)
    assert columns(page) == ["time", "text", "fused", "text", "voice", "fusion weights"]
    assert "missing: no video stream" not in page and "face weight" not in page
    assert "<dt>not analysed</dt><dd><b>face</b>: no video stream</dd>" in page  # the reason, said once
    assert "missing: silence &lt;quiet&gt;" in page  # a present modality keeps its per-segment reason
    assert "<b>voice</b>: present on 1/2 segments" in page
    assert "face-fer2013" not in page  # no card for an expert that read nothing
    pytest.importorskip("matplotlib")
    from emofuse.analysis.timeline import plot_timeline

    assert [ax.get_ylabel() for ax in plot_timeline(res).axes] == ["fused", "weights", "text", "voice"]


def test_a_text_has_no_voice_or_face(tmp_path) -> None:
    res = make_result(("text", "audio", "face"), absent={"audio": "text input", "face": "text input"}, kind="text")
    page = page_of(res, tmp_path)
    assert columns(page) == ["segment", "text", "fused", "text", "fusion weights"]
    assert "voice-whisper" not in page and "text-goemotions" in page


# --------------------------------------------------------------------------- one legend, one palette


def test_one_legend_for_the_page_and_the_plot(tmp_path) -> None:
    page = page_of(make_result(("text", "audio", "face")), tmp_path)
    assert page.count('class="legend"') == 1
    legend = re.search(r'<p class="legend">(.*?)</p>', page).group(1)
    for label, colour in EMOTION_COLORS.items():
        assert f'background:{colour}"></span>{label}<' in legend
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_hex

    from emofuse.analysis.timeline import plot_timeline

    res = make_result(("text", "audio", "face"))
    assert plot_timeline(res, legend=False).legends == []  # the embedded plot: the page's legend serves
    handles = plot_timeline(res).legends[0].legend_handles  # the PNG file keeps its own, in the same colours
    assert [to_hex(h.get_facecolor()) for h in handles[:len(EKMAN)]] == [EMOTION_COLORS[c] for c in EKMAN]


# Machado, Oliveira & Fernandes (2009) simulation matrices, severity 1, on linear RGB
_CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def _lab(linear_rgb: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear_rgb
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("kind", sorted(_CVD))
def test_the_emotion_colours_stay_apart_for_colour_blind_readers(kind: str) -> None:
    def linear(hex_colour: str) -> np.ndarray:
        c = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)

    lab = {k: _lab(np.clip(np.array(_CVD[kind]) @ linear(v), 0, 1)) for k, v in EMOTION_COLORS.items()}
    closest = min(float(np.linalg.norm(lab[a] - lab[b])) for a, b in itertools.combinations(lab, 2))
    assert closest > 10, f"two emotion colours are {closest:.1f} ΔE apart under {kind}"


# --------------------------------------------------------------------------- face thumbnails


class _Expert:
    name = "fake-face"

    def predict(self, crops: np.ndarray) -> object:
        return type("Out", (), {"ekman": np.array([probs("happiness", 0.9)] * len(crops), np.float32)})()


def _face_path(thumbnails: bool) -> FaceModalityPath:
    def detector(rgb: np.ndarray) -> list[tuple[float, ...]]:
        return [(100.0, 50.0, 200.0, 150.0, 0.95), (300.0, 60.0, 330.0, 90.0, 0.8)]  # a big face, a small one

    ctx = PathContext(config=AnalyzeConfig(thumbnails=thumbnails), has_audio=False, has_video=True, mode="window")
    return FaceModalityPath(ctx, FacePath(_Expert(), detector=detector, batch=4))


def _read(path: FaceModalityPath) -> list[ModalityResult]:
    img = np.zeros((240, 400, 3), np.uint8)
    img[50:150, 100:200] = (200, 30, 30)  # the main face: red
    img[60:90, 300:330] = (30, 200, 30)  # the small one: green
    segs = [Segment(start=0.0, end=2.0, source="window"), Segment(start=2.0, end=4.0, source="window")]
    out = []
    for k in range(8):
        path.feed_frame(0.5 * k, img)
        if k == 4:  # the first segment closes and is read while frames still come
            path.submit(segs[0])
            out += [r for _, r in path.ready()]
    path.submit(segs[1])
    out += [r for _, r in path.ready(final=True)]
    return out


def test_face_thumbnails_only_when_asked() -> None:
    pytest.importorskip("PIL")
    from PIL import Image

    assert AnalyzeConfig().thumbnails is False
    assert [r.thumbnail for r in _read(_face_path(False))] == [None, None]
    path = _face_path(True)
    results = _read(path)
    assert all(r.ok for r in results)
    for r in results:
        assert r.thumbnail.startswith("data:image/jpeg;base64,")
        with Image.open(io.BytesIO(base64.b64decode(r.thumbnail.split(",", 1)[1]))) as im:
            assert im.size == (THUMB_PX, THUMB_PX)
            red, green, _ = np.asarray(im.convert("RGB"), float).reshape(-1, 3).mean(0)
            assert red > green  # the main (big) face, not the small one
    assert min(path._thumbs._by_t) >= 2.0  # frames of segments already read are let go


def test_thumbnails_go_into_the_html_only(tmp_path) -> None:
    plain = page_of(make_result(("text", "audio", "face")), tmp_path)
    assert "<img class=\"thumb\"" not in plain and "pictures of faces" not in plain
    uri = "data:image/jpeg;base64," + base64.b64encode(b"\xff\xd8 not really a jpeg").decode()
    res = make_result(("text", "audio", "face"), thumbnail=uri)
    page = page_of(res, tmp_path)
    assert page.count('<img class="thumb" alt="main face, 00:00.0–00:01.5"') == 1 and uri in page
    assert "pictures of faces" in page
    text = res.to_json()
    assert "thumbnail" not in text and "image/jpeg" not in text
    assert AnalysisResult.from_dict(res.to_dict()) == res  # thumbnails take no part in comparisons
