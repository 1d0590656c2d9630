"""The face path: sampled frames → faces detected, tracked and read (:class:`~emofuse.analysis.faces.FacePath`)
→ per segment, the reliability-weighted mean over the segment's frames
(:func:`~emofuse.analysis.faces.aggregate_frames`).

A segment's reading waits until a frame at or past its end has been processed (frames and
audio arrive interleaved), or the recording ends.

With the ``thumbnails`` setting (off by default: face pixels identify a person beside
sensitive emotion data) each segment's face reading also carries a small JPEG of its main face
(:attr:`~emofuse.analysis.result.ModalityResult.thumbnail`, :data:`THUMB_PX` pixels square) for
the HTML report: the sharpest, most confident frame of the track that carried the segment's
reading. Only the frames of segments not yet read are kept (a few kilobytes each), and the
pixels never reach the JSON, CSV or Parquet outputs.
"""

from __future__ import annotations

import base64
import io
import time
from bisect import bisect_left
from typing import Any

import numpy as np

from emofuse.analysis.faces import FacePath as FaceTracker
from emofuse.analysis.faces import aggregate_frames, face_reliability
from emofuse.analysis.paths.base import ModalityPath, PathContext, register_path
from emofuse.analysis.result import FaceFrame, ModalityResult
from emofuse.media.segment import Segment

__all__ = ["THUMB_PX", "FaceModalityPath"]

#: Side of a face thumbnail, pixels.
THUMB_PX = 56
# the thumbnail's square is this many times the detected box's larger side (hair and chin in view)
_THUMB_MARGIN = 1.3


class _Recorder:
    """The face detector, keeping the last frame's detections (the thumbnails are cut from them)."""

    def __init__(self, detector: Any) -> None:
        self.detector, self.last = detector, []

    def __call__(self, rgb: np.ndarray) -> list[Any]:
        self.last = list(self.detector(rgb))
        return self.last


class _Thumbnails:
    """Small colour crops of the faces on recent frames; one JPEG per segment picked from them."""

    def __init__(self, max_faces: int, min_score: float) -> None:
        self.max_faces, self.min_score = max_faces, min_score
        # frame time -> [(score, face px in video pixels, THUMB_PX² RGB crop)] (the timeline's keys)
        self._by_t: dict[float, list[tuple[float, float, np.ndarray]]] = {}

    def add(self, t: float, rgb: np.ndarray, dets: list[Any], scale: float) -> None:
        from PIL import Image

        dets = [d for d in dets if float(d[4]) >= self.min_score and d[2] > d[0] and d[3] > d[1]]
        dets.sort(key=lambda d: -(d[2] - d[0]) * (d[3] - d[1]))
        faces = []
        for d in dets[: self.max_faces]:
            x0, y0, x1, y1, score = (float(v) for v in d[:5])
            side = max(x1 - x0, y1 - y0)
            half = side * _THUMB_MARGIN / 2
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            box = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
            crop = Image.fromarray(rgb).crop(box).resize((THUMB_PX, THUMB_PX), Image.Resampling.BILINEAR)
            faces.append((round(score, 4), round(round(side) / max(scale, 1e-6), 1), np.asarray(crop)))
        if faces:
            self._by_t[round(t, 3)] = faces

    def pick(self, frames: list[FaceFrame]) -> str | None:
        """The ``data:`` URI of the main face of a segment's frames (``None`` without a face).

        The main face is the track with the most reliability over the frames; its frame of
        highest reliability is shown. The crop is matched to the timeline entry by detection
        score and size (the timeline keeps no boxes).
        """
        seen = [f for f in frames if f.probs is not None and f.t in self._by_t]
        if not seen:
            return None
        rel = {id(f): face_reliability(f.score, f.face_px, f.blur) for f in seen}
        mass: dict[int | None, float] = {}
        for f in seen:
            mass[f.track] = mass.get(f.track, 0.0) + rel[id(f)]
        main = max(mass, key=mass.__getitem__)
        best = max((f for f in seen if f.track == main), key=lambda f: rel[id(f)])
        _, _, img = min(self._by_t[best.t], key=lambda c: abs(c[0] - best.score) + abs(c[1] - best.face_px) / 100)
        return _jpeg_uri(img)

    def drop_before(self, t: float) -> None:
        """Forget frames before ``t`` seconds (no segment to come starts earlier)."""
        for k in [k for k in self._by_t if k < t]:
            del self._by_t[k]


