"""Unit tests of the analysis building blocks: VAD segmentation, fusion, face tracking, probing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emofuse.analysis.faces import FacePath, aggregate_frames, face_reliability, iou
from emofuse.analysis.fusion import TrainedFusion, fuse, fusion_weights
from emofuse.analysis.result import EKMAN, FaceFrame, ModalityResult
from emofuse.errors import CheckpointError, ConfigError, DataError
from emofuse.media.vad import FRAME_S, SpeechSegmenter, VadConfig


def onehot(k: int, p: float = 1.0) -> list[float]:
    v = [(1 - p) / 6] * 7
    v[k] = p
    return v


# --------------------------------------------------------------------------- VAD segmentation


def frames(*runs: tuple[float, float]) -> np.ndarray:
    """Probability stream from (seconds, probability) runs."""
    return np.concatenate([np.full(int(round(s / FRAME_S)), p, np.float32) for s, p in runs])


def segment(probs: np.ndarray, cfg: VadConfig, step: int = 7) -> list[tuple[float, float]]:
    seg = SpeechSegmenter(cfg)
    out = []
    for i in range(0, len(probs), step):  # fed in pieces, as while streaming
        out += seg.push(probs[i:i + step])
    out += seg.finish()
    return [(u.start, u.end) for u in out]


def test_short_pauses_do_not_split_long_ones_do() -> None:
    cfg = VadConfig(min_silence_s=0.5, pad_s=0.0, min_speech_s=0.2)
    probs = frames((1.0, 0.0), (2.0, 0.9), (0.3, 0.1), (1.0, 0.9), (1.0, 0.0), (1.0, 0.9), (1.0, 0.0))
    got = segment(probs, cfg)
    assert len(got) == 2
    assert got[0][0] == pytest.approx(1.0, abs=0.07) and got[0][1] == pytest.approx(4.3, abs=0.07)
    assert got[1][0] == pytest.approx(5.3, abs=0.07) and got[1][1] == pytest.approx(6.3, abs=0.07)


def test_hysteresis_and_min_speech_and_padding() -> None:
    cfg = VadConfig(threshold=0.5, neg_threshold=0.3, min_silence_s=0.5, pad_s=0.2, min_speech_s=0.3)
    # 0.4 between the thresholds keeps speech going; a 0.1 s blip is dropped
    probs = frames((1.0, 0.0), (0.1, 0.9), (1.0, 0.0), (1.0, 0.9), (1.0, 0.4), (1.0, 0.0))
    got = segment(probs, cfg)
    assert len(got) == 1
    assert got[0][0] == pytest.approx(2.1 - 0.2, abs=0.07) and got[0][1] == pytest.approx(4.1 + 0.2, abs=0.07)


def test_long_speech_is_cut_into_pieces_without_gaps() -> None:
    cfg = VadConfig(max_segment_s=5.0, pad_s=0.1)
    probs = frames((0.5, 0.0), (12.0, 0.9), (1.0, 0.0))
    got = segment(probs, cfg)
    assert len(got) == 3 and all(e - s <= 5.2 for s, e in got)
    assert all(abs(a[1] - b[0]) < 1e-6 for a, b in zip(got, got[1:], strict=False))


def test_vad_config_is_validated() -> None:
    with pytest.raises(ConfigError):
        VadConfig(threshold=0.3, neg_threshold=0.5)
    with pytest.raises(ConfigError):
        VadConfig(max_segment_s=0.1)


def test_silero_detects_speech_not_hum() -> None:
    pytest.importorskip("faster_whisper")
    from emofuse.data.synth_media import demo_speech
    from emofuse.media.vad import SpeechDetector

    wave, sr = demo_speech()
    from emofuse.media.audio import resample

    x = resample(wave[int(4.8 * sr):int(8.4 * sr)], sr, 16000)
    hum = (0.05 * np.sin(2 * np.pi * 50 * np.arange(len(x)) / 16000)).astype(np.float32)
    det = SpeechDetector()
    p_speech = np.concatenate([det.feed(x[i:i + 3000]) for i in range(0, len(x), 3000)] + [det.flush()])
    p_hum = np.concatenate([det.feed(hum), det.flush()])
    assert len(p_speech) == int(np.ceil(len(x) / 512))
    assert p_speech.mean() > 0.6 and p_hum.mean() < 0.1


# --------------------------------------------------------------------------- fusion


def test_fusion_weights_follow_prior_and_reliability() -> None:
    mods = {"text": ModalityResult.from_probs(onehot(3), reliability=1.0),
            "audio": ModalityResult.from_probs(onehot(0), reliability=1.0),
            "face": ModalityResult.missing("no face")}
    priors = {"text": 0.48, "audio": 0.35, "face": 0.46}
    w = fusion_weights(mods, priors)
    assert set(w) == {"text", "audio"} and sum(w.values()) == pytest.approx(1, abs=1e-3)
    assert w["text"] / w["audio"] == pytest.approx(priors["text"] / priors["audio"], rel=1e-3)
    assert fusion_weights(mods) == {"text": 0.5, "audio": 0.5}  # no priors: reliability alone
    mods["text"] = ModalityResult.from_probs(onehot(3), reliability=0.1)
    assert fusion_weights(mods, priors)["text"] < w["text"]


def test_linear_and_log_pools() -> None:
    mods = {"text": ModalityResult.from_probs(onehot(3, 0.7), reliability=1.0),
            "face": ModalityResult.from_probs(onehot(3, 0.6), reliability=1.0)}
    priors = {"text": 0.49, "face": 0.46}
    lin, _ = fuse(mods, priors, method="linear")
    log, _ = fuse(mods, priors, method="log")
    assert int(np.argmax(lin)) == 3 and int(np.argmax(log)) == 3
    assert sum(lin) == pytest.approx(1) and sum(log) == pytest.approx(1)
    assert lin[3] == pytest.approx((0.49 * 0.7 + 0.46 * 0.6) / 0.95, abs=1e-3)
    with pytest.raises(ConfigError):
        fuse(mods, method="max")


def test_no_modality_no_fusion() -> None:
    probs, w = fuse({"text": ModalityResult.missing("x"), "face": ModalityResult.missing("y")})
    assert probs is None and w == {}


def test_modality_result_rejects_bad_distributions() -> None:
    with pytest.raises(DataError):
        ModalityResult.from_probs([0.5] * 7, reliability=1)
    with pytest.raises(DataError):
        ModalityResult.from_probs([float("nan")] + [0.0] * 6, reliability=1)


def _fusion_checkpoint(tmp_path: Path, modalities: tuple[str, ...] = ("text", "audio", "face"),
                       dim: int = 7) -> Path:
    from emofuse import create_model
    from emofuse.data.spec import ModalitySpec, Specifications
    from emofuse.models.checkpoint import save_checkpoint

    spec = Specifications({m: ModalitySpec(dim) for m in modalities}, "classification", 7, label_space="ekman7",
                          classes=EKMAN)
    model = create_model("late_weighted", spec, tiny=True)
    return save_checkpoint(model, tmp_path / "fusion")


def test_trained_fusion_model_plugs_in(tmp_path: Path) -> None:
    fusion = TrainedFusion(_fusion_checkpoint(tmp_path))
    mods = {"text": ModalityResult.from_probs(onehot(3), reliability=1.0),
            "audio": ModalityResult.missing("no audio"),
            "face": ModalityResult.from_probs(onehot(1), reliability=0.5)}
    probs, w = fusion(mods)
    assert probs is not None and len(probs) == 7 and sum(probs) == pytest.approx(1, abs=1e-5)
    assert set(w) == {"text", "face"} and sum(w.values()) == pytest.approx(1, abs=1e-3)
    assert fusion({m: ModalityResult.missing("x") for m in mods}) == (None, {})


def test_trained_fusion_model_must_match_the_experts(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="pooled expert outputs"):
        TrainedFusion(_fusion_checkpoint(tmp_path, dim=16))


# --------------------------------------------------------------------------- faces


def test_face_reliability_and_iou() -> None:
    assert face_reliability(1.0, 200, 500) == 1.0
    assert face_reliability(1.0, 32, 500) == pytest.approx(0.5)
    assert face_reliability(1.0, 200, 6) < face_reliability(1.0, 200, 60)
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0 and iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


class _Expert:
    name = "fake-face"

    def predict(self, crops: np.ndarray) -> object:
        # "happiness" for bright crops, "sadness" for dark ones: checks crops reach the expert
        m = crops.reshape(len(crops), -1).mean(1)
        ek = np.array([onehot(3, 0.9) if v > 100 else onehot(4, 0.9) for v in m], np.float32)
        return type("Out", (), {"ekman": ek})()


def test_face_tracks_and_main_face() -> None:
    """Two faces: a big bright one all along (main) and a small dark one for a while."""
    def detector(rgb: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        t = int(rgb[0, 0, 0])  # frame index stored in the first pixel
        dets = [(100 + t, 50, 200 + t, 150, 0.95)]
        if 3 <= t < 6:
            dets.append((300, 60, 340, 100, 0.8))
        return dets

    path = FacePath(_Expert(), detector=detector, batch=4)
    for k in range(10):
        img = np.zeros((240, 400, 3), np.uint8)
        img[40:170, 90 + k:220 + k] = 200  # bright main face
        img[50:110, 290:350] = 30  # dark second face
        img[0, 0, 0] = k
        assert path.process(k * 0.5, img, scale=0.5) == (2 if 3 <= k < 6 else 1)
    frames, tracks = path.finish()
    assert [t["main"] for t in tracks] == [True, False] and tracks[0]["n_frames"] == 10 and tracks[1]["n_frames"] == 3
    assert tracks[0]["mean_face_px"] == pytest.approx(200, abs=1)  # 100 px boxes at scale 0.5
    assert all(f.track == tracks[0]["id"] and f.n_faces >= 1 for f in frames)
    assert all(int(np.argmax(f.probs)) == 3 for f in frames)
    probs, q = aggregate_frames(frames, 0.0, 2.0)
    assert int(np.argmax(probs)) == 3 and q["n_frames"] == 4 and q["coverage"] == 1.0


def test_aggregate_frames_without_faces() -> None:
    frames = [FaceFrame(t=0.0), FaceFrame(t=0.5, probs=onehot(2), score=0.9, face_px=100, blur=100)]
    assert aggregate_frames(frames, 0.0, 0.4)[0] is None
    probs, q = aggregate_frames(frames, 0.0, 1.0)
    assert q["coverage"] == 0.5 and q["reliability"] == pytest.approx(0.45) and int(np.argmax(probs)) == 2


# --------------------------------------------------------------------------- probing and streaming


def test_probe_and_stream_audio_chunks(tmp_path: Path) -> None:
    pytest.importorskip("av")
    from emofuse.data.synth_media import tone_speech, write_video
    from emofuse.media.stream import AudioChunk, VideoSample, probe, stream_media

    x = tone_speech(3.0, 22050, seed=2)
    p = write_video(tmp_path / "v.mp4", duration_s=3.0, width=160, height=120, fps=12, audio=(x, 22050))
    info = probe(p)
    assert info.kind == "video" and info.has_audio and info.video["width"] == 160
    assert info.duration == pytest.approx(3.0, abs=0.1)
    items = list(stream_media(info, chunk_s=0.5, fps=2.0, max_side=80))
    chunks = [i for i in items if isinstance(i, AudioChunk)]
    frames = [i for i in items if isinstance(i, VideoSample)]
    n = sum(len(c.samples) for c in chunks)
    assert n == pytest.approx(3.0 * 16000, rel=0.03)
    assert all(abs(b.start - (a.start + len(a.samples) / 16000)) < 1e-6 for a, b in zip(chunks, chunks[1:],
                                                                                         strict=False))
    assert [round(f.t, 2) for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert frames[0].rgb.shape == (60, 80, 3) and frames[0].scale == pytest.approx(0.5)


def _labelled_results(n: int, seed: int) -> tuple[list, list]:
    """Results whose text channel is informative and whose face channel is noise or missing."""
    from emofuse.analysis.result import AnalysisResult, SegmentResult

    rng = np.random.default_rng(seed)
    res = AnalysisResult(source=f"clip{seed}.mp4", kind="video", duration=float(n))
    labels = []
    for i in range(n):
        k = int(rng.integers(7))
        text = rng.dirichlet(np.ones(7) * 0.5)
        text = 0.5 * text + 0.5 * np.eye(7)[k]
        mods = {"text": ModalityResult.from_probs(text / text.sum(), reliability=1.0),
                "audio": ModalityResult.missing("no audio track"),
                "face": (ModalityResult.from_probs(rng.dirichlet(np.ones(7)), reliability=0.8) if i % 3
                         else ModalityResult.missing("no face"))}
        res.segments.append(SegmentResult(index=i, start=float(i), end=i + 1.0, modalities=mods))
        labels.append(EKMAN[k])
    return [res], [labels]


def test_fusion_dataset_trains_a_zoo_model_that_the_pipeline_uses(tmp_path: Path) -> None:
    from emofuse import create_model
    from emofuse.analysis.fusion import fusion_dataset
    from emofuse.train import TrainConfig, Trainer

    train = fusion_dataset(*_labelled_results(300, 0))
    valid = fusion_dataset(*_labelled_results(100, 1))
    assert len(train) == 300 and train.features["text"].shape == (300, 7)
    assert not train.present["audio"].any() and train.present["face"].mean() == pytest.approx(2 / 3, abs=0.01)
    model = create_model("late_weighted", train.spec, tiny=True)
    trainer = Trainer(TrainConfig(epochs=60, lr=1e-2, progress=False, seed=0))
    trainer.fit(model, train, valid, checkpoint_dir=tmp_path / "f")
    fusion = TrainedFusion(tmp_path / "f")
    results, labels = _labelled_results(100, 2)
    hits = [EKMAN[int(np.argmax(fusion(s.modalities)[0]))] == lab
            for s, lab in zip(results[0].segments, labels[0], strict=True)]
    assert np.mean(hits) > 0.6  # the text channel carries the label; chance is 1/7
    from emofuse.analysis.pipeline import analyze_text

    out = analyze_text("I am so happy today!", config={"fusion_model": str(tmp_path / "f")})
    assert out.segments[0].probs is not None and set(out.segments[0].weights) == {"text"}


def test_fusion_dataset_rejects_bad_labels() -> None:
    from emofuse.analysis.fusion import fusion_dataset

    results, labels = _labelled_results(5, 0)
    with pytest.raises(DataError, match="unknown label"):
        fusion_dataset(results, [["joy"] * 5])
    with pytest.raises(DataError, match="5 segments but 4 labels"):
        fusion_dataset(results, [labels[0][:4]])
    with pytest.raises(DataError, match="no labelled segment"):
        fusion_dataset(results, [[None] * 5])
