"""Expert robustness curves: one expert's scores as its raw input is corrupted more and more.

:func:`expert_sweep` corrupts every labelled item at each level of one registered corruption
(:mod:`emofuse.robustness.corrupt`), runs :meth:`~emofuse.experts.base.Expert.predict` on the
corrupted batch and scores its ``ekman7`` arg-max against the labels. Rows follow the common
format of :mod:`emofuse.robustness.rows` (``target`` = the expert's name, ``kind`` = the
corruption), with two extra keys: ``severity`` (0 clean, then 1, 2, ... from mildest to worst,
whatever the unit's direction: a lower SNR or JPEG quality is worse) and ``unit``.

Each item gets its own seed, the same at every level (common random numbers): item 3's noise
at 10 dB is its 20 dB noise scaled up, and its occluding block grows in place. Curves are
then smoother than with fresh draws per level, and independent of the batch size.

Example:
    >>> from emofuse.experts import load_expert
    >>> import numpy as np
    >>> face = load_expert("face-fer2013")
    >>> crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    >>> rows = expert_sweep(face, crops, ["happiness"] * 4, "blur", [2], progress=False)
    >>> [(r["condition"], r["severity"], r["n"]) for r in rows]
    [('clean', 0, 4), ('Gaussian blur σ=2 px', 1, 4)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.evaluate.metrics import classification_metrics
from emofuse.labels import get_label_space
from emofuse.robustness.corrupt import Corruption, corrupt, get_corruption
from emofuse.robustness.rows import make_row

__all__ = ["corrupt_items", "expert_modality", "expert_sweep", "item_seeds", "predict_ekman", "severity_order"]

_EKMAN = get_label_space("ekman7")


def expert_modality(expert: Any) -> str:
    """The corruption modality of an expert's input: ``"audio"``, ``"face"`` or ``"text"``."""
    m = getattr(expert, "modality", None)
    return "audio" if m in ("audio", "voice") else str(m)


