"""MMSA feature pickles (CMU-MOSI, CMU-MOSEI, CH-SIMS), read only on opt-in through a restricted unpickler."""

from __future__ import annotations

import io
import pickle  # only behind an explicit opt-in, and through a restricted Unpickler
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.data.dataset import FeatureDataset
from emofuse.data.formats._base import READERS, build_dataset, check_nan_policy, continuous_targets, float_features
from emofuse.errors import DataError, MissingFileError, UnknownNameError, UnsafeFileError


def _numpy_attr(*paths: str) -> Any:
    """First attribute found among dotted ``paths`` below ``numpy`` (numpy 1.x and 2.x names)."""
    for dotted in paths:
        obj: Any = np
        try:
            for part in dotted.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    raise AttributeError(paths)


def _allowed_globals() -> dict[tuple[str, str], Any]:
    import _codecs
    import builtins

    reconstruct = _numpy_attr("_core.multiarray._reconstruct", "core.multiarray._reconstruct")
    scalar = _numpy_attr("_core.multiarray.scalar", "core.multiarray.scalar")
    frombuffer = _numpy_attr("_core.numeric._frombuffer", "core.numeric._frombuffer")
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                           ("_codecs", "encode"): _codecs.encode}
    for mod in ("numpy.core", "numpy._core"):  # pickles name numpy 1.x or 2.x modules
        allowed[(f"{mod}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{mod}.multiarray", "scalar")] = scalar
        allowed[(f"{mod}.numeric", "_frombuffer")] = frombuffer
    for name in ("list", "dict", "tuple", "set", "frozenset", "str", "bytes", "bytearray", "int", "float",
                 "bool", "complex"):
        allowed[("builtins", name)] = getattr(builtins, name)
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that rebuilds numpy arrays and plain containers and refuses every other global."""

    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file)
        self._source = source
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafeFileError(
                f"{self._source}: refusing to unpickle {module}.{name}: only numpy arrays and plain Python "
                "containers are allowed in a feature file (this pickle references other code, which "
                "unpickling would run)") from None

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102
        raise UnsafeFileError(f"{self._source}: refusing a pickle with persistent ids")


def _read_pickle(path: Path, allow_pickle: bool, pickle_reason: str | None) -> Any:
    why = ("Unpickling runs whatever code the file names, so only open pickles from a source you trust. "
           "To read it, pass allow_pickle=True and pickle_reason='<why you trust this file>'; emofuse then "
           "uses a restricted unpickler that rebuilds numpy arrays only. Better: convert it once "
           "(load_dataset(..., allow_pickle=True, pickle_reason=...).save('dir')) and use the safe "
           "directory format from then on.")
    if not allow_pickle:
        raise UnsafeFileError(f"{path.name} is a pickle and allow_pickle is False. {why}")
    if not isinstance(pickle_reason, str) or not pickle_reason.strip():
        raise UnsafeFileError(f"{path.name}: allow_pickle=True needs a non-empty pickle_reason. {why}")
    try:
        with path.open("rb") as f:
            return _ArrayUnpickler(f, path.name).load()
    except UnsafeFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise DataError(f"{path.name}: not a readable MMSA pickle ({type(e).__name__}: {e})") from None


def _mmsa_splits(path: str | Path, allow_pickle: bool, pickle_reason: str | None) -> tuple[Path, dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"MMSA file {p} does not exist")
    data = _read_pickle(p, allow_pickle, pickle_reason)
    if not isinstance(data, dict) or not data or not all(isinstance(v, dict) for v in data.values()):
        raise DataError(f"{p.name}: expected a dict of splits {{'train': {{...}}, 'valid': {{...}}, 'test': {{...}}}} "
                        f"of dicts of arrays, got {type(data).__name__}")
    return p, data


def _mmsa_dataset(d: Mapping[str, Any], source: str, *, task: str, label_space: str | None,
                  nan_policy: str, check: bool) -> FeatureDataset:
    """One MMSA split dict → FeatureDataset."""
    if "text" not in d:
        if "text_bert" in d:
            raise DataError(f"{source}: has only 'text_bert', which holds BERT token ids, attention mask and "
                            "segment ids (N, 3, T), not features; emofuse needs the 'text' embeddings "
                            "(N, T, 768) of the MMSA feature file")
        raise DataError(f"{source}: missing required array 'text' (N, T, D)")
    missing = [k for k in ("audio", "vision", "regression_labels") if k not in d]
    if missing:
        raise DataError(f"{source}: missing required arrays {missing} (found {sorted(d)})")
    feats: dict[str, np.ndarray] = {}
    lengths: dict[str, np.ndarray] = {}
    for m in ("text", "audio", "vision"):
        x = float_features(d[m], m, source, nan_policy)
        if x.ndim != 3:
            raise DataError(f"{source}: {m!r} must be a (N, T, D) sequence array, got shape {x.shape}")
        feats[m] = x
    n = feats["text"].shape[0]
    for m, x in feats.items():
        if x.shape[0] != n:
            raise DataError(f"{source}: {m!r} has {x.shape[0]} samples, 'text' has {n}")
    bert = d.get("text_bert")
    if bert is not None:
        bert = np.asarray(bert)
        if bert.ndim == 3 and bert.shape[:2] == (n, 3):  # row 1 is the attention mask
            lengths["text"] = np.minimum(np.asarray(bert[:, 1]).sum(axis=1), feats["text"].shape[1])
    for m in ("audio", "vision"):
        raw = d.get(f"{m}_lengths")
        if raw is None:
            continue
        ln = np.asarray(raw).reshape(-1)
        if ln.shape != (n,) or not np.issubdtype(ln.dtype, np.number):
            raise DataError(f"{source}: '{m}_lengths' must be {n} numbers, got {ln.dtype} {ln.shape}")
        # Some releases record lengths before truncation to T: clip to the stored steps.
        lengths[m] = np.minimum(ln.astype(np.int64), feats[m].shape[1])
    y = np.asarray(d["regression_labels"], dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise DataError(f"{source}: 'regression_labels' must be ({n},), got {y.shape}")
    if not np.isfinite(y).all():
        raise DataError(f"{source}: 'regression_labels' contain NaN or inf")
    targets, space = continuous_targets(y, task, label_space, source)
    ids = np.asarray(d["id"]).astype(str).reshape(-1) if "id" in d else np.array([str(i) for i in range(n)])
    if ids.shape != (n,):
        raise DataError(f"{source}: 'id' must have {n} entries, got {ids.shape}")
    parts = [s.rsplit("$_$", 1) for s in ids.tolist()]
    videos = np.array([pp[0] for pp in parts])
    clips = [pp[1] if len(pp) == 2 else "" for pp in parts]
    positions = np.array([int(c) for c in clips], dtype=np.int64) if all(c.isdigit() for c in clips) else None
    extras: dict[str, np.ndarray] = {"regression_labels": y.astype(np.float32)}
    for key in ("raw_text", "classification_labels", "regression_labels_T", "regression_labels_A",
                "regression_labels_V"):
        if key in d:
            extras[key] = np.asarray(d[key])
    ds = build_dataset(feats, targets, task, source=source, lengths=lengths, ids=ids, groups={"video": videos},
                       positions=positions, label_space=space, context_key="video", check=check)
    ds.extras = extras
    return ds


def read_mmsa_splits(path: str | Path, *, allow_pickle: bool = False, pickle_reason: str | None = None,
                     task: str = "regression", label_space: str | None = None, nan_policy: str = "raise",
                     check: bool = True) -> dict[str, FeatureDataset]:
    """Read every split of an MMSA feature pickle (CMU-MOSI, CMU-MOSEI, CH-SIMS).

    The file is a pickled ``{"train": {...}, "valid": {...}, "test": {...}}``; each split holds
    ``text`` ``(N, T_t, 768)`` (BERT features; ``text_bert`` ``(N, 3, T_t)`` token ids/mask/segments
    only gives the text lengths), ``audio`` ``(N, T_a, D_a)``, ``vision`` ``(N, T_v, D_v)``,
    optional ``audio_lengths``/``vision_lengths`` (default: full length), ``regression_labels``
    ``(N,)`` in ``[-3, 3]`` (CH-SIMS: ``[-1, 1]``), optional ``classification_labels``,
    ``regression_labels_T/A/V`` and ``raw_text``, and ``id`` ``"<video>$_$<clip>"``.

    Args:
        path: The ``.pkl`` file.
        allow_pickle: Must be ``True``: unpickling can run code, so reading is an explicit choice.
        pickle_reason: Non-empty note of why the file is trusted.
        task: ``regression`` (the sentiment score) or ``classification`` (see ``label_space``).
        label_space: For classification: ``sentiment2`` (score >= 0 is positive, MMSA's "Has0"
            convention) or ``sentiment3`` (sign of the score).
        nan_policy: ``raise`` on NaN/inf features, or replace them by ``zero`` (MOSEI audio
            holds some ``-inf``; MMSA's own loader zeroes them).
        check: Validate each dataset now.

    Returns:
        Split name → dataset with sequence modalities ``text``, ``audio`` and ``face`` (the
        file's ``vision``); group
        ``video`` and positions from the numeric clip part of ``id``; ``ds.extras`` keeps
        ``regression_labels`` and whichever of ``raw_text``, ``classification_labels`` and
        ``regression_labels_T/A/V`` the file has.

    Raises:
        UnsafeFileError: without ``allow_pickle=True`` and a ``pickle_reason``, or when the
            pickle references anything but numpy arrays and plain containers.
    """
    check_nan_policy(nan_policy)
    p, data = _mmsa_splits(path, allow_pickle, pickle_reason)
    return {name: _mmsa_dataset(d, f"{p.name}[{name!r}]", task=task, label_space=label_space,
                                nan_policy=nan_policy, check=check) for name, d in data.items()}


@READERS.register("mmsa", suffixes=(".pkl", ".pickle"), order=30,
                  layout=".pkl/.pickle of {train, valid, test} splits (needs allow_pickle=True)")
def read_mmsa(path: str | Path, *, split: str | None = None, allow_pickle: bool = False,
              pickle_reason: str | None = None, task: str = "regression", label_space: str | None = None,
              nan_policy: str = "raise", check: bool = True) -> FeatureDataset:
    """Read one split of an MMSA feature pickle; see :func:`read_mmsa_splits` for the layout.

    Args:
        path: The ``.pkl`` file.
        split: ``train``, ``valid`` or ``test`` (may be left out only if the file has one split).
        allow_pickle: Must be ``True`` (see :func:`read_mmsa_splits`).
        pickle_reason: Non-empty note of why the file is trusted.
        task: ``regression`` or ``classification``.
        label_space: ``sentiment2`` or ``sentiment3`` for classification.
        nan_policy: ``raise`` or ``zero``.
        check: Validate the dataset now.

    Returns:
        The split's dataset.
    """
    check_nan_policy(nan_policy)
    p, data = _mmsa_splits(path, allow_pickle, pickle_reason)
    if split is None:
        if len(data) != 1:
            raise DataError(f"{p.name} holds splits {sorted(data)}: choose one with split=")
        split = next(iter(data))
    if split not in data:
        raise UnknownNameError(f"split of {p.name}", split, data)
    return _mmsa_dataset(data[split], f"{p.name}[{split!r}]", task=task, label_space=label_space,
                         nan_policy=nan_policy, check=check)
