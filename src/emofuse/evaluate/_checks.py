"""Input validation shared by the metric functions (shapes, ranges, dtypes; clear errors)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from emofuse.errors import DataError


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """Tensor / array / list → numpy array (detached, on CPU, bf16/f16 widened)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise DataError(f"{name}: expected an array or tensor, got {type(x).__name__} ({err})") from None
    if arr.dtype == object:
        raise DataError(f"{name}: expected a rectangular numeric array, got ragged or non-numeric data")
    return arr


def _as_float(x: Any, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    """Finite float64 array with one of the allowed numbers of dimensions and at least one row."""
    arr = _to_numpy(x, name)
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise DataError(f"{name}: expected a {want} array, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{name}: expected at least one sample, got 0")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise DataError(f"{name}: expected numeric values, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(f"{name}: expected finite values, got {int(bad.sum())} NaN/inf entries")
    return arr


def _as_int(x: Any, name: str, hint: str = "") -> np.ndarray:
    """``(N,)`` int64 array from integer-valued input (floats like ``2.0`` are accepted)."""
    arr = _as_float(x, name, (1,))
    ints = np.rint(arr)
    if not np.array_equal(ints, arr):
        raise DataError(f"{name}: expected integer class indices, got non-integer values such as "
                        f"{float(arr[ints != arr][0])!r}{hint}")
    return ints.astype(np.int64)


def _check_same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise DataError(f"expected {name_a} and {name_b} to have the same number of samples, "
                        f"got {a.shape[0]} and {b.shape[0]}")


def _check_range(labels: np.ndarray, num_classes: int, name: str) -> None:
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise DataError(f"{name}: expected class indices in [0, {num_classes}), got "
                        f"{sorted(set(labels[bad].tolist()))[:5]}")


def _check_binary(arr: np.ndarray, name: str) -> None:
    if not np.isin(arr, (0.0, 1.0)).all():
        raise DataError(f"{name}: expected a multi-hot 0/1 matrix, got values such as "
                        f"{arr[~np.isin(arr, (0.0, 1.0))][0]!r}")


def _check_probabilities(arr: np.ndarray, name: str) -> None:
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise DataError(f"{name}: expected probabilities in [0, 1], got values in "
                        f"[{arr.min():.4g}, {arr.max():.4g}] (apply a sigmoid to logits first, "
                        "or use compute_metrics('multilabel', logits, ...))")


def _names(classes: Sequence[str] | None, count: int, what: str = "classes") -> list[str]:
    if classes is None:
        return [str(i) for i in range(count)]
    names = [str(c) for c in classes]
    if len(names) != count:
        raise DataError(f"expected {count} {what} names to match the data, got {len(names)}: {names}")
    return names


# --------------------------------------------------------------------------- classification


