"""Contract of the output writers registry: every registered format, on a small hand-built result."""

from __future__ import annotations

import csv
import io
import re
import struct

import pytest
from rich.console import Console

from emofuse.analysis.report import print_table
from emofuse.analysis.result import EKMAN, AnalysisResult, FaceFrame, ModalityResult, SegmentResult
from emofuse.analysis.writers import WRITERS, Writer, check_formats, output_formats, register_writer
from emofuse.errors import UnknownNameError

NASTY_TEXT = 'Ünïcödé — 表情 "quotes" <b>bold</b> & <script>alert("x")</script> \'single\' $x$ [red]no[/red]'


def probs(label: str, p: float = 0.7) -> list[float]:
    rest = (1.0 - p) / (len(EKMAN) - 1)
    return [p if c == label else rest for c in EKMAN]


def make_result(physio: bool = False) -> AnalysisResult:
    """Three segments with missing modalities, unicode and HTML-special text (and a physio modality)."""
    mods_all = ("text", "audio", "face", "physio") if physio else ("text", "audio", "face")
    specs = [
        (0.0, 2.0, "happiness", NASTY_TEXT, {}),
        (2.5, 4.0, "anger", "line one\nline two, with a comma", {"face": "no face detected in 6 sampled frames"}),
        (4.0, 5.5, None, "", {m: "silence <no speech> & no face" for m in mods_all}),
    ]
    segs = []
    for i, (start, end, label, text, missing) in enumerate(specs):
        mods = {m: ModalityResult.missing(missing[m]) if m in missing
                else ModalityResult.from_probs(probs(label), reliability=0.8, expert=f"{m}-expert",
                                               quality={"q": 0.5}) for m in mods_all}
        present = [m for m in mods_all if mods[m].ok]
        segs.append(SegmentResult(
            index=i, start=start, end=end, text=text, text_source="asr" if text else None, source="vad",
            modalities=mods, probs=dict(zip(EKMAN, probs(label), strict=True)) if present else None,
            label=label if present else None, confidence=0.7 if present else None,
            weights={m: round(1 / len(present), 4) for m in present},
            words=[{"word": "Ünï", "start": start, "end": start + 0.3, "prob": 0.9}] if text else []))
    frames = [FaceFrame(t=0.5 * k, probs=probs("happiness") if k % 3 else None, score=0.9, face_px=80.0,
                        n_faces=1 if k % 3 else 0, track=0 if k % 3 else None) for k in range(11)]
    return AnalysisResult(source="/data/Ünï <clip> & co.mp4", kind="video", duration=6.0, segments=segs,
                          frames=frames, warnings=["cue 3 past the end <dropped> & ignored"],
                          media={"video": {"codec": "h264"}}, config={"fps": 3.0, "note": "<&>"},
                          timings={"total": 1.25, "realtime_factor": 0.2}, version="0.0-test",
                          faces=[{"id": 0, "first": 0.5, "last": 5.0, "n_frames": 7, "main": True,
                                  "mean_face_px": 80.0}])


def _skip_if_missing(writer: Writer) -> None:
    miss = writer.missing()
    if miss:
        pytest.skip(f"the {writer.name} writer needs {miss}, not installed here")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return make_result()


# --------------------------------------------------------------------------- the registry contract


def test_the_shipped_formats_are_registered() -> None:
    assert set(output_formats()) >= {"json", "csv", "parquet", "html", "png"}
    assert output_formats() == tuple(WRITERS.names())
    from emofuse.analysis import result as result_module

    assert result_module.OUTPUT_FORMATS == output_formats()  # still importable, read from the registry


@pytest.mark.parametrize("name", WRITERS.names())
def test_writer_writes_a_nonempty_file(name: str, result: AnalysisResult, tmp_path) -> None:
    writer = WRITERS.get(name)
    _skip_if_missing(writer)
    assert writer.suffix.startswith(".")
    path = writer(result, tmp_path / f"out{writer.suffix}")
    assert path == tmp_path / f"out{writer.suffix}"
    assert path.is_file() and path.stat().st_size > 0


@pytest.mark.parametrize("name", WRITERS.names())
def test_writer_handles_an_empty_result(name: str, tmp_path) -> None:
    writer = WRITERS.get(name)
    _skip_if_missing(writer)
    empty = AnalysisResult(source="", kind="audio", duration=0.0, modalities={"face": "no video stream"})
    assert writer(empty, tmp_path / f"e{writer.suffix}").stat().st_size > 0


def test_save_writes_every_registered_format(result: AnalysisResult, tmp_path) -> None:
    available = [n for n in output_formats() if not WRITERS.get(n).missing()]
    paths = result.save(tmp_path, available)
    assert list(paths) == available
    for name, p in paths.items():
        assert p == tmp_path / f"analysis{WRITERS.get(name).suffix}" and p.stat().st_size > 0


def test_json_round_trips_exactly(result: AnalysisResult, tmp_path) -> None:
    p = WRITERS.get("json")(result, tmp_path / "r.json")
    back = AnalysisResult.read_json(p)
    assert back == result
    assert back.to_json() == result.to_json()
    assert "Ünïcödé — 表情" in p.read_text(encoding="utf-8")  # written as UTF-8, not \\u escapes


