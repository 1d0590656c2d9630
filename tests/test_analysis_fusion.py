"""The evidence fusion rule, fusing saved results again, trained fusion over probs + quality, segment padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emofuse.analysis.fusion import RuleFusion, certainty, fuse, make_fuser, refuse
from emofuse.analysis.result import EKMAN, AnalysisResult, ModalityResult, SegmentResult
from emofuse.errors import CheckpointError

NEUTRAL, ANGER, HAPPY = EKMAN.index("neutral"), EKMAN.index("anger"), EKMAN.index("happiness")
ABSENT = {"text": "neutral"}


def reading(k: int, p: float, reliability: float = 1.0) -> ModalityResult:
    v = np.full(7, (1 - p) / 6)
    v[k] = p
    return ModalityResult.from_probs(v, reliability=reliability)


def top(probs: list[float] | None) -> str:
    assert probs is not None
    return EKMAN[int(np.argmax(probs))]


def test_certainty_is_one_for_a_point_mass_and_zero_for_uniform() -> None:
    assert certainty(np.eye(7)[2]) == pytest.approx(1.0)
    assert certainty(np.full(7, 1 / 7)) == pytest.approx(0.0, abs=1e-9)
    assert 0 < certainty([0.5, 0.5, 0, 0, 0, 0, 0]) < 1
    # leaving a class out renormalises the rest over K - 1 classes
    assert certainty([0.1, 0, 0, 0, 0, 0, 0.9], skip=6) == pytest.approx(1.0)


def test_neutral_words_do_not_outvote_a_confident_voice() -> None:
    mods = {"text": reading(NEUTRAL, 0.9), "audio": reading(ANGER, 0.7)}
    priors = {"text": 0.48, "audio": 0.35}
    lin, _ = fuse(mods, priors, "linear")
    ev, w = fuse(mods, priors, "evidence", absent=ABSENT)
    assert top(lin) == "neutral"  # the rule before: words with a larger prior win
    assert top(ev) == "anger"
    assert w["audio"] > 0.9 and sum(w.values()) == pytest.approx(1.0, abs=1e-3)


def test_words_alone_still_read_neutral_and_emotional_words_count() -> None:
    p, w = fuse({"text": reading(NEUTRAL, 0.9)}, None, "evidence", absent=ABSENT)
    assert top(p) == "neutral" and w == {"text": 1.0}
    # words that carry an emotion are evidence like any other signal
    p, w = fuse({"text": reading(HAPPY, 0.8), "audio": reading(HAPPY, 0.3)}, None, "evidence", absent=ABSENT)
    assert top(p) == "happiness" and w["text"] > 0.5


def test_a_flat_reading_of_neutral_words_is_absence_as_a_whole() -> None:
    """Words read as neutral (top class) but flat: their non-neutral rest must not outvote a weak voice."""
    words = ModalityResult.from_probs([0.05, 0.05, 0.05, 0.26, 0.04, 0.27, 0.28], reliability=0.93)
    voice = ModalityResult.from_probs([0.1, 0.1, 0.1, 0.1, 0.34, 0.08, 0.18], reliability=0.76)
    mods, priors = {"text": words, "audio": voice}, {"text": 0.48, "audio": 0.36}
    by_mass, w_mass = fuse(mods, priors, "evidence", absent=ABSENT, absent_verdict=False)
    verdict, w = fuse(mods, priors, "evidence", absent=ABSENT)
    assert top(by_mass) != "sadness" and w_mass["text"] > 0.3  # the rest of the words' reading won
    assert top(verdict) == "sadness" and w["text"] == 0.0 and w["audio"] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(verdict, voice.vector(), atol=1e-6)  # the voice alone
    # alone, the words still read neutral; with an emotional top class they stay evidence
    assert top(fuse({"text": words}, priors, "evidence", absent=ABSENT)[0]) == "neutral"
    happy_words = ModalityResult.from_probs([0.05, 0.05, 0.05, 0.3, 0.04, 0.26, 0.25], reliability=0.93)
    assert fuse({"text": happy_words, "audio": voice}, priors, "evidence", absent=ABSENT)[1]["text"] > 0.3
    assert RuleFusion("evidence", priors, ABSENT, absent_verdict=False).name.endswith("absence by mass only)")


def test_an_uncertain_reading_counts_less_than_a_certain_one() -> None:
    vague = ModalityResult.from_probs([0.16, 0.14, 0.14, 0.14, 0.14, 0.14, 0.14], reliability=1.0)
    mods = {"face": vague, "audio": reading(HAPPY, 0.6)}
    _, w1 = fuse(mods, None, "evidence", certainty_power=1.0)
    _, w0 = fuse(mods, None, "evidence", certainty_power=0.0)
    assert w0["face"] == pytest.approx(0.5, abs=1e-3)  # γ = 0: certainty ignored, equal weights
    assert w1["face"] < 0.05 < w1["audio"]


def test_the_absent_share_goes_to_the_other_signals_in_proportion() -> None:
    mods = {"text": ModalityResult.from_probs([0, 0, 0, 0, 0, 0, 1], reliability=1.0),
            "audio": reading(ANGER, 0.9), "face": reading(HAPPY, 0.9)}
    _, w = fuse(mods, {"text": 1.0, "audio": 1.0, "face": 1.0}, "evidence", absent=ABSENT)
    assert w["text"] == 0.0 and w["audio"] == pytest.approx(w["face"], abs=1e-3) == pytest.approx(0.5, abs=1e-3)


def test_the_text_card_declares_neutral_as_absence() -> None:
    from emofuse.analysis.fusion import card_fusion_facts
    from emofuse.experts.base import absent_class

    prior, absent = card_fusion_facts("text-goemotions")
    assert absent == "neutral" and prior > 0
    assert card_fusion_facts("face-fer2013")[1] is None
    with pytest.raises(CheckpointError, match="not an ekman7 class"):
        absent_class({"name": "x", "fusion": {"absent_class": "boredom"}})


def _result() -> AnalysisResult:
    res = AnalysisResult(source="clip.mp4", kind="video", duration=4.0)
    for i, (t, a) in enumerate([(NEUTRAL, ANGER), (HAPPY, HAPPY), (NEUTRAL, NEUTRAL)]):
        mods = {"text": reading(t, 0.8), "audio": reading(a, 0.6), "face": ModalityResult.missing("no face")}
        res.segments.append(SegmentResult(index=i, start=float(i), end=i + 1.0, modalities=mods))
    return res


def test_refuse_changes_only_the_fused_part_and_drop_removes_a_modality() -> None:
    res = _result()
    lin = refuse(res, RuleFusion("linear", {"text": 0.48, "audio": 0.35}))
    ev = refuse(res, RuleFusion("evidence", {"text": 0.48, "audio": 0.35}, ABSENT))
    assert [s.label for s in lin.segments] == ["neutral", "happiness", "neutral"]
    assert [s.label for s in ev.segments] == ["anger", "happiness", "neutral"]
    assert res.segments[0].label is None  # the input is not modified
    assert ev.segments[0].modalities["audio"].probs == res.segments[0].modalities["audio"].probs
    no_text = refuse(res, RuleFusion("linear"), drop=("text",))
    assert all(not s.modalities["text"].ok and set(s.weights) == {"audio"} for s in no_text.segments)


def test_the_session_fuses_like_refuse_with_the_config_fuser() -> None:
    from emofuse.analysis.config import AnalyzeConfig
    from emofuse.analysis.pipeline import analyze_text

    out = analyze_text("I am so angry with you, this is outrageous!")
    again = refuse(out, make_fuser(AnalyzeConfig.from_dict(out.config)))
    assert [s.probs for s in again.segments] == [s.probs for s in out.segments]
    assert out.config["fusion"] == "evidence"  # the default (recipes/analysis_validation: the rule scored higher)


def test_score_analyses_compares_fusions_without_analysing_again(tmp_path: Path) -> None:
    from emofuse.analysis.scoring import LabelSpan, score_analyses

    res = _result()
    labels = [LabelSpan("clip.mp4", lab, float(i), i + 1.0) for i, lab in enumerate(["anger", "happiness", "neutral"])]
    priors = {"text": 0.48, "audio": 0.35}
    lin = score_analyses([res], labels, fuser=RuleFusion("linear", priors))
    ev = score_analyses([res], labels, fuser=RuleFusion("evidence", priors, ABSENT))
    assert lin["overall"]["fused"]["accuracy"] == pytest.approx(2 / 3)
    assert ev["overall"]["fused"]["accuracy"] == pytest.approx(1.0)
    dropped = score_analyses([res], labels, fuser=RuleFusion("linear", priors), drop=("text",))
    assert "text" not in dropped["modalities"] or dropped["overall"]["text"]["n"] == 0


def test_trained_fusion_reads_probs_and_quality(tmp_path: Path) -> None:
    from emofuse import create_model
    from emofuse.analysis.fusion_trained import TrainedFusion, fusion_dataset, modality_features
    from emofuse.train import TrainConfig, Trainer

    rng = np.random.default_rng(0)

    def results(n: int) -> tuple[list, list]:
        # the voice is right when it is reliable and noise when it is not: only quality tells them apart
        res = AnalysisResult(source="c.wav", kind="audio", duration=float(n))
        labels = []
        for i in range(n):
            k, good = int(rng.integers(7)), bool(rng.random() < 0.5)
            v = np.eye(7)[k] * 0.6 + 0.4 / 7 if good else rng.dirichlet(np.ones(7) * 0.3)
            mods = {"audio": ModalityResult.from_probs(v / v.sum(), reliability=0.95 if good else 0.05)}
            res.segments.append(SegmentResult(index=i, start=float(i), end=i + 1.0, modalities=mods))
            labels.append(EKMAN[k] if good else EKMAN[int(np.argmax(v))])
        return [res], [labels]

    train = fusion_dataset(*results(300), inputs="probs+quality")
    valid = fusion_dataset(*results(100), inputs="probs+quality")
    assert train.features["audio"].shape == (300, 9)
    assert modality_features(ModalityResult.missing("x")) == [0.0] * 9
    model = create_model("late_weighted", train.spec, tiny=True)
    Trainer(TrainConfig(epochs=40, lr=1e-2, progress=False, seed=0)).fit(model, train, valid,
                                                                           checkpoint_dir=tmp_path / "f")
    fusion = TrainedFusion(tmp_path / "f")
    assert fusion.inputs == "probs+quality"
    probs, weights = fusion({"audio": reading(ANGER, 0.7, reliability=0.9)})
    assert top(probs) == "anger" and set(weights) == {"audio"}


def test_pad_silence() -> None:
    from emofuse.media.audio import pad_silence

    x = np.ones(100, np.float32)
    y = pad_silence(x, 0.5)
    assert len(y) == 100 + 2 * 8000 and y[:8000].max() == 0 and y[8000:8100].min() == 1
    assert pad_silence(x, 0.0) is not None and len(pad_silence(x, 0.0)) == 100


def test_the_voice_expert_reads_the_segment_with_its_card_padding() -> None:
    from emofuse.analysis.paths.voice import VoicePath
    from emofuse.experts import load_expert
    from emofuse.media.segment import Segment

    assert load_expert("voice-whisper").pad_s == 0.75  # from its card (preprocessing.segment_pad_s)
    seen: list[int] = []

    class _Expert:
        name, prior, pad_s = "fake", 0.3, 0.5

        class needs:  # noqa: N801 - mimics ExpertNeeds
            shared = ()

        def predict(self, items, shared=None):
            seen.append(len(items[0][0]))
            return type("Out", (), {"expert": "fake", "ekman": np.full((1, 7), 1 / 7), "info": {}})()

    path = VoicePath.__new__(VoicePath)
    VoicePath.__mro__[1].__init__(path)
    path.expert, path.share = _Expert(), False
    from emofuse.analysis.config import AnalyzeConfig

    path.ctx = type("Ctx", (), {"config": AnalyzeConfig()})()  # explain off: nothing beyond the reading
    seg = Segment(start=1.0, end=2.0, source="vad", audio=np.ones(16000, np.float32), speech_prob=0.9)
    res = path.read([seg])[0]
    assert res.ok and seen == [16000 + 2 * 8000]
    assert res.quality["duration_s"] == pytest.approx(1.0)  # quality describes the speech, not the padding


def test_batch_finds_transcripts_by_stem_and_resumes_on_their_content(tmp_path: Path) -> None:
    from emofuse.analysis.batch import _content, find_transcript

    media = tmp_path / "clip.wav"
    media.write_bytes(b"RIFF")
    tdir = tmp_path / "tx"
    tdir.mkdir()
    assert find_transcript(tdir, media) is None
    (tdir / "clip.txt").write_text("hello there", encoding="utf-8")
    (tdir / "clip.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n", encoding="utf-8")
    assert find_transcript(tdir, media) == tdir / "clip.srt"  # .srt before .txt
    key = _content(media, tdir / "clip.srt")
    (tdir / "clip.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nbye now\n", encoding="utf-8")
    assert _content(media, tdir / "clip.srt") != key  # an edited transcript is analysed again


def test_a_transcript_cue_hands_the_voice_expert_its_voice_activity_only() -> None:
    from emofuse.data.synth_media import demo_speech
    from emofuse.media.segment import Segmenter

    speech, sr = demo_speech()
    speech = speech[: int(4.3 * sr)] if sr == 16000 else None
    assert speech is not None
    silence = np.zeros(2 * 16000, np.float32)
    x = np.concatenate([silence, speech, silence])  # 2 s of silence around the first sentence
    cue = type("Cue", (), {"start": 0.0, "end": len(x) / 16000, "text": "Good morning"})()
    seg = Segmenter("transcript", has_audio=True, cues=[cue])
    out = [s for t in range(0, len(x), 8000) for s in seg.feed_audio(t / 16000, x[t:t + 8000])]
    out += seg.flush(len(x) / 16000)
    assert len(out) == 1 and out[0].speech is not None
    t0, wave = out[0].speech_audio()
    assert 1.5 < t0 < 2.8 and len(wave) < len(x) - 2 * 16000  # the silence around the words is gone
    assert np.abs(wave).max() == pytest.approx(np.abs(speech).max(), rel=1e-3)  # but none of the speech


def test_evaluate_analysis_cli_fuses_saved_results_again(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from emofuse.cli import app

    res = _result()
    res.config = {"fusion": "linear"}
    res.to_json(tmp_path / "analysis.json")
    (tmp_path / "labels.csv").write_text("file,start,end,label\nclip.mp4,0,1,anger\nclip.mp4,1,2,happiness\n"
                                         "clip.mp4,2,3,neutral\n", encoding="utf-8")
    runner = CliRunner()

    def fused(*extra: str) -> dict:
        out = runner.invoke(app, ["evaluate-analysis", str(tmp_path / "analysis.json"), "--labels",
                                  str(tmp_path / "labels.csv"), "--json", *extra])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)

    lin = fused("--fusion", "linear", "--set", "priors.text=0.48", "--set", "priors.audio=0.35")
    ev = fused("--fusion", "evidence", "--set", "priors.text=0.48", "--set", "priors.audio=0.35")
    assert lin["overall"]["fused"]["accuracy"] < ev["overall"]["fused"]["accuracy"] == 1.0
    no_text = fused("--drop", "text")
    assert "text" not in no_text["modalities"] and "face" not in no_text["modalities"]  # never present: no row
    assert no_text["overall"]["fused"]["accuracy"] == no_text["overall"]["audio"]["accuracy"]


def test_speech_recognition_never_returns_an_utterance_twice() -> None:
    import emofuse
    from emofuse.demo import demo_path
    from emofuse.media.asr import _loop_free, _repeats

    assert _loop_free(("kids are talking " * 4 + "").split()) == 3  # four copies: one kept
    assert _loop_free("we won we won the cup".split()) == 6
    assert _repeats("good morning to you good morning to you".split())
    assert _repeats("good morning to you good morning to you".split()) == 4
    assert not _repeats("no no no".split()) and not _repeats("we won we won".split())
    # the demo's first sentence, padded as the voice expert wants, once made Whisper loop on
    # the shortened shared encoder window ("Good morning, ... week. Good morning, ... week.")
    res = emofuse.analyze(demo_path("demo.mp4"), config={"face": False})
    for seg in res.segments:
        assert not _repeats([w["word"].lower() for w in seg.words]), seg.text
    assert res.segments[0].text.count("Good morning") == 1


def test_the_same_utterance_reads_alike_wherever_it_sits_and_however_it_is_cut(tmp_path: Path) -> None:
    """Voice path = voice expert: position in the file, VAD or transcript cut, container and codec."""
    import emofuse
    from emofuse.data.synth_media import demo_speech, write_audio

    speech, _ = demo_speech()
    utt = speech[int(15.6 * 16000):int(20.9 * 16000)]  # "Stop it right now. I am furious. ..."
    quiet = np.zeros(16000, np.float32)
    early = np.concatenate([quiet, utt, quiet])
    late = np.concatenate([np.zeros(9 * 16000, np.float32), utt, quiet])
    cfg = {"text": False, "face": False, "asr": False}

    def voice(path: Path, transcript: Path | None = None) -> np.ndarray:
        res = emofuse.analyze(path, transcript=transcript, config=cfg)
        segs = [s for s in res.segments if s.modalities["audio"].ok]
        assert len(segs) == 1, [(s.start, s.end) for s in res.segments]
        return np.asarray(segs[0].modalities["audio"].vector())

    write_audio(tmp_path / "early.wav", early, 16000)
    write_audio(tmp_path / "late.wav", late, 16000)
    write_audio(tmp_path / "early.ogg", early, 16000)  # Opus
    (tmp_path / "cue.srt").write_text("1\n00:00:00,000 --> 00:00:07,300\nStop it right now.\n", encoding="utf-8")
    ref = voice(tmp_path / "early.wav")
    for other in (voice(tmp_path / "late.wav"), voice(tmp_path / "early.ogg"),
                  voice(tmp_path / "early.wav", tmp_path / "cue.srt")):
        assert np.abs(other - ref).max() < 0.1
        assert int(np.argmax(other)) == int(np.argmax(ref))


def test_the_shipped_fusion_model_loads_and_passes_one_signal_through(tmp_path: Path) -> None:
    from emofuse.analysis.config import AnalyzeConfig
    from emofuse.analysis.fusion import SHIPPED_FUSION
    from emofuse.analysis.fusion_trained import TrainedFusion
    from emofuse.cards import read_card
    from emofuse.errors import MissingFileError

    assert isinstance(make_fuser(AnalyzeConfig()), RuleFusion)  # the default is the evidence rule
    fuser = make_fuser(AnalyzeConfig(fusion="trained"))
    assert isinstance(fuser, TrainedFusion) and fuser.inputs == "probs+quality"
    card = read_card(SHIPPED_FUSION, kind="fusion")
    assert card["metrics"]["validation_media"] and card["limitations"] and card["licenses"]
    rule = make_fuser(AnalyzeConfig(fusion="evidence"))
    one = {"audio": reading(ANGER, 0.6), "face": ModalityResult.missing("no face")}
    assert fuser(one) == rule(one)  # a single reading is passed through, not remapped
    two = {"audio": reading(ANGER, 0.9), "face": reading(ANGER, 0.8), "text": reading(NEUTRAL, 0.9)}
    probs, weights = fuser(two)
    assert top(probs) == "anger" and sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert weights["audio"] + weights["face"] > weights["text"]  # influence: the agreeing signals carry it
    with pytest.raises(MissingFileError, match="model.safetensors"):
        make_fuser(AnalyzeConfig(fusion_model=str(tmp_path / "nowhere")))
