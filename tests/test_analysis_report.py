"""Reports of an analysis result: timeline PNG, self-contained HTML, terminal table, label seconds."""

import re
import struct
import sys

import pytest
from rich.console import Console

from emofuse.analysis.report import EMOTION_COLORS, plot_timeline, print_table, summary_counts, write_html
from emofuse.analysis.result import EKMAN, MODALITY_NAMES, AnalysisResult, FaceFrame, ModalityResult, SegmentResult

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def onehot(label, p=0.7):
    rest = (1.0 - p) / (len(EKMAN) - 1)
    return [p if c == label else rest for c in EKMAN]


def segment(i, start, end, label, text="", missing=None):
    """A segment whose three modalities all say ``label``, except those in ``missing`` ({modality: reason})."""
    missing = missing or {}
    mods = {m: ModalityResult.missing(missing[m]) if m in missing
            else ModalityResult.from_probs(onehot(label), reliability=0.8, expert=m) for m in MODALITY_NAMES}
    present = [m for m in MODALITY_NAMES if mods[m].ok]
    probs = dict(zip(EKMAN, onehot(label), strict=True)) if present else None
    return SegmentResult(index=i, start=start, end=end, text=text, text_source="asr", source="vad", modalities=mods,
                         probs=probs, label=label if present else None, confidence=0.7 if present else None,
                         weights={m: round(1 / len(present), 4) for m in present})


@pytest.fixture
def video_result():
    segs = [
        segment(0, 0.0, 2.0, "happiness", "hello there"),
        segment(1, 2.5, 5.0, "anger", "<script>alert(1)</script>", missing={"face": "no face detected in 12 frames"}),
        segment(2, 5.0, 6.0, "sadness", "a & b", missing={"audio": "silence"}),
        segment(3, 8.0, 9.0, "anger", "$x$ [bold]not markup[/bold]"),
    ]
    frames = [FaceFrame(t=0.5 * k, probs=onehot("happiness") if k % 5 else None) for k in range(20)]
    return AnalysisResult(source="/some/dir/clip<1>.mp4", kind="video", duration=10.0, segments=segs, frames=frames,
                          warnings=["cue 7 past the end <dropped>"], config={"segmenter": "vad", "fusion": {"k": 1}},
                          timings={"total": 1.5, "realtime_factor": 0.15}, version="0.1.0")


@pytest.fixture
def text_result():
    segs = [segment(i, 0.0, 0.0, lab, f"sentence {i}", missing={"audio": "text input", "face": "text input"})
            for i, lab in enumerate(["happiness", "neutral", "happiness"])]
    return AnalysisResult(source="<text>", kind="text", duration=0.0, segments=segs,
                          modalities={"audio": "text input", "face": "text input"})


def png_size(data):
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def check_png(path):
    data = path.read_bytes()
    width, height = png_size(data)
    assert 800 <= width <= 2500 and 500 <= height <= 1600
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        im.verify()


# --------------------------------------------------------------------------- plot


def test_plot_writes_png(tmp_path, video_result):
    fig = plot_timeline(video_result, tmp_path / "t.png")
    check_png(tmp_path / "t.png")
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["fused", "weights", "text", "voice", "face"]
    title = fig.get_suptitle()
    assert "clip<1>.mp4" in title and "dominant: anger" in title and "10.0 s" in title


def test_plot_does_not_touch_pyplot(tmp_path, video_result):
    plot_timeline(video_result)
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []


def test_plot_empty_result(tmp_path):
    res = AnalysisResult(source="empty.wav", kind="audio", duration=12.0)
    fig = plot_timeline(res, tmp_path / "e.png")
    check_png(tmp_path / "e.png")
    assert any("no segments" in t.get_text() for t in fig.axes[0].texts)


def test_plot_text_only_uses_segment_index(tmp_path, text_result):
    fig = plot_timeline(text_result, tmp_path / "x.png")
    check_png(tmp_path / "x.png")
    bottom = fig.axes[-1]
    assert bottom.get_xlabel() == "segment"
    assert bottom.get_xlim() == (0.0, 3.0)
    # a text has no voice or face: no panels for them, the reason said once above the plot
    assert [ax.get_ylabel() for ax in fig.axes] == ["fused", "weights", "text"]
    assert fig.axes[0].get_title(loc="left") == "not analysed: voice (text input) · face (text input)"


def test_plot_long_media_is_fast_and_uses_clock_ticks(tmp_path):
    import time

    segs = [segment(i, 2.0 * i, 2.0 * i + 1.8, EKMAN[i % 7], missing={"face": "no face"} if i % 3 == 0 else None)
            for i in range(3000)]
    res = AnalysisResult(source="long.mp4", kind="video", duration=6000.0, segments=segs)
    t0 = time.perf_counter()
    fig = plot_timeline(res, tmp_path / "long.png")
    assert time.perf_counter() - t0 < 15
    check_png(tmp_path / "long.png")
    bottom = fig.axes[-1]
    assert bottom.get_xlabel() == "time (h:mm:ss)"
    # one patch per class per panel, not one per segment
    assert max(len(ax.patches) for ax in fig.axes) <= len(EKMAN) + 1


# --------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_escaped(tmp_path, video_result):
    out = write_html(video_result, tmp_path / "r.html")
    page = out.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, flags=re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "a &amp; b" in page and "hello there" in page and "[bold]not markup[/bold]" in page
    assert "clip&lt;1&gt;.mp4" in page and "cue 7 past the end &lt;dropped&gt;" in page
    assert "missing: no face detected in 12 frames" in page and "missing: silence" in page
    assert "00:02.5–00:05.0" in page
    assert "text 0.50 · voice 0.50" in page  # weights of the segment without face
    for color in EMOTION_COLORS.values():
        assert color in page
    assert "fusion.k" in page and "realtime_factor" in page
    assert "nothing was sent" in page


