"""Run a fusion model over a feature dataset and collect its outputs in dataset order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from emofuse.data.dataset import FeatureDataset
from emofuse.errors import DataError
from emofuse.models.base import FusionModel


@dataclass
class Predictions:
    """Model outputs over a dataset, row-aligned with it.

    Attributes:
        ids: Sample ids, ``(N,)``.
        logits: ``(N, C)`` logits (or regression values).
        targets: ``(N,)`` or ``(N, C)`` targets as stored in the dataset.
        probs: ``(N, C)`` probabilities (classification/multilabel) or values (regression).
        weights: ``(N, M)`` modality weights, or ``None`` if the model has none.
        modalities: Column order of ``weights``.
    """

    ids: np.ndarray
    logits: np.ndarray
    targets: np.ndarray
    probs: np.ndarray
    weights: np.ndarray | None = None
    modalities: tuple[str, ...] = field(default_factory=tuple)


def check_compatible(model: FusionModel, ds: FeatureDataset) -> None:
    """Raise :class:`DataError` if ``ds`` does not fit the model's data contract."""
    spec, dspec = model.spec, ds.spec
    for name, ms in dspec.modalities.items():
        if name not in spec.modalities:
            continue
        want = spec.modalities[name]
        if want.dim != ms.dim or want.sequential != ms.sequential:
            raise DataError(f"modality {name!r}: model expects dim {want.dim} "
                            f"({'sequence' if want.sequential else 'pooled'}), data has dim {ms.dim} "
                            f"({'sequence' if ms.sequential else 'pooled'})")
    if not set(dspec.modalities) & set(spec.modalities):
        raise DataError(f"data modalities {list(dspec.modalities)} share none with the model's {list(spec.modalities)}")
    if dspec.task != spec.task:
        raise DataError(f"model task is {spec.task!r} but the data are {dspec.task!r}")
    if spec.task == "classification" and ds.classes and spec.classes and tuple(ds.classes) != tuple(spec.classes):
        raise DataError(f"class names differ: model {list(spec.classes)} vs data {list(ds.classes)}")
    if spec.task == "classification":
        y = np.asarray(ds.targets)
        if y.max() >= spec.num_outputs:
            raise DataError(f"labels up to {int(y.max())} but the model has {spec.num_outputs} classes")


@torch.inference_mode()
def predict(model: FusionModel, ds: FeatureDataset, *, batch_size: int = 64) -> Predictions:
    """Predict every row of ``ds`` (eval mode; whole context groups per batch if the model uses context)."""
    check_compatible(model, ds)
    model.eval()
    extra = set(ds.features) - set(model.spec.modalities)
    if extra:
        ds = ds.select_modalities([m for m in ds.features if m in model.spec.modalities])
    whole = bool(getattr(model.config, "context", False))
    n = len(ds)
    logits = probs = None
    weights = None
    ids = np.empty(n, dtype=object)
    row = {sid: i for i, sid in enumerate(ds.ids.tolist())}
    if len(row) != n:
        raise DataError("sample ids are not unique; cannot align predictions")
    for batch in ds.iter_batches(batch_size, whole_groups=whole):
        out = model(batch)
        idx = np.asarray([row[s] for s in batch.ids])
        lg, pr = out.logits.float().numpy(), out.probs.float().numpy()
        if logits is None:
            logits = np.zeros((n, lg.shape[1]), dtype=np.float32)
            probs = np.zeros_like(logits)
        logits[idx], probs[idx] = lg, pr
        if out.weights is not None:
            if weights is None:
                weights = np.zeros((n, out.weights.shape[1]), dtype=np.float32)
            weights[idx] = out.weights.float().numpy()
        ids[idx] = batch.ids
    return Predictions(ids=ids.astype(str), logits=logits, targets=np.asarray(ds.targets), probs=probs,
                       weights=weights, modalities=model.modalities)
