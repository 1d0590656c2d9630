"""The streaming core: segmenter, modality paths, sessions fed incrementally == batch analysis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from emofuse.analysis.config import AnalyzeConfig
from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.media.segment import Segmenter, windows

SR = 16000


@dataclass
class _Cue:
    start: float | None
    end: float | None
    text: str


def _chunks(x: np.ndarray, n: int) -> list[tuple[float, np.ndarray]]:
    return [(i / SR, x[i:i + n]) for i in range(0, len(x), n)]


# --------------------------------------------------------------------------- segmenter


def test_windows_fold_a_short_tail() -> None:
    assert [(w.start, w.end) for w in windows(0, 11, 5)] == [(0, 5), (5, 11)]
    assert [(w.start, w.end) for w in windows(0, 13, 5)] == [(0, 5), (5, 10), (10, 13)]


@pytest.mark.parametrize("chunk_s", [0.5, 2.0, 7.3])
def test_window_mode_is_independent_of_chunking(chunk_s: float) -> None:
    x = np.zeros(int(SR * 23.2), np.float32)
    seg = Segmenter("window", has_audio=True, window_s=5.0, vad=False)
    out = []
    for t, c in _chunks(x, int(chunk_s * SR)):
        out += seg.feed_audio(t, c)
    out += seg.flush(23.2)
    assert [(s.start, s.end) for s in out] == [(0, 5), (5, 10), (10, 15), (15, 20), (20, 23.2)]
    assert all(s.audio is not None and len(s.audio) == round((s.end - s.start) * SR) for s in out)


def test_segments_close_as_soon_as_their_audio_is_complete() -> None:
    cues = [_Cue(0.5, 2.0, "one"), _Cue(3.0, 4.0, "two"), _Cue(6.0, 9.0, "three")]
    seg = Segmenter("transcript", has_audio=True, cues=cues, vad=False)
    x = np.zeros(SR * 10, np.float32)
    closed_at = {}
    for t, c in _chunks(x, SR // 2):
        for s in seg.feed_audio(t, c):
            closed_at[s.text] = t + len(c) / SR
    for s in seg.flush(10.0):
        closed_at[s.text] = 10.0
    assert closed_at == {"one": 2.0, "two": 4.0, "three": 9.0}
    # only the audio of open segments is kept
    assert seg.buffer.n <= SR * 1


def test_untimed_text_is_spread_at_the_end_over_emitted_segments() -> None:
    seg = Segmenter("window", has_audio=True, window_s=2.0, untimed=["First one. Second one.", "Third."], vad=False)
    out = seg.feed_audio(0.0, np.zeros(SR * 6, np.float32))
    assert out and all(s.text is None for s in out)
    out += seg.flush(6.0)
    assert [s.text for s in out] == ["First one.", "Second one.", "Third."]
    assert all(s.approximate for s in out)


def test_stream_without_audio_closes_windows_on_advance() -> None:
    seg = Segmenter("window", has_audio=False, window_s=2.0, vad=False)
    assert seg.advance(2.5) == []  # the first window could still take a short tail
    assert [(s.start, s.end) for s in seg.advance(3.0)] == [(0.0, 2.0)]
    assert [(s.start, s.end) for s in seg.flush(4.9)] == [(2.0, 4.9)]


def test_segmenter_refuses_impossible_modes() -> None:
    with pytest.raises(ConfigError):
        Segmenter("vad", has_audio=False)
    with pytest.raises(ConfigError):
        Segmenter("transcript", has_audio=True, vad=False)
    with pytest.raises(ConfigError):
        Segmenter("sentences", has_audio=True)


def test_vad_probabilities_do_not_depend_on_chunking() -> None:
    pytest.importorskip("faster_whisper")
    from emofuse.data.synth_media import demo_speech
    from emofuse.media.vad import SpeechDetector

    x, _ = demo_speech()
    x = x[: SR * 12]
    whole = SpeechDetector().feed(x)
    det = SpeechDetector()
    parts = np.concatenate([det.feed(c) for _, c in _chunks(x, 8000 + 37)])
    np.testing.assert_array_equal(whole[:len(parts)], parts)


# --------------------------------------------------------------------------- config and experts


def test_config_names_experts_by_modality() -> None:
    cfg = AnalyzeConfig.from_dict({"experts": {"voice": "voice-ekman"}})
    assert cfg.experts == {"text": "text-goemotions", "audio": "voice-ekman", "face": "face-fer2013",
                           "physio": "physio-wesad"}
    assert AnalyzeConfig.from_dict({"voice_expert": "voice-ekman"}).experts["audio"] == "voice-ekman"
    with pytest.raises(UnknownNameError):
        AnalyzeConfig.from_dict({"experts": {"smell": "x"}})
    with pytest.raises(UnknownNameError):
        AnalyzeConfig.from_dict({"experts": {"audio": "voice-whispr"}}).check_experts()
    with pytest.raises(ConfigError, match="reads text"):
        AnalyzeConfig.from_dict({"experts": {"audio": "text-goemotions"}}).check_experts()


def test_fusion_priors_come_from_the_expert_cards() -> None:
    import json

    from emofuse.experts import EXPERTS
    from emofuse.experts.base import card_prior, weights_dir

    for name in EXPERTS.names():
        card = json.loads((weights_dir(name) / "card.json").read_text(encoding="utf-8"))
        prior = card_prior(card)
        assert 0.05 < prior < 0.9, name
    text = json.loads((weights_dir("text-goemotions") / "card.json").read_text(encoding="utf-8"))
    assert card_prior(text) == pytest.approx(text["metrics"]["shipped_head"]["ekman_f1_macro"] - 1 / 7, abs=1e-4)
    text["fusion"]["skill"][0]["metric"] = "shipped_head.no_such_metric"
    from emofuse.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no_such_metric"):
        card_prior(text)


def test_every_expert_declares_its_needs() -> None:
    from emofuse.experts import EXPERTS
    from emofuse.experts.base import ExpertNeeds

    kinds = {"text": "text", "audio": "waveform", "face": "face_crop", "physio": "physio_window"}
    for name in EXPERTS.names():
        cls = EXPERTS.get(name)
        assert isinstance(cls.needs, ExpertNeeds)
        assert cls.needs.input == kinds[cls.modality]


# --------------------------------------------------------------------------- sessions


def test_session_refuses_bad_input() -> None:
    from emofuse.analysis import AnalysisSession

    s = AnalysisSession({"segmentation": "window", "text": False, "audio": False, "face": False},
                        has_audio=True, vad=False)
    with pytest.raises(DataError, match="NaN"):
        s.feed_audio(0.0, np.full(100, np.nan, np.float32))
    with pytest.raises(DataError, match="uint8"):
        s.feed_frame(0.0, np.zeros((10, 10), np.float32))
    s.close(1.0)
    with pytest.raises(DataError, match="closed"):
        s.feed_audio(1.0, np.zeros(100, np.float32))


def test_session_resamples_other_rates() -> None:
    from emofuse.analysis import AnalysisSession

    s = AnalysisSession({"segmentation": "window", "window_s": 2.0, "text": False, "audio": False, "face": False},
                        has_audio=True, vad=False)
    s.feed_audio(0.0, np.zeros(44100 * 5, np.float32), sample_rate=44100)
    res = s.result()
    assert res.duration == pytest.approx(5.0, abs=1e-3)
    assert [(x.start, x.end) for x in res.segments] == [(0, 2), (2, 4), (4, 5)]


@pytest.mark.slow
def test_demo_fed_chunk_by_chunk_equals_batch_analysis() -> None:
    """A live caller (0.5 s audio chunks, single frames) gets the segments and labels of batch analysis."""
    pytest.importorskip("faster_whisper")
    pytest.importorskip("mediapipe")
    pytest.importorskip("av")
    import emofuse
    from emofuse.analysis import AnalysisSession
    from emofuse.demo import demo_path
    from emofuse.media.stream import AudioChunk, VideoSample, probe, stream_media

    path = demo_path("demo.mp4")
    batch = emofuse.analyze(path)
    info = probe(path)
    live = AnalysisSession(has_audio=True, has_video=True)
    emitted = []
    for item in stream_media(info, sample_rate=SR, chunk_s=0.5, fps=3.0, max_side=640):
        if isinstance(item, AudioChunk):
            emitted += live.feed_audio(item.start, item.samples)
        elif isinstance(item, VideoSample):
            emitted += live.feed_frame(item.t, item.rgb, item.scale)
    assert emitted, "segments must come out while the stream is still being fed"
    res = live.result(duration=batch.duration)

    def rows(r: emofuse.analysis.AnalysisResult) -> list[tuple]:
        return [(s.start, s.end, s.source, s.text, s.label,
                 tuple((m, v.label, v.reason) for m, v in s.modalities.items())) for s in r.segments]

    assert rows(res) == rows(batch)
    for a, b in zip(res.segments, batch.segments, strict=True):
        assert a.weights == b.weights
        if a.probs is not None:
            assert a.probs == pytest.approx(b.probs, abs=1e-3)
    assert len(res.frames) == len(batch.frames)


@pytest.mark.slow
def test_one_whisper_encoder_pass_per_segment_is_shared_by_asr_and_voice(tmp_path, monkeypatch) -> None:
    pytest.importorskip("faster_whisper")
    sf = pytest.importorskip("soundfile")
    import faster_whisper

    import emofuse
    from emofuse.data.synth_media import demo_speech
    from emofuse.experts.whisper_features import WhisperEncoder

    x, _ = demo_speech()
    wav = tmp_path / "speech.wav"
    sf.write(wav, x[: SR * 9], SR)
    calls = {"shared": 0, "asr_own": 0}
    encode, asr_encode = WhisperEncoder.encode, faster_whisper.WhisperModel.encode

    def counting(self, waves):
        calls["shared"] += len(waves)
        return encode(self, waves)

    def counting_asr(self, features):
        calls["asr_own"] += 1
        return asr_encode(self, features)

    monkeypatch.setattr(WhisperEncoder, "encode", counting)
    monkeypatch.setattr(faster_whisper.WhisperModel, "encode", counting_asr)
    res = emofuse.analyze(wav)
    speech = [s for s in res.segments if s.modalities["audio"].ok]
    assert len(speech) >= 2 and all(s.text_source == "asr" and s.text for s in speech)
    assert calls["shared"] == len(speech)  # one pass per segment, read by both voice and ASR
    assert calls["asr_own"] == 0
    assert res.timings["whisper_encoder"] > 0 and res.media["asr"].startswith("Whisper")
    # words stay inside the utterance they were heard in
    for s in speech:
        assert all(s.start - 1e-3 <= w["start"] <= w["end"] <= s.end + 1e-3 for w in s.words)


def test_voice_quality_reports_only_what_the_expert_measured() -> None:
    from emofuse.analysis.config import AnalyzeConfig
    from emofuse.analysis.paths import PathContext
    from emofuse.analysis.paths.voice import VoicePath
    from emofuse.media.segment import Segment

    class _Out:
        expert, ekman = "fake", np.full((1, 7), 1 / 7)

        def __init__(self, info):
            self.info = info

    class _Expert:
        name, prior, pad_s = "fake", 0.3, 0.0

        class needs:  # noqa: N801 - mimics ExpertNeeds
            shared = ()

        def __init__(self, info):
            self.info = info

        def predict(self, items, shared=None):
            return _Out(self.info)

    path = VoicePath.__new__(VoicePath)  # a path around a stand-in expert (no model loading)
    VoicePath.__mro__[1].__init__(path)
    path.ctx = PathContext(config=AnalyzeConfig(), has_audio=True, has_video=False, mode="vad")
    path.share = False
    seg = Segment(start=0.0, end=1.0, source="vad", speech_prob=0.9, audio=np.ones(SR, np.float32) * 0.1)
    path.expert = _Expert({})
    assert "voiced_fraction" not in path.read([seg])[0].quality
    path.expert = _Expert({"voiced_fraction": [0.6]})
    assert path.read([seg])[0].quality["voiced_fraction"] == pytest.approx(0.6)


@pytest.mark.slow
def test_speaker_normalised_voice_runs_over_the_recording(tmp_path) -> None:
    """``voice_speaker_norm``: statistics grow utterance by utterance; below 8 the readings are the plain ones."""
    pytest.importorskip("faster_whisper")
    sf = pytest.importorskip("soundfile")
    import emofuse
    from emofuse.data.synth_media import demo_speech

    x, _ = demo_speech()
    wav = tmp_path / "speech.wav"
    sf.write(wav, x, SR)
    plain = emofuse.analyze(wav, config={"asr": False})
    norm = emofuse.analyze(wav, config={"asr": False, "voice_speaker_norm": True})
    read = [s.modalities["audio"] for s in norm.segments if s.modalities["audio"].ok]
    assert 2 <= len(read) < 8
    assert [r.quality["speaker_utterances"] for r in read] == list(range(1, len(read) + 1))
    assert all(r.quality["speaker_norm_weight"] == 0.0 for r in read)
    ref = [s.modalities["audio"] for s in plain.segments if s.modalities["audio"].ok]
    for a, b in zip(read, ref, strict=True):
        assert a.label == b.label and a.probs == pytest.approx(b.probs, abs=1e-6)
    with pytest.raises(ConfigError, match="ships no speaker-normalised head"):
        emofuse.analyze(wav, config={"voice_speaker_norm": True, "experts": {"audio": "voice-ekman"}})
