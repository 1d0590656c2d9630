"""Model cards and weights on disk: one implementation for experts and fusion checkpoints.

Every trained emofuse artefact is a directory with a safetensors weights file and a JSON
model card. The card carries a ``format`` name (which *kind* of artefact it is) and a
``format_version``; a card written by a newer emofuse is refused with an "upgrade emofuse"
message instead of being half-read. Weights load strictly: missing tensors, unexpected
tensors and shape mismatches all raise :class:`~emofuse.errors.CheckpointError` naming the
offending keys (never a raw torch ``RuntimeError``).

========  ==================  =================  ====================
kind      format              card file          weights file
========  ==================  =================  ====================
expert    ``emofuse-expert``  ``card.json``      ``head.safetensors``
fusion    ``emofuse-fusion``  ``model_card.json`` ``model.safetensors``
========  ==================  =================  ====================

Fusion cards written before the format field existed are read as version 0 of the fusion
kind. This module is a low layer: it imports only :mod:`emofuse.errors`,
:mod:`emofuse._version`, the standard library, torch and safetensors. It also holds the
small helpers the training recipes share to build cards (rounding, mean ± std, calibration
blocks, licence and citation tables, README blocks) and :func:`find_absolute_paths`, which
keeps machine-specific paths out of shipped cards.

Example:
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = write_card(d, {"model": "x", "config": {}, "spec": {}}, kind="fusion")
    >>> card = read_card(d, kind="fusion")
    >>> card["format"], card["format_version"]
    ('emofuse-fusion', 1)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from emofuse._version import __version__
from emofuse.errors import CheckpointError, MissingFileError

__all__ = [
    "CITATIONS",
    "KINDS",
    "LICENSES",
    "CardKind",
    "calibration_block",
    "check_portable",
    "find_absolute_paths",
    "load_weights_strict",
    "mean_std",
    "read_card",
    "replace_block",
    "round_floats",
    "save_weights",
    "write_card",
]


@dataclass(frozen=True)
class CardKind:
    """What a card of one kind looks like on disk.

    Attributes:
        kind: Short name (``"expert"``, ``"fusion"``).
        format: Value of the card's ``format`` field.
        version: Newest ``format_version`` this emofuse reads and the one it writes.
        card_file: Card file name inside the directory.
        weights_file: Weights file name inside the directory.
        required: Fields every card of this kind must have.
        legacy: Whether a card without ``format`` is read as version 0 of this kind.
    """

    kind: str
    format: str
    version: int
    card_file: str
    weights_file: str
    required: tuple[str, ...]
    legacy: bool = False


KINDS: dict[str, CardKind] = {
    "expert": CardKind(
        "expert", "emofuse-expert", 1, "card.json", "head.safetensors",
        ("format", "format_version", "name", "modality", "label_space", "multilabel", "classes", "ekman",
         "calibration", "head", "backbone", "preprocessing", "training_data", "metrics", "fusion",
         "intended_use", "limitations", "licenses", "emofuse_version")),
    "fusion": CardKind(
        "fusion", "emofuse-fusion", 1, "model_card.json", "model.safetensors",
        ("model", "config", "spec", "emofuse_version"), legacy=True),
}
_BY_FORMAT = {k.format: k for k in KINDS.values()}


def _kind(kind: str) -> CardKind:
    if kind not in KINDS:
        raise CheckpointError(f"unknown card kind {kind!r}; known: {', '.join(KINDS)}")
    return KINDS[kind]


def _missing(card: Mapping[str, Any], spec: CardKind) -> list[str]:
    return [f for f in spec.required if f not in card and not (spec.legacy and f in ("format", "format_version"))]


def read_card(directory: str | Path, kind: str) -> dict[str, Any]:
    """Read and check the model card of a weights directory.

    Args:
        directory: The directory holding the card (and the weights).
        kind: ``"expert"`` or ``"fusion"``.

    Returns:
        The card as a dict (a legacy fusion card gets ``format_version`` 0 filled in).

    Raises:
        MissingFileError: The card file is missing (the message names it).
        CheckpointError: Not valid JSON, a card of another kind, a newer format version than
            this emofuse reads, or required fields are missing.
    """
    spec = _kind(kind)
    p = Path(directory) / spec.card_file
    if not p.is_file():
        raise MissingFileError(f"not an emofuse {kind} directory: {spec.card_file} is missing ({p})")
    try:
        card = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{kind} model card {p} is not valid JSON: {err}") from None
    if not isinstance(card, dict):
        raise CheckpointError(f"{kind} model card {p}: expected a JSON object, got {type(card).__name__}")
    fmt = card.get("format")
    if fmt is None and spec.legacy:
        card = {**card, "format": spec.format, "format_version": 0}
    elif fmt != spec.format:
        other = _BY_FORMAT.get(fmt) if isinstance(fmt, str) else None
        hint = f" (this is an emofuse {other.kind} card)" if other else ""
        raise CheckpointError(f"{p}: expected format {spec.format!r} (an emofuse {kind} card), got {fmt!r}{hint}")
    version = card.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{p}: format_version must be an integer, got {version!r}")
    if version > spec.version:
        raise CheckpointError(f"{p}: card format {spec.format} version {version} is newer than this emofuse "
                              f"({__version__}) reads (version {spec.version}); upgrade emofuse "
                              "(pip install --upgrade emofuse)")
    missing = _missing(card, spec)
    if missing:
        raise CheckpointError(f"{p}: model card lacks required fields {missing}")
    return card


def write_card(directory: str | Path, card: Mapping[str, Any], kind: str) -> Path:
    """Write ``card`` as the model card of ``directory`` (created if needed).

    ``format``/``format_version`` of ``kind`` are set and ``emofuse_version`` is filled in
    when absent; the card is checked for the required fields and, for expert cards (they ship
    inside the package), for machine-specific absolute paths (:func:`check_portable`) before
    anything is written. A fusion checkpoint a user trains keeps the data paths it was trained
    on: they say what it saw, on the machine where it lives.

    Returns:
        The path of the card file.

    Raises:
        CheckpointError: Required fields are missing or an expert card holds an absolute path.
    """
    spec = _kind(kind)
    doc = {"format": spec.format, "format_version": spec.version, **card}
    doc["format"], doc["format_version"] = spec.format, spec.version
    doc.setdefault("emofuse_version", __version__)
    missing = _missing(doc, spec)
    if missing:
        raise CheckpointError(f"{kind} model card lacks required fields {missing}")
    if kind == "expert":
        check_portable(doc)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    p = d / spec.card_file
    p.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return p


# --------------------------------------------------------------------------- weights


def save_weights(module: torch.nn.Module, path: str | Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``module``'s state dict (CPU, contiguous) as a safetensors file.

    Returns:
        ``path`` as a :class:`~pathlib.Path` (parent folders are created).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    save_file(state, str(p), metadata={k: str(v) for k, v in (metadata or {}).items()})
    return p


def _keys(keys: list[str], n: int = 8) -> str:
    return ", ".join(keys[:n]) + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def load_weights_strict(module: torch.nn.Module, path: str | Path,
                        upgrade: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
                        ) -> torch.nn.Module:
    """Load a safetensors file into ``module``: every tensor must match by name and shape.

    ``upgrade`` maps the file's tensors to the current names first (checkpoints written by
    earlier versions); the strict comparison happens after it.

    Returns:
        ``module`` in eval mode.

    Raises:
        MissingFileError: ``path`` does not exist.
        CheckpointError: The file is not readable safetensors, or tensors are missing,
            unexpected or of the wrong shape (all of them are named).
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"weights file {p.name} is missing ({p})")
    try:
        state = load_file(str(p))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"weights file {p} is not a readable safetensors file: {err}") from None
    if upgrade is not None:
        state = upgrade(state)
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)}, model {tuple(v.shape)}"
              for k, v in own.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"missing tensors {_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors {_keys(unexpected)}")
    if shapes:
        problems.append(f"shape mismatches {_keys(shapes, 4)}")
    if problems:
        raise CheckpointError(f"weights {p} do not match the {type(module).__name__} described by the card: "
                              + "; ".join(problems))
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:  # e.g. a dtype torch cannot copy
        raise CheckpointError(f"weights {p} could not be loaded into {type(module).__name__}: {err}") from None
    return module.eval()


