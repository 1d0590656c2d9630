"""Facial expression expert: a compact CNN on FER2013-style 48x48 grey face crops.

The network (:class:`FaceNet`) is a small VGG-style CNN with batch normalisation (about
0.58 M parameters, 2.3 MB of float32 weights): five 3x3 conv stages of 16-32-64-128-256
channels at 48/24/12/6/3 px, global average pooling, dropout and a linear layer over the
seven FER2013 classes. It reads the output of :func:`emofuse.media.face.preprocess_crop`
(histogram equalisation + per-image standardisation), the same function the training recipe
applies to the FER2013 rows. Test-time augmentation is on by default, as in the reported
validation figures: the logits of the crop, of its mirror image and, where the card names a
``inference.zoom_out`` scale, of the crop shrunk around its centre (:func:`tta_views`) are averaged.

FER2013's classes map one-to-one onto ``ekman7``; the Ekman view is the native logits divided
by a temperature fitted on FER2013 PublicTest (the validation split).

Inputs of :meth:`FaceExpert.predict`: one ``(48, 48)`` grey crop, a ``(N, 48, 48)`` stack,
a :class:`~emofuse.media.face.FaceCrop` or a list of crops/FaceCrops. Images of any size (files,
bytes, arrays) go through :meth:`FaceExpert.predict_image`: small images are face crops already,
larger ones are detected and cropped first (:func:`emofuse.media.face.face_from_image`), and
``None`` answers an image without a face.

Example:
    >>> import numpy as np
    >>> from emofuse.experts import load_expert
    >>> expert = load_expert("face-fer2013")
    >>> out = expert.predict(np.full((48, 48), 128, dtype=np.uint8))
    >>> out.probs.shape, out.ekman.shape
    ((1, 7), (1, 7))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emofuse.errors import CheckpointError, ConfigError, DataError
from emofuse.experts.base import Expert, ExpertNeeds, read_card, read_weights, register_expert
from emofuse.media.face import CROP_SIZE, FaceCrop, face_from_image, preprocess_crop

__all__ = ["FaceExpert", "FaceNet", "FaceNetConfig", "tta_views", "zoom_out"]


@dataclass(frozen=True)
class FaceNetConfig:
    """Shape of a :class:`FaceNet` (stored in the model card).

    Attributes:
        widths: Channels of each stage; a 2x2 max-pool follows every stage but the last.
        depths: 3x3 conv + BN + ReLU layers per stage.
        dropout: Dropout before the classifier.
        num_labels: Output classes (7 for ``fer2013``).
    """

    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    depths: tuple[int, ...] = (1, 1, 2, 2, 1)
    dropout: float = 0.3
    num_labels: int = 7

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "depths", tuple(int(d) for d in self.depths))
        if (not self.widths or len(self.widths) != len(self.depths) or min(self.widths) < 1
                or min(self.depths) < 1 or not 0.0 <= self.dropout < 1.0 or self.num_labels < 2):
            raise ConfigError(f"face net config: invalid sizes {self}")
        if 2 ** (len(self.widths) - 1) > CROP_SIZE:
            raise ConfigError(f"face net config: {len(self.widths)} stages pool a {CROP_SIZE}px crop below 1px")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FaceNetConfig:
        """Build from a card dict, rejecting unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"face net config: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["widths"], d["depths"] = list(self.widths), list(self.depths)
        return d


