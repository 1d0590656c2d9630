"""Where the face expert looks: Grad-CAM heat-maps, overlays and a deletion test of their faithfulness.

:func:`face_heatmaps` explains the calibrated Ekman probability that
:meth:`FaceExpert.predict <emofuse.experts.face.FaceExpert.predict>` returns, with Grad-CAM
(Selvaraju et al., ICCV 2017; Captum ``LayerGradCam``) on the last conv block of
:class:`~emofuse.experts.face.FaceNet`: the channels of that block's activation ``A`` are weighted
by the spatial mean of ``∂p_target/∂A`` and summed. The forward it differentiates is the expert's own
(:func:`~emofuse.media.face.preprocess_crop`, the test-time views, the temperature), so the
probability explained is the one the expert reports. With test-time augmentation the activation is
computed for every view (the crop, its mirror image, a zoomed-out copy); each view's map is mapped
back onto the crop (the mirror's flipped, the zoomed-out one enlarged) and the maps are summed
before the ReLU, the Grad-CAM of the averaged prediction.

The last block of the shipped network works at 3x3 px, so a heat-map is a smooth blob upsampled
(bilinear) to 48x48: it says which region of the face matters, not which pixels.

:func:`face_deletion_curve` checks that the maps mean something: occluding the hottest 8x8 cells of
a crop should lower the target probability more than occluding as many random cells.

Example:
    >>> import numpy as np
    >>> from emofuse.experts import load_expert
    >>> expert = load_expert("face-fer2013")
    >>> crop = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    >>> r = face_heatmaps(expert, crop)[0]
    >>> r["heatmap"].shape, len(r["grid"]), r["method"]
    ((48, 48), 6, 'grad_cam')
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.experts.base import ExpertOutput
from emofuse.experts.face import FaceExpert, _as_crops, tta_views, zoom_out
from emofuse.explain.deletion import check_deletion_args, deletion_result
from emofuse.media.face import CROP_SIZE, preprocess_batch

__all__ = ["CELL", "face_deletion_curve", "face_forward", "face_heatmaps", "overlay_png"]

#: Side (px) of the cells of the heat grid and of the occlusion test: a 48 px crop is 6x6 cells.
CELL = 8
_GRID = CROP_SIZE // CELL


class _EkmanForward(nn.Module):
    """Preprocessed crops ``(N, 1, 48, 48)`` → calibrated Ekman probabilities ``(N, 7)``.

    The same arithmetic as :meth:`FaceExpert.predict`: native logits averaged over the expert's
    test-time views (:func:`~emofuse.experts.face.tta_views`: the crop, its mirror, a zoomed-out
    copy), divided by the temperature, softmax (fer2013 maps one-to-one, in order, onto ekman7).
    The ``V`` views go through ``net.features`` as one batch of ``V*N`` (view-major) so that the
    Grad-CAM layer is called once and its activation holds every view.
    """

    def __init__(self, expert: FaceExpert) -> None:
        super().__init__()
        self.net = expert.net
        self.flip_tta = expert.flip_tta
        self.zoom_tta = expert.zoom_tta
        self.temperature = float(expert.temperature)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` ``(N, 1, 48, 48)`` preprocessed → ``(N, 7)`` probabilities."""
        n = x.shape[0]
        views = tta_views(x, self.flip_tta, self.zoom_tta)
        a = self.net.features(torch.cat(views))
        z = self.net.classifier(self.net.dropout(a.mean((2, 3))))
        z = z.view(len(views), n, -1).mean(0)
        return torch.softmax(z / self.temperature, dim=-1)


def _check_expert(expert: Any) -> FaceExpert:
    if not isinstance(expert, FaceExpert):
        raise ConfigError(f"face explanations need a FaceExpert (load_expert('face-fer2013')), "
                          f"got {type(expert).__name__}")
    return expert


