"""The face path of the pipeline: detect faces on sampled frames, track them, read expressions.

For each sampled frame (:class:`~emofuse.media.stream.VideoSample`):

1. MediaPipe face detection (:class:`~emofuse.media.face.FaceDetector`) finds the faces;
   the ``max_faces`` largest are kept;
2. each face is cropped with the FER2013 framing the face expert was trained on
   (:func:`~emofuse.media.face.crop_detection`) and read by the expert (batched across
   frames for speed);
3. faces are linked across frames into **tracks** by box overlap (IoU) with the tracks seen in
   the last ``max_gap_s`` seconds *and* by appearance: a face continues a track only if its crop
   looks like the track's recent appearance (:func:`appearance`, :data:`SAME_FACE_MIN`), so a
   face replaced by another person's in the same place (a cut, a new speaker) starts a new
   track, while one odd frame (a hand, motion blur) makes a one-frame track and the person's
   track goes on after it.

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

__all__ = ["FULL_SIZE_PX", "SAME_FACE_MIN", "SHARP_BLUR", "FacePath", "appearance", "face_reliability", "iou"]

#: Faces at least this many pixels wide (original video pixels) get the full size factor.
FULL_SIZE_PX = 64.0
#: 48x48 crops with at least this Laplacian variance get the full sharpness factor.
SHARP_BLUR = 60.0
#: Least :func:`appearance` similarity for a face to continue a track. Measured on 48x48
#: FER2013 crops: of pairs of different faces, 1.3 % reach it (median 0.37, 99th percentile
#: 0.77); the same crop under ±25° roll, ±4 px shift, ±30 % contrast, ±30 grey levels and noise
#: never fell below it (0.80 at the 0.1st percentile, 0.97 median); the demo clip's drifting,
#: rolling face keeps 0.89 at least, a photo drifting over a synthetic video 0.96.
SAME_FACE_MIN = 0.75
#: In-plane rotations (degrees) tried when comparing appearances (a head tilts).
ROLLS = (0.0, -20.0, -10.0, 10.0, 20.0)
#: Shifts (48x48-crop pixels, even) tried when comparing appearances (detector boxes jitter).
SHIFTS = (-4, -2, 0, 2, 4)
#: Recent faces a track's appearance is compared with (it follows slow changes of pose and light).
RECENT_FACES = 5


def face_reliability(score: float, face_px: float, blur: float) -> float:
    """Reliability of one face reading: ``score × size factor × sharpness factor``, in ``[0, 1]``."""
    size = min(1.0, max(0.0, face_px / FULL_SIZE_PX))
    sharp = min(1.0, max(0.1, blur / SHARP_BLUR))
    return float(min(1.0, max(0.0, score)) * size * sharp)


def _descriptors(g: np.ndarray) -> np.ndarray:
    """``(len(SHIFTS)**2, 81)``: the 9x9 grid of 4x4 block means of the centre 36x36 of a 48x48
    crop, at each shift in :data:`SHIFTS` (the unshifted one first), less its mean, unit length."""
    q = g.reshape(24, 2, 24, 2).mean((1, 3))  # 2x2 means
    b = (q[:-1, :-1] + q[1:, :-1] + q[:-1, 1:] + q[1:, 1:]) / 4  # (23, 23): 4x4 means on a 2-pixel stride
    offs = sorted(((6 + dy) // 2 for dy in SHIFTS), key=lambda o: abs(o - 3))
    rows = np.stack([b[i:i + 17:2, j:j + 17:2].ravel() for i in offs for j in offs])
    rows -= rows.mean(1, keepdims=True)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-6)


def appearance(crop: np.ndarray, rolls: tuple[float, ...] = ROLLS) -> np.ndarray | None:
    """A cheap appearance descriptor of a ``(48, 48)`` uint8 face crop: ``(R, 81)``, or ``None`` for a flat crop.

    The centre 36x36 (the face, not the background around it) averaged to 9x9 blocks, less its
    mean, unit length — one row per in-plane rotation in :data:`ROLLS` and shift in
    :data:`SHIFTS` (the first row unrotated and unshifted, a track keeps that one): the dot
    product of two rows is their normalised cross-correlation, unchanged by brightness and
    contrast, and the best over the rows tolerates a head tilted differently and a detector box
    that sits a few pixels off the face.
    """
    from scipy.ndimage import rotate

    g = np.asarray(crop, np.float32)
    if float(g[6:42, 6:42].std()) < 1.0:
        return None
    return np.concatenate([_descriptors(g if not a else rotate(g, a, reshape=False, order=1, mode="nearest"))
                           for a in rolls])


def _similarity(look: np.ndarray | None, recent: list[np.ndarray]) -> float:
    """Best match of a new face's :func:`appearance` with a track's recent unrotated descriptors.

    1 when either says nothing (a flat crop, a track without appearance yet).
    """
    if look is None or not recent:
        return 1.0
    return float((look @ np.stack(recent).T).max())


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
    recent: list[np.ndarray] = field(default_factory=list)  # unrotated descriptors of its last faces

    def seen(self, look: np.ndarray | None) -> None:
        """Remember a new face's (unrotated) descriptor."""
        if look is not None:
            self.recent = [*self.recent[-(RECENT_FACES - 1):], look[0]]


