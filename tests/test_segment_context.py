"""Room tone around a segment's speech: what the segmenter keeps, and how the voice is padded with it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from emofuse.analysis.config import AnalyzeConfig
from emofuse.errors import UnknownNameError
from emofuse.media.segment import Segment, Segmenter

SR = 16000


@dataclass
class _Cue:
    start: float
    end: float
    text: str


def _ramp(seconds: float) -> np.ndarray:
    """Sample ``i`` holds ``i / 1e6``: every sample says where it came from."""
    return (np.arange(int(seconds * SR)) / 1e6).astype(np.float32)


def _feed(seg: Segmenter, x: np.ndarray, chunk: int) -> list[tuple[float, Segment]]:
    out = []
    for i in range(0, len(x), chunk):
        t = i / SR
        out += [(t + len(x[i:i + chunk]) / SR, s) for s in seg.feed_audio(t, x[i:i + chunk])]
    return out + [(len(x) / SR, s) for s in seg.flush(len(x) / SR)]


@pytest.mark.parametrize("chunk_s", [0.25, 1.0, 3.7])
def test_context_is_the_audio_around_the_segment_whatever_the_chunking(chunk_s: float) -> None:
    x = _ramp(6.0)
    seg = Segmenter("transcript", has_audio=True, cues=[_Cue(1.0, 2.0, "a"), _Cue(4.0, 4.5, "b")], vad=False,
                    context_s=0.5)
    closed = _feed(seg, x, int(chunk_s * SR))
    (t_a, a), (t_b, b) = closed
    assert t_a >= 2.5 and t_b >= 5.0  # each waits for the room tone after it
    before, after = a.context
    np.testing.assert_array_equal(before, x[int(0.5 * SR):SR])
    np.testing.assert_array_equal(after, x[2 * SR:int(2.5 * SR)])
    np.testing.assert_array_equal(b.context[0], x[int(3.5 * SR):4 * SR])


def test_padded_speech_uses_room_tone_then_digital_silence() -> None:
    x = _ramp(3.0)
    seg = Segmenter("transcript", has_audio=True, cues=[_Cue(0.25, 2.0, "a")], vad=False, context_s=0.75)
    (_, a), = _feed(seg, x, SR)
    t0, wave = a.padded_speech(0.75)
    assert t0 == pytest.approx(0.25 - 0.75)
    n = int(0.75 * SR)
    assert len(wave) == len(a.audio) + 2 * n
    np.testing.assert_array_equal(wave[:n - SR // 4], 0.0)  # the recording starts at 0: silence before it
    np.testing.assert_array_equal(wave[n - SR // 4:n], x[:SR // 4])  # then its first 0.25 s
    np.testing.assert_array_equal(wave[n:n + len(a.audio)], a.audio)
    np.testing.assert_array_equal(wave[-n:], x[2 * SR:2 * SR + n])
    a.context = None  # voice_padding="silence"
    t0, wave = a.padded_speech(0.75)
    assert t0 == pytest.approx(-0.5)
    assert not wave[:n].any() and not wave[-n:].any()


def test_padding_comes_first_from_the_segment_around_its_speech() -> None:
    audio = np.arange(SR * 2, dtype=np.float32)
    s = Segment(start=10.0, end=12.0, source="transcript", audio=audio, speech=(10.5, 11.5),
                context=(np.full(SR, -1.0, np.float32), np.full(SR, -2.0, np.float32)))
    t0, wave = s.padded_speech(1.0)
    assert t0 == pytest.approx(9.5)
    np.testing.assert_array_equal(wave[:SR // 2], -1.0)  # the context before the segment
    np.testing.assert_array_equal(wave[SR // 2:SR], audio[:SR // 2])  # the cue's own audio before the speech
    np.testing.assert_array_equal(wave[SR:2 * SR], audio[SR // 2:3 * SR // 2])
    np.testing.assert_array_equal(wave[2 * SR:5 * SR // 2], audio[3 * SR // 2:])
    np.testing.assert_array_equal(wave[5 * SR // 2:], -2.0)
    assert Segment(start=0.0, end=1.0, source="vad").padded_speech(0.5) == (0.0, None)


def test_room_tone_stops_where_the_next_utterance_starts() -> None:
    from emofuse.data.synth_media import demo_speech

    x, _ = demo_speech()
    x = x[:SR * 14]
    seg = Segmenter("vad", has_audio=True, context_s=2.0)
    segs = [s for _, s in _feed(seg, x, SR // 2) if s.source == "vad"]
    assert len(segs) >= 2
    thr = seg.vad_config.threshold
    for s, nxt in zip(segs, segs[1:], strict=False):
        before, after = s.context
        assert len(before) <= 2 * SR and len(after) <= 2 * SR
        assert s.end + len(after) / SR <= nxt.start + 0.01  # never into the next utterance (its padding included)
        assert nxt.start - len(nxt.context[0]) / SR >= s.end - 0.01
        if len(after):  # and the detector heard no speech in it
            assert seg.speech_prob(s.end, s.end + len(after) / SR) < thr


def test_window_mode_and_no_audio_keep_no_context() -> None:
    assert Segmenter("window", has_audio=True, vad=False, context_s=1.0).context_s == 0.0
    assert Segmenter("window", has_audio=False, vad=False, context_s=1.0).context_s == 0.0


def test_voice_padding_is_checked() -> None:
    assert AnalyzeConfig().voice_padding == "room"
    with pytest.raises(UnknownNameError):
        AnalyzeConfig(voice_padding="noise")


@pytest.mark.slow
def test_session_reads_the_voice_with_room_tone_unless_told_otherwise() -> None:
    pytest.importorskip("faster_whisper")
    from emofuse.analysis import AnalysisSession
    from emofuse.data.synth_media import demo_speech

    x, _ = demo_speech()
    # the synthesiser's pauses are digital silence: give the recording a room tone (-60 dBFS hiss)
    x = x[:SR * 10] + np.random.default_rng(0).normal(0, 1e-3, SR * 10).astype(np.float32)
    probs = {}
    for padding in ("room", "silence"):
        s = AnalysisSession({"text": False, "face": False, "asr": False, "voice_padding": padding}, has_audio=True)
        pad = s.paths["audio"].expert.pad_s
        assert s.segmenter.context_s == (pad if padding == "room" else 0.0) and pad > 0
        for i in range(0, len(x), SR // 2):
            s.feed_audio(i / SR, x[i:i + SR // 2])
        res = s.close(len(x) / SR) and s.result()
        voiced = [seg for seg in res.segments if seg.modalities["audio"].ok]
        assert voiced
        probs[padding] = np.array([seg.modalities["audio"].vector() for seg in voiced])
    assert probs["room"].shape == probs["silence"].shape
    assert np.abs(probs["room"] - probs["silence"]).max() > 1e-3  # the padding reaches the expert
