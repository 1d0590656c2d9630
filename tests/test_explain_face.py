"""Face heat-maps: a hand-built net whose evidence is known, and the shipped expert (parity, symmetry, format)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from emofuse.errors import ConfigError, DataError
from emofuse.experts import load_expert
from emofuse.experts.face import FaceExpert, FaceNet, FaceNetConfig
from emofuse.explain.face import face_deletion_curve, face_forward, face_heatmaps, overlay_png
from emofuse.labels import get_label_space

HAPPY = get_label_space("fer2013").classes.index("happy")


def square_detector(flip_tta: bool = True, zoom_out: float | None = None) -> FaceExpert:
    """A two-stage FaceNet that only sees bright blobs: ``logit_happy = 500 · mean(relu(mean3x3(x) − 1.2))``.

    After the expert's preprocessing (equalisation, standardisation) a bright square on uniform
    dark noise stands at about +1.7 while 3x3 means of the noise stay near 0 ± 0.35, so only the
    square passes the threshold: it is the whole evidence for "happiness".
    """
    net = FaceNet(FaceNetConfig(widths=(2, 2), depths=(1, 1), dropout=0.0))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        conv1, bn1, conv2, bn2 = net.features[0], net.features[1], net.features[4], net.features[5]
        conv1.weight[0, 0] = 1.0 / 9.0
        bn1.running_mean[:] = torch.tensor([1.2, 0.0])
        bn1.running_var[:] = 1.0
        bn1.weight[:] = 1.0
        conv2.weight[0, 0, 1, 1] = 1.0  # pass channel 0 through
        bn2.running_mean[:] = 0.0
        bn2.running_var[:] = 1.0
        bn2.weight[:] = 1.0
        net.classifier.weight[HAPPY, 0] = 500.0
    card = {"name": "face-fer2013", "classes": list(get_label_space("fer2013").classes),
            "preprocessing": {"function": "preprocess_crop", "crop_size": 48},
            "calibration": {"temperature": 1.3}}
    if zoom_out is not None:
        card["inference"] = {"zoom_out": zoom_out}
    return FaceExpert(net, card, flip_tta=flip_tta)


def square_crops(n: int = 6, seed: int = 0, side: int = 10) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Dark noise with a bright ``side``-px square at a random place inside the top-left quadrant."""
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 100, (n, 48, 48)).astype(np.uint8)
    corners = []
    for c in crops:
        r0, c0 = (int(v) for v in rng.integers(0, 24 - side + 1, 2))
        c[r0:r0 + side, c0:c0 + side] = 255
        corners.append((r0, c0))
    return crops, corners


def drawn_face(seed: int = 0) -> np.ndarray:
    """A grey cartoon face (oval, eyes, brows, smile) with a little noise: 48x48 uint8."""
    yy, xx = np.mgrid[:48, :48].astype(np.float64)
    img = np.full((48, 48), 40.0)
    img[((yy - 25) / 20) ** 2 + ((xx - 24) / 16) ** 2 <= 1] = 170.0
    for cx in (17, 31):
        img[((yy - 19) / 2.5) ** 2 + ((xx - cx) / 3.5) ** 2 <= 1] = 30.0
        img[13:15, cx - 4:cx + 4] = 60.0
    smile = (np.abs(np.hypot(yy - 26, xx - 24) - 10) < 1.5) & (yy > 31)
    img[smile] = 50.0
    img += np.random.default_rng(seed).normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def expert() -> FaceExpert:
    return load_expert("face-fer2013")


# -- known truth -----------------------------------------------------------------------------
@pytest.mark.parametrize(("flip_tta", "zoom"), [(True, None), (False, None), (True, 0.8), (False, 0.8)])
def test_heat_lies_on_the_only_evidence(flip_tta: bool, zoom: float | None):
    """Every view's map, mapped back onto the crop, lands on the square (a wrong inverse warp would not)."""
    model = square_detector(flip_tta, zoom)
    assert model.zoom_tta == zoom
    crops, corners = square_crops()
    assert (model.predict(crops).ekman_labels()) == ["happiness"] * len(crops)
    for r, (r0, c0) in zip(face_heatmaps(model, crops), corners, strict=True):
        assert r["target"] == "happiness" and r["prob"] > 0.9
        row, col = r["peak"]
        assert row < 24 and col < 24  # the top-left quadrant
        assert r0 - 1 <= row <= r0 + 10 and c0 - 1 <= col <= c0 + 10  # on the square
        h = r["heatmap"]
        assert h[:24, :24].sum() > 0.95 * h.sum()


def test_hot_cells_matter_more_than_random_ones_on_the_known_net():
    model = square_detector()
    crops, _ = square_crops(8, seed=1, side=8)
    d = face_deletion_curve(model, crops, fractions=(0.1, 0.3), n_random=4)
    assert d["n_cells"] == [4, 11] and d["n_items"] == 8
    # hiding the square removes the evidence: the probability falls to about chance (1/7)
    chance = 1.0 / 7.0
    assert d["top"][0] == pytest.approx(d["target_prob_full"] - chance, abs=0.02)
    assert d["top"][0] > d["random"][0] + 0.4  # 4 random cells of 36 rarely hit the square
    assert d["top"][1] > d["random"][1] + 0.15  # 11 of 36 hit it more often