class FaceNet(nn.Module):
    """Compact VGG-style CNN. Shapes: ``(B, 1, 48, 48)`` preprocessed crops → logits ``(B, C)``."""

    def __init__(self, config: FaceNetConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c_in = 1
        for i, (w, d) in enumerate(zip(config.widths, config.depths, strict=True)):
            for _ in range(d):
                layers += [nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c_in = w
            if i < len(config.widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(c_in, config.num_labels)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the native classes."""
        return self.classifier(self.dropout(self.features(x).mean((2, 3))))


def zoom_out(x: Tensor, scale: float) -> Tensor:
    """Shrink crops around their centre: ``(B, C, H, W)`` → ``(B, C, H, W)``.

    The content is resampled (bilinear) to ``scale`` of its side, so the view shows the crop with
    a wider frame; what lies outside the crop repeats its border pixels. ``scale > 1`` enlarges.
    Differentiable (``F.grid_sample``), so explanations can pass through it.
    """
    theta = x.new_tensor([[1.0 / scale, 0.0, 0.0], [0.0, 1.0 / scale, 0.0]]).expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def tta_views(x: Tensor, flip: bool, zoom: float | None) -> list[Tensor]:
    """The test-time views of preprocessed crops ``(B, 1, 48, 48)``, each of the same shape.

    Always the crop itself; then its horizontal mirror (``flip``) and the crop zoomed out to
    ``zoom`` of its side (:func:`zoom_out`, when ``zoom`` is not ``None``). Predictions average
    the views' logits.
    """
    views = [x]
    if flip:
        views.append(torch.flip(x, dims=(3,)))
    if zoom is not None:
        views.append(zoom_out(x, zoom))
    return views


def _as_crops(inputs: Any) -> np.ndarray:
    """Inputs → ``(N, 48, 48)`` uint8 (validated)."""
    if isinstance(inputs, FaceCrop):
        return inputs.gray[None]
    if isinstance(inputs, (str, Path, bytes, bytearray)):
        raise DataError("face expert: predict() takes 48x48 face crops; use predict_image() for image files "
                        "and photos of any size")
    if isinstance(inputs, Sequence) and not isinstance(inputs, np.ndarray):
        items = list(inputs)
        if not items:
            raise DataError("face expert: got an empty list of inputs")
        return np.concatenate([_as_crops(it) for it in items])
    a = np.asarray(inputs)
    if a.size == 0:
        raise DataError(f"face expert: got an empty array (shape {a.shape})")
    if a.ndim == 2:
        a = a[None]
    elif a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3 or a.shape[1:] != (CROP_SIZE, CROP_SIZE):
        raise DataError(f"face expert: expected (48, 48) or (N, 48, 48) grey face crops, got shape {a.shape}; "
                        "crop whole images with predict_image() / emofuse.media.face.crop_face")
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise DataError(f"face expert: expected uint8 pixels (or real numbers in 0..255), got dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise DataError("face expert: crops contain NaN or inf")
    return a


@register_expert
class FaceExpert(Expert):
    """Facial expression expert over ``fer2013`` (7 classes, one-to-one with ``ekman7``).

    Args:
        net: The trained :class:`FaceNet` (eval mode).
        card: Its model card.
        flip_tta: Average the logits of each crop and its mirror image (as in the card's figures).
        zoom_tta: Also average a zoomed-out view when the card names one (``inference.zoom_out``,
            as in the card's figures); ``False`` leaves it out.
        num_threads: Torch threads used for inference (``None`` = leave torch's setting).
    """

    name = "face-fer2013"
    modality = "face"
    label_space = "fer2013"
    multilabel = False
    needs = ExpertNeeds(input="face_crop")
    description = "FER2013 7 emotions from a 48x48 grey face crop (compact CNN trained on FER2013 Training)"

    def __init__(self, net: FaceNet, card: dict[str, Any], *, flip_tta: bool = True, zoom_tta: bool = True,
                 num_threads: int | None = None) -> None:
        super().__init__(card)
        self.net = net.eval()
        self.flip_tta = bool(flip_tta)
        scale = (card.get("inference") or {}).get("zoom_out")
        if scale is not None and not (isinstance(scale, (int, float)) and 0.5 <= float(scale) < 1.0):
            raise CheckpointError(f"face expert card: inference.zoom_out must be a scale in [0.5, 1), got {scale!r}")
        #: Scale of the zoomed-out test-time view, or ``None`` (no such view).
        self.zoom_tta = float(scale) if zoom_tta and scale is not None else None
        self.num_threads = num_threads
        pre = card["preprocessing"]
        if int(pre.get("crop_size", CROP_SIZE)) != CROP_SIZE or pre.get("function") != "preprocess_crop":
            raise CheckpointError(f"face expert card expects preprocessing {pre}; this emofuse provides "
                                  f"preprocess_crop on {CROP_SIZE}x{CROP_SIZE} crops")

    @classmethod
    def from_dir(cls, directory: str | Path, **kwargs: Any) -> FaceExpert:
        """Load network + card from ``directory`` (strict, safetensors only)."""
        card = read_card(directory)
        if card["name"] != cls.name:
            raise CheckpointError(f"{directory}: card is for expert {card['name']!r}, not {cls.name!r}")
        net = FaceNet(FaceNetConfig.from_dict(card["head"]["config"]))
        read_weights(directory, net)
        return cls(net, card, **kwargs)

    @torch.inference_mode()
    def logits(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``(N, 48, 48)`` validated crops → native logits ``(N, 7)`` float64 (averaged over the TTA views)."""
        x = torch.from_numpy(np.stack([preprocess_crop(c) for c in crops]))[:, None]
        outs = []
        old = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(self.num_threads)
        try:
            for i in range(0, len(x), batch_size):
                # one call per view: on one thread a batch of 2-3 single crops is slower than separate calls
                views = tta_views(x[i:i + batch_size], self.flip_tta, self.zoom_tta)
                outs.append(torch.stack([self.net(v) for v in views]).mean(0).double())
        finally:
            torch.set_num_threads(old)
        return torch.cat(outs).numpy()

    def _forward(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None, dict[str, list[Any]]]:
        crops = _as_crops(inputs)
        z = self.logits(crops)
        return z, z.copy(), {}

    def predict_image(self, image: Any, **crop_kwargs: Any) -> tuple[Any, FaceCrop] | None:
        """Predict from an image of any size: a small face crop as it is, else its detected main face.

        Args:
            image: An ``(H, W, 3)`` RGB or ``(H, W)`` grey array, image file path or encoded bytes.
            **crop_kwargs: Passed to :func:`~emofuse.media.face.face_from_image` (``crop_max_side``,
                ``detector``, ``min_score``, ``margin``, ``max_side``).

        Returns:
            ``(ExpertOutput for 1 input, FaceCrop)`` with the crop's quality signals, or ``None``
            when no face is found.
        """
        crop = face_from_image(image, **crop_kwargs)
        if crop is None:
            return None
        out = self.predict(crop)
        out.info.update({k: [v] for k, v in crop.quality().items()})
        return out, crop