def test_csv_has_one_row_per_segment(result: AnalysisResult, tmp_path) -> None:
    p = WRITERS.get("csv")(result, tmp_path / "r.csv")
    with open(p, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(result.segments)
    assert [r["text"] for r in rows] == [s.text for s in result.segments]
    assert rows[1]["face_missing"] == "no face detected in 6 sampled frames" and rows[1]["face_label"] == ""
    assert rows[2]["label"] == "" and rows[0]["label"] == "happiness"


def test_parquet_matches_the_csv_columns(result: AnalysisResult, tmp_path) -> None:
    writer = WRITERS.get("parquet")
    _skip_if_missing(writer)
    import pandas as pd

    df = pd.read_parquet(writer(result, tmp_path / "r.parquet"))
    assert list(df.columns) == list(result.rows()[0]) and len(df) == len(result.segments)
    assert df["text"].tolist()[0] == NASTY_TEXT


def test_html_is_self_contained_and_escaped(result: AnalysisResult, tmp_path) -> None:
    page = WRITERS.get("html")(result, tmp_path / "r.html").read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, flags=re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Ünïcödé — 表情" in page
    assert "no face detected in 6 sampled frames" in page


def test_png_is_an_image(result: AnalysisResult, tmp_path) -> None:
    writer = WRITERS.get("png")
    _skip_if_missing(writer)
    width, height = png_size(writer(result, tmp_path / "r.png").read_bytes())
    assert 800 <= width <= 2500 and 500 <= height <= 1600


# --------------------------------------------------------------------------- names and dependencies


def test_unknown_format_is_refused_with_close_matches(result: AnalysisResult, tmp_path) -> None:
    with pytest.raises(UnknownNameError) as info:
        result.save(tmp_path / "out", ["json", "parquett"])
    assert info.value.suggestions == ["parquet"] and "parquet" in str(info.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written
    with pytest.raises(UnknownNameError) as info:
        check_formats(["htm"])
    assert "html" in info.value.suggestions


def test_missing_dependency_names_the_install_command(tmp_path) -> None:
    writer = Writer(name="fancy", suffix=".fancy", write=lambda r, p: p, requires=("emofuse_no_such_module",),
                    extra="fancy")
    with pytest.raises(ImportError, match=r"pip install 'emofuse\[fancy\]'"):
        writer(make_result(), tmp_path / "x.fancy")
    assert not (tmp_path / "x.fancy").exists()


def test_a_new_format_is_one_registered_function(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(WRITERS, "_items", dict(WRITERS._items))  # registered for this test only

    @register_writer("dominant", suffix=".txt")
    def write_dominant(result: AnalysisResult, path):
        """The dominant emotion as one word."""
        path.write_text(result.dominant() or "none", encoding="utf-8")
        return path

    assert "dominant" in output_formats() and WRITERS.get("dominant").description.startswith("The dominant")
    paths = make_result().save(tmp_path, ["dominant"])
    assert paths["dominant"].name == "analysis.txt" and paths["dominant"].read_text() == "happiness"
    with pytest.raises(ValueError, match="already registered"):
        register_writer("dominant")(write_dominant)


# --------------------------------------------------------------------------- a fourth modality


@pytest.fixture(scope="module")
def physio_result() -> AnalysisResult:
    return make_result(physio=True)


def test_physio_is_listed_with_the_other_modalities(physio_result: AnalysisResult) -> None:
    assert physio_result.modality_names() == ("text", "audio", "face", "physio")
    assert make_result().modality_names() == ("text", "audio", "face")
    assert AnalysisResult(source="", kind="audio", duration=0.0).modality_names() == ("text", "audio", "face")


def test_physio_gets_csv_columns_without_touching_the_writers(physio_result: AnalysisResult, tmp_path) -> None:
    p = WRITERS.get("csv")(physio_result, tmp_path / "r.csv")
    with open(p, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["physio_label"] == "happiness" and float(rows[0]["physio_weight"]) == 0.25
    assert {f"physio_p_{c}" for c in EKMAN} <= set(rows[0])
    assert AnalysisResult.read_json(WRITERS.get("json")(physio_result, tmp_path / "r.json")) == physio_result


def test_physio_gets_an_html_column_and_summary_line(physio_result: AnalysisResult, tmp_path) -> None:
    page = WRITERS.get("html")(physio_result, tmp_path / "r.html").read_text(encoding="utf-8")
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", page).group(1)
    assert re.findall(r"<th>(.*?)</th>", head) == ["time", "text", "fused", "text", "voice", "face", "physio",
                                                   "fusion weights"]
    assert "<b>physio</b>: present on 2/3 segments" in page
    assert "physio 0.25" in page  # fusion weights column


def test_physio_gets_a_timeline_panel(physio_result: AnalysisResult, tmp_path) -> None:
    writer = WRITERS.get("png")
    _skip_if_missing(writer)
    _, h3 = png_size(writer(make_result(), tmp_path / "a.png").read_bytes())
    _, h4 = png_size(writer(physio_result, tmp_path / "b.png").read_bytes())
    assert h4 > h3  # one more panel
    from emofuse.analysis.timeline import plot_timeline

    fig = plot_timeline(physio_result)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["fused", "weights", "text", "voice", "face", "physio"]
    assert fig.axes[-1].get_xlabel().startswith("time")  # the time axis sits under the last panel


def test_physio_gets_a_terminal_column(physio_result: AnalysisResult) -> None:
    buf = io.StringIO()
    print_table(physio_result, console=Console(file=buf, width=200, color_system=None))
    out = buf.getvalue()
    header = out.splitlines()[0]
    assert header.split()[:7] == ["time", "text", "fused", "text", "voice", "face", "physio"]
    assert "weights t/v/f/p" in header
    assert "physio on 1/3 segments" in out
