"""Audio decoding: formats, resampling, mono mix-down and every bad-input case."""

from __future__ import annotations

import numpy as np
import pytest

from emofuse.errors import DataError, EmofuseError, MissingFileError
from emofuse.media.audio import MIN_DURATION_S, check_waveform, load_audio, resample

sf = pytest.importorskip("soundfile")


def _sine(freq: float, sr: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[spec.argmax()])


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_resampled_sine_keeps_its_frequency(tmp_path, fmt):
    path = tmp_path / f"tone.{fmt}"
    sf.write(path, _sine(440.0, 22050), 22050, subtype="PCM_16")
    x, sr = load_audio(path, target_sr=16000)
    assert sr == 16000
    assert x.dtype == np.float32 and x.ndim == 1
    assert x.shape[0] == 16000
    assert abs(_peak_hz(x, sr) - 440.0) < 2.0
    assert 0.45 < np.abs(x).max() < 0.55  # level preserved


def test_native_rate_is_passed_through(tmp_path):
    path = tmp_path / "tone16k.wav"
    tone = _sine(1000.0, 16000)
    sf.write(path, tone, 16000, subtype="FLOAT")
    x, sr = load_audio(path)
    np.testing.assert_array_equal(x, tone)


def test_stereo_is_mixed_to_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = _sine(300.0, 16000, amp=0.4), _sine(300.0, 16000, amp=0.2)
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    x, _ = load_audio(path)
    assert x.ndim == 1
    np.testing.assert_allclose(x, (left + right) / 2, atol=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="not found"):
        load_audio(tmp_path / "nope.wav")


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        load_audio(path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage" + bytes(range(200)))
    with pytest.raises(DataError, match="decod|audio"):
        load_audio(path)


def test_text_file_is_not_audio(tmp_path):
    path = tmp_path / "notes.flac"
    path.write_text("this is not audio\n" * 20)
    with pytest.raises(EmofuseError):
        load_audio(path)


def test_folder_is_rejected(tmp_path):
    with pytest.raises(DataError, match="folder"):
        load_audio(tmp_path)


def test_no_samples(tmp_path):
    path = tmp_path / "nosamples.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(DataError, match="no audio samples|empty"):
        load_audio(path)


def test_too_short(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, _sine(200.0, 16000, seconds=0.1), 16000)
    with pytest.raises(DataError, match="too short"):
        load_audio(path)
    x, _ = load_audio(path, min_duration=0.05)
    assert x.shape[0] == 1600


def test_silent_audio_is_an_error_unless_allowed(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(DataError, match="silent"):
        load_audio(path)
    x, _ = load_audio(path, allow_silent=True)
    assert x.shape == (16000,) and not x.any()


def test_no_audio_stream_via_pyav(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "video_only.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for _ in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    with pytest.raises(DataError, match="no audio stream"):
        load_audio(path)


def test_check_waveform_shapes_and_values():
    assert check_waveform(np.full((2, 8000), 0.1), 16000).shape == (8000,)
    assert check_waveform(np.full((8000, 2), 0.1), 16000).shape == (8000,)
    pcm = (np.full(8000, 0.5) * 32767).astype(np.int16)
    np.testing.assert_allclose(check_waveform(pcm, 16000), 0.5, atol=1e-3)
    assert check_waveform(np.full(8000, 0.1), 8000, target_sr=16000).shape == (16000,)
    with pytest.raises(DataError, match="empty"):
        check_waveform(np.zeros(0), 16000)
    with pytest.raises(DataError, match="NaN"):
        check_waveform(np.full(8000, np.nan), 16000)
    with pytest.raises(DataError, match="sample rate"):
        check_waveform(np.ones(8000), 0)
    with pytest.raises(DataError, match="shape"):
        check_waveform(np.ones((2, 2, 8000)), 16000)
    with pytest.raises(DataError, match="numeric"):
        check_waveform(np.array(["a"] * 8000), 16000)
    with pytest.raises(DataError, match="too short"):
        check_waveform(np.ones(int(16000 * MIN_DURATION_S) - 1), 16000)


def test_resample_length_and_identity():
    x = _sine(100.0, 48000)
    assert resample(x, 48000, 16000).shape == (16000,)
    assert resample(x, 48000, 48000) is not None
    np.testing.assert_array_equal(resample(x, 48000, 48000), x)
    with pytest.raises(DataError):
        resample(x, 0, 16000)


def test_prefetch_keeps_order_raises_errors_and_stops_early() -> None:
    import threading

    from emofuse.media.stream import prefetch

    assert list(prefetch(iter(range(100)), maxsize=3)) == list(range(100))

    def broken():
        yield 1
        raise DataError("decoder broke")

    got = []
    with pytest.raises(DataError, match="decoder broke"):
        for x in prefetch(broken()):
            got.append(x)
    assert got == [1]
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    it = prefetch(endless(), maxsize=2)
    assert next(it) == 0
    it.close()  # the consumer stops: the decoder thread stops too, with bounded look-ahead
    assert len(produced) <= 5
    assert not any(t.name == "emofuse-decode" and t.is_alive() for t in threading.enumerate())