def _jpeg_uri(rgb: np.ndarray, quality: int = 80) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@register_path
class FaceModalityPath(ModalityPath):
    """Frames → ``face-fer2013`` (or the configured face expert), aggregated per segment."""

    modality = "face"
    uses_audio = False

    def __init__(self, ctx: PathContext, tracker: FaceTracker) -> None:
        super().__init__()
        self.ctx, self.tracker = ctx, tracker
        self.expert = tracker.expert
        self.n_frames = 0
        self._thumbs: _Thumbnails | None = None
        self._last_start = 0.0
        if ctx.config.thumbnails:
            self._recorder = _Recorder(tracker.detector)
            tracker.detector = self._recorder
            self._thumbs = _Thumbnails(tracker.max_faces, tracker.min_score)

    @classmethod
    def open(cls, ctx: PathContext) -> ModalityPath | str:
        """Open when video frames will come and face detection is available."""
        cfg = ctx.config
        if ctx.video_skipped:
            return ctx.video_skipped
        if not ctx.has_video:
            return "no video stream"
        if not cfg.face or cfg.fps <= 0:
            return "face path turned off"
        try:
            from emofuse.media.face import FaceDetector

            detector = ctx.resources.get(("face-detector", cfg.min_face_score),
                                         lambda: FaceDetector(min_score=cfg.min_face_score))
            tracker = FaceTracker(ctx.expert("face"), detector, max_faces=cfg.max_faces,
                                  min_score=cfg.min_face_score, keep_crops=cfg.explain)
        except ImportError as err:
            reason = f"face detection unavailable: {err}"
            ctx.warnings.append(reason)
            return reason
        return cls(ctx, tracker)

    def feed_frame(self, t: float, rgb: Any, scale: float = 1.0) -> None:
        """Detect, track and queue the faces of one sampled frame."""
        t0 = time.perf_counter()
        self.tracker.process(t, rgb, scale)
        if self._thumbs is not None:
            self._thumbs.add(t, rgb, self._recorder.last, scale)
        self.n_frames += 1
        self._time("face", t0)

    def submit(self, seg: Segment) -> None:
        """Queue a closed segment (segments close in start order: earlier frames lose their thumbnails)."""
        super().submit(seg)
        self._last_start = max(self._last_start, seg.start)

    def can_read(self, seg: Segment) -> bool:
        """Once a frame at or past the segment's end has been seen."""
        return self.tracker.last_t >= seg.end

    def read(self, segs: list[Segment]) -> list[ModalityResult]:
        """Aggregate each segment's frames (bisection over the time-ordered timeline)."""
        t0 = time.perf_counter()
        frames = self.tracker.frames()
        times = self.tracker.times
        out = []
        for s in segs:
            end = max(s.end, s.start + 1e-3)
            lo, hi = bisect_left(times, s.start), bisect_left(times, end)
            probs, q = aggregate_frames(frames[lo:hi], s.start, end)
            if probs is None:
                out.append(ModalityResult.missing(
                    f"no face in {int(q['n_frames'])} sampled frames" if q["n_frames"] else "no sampled frame", **q))
            else:
                rel = q.pop("reliability")
                out.append(ModalityResult.from_probs(probs, reliability=rel, expert=self.ctx.config.experts["face"],
                                                     quality=q))
                if self._thumbs is not None:
                    out[-1].thumbnail = self._thumbs.pick(frames[lo:hi])
        keep_from = min([s.start for s in self._queue] + [self._last_start])
        if self._thumbs is not None:
            self._thumbs.drop_before(keep_from)
        self._time("face", t0)
        if self.tracker.keep_crops:
            self._explain(segs, out, frames, times)
            self.tracker.drop_crops_before(keep_from)
        return out

    def _explain(self, segs: list[Segment], out: list[ModalityResult], frames: list[Any], times: list[float]) -> None:
        """Strongest frames and heat-maps of each face reading (the ``explain`` setting)."""
        from emofuse.analysis.evidence import face_evidence

        t0 = time.perf_counter()
        for s, r in zip(segs, out, strict=True):
            if r.ok:
                lo, hi = bisect_left(times, s.start), bisect_left(times, max(s.end, s.start + 1e-3))
                r.evidence, r.evidence_images = face_evidence(self.expert, frames[lo:hi], self.tracker.crops,
                                                              r.label, images=self._thumbs is not None)
        self._time("explain_face", t0)

    def finish(self) -> dict[str, Any]:
        """The face timeline, the track list, and the whole-recording reason when no face was seen."""
        frames, tracks = self.tracker.finish()
        whole = None
        if not any(f.probs is not None for f in frames):
            whole = f"no face detected in {len(frames)} sampled frames" if frames else "no video frames decoded"
        return {"frames": frames, "faces": tracks, "whole": whole}