# --------------------------------------------------------------------------- portability

#: An absolute POSIX path (two or more segments, after a space/quote/``=``/start), a home
#: path (``~/...``) or a Windows drive path.
_ABS_PATH = re.compile(r"(?:^|[\s\"'(=:,])(?:~?/[\w.-]+/[\w./-]*|[A-Za-z]:\\)")


def _strings(x: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(x, str):
        yield where, x
    elif isinstance(x, Mapping):
        for k, v in x.items():
            yield from _strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _strings(v, f"{where}[{i}]")


def find_absolute_paths(card: Any) -> list[tuple[str, str]]:
    """``(field, value)`` of every string in ``card`` (nested) holding an absolute path.

    Example:
        >>> find_absolute_paths({"recipe": "train.py --data-dir /home/me/data", "ok": "mean +- std, km/h"})
        [('recipe', 'train.py --data-dir /home/me/data')]
    """
    return [(k, v) for k, v in _strings(card, "") if _ABS_PATH.search(v)]


def check_portable(card: Any) -> None:
    """Raise :class:`~emofuse.errors.CheckpointError` when a card holds a machine-specific path."""
    found = find_absolute_paths(card)
    if found:
        raise CheckpointError("model cards must not hold machine-specific paths (write them relative to the "
                              f"repository or as placeholders such as <data-dir>): {found[:3]}")


# --------------------------------------------------------------------------- card building helpers

#: Licence of each training corpus, as cards state it.
LICENSES: dict[str, str] = {
    "RAVDESS": "CC BY-NC-SA 4.0 (Livingstone & Russo 2018) - non-commercial, share-alike",
    "EmoDB": "free for research use (Burkhardt et al. 2005)",
    "FER2013": "distributed for research through the ICML 2013 Challenges in Representation Learning (Kaggle); "
               "images scraped from the web, no licence from the people shown",
    "GoEmotions": "Apache-2.0",
}
#: Reference of each training corpus or backbone.
CITATIONS: dict[str, str] = {
    "RAVDESS": "Livingstone, S. R., Russo, F. A. (2018). The Ryerson Audio-Visual Database of Emotional Speech "
               "and Song (RAVDESS). PLoS ONE 13(5).",
    "EmoDB": "Burkhardt, F., Paeschke, A., Rolfes, M., Sendlmeier, W., Weiss, B. (2005). A Database of German "
             "Emotional Speech. Interspeech 2005.",
    "FER2013": "Goodfellow, I. J. et al. (2013). Challenges in Representation Learning: A report on three machine "
               "learning contests. ICONIP 2013 (FER2013).",
    "GoEmotions": "Demszky, D., Movshovitz-Attias, D., Ko, J., Cowen, A., Nemade, G., Ravi, S. (2020). GoEmotions: "
                  "A Dataset of Fine-Grained Emotions. ACL 2020.",
    "Whisper": "Radford, A., Kim, J. W., Xu, T., Brockman, G., McLeavey, C., Sutskever, I. (2023). Robust Speech "
               "Recognition via Large-Scale Weak Supervision. ICML 2023.",
}


def round_floats(x: Any, ndigits: int = 4) -> Any:
    """``x`` with every float (nested in dicts, lists and tuples) rounded to ``ndigits``."""
    if isinstance(x, float):
        return round(x, ndigits)
    if isinstance(x, Mapping):
        return {k: round_floats(v, ndigits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [round_floats(v, ndigits) for v in x]
    return x


def mean_std(summary: Mapping[str, Any], key: str, ndigits: int = 4) -> dict[str, float]:
    """``{"mean", "std"}`` of ``summary[key + "_mean"]`` / ``summary[key + "_std"]``, rounded."""
    return {"mean": round(float(summary[f"{key}_mean"]), ndigits), "std": round(float(summary[f"{key}_std"]), ndigits)}


def calibration_block(temperature: float, fitted_on: str, figures: Mapping[str, float], n_bins: int = 15,
                      method: str = "temperature scaling of the ekman7 logits (softmax(z / T))",
                      ndigits: int = 4) -> dict[str, Any]:
    """The ``calibration`` field of an expert card.

    Args:
        temperature: The fitted temperature ``T`` (:func:`emofuse.experts.calibration.fit_temperature`).
        fitted_on: Which held-out data ``T`` was fitted on.
        figures: ECE/NLL figures (``ece_before``, ``ece_after``, ...), copied rounded.
        n_bins: ECE bins.
        method: How the calibration is applied.
        ndigits: Rounding.
    """
    return {"method": method, "temperature": round(float(temperature), ndigits), "fitted_on": fitted_on,
            "ece_n_bins": n_bins, **{k: round(float(v), ndigits) for k, v in figures.items()}}


def replace_block(path: str | Path, markdown: str, start: str, end: str, title: str = "") -> None:
    """Replace the text between the ``start``/``end`` markers of a README (append them if absent).

    Args:
        path: The README (created with ``# title`` when missing).
        markdown: The new block content.
        start: Opening marker (e.g. ``<!-- results:start -->``).
        end: Closing marker.
        title: Heading of a new README.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8") if p.is_file() else (f"# {title}\n" if title else "")
    block = f"{start}\n{markdown}\n{end}"
    if start in text and end in text:
        pre, rest = text.split(start, 1)
        text = pre + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    p.write_text(text, encoding="utf-8")
