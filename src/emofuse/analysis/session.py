"""Incremental analysis: feed audio chunks and frames as they arrive, get fused segments as they close.

:class:`AnalysisSession` is the one loop behind both batch and live analysis::

    media → Segmenter (closed segments) → every registered modality path → fusion → SegmentResult

:func:`emofuse.analyze` decodes a file and feeds a session; a live caller (a microphone and a
camera, a WebSocket) feeds the same session with whatever it receives — 0.5 s of 16 kHz audio,
a single frame — and gets the same segments and labels.

Example:
    >>> import numpy as np
    >>> s = AnalysisSession({"segmentation": "window", "text": False, "audio": False, "face": False},
    ...                     has_audio=True, vad=False)
    >>> [(x.start, x.end) for x in s.feed_audio(0.0, np.zeros(16000 * 12, np.float32))]  # final already
    [(0.0, 5.0)]
    >>> [(x.start, x.end) for x in s.close(12.0)]  # the 2 s tail joins the last window
    [(5.0, 12.0)]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emofuse._version import __version__
from emofuse.analysis.config import MAX_VOICE_S, AnalyzeConfig
from emofuse.analysis.fusion import apply_fusion, make_fuser
from emofuse.analysis.paths import PATHS, ModalityPath, PathContext, Resources, list_paths
from emofuse.analysis.paths.base import RESOURCES
from emofuse.analysis.result import AnalysisResult, ModalityResult, SegmentResult
from emofuse.errors import DataError
from emofuse.experts.whisper_features import SHARED_PASS
from emofuse.media.segment import SAMPLE_RATE, Segment, Segmenter

__all__ = ["AnalysisSession"]


@dataclass(eq=False)
class _Row:
    seg: Segment
    mods: dict[str, ModalityResult | None] = field(default_factory=dict)


class AnalysisSession:
    """One recording analysed incrementally (batch files and live streams alike).

    Args:
        config: :class:`~emofuse.analysis.config.AnalyzeConfig` or a dict of its fields.
        has_audio: Audio will be fed (:meth:`feed_audio`).
        has_video: Video frames will be fed (:meth:`feed_frame`).
        cues: Transcript cues (objects with ``start``/``end`` seconds or ``None`` and ``text``):
            timed cues set the segments, untimed ones are spread over the speech at the end.
        video_skipped: Why a video stream will not be decoded (reported as the face reason).
        source: Name of the recording (in the result).
        kind: ``"video"``, ``"audio"`` or ``"live"``.
        vad: Run voice activity detection (turn off only where segments never come from speech).
        resources: Shared experts and models (default: the process-wide ones).
        warnings: What the caller already has to report (e.g. about the transcript), first in
            the result's warnings.
        started: ``time.perf_counter()`` when the analysis began (default: now), for the timings.
        physio: A whole physiological recording (:class:`~emofuse.media.physio.PhysioRecording`) on
            the media clock (``physio_offset_s`` applied by the path), read by the physio path.
        physio_live: Physiological signals will be fed with :meth:`feed_physio` instead.

    Raises:
        UnknownNameError / ConfigError: Bad settings or expert names.
    """

    def __init__(self, config: AnalyzeConfig | dict[str, Any] | None = None, *, has_audio: bool = True,
                 has_video: bool = False, cues: Sequence[Any] = (), video_skipped: str | None = None,
                 source: str = "<live>", kind: str = "live", vad: bool = True,
                 resources: Resources | None = None, warnings: Sequence[str] = (),
                 started: float | None = None, physio: Any = None, physio_live: bool = False) -> None:
        cfg = config if isinstance(config, AnalyzeConfig) else AnalyzeConfig.from_dict(config)
        cfg.check_experts()
        self.cfg, self.source, self.kind = cfg, source, kind
        self.has_audio, self.has_video = bool(has_audio), bool(has_video)
        self.t_start = time.perf_counter() if started is None else float(started)
        self.warnings: list[str] = list(warnings)
        timed = [c for c in cues if c.start is not None]
        untimed = [c.text for c in cues if c.start is None]
        self.mode = self._mode(timed)
        self.whole: dict[str, str] = {}
        ctx = PathContext(config=cfg, has_audio=self.has_audio, has_video=self.has_video and not video_skipped,
                          mode=self.mode, video_skipped=video_skipped, timed_text=bool(timed),
                          untimed_text=bool(untimed), resources=resources or RESOURCES, warnings=self.warnings,
                          physio=physio, physio_live=bool(physio_live))
        if video_skipped:
            self.warnings.append(video_skipped)
        self.paths: dict[str, ModalityPath] = {}
        for m in list_paths():
            opened = PATHS.get(m).open(ctx)
            if opened is None:  # not part of this analysis (e.g. no wearable signals given)
                continue
            if isinstance(opened, str):
                self.whole[m] = opened
            else:
                self.paths[m] = opened
        self.ctx = ctx
        self.untimed = bool(untimed) and "text" in self.paths
        fill = (self.mode == "vad" and self.has_video and "face" in self.paths and cfg.fill_gaps
                and cfg.segmentation == "auto")
        self.segmenter = Segmenter(self.mode, has_audio=self.has_audio, cues=timed, untimed=untimed,
                                   window_s=cfg.window_s, fill_gaps=fill, min_gap_s=cfg.min_gap_s,
                                   vad=cfg.vad if (vad and self.has_audio) else False, max_audio_s=MAX_VOICE_S,
                                   context_s=max((p.context_s for p in self.paths.values()), default=0.0))
        # each expert's fusion prior and absent class come from its own model card (priors: unless overridden)
        self.priors = {m: cfg.priors.get(m, p.expert.prior) for m, p in self.paths.items()}
        self.fusion = make_fuser(cfg, self.priors, {m: p.expert.absent_class for m, p in self.paths.items()})
        self._rows: list[_Row] = []
        self._done: list[SegmentResult] = []
        self.timings: dict[str, float] = {}
        self.closed = False
        self.end = 0.0

    # ------------------------------------------------------------------ set-up

    def _mode(self, timed: list[Any]) -> str:
        cfg, has_audio = self.cfg, self.has_audio
        mode = cfg.segmentation
        if mode == "auto":
            mode = "transcript" if timed else ("vad" if has_audio else "window")
        if mode == "transcript" and not timed:
            if cfg.segmentation == "transcript":
                self.warnings.append("segmentation 'transcript' asked for but no timed transcript cues are "
                                     "available; using " + ("voice activity" if has_audio else "fixed windows"))
            mode = "vad" if has_audio else "window"
        if mode == "vad" and not has_audio:
            self.warnings.append("no audio track: using fixed windows instead of voice activity")
            mode = "window"
        return mode

    @property
    def wants_video(self) -> bool:
        """Whether frames are read at all (the face path is open)."""
        return "face" in self.paths

    # ------------------------------------------------------------------ the loop

    def add_time(self, stage: str, t0: float) -> None:
        """Count the seconds since ``t0`` (``time.perf_counter()``) under ``stage`` in the result's timings."""
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0

    def _take(self, closed: list[Segment]) -> None:
        for seg in closed:
            row = _Row(seg, {m: None for m in self.paths})
            row.mods.update({m: ModalityResult.missing(r) for m, r in self.whole.items()})
            self._rows.append(row)
            for p in self.paths.values():
                p.submit(seg)

    def _collect(self, final: bool = False) -> list[SegmentResult]:
        by_seg = {id(r.seg): r for r in self._rows}
        for m, p in self.paths.items():
            for seg, res in p.ready(final):
                by_seg[id(seg)].mods[m] = res
        done, keep = [], []
        for r in self._rows:
            audio_done = all(r.mods.get(m) is not None for m, p in self.paths.items() if p.uses_audio)
            if audio_done:  # the waveform and the shared encoder pass are no longer needed
                r.seg.audio, r.seg.cache, r.seg.context = None, {}, None
            (done if all(v is not None for v in r.mods.values()) else keep).append(r)
        self._rows = keep
        return [self._finish_row(r) for r in done]

    def _finish_row(self, r: _Row) -> SegmentResult:
        s = r.seg
        mods = {m: r.mods[m] for m in list_paths() if m in r.mods}  # modality order, whatever finished first
        seg = SegmentResult(index=len(self._done), start=round(s.start, 3),
                            end=round(s.end, 3), text=s.text or "", text_source=s.text_source if s.text else None,
                            source=s.source, modalities=mods, words=s.words)
        self._fuse(seg)
        self._done.append(seg)
        return seg

    def _fuse(self, seg: SegmentResult) -> None:
        t0 = time.perf_counter()
        apply_fusion(seg, self.fusion)
        if self.cfg.explain:
            from emofuse.analysis.explain import explain_segment

            seg.contributions, seg.rationale = explain_segment(seg, self.fusion)
        self.add_time("fusion", t0)

    def _check_open(self) -> None:
        if self.closed:
            raise DataError("analysis session: already closed")

    def feed_audio(self, start: float, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> list[SegmentResult]:
        """Add audio starting at ``start`` seconds; returns the segments finished by it.

        Args:
            start: Media time of the first sample, seconds.
            samples: ``(T,)`` mono float waveform (other rates are resampled).
            sample_rate: Rate of ``samples``, Hz.

        Raises:
            DataError: Non-finite samples, a closed session, or a session without audio.
        """
        self._check_open()
        if not self.has_audio:
            raise DataError("analysis session: opened with has_audio=False")
        x = np.asarray(samples, np.float32).reshape(-1)
        if not np.all(np.isfinite(x)):
            raise DataError("analysis session: audio chunk holds NaN or infinite samples")
        if int(sample_rate) != SAMPLE_RATE:
            from emofuse.media.audio import resample

            x = resample(x, int(sample_rate), SAMPLE_RATE)
        t0 = time.perf_counter()
        closed = self.segmenter.feed_audio(float(start), x)
        self.add_time("vad", t0)
        self.end = max(self.end, self.segmenter.buffer.end)
        self.ctx.shared["media_end"] = self.end  # how far the media has come (paths waiting on other streams)
        self._take(closed)
        return self._collect()

    def feed_frame(self, t: float, rgb: np.ndarray, scale: float = 1.0) -> list[SegmentResult]:
        """Add one sampled video frame (``(H, W, 3)`` uint8 RGB at ``t`` s); returns the segments finished by it.

        Raises:
            DataError: A frame that is not ``(H, W, 3)`` uint8, or a closed session.
        """
        self._check_open()
        img = np.asarray(rgb)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise DataError(f"analysis session: a frame must be (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}")
        self.end = max(self.end, float(t))
        self.ctx.shared["media_end"] = self.end
        if "face" in self.paths:
            self.paths["face"].feed_frame(float(t), img, float(scale))
        self._take(self.segmenter.advance(float(t)))
        return self._collect()

    def feed_physio(self, name: str, start: float, samples: np.ndarray, rate: float) -> list[SegmentResult]:
        """Add a chunk of one physiological signal (``bvp``, ``eda``, ``temp``, ``acc``, ...) live.

        Args:
            name: Canonical signal name (:data:`~emofuse.media.physio.SIGNALS`).
            start: Media time of the first sample, seconds.
            samples: ``(N,)`` samples (``(N, 3)`` for ``acc``) in the signal's unit (EDA µS, temperature °C, g).
            rate: Sampling rate, Hz.

        Returns:
            The segments finished by it.

        Raises:
            DataError: A closed session, a session not opened with ``physio_live=True``, or a bad signal.
        """
        self._check_open()
        path = self.paths.get("physio")
        if path is None or not getattr(path, "live", False):
            raise DataError("analysis session: opened without physio_live=True (or the physio path is off: "
                            f"{self.whole.get('physio', 'not live')})")
        t0 = time.perf_counter()
        path.feed(name, float(start), samples, float(rate))
        self.add_time("physio", t0)
        return self.advance(float(start) + len(np.asarray(samples)) / float(rate))

    def advance(self, t: float) -> list[SegmentResult]:
        """Media time has reached ``t`` seconds without audio (e.g. signals only): close what ends before it."""
        self._check_open()
        self.end = max(self.end, float(t))
        self.ctx.shared["media_end"] = self.end
        self._take(self.segmenter.advance(float(t)))
        return self._collect()

    def close(self, end: float | None = None) -> list[SegmentResult]:
        """The recording ended (at ``end`` seconds, default: the last media time fed): finish everything.

        Returns:
            The segments finished now.
        """
        self._check_open()
        self.end = max(self.end, float(end) if end is not None else 0.0)
        t0 = time.perf_counter()
        closed = self.segmenter.flush(self.end)
        self.add_time("vad", t0)
        self._take(closed)
        out = self._collect(final=True)
        self.closed = True
        self.extras: dict[str, Any] = {m: p.finish() for m, p in self.paths.items()}
        for p in self.paths.values():
            for k, v in p.timings.items():
                self.timings[k] = self.timings.get(k, 0.0) + v
        whisper = self.ctx.shared.get(SHARED_PASS)
        if whisper is not None:
            self.timings["whisper_encoder"] = whisper.seconds
        face_whole = self.extras.get("face", {}).get("whole")
        if face_whole:
            self.whole["face"] = face_whole
        if self.mode == "vad" and not any(s.source == "vad" for s in self._done):
            self.whole.setdefault("audio", "no speech detected")
            if "text" in self.paths:
                self.whole.setdefault("text", "no speech detected")
        if (self.mode == "window" and not self.has_audio and "face" not in self.paths and "physio" not in self.paths
                and self._done):
            self._done = []  # nothing in the recording can be read: no rows of all-missing modalities
            self.warnings.append("nothing to analyse: " + "; ".join(f"{m}: {r}" for m, r in sorted(self.whole.items())))
        if self.untimed:
            self.warnings.append("the transcript has no times: its sentences were spread over the speech in order "
                                 "(approximate)")
        return out

    def result(self, *, duration: float | None = None, media: dict[str, Any] | None = None) -> AnalysisResult:
        """The whole analysis (closes the session first if needed), segments in time order.

        Args:
            duration: Media duration, seconds (default: the last media time fed).
            media: Facts about the media (``MediaInfo.to_dict()``), stored in the result.
        """
        if not self.closed:
            self.close(duration)
        segs = sorted(self._done, key=lambda s: (s.start, s.end))
        for i, s in enumerate(segs):
            s.index = i
            for m, reason in self.whole.items():  # a whole-recording reason replaces per-segment ones
                if m in s.modalities and not s.modalities[m].ok:
                    s.modalities[m] = ModalityResult.missing(reason)
        total = time.perf_counter() - self.t_start
        duration = round(float(duration if duration is not None else self.end), 3)
        timings = {k: round(v, 3) for k, v in sorted(self.timings.items())}
        timings["total"] = round(total, 3)
        if duration > 0:
            timings["realtime_factor"] = round(total / duration, 4)
        media = dict(media or {})
        media["segmentation"] = self.mode
        media["asr"] = self.extras.get("text", {}).get("asr")
        face = self.extras.get("face", {})
        if "physio" in self.extras:
            media["physio"] = self.extras["physio"]["signals"]
        return AnalysisResult(source=self.source, kind=self.kind, duration=duration, segments=segs, media=media,
                              modalities=dict(self.whole), faces=face.get("faces", []),
                              frames=face.get("frames", []) if self.cfg.keep_frames else [],
                              warnings=list(self.warnings), config=self.cfg.to_dict(), timings=timings,
                              version=__version__)