def face_forward(expert: FaceExpert, crops: Any) -> Tensor:
    """The differentiable forward that :func:`face_heatmaps` explains.

    Args:
        expert: A :class:`~emofuse.experts.face.FaceExpert` (any :class:`FaceNet` inside).
        crops: ``(48, 48)`` or ``(N, 48, 48)`` grey crops, pixels 0..255.

    Returns:
        ``(N, 7)`` float32 calibrated Ekman probabilities, equal to ``expert.predict(crops).ekman``
        up to float rounding (about 1e-7), with autograd enabled.
    """
    expert = _check_expert(expert)
    x = torch.from_numpy(preprocess_batch(_as_crops(crops)))[:, None]
    return _EkmanForward(expert)(x)


def _targets(targets: str | Sequence[str] | None, n: int, predicted: np.ndarray) -> list[int]:
    """Ekman class names (one for all, or one per crop; ``None`` = predicted) → indices."""
    classes = ExpertOutput.ekman_classes
    if targets is None:
        return [int(i) for i in predicted]
    names = [targets] * n if isinstance(targets, str) else list(targets)
    if len(names) != n:
        raise ConfigError(f"face explanations: got {len(names)} targets for {n} crops; give one Ekman class "
                          "name for all crops or one per crop")
    out = []
    for name in names:
        if name not in classes:
            # a ConfigError (the contract of a bad option) carrying the registry's close-match text
            raise ConfigError(str(UnknownNameError("Ekman class (target)", str(name), classes)))
        out.append(classes.index(name))
    return out


def _grad_cam(expert: FaceExpert, x: Tensor, target: list[int]) -> np.ndarray:
    """Preprocessed ``(N, 1, 48, 48)`` → Grad-CAM maps ``(N, 48, 48)`` float32 in [0, 1]."""
    from captum.attr import LayerAttribution, LayerGradCam

    fwd = _EkmanForward(expert)
    # the Sequential's output is the last conv block's (ReLU) activation; hooking the Sequential
    # rather than that in-place ReLU keeps Captum's hooks away from in-place ops
    cam = LayerGradCam(fwd, fwd.net.features).attribute(x, target=target)
    cam = LayerAttribution.interpolate(cam, (CROP_SIZE, CROP_SIZE), interpolate_mode="bilinear")[:, 0]
    n = x.shape[0]
    blocks = list(cam.split(n))  # one (n, 48, 48) block per view, in tta_views order
    cam = blocks.pop(0)
    if expert.flip_tta:  # the mirror's map, flipped back onto the crop
        cam = cam + torch.flip(blocks.pop(0), dims=(2,))
    if expert.zoom_tta is not None:  # the zoomed-out view shows crop point u at zoom*u: read it back there
        cam = cam + zoom_out(blocks.pop(0)[:, None], 1.0 / expert.zoom_tta)[:, 0]
    cam = torch.relu(cam).detach().double().numpy()
    peak = cam.reshape(n, -1).max(1)
    scale = np.where(peak > 0, peak, 1.0)[:, None, None]  # an all-zero map stays zero
    return (cam / scale).astype(np.float32)


def _grid(heat: np.ndarray) -> np.ndarray:
    """``(..., 48, 48)`` → ``(..., 6, 6)`` mean per 8x8 cell."""
    return heat.reshape(*heat.shape[:-2], _GRID, CELL, _GRID, CELL).mean((-3, -1))


