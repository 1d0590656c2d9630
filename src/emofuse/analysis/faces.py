"""The face path of the pipeline: detect faces on sampled frames, track them, read expressions.

For each sampled frame (:class:`~emofuse.media.stream.VideoSample`):

1. MediaPipe face detection (:class:`~emofuse.media.face.FaceDetector`) finds the faces;
   the ``max_faces`` largest are kept;
2. each face is cropped with the FER2013 framing the face expert was trained on
   (:func:`~emofuse.media.face.crop_detection`) and read by the expert (batched across
   frames for speed);
3. faces are linked across frames into **tracks** by box overlap (IoU) with the tracks seen in
   the last ``max_gap_s`` seconds.

The **main face** is the track with the largest total ``size × score`` (the person the camera
is on) *up to each frame*: a frame's entry in the face timeline is decided when the frame is
read — the main face so far when it is visible, else the most prominent other face — so batch
and live analysis give the same timeline, and a segment's face reading never changes after it
was given. :meth:`FacePath.finish` lists every track, the overall main face first.

Each face gets a per-frame **reliability** in ``[0, 1]``: detection score × a size factor
(faces under :data:`FULL_SIZE_PX` pixels lose weight; FER2013 crops are 48 px) × a sharpness
factor (Laplacian variance of the 48x48 crop below :data:`SHARP_BLUR` loses weight).

Example:
    >>> round(face_reliability(score=0.9, face_px=200, blur=300.0), 3)
    0.9
    >>> round(face_reliability(score=0.9, face_px=24, blur=300.0), 3)
    0.338
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emofuse.analysis.result import FaceFrame
from emofuse.media.face import crop_detection, to_gray

__all__ = ["FULL_SIZE_PX", "SHARP_BLUR", "FacePath", "face_reliability", "iou"]

#: Faces at least this many pixels wide (original video pixels) get the full size factor.
FULL_SIZE_PX = 64.0
#: 48x48 crops with at least this Laplacian variance get the full sharpness factor.
SHARP_BLUR = 60.0


def face_reliability(score: float, face_px: float, blur: float) -> float:
    """Reliability of one face reading: ``score × size factor × sharpness factor``, in ``[0, 1]``."""
    size = min(1.0, max(0.0, face_px / FULL_SIZE_PX))
    sharp = min(1.0, max(0.1, blur / SHARP_BLUR))
    return float(min(1.0, max(0.0, score)) * size * sharp)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1, ...)`` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    id: int
    box: tuple[float, float, float, float]
    last_t: float
    first_t: float
    n: int = 0
    mass: float = 0.0  # sum of face_px * score (what makes a face the main one)
    px: float = 0.0  # sum of face_px


@dataclass
class _Face:
    track: int
    score: float
    face_px: float
    blur: float
    probs: np.ndarray | None = None


@dataclass
class _FrameRec:
    t: float
    faces: list[_Face] = field(default_factory=list)
    main: int | None = None  # the main track so far when this frame was read


class FacePath:
    """Face detection, tracking and expression reading over a stream of sampled frames.

    Args:
        expert: The face expert (``face-fer2013``); anything with ``predict(crops)`` returning
            an :class:`~emofuse.experts.base.ExpertOutput` over ``(N, 48, 48)`` uint8 crops.
        detector: Callable ``rgb (H, W, 3) uint8 -> [(x0, y0, x1, y1, score), ...]``
            (default: MediaPipe :class:`~emofuse.media.face.FaceDetector`).
        max_faces: Faces read per frame (largest first).
        min_score: Detections below this score are ignored.
        max_gap_s: A track is continued by a face seen within this many seconds.
        min_iou: Box overlap needed to continue a track.
        batch: Faces buffered before the expert runs.
    """

    def __init__(self, expert: Any, detector: Any = None, *, max_faces: int = 3, min_score: float = 0.5,
                 max_gap_s: float = 5.0, min_iou: float = 0.3, batch: int = 64) -> None:
        if detector is None:
            from emofuse.media.face import FaceDetector

            detector = FaceDetector(min_score=min_score)
        self.expert, self.detector = expert, detector
        self.max_faces, self.min_score = int(max_faces), float(min_score)
        self.max_gap_s, self.min_iou, self.batch = float(max_gap_s), float(min_iou), int(batch)
        self._tracks: list[_Track] = []
        self._frames: list[_FrameRec] = []  # read, not yet in the timeline (their faces may wait for the expert)
        self._queue: list[tuple[_Face, np.ndarray]] = []
        self.timeline: list[FaceFrame] = []  # final entries, in time order
        self.times: list[float] = []  # their times (kept beside the timeline: segments bisect on it)
        self.last_t = -1.0  # time of the last processed frame

    def _assign(self, box: tuple[float, float, float, float], t: float, used: set[int]) -> _Track:
        best, best_iou = None, self.min_iou
        for tr in self._tracks:
            if tr.id in used or t - tr.last_t > self.max_gap_s:
                continue
            o = iou(box, tr.box)
            if o >= best_iou:
                best, best_iou = tr, o
        if best is None:
            best = _Track(id=len(self._tracks), box=box, last_t=t, first_t=t)
            self._tracks.append(best)
        best.box, best.last_t = box, t
        return best

    def process(self, t: float, rgb: np.ndarray, scale: float = 1.0) -> int:
        """Detect, track and queue the faces of one frame; returns how many faces were found.

        Args:
            t: Frame time in seconds.
            rgb: ``(H, W, 3)`` uint8 frame.
            scale: Factor from original video pixels to ``rgb`` pixels (face sizes are reported
                in original pixels).
        """
        dets = [(*(float(v) for v in d[:5]), d[5] if len(d) > 5 else None) for d in self.detector(rgb)]
        dets = [d for d in dets if d[4] >= self.min_score and d[2] > d[0] and d[3] > d[1]]
        dets.sort(key=lambda d: -(d[2] - d[0]) * (d[3] - d[1]))
        rec = _FrameRec(t=float(t))
        if dets:
            gray = to_gray(rgb)
            used: set[int] = set()
            for d in dets[: self.max_faces]:
                tr = self._assign((float(d[0]), float(d[1]), float(d[2]), float(d[3])), t, used)
                used.add(tr.id)
                crop = crop_detection(gray, d)
                px = crop.face_px / max(scale, 1e-6)
                tr.n += 1
                tr.mass += px * crop.score
                tr.px += px
                face = _Face(track=tr.id, score=crop.score, face_px=round(px, 1), blur=round(crop.blur, 1))
                rec.faces.append(face)
                self._queue.append((face, crop.gray))
            rec.main = max(self._tracks, key=lambda tr: tr.mass).id
        self._frames.append(rec)
        self.last_t = max(self.last_t, rec.t)
        if len(self._queue) >= self.batch:
            self._run()
        return len(dets)

    def _run(self) -> None:
        if not self._queue:
            return
        out = self.expert.predict(np.stack([g for _, g in self._queue]))
        for (face, _), p in zip(self._queue, out.ekman, strict=True):
            face.probs = np.asarray(p, np.float32)
        self._queue = []

    def frames(self) -> list[FaceFrame]:
        """The face timeline so far (reads the queued faces first), one entry per processed frame, in time order."""
        self._run()
        for rec in sorted(self._frames, key=lambda r: r.t):
            if not rec.faces:
                self.timeline.append(FaceFrame(t=round(rec.t, 3)))
                continue
            pick = next((f for f in rec.faces if f.track == rec.main), None)
            if pick is None:
                pick = max(rec.faces, key=lambda f: f.face_px * f.score)
            self.timeline.append(FaceFrame(t=round(rec.t, 3), probs=[round(float(v), 4) for v in pick.probs],
                                           score=round(pick.score, 4), face_px=pick.face_px, blur=pick.blur,
                                           n_faces=len(rec.faces), track=pick.track))
        self.times.extend(f.t for f in self.timeline[len(self.times):])
        self._frames = []
        return self.timeline

    def finish(self) -> tuple[list[FaceFrame], list[dict[str, Any]]]:
        """Read the queued faces; return the face timeline and the track list.

        Returns:
            ``(frames, tracks)``: one :class:`~emofuse.analysis.result.FaceFrame` per processed
            frame; tracks as dicts (``id``, ``first``, ``last``, ``n_frames``, ``mean_face_px``,
            ``main``), main face first.
        """
        frames = self.frames()
        main = max(self._tracks, key=lambda tr: tr.mass).id if self._tracks else None
        tracks = [{"id": tr.id, "first": round(tr.first_t, 3), "last": round(tr.last_t, 3), "n_frames": tr.n,
                   "mean_face_px": round(tr.px / max(tr.n, 1), 1), "main": tr.id == main}
                  for tr in sorted(self._tracks, key=lambda tr: -tr.mass)]
        return list(frames), tracks


def aggregate_frames(frames: list[FaceFrame], start: float, end: float) -> tuple[np.ndarray | None, dict[str, float]]:
    """Reliability-weighted mean of the face distributions of the frames in ``[start, end)``.

    Returns:
        ``(probs, quality)``: ``probs`` ``(7,)`` or ``None`` when no frame in the span shows a
        face; ``quality`` has ``n_frames``, ``n_face_frames``, ``coverage`` (share of frames with
        a face), mean ``face_score``, ``face_px``, ``blur`` and the span's ``reliability``
        (mean per-frame reliability × coverage).
    """
    span = [f for f in frames if start <= f.t < end]
    with_face = [f for f in span if f.probs is not None]
    q: dict[str, float] = {"n_frames": float(len(span)), "n_face_frames": float(len(with_face))}
    if not with_face:
        return None, q
    rel = np.array([face_reliability(f.score, f.face_px, f.blur) for f in with_face])
    probs = np.array([f.probs for f in with_face], dtype=np.float64)
    w = rel + 1e-6
    p = (probs * w[:, None]).sum(0) / w.sum()
    cov = len(with_face) / len(span)
    q.update(coverage=cov, face_score=float(np.mean([f.score for f in with_face])),
             face_px=float(np.mean([f.face_px for f in with_face])), blur=float(np.mean([f.blur for f in with_face])),
             reliability=float(rel.mean() * cov))
    return p / p.sum(), q
