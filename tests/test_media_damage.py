"""A damaged stretch in the middle of a file is skipped: decoding resumes after it and says what was lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from emofuse.data.synth_media import tone_speech, write_video  # noqa: E402
from emofuse.media.stream import AudioChunk, StreamEvent, VideoSample, probe, stream_media  # noqa: E402

SR = 16000
DUR = 6.0


def _remux_ts(src: Path, dst: Path) -> Path:
    """The same streams in MPEG-TS (188-byte packets: its demuxer resyncs after damage)."""
    with av.open(str(src)) as i, av.open(str(dst), "w", format="mpegts") as o:
        out = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for p in i.demux():
            if p.dts is None:  # the demuxer's flush packets
                continue
            p.stream = out[p.stream.index]
            o.mux(p)
    return dst


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("damage")
    mkv = write_video(d / "clip.mkv", duration_s=DUR, width=160, height=120, fps=10,
                      audio=(tone_speech(DUR, SR, seed=1), SR))
    out = {"mkv": mkv, "ts": _remux_ts(mkv, d / "clip.ts")}
    for name in ("mkv", "ts"):
        data = bytearray(out[name].read_bytes())
        a = int(len(data) * 0.45)
        b = a + int(len(data) * 0.1)
        data[a:b] = np.random.default_rng(0).integers(0, 256, b - a, dtype=np.uint8).tobytes()  # 10 % garbage
        out[f"bad_{name}"] = d / f"bad_{out[name].name}"
        out[f"bad_{name}"].write_bytes(bytes(data))
    return out


def _walk(path: Path) -> tuple[list[AudioChunk], list[VideoSample], list[StreamEvent]]:
    items = list(stream_media(probe(path), chunk_s=0.5, fps=2.0))
    return ([i for i in items if isinstance(i, AudioChunk)], [i for i in items if isinstance(i, VideoSample)],
            [i for i in items if isinstance(i, StreamEvent)])


@pytest.mark.parametrize("fmt", ["ts", "mkv"])
def test_decoding_resumes_after_a_damaged_stretch_and_reports_it(files: dict[str, Path], fmt: str) -> None:
    chunks, frames, events = _walk(files[f"bad_{fmt}"])
    assert all(e.kind == "skipped" for e in events), [e.message for e in events]  # not "decoding stopped"
    audio = next(e for e in events if "damaged audio" in e.message)
    (t0, t1), = audio.spans
    assert 1.0 < t0 < t1 < DUR - 0.5
    assert audio.message.startswith(f"decoding skipped {t1 - t0:.1f} s of damaged audio at {t0:.1f}–{t1:.1f} s")
    # the audio after the damage is still there, at its own time (the lost stretch is silence)
    assert chunks[-1].start + len(chunks[-1].samples) / SR == pytest.approx(DUR, abs=0.1)
    assert all(abs(b.start - (a.start + len(a.samples) / SR)) < 1e-6 for a, b in zip(chunks, chunks[1:],
                                                                                       strict=False))
    x = np.concatenate([c.samples for c in chunks])
    assert np.abs(x[int((t0 + 0.1) * SR):int((t1 - 0.1) * SR)]).max() == 0.0
    assert np.abs(x[int((t1 + 0.1) * SR):]).max() > 0.05
    # so are video frames, and the frames lost are counted
    video = next(e for e in events if "video frame" in e.message)
    assert max(f.t for f in frames) >= video.spans[-1][1] > video.spans[0][0] > 1.0  # a frame after the damage
    assert int(video.message.split()[2]) >= 5


def test_an_undamaged_file_reports_nothing(files: dict[str, Path]) -> None:
    for fmt in ("ts", "mkv"):
        chunks, frames, events = _walk(files[fmt])
        assert events == [] and len(frames) == 12
        assert sum(len(c.samples) for c in chunks) / SR == pytest.approx(DUR, abs=0.1)


@pytest.mark.integration
def test_the_analysis_says_what_was_lost(files: dict[str, Path]) -> None:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("mediapipe")
    import emofuse

    cfg = {"asr": False, "text": False, "fps": 2.0}  # frames are decoded for the face path
    res = emofuse.analyze(files["bad_ts"], config=cfg)
    lost = [w for w in res.warnings if w.startswith("decoding skipped")]
    assert len(lost) == 2 and "damaged audio" in lost[0] and "damaged video frames" in lost[1]
    assert res.duration == pytest.approx(DUR, abs=0.2)  # not cut at the damage
    assert max(s.end for s in res.segments) > 5.0
    assert not [w for w in emofuse.analyze(files["ts"], config=cfg).warnings if "decoding" in w]
