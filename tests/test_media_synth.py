"""Synthetic media writer (emofuse.data.synth_media) and the shipped demo files."""

from __future__ import annotations

import numpy as np
import pytest

from emofuse.errors import ConfigError, DataError, MissingFileError

av = pytest.importorskip("av")
pytest.importorskip("PIL")

from emofuse.data.synth_media import demo_face, demo_speech, tone_speech, write_audio, write_video  # noqa: E402
from emofuse.demo import DEMO_DIR, demo_path  # noqa: E402
from emofuse.media.audio import load_audio  # noqa: E402

W, H, FPS, DUR = 320, 240, 25.0, 2.0


def _probe(path):
    """(video stream info, audio stream info or None, video frame times in s)."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        info = {
            "n_streams": len(c.streams),
            "duration": c.duration / 1e6,
            "size": (v.codec_context.width, v.codec_context.height),
            "vcodec": v.codec_context.name,
            "acodec": a.codec_context.name if a is not None else None,
            "sr": a.codec_context.sample_rate if a is not None else None,
        }
        times = [f.time for f in c.decode(v)]
    return info, np.asarray(times)


@pytest.fixture(scope="module")
def speech():
    return tone_speech(DUR, sr=16000, seed=1), 16000


@pytest.mark.parametrize(
    ("suffix", "vcodec", "acodec"),
    [(".mp4", "h264", "aac"), (".mkv", "h264", "aac"), (".webm", "vp8", "opus")],
)
def test_video_with_audio_and_face_round_trips(tmp_path, speech, suffix, vcodec, acodec):
    path = write_video(
        tmp_path / f"clip{suffix}", duration_s=DUR, width=W, height=H, fps=FPS, audio=speech, face=demo_face()
    )
    assert path.stat().st_size > 1000
    info, times = _probe(path)
    assert info["n_streams"] == 2
    assert (info["vcodec"], info["acodec"]) == (vcodec, acodec)
    assert info["size"] == (W, H)
    assert abs(info["duration"] - DUR) < 0.15
    assert abs(len(times) - FPS * DUR) <= 1
    assert np.allclose(np.diff(times), 1 / FPS, atol=2e-3)  # constant frame rate
    x, sr = load_audio(path, target_sr=16000)
    assert abs(len(x) / sr - DUR) < 0.1
    assert np.abs(x).max() > 0.1  # the speech-like audio survived, not silence


def test_face_is_pasted_and_can_be_hidden(tmp_path):
    face = np.zeros((100, 100, 3), dtype=np.uint8)
    face[..., 0] = 255  # pure red: nothing like the background
    path = write_video(
        tmp_path / "f.mp4",
        duration_s=1.0,
        width=W,
        height=H,
        fps=10.0,
        face=face,
        face_visible=lambda t: t < 0.5,
        crf=18,
    )
    with av.open(str(path)) as c:
        frames = [(f.time, f.to_ndarray(format="rgb24").astype(int)) for f in c.decode(video=0)]
    assert len(frames) == 10
    for t, img in frames:
        red = ((img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)).mean()
        if t < 0.45:
            assert 0.05 < red < 0.5  # 0.7 x 240 px photo: ~168x168 of 320x240
        elif t > 0.55:
            assert red < 0.001


@pytest.mark.parametrize(("width", "height"), [(480, 270), (362, 202)])
def test_sizes_not_divisible_by_4(tmp_path, width, height):
    path = write_video(tmp_path / "odd.mp4", duration_s=0.4, width=width, height=height, fps=10.0, face=demo_face())
    info, times = _probe(path)
    assert info["size"] == (width, height)
    assert len(times) == 4


def test_video_is_deterministic_for_a_seed(tmp_path):
    kw = {"duration_s": 0.5, "width": 160, "height": 120, "fps": 10.0}
    a = write_video(tmp_path / "a.mkv", seed=3, **kw).read_bytes()
    b = write_video(tmp_path / "b.mkv", seed=3, **kw).read_bytes()
    c = write_video(tmp_path / "c.mkv", seed=4, **kw).read_bytes()
    assert a == b
    assert a != c


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_vfr_has_jittered_frame_durations(tmp_path, suffix):
    path = write_video(tmp_path / f"vfr{suffix}", duration_s=DUR, width=W, height=H, fps=FPS, vfr=True)
    _, times = _probe(path)
    d = np.diff(times)
    assert np.all(d > 0)
    assert d.max() - d.min() > 0.01  # not constant: 0.5-1.5 x 40 ms
    assert abs(times[-1] + d.mean() - DUR) < 0.15


def test_audio_is_looped_to_the_duration(tmp_path):
    short = (tone_speech(0.5, sr=16000), 16000)
    path = write_video(tmp_path / "loop.mp4", duration_s=1.5, width=160, height=120, fps=10.0, audio=short)
    x, sr = load_audio(path, target_sr=16000)
    assert abs(len(x) / sr - 1.5) < 0.1


@pytest.mark.parametrize("suffix", [".wav", ".m4a"])
def test_write_audio_round_trip(tmp_path, suffix):
    wave = tone_speech(1.0, sr=16000, seed=2)
    path = write_audio(tmp_path / f"a{suffix}", wave, 16000)
    x, sr = load_audio(path, target_sr=16000)
    assert sr == 16000
    assert abs(len(x) - len(wave)) <= 1024  # AAC may keep its priming samples
    if suffix == ".wav":
        assert np.abs(x - wave).max() < 1e-4  # 16-bit PCM
    else:
        assert abs(np.abs(x).max() - np.abs(wave).max()) < 0.1


def test_tone_speech_is_speech_like_and_deterministic():
    x = tone_speech(3.0, sr=16000, seed=5)
    assert x.shape == (48000,) and x.dtype == np.float32
    assert np.array_equal(x, tone_speech(3.0, sr=16000, seed=5))
    assert not np.array_equal(x, tone_speech(3.0, sr=16000, seed=6))
    frames = np.abs(x[: len(x) // 160 * 160].reshape(-1, 160)).max(axis=1)  # 10 ms frames
    voiced = frames > 0.02
    assert 0.3 < voiced.mean() < 0.95  # bursts and pauses


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"duration_s": 0}, DataError),
        ({"duration_s": -1.0}, DataError),
        ({"duration_s": float("nan")}, DataError),
        ({"width": 0}, DataError),
        ({"height": -2}, DataError),
        ({"width": 321}, DataError),
        ({"fps": 0}, DataError),
        ({"face": np.zeros((10, 10), dtype=np.uint8)}, DataError),
        ({"audio": (np.zeros(100, dtype=np.float32), 0)}, DataError),
        ({"codec": "no-such-encoder"}, ConfigError),
    ],
)
def test_bad_video_arguments_raise(tmp_path, kwargs, error):
    args = {"duration_s": 1.0, "width": W, "height": H, **kwargs}
    with pytest.raises(error):
        write_video(tmp_path / "bad.mp4", **args)


def test_bad_suffixes_raise(tmp_path):
    with pytest.raises(ConfigError, match="suffix"):
        write_video(tmp_path / "x.gif", duration_s=1.0)
    with pytest.raises(ConfigError, match="vfr"):
        write_video(tmp_path / "x.avi", duration_s=1.0, vfr=True)
    with pytest.raises(ConfigError, match="suffix"):
        write_audio(tmp_path / "x.xyz", np.zeros(100, dtype=np.float32), 16000)
    with pytest.raises(DataError):
        write_audio(tmp_path / "x.wav", np.zeros((0,), dtype=np.float32), 16000)
    with pytest.raises(DataError):
        tone_speech(0.0)


def test_demo_files_are_shipped():
    assert demo_path().name == "demo.mp4"
    for name in ("demo.mp4", "demo.srt", "face.jpg", "PROVENANCE.md"):
        assert (DEMO_DIR / name).is_file()
    with pytest.raises(MissingFileError, match="nope.mp4"):
        demo_path("nope.mp4")
    info, times = _probe(demo_path())
    assert info["n_streams"] == 2
    assert info["size"] == (640, 360)
    assert 25 <= info["duration"] <= 35
    assert demo_path().stat().st_size < 2_000_000


def test_demo_face_and_speech():
    face = demo_face()
    assert face.dtype == np.uint8 and face.ndim == 3 and face.shape[2] == 3
    assert 256 <= face.shape[0] <= 320 and face.shape[0] == face.shape[1]
    x, sr = demo_speech()
    assert x.dtype == np.float32 and x.ndim == 1 and sr > 0
    assert 25 <= len(x) / sr <= 35
    assert np.abs(x).max() > 0.3
