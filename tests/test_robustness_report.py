"""Robustness reports: every format has the right columns, round-trips, and the PNG is a PNG."""

from __future__ import annotations

import csv
import io
import json
import struct

import pytest

from emofuse.errors import DataError, UnknownNameError
from emofuse.robustness import (
    FORMATS,
    check_rows,
    curve_measures,
    make_row,
    pivot_markdown,
    plot_rows,
    render,
    summarize,
    to_csv,
    to_json,
    to_markdown,
    to_table,
    write_report,
)

COMMON = ["target", "kind", "modality", "condition", "level", "n", "accuracy", "f1_macro", "f1_weighted", "uar",
          "seed"]


def _m(acc: float, n: int = 10) -> dict[str, float]:
    return {"accuracy": acc, "f1_macro": acc - 0.1, "f1_weighted": acc - 0.05, "uar": acc, "n": n}


def make_rows() -> list[dict]:
    """Two targets × two seeds: subsets and a noise curve on audio (accuracies chosen by hand)."""
    rows = []
    curves = {"a": {0: [0.8, 0.6], 1: [0.8, 0.7]}, "b": {0: [0.9, 0.5], 1: [0.9, 0.5]}}  # seed → acc at σ 0, 1
    for t, by_seed in curves.items():
        for seed, (clean, noisy) in by_seed.items():
            rows.append(make_row(t, "subset", None, "text+audio", 0, _m(clean), seed))
            rows.append(make_row(t, "subset", None, "text", 1, _m(clean - 0.2), seed))
            rows.append(make_row(t, "feature_noise", "audio", "clean (audio present)", 0, _m(clean, 8), seed))
            rows.append(make_row(t, "feature_noise", "audio", "noise σ=1 on audio", 1, _m(noisy, 8), seed))
    return rows


def test_summarize_means_and_sample_std_over_seeds() -> None:
    s = {(e["target"], e["condition"]): e for e in summarize(make_rows())}
    e = s[("a", "noise σ=1 on audio")]
    assert e["seeds"] == 2 and e["n"] == 8
    assert e["accuracy"] == pytest.approx(0.65) and e["accuracy_std"] == pytest.approx(0.0707107, abs=1e-6)
    assert s[("b", "noise σ=1 on audio")]["accuracy_std"] == 0.0
    assert len(s) == 8  # 2 targets × 4 conditions


def test_curve_measures_relative_and_effective_robustness() -> None:
    m = {c["target"]: c for c in curve_measures(make_rows(), baseline="b")}
    assert set(m) == {"a", "b"}  # subsets are not curves
    a = m["a"]
    assert a["levels"] == [0.0, 1.0] and a["values"] == pytest.approx([0.8, 0.65])
    assert a["relative_robustness"] == pytest.approx((0.8 + 0.65) / 2)
    # a drops 0.15, b drops 0.4: a keeps 0.25 more
    assert a["effective_robustness"] == pytest.approx(0.25) and a["baseline"] == "b"
    assert m["b"]["effective_robustness"] == 0.0
    assert all(c["effective_robustness"] is None for c in curve_measures(make_rows()))


def test_csv_round_trips_one_line_per_row() -> None:
    rows = make_rows()
    rows[0]["extra_metric"] = 0.5  # extra keys are carried
    back = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert list(back[0])[: len(COMMON)] == COMMON and "extra_metric" in back[0]
    assert len(back) == len(rows)
    for r, b in zip(rows, back, strict=True):
        assert b["target"] == r["target"] and b["kind"] == r["kind"]
        assert b["modality"] == (r["modality"] or "")  # None is an empty cell
        assert float(b["accuracy"]) == pytest.approx(r["accuracy"]) and int(b["seed"]) == r["seed"]
        assert float(b["level"]) == r["level"] and int(b["n"]) == r["n"]


def test_json_holds_rows_summary_and_measures_and_is_strict() -> None:
    rows = make_rows()
    rows[0]["accuracy"] = float("nan")
    doc = json.loads(to_json(rows, baseline="b", title="t", meta={"split": "validation"}))
    assert set(doc) == {"title", "meta", "rows", "summary", "measures"}
    assert doc["meta"] == {"split": "validation"} and doc["title"] == "t"
    assert doc["rows"][0]["accuracy"] is None  # NaN written as null
    assert doc["rows"][1:] == rows[1:]
    assert {c["target"] for c in doc["measures"]} == {"a", "b"}
    assert list(doc["rows"][0]) == COMMON


