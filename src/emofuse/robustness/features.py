"""Robustness of a trained zoo model on a feature dataset: missing modalities and feature noise.

Two sweeps, both returning rows in the common format of :mod:`emofuse.robustness.rows`:

* :func:`subset_rows`: the metrics with only a subset of the modalities present, for every
  non-empty subset (the others marked missing through ``FeatureDataset.present``, exactly what
  the model sees when a signal is lost at test time);
* :func:`noise_rows`: the metrics under additive Gaussian noise on one modality's features,
  ``x + σ · std_d · z`` with ``std_d`` that feature dimension's standard deviation over the
  present samples (so σ is in units of the modality's own spread and levels compare across
  modalities), scored on the samples where that modality is present.

Predictions go through :func:`emofuse.evaluate.predict.predict` and
:func:`emofuse.evaluate.metrics.compute_metrics`, the same path as ``emofuse evaluate``.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from emofuse.data.dataset import FeatureDataset
from emofuse.errors import ConfigError, DataError
from emofuse.evaluate.metrics import compute_metrics
from emofuse.evaluate.predict import check_compatible, predict
from emofuse.experiment import without_modality
from emofuse.models.base import FusionModel
from emofuse.robustness.rows import make_row

__all__ = ["DEFAULT_NOISE_LEVELS", "add_feature_noise", "check_matches", "feature_rows", "feature_std",
           "modality_subsets", "noise_rows", "subset_rows"]

#: Noise levels σ (in units of each feature dimension's std); 0 is the clean point of every curve.
DEFAULT_NOISE_LEVELS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)


def check_matches(model: FusionModel, ds: FeatureDataset) -> list[str]:
    """The modalities to sweep: the model's, all of which the dataset must hold with the right dims.

    Returns:
        The model's modality names, in its order.

    Raises:
        ConfigError: A checkpoint whose task is not single-label classification.
        DataError: The dataset lacks one of the model's modalities, or dims/task/classes differ.
    """
    if model.spec.task != "classification":
        raise ConfigError(f"robustness sweeps report accuracy and F1: they need a classification checkpoint, "
                          f"this one is {model.spec.task!r}")
    mods = list(model.modalities)
    lacking = [m for m in mods if m not in ds.features]
    if lacking:
        raise DataError(f"the dataset's modalities {sorted(ds.features)} do not match the checkpoint's {mods}: "
                        f"it lacks {lacking} (give the dataset the checkpoint was trained on, or one with the same "
                        "modalities; mark a signal missing per sample with `present`, not by leaving it out)")
    check_compatible(model, ds)
    return mods


def modality_subsets(names: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset of ``names``, largest first, each in the order of ``names``.

    Example:
        >>> modality_subsets(["text", "audio"])
        [('text', 'audio'), ('text',), ('audio',)]
    """
    names = list(names)
    return [c for k in range(len(names), 0, -1) for c in itertools.combinations(names, k)]


def _scores(model: FusionModel, ds: FeatureDataset, rows: np.ndarray | None, batch_size: int) -> dict[str, Any]:
    """Metrics of ``model`` on ``ds``, restricted to ``rows`` (a bool mask) after predicting every row.

    Every row is predicted (not just ``rows``) so that context models see their whole dialogue.
    """
    pred = predict(model, ds, batch_size=batch_size)
    logits, targets = pred.logits, pred.targets
    if rows is not None:
        logits, targets = logits[rows], targets[rows]
    classes = list(model.spec.classes) or None
    return compute_metrics("classification", logits, targets, classes=classes)


def subset_rows(model: FusionModel, ds: FeatureDataset, *, target: str, seed: int | None = None,
                batch_size: int = 64) -> list[dict[str, Any]]:
    """Metrics for every non-empty subset of the model's modalities (the rest marked missing).

    Args:
        model: A trained classification model (eval mode is set by the prediction).
        ds: Its feature dataset; samples keep their own ``present`` masks inside each subset.
        target: Name written in the rows' ``target`` column (e.g. the zoo model's name).
        seed: Training seed of ``model``, written in the rows (``None`` if unknown).
        batch_size: Prediction batch size.

    Returns:
        ``2^M − 1`` rows of kind ``"subset"``: ``modality`` is ``None``, ``condition`` the kept
        modalities joined by ``+``, ``level`` the number of modalities removed (0 = clean).
    """
    mods = check_matches(model, ds)
    out = []
    for keep in modality_subsets(mods):
        sub = ds
        for m in mods:
            if m not in keep:
                sub = without_modality(sub, m)
        metrics = _scores(model, sub, None, batch_size)
        out.append(make_row(target, "subset", None, "+".join(keep), float(len(mods) - len(keep)), metrics, seed))
    return out


def _valid_steps(ds: FeatureDataset, modality: str) -> np.ndarray:
    """``(N,)`` or ``(N, T)`` bool: feature rows/steps that carry data (present and not padding)."""
    x = ds.features[modality]
    present = ds.present.get(modality, np.ones(len(ds), dtype=bool))
    if x.ndim == 2:
        return present.copy()
    steps = np.arange(x.shape[1])[None, :] < ds.lengths[modality][:, None]
    return steps & present[:, None]


