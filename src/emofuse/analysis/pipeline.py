"""``emofuse.analyze``: a video, an audio file or a text in; timed, fused emotions out.

One streaming pass over the file (:func:`~emofuse.media.stream.stream_media`) feeds three
paths at once, so memory stays flat whatever the media length:

* **audio** → Silero VAD speech probabilities (always, they are the voice path's quality
  signal) → utterances (:class:`~emofuse.media.vad.SpeechSegmenter`) unless a transcript or
  fixed windows define the segments → the ``voice-whisper`` expert per segment, and Whisper
  tiny.en (English only) for segments without known words, packed into shared 30 s windows;
* **text** (transcript cues or ASR words) → the ``text-goemotions`` expert per segment;
* **video** → frames sampled at ``fps`` → MediaPipe face detection, tracking, the
  ``face-fer2013`` expert per face (:class:`~emofuse.analysis.faces.FacePath`) → per-segment
  reliability-weighted aggregation.

Only the audio of segments not yet analysed is buffered (at most one segment plus one ASR
window); frames are dropped as soon as their faces are read.

Segmentation (``segmentation``): ``"transcript"`` cues when a transcript is given (timed
cues; untimed lines are spread over the detected speech), else ``"vad"`` utterances, else
``"window"`` (fixed ``window_s`` windows). ``"auto"`` picks in that order and, for videos,
also covers stretches without speech with windows so the face timeline has no holes.

Whatever cannot be read is reported, not fatal: no audio track, no speech, no face, a broken
stream (analysis stops where decoding stopped), a transcript that cannot be decoded (ignored
with a warning; the pipeline falls back to speech recognition), cues past the end of the
media (cut/dropped with a warning). Each segment says which modality is missing and why.

Example:
    >>> cfg = AnalyzeConfig(fps=2.0, asr=False)
    >>> cfg.segmentation, cfg.fusion
    ('auto', 'linear')
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import emofuse
from emofuse.analysis.faces import FacePath, aggregate_frames
from emofuse.analysis.fusion import FUSION_METHODS, PRIOR_WEIGHTS, TrainedFusion, fuse
from emofuse.analysis.result import EKMAN, MODALITY_NAMES, AnalysisResult, ModalityResult, SegmentResult
from emofuse.config import from_dict
from emofuse.errors import ConfigError, DataError, EmofuseError, MissingFileError
from emofuse.media.vad import FRAME_S, VadConfig

__all__ = ["SEGMENTATIONS", "TEXT_SUFFIXES", "AnalyzeConfig", "analyze", "analyze_text"]

SEGMENTATIONS = ("auto", "transcript", "vad", "window")
#: Inputs with these suffixes are read as text to analyse (not as media).
TEXT_SUFFIXES = (".txt", ".text", ".md")
SAMPLE_RATE = 16000
#: Longest audio read by the voice expert per segment (the start of longer segments), seconds.
MAX_VOICE_S = 30.0
#: Segments whose mean speech probability is below this get no voice reading.
MIN_SPEECH_PROB = 0.1
#: Largest text input, in characters.
MAX_TEXT_CHARS = 2_000_000


@dataclass
class AnalyzeConfig:
    """Settings of :func:`analyze` (all optional; ``emofuse analyze --set key=value``).

    Attributes:
        segmentation: ``"auto"``, ``"transcript"``, ``"vad"`` or ``"window"`` (module docstring).
        window_s: Length of fixed windows, seconds.
        fill_gaps: In ``auto`` mode on video, cover speech-free stretches longer than
            ``min_gap_s`` with windows (face only).
        min_gap_s: Shortest speech-free stretch filled with windows, seconds.
        vad: Voice activity thresholds (:class:`~emofuse.media.vad.VadConfig` fields).
        asr: Transcribe speech with Whisper tiny.en (English only) when no transcript is given.
        asr_beam_size: Whisper beam size (1 = greedy, fastest).
        text: Run the text path.
        audio: Run the voice path (VAD still runs when segments come from speech).
        face: Run the face path.
        fps: Video frames sampled per second for the face path.
        max_side: Long side (pixels) sampled frames are scaled to before face detection.
        max_faces: Faces read per frame.
        min_face_score: Detections below this score are ignored.
        fusion: ``"linear"`` or ``"log"`` pooling (:mod:`emofuse.analysis.fusion`).
        fusion_model: A trained zoo checkpoint used instead of the rule (optional).
        priors: Per-modality prior weights (default: the experts' validation skill).
        text_expert: Registry name of the text expert; ``voice_expert``, ``face_expert`` likewise.
        keep_frames: Keep the per-frame face timeline in the result.
        threads: Decoder/ASR threads (0 = automatic).
        max_bytes: Largest input file accepted, bytes.
        max_pixels: Video frames larger than this (width × height) are not decoded: the face
            path is reported missing and the audio is still analysed.
    """

    segmentation: str = "auto"
    window_s: float = 5.0
    fill_gaps: bool = True
    min_gap_s: float = 2.0
    vad: VadConfig = field(default_factory=VadConfig)
    asr: bool = True
    asr_beam_size: int = 1
    text: bool = True
    audio: bool = True
    face: bool = True
    fps: float = 3.0
    max_side: int = 640
    max_faces: int = 3
    min_face_score: float = 0.5
    fusion: str = "linear"
    fusion_model: str | None = None
    priors: dict[str, float] = field(default_factory=lambda: dict(PRIOR_WEIGHTS))
    text_expert: str = "text-goemotions"
    voice_expert: str = "voice-whisper"
    face_expert: str = "face-fer2013"
    keep_frames: bool = True
    threads: int = 0
    max_bytes: int = 20 * 2**30
    max_pixels: int = 8192 * 4608

    def __post_init__(self) -> None:
        if self.segmentation not in SEGMENTATIONS:
            from emofuse.errors import UnknownNameError

            raise UnknownNameError("segmentation", self.segmentation, SEGMENTATIONS)
        if self.fusion not in FUSION_METHODS:
            from emofuse.errors import UnknownNameError

            raise UnknownNameError("fusion method", self.fusion, FUSION_METHODS)
        if self.window_s <= 0 or self.fps < 0 or self.max_side < 32 or self.max_faces < 1:
            raise ConfigError("analyze: need window_s > 0, fps >= 0, max_side >= 32, max_faces >= 1")
        if self.window_s > MAX_VOICE_S or self.vad.max_segment_s > MAX_VOICE_S:
            raise ConfigError(f"analyze: window_s and vad.max_segment_s must be at most {MAX_VOICE_S:g} s "
                              "(segments are read by the voice expert and Whisper in one piece)")
        unknown = [m for m in self.priors if m not in MODALITY_NAMES]
        if unknown:
            raise ConfigError(f"analyze: priors for unknown modalities {unknown}; known: {list(MODALITY_NAMES)}")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AnalyzeConfig:
        """Build from a (nested) dict, rejecting unknown keys."""
        return from_dict(cls, d or {}, where="analyze")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (goes into the result)."""
        return asdict(self)


# --------------------------------------------------------------------------- helpers


class _AudioBuffer:
    """Audio from ``start`` on, trimmed as segments are done (bounded memory)."""

    def __init__(self) -> None:
        self.start = 0.0
        self.parts: list[np.ndarray] = []
        self.n = 0

    @property
    def end(self) -> float:
        return self.start + self.n / SAMPLE_RATE

    def append(self, t: float, x: np.ndarray) -> None:
        if not self.parts and self.n == 0:
            self.start = t
        elif t > self.end + 1.0 / SAMPLE_RATE:  # a gap in the audio: fill with silence
            self.parts.append(np.zeros(int(round((t - self.end) * SAMPLE_RATE)), np.float32))
            self.n += len(self.parts[-1])
        self.parts.append(x)
        self.n += len(x)

    def get(self, s: float, e: float) -> np.ndarray:
        if len(self.parts) > 1:
            self.parts = [np.concatenate(self.parts)]
        buf = self.parts[0] if self.parts else np.zeros(0, np.float32)
        i0 = max(0, int(round((s - self.start) * SAMPLE_RATE)))
        i1 = max(i0, min(len(buf), int(round((e - self.start) * SAMPLE_RATE))))
        return buf[i0:i1].copy()

    def trim(self, keep_from: float) -> None:
        drop = int((keep_from - self.start) * SAMPLE_RATE)
        if drop <= 0 or not self.parts:
            return
        buf = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        drop = min(drop, len(buf))
        self.parts = [buf[drop:]]
        self.n = len(self.parts[0])
        self.start += drop / SAMPLE_RATE


_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def _sentences(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        out.extend(s.strip() for s in _SENTENCE.split(line) if s.strip())
    return out


def _text_reliability(text: str, asr_conf: float | None) -> float:
    n = len(text.split())
    r = min(1.0, n / 3.0)
    return r * (asr_conf if asr_conf is not None else 1.0)


class _Experts:
    """Lazily loaded experts (only the paths that run load theirs)."""

    def __init__(self, cfg: AnalyzeConfig) -> None:
        self.cfg = cfg  # only the expert names and threads are read
        self._cache: dict[str, Any] = {}

    def get(self, which: str) -> Any:
        if which not in self._cache:
            from emofuse.experts import load_expert

            name = {"text": self.cfg.text_expert, "audio": self.cfg.voice_expert, "face": self.cfg.face_expert}[which]
            import inspect
            import os

            from emofuse.experts import EXPERTS

            kwargs: dict[str, Any] = {}
            # experts with their own compute threads (e.g. a Whisper encoder) get the pipeline's
            if "threads" in inspect.signature(EXPERTS.get(name).from_dir).parameters:
                kwargs["threads"] = self.cfg.threads or min(4, os.cpu_count() or 1)
            self._cache[which] = load_expert(name, **kwargs)
        return self._cache[which]


_EXPERTS_CACHE: dict[tuple[str, str, str, int], _Experts] = {}


def _experts_for(cfg: AnalyzeConfig) -> _Experts:
    key = (cfg.text_expert, cfg.voice_expert, cfg.face_expert, cfg.threads)
    if key not in _EXPERTS_CACHE:
        _EXPERTS_CACHE[key] = _Experts(cfg)
    return _EXPERTS_CACHE[key]


class _Timer:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def add(self, k: str, t0: float) -> None:
        self.t[k] = self.t.get(k, 0.0) + time.perf_counter() - t0


def _text_results(exp: Any, texts: list[str], confs: list[float | None]) -> list[ModalityResult]:
    """Text expert over many segments (empty texts → missing)."""
    out: list[ModalityResult] = [ModalityResult.missing("no words")] * len(texts)
    idx = [i for i, t in enumerate(texts) if t.strip()]
    if not idx:
        return out
    res = exp.predict([texts[i] for i in idx])
    for j, i in enumerate(idx):
        q = {"n_words": float(len(texts[i].split()))}
        if confs[i] is not None:
            q["asr_confidence"] = float(confs[i])
        out[i] = ModalityResult.from_probs(res.ekman[j], reliability=_text_reliability(texts[i], confs[i]),
                                           expert=exp.name, quality=q)
    return out


def analyze_text(text: str, *, config: AnalyzeConfig | dict[str, Any] | None = None,
                 source: str = "<text>") -> AnalysisResult:
    """Analyse a text: one segment per sentence (time axis = sentence index).

    Raises:
        DataError: Empty text or text over :data:`MAX_TEXT_CHARS` characters.
    """
    cfg = config if isinstance(config, AnalyzeConfig) else AnalyzeConfig.from_dict(config)
    if not isinstance(text, str):
        raise DataError(f"analyze_text: expected a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise DataError(f"{source}: text of {len(text)} characters is over the {MAX_TEXT_CHARS}-character limit")
    sents = _sentences(text)
    if not sents:
        raise DataError(f"{source}: the text is empty")
    t0 = time.perf_counter()
    res = AnalysisResult(source=source, kind="text", duration=0.0, config=cfg.to_dict(),
                         version=emofuse.__version__,
                         modalities={"audio": "text input", "face": "text input"})
    mods = _text_results(_experts_for(cfg).get("text"), sents, [None] * len(sents))
    fusion = TrainedFusion(cfg.fusion_model) if cfg.fusion_model else None
    for i, (s, m) in enumerate(zip(sents, mods, strict=True)):
        seg = SegmentResult(index=i, start=float(i), end=float(i), text=s, text_source="input", source="text",
                            modalities={"text": m, "audio": ModalityResult.missing("text input"),
                                        "face": ModalityResult.missing("text input")})
        _fuse_segment(seg, cfg, fusion)
        res.segments.append(seg)
    res.timings = {"text": round(time.perf_counter() - t0, 3), "total": round(time.perf_counter() - t0, 3)}
    return res


def _fuse_segment(seg: SegmentResult, cfg: AnalyzeConfig, fusion: TrainedFusion | None) -> None:
    probs, weights = fusion(seg.modalities) if fusion is not None else fuse(seg.modalities, cfg.priors, cfg.fusion)
    seg.weights = weights
    if probs is None:
        seg.probs, seg.label, seg.confidence = None, None, None
        return
    top = int(np.argmax(probs))
    seg.probs = {c: round(float(p), 4) for c, p in zip(EKMAN, probs, strict=True)}
    seg.label, seg.confidence = EKMAN[top], round(float(probs[top]), 4)


# --------------------------------------------------------------------------- media


@dataclass
class _Seg:
    start: float
    end: float
    source: str
    text: str | None = None  # known words (transcript); None = unknown
    text_source: str | None = None
    voice: ModalityResult | None = None
    text_res: ModalityResult | None = None
    words: list[dict[str, Any]] = field(default_factory=list)
    asr_conf: float | None = None
    speech_prob: float = 0.0
    done_audio: bool = False


def _windows(t0: float, t1: float, w: float, source: str = "window") -> list[_Seg]:
    out = []
    t = t0
    while t < t1 - 1e-6:
        e = min(t1, t + w)
        if e - t < 0.5 * w and out:  # fold a short tail into the previous window
            out[-1].end = e
        else:
            out.append(_Seg(start=round(t, 3), end=round(e, 3), source=source))
        t = e
    return out


def _read_transcript(transcript: Any, duration: float, warnings: list[str]) -> list[Any] | None:
    from emofuse.media.transcript import clip_cues, read_transcript

    try:
        cues = read_transcript(transcript)
    except MissingFileError:
        raise
    except EmofuseError as err:
        warnings.append(f"transcript ignored: {err}")
        return None
    timed = [c for c in cues if c.start is not None]
    if timed and duration > 0:
        kept, notes = clip_cues(timed, duration)
        warnings.extend(notes)
        if not kept:
            warnings.append("transcript ignored: none of its cues falls inside the media")
            return None
        return kept
    return cues


def analyze(
    source: str | Path,
    *,
    transcript: str | Path | bytes | None = None,
    config: AnalyzeConfig | dict[str, Any] | None = None,
    progress: bool = False,
    on_progress: Callable[[float, float], None] | None = None,
    **overrides: Any,
) -> AnalysisResult:
    """Analyse a video, audio or text file (or ``text=`` a string) end to end.

    Args:
        source: A media file (mp4, mkv, webm, mov, avi, wav, flac, mp3, ogg, m4a, ...) or a
            text file (``.txt``/``.md``).
        transcript: Optional transcript (SRT, WebVTT, JSON, plain text) as a path or bytes.
        config: :class:`AnalyzeConfig` or a dict of its fields.
        progress: Show a progress bar (stderr).
        on_progress: Callback ``(seconds_done, duration)`` called as decoding advances.
        **overrides: Config fields overriding ``config`` (e.g. ``fps=1, asr=False``).

    Returns:
        The :class:`~emofuse.analysis.result.AnalysisResult` (``.to_pandas()``, ``.save()``).

    Raises:
        MissingFileError: ``source`` (or the transcript path) does not exist.
        DataError: An empty, unreadable or oversized file, or one without audio and video.
    """
    base = config.to_dict() if isinstance(config, AnalyzeConfig) else dict(config or {})
    base.update(overrides)
    cfg = AnalyzeConfig.from_dict(base)
    p = Path(source)
    if p.suffix.lower() in TEXT_SUFFIXES:
        if not p.is_file():
            raise MissingFileError(f"text file not found: {p}")
        if p.stat().st_size > MAX_TEXT_CHARS * 4:
            raise DataError(f"{p}: the text file is over the size limit ({MAX_TEXT_CHARS} characters)")
        try:
            text = p.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(f"{p}: not UTF-8 text (invalid byte at offset {err.start}); re-save it as UTF-8") from None
        return analyze_text(text, config=cfg, source=str(p))
    return _analyze_media(p, transcript, cfg, progress, on_progress)


def _analyze_media(path: Path, transcript: Any, cfg: AnalyzeConfig, progress: bool,
                   on_progress: Callable[[float, float], None] | None) -> AnalysisResult:
    from emofuse.media.stream import AudioChunk, StreamEvent, VideoSample, probe, stream_media
    from emofuse.media.vad import SpeechDetector, SpeechSegmenter

    t_start = time.perf_counter()
    timer = _Timer()
    info = probe(path, max_bytes=cfg.max_bytes, max_pixels=cfg.max_pixels)
    warnings: list[str] = []
    whole: dict[str, str] = {}
    duration = float(info.duration)
    has_audio = info.has_audio
    has_video = info.kind == "video"
    if not has_audio:
        whole["audio"] = "no audio track"
    elif not cfg.audio:
        whole["audio"] = "voice path turned off"
    if not info.has_video:
        whole["face"] = "no video stream"
    elif info.skip_video:
        whole["face"] = info.skip_video
        warnings.append(info.skip_video)
    elif not cfg.face or cfg.fps <= 0:
        whole["face"] = "face path turned off"

    cues = _read_transcript(transcript, duration, warnings) if transcript is not None else None
    timed_cues = [c for c in (cues or []) if c.start is not None]
    untimed = [c.text for c in (cues or []) if c.start is None]
    mode = cfg.segmentation
    if mode == "auto":
        mode = "transcript" if timed_cues else ("vad" if has_audio else "window")
    if mode == "transcript" and not timed_cues:
        if cfg.segmentation == "transcript":
            warnings.append("segmentation 'transcript' asked for but no timed transcript cues are available; "
                            "using " + ("voice activity" if has_audio else "fixed windows"))
        mode = "vad" if has_audio else "window"
    if mode == "vad" and not has_audio:
        warnings.append("no audio track: using fixed windows instead of voice activity")
        mode = "window"
    use_asr = cfg.text and cfg.asr and has_audio and not timed_cues and not untimed
    if not cfg.text:
        whole["text"] = "text path turned off"
    elif not has_audio and not timed_cues:
        whole["text"] = "no audio track to transcribe and no transcript"
    elif not timed_cues and not untimed and not cfg.asr:
        whole["text"] = "speech recognition turned off and no transcript given"

    experts = _experts_for(cfg)
    fusion = TrainedFusion(cfg.fusion_model) if cfg.fusion_model else None
    want_voice = cfg.audio and has_audio
    want_face = "face" not in whole

    # predefined segments (transcript cues / windows); VAD segments arrive while streaming
    segs: list[_Seg] = []
    if mode == "transcript":
        segs = [_Seg(start=float(c.start), end=float(c.end if c.end is not None else c.start), source="transcript",
                     text=c.text, text_source="transcript") for c in sorted(timed_cues, key=lambda c: c.start)]
    elif mode == "window" and duration > 0 and (has_audio or want_face):
        segs = _windows(0.0, duration, cfg.window_s)
    pending = list(segs)  # segments whose audio is not analysed yet

    detector = SpeechDetector() if has_audio else None
    segmenter = SpeechSegmenter(cfg.vad) if (mode == "vad" and has_audio) else None
    vad_probs: list[np.ndarray] = []
    vad_t0: float | None = None
    buf = _AudioBuffer()
    asr_queue: list[_Seg] = []
    asr_pieces: list[np.ndarray] = []
    transcriber = None
    face_path = None
    if want_face:
        try:
            face_path = FacePath(experts.get("face"), max_faces=cfg.max_faces, min_score=cfg.min_face_score)
        except ImportError as err:
            whole["face"] = f"face detection unavailable: {err}"
            warnings.append(whole["face"])
            want_face = False

    def speech_prob(s: float, e: float) -> float:
        if not vad_probs or vad_t0 is None:
            return 0.0
        i0 = max(0, int((s - vad_t0) / FRAME_S))
        i1 = max(i0 + 1, int(np.ceil((e - vad_t0) / FRAME_S)))
        seen = sum(len(v) for v in vad_probs)
        if i0 >= seen:
            return 0.0
        if len(vad_probs) > 1:
            vad_probs[:] = [np.concatenate(vad_probs)]
        return float(vad_probs[0][i0:min(i1, seen)].mean())

    def flush_asr(final: bool = False) -> None:
        nonlocal transcriber
        if not asr_queue:
            return
        total = sum(len(x) for x in asr_pieces) / SAMPLE_RATE
        if not final and total < 24.0:
            return
        t0 = time.perf_counter()
        if transcriber is None:
            from emofuse.media.asr import Transcriber

            transcriber = Transcriber(threads=cfg.threads, beam_size=cfg.asr_beam_size)
        outs = transcriber.transcribe_many([(s.start, x) for s, x in zip(asr_queue, asr_pieces, strict=True)])
        timer.add("asr", t0)
        for s, tr in zip(asr_queue, outs, strict=True):
            s.text, s.text_source = tr.text, "asr"
            s.words = [w.to_dict() for w in tr.words]
            s.asr_conf = tr.confidence
        run_text(list(asr_queue))
        asr_queue.clear()
        asr_pieces.clear()

    def run_text(batch: list[_Seg]) -> None:
        if not cfg.text or not batch:
            return
        t0 = time.perf_counter()
        res = _text_results(experts.get("text"), [s.text or "" for s in batch], [s.asr_conf for s in batch])
        for s, r in zip(batch, res, strict=True):
            if not r.ok and s.text_source == "asr":
                r = ModalityResult.missing("no words recognised", asr_confidence=s.asr_conf or 0.0)
            s.text_res = r
        timer.add("text", t0)

    def analyse_audio(s: _Seg) -> None:
        """Voice expert (+ queue for ASR) on a segment whose audio is fully buffered."""
        # the voice expert reads at most MAX_VOICE_S from the start, so a long transcript cue
        # never makes the audio buffer grow past that
        s.speech_prob = speech_prob(s.start, min(s.end, s.start + MAX_VOICE_S))
        wave = buf.get(s.start, min(s.end, s.start + MAX_VOICE_S))
        if want_voice:
            t0 = time.perf_counter()
            if s.speech_prob < MIN_SPEECH_PROB:
                s.voice = ModalityResult.missing("no speech in segment", speech_prob=s.speech_prob)
            else:
                try:
                    out = experts.get("audio").predict([(wave, SAMPLE_RATE)])
                    dur = len(wave) / SAMPLE_RATE
                    s.voice = ModalityResult.from_probs(
                        out.ekman[0], reliability=s.speech_prob * min(1.0, dur / 1.0), expert=out.expert,
                        quality={"speech_prob": s.speech_prob, "duration_s": dur,
                                 "voiced_fraction": float(out.info.get("voiced_fraction", [0.0])[0])})
                except DataError as err:
                    s.voice = ModalityResult.missing(f"voice unreadable: {err}", speech_prob=s.speech_prob)
            timer.add("voice", t0)
        s.done_audio = True
        if use_asr and s.text is None:
            if s.speech_prob >= MIN_SPEECH_PROB and len(wave) >= SAMPLE_RATE * 0.2:
                asr_queue.append(s)
                asr_pieces.append(wave)
                flush_asr()
            else:
                s.text_res = ModalityResult.missing("no speech in segment")

    t_done = 0.0
    broken: str | None = None
    bar = None
    if progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("[bold]analysing[/] {task.description}"), BarColumn(),
                       TextColumn("{task.completed:.0f}/{task.total:.0f} s"), TimeRemainingColumn(), transient=True)
        bar.start()
        task = bar.add_task(path.name, total=max(duration, 1e-3))
    try:
        t0 = time.perf_counter()
        for item in stream_media(info, audio=has_audio, video=want_face, sample_rate=SAMPLE_RATE, chunk_s=2.0,
                                 fps=cfg.fps, max_side=cfg.max_side, threads=cfg.threads):
            timer.add("decode", t0)
            if isinstance(item, AudioChunk):
                buf.append(item.start, item.samples)
                if vad_t0 is None:
                    vad_t0 = item.start
                t1 = time.perf_counter()
                probs = detector.feed(item.samples)
                vad_probs.append(probs)
                closed = segmenter.push(probs) if segmenter is not None else []
                timer.add("vad", t1)
                for u in closed:
                    s = _Seg(start=u.start, end=u.end, source="vad")
                    segs.append(s)
                    pending.append(s)
                t_done = max(t_done, buf.end)
                ready = [s for s in pending if min(s.end, s.start + MAX_VOICE_S) <= buf.end]
                for s in ready:
                    analyse_audio(s)
                pending = [s for s in pending if not s.done_audio]
                keep = min([s.start for s in pending], default=buf.end)
                if segmenter is not None:
                    keep = min(keep, buf.end - cfg.vad.max_segment_s - 1.0)
                buf.trim(keep)
            elif isinstance(item, VideoSample):
                t1 = time.perf_counter()
                face_path.process(item.t, item.rgb, item.scale)
                timer.add("face", t1)
                t_done = max(t_done, item.t)
            elif isinstance(item, StreamEvent):
                broken = item.message
            if bar is not None:
                bar.update(task, completed=min(t_done, duration))
            if on_progress is not None:
                on_progress(t_done, duration)
            t0 = time.perf_counter()
    finally:
        if bar is not None:
            bar.stop()
    if broken:
        warnings.append(broken)
    end_t = max(t_done, buf.end if has_audio else 0.0)
    if not broken and duration > 0 and 0 < end_t < duration - 1.0:
        broken = (f"the streams ended at {end_t:.1f} s but the file says it lasts {duration:.1f} s: it may be "
                  "truncated; analysed what was there")
        warnings.append(broken)
    if broken or duration <= 0:
        duration = round(end_t, 3) if broken else round(max(duration, end_t), 3)

    # close the stream: last VAD frames, open utterance, remaining segments
    if detector is not None:
        t1 = time.perf_counter()
        last = detector.flush()
        vad_probs.append(last)
        if segmenter is not None:
            for u in segmenter.push(last) + segmenter.finish():
                s = _Seg(start=u.start, end=min(u.end, end_t), source="vad")
                segs.append(s)
                pending.append(s)
        timer.add("vad", t1)
    if mode == "window" and not has_audio and not want_face:
        segs = []  # nothing in the file can be read: no rows of all-missing modalities
        warnings.append("nothing to analyse: " + "; ".join(f"{m}: {r}" for m, r in sorted(whole.items())))
    elif mode == "window" and not segs and duration > 0:
        segs = _windows(0.0, duration, cfg.window_s)
    for s in pending:
        if has_audio and s.start < buf.end:
            analyse_audio(s)
    flush_asr(final=True)
    speech_segs = list(segs)
    if mode == "vad" and not segs:
        if has_audio:
            whole.setdefault("audio", "no speech detected")
            if use_asr or cfg.text:
                whole.setdefault("text", "no speech detected")
    if mode == "vad" and has_video and want_face and cfg.fill_gaps and cfg.segmentation == "auto":
        # windows over stretches without speech so the face timeline has no holes
        edges = [0.0] + [x for s in sorted(speech_segs, key=lambda s: s.start) for x in (s.start, s.end)] + [duration]
        for a, b in zip(edges[0::2], edges[1::2], strict=True):
            if b - a >= cfg.min_gap_s:
                for w in _windows(a, b, cfg.window_s, source="window"):
                    w.speech_prob = speech_prob(w.start, w.end)
                    segs.append(w)
    # untimed transcript lines: spread over the speech segments in order, by duration
    if untimed and cfg.text:
        sents = [s for line in untimed for s in _sentences(line)]
        targets = [s for s in sorted(segs, key=lambda s: s.start) if s.source in ("vad", "transcript")] or \
            sorted(segs, key=lambda s: s.start)
        if targets:
            total = sum(max(s.end - s.start, 1e-3) for s in targets)
            acc, bounds = 0.0, []
            for s in targets:
                acc += max(s.end - s.start, 1e-3)
                bounds.append(acc / total)
            assigned: list[list[str]] = [[] for _ in targets]
            for k, sent in enumerate(sents):
                pos = (k + 0.5) / len(sents)
                assigned[next(i for i, b in enumerate(bounds) if pos <= b + 1e-9)].append(sent)
            for s, words in zip(targets, assigned, strict=True):
                s.text, s.text_source = " ".join(words), "transcript"
            run_text(targets)
            warnings.append("the transcript has no times: its sentences were spread over the speech in order "
                            "(approximate)")
    run_text([s for s in segs if s.text is not None and s.text_res is None and s.text_source == "transcript"])

    frames, tracks = face_path.finish() if face_path is not None else ([], [])
    if want_face and not any(f.probs is not None for f in frames):
        whole["face"] = f"no face detected in {len(frames)} sampled frames" if frames else "no video frames decoded"

    # assemble rows (frames are in time order: each segment's frames are found by bisection)
    frame_t = [f.t for f in frames]
    out_segs: list[SegmentResult] = []
    for s in sorted(segs, key=lambda s: (s.start, s.end)):
        mods: dict[str, ModalityResult] = {}
        # text
        if "text" in whole:
            mods["text"] = ModalityResult.missing(whole["text"])
        elif s.text_res is not None:
            mods["text"] = s.text_res
        elif s.source == "window" and mode != "window":
            mods["text"] = ModalityResult.missing("no speech in segment")
        elif s.text is None and not use_asr:
            mods["text"] = ModalityResult.missing("no transcript text for this segment")
        else:
            mods["text"] = ModalityResult.missing("no words" if s.text is not None else "audio not decoded")
        # voice
        if "audio" in whole:
            mods["audio"] = ModalityResult.missing(whole["audio"])
        elif s.voice is not None:
            mods["audio"] = s.voice
        elif s.source == "window" and mode != "window":
            mods["audio"] = ModalityResult.missing("no speech in segment", speech_prob=s.speech_prob)
        else:
            mods["audio"] = ModalityResult.missing("audio not decoded for this segment")
        # face
        if "face" in whole:
            mods["face"] = ModalityResult.missing(whole["face"])
        else:
            lo, hi = bisect_left(frame_t, s.start), bisect_left(frame_t, max(s.end, s.start + 1e-3))
            probs, q = aggregate_frames(frames[lo:hi], s.start, max(s.end, s.start + 1e-3))
            if probs is None:
                mods["face"] = ModalityResult.missing(
                    f"no face in {int(q['n_frames'])} sampled frames" if q["n_frames"] else "no sampled frame",
                    **q)
            else:
                rel = q.pop("reliability")
                mods["face"] = ModalityResult.from_probs(probs, reliability=rel, expert=cfg.face_expert, quality=q)
        seg = SegmentResult(index=len(out_segs), start=round(s.start, 3), end=round(s.end, 3), text=s.text or "",
                            text_source=s.text_source if s.text else None, source=s.source, modalities=mods,
                            words=s.words)
        _fuse_segment(seg, cfg, fusion)
        out_segs.append(seg)

    total = time.perf_counter() - t_start
    timings = {k: round(v, 3) for k, v in timer.t.items()}
    timings["total"] = round(total, 3)
    if duration > 0:
        timings["realtime_factor"] = round(total / duration, 4)
    media = info.to_dict()
    media["segmentation"] = mode
    media["asr"] = "Whisper tiny.en (English only)" if transcriber is not None else None
    return AnalysisResult(source=str(path), kind=info.kind, duration=round(duration, 3), segments=out_segs,
                          media=media, modalities=whole, faces=tracks,
                          frames=frames if cfg.keep_frames else [], warnings=warnings, config=cfg.to_dict(),
                          timings=timings, version=emofuse.__version__)
