"""`emofuse analyze` with wearable signals: beside a video (--physio, --physio-offset), and on their own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("neurokit2")
pytest.importorskip("av")

from typer.testing import CliRunner  # noqa: E402

from _physio import recording, write_csv  # noqa: E402
from emofuse import analyze  # noqa: E402
from emofuse.analysis import AnalysisResult  # noqa: E402
from emofuse.cli import app  # noqa: E402
from emofuse.data.synth_media import demo_face, demo_speech, write_video  # noqa: E402
from emofuse.media.audio import resample  # noqa: E402

pytestmark = pytest.mark.integration
SR = 16000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("physio")
    wave, sr = demo_speech()
    speech = np.concatenate([np.zeros(SR // 2, np.float32), resample(wave[int(4.7 * sr):int(8.6 * sr)], sr, SR),
                             np.zeros(SR, np.float32)])
    video = write_video(d / "talk.mp4", duration_s=len(speech) / SR, width=320, height=180, fps=10,
                        audio=(speech, SR), face=demo_face())
    return {"video": video, "signals": write_csv(recording(120, seed=5), d / "wrist.csv"),
            "short": write_csv(recording(10, seed=6), d / "short.csv"),
            "ohm": write_csv(recording(90, seed=7), d / "ohm.csv", eda_scale=1e5)}


def test_signals_beside_a_video_are_aligned_read_and_fused(files: dict[str, Path]) -> None:
    # the wristband started 100 s before the camera: its time 100 s is the video's 0
    res = analyze(files["video"], signals=files["signals"], physio_offset_s=-100.0, asr=False)
    speech = [s for s in res.segments if s.source == "vad"]
    assert speech and all(s.modalities["physio"].ok for s in res.segments)
    seg = speech[0]
    assert {m for m, r in seg.modalities.items() if r.ok} >= {"audio", "face", "physio"}
    assert set(seg.weights) >= {"audio", "face", "physio"} and abs(sum(seg.weights.values()) - 1) < 1e-3
    assert seg.modalities["physio"].native and set(seg.modalities["physio"].native) == {"baseline", "stress",
                                                                                         "amusement"}
    assert res.media["physio"]["bvp"]["start_s"] == pytest.approx(-100.0)
    again = AnalysisResult.from_dict(json.loads(res.to_json()))
    assert again == res  # the physio reading goes through JSON exactly


def test_without_offset_the_video_precedes_the_signals_window(files: dict[str, Path]) -> None:
    res = analyze(files["video"], signals=files["signals"], asr=False)
    reasons = {s.modalities["physio"].reason for s in res.segments}
    assert all(not s.modalities["physio"].ok for s in res.segments)
    assert any("too little physiological signal" in (r or "") for r in reasons)


def test_cli_signals_alone_give_a_physiological_timeline(files: dict[str, Path], tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["analyze", str(files["signals"]), "--set", "window_s=20", "-o", str(tmp_path),
                                 "--formats", "json,html,png"])
    assert r.exit_code == 0, r.output
    res = AnalysisResult.read_json(tmp_path / "analysis.json")
    assert res.kind == "physio" and res.duration == pytest.approx(120.0, abs=0.1)
    assert [s.modalities["physio"].ok for s in res.segments] == [False] + [True] * 5
    assert res.modalities == {"text": "signals only", "audio": "signals only", "face": "signals only"}
    html = (tmp_path / "analysis.html").read_text(encoding="utf-8")
    assert "physio" in html and any(c in html for c in ("baseline", "stress", "amusement"))


def test_cli_short_and_wrong_unit_signals(files: dict[str, Path]) -> None:
    r = CliRunner().invoke(app, ["analyze", str(files["short"]), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert all(s["modalities"]["physio"]["status"] == "missing" for s in res["segments"])
    assert any("60 s windows" in w for w in res["warnings"])
    r = CliRunner().invoke(app, ["analyze", str(files["ohm"])])
    assert r.exit_code == 2 and "physio_units.eda=ohm" in r.output
    r = CliRunner().invoke(app, ["analyze", str(files["ohm"]), "--set", "physio_units.eda=ohm", "--json"])
    assert r.exit_code == 0, r.output
    assert any(s["modalities"]["physio"]["status"] == "ok" for s in json.loads(r.stdout)["segments"])
    r = CliRunner().invoke(app, ["analyze", str(files["video"]), "--physio", str(files["video"].with_name("x.csv"))])
    assert r.exit_code == 2 and "not found" in r.output
