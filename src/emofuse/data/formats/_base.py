"""The feature-format registry, :func:`load_dataset`, and what every format reader shares.

Readers register with ``@READERS.register(name, suffixes=..., sniff=..., layout=...)``
(:class:`~emofuse.data._readers.ReaderRegistry`: sniffing and option validation are shared
with the corpus readers). Every reader builds its dataset with :func:`build_dataset`, the one
place where the modality names of a file are mapped onto emofuse's vocabulary
(:func:`emofuse.modalities.canonical_modality`: MOSI's ``video`` and MMSA's ``vision`` become
``face``); :func:`load_dataset` applies the same mapping to whatever a reader returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.data._readers import ReaderRegistry, check_choice
from emofuse.data.dataset import FeatureDataset
from emofuse.data.spec import TASKS
from emofuse.errors import DataError, MissingFileError, UnknownNameError
from emofuse.modalities import canonical_modality

__all__ = ["NAN_POLICIES", "READERS", "build_dataset", "canonical_dataset", "load_dataset", "sniff_format"]

Reader = Callable[..., FeatureDataset]
#: Every feature-dataset format reader, by name.
READERS: ReaderRegistry[Reader] = ReaderRegistry("dataset format", "dataset")

#: What to do with NaN/inf feature values: ``raise`` a DataError, or replace them by ``zero``.
NAN_POLICIES: tuple[str, ...] = ("raise", "zero")


# ---------------------------------------------------------------------------- modality names
def _canonical_keys(named: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in named.items():
        key = canonical_modality(name)
        if key in out:
            raise DataError(f"{source}: modalities {sorted(k for k in named if canonical_modality(k) == key)} "
                            f"are all the {key!r} modality; keep one of them")
        out[key] = value
    return out


def canonical_dataset(ds: FeatureDataset, source: str = "dataset") -> FeatureDataset:
    """``ds`` with its modalities renamed to the canonical vocabulary (in place; returned).

    Names outside the vocabulary and its aliases (a user's own ``eeg``) are kept.

    Raises:
        DataError: Two modalities of ``ds`` are the same canonical one (``video`` and ``face``).
    """
    ds.features = _canonical_keys(ds.features, source)
    ds.lengths = _canonical_keys(ds.lengths, source)
    ds.present = _canonical_keys(ds.present, source)
    return ds


def build_dataset(features: Mapping[str, np.ndarray], targets: np.ndarray, task: str, *, source: str,
                  lengths: Mapping[str, np.ndarray] | None = None, present: Mapping[str, np.ndarray] | None = None,
                  **kwargs: Any) -> FeatureDataset:
    """A :class:`FeatureDataset` whose modalities carry canonical names (see :func:`canonical_dataset`).

    Args:
        features: Modality (as the file names it) → ``(N, D)`` or ``(N, T, D)`` features.
        targets: Targets, as :class:`FeatureDataset` takes them.
        task: ``classification``, ``multilabel`` or ``regression``.
        source: The file, for messages.
        lengths: Modality → ``(N,)`` valid steps.
        present: Modality → ``(N,)`` presence.
        **kwargs: Further :class:`FeatureDataset` arguments (ids, groups, positions, label_space ...).
    """
    return FeatureDataset(_canonical_keys(features, source), targets, task,  # type: ignore[arg-type]
                          lengths=_canonical_keys(lengths or {}, source),
                          present=_canonical_keys(present or {}, source), **kwargs)


# ---------------------------------------------------------------------------- entry point
def sniff_format(path: str | Path | Mapping[str, str | Path]) -> str:
    """Name of the reader for ``path`` (a mapping of modality → ``.csd`` path means ``csd``).

    A directory with ``manifest.json`` is ``features``; otherwise the file suffix decides
    (``.npz`` → ``mosi_bclstm``, ``.pkl``/``.pickle`` → ``mmsa``, ``.csd`` → ``csd``).

    Raises:
        MissingFileError: ``path`` does not exist.
        DataError: the path exists but no reader recognises it.
    """
    return READERS.sniff(path)


def load_dataset(
    path: str | Path | Mapping[str, str | Path],
    *,
    format: str = "auto",  # noqa: A002
    split: str | None = None,
    allow_pickle: bool = False,
    pickle_reason: str | None = None,
    label_space: str | None = None,
    task: str | None = None,
    **kw: Any,
) -> FeatureDataset:
    """Open a dataset in any registered format.

    Args:
        path: A data file, a feature-dataset directory, or (``csd``) a mapping modality → ``.csd`` path.
        format: A name from :data:`READERS`, or ``"auto"`` to pick one from the path: a directory
            with ``manifest.json`` → ``features``; ``.npz`` → ``mosi_bclstm``; ``.pkl``/``.pickle``
            → ``mmsa``; ``.csd`` → ``csd``.
        split: Which split of a multi-split file (``mmsa``: ``train``, ``valid``, ``test``).
        allow_pickle: Opt in to reading a pickle (``mmsa``); needs ``pickle_reason`` too.
        pickle_reason: Why this pickle is trusted (e.g. "official MMSA release, sha256 checked").
        label_space: Override the reader's label space (classification).
        task: Override the reader's task (e.g. ``classification`` from continuous sentiment).
        **kw: Reader options (``nan_policy``, ``check``, ``labels`` for ``csd`` ...); unknown
            options raise :class:`~emofuse.errors.UnknownNameError` listing the known ones.

    Returns:
        The dataset, its modalities named ``text``/``audio``/``face``/``physio`` where the file
        uses another name for them.

    Raises:
        MissingFileError: the path does not exist.
        UnknownNameError: unknown ``format``, ``split`` or option name (with close matches).
        UnsafeFileError: a pickle without the explicit opt-in.
        DataError: the file's content does not fit the format.
    """
    fmt = sniff_format(path) if format == "auto" else format
    reader = READERS.get(fmt)
    if not isinstance(path, Mapping) and not Path(path).exists():
        raise MissingFileError(f"dataset path {Path(path)} does not exist")
    accepted = READERS.options(fmt)
    options = dict(kw)
    if "split" in accepted:
        options.update(split=split, allow_pickle=allow_pickle, pickle_reason=pickle_reason)
    elif split is not None:
        multi = [n for n in READERS.names() if "split" in READERS.options(n)]
        raise DataError(f"format {fmt!r} holds a single split; split={split!r} applies only to "
                        f"multi-split formats ({', '.join(multi)})")
    if label_space is not None:
        options["label_space"] = label_space
    if task is not None:
        options["task"] = task
    READERS.check_options(fmt, options)
    source = str(path) if not isinstance(path, Mapping) else f"{fmt} files {dict(path)}"
    return canonical_dataset(reader(path, **options), source)


# ---------------------------------------------------------------------------- shared helpers
def check_nan_policy(policy: str) -> None:
    """Refuse a ``nan_policy`` other than ``raise``/``zero`` (with close matches)."""
    check_choice(policy, NAN_POLICIES, "nan_policy")


def float_features(x: Any, name: str, source: str, nan_policy: str) -> np.ndarray:
    """``x`` as float32, with NaN/inf raising or zeroed according to ``nan_policy``."""
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise DataError(f"{source}: modality {name!r} must hold numeric features, got dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        if nan_policy == "zero":
            arr = arr.copy()
            arr[bad] = 0.0
        else:
            rows = np.unique(np.nonzero(bad)[0])[:5].tolist()
            raise DataError(f"{source}: modality {name!r} has {int(bad.sum())} NaN/inf values (first rows {rows}); "
                            "pass nan_policy='zero' to replace them with 0 (MMSA's own loader zeroes the -inf "
                            "of MOSEI audio), or fix the file")
    return arr


def continuous_targets(y: np.ndarray, task: str, label_space: str | None,
                        source: str) -> tuple[np.ndarray, str | None]:
    """Continuous sentiment scores → targets for ``task``.

    ``regression`` keeps the scores. ``classification`` maps the (first column of the) scores to
    ``sentiment2`` (positive iff score >= 0, MMSA's "Has0" convention; for the "Non0" convention
    drop the zero scores kept in ``ds.extras``) or ``sentiment3`` (the sign of the score).
    """
    if task not in TASKS:
        raise UnknownNameError("task", task, TASKS)
    if task == "regression":
        if label_space is not None:
            raise DataError(f"{source}: label_space={label_space!r} applies to classification, "
                            "not to regression targets (pass task='classification')")
        return y.astype(np.float32), None
    if task == "multilabel":
        raise DataError(f"{source}: continuous sentiment scores cannot be read as multilabel targets; "
                        "use task='regression' or task='classification'")
    space = label_space or "sentiment2"
    score = y if y.ndim == 1 else y[:, 0]
    if space == "sentiment2":
        return (score >= 0).astype(np.int64), space
    if space == "sentiment3":
        return (np.sign(score) + 1).astype(np.int64), space
    raise DataError(f"{source}: continuous sentiment can be turned into classes of 'sentiment2' or 'sentiment3', "
                    f"not {space!r}")


def trailing_index(ids: np.ndarray, sep: str) -> np.ndarray | None:
    """Integer after the last ``sep`` of every id, or ``None`` if one has none."""
    pat = re.compile(re.escape(sep) + r"(\d+)$")
    out = np.empty(len(ids), dtype=np.int64)
    for i, s in enumerate(ids.tolist()):
        m = pat.search(str(s))
        if m is None:
            return None
        out[i] = int(m.group(1))
    return out