# -- the shipped expert ----------------------------------------------------------------------
def test_forward_reproduces_predict(expert: FaceExpert):
    crops = np.stack([drawn_face(i) for i in range(3)] + [np.random.default_rng(5).integers(0, 256, (48, 48))])
    got = face_forward(expert, crops)
    assert got.requires_grad and got.shape == (4, 7)
    np.testing.assert_allclose(got.detach().numpy(), expert.predict(crops).ekman, atol=1e-5)
    no_tta = load_expert("face-fer2013", flip_tta=False, zoom_tta=False)
    np.testing.assert_allclose(face_forward(no_tta, crops).detach().numpy(), no_tta.predict(crops).ekman, atol=1e-5)
    zoomed = square_detector(True, 0.8)  # the zoomed-out view goes through the same forward
    np.testing.assert_allclose(face_forward(zoomed, crops).detach().numpy(), zoomed.predict(crops).ekman, atol=1e-5)


def test_heatmap_format_and_values(expert: FaceExpert):
    crops = np.stack([drawn_face(0), drawn_face(1)])
    out = expert.predict(crops)
    res = face_heatmaps(expert, crops)
    assert [r["target"] for r in res] == out.ekman_labels()
    for i, r in enumerate(res):
        assert set(r) == {"method", "target", "prob", "heatmap", "grid", "peak"} and r["method"] == "grad_cam"
        h = r["heatmap"]
        assert h.shape == (48, 48) and h.dtype == np.float32
        assert h.min() >= 0.0 and h.max() == pytest.approx(1.0)
        assert r["prob"] == pytest.approx(float(out.ekman[i].max()), abs=1e-5)
        grid = np.asarray(r["grid"])
        assert grid.shape == (6, 6) and all(isinstance(v, float) for row in r["grid"] for v in row)
        np.testing.assert_allclose(grid, h.reshape(6, 8, 6, 8).mean((1, 3)), atol=1e-6)
        assert h[r["peak"][0], r["peak"][1]] == h.max()
    # an explicit target explains that class, with its probability (a class other than the top one)
    classes = list(out.ekman_classes)
    k = int(np.argsort(out.ekman[0])[-2])  # the runner-up: its map must differ from the top class's
    other = face_heatmaps(expert, crops[0], targets=classes[k])[0]
    assert other["target"] == classes[k] != res[0]["target"]
    assert other["prob"] == pytest.approx(float(out.ekman[0, k]), abs=1e-5)
    assert not np.allclose(other["heatmap"], res[0]["heatmap"])


def test_flip_tta_maps_are_mirror_symmetric(expert: FaceExpert):
    """Preprocessing is flip-equivariant and the TTA averages both views: mirror in, mirror out."""
    crop = drawn_face(3)
    crop[5:15, 30:44] = 250  # break the face's own symmetry
    a = face_heatmaps(expert, crop)[0]
    b = face_heatmaps(expert, crop[:, ::-1].copy(), targets=a["target"])[0]
    assert b["prob"] == pytest.approx(a["prob"], abs=1e-5)
    np.testing.assert_allclose(b["heatmap"], a["heatmap"][:, ::-1], atol=1e-4)


def test_bad_inputs_and_targets(expert: FaceExpert):
    crop = drawn_face()
    with pytest.raises(DataError, match=r"\(48, 48\)"):
        face_heatmaps(expert, np.zeros((40, 48), np.uint8))
    nan = crop.astype(np.float32)
    nan[3, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        face_heatmaps(expert, nan)
    with pytest.raises(DataError, match="empty"):
        face_heatmaps(expert, np.zeros((0, 48, 48), np.uint8))
    with pytest.raises(ConfigError, match="happiness"):
        face_heatmaps(expert, crop, targets="happy")  # a fer2013 name, not an Ekman one
    with pytest.raises(ConfigError, match="2 targets for 1 crops"):
        face_heatmaps(expert, crop, targets=["anger", "fear"])
    with pytest.raises(ConfigError, match="FaceExpert"):
        face_heatmaps(object(), crop)
    with pytest.raises(ConfigError, match="fractions"):
        face_deletion_curve(expert, crop, fractions=(0.0,))


def test_deletion_curve_format_and_seed(expert: FaceExpert):
    crops = np.stack([drawn_face(i) for i in range(3)])
    a = face_deletion_curve(expert, crops, fractions=(0.2, 0.5), n_random=2, seed=3)
    b = face_deletion_curve(expert, crops, fractions=(0.2, 0.5), n_random=2, seed=3)
    assert a == b
    assert {"fractions", "top", "random", "n_items", "target_prob_full"} <= set(a)
    assert a["fractions"] == [0.2, 0.5] and a["n_cells"] == [7, 18] and a["n_items"] == 3
    assert all(isinstance(v, float) and -1.0 <= v <= 1.0 for v in a["top"] + a["random"])
    assert a["target_prob_full"] == pytest.approx(float(expert.predict(crops).ekman.max(1).mean()), abs=1e-5)


def test_overlay_png(expert: FaceExpert):
    crop = drawn_face()
    heat = face_heatmaps(expert, crop)[0]["heatmap"]
    img = np.asarray(Image.open(io.BytesIO(overlay_png(crop, heat, size=96))))
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    plain = np.asarray(Image.open(io.BytesIO(overlay_png(crop, heat, size=48, alpha=0.0))))
    np.testing.assert_array_equal(plain[:, :, 0], crop)  # alpha 0: the face alone
    hot = np.zeros((48, 48))
    hot[:24] = 1.0
    tinted = np.asarray(Image.open(io.BytesIO(overlay_png(crop, hot, size=48, alpha=1.0, cmap="gray")))).astype(int)
    assert (tinted[:24] == 255).all() and (tinted[24:] == 0).all()
    with pytest.raises(DataError):
        overlay_png(crop, heat[:40])
    with pytest.raises(ConfigError):
        overlay_png(crop, heat, cmap="no-such-map")