def test_markdown_and_table_columns() -> None:
    md = to_markdown(make_rows(), title="Validation")
    lines = md.splitlines()
    assert lines[0] == "Validation"
    assert lines[2] == "| target | kind | condition | level | n | seeds | acc | F1-m | F1-w | UAR |"
    assert "| a | feature_noise | noise σ=1 on audio | 1 | 8 | 2 | 65.0 ± 7.1 |" in md
    assert len([x for x in lines if x.startswith("| a") or x.startswith("| b")]) == 8
    table = to_table(make_rows())
    assert [c.header for c in table.columns] == ["target", "kind", "condition", "level", "n", "seeds", "acc",
                                                  "F1-m", "F1-w", "UAR"]
    assert table.row_count == 8
    assert "65.0 ± 7.1" in render(make_rows(), "table")


def test_pivot_markdown_one_column_per_condition() -> None:
    md = pivot_markdown(make_rows())
    assert md.splitlines()[0] == "| target | text+audio | text |"
    assert "| a | 80.0 ± 0.0 | 60.0 ± 0.0 |" in md and "| b | 90.0 ± 0.0 | 70.0 ± 0.0 |" in md


def test_formats_registry_names_and_unknown_format() -> None:
    assert FORMATS.names() == ["csv", "json", "markdown", "table"]
    for name in FORMATS:
        assert render(make_rows(), name)
    with pytest.raises(UnknownNameError, match="markdown"):
        render(make_rows(), "markdwon")


def test_rows_are_checked() -> None:
    with pytest.raises(DataError, match="no robustness rows"):
        check_rows([])
    bad = make_rows()[0]
    del bad["uar"]
    with pytest.raises(DataError, match=r"lacks \['uar'\]"):
        to_csv([bad])
    worse = {**make_rows()[0], "accuracy": "high"}
    with pytest.raises(DataError, match="accuracy must be a number"):
        check_rows([worse])


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_has_one_panel_per_kind_and_noisy_modality(tmp_path) -> None:
    rows = make_rows()
    subsets = [r for r in rows if r["kind"] == "subset"]
    face = [{**r, "modality": "face", "condition": r["condition"].replace("audio", "face")}
            for r in rows if r["kind"] == "feature_noise"]
    sizes = {name: _png_size(plot_rows(part, tmp_path / f"{name}.png", title="t").read_bytes())
             for name, part in {"subsets": subsets, "both": rows, "two_noise": rows + face}.items()}
    panel = round(4.2 * 110)  # each curve panel is 4.2 in wide at 110 dpi
    assert abs(sizes["both"][0] - sizes["subsets"][0] - panel) <= 2
    assert abs(sizes["two_noise"][0] - sizes["both"][0] - panel) <= 2  # one panel per perturbed modality
    assert sizes["subsets"][1] == sizes["both"][1] == round(4.5 * 110)


def test_write_report_writes_every_file(tmp_path) -> None:
    paths = write_report(make_rows(), tmp_path / "out", stem="rb", baseline="b")
    assert {p.name for p in paths.values()} == {"rb.md", "rb.csv", "rb.json", "rb.png"}
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["measures"][0]["baseline"] == "b"
    _png_size(paths["png"].read_bytes())


def test_corruption_curves_follow_severity_not_the_unit() -> None:
    """SNR gets worse as it falls: the curve runs clean → 20 → 10 → 0 dB along ``severity``."""
    rows = []
    for t, accs in {"voice": [0.8, 0.7, 0.5, 0.3], "other": [0.8, 0.8, 0.7, 0.6]}.items():
        for rank, (level, acc) in enumerate(zip([None, 20.0, 10.0, 0.0], accs, strict=True)):
            row = make_row(t, "snr", "audio", "clean" if level is None else f"snr {level:g} dB", level, _m(acc), 0)
            rows.append({**row, "severity": rank, "unit": "dB"})
    m = {c["target"]: c for c in curve_measures(rows, baseline="other")}
    v = m["voice"]
    assert v["levels"] == [None, 20.0, 10.0, 0.0] and v["x"] == [0.0, 1.0, 2.0, 3.0]
    assert v["values"] == pytest.approx([0.8, 0.7, 0.5, 0.3]) and v["worst"] == pytest.approx(0.3)
    # trapezoid over u = 0, 1/3, 2/3, 1: (1.5 + 1.2 + 0.8) / 6
    assert v["relative_robustness"] == pytest.approx(3.5 / 6)
    # drops 0, .1, .3, .5 against 0, 0, .1, .2
    assert v["effective_robustness"] == pytest.approx(-0.6)
    assert summarize(rows)[0]["level"] is None and summarize(rows)[1]["severity"] == 1
    assert "| voice | snr | clean | — |" in to_markdown(rows)
