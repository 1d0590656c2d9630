"""End-to-end tests of `emofuse.analyze` / `emofuse analyze` on small generated media.

The media are made here with `emofuse.data.synth_media` from the demo's public-domain face photo
and one sentence of the demo's synthesised speech, so every run sees the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("av")
pytest.importorskip("faster_whisper")
pytest.importorskip("mediapipe")

import emofuse  # noqa: E402
from emofuse.analysis import AnalysisResult  # noqa: E402
from emofuse.analysis.pipeline import AnalyzeConfig, analyze  # noqa: E402
from emofuse.cli import app  # noqa: E402
from emofuse.data.synth_media import demo_face, demo_speech, tone_speech, write_audio, write_video  # noqa: E402
from emofuse.errors import ConfigError, DataError, MissingFileError  # noqa: E402
from emofuse.media.audio import resample  # noqa: E402

pytestmark = pytest.mark.integration
SR = 16000


@pytest.fixture(scope="module")
def sentence() -> np.ndarray:
    """'I just got the news, we won! I am so happy about this!' (demo sentence 2), 16 kHz."""
    wave, sr = demo_speech()
    return resample(wave[int(4.7 * sr):int(8.6 * sr)], sr, SR)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, sentence: np.ndarray) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    speech = np.concatenate([np.zeros(SR // 2, np.float32), sentence, np.zeros(SR, np.float32)])  # ~5.4 s
    dur = len(speech) / SR
    face = demo_face()
    out = {
        "video": write_video(d / "talk.mp4", duration_s=dur, width=480, height=270, fps=10, audio=(speech, SR),
                             face=face),
        "mute": write_video(d / "mute.mkv", duration_s=3.0, width=480, height=270, fps=10, face=face),
        "noface": write_video(d / "noface.webm", duration_s=dur, width=320, height=180, fps=10,
                              audio=(speech, SR)),
        "vfr": write_video(d / "vfr.mkv", duration_s=3.0, width=320, height=180, fps=10, face=face, vfr=True,
                           audio=(tone_speech(3.0, SR, seed=1), SR)),
        "audio": write_audio(d / "speech.flac", speech, SR),
        "audio44k": write_audio(d / "speech44k.wav", resample(speech, SR, 44100), 44100),
        "hum": write_audio(d / "hum.wav", (0.05 * np.sin(2 * np.pi * 50 * np.arange(3 * SR) / SR)).astype(np.float32),
                           SR),
        "dur": Path(str(dur)),
    }
    empty = d / "empty.mp4"
    empty.write_bytes(b"")
    out["empty"] = empty
    data = out["video"].read_bytes()
    trunc = d / "truncated.mp4"  # an MP4 keeps its index at the end: cut, it is unreadable
    trunc.write_bytes(data[: int(len(data) * 0.6)])
    out["truncated"] = trunc
    mkv = write_video(d / "talk.mkv", duration_s=dur, width=480, height=270, fps=10, audio=(speech, SR), face=face)
    data = mkv.read_bytes()
    trunc = d / "truncated.mkv"  # a Matroska file cut at 60% still plays up to the cut
    trunc.write_bytes(data[: int(len(data) * 0.6)])
    out["truncated_mkv"] = trunc
    garbage = d / "garbage.mp4"
    garbage.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    out["garbage"] = garbage
    return out


def _mods(res: AnalysisResult) -> dict[str, set[str]]:
    """Modalities present on at least one segment."""
    return {m: {s.modalities[m].status for s in res.segments} for m in ("text", "audio", "face")}


# --------------------------------------------------------------------------- what the file has


def test_video_with_speech_and_face(media: dict[str, Path]) -> None:
    res = analyze(media["video"])
    assert res.kind == "video" and res.modalities == {}
    speech = [s for s in res.segments if s.source == "vad"]
    assert len(speech) == 1
    seg = speech[0]
    assert 0.2 <= seg.start <= 0.9 and 3.8 <= seg.end <= 5.0
    assert {m for m, r in seg.modalities.items() if r.ok} == {"text", "audio", "face"}
    assert "happy" in seg.text.lower() and seg.text_source == "asr" and seg.words
    assert all(seg.start - 0.05 <= w["start"] <= w["end"] <= seg.end + 0.05 for w in seg.words)
    assert seg.modalities["text"].label == "happiness"
    assert abs(sum(seg.weights.values()) - 1) < 1e-3 and set(seg.weights) == {"text", "audio", "face"}
    assert abs(sum(seg.probs.values()) - 1) < 1e-3 and seg.label in seg.probs
    assert res.faces and res.faces[0]["main"] and 14 <= len(res.frames) <= 18  # 3 fps sampling
    assert sum(f.probs is not None for f in res.frames) >= 0.9 * len(res.frames)
    df = res.to_pandas()
    assert len(df) == len(res.segments) and {"start", "end", "label", "face_weight", "text_p_happiness"} <= set(df)


def test_audio_only_file(media: dict[str, Path]) -> None:
    res = analyze(media["audio"])
    assert res.kind == "audio" and res.modalities == {"face": "no video stream"}
    assert _mods(res)["face"] == {"missing"} and "ok" in _mods(res)["audio"] and "ok" in _mods(res)["text"]
    assert all(s.source == "vad" for s in res.segments)


def test_wrong_sample_rate_is_resampled(media: dict[str, Path]) -> None:
    a = analyze(media["audio"], asr=False)
    b = analyze(media["audio44k"], asr=False)
    assert [round(s.start, 1) for s in a.segments] == [round(s.start, 1) for s in b.segments]
    # the same distribution, not the same argmax: the synthesised voice sits near a fear/happiness tie
    pa, pb = a.segments[0].modalities["audio"].probs, b.segments[0].modalities["audio"].probs
    assert 0.5 * sum(abs(pa[k] - pb[k]) for k in pa) < 0.1  # total variation (44.1 kHz read as 16 kHz: 0.71)


def test_video_without_audio_track(media: dict[str, Path]) -> None:
    res = analyze(media["mute"])
    assert res.modalities["audio"] == "no audio track" and "text" in res.modalities
    assert res.media["segmentation"] == "window" and res.segments
    assert _mods(res) == {"text": {"missing"}, "audio": {"missing"}, "face": {"ok"}}
    assert all(set(s.weights) == {"face"} for s in res.segments)


def test_video_without_face(media: dict[str, Path]) -> None:
    res = analyze(media["noface"])
    assert res.modalities["face"].startswith("no face detected in")
    assert _mods(res)["face"] == {"missing"} and "ok" in _mods(res)["text"]


def test_audio_without_speech(media: dict[str, Path]) -> None:
    res = analyze(media["hum"])
    assert res.segments == []
    assert res.modalities["audio"] == "no speech detected"


def test_variable_frame_rate(media: dict[str, Path]) -> None:
    res = analyze(media["vfr"], fps=4.0)
    ts = [f.t for f in res.frames]
    assert 10 <= len(ts) <= 14 and ts == sorted(ts)
    assert max(np.diff(ts)) < 0.5  # sampled by time, not by frame count
    assert any(f.probs is not None for f in res.frames)


# --------------------------------------------------------------------------- bad input


def test_empty_and_missing_and_garbage_files(media: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        analyze(media["empty"])
    with pytest.raises(MissingFileError):
        analyze(tmp_path / "nope.mp4")
    with pytest.raises(DataError, match="not a readable"):
        analyze(media["garbage"])
    with pytest.raises(DataError, match="limit"):
        analyze(media["video"], max_bytes=1000)


def test_truncated_video_is_analysed_up_to_the_break(media: dict[str, Path]) -> None:
    with pytest.raises(DataError, match="looks truncated"):
        analyze(media["truncated"])
    full = analyze(media["video"])
    res = analyze(media["truncated_mkv"])
    assert res.segments, "what was decoded before the break must be analysed"
    assert res.frames and max(f.t for f in res.frames) < max(f.t for f in full.frames)
    assert any(s.modalities["face"].ok for s in res.segments)
    assert any("truncated" in w or "decoding stopped" in w for w in res.warnings)
    assert res.duration < full.duration


def test_huge_resolution_skips_video_keeps_audio(media: dict[str, Path], tmp_path: Path) -> None:
    res = analyze(media["video"], max_pixels=320 * 200)
    assert "megapixel limit" in res.modalities["face"] and res.warnings
    assert "ok" in _mods(res)["audio"] and res.kind == "audio"
    import av

    big = tmp_path / "huge.mkv"
    with av.open(str(big), "w") as c:  # a real 9000x5000 frame: probed, never decoded
        v = c.add_stream("mjpeg", rate=1)
        v.width, v.height, v.pix_fmt = 9000, 5000, "yuvj420p"
        frame = av.VideoFrame(9000, 5000, "yuvj420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for p in v.encode(frame):
            c.mux(p)
        for p in v.encode():
            c.mux(p)
    res = analyze(big)
    assert "9000x5000" in res.modalities["face"] and res.segments == []


def test_transcript_sets_segment_boundaries(media: dict[str, Path], tmp_path: Path) -> None:
    srt = tmp_path / "t.srt"
    srt.write_text("1\n00:00:00,400 --> 00:00:02,500\nI just got the news, we won!\n\n"
                   "2\n00:00:02,500 --> 00:00:04,600\nI am so happy about this!\n", encoding="utf-8")
    res = analyze(media["video"], transcript=srt)
    assert [(s.start, s.end) for s in res.segments if s.source == "transcript"] == [(0.4, 2.5), (2.5, 4.6)]
    assert [s.text_source for s in res.segments if s.source == "transcript"] == ["transcript"] * 2
    assert res.segments[1].modalities["text"].label == "happiness"


def test_bad_transcripts_warn_and_fall_back(media: dict[str, Path], tmp_path: Path) -> None:
    latin = tmp_path / "latin.srt"
    latin.write_bytes("1\n00:00:00,400 --> 00:00:04,000\nCaf\xe9 na\xefve\n".encode("cp1252"))
    res = analyze(media["video"], transcript=latin)
    assert any("transcript ignored" in w and "--encoding cp1252" in w for w in res.warnings)
    assert any(s.text_source == "asr" for s in res.segments)  # fell back to speech recognition
    r = CliRunner().invoke(app, ["analyze", str(media["video"]), "--transcript", str(latin), "--encoding", "cp1252",
                                 "--json", "--no-asr"])  # the fix the warning names, from the CLI
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["segments"][0]["text"] == "Café naïve"
    late = tmp_path / "late.vtt"
    late.write_text("WEBVTT\n\n00:00.400 --> 00:04.000\nWe won!\n\n00:04.000 --> 00:30.000\nStill talking\n\n"
                    "01:00.000 --> 01:05.000\nLong gone\n", encoding="utf-8")
    res = analyze(media["video"], transcript=late)
    cues = [s for s in res.segments if s.source == "transcript"]
    assert len(cues) == 2 and cues[-1].end <= res.duration + 1e-6
    assert len(res.warnings) == 2


def test_untimed_transcript_is_spread_over_speech(media: dict[str, Path], tmp_path: Path) -> None:
    txt = tmp_path / "t.txt"
    txt.write_text("I just got the news, we won! I am so happy about this!\n", encoding="utf-8")
    res = analyze(media["audio"], transcript=txt)
    speech = [s for s in res.segments if s.source == "vad"]
    assert speech and speech[0].text_source == "transcript" and "happy" in speech[0].text


def test_results_are_deterministic(media: dict[str, Path]) -> None:
    a, b = analyze(media["video"]), analyze(media["video"])
    da, db = a.to_dict(), b.to_dict()
    da.pop("timings"), db.pop("timings")
    assert da == db


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="did you mean 'fps'"):
        AnalyzeConfig.from_dict({"fpss": 2})
    with pytest.raises(KeyError, match="Did you mean: vad"):
        AnalyzeConfig(segmentation="vda")
    with pytest.raises(ConfigError):
        emofuse.analyze()


# --------------------------------------------------------------------------- text, API, CLI


def test_analyze_text() -> None:
    res = emofuse.analyze(text="I am so happy for you! This is disgusting and I hate it.")
    assert res.kind == "text" and [s.label for s in res.segments][0] == "happiness"
    assert len(res.segments) == 2 and all(set(s.weights) == {"text"} for s in res.segments)
    with pytest.raises(DataError, match="empty"):
        emofuse.analyze(text="   \n ")


def test_cli_single_file_writes_all_formats(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["analyze", str(media["audio"]), "-o", str(out), "--no-asr"])
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} == {f"analysis.{f}" for f in ("json", "csv", "parquet", "html", "png")}
    res = AnalysisResult.read_json(out / "analysis.json")
    assert res.config["asr"] is False and res.segments[0].modalities["text"].reason.startswith("speech recognition")
    r = CliRunner().invoke(app, ["analyze", "--text", "What a wonderful surprise!", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["segments"][0]["text"] == "What a wonderful surprise!"


def test_cli_bad_input_is_one_clear_line(media: dict[str, Path]) -> None:
    r = CliRunner().invoke(app, ["analyze", str(media["empty"])])
    assert r.exit_code == 2 and "empty (0 bytes)" in r.output
    r = CliRunner().invoke(app, ["analyze", str(media["audio"]), "--set", "segmentation=vda"])
    assert r.exit_code == 2 and "Did you mean" in r.output
    r = CliRunner().invoke(app, ["analyze", str(media["audio"]), "--text", "some words"])
    assert r.exit_code == 2 and "--transcript" in r.output
    r = CliRunner().invoke(app, ["analyze", str(media["audio"]), "--set", "experts.audio=text-goemotions"])
    assert r.exit_code == 2 and "reads text, not audio" in r.output


def test_batch_resume_notices_a_replaced_file(media: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    target = folder / "clip.flac"
    target.write_bytes(media["audio"].read_bytes())
    out = tmp_path / "out"
    args = ["analyze", str(folder), "-o", str(out), "--formats", "json", "--no-asr"]
    assert CliRunner().invoke(app, args).exit_code == 0
    row = json.loads((out / "summary.json").read_text())[0]
    assert row["status"] == "done" and row["output"] == str(out / "clip")
    assert CliRunner().invoke(app, args).exit_code == 0
    assert json.loads((out / "summary.json").read_text())[0]["status"] == "skipped"
    hum = media["hum"]  # another recording under the same name: analysed again, not reused
    import soundfile as sf

    x, sr = sf.read(hum)
    sf.write(target, x, sr, format="FLAC")
    assert CliRunner().invoke(app, args).exit_code == 0
    assert json.loads((out / "summary.json").read_text())[0]["status"] == "done"


def test_batch_is_resumable_and_survives_failures(media: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for k in ("audio", "empty", "hum"):
        (folder / media[k].name).write_bytes(media[k].read_bytes())
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["analyze", str(folder), "-o", str(out), "--formats", "json,csv", "--no-asr"])
    assert r.exit_code == 1  # one file failed
    rows = {Path(x["file"]).name: x for x in json.loads((out / "summary.json").read_text())}
    assert rows["empty.mp4"]["status"] == "failed" and "empty" in rows["empty.mp4"]["error"]
    assert rows["speech.flac"]["status"] == "done" and rows["hum.wav"]["status"] == "done"
    assert (out / "speech" / "analysis.csv").is_file()
    r = CliRunner().invoke(app, ["analyze", str(folder), "-o", str(out), "--formats", "json,csv", "--no-asr"])
    rows = {Path(x["file"]).name: x for x in json.loads((out / "summary.json").read_text())}
    assert rows["speech.flac"]["status"] == "skipped" and rows["empty.mp4"]["status"] == "failed"


@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".m4a", ".wav"])
def test_audio_formats(tmp_path: Path, sentence: np.ndarray, suffix: str) -> None:
    speech = np.concatenate([np.zeros(SR // 2, np.float32), sentence, np.zeros(SR // 2, np.float32)])
    p = write_audio(tmp_path / f"s{suffix}", speech, SR)
    res = analyze(p, asr=False)
    assert res.kind == "audio" and len(res.segments) == 1
    assert res.segments[0].modalities["audio"].ok and 0.2 <= res.segments[0].start <= 0.9


@pytest.mark.parametrize("suffix", [".mov", ".avi", ".webm"])
def test_video_containers(tmp_path: Path, sentence: np.ndarray, suffix: str) -> None:
    p = write_video(tmp_path / f"v{suffix}", duration_s=2.0, width=320, height=240, fps=10, face=demo_face(),
                    audio=(sentence[: 2 * SR], SR))
    res = analyze(p, asr=False)
    assert res.kind == "video" and res.media["has_audio"]
    assert sum(f.probs is not None for f in res.frames) >= 5
    assert any(s.modalities["audio"].ok for s in res.segments)