def feature_std(ds: FeatureDataset, modality: str) -> np.ndarray:
    """``(D,)`` std of each feature dimension over the present samples' valid steps (0 where undefined).

    NaN entries are ignored (``nanstd``); a dimension with no finite value, or constant, has std 0
    and so receives no noise: a constant feature has no spread to scale the noise by.
    """
    x = np.asarray(ds.features[modality], dtype=np.float64)
    valid = _valid_steps(ds, modality)
    vals = x[valid]  # (rows or steps, D)
    if vals.shape[0] == 0:
        return np.zeros(x.shape[-1])
    with warnings.catch_warnings():  # an all-NaN column warns; it gets std 0 below
        warnings.simplefilter("ignore", RuntimeWarning)
        std = np.nanstd(vals, axis=0)
    return np.where(np.isfinite(std), std, 0.0)


def add_feature_noise(ds: FeatureDataset, modality: str, sigma: float, *, seed: int = 0,
                      std: np.ndarray | None = None) -> FeatureDataset:
    """A copy of ``ds`` with Gaussian noise on one modality: ``x + σ · std_d · z``, ``z ~ N(0, 1)``.

    Only present samples (and, for sequences, their valid steps) are perturbed; padding and
    missing samples are left as they are, and NaN features stay NaN.

    Args:
        ds: The dataset (not modified).
        modality: Which modality to perturb.
        sigma: Noise level in units of each dimension's std (0 returns an unperturbed copy).
        seed: Seed of ``z``. The same seed draws the same ``z`` at every level, so the curve over
            σ moves one noise direction further rather than redrawing it (a smoother curve).
        std: ``(D,)`` stds to scale by (default :func:`feature_std` of ``ds``).

    Raises:
        DataError: Unknown modality, or negative / non-finite ``sigma``.
    """
    if modality not in ds.features:
        raise DataError(f"no modality {modality!r} in the dataset (it has {sorted(ds.features)})")
    if not np.isfinite(sigma) or sigma < 0:
        raise DataError(f"noise level must be a finite σ >= 0, got {sigma}")
    out = ds.subset(np.arange(len(ds)))
    x = np.array(out.features[modality], dtype=np.float32, copy=True)
    if sigma > 0:
        scale = (sigma * (feature_std(ds, modality) if std is None else np.asarray(std))).astype(np.float32)
        z = np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32)
        valid = _valid_steps(ds, modality)
        x[valid] += z[valid] * scale
    out.features = {**out.features, modality: x}
    return out


def noise_rows(model: FusionModel, ds: FeatureDataset, levels: Sequence[float] = DEFAULT_NOISE_LEVELS, *,
               target: str, modalities: Sequence[str] | None = None, seed: int = 0, model_seed: int | None = None,
               batch_size: int = 64) -> list[dict[str, Any]]:
    """Metrics under growing Gaussian feature noise, one curve per modality.

    Args:
        model: A trained classification model.
        ds: Its feature dataset.
        levels: σ values in units of each dimension's std; 0 is added if absent (the clean point).
        target: Name written in the rows' ``target`` column.
        modalities: Which modalities to perturb (default: all of the model's).
        seed: Noise seed; modality ``k`` draws with ``seed + k`` (reproducible, independent).
        model_seed: Training seed of ``model``, written in the rows' ``seed`` column.
        batch_size: Prediction batch size.

    Returns:
        Rows of kind ``"feature_noise"``, ``level`` = σ, scored on the samples where that
        modality is present (``n`` says how many).

    Raises:
        DataError: Negative or non-finite levels, an unknown modality, or a modality never present.
    """
    mods = check_matches(model, ds)
    lv = sorted({0.0, *(float(v) for v in levels)})
    if any(not np.isfinite(v) or v < 0 for v in lv):
        raise DataError(f"noise levels must be finite σ >= 0, got {list(levels)}")
    chosen = list(modalities) if modalities is not None else mods
    for m in chosen:
        if m not in mods:
            raise DataError(f"cannot perturb {m!r}: the checkpoint's modalities are {mods}")
    out = []
    for k, m in enumerate(chosen):
        rows = ds.present.get(m, np.ones(len(ds), dtype=bool))
        if not rows.any():
            raise DataError(f"modality {m!r} is missing in every sample: there is nothing to perturb")
        std = feature_std(ds, m)
        for sigma in lv:
            noisy = add_feature_noise(ds, m, sigma, seed=seed + k, std=std) if sigma > 0 else ds
            metrics = _scores(model, noisy, rows, batch_size)
            cond = f"clean ({m} present)" if sigma == 0 else f"noise σ={sigma:g} on {m}"
            out.append(make_row(target, "feature_noise", m, cond, sigma, metrics, model_seed))
    return out


def feature_rows(model: FusionModel, ds: FeatureDataset, levels: Sequence[float] = DEFAULT_NOISE_LEVELS, *,
                 target: str, seed: int = 0, model_seed: int | None = None,
                 batch_size: int = 64) -> list[dict[str, Any]]:
    """:func:`subset_rows` followed by :func:`noise_rows` (the whole feature-level sweep)."""
    return (subset_rows(model, ds, target=target, seed=model_seed, batch_size=batch_size)
            + noise_rows(model, ds, levels, target=target, seed=seed, model_seed=model_seed, batch_size=batch_size))

