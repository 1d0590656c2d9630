"""The shipped face expert: offline loading, determinism, input validation, model card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emofuse.errors import CheckpointError, ConfigError, DataError
from emofuse.experts import EXPERTS, list_experts, load_expert
from emofuse.experts.base import CARD_FILE, REQUIRED_CARD_FIELDS, WEIGHTS_FILE, read_card, weights_dir
from emofuse.experts.face import FaceExpert, FaceNet, FaceNetConfig, zoom_out
from emofuse.labels import get_label_space
from emofuse.media.face import crop_face, preprocess_crop

NAME = "face-fer2013"


@pytest.fixture(scope="module")
def expert() -> FaceExpert:
    e = load_expert(NAME)
    assert isinstance(e, FaceExpert)
    return e


def _crops(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 48, 48), dtype=np.uint8)


def test_registered() -> None:
    assert NAME in list_experts(modality="face")
    assert EXPERTS.get(NAME) is FaceExpert
    assert FaceExpert.label_space == "fer2013" and not FaceExpert.multilabel


def test_card_has_required_fields() -> None:
    card = read_card(weights_dir(NAME))
    assert all(f in card for f in REQUIRED_CARD_FIELDS)
    assert card["classes"] == list(get_label_space("fer2013").classes)
    assert card["calibration"]["temperature"] > 0
    assert 0 <= card["metrics"]["publictest"]["accuracy"] <= 1
    assert card["preprocessing"]["function"] == "preprocess_crop"


def test_weights_small_and_safetensors() -> None:
    w = weights_dir(NAME) / WEIGHTS_FILE
    assert w.is_file() and w.stat().st_size < 20e6
    assert sum(p.numel() for p in FaceNet(FaceNetConfig()).parameters()) < 2_000_000


def test_deterministic_probabilities(expert: FaceExpert) -> None:
    x = _crops(3)
    a, b = expert.predict(x), expert.predict(x.copy())
    assert a.probs.shape == (3, 7) and a.ekman.shape == (3, 7)
    assert a.probs.dtype == np.float32
    np.testing.assert_array_equal(a.probs, b.probs)
    np.testing.assert_allclose(a.probs.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a.ekman.sum(1), 1.0, atol=1e-5)
    assert np.isfinite(a.probs).all() and (a.probs >= 0).all()
    single = expert.predict(x[1])
    np.testing.assert_allclose(single.probs[0], a.probs[1], atol=1e-5)  # batch of 1 equals batched
    assert expert.predict(list(x)).probs.shape == (3, 7)
    assert expert.predict(x[:, None]).probs.shape == (3, 7)  # (N, 1, 48, 48)


def test_ekman_view_is_tempered_native(expert: FaceExpert) -> None:
    out = expert.predict(_crops(4, seed=1))
    assert out.ekman_labels() == [get_label_space("ekman7").classes[i] for i in out.probs.argmax(1)]
    if abs(expert.temperature - 1.0) > 1e-3:
        assert not np.allclose(out.ekman, out.probs)
    assert len(out.to_records()) == 4


def test_flip_tta_is_symmetric(expert: FaceExpert) -> None:
    x = _crops(2, seed=2)
    np.testing.assert_allclose(expert.predict(x).probs, expert.predict(x[:, :, ::-1]).probs, atol=1e-5)


def test_zoom_view_follows_the_card(expert: FaceExpert) -> None:
    """The zoomed-out view is the card's (``inference.zoom_out``), can be switched off, and is validated."""
    x = _crops(3, seed=4)
    card = dict(expert.card, inference={"zoom_out": 0.85})
    zoomed = FaceExpert(expert.net, card)
    assert zoomed.zoom_tta == 0.85 and FaceExpert(expert.net, card, zoom_tta=False).zoom_tta is None
    # the mean of the three views' logits, computed here view by view
    t = torch.from_numpy(np.stack([preprocess_crop(c) for c in x]))[:, None]
    with torch.inference_mode():
        want = torch.stack([expert.net(t), expert.net(torch.flip(t, dims=(3,))), expert.net(zoom_out(t, 0.85))])
    np.testing.assert_allclose(zoomed.logits(x), want.mean(0).double().numpy(), atol=1e-5)
    assert not np.allclose(zoomed.logits(x), FaceExpert(expert.net, card, zoom_tta=False).logits(x), atol=1e-4)
    # zoom_out shrinks the content around the centre: a centred bright square gets smaller
    sq = torch.zeros(1, 1, 48, 48)
    sq[..., 14:34, 14:34] = 1.0
    assert 0.6 * 400 < float(zoom_out(sq, 0.8).sum()) < 0.7 * 400  # 0.8^2 = 0.64 of the area
    for bad in (1.2, 0.1, "0.9"):
        with pytest.raises(CheckpointError, match="zoom_out"):
            FaceExpert(expert.net, dict(expert.card, inference={"zoom_out": bad}))


@pytest.mark.parametrize("bad", [
    np.zeros((0, 48, 48), np.uint8),
    np.zeros((0,), np.uint8),
    np.zeros((64, 64), np.uint8),
    np.zeros((2, 48, 47), np.uint8),
    np.zeros((48, 48), dtype=bool),
    np.zeros((48, 48), dtype=complex),
    np.full((48, 48), "a"),
    np.full((48, 48), np.nan),
    np.full((1, 48, 48), np.inf),
    np.full((48, 48), 999.0),
    [],
    "face.png",
])
def test_bad_input_raises(expert: FaceExpert, bad: object) -> None:
    with pytest.raises(DataError):
        expert.predict(bad)


def test_predict_image_with_generated_detection(expert: FaceExpert) -> None:
    img = np.random.default_rng(5).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    assert expert.predict_image(img, detector=lambda rgb: []) is None
    res = expert.predict_image(img, detector=lambda rgb: [(40.0, 30.0, 100.0, 90.0, 0.97)])
    assert res is not None
    out, crop = res
    assert out.probs.shape == (1, 7) and out.info["score"] == [pytest.approx(0.97)]
    np.testing.assert_array_equal(out.probs, expert.predict(crop_face(img, detector=lambda rgb: [
        (40.0, 30.0, 100.0, 90.0, 0.97)])).probs)


def test_loading_is_strict(tmp_path: Path) -> None:
    d = tmp_path / NAME
    shutil.copytree(weights_dir(NAME), d)
    card = json.loads((d / CARD_FILE).read_text())
    card["head"]["config"]["widths"] = [8, 16, 32, 64, 128]
    (d / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(CheckpointError):
        load_expert(NAME, weights=d)
    card["head"]["config"]["bogus"] = 1
    (d / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ConfigError):
        load_expert(NAME, weights=d)


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        FaceNetConfig(widths=(8, 16), depths=(1,))
    with pytest.raises(ConfigError):
        FaceNetConfig(widths=(8,) * 8, depths=(1,) * 8)
    assert FaceNetConfig.from_dict(FaceNetConfig().to_dict()) == FaceNetConfig()


def test_predict_image_takes_small_images_as_crops(expert: FaceExpert) -> None:
    import io

    from PIL import Image

    crop = _crops(1, seed=6)[0]
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="PNG")

    def no_detection(rgb: np.ndarray) -> list:
        raise AssertionError("a 48x48 crop must not go through face detection")

    res = expert.predict_image(buf.getvalue(), detector=no_detection)
    assert res is not None and not res[1].detected
    np.testing.assert_array_equal(res[0].probs, expert.predict(crop).probs)
