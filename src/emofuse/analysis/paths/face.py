"""The face path: sampled frames → faces detected, tracked and read (:class:`~emofuse.analysis.faces.FacePath`)
→ per segment, the reliability-weighted mean over the segment's frames
(:func:`~emofuse.analysis.faces.aggregate_frames`).

A segment's reading waits until a frame at or past its end has been processed (frames and
audio arrive interleaved), or the recording ends.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import Any

from emofuse.analysis.faces import FacePath as FaceTracker
from emofuse.analysis.faces import aggregate_frames
from emofuse.analysis.paths.base import ModalityPath, PathContext, register_path
from emofuse.analysis.result import ModalityResult
from emofuse.media.segment import Segment

__all__ = ["FaceModalityPath"]


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
                                  min_score=cfg.min_face_score)
        except ImportError as err:
            reason = f"face detection unavailable: {err}"
            ctx.warnings.append(reason)
            return reason
        return cls(ctx, tracker)

    def feed_frame(self, t: float, rgb: Any, scale: float = 1.0) -> None:
        """Detect, track and queue the faces of one sampled frame."""
        t0 = time.perf_counter()
        self.tracker.process(t, rgb, scale)
        self.n_frames += 1
        self._time("face", t0)

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
        self._time("face", t0)
        return out

    def finish(self) -> dict[str, Any]:
        """The face timeline, the track list, and the whole-recording reason when no face was seen."""
        frames, tracks = self.tracker.finish()
        whole = None
        if not any(f.probs is not None for f in frames):
            whole = f"no face detected in {len(frames)} sampled frames" if frames else "no video frames decoded"
        return {"frames": frames, "faces": tracks, "whole": whole}
