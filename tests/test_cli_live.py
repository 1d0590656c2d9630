"""`emofuse live --realtime FILE`: a recording played into the live analysis gives what batch analysis gives."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("av")

from typer.testing import CliRunner  # noqa: E402

from emofuse import analyze  # noqa: E402
from emofuse.cli import app  # noqa: E402
from emofuse.demo import demo_path  # noqa: E402

pytestmark = pytest.mark.integration


def test_live_replay_prints_rolling_estimates_and_the_batch_segments() -> None:
    demo = demo_path("demo.mp4")
    r = CliRunner().invoke(app, ["live", "--realtime", str(demo), "--speed", "200", "--no-asr", "--json",
                                 "--interval", "2"])
    assert r.exit_code == 0, r.output
    msgs = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    rolling = [m for m in msgs if m["type"] == "rolling"]
    segments = [m for m in msgs if m["type"] == "segment"]
    assert len(rolling) >= 10 and all("latency_ms" in m and m["probs"] for m in rolling)
    assert [m["t"] for m in rolling] == sorted(m["t"] for m in rolling)
    batch = analyze(demo, asr=False)
    got = sorted(segments, key=lambda m: m["start"])
    assert [(m["start"], m["end"], m["label"]) for m in got] == [(s.start, s.end, s.label) for s in batch.segments]


def test_live_without_a_file_says_what_to_do() -> None:
    r = CliRunner().invoke(app, ["live"])
    assert r.exit_code == 2 and "--realtime FILE" in r.output
    r = CliRunner().invoke(app, ["live", "--realtime", "no/such/file.mp4"])
    assert r.exit_code == 2 and "not found" in r.output.lower()