def item_seeds(n: int, seed: int) -> list[int]:
    """``n`` per-item seeds drawn from ``seed`` (independent streams, the same for every level)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(seed)).spawn(n)]


def severity_order(spec: Corruption, levels: Sequence[float | None]) -> list[float | None]:
    """``None`` (clean) first, then the distinct levels from mildest to most severe."""
    vals = sorted({float(spec.check_level(v)) for v in levels if v is not None}, reverse=spec.worse_when_lower)
    return [None, *vals]


def _items(modality: str, items: Any) -> list[Any]:
    if modality == "face":
        arr = np.asarray(items)
        if arr.dtype != np.uint8 or arr.ndim != 3:
            raise DataError(f"face items must be uint8 crops (N, 48, 48); got shape {arr.shape} dtype {arr.dtype}")
        return list(arr)
    if modality == "text":
        items = [items] if isinstance(items, str) else list(items)
        if not all(isinstance(t, str) for t in items):
            raise DataError("text items must be strings")
        return items
    out = list(items)
    for i, it in enumerate(out):
        if not (isinstance(it, tuple) and len(it) == 2):
            raise DataError(f"voice item {i} must be a (wave, sample_rate) pair; got {type(it).__name__}")
    return out


def corrupt_items(items: Sequence[Any], corruption: str, level: float | None, modality: str, seeds: Sequence[int],
                  **context: Any) -> list[Any]:
    """Each item corrupted with its own seed (voice items keep their rate and pass it as ``sample_rate``)."""
    if level is None:
        return list(items)
    if modality == "audio":
        return [(corrupt(corruption, np.asarray(w, np.float32), level, seed=s, sample_rate=int(sr), **context), sr)
                for (w, sr), s in zip(items, seeds, strict=True)]
    return [corrupt(corruption, x, level, seed=s, **context) for x, s in zip(items, seeds, strict=True)]


def predict_ekman(expert: Any, items: Sequence[Any], modality: str, *, batch_size: int = 64,
                  on_batch: Any = None) -> np.ndarray:
    """``(N, 7)`` float ``ekman7`` distributions of ``items``, predicted ``batch_size`` at a time."""
    out = []
    for i in range(0, len(items), batch_size):
        chunk = items[i: i + batch_size]
        pred = expert.predict(np.stack(chunk) if modality == "face" else list(chunk))
        ek = np.asarray(pred.ekman, dtype=np.float64)
        if ek.shape != (len(chunk), len(_EKMAN)):
            raise DataError(f"expert {getattr(expert, 'name', expert)!r} returned ekman {ek.shape}, "
                            f"expected ({len(chunk)}, {len(_EKMAN)})")
        out.append(ek)
        if on_batch is not None:
            on_batch()
    return np.concatenate(out) if out else np.zeros((0, len(_EKMAN)))


def _labels(labels: Sequence[Any], n: int) -> np.ndarray:
    labels = list(labels)
    if len(labels) != n:
        raise DataError(f"expert_sweep: {len(labels)} labels for {n} items")
    try:
        y = np.asarray([lab if isinstance(lab, int | np.integer) else _EKMAN.index(str(lab)) for lab in labels],
                       dtype=np.int64)
    except UnknownNameError as e:
        raise DataError(f"expert_sweep: labels must be ekman7 class names or indices: {e}") from None
    _EKMAN.check_indices(y)
    return y


def expert_sweep(expert: Any, items: Any, labels: Sequence[Any], corruption: str,
                 levels: Sequence[float | None] | None = None, *, seed: int = 0, batch_size: int = 64,
                 progress: bool = True, target: str | None = None, cache: dict[str, Any] | None = None,
                 **ctx: Any) -> list[dict[str, Any]]:
    """Score ``expert`` on ``items`` clean and at each level of ``corruption``.

    Args:
        expert: An expert (``load_expert(...)``) or anything with ``modality``, ``name`` and
            ``predict(items) -> .ekman (N, 7)``.
        items: Its inputs: ``(wave, sample_rate)`` pairs (voice; float mono, Hz), uint8 crops
            ``(N, 48, 48)`` (face) or strings (text).
        labels: ``N`` true ``ekman7`` classes, as names (``"happiness"``) or indices.
        corruption: A corruption of the expert's modality (:func:`~emofuse.robustness.corrupt.list_corruptions`).
        levels: Severities in the corruption's unit; default its ``levels``. The clean
            condition (``None``) is always scored first.
        seed: Seed of the per-item corruption draws (:func:`item_seeds`).
        batch_size: Items per ``predict`` call.
        progress: Show a progress bar (rich).
        target: Name in the rows' ``target`` column (default the expert's name).
        cache: A dict shared by sweeps of the same expert over the same items: the clean
            readings ``(N, 7)`` are computed by the first sweep and reused by the next ones
            (the clean row is the same for every corruption; for voice it costs a full pass).
        **ctx: Passed to the corruption (``bank=`` for ``babble_noise``, ``fill=``, ``mix=`` ...).

    Returns:
        One row per level (clean first, then mildest to worst): the common row keys plus
        ``severity`` (int rank) and ``unit``.

    Raises:
        ConfigError: Unknown corruption, a bad level, a corruption of another modality, batch_size < 1.
        DataError: Items and labels that do not match, items of the wrong kind, labels outside ekman7.
    """
    spec = get_corruption(corruption)
    modality = expert_modality(expert)
    if spec.modality != modality:
        raise ConfigError(f"corruption {corruption!r} is for {spec.modality} input, but expert "
                          f"{getattr(expert, 'name', expert)!r} reads {modality}")
    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be >= 1; got {batch_size!r}")
    data = _items(modality, items)
    if not data:
        raise DataError("expert_sweep: no items")
    y = _labels(labels, len(data))
    order = severity_order(spec, spec.levels if levels is None else levels)
    seeds = item_seeds(len(data), seed)
    name = target or str(getattr(expert, "name", type(expert).__name__))

    from rich.console import Console
    from rich.progress import Progress

    rows = []
    n_batches = -(-len(data) // int(batch_size))
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:  # stdout stays data
        task = bar.add_task(f"{name} · {corruption}", total=len(order) * n_batches)
        for rank, level in enumerate(order):
            if level is None and cache is not None and "clean" in cache:
                ek = cache["clean"]
                bar.advance(task, n_batches)
            else:
                corrupted = corrupt_items(data, corruption, level, modality, seeds, **ctx)
                ek = predict_ekman(expert, corrupted, modality, batch_size=int(batch_size),
                                   on_batch=lambda: bar.advance(task))
                if level is None and cache is not None:
                    cache["clean"] = ek
            met = classification_metrics(y, ek, classes=_EKMAN.classes)
            row = make_row(name, corruption, modality, spec.condition(level), level, met, seed=seed)
            row.update(severity=rank, unit=spec.unit)
            rows.append(row)
    return rows
