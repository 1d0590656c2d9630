"""Self-describing checkpoints: ``model.safetensors`` + ``model_card.json``.

The card (kind ``"fusion"`` of :mod:`emofuse.cards`) stores the registry name, the resolved
config, the data contract (:class:`~emofuse.data.spec.Specifications`, including the label
space), the package version, and whatever the trainer adds (training data, metrics, training
config). Loading rebuilds the model from the card and loads the weights strictly; nothing is
unpickled. Checkpoints written before cards had a ``format`` field still load.
"""

from __future__ import annotations

import functools
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
    card, renamed = _upgrade_card(read_card(d))
    spec = Specifications.from_dict(card["spec"])
    model = create_model(card["model"], spec, **card["config"])
    legacy = int(card.get("format_version", 0)) == 0
    upgrade = functools.partial(_upgrade_state, renamed=renamed, own=set(model.state_dict())) if legacy else None
    if strict:
        try:
            cards.load_weights_strict(model, d / WEIGHTS, upgrade=upgrade)
        except CheckpointError as err:
            raise CheckpointError(f"checkpoint {d} does not match model {card['model']!r}: {err}") from None
    else:
        from safetensors.torch import load_file

        if not (d / WEIGHTS).is_file():
            raise MissingFileError(f"checkpoint {d}: weights file {WEIGHTS} is missing")
        own = model.state_dict()
        raw = load_file(str(d / WEIGHTS))
        state = {k: v for k, v in (upgrade(raw) if upgrade else raw).items() if k in own and v.shape == own[k].shape}
        model.load_state_dict(state, strict=False)
    model.eval()
    return model, card


def _rename_keys(x: Any, renamed: dict[str, str]) -> Any:
    if isinstance(x, dict):
        return {renamed.get(k, k): _rename_keys(v, renamed) for k, v in x.items()}
    if isinstance(x, list):
        return [renamed.get(v, v) if isinstance(v, str) else _rename_keys(v, renamed) for v in x]
    return x


def _upgrade_card(card: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Cards of earlier versions (no ``format`` field) name modalities as their corpus did (``video``): map them to the
    one vocabulary (:func:`emofuse.modalities.canonical_modality`) in the spec and in the config
    mappings keyed by modality. Returns the card and ``{old: new}``."""
    from emofuse.modalities import canonical_modality

    if int(card.get("format_version", 0)) > 0:  # written by this version: names are what the user chose
        return card, {}
    renamed = {m: canonical_modality(m) for m in card["spec"]["modalities"] if canonical_modality(m) != m}
    if not renamed:
        return card, {}
    card = dict(card)
    card["spec"] = {**card["spec"], "modalities": _rename_keys(card["spec"]["modalities"], renamed)}
    card["config"] = _rename_keys(card["config"], renamed)
    return card, renamed


def _upgrade_state(state: dict[str, torch.Tensor], *, renamed: dict[str, str],
                   own: set[str]) -> dict[str, torch.Tensor]:
    """Tensor names of earlier versions → today's: renamed modalities (a dotted name part), and the
    unused ``head.*`` that models predicting their own logits carried before they stopped having one."""
    if renamed:
        state = {".".join(renamed.get(part, part) for part in k.split(".")): v for k, v in state.items()}
    if not any(k.startswith("head.") for k in own):
        state = {k: v for k, v in state.items() if not k.startswith("head.")}
    return state