class _Threads:
    """Run with the expert's torch thread setting, as its own ``logits`` does."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, torch.get_num_threads()

    def __enter__(self) -> None:
        if self.n is not None:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.old)


def face_heatmaps(expert: FaceExpert, crops: Any, *, targets: str | Sequence[str] | None = None,
                  batch_size: int = 64) -> list[dict[str, Any]]:
    """Grad-CAM heat-maps of the face expert's calibrated Ekman probability.

    Args:
        expert: A :class:`~emofuse.experts.face.FaceExpert` (``load_expert("face-fer2013")``, or one
            built around any :class:`~emofuse.experts.face.FaceNet` and card).
        crops: One ``(48, 48)`` grey crop or ``(N, 48, 48)`` crops, uint8 (or reals in 0..255), or a
            :class:`~emofuse.media.face.FaceCrop` or a list of them: what ``expert.predict`` takes.
        targets: Ekman class explained (``"happiness"``, ...), one for all crops or one per crop;
            ``None``: each crop's predicted class.
        batch_size: Crops per backward pass.

    Returns:
        One dict per crop: ``"method"`` ``"grad_cam"``; ``"target"`` the Ekman class name;
        ``"prob"`` its calibrated probability (float, as ``expert.predict(crops).ekman``);
        ``"heatmap"`` ``(48, 48)`` float32 in [0, 1] (max 1 unless the map is all zero), in crop
        pixels; ``"grid"`` 6 lists of 6 floats, the mean heat of each 8x8 cell (row-major, top
        left first); ``"peak"`` ``[row, col]`` pixel of the maximum.

    Raises:
        DataError: Crops of the wrong shape or dtype, NaN/inf, or none.
        ConfigError: Not a face expert, a target that is not an Ekman class (the message lists
            close matches and the classes), or the wrong number of targets.
    """
    expert = _check_expert(expert)
    crops = _as_crops(crops)
    x = torch.from_numpy(preprocess_batch(crops))[:, None]
    fwd = _EkmanForward(expert)
    with _Threads(expert.num_threads):
        with torch.no_grad():
            probs = torch.cat([fwd(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]).double().numpy()
        tgt = _targets(targets, len(crops), probs.argmax(1))
        heat = np.concatenate([_grad_cam(expert, x[i:i + batch_size], tgt[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])
    grids = _grid(heat)
    classes = ExpertOutput.ekman_classes
    out = []
    for i, h in enumerate(heat):
        r, c = np.unravel_index(int(h.argmax()), h.shape)
        out.append({"method": "grad_cam", "target": classes[tgt[i]], "prob": float(probs[i, tgt[i]]),
                    "heatmap": h, "grid": [[float(v) for v in row] for row in grids[i]],
                    "peak": [int(r), int(c)]})
    return out


def overlay_png(crop: Any, heatmap: Any, *, size: int = 96, alpha: float = 0.45, cmap: str = "jet") -> bytes:
    """A PNG of a grey face crop with its heat-map blended over it (for reports).

    Args:
        crop: ``(48, 48)`` grey crop, pixels 0..255.
        heatmap: ``(48, 48)`` heat in [0, 1] (values outside are clipped).
        size: Side of the PNG in pixels (the crop is upscaled bilinearly).
        alpha: Weight of the colour map in the blend (0 = face only, 1 = heat only).
        cmap: Matplotlib colour map name.

    Returns:
        PNG bytes of a ``(size, size)`` RGB image.

    Raises:
        DataError: Wrong shapes, non-finite values.
        ConfigError: ``size`` < 1, ``alpha`` outside [0, 1], or an unknown colour map.
    """
    import matplotlib
    from PIL import Image

    g = _as_crops(crop)
    if len(g) != 1:
        raise DataError(f"overlay_png: expected one (48, 48) crop, got {len(g)}")
    h = np.asarray(heatmap, dtype=np.float64)
    if h.shape != (CROP_SIZE, CROP_SIZE) or not np.isfinite(h).all():
        raise DataError(f"overlay_png: expected a finite (48, 48) heat-map, got shape {h.shape}")
    if int(size) < 1 or not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"overlay_png: size must be >= 1 and alpha in [0, 1], got size={size}, alpha={alpha}")
    try:
        colours = matplotlib.colormaps[cmap]
    except KeyError:
        raise ConfigError(f"overlay_png: unknown matplotlib colour map {cmap!r}") from None
    face = np.repeat(np.clip(g[0], 0, 255).astype(np.float64)[:, :, None] / 255.0, 3, axis=2)
    rgb = (1.0 - alpha) * face + alpha * colours(np.clip(h, 0.0, 1.0))[:, :, :3]
    img = Image.fromarray(np.round(rgb * 255).astype(np.uint8)).resize((int(size), int(size)), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def face_deletion_curve(expert: FaceExpert, crops: Any, *, fractions: Sequence[float] = (0.1, 0.2, 0.3, 0.5),
                        targets: str | Sequence[str] | None = None, seed: int = 0, n_random: int = 5,
                        batch_size: int = 256) -> dict[str, Any]:
    """Deletion test of the heat-maps: occlude the hottest cells vs random cells, see the probability drop.

    The crop is cut into 6x6 cells of 8x8 px. For each fraction ``f`` the ``k = round(36 f)``
    cells of highest mean heat (:func:`face_heatmaps`) are filled with the crop's mean grey, and,
    as the baseline, ``n_random`` draws of ``k`` random cells are. The drop is the full crop's
    target probability minus the occluded one (positive = the probability fell). Occlusion acts on
    the raw pixels, so the expert's histogram equalisation and standardisation see the grey patch
    as a user's image would be.

    Args:
        expert: A :class:`~emofuse.experts.face.FaceExpert`.
        crops: ``(N, 48, 48)`` grey crops (anything :func:`face_heatmaps` takes).
        fractions: Fractions of the 36 cells to occlude, each in (0, 1].
        targets: Ekman class per crop (or one for all); ``None``: the predicted class.
        seed: Seed of the random cells.
        n_random: Random draws per crop and fraction.
        batch_size: Crops per forward pass.

    Returns:
        ``{"fractions": [f, ...], "n_cells": [k, ...], "top": [mean drop, ...], "random": [mean
        drop, ...], "top_std": [...], "random_std": [...], "n_items": N, "target_prob_full": mean
        target probability of the full crops}``; drops are probabilities (0..1) averaged over
        crops (and random draws), the ``*_std`` their standard deviation over crops.

    Raises:
        DataError: Bad crops (as :func:`face_heatmaps`).
        ConfigError: A fraction outside (0, 1], ``n_random`` < 1, or bad targets.
    """
    fr = check_deletion_args("face_deletion_curve", fractions, n_random)
    expert = _check_expert(expert)
    g = _as_crops(crops).astype(np.float64)
    maps = face_heatmaps(expert, g, targets=targets)
    tgt = np.asarray([ExpertOutput.ekman_classes.index(m["target"]) for m in maps])
    p_full = np.asarray([m["prob"] for m in maps])
    n, n_cells = len(g), _GRID * _GRID
    order = np.argsort(-np.asarray([m["grid"] for m in maps]).reshape(n, -1), axis=1, kind="stable")
    rng = np.random.default_rng(seed)
    ks = [max(1, round(f * n_cells)) for f in fr]

    def occlude(cells: np.ndarray) -> np.ndarray:
        """``cells`` ``(N, n_cells)`` bool → occluded copies ``(N, 48, 48)``."""
        pix = np.repeat(np.repeat(cells.reshape(n, _GRID, _GRID), CELL, 1), CELL, 2)
        return np.where(pix, g.mean((1, 2), keepdims=True), g)

    def target_prob(images: np.ndarray) -> np.ndarray:
        ek = np.concatenate([expert.predict(images[i:i + batch_size]).ekman
                             for i in range(0, len(images), batch_size)])
        return ek[np.arange(n), tgt].astype(np.float64)

    top, rand = np.zeros((n, len(ks))), np.zeros((n, len(ks)))
    for j, k in enumerate(ks):
        cells = np.zeros((n, n_cells), dtype=bool)
        np.put_along_axis(cells, order[:, :k], True, axis=1)
        top[:, j] = p_full - target_prob(occlude(cells))
        for _ in range(int(n_random)):
            pick = np.argsort(rng.random((n, n_cells)), axis=1)[:, :k]
            cells = np.zeros((n, n_cells), dtype=bool)
            np.put_along_axis(cells, pick, True, axis=1)
            rand[:, j] += (p_full - target_prob(occlude(cells))) / int(n_random)
    return deletion_result(fr, top, rand, p_full, n_cells=ks)