def test_html_whole_input_missing_and_truncation(tmp_path, text_result):
    page = write_html(text_result, tmp_path / "t.html", max_rows=2).read_text(encoding="utf-8")
    assert "<dt>not analysed</dt><dd><b>voice</b>: text input<br><b>face</b>: text input</dd>" in page
    assert "Table cut at 2 of 3 segments" in page
    assert "sentence 0" in page and "sentence 2" not in page


def test_html_empty_result(tmp_path):
    page = write_html(AnalysisResult(source="e.wav", kind="audio", duration=3.0), tmp_path / "e.html").read_text()
    assert "No segments." in page and "data:image/png;base64," in page


# --------------------------------------------------------------------------- terminal


def test_print_table(video_result):
    console = Console(record=True, width=160)
    print_table(video_result, console)
    out = console.export_text()
    assert "happiness (0.70)" in out and "anger (0.70)" in out
    assert "—" in out  # face missing on segment 1
    assert "<script>alert(1)</script>" in out and "[bold]not markup[/bold]" in out
    assert "00:02.5–00:05.0" in out
    assert "4 segments" in out and "dominant: anger" in out
    assert "face on 1/4 segments" in out and "voice on 1/4 segments" in out


def test_print_table_ellipsis_and_narrow(text_result):
    segs = [segment(i, float(i), i + 1.0, EKMAN[i % 7], f"line {i} " + "x" * 80) for i in range(100)]
    res = AnalysisResult(source="a.wav", kind="audio", duration=100.0, segments=segs)
    console = Console(record=True, width=160)
    print_table(res, console, max_rows=10)
    out = console.export_text()
    assert "line 0 " in out and "line 4 " in out and "line 95 " in out and "line 99 " in out
    assert "line 50 " not in out and "90 more segments" in out
    narrow = Console(record=True, width=80)
    print_table(res, narrow, max_rows=4)
    assert all(len(line) <= 80 for line in narrow.export_text().splitlines())
    c = Console(record=True, width=160)
    print_table(text_result, c)
    assert "voice (text input)" in c.export_text()


# --------------------------------------------------------------------------- counts and save


def test_summary_counts(video_result, text_result):
    counts = summary_counts(video_result)
    assert list(counts) == list(EKMAN)
    assert counts["anger"] == pytest.approx(2.5 + 1.0)
    assert counts["happiness"] == pytest.approx(2.0) and counts["sadness"] == pytest.approx(1.0)
    assert counts["fear"] == 0.0
    assert summary_counts(text_result)["happiness"] == 2.0  # text: segments are counted
    assert sum(summary_counts(AnalysisResult(source="x", kind="audio", duration=1.0)).values()) == 0


def test_save_writes_every_format(tmp_path, video_result):
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    paths = video_result.save(tmp_path / "out")
    assert set(paths) == {"json", "csv", "parquet", "html", "png"}
    for p in paths.values():
        assert p.exists() and p.stat().st_size > 0
    assert AnalysisResult.read_json(paths["json"]) == video_result
    check_png(paths["png"])
    assert "data:image/png;base64," in paths["html"].read_text(encoding="utf-8")


def test_dollar_in_file_name_is_not_mathtext(tmp_path, video_result):
    video_result.source = "my $5 clip $x.mp4"
    fig = plot_timeline(video_result, tmp_path / "d.png")
    check_png(tmp_path / "d.png")
    assert r"\$5" in fig.get_suptitle()


def test_missing_matplotlib(tmp_path, video_result, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'emofuse\[plots\]'"):
        plot_timeline(video_result)
    page = write_html(video_result, tmp_path / "n.html").read_text(encoding="utf-8")
    assert "Timeline not drawn" in page and "hello there" in page


def test_unknown_duration_uses_segment_times(tmp_path):
    res = AnalysisResult(source="a.wav", kind="audio", duration=0.0,
                         segments=[segment(0, 1.0, 3.0, "fear"), segment(1, 4.0, 7.5, "neutral")])
    fig = plot_timeline(res, tmp_path / "u.png")
    assert fig.axes[-1].get_xlabel() == "time (s)" and fig.axes[-1].get_xlim() == (0.0, 7.5)
    assert "7.5 s" in fig.get_suptitle()


# --------------------------------------------------------------------------- structure


def test_result_module_imports_no_report_code():
    """The data classes sit below the views: result.py imports neither the reports nor the writers at load."""
    import ast
    import subprocess

    import emofuse.analysis.result as result_module

    tree = ast.parse(open(result_module.__file__, encoding="utf-8").read())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = [n.module or "" for n in top if isinstance(n, ast.ImportFrom)] + [a.name for n in top
                                                                             if isinstance(n, ast.Import)
                                                                             for a in n.names]
    assert not [m for m in names if m.startswith("emofuse.analysis")], names
    every = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in every if "report" in m or "timeline" in m or "table" in m], every
    code = ("import sys, emofuse.analysis.result as r; r.AnalysisResult(source='x', kind='text', duration=0.0)"
            ".to_json(); print(sorted(m for m in sys.modules if m.startswith('emofuse.analysis')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    views = ("emofuse.analysis.report", "emofuse.analysis.timeline", "emofuse.analysis.table",
             "emofuse.analysis.writers")
    assert "emofuse.analysis.result" in out and not [v for v in views if v in out], out


def test_report_namespace_keeps_its_public_names():
    import emofuse.analysis.report as report
    from emofuse.modalities import DISPLAY_NAMES

    assert report.MODALITY_DISPLAY == DISPLAY_NAMES  # one table of display names
    for name in report.__all__:
        assert getattr(report, name) is not None
