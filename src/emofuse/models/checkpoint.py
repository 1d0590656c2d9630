"""Self-describing checkpoints: ``model.safetensors`` + ``model_card.json``.

The card stores the registry name, the resolved config, the data contract
(:class:`~emofuse.data.spec.Specifications`, including the label space), the package version,
and whatever the trainer adds (training data, metrics, training config). Loading rebuilds the
model from the card and loads the weights strictly; nothing is unpickled.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from emofuse.config import to_dict
from emofuse.data.spec import Specifications
from emofuse.errors import CheckpointError, MissingFileError
from emofuse.models.base import FusionModel, create_model

WEIGHTS = "model.safetensors"
CARD = "model_card.json"


def save_checkpoint(model: FusionModel, directory: str | Path, **card: Any) -> Path:
    """Write ``model`` to ``directory`` (created if needed); extra keyword args go into the card."""
    from emofuse import __version__

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(d / WEIGHTS), metadata={"format": "emofuse", "model": model.registry_name})
    doc = {
        "emofuse_version": __version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": model.registry_name,
        "config": to_dict(model.config),
        "spec": model.spec.to_dict(),
        **card,
    }
    (d / CARD).write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    return d


def read_card(directory: str | Path) -> dict[str, Any]:
    """Read the model card of a checkpoint directory."""
    p = Path(directory) / CARD
    if not p.is_file():
        raise MissingFileError(f"not an emofuse checkpoint: {p} is missing")
    return json.loads(p.read_text(encoding="utf-8"))


def load_checkpoint(directory: str | Path, *, strict: bool = True) -> tuple[FusionModel, dict[str, Any]]:
    """Rebuild the model described by the card and load its weights (eval mode).

    Raises:
        MissingFileError: The card or the weights file is missing.
        CheckpointError: The weights do not match the model the card describes.
    """
    d = Path(directory)
    card = read_card(d)
    wpath = d / WEIGHTS
    if not wpath.is_file():
        raise MissingFileError(f"checkpoint {d}: weights file {WEIGHTS} is missing")
    spec = Specifications.from_dict(card["spec"])
    model = create_model(card["model"], spec, **card["config"])
    state = load_file(str(wpath))
    result = model.load_state_dict(state, strict=False)
    if strict and (result.missing_keys or result.unexpected_keys):
        raise CheckpointError(f"checkpoint {d} does not match model {card['model']!r}: "
                              f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}")
    model.eval()
    return model, card