@dataclass
class _Face:
    track: int
    score: float
    face_px: float
    blur: float
    probs: np.ndarray | None = None
    gray: np.ndarray | None = None  # the 48x48 crop, kept only for explanations (keep_crops)


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
        min_similarity: Appearance similarity needed to continue a track (:data:`SAME_FACE_MIN`;
            ``-1`` turns the appearance check off: tracks by position only).
        keep_crops: Keep the main face's 48x48 crop of each timeline frame in :attr:`crops`
            (``{t: (48, 48) uint8}``, for heat-map explanations); the owner drops old ones
            (:meth:`drop_crops_before`) so memory stays flat.
    """

    def __init__(self, expert: Any, detector: Any = None, *, max_faces: int = 3, min_score: float = 0.5,
                 max_gap_s: float = 5.0, min_iou: float = 0.3, batch: int = 64,
                 min_similarity: float = SAME_FACE_MIN, keep_crops: bool = False) -> None:
        if detector is None:
            from emofuse.media.face import FaceDetector

            detector = FaceDetector(min_score=min_score)
        self.expert, self.detector = expert, detector
        self.max_faces, self.min_score = int(max_faces), float(min_score)
        self.max_gap_s, self.min_iou, self.batch = float(max_gap_s), float(min_iou), int(batch)
        self.min_similarity = float(min_similarity)
        self._tracks: list[_Track] = []
        self._frames: list[_FrameRec] = []  # read, not yet in the timeline (their faces may wait for the expert)
        self._queue: list[tuple[_Face, np.ndarray]] = []
        self.timeline: list[FaceFrame] = []  # final entries, in time order
        self.times: list[float] = []  # their times (kept beside the timeline: segments bisect on it)
        self.last_t = -1.0  # time of the last processed frame
        self.keep_crops = bool(keep_crops)
        self.crops: dict[float, np.ndarray] = {}

    def _assign(self, box: tuple[float, float, float, float], t: float, used: set[int],
                crop: np.ndarray) -> _Track:
        """The track this face continues (where it was *and* looking like it), else a new one.

        The unrotated descriptor is tried first; the rotated ones (:data:`ROLLS`, 5x the cost)
        only when it does not already match a track that overlaps.
        """
        near = [tr for tr in self._tracks if tr.id not in used and t - tr.last_t <= self.max_gap_s
                and iou(box, tr.box) >= self.min_iou]
        look = appearance(crop, rolls=ROLLS[:1])
        best, best_key = None, (-2.0, 0.0)
        for attempt in range(2):
            for tr in near:
                sim = _similarity(look, tr.recent)
                if sim >= self.min_similarity and (sim, iou(box, tr.box)) > best_key:
                    best, best_key = tr, (sim, iou(box, tr.box))
            if best is not None or not near or look is None or attempt:
                break
            look = appearance(crop)  # every roll: a tilted head still matches its track
        if best is None:
            best = _Track(id=len(self._tracks), box=box, last_t=t, first_t=t)
            self._tracks.append(best)
        best.box, best.last_t = box, t
        best.seen(look)
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
                crop = crop_detection(gray, d)
                # appearance from the crop as framed, not levelled: the eye keypoints that level it
                # jitter by several degrees from frame to frame; a real tilt is met by ROLLS
                plain = crop if not crop.roll else crop_detection(gray, d, align=False)
                tr = self._assign((float(d[0]), float(d[1]), float(d[2]), float(d[3])), t, used, plain.gray)
                used.add(tr.id)
                px = crop.face_px / max(scale, 1e-6)
                tr.n += 1
                tr.mass += px * crop.score
                tr.px += px
                face = _Face(track=tr.id, score=crop.score, face_px=round(px, 1), blur=round(crop.blur, 1),
                             gray=crop.gray if self.keep_crops else None)
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
            if pick.gray is not None:
                self.crops[round(rec.t, 3)] = pick.gray
        self.times.extend(f.t for f in self.timeline[len(self.times):])
        self._frames = []
        return self.timeline

    def drop_crops_before(self, t: float) -> None:
        """Forget the kept crops of frames before ``t`` seconds."""
        for k in [k for k in self.crops if k < t]:
            del self.crops[k]

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
