"""Self-describing checkpoints: ``model.safetensors`` + ``model_card.json``.

The card (kind ``"fusion"`` of :mod:`emofuse.cards`) stores the registry name, the resolved
config, the data contract (:class:`~emofuse.data.spec.Specifications`, including the label
space), the package version, and whatever the trainer adds (training data, metrics, training
config). Loading rebuilds the model from the card and loads the weights strictly; nothing is
unpickled. Checkpoints written before cards had a ``format`` field still load.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from emofuse import cards
from emofuse._version import __version__
from emofuse.config import to_dict
from emofuse.data.spec import Specifications
from emofuse.errors import CheckpointError, MissingFileError
from emofuse.models.base import FusionModel, create_model

__all__ = ["CARD", "WEIGHTS", "load_checkpoint", "read_card", "save_checkpoint"]

_KIND = cards.KINDS["fusion"]
WEIGHTS = _KIND.weights_file
CARD = _KIND.card_file


def save_checkpoint(model: FusionModel, directory: str | Path, **card: Any) -> Path:
    """Write ``model`` to ``directory`` (created if needed); extra keyword args go into the card.

    Returns:
        The checkpoint directory.
    """
    d = Path(directory)
    doc = {
        "emofuse_version": __version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model.registry_name,
        "config": to_dict(model.config),
        "spec": model.spec.to_dict(),
        **card,
    }
    cards.write_card(d, doc, kind="fusion")
    cards.save_weights(model, d / WEIGHTS, metadata={"format": _KIND.format, "model": model.registry_name})
    return d


def read_card(directory: str | Path) -> dict[str, Any]:
    """Read and check the model card of a checkpoint directory (see :func:`emofuse.cards.read_card`)."""
    return cards.read_card(directory, kind="fusion")


def load_checkpoint(directory: str | Path, *, strict: bool = True) -> tuple[FusionModel, dict[str, Any]]:
    """Rebuild the model described by the card and load its weights (eval mode).

    Args:
        directory: The checkpoint directory.
        strict: Refuse weights that do not match the model by name and shape. With
            ``strict=False`` matching tensors are loaded and the rest is left as initialised.

    Raises:
        MissingFileError: The card or the weights file is missing.
        CheckpointError: The card is unreadable or newer than this emofuse, or the weights
            do not match the model the card describes (missing/unexpected keys, shapes).
    """
    d = Path(directory)
    card = read_card(d)
    spec = Specifications.from_dict(card["spec"])
    model = create_model(card["model"], spec, **card["config"])
    if strict:
        try:
            cards.load_weights_strict(model, d / WEIGHTS)
        except CheckpointError as err:
            raise CheckpointError(f"checkpoint {d} does not match model {card['model']!r}: {err}") from None
    else:
        from safetensors.torch import load_file

        if not (d / WEIGHTS).is_file():
            raise MissingFileError(f"checkpoint {d}: weights file {WEIGHTS} is missing")
        own = model.state_dict()
        state = {k: v for k, v in load_file(str(d / WEIGHTS)).items() if k in own and v.shape == own[k].shape}
        model.load_state_dict(state, strict=False)
    model.eval()
    return model, card
