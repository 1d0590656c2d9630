"""Readers for standard corpus formats, all returning a :class:`FeatureDataset`.

One entry point, :func:`load_dataset`, sniffs the format from the path; the readers it picks
from are registered in :data:`READERS` (an unknown ``format=`` name is answered with close
matches):

========================  =======================================================================
format                    what it reads
========================  =======================================================================
``features``              a directory written by :meth:`FeatureDataset.save` (``manifest.json``)
``mosi_bclstm``           ``.npz`` utterance features of Poria et al. (ACL 2017) for CMU-MOSI
``mmsa``                  ``.pkl`` feature files of MMSA (CMU-MOSI, CMU-MOSEI, CH-SIMS); opt-in
``csd``                   CMU-MultimodalSDK computational sequences (HDF5 ``.csd``; ``h5py``)
========================  =======================================================================

Every reader validates at the boundary: missing keys, shapes, NaN/inf features and labels
outside the label space raise :class:`~emofuse.errors.DataError` naming what was expected.
Readers that know more than a :class:`FeatureDataset` holds (transcripts, unimodal labels)
attach it as ``ds.extras`` (a plain dict of ``(N,)`` arrays, set on the instance; it is not
carried over by :meth:`FeatureDataset.subset` or :meth:`FeatureDataset.save`).

Pickles (MMSA) are never opened by default: unpickling can run arbitrary code. They are read
only with ``allow_pickle=True`` and a written ``pickle_reason``, and even then through a
restricted unpickler that rebuilds numpy arrays and plain containers only. Convert such a file
once to the safe directory format with :meth:`FeatureDataset.save`.

Example:
    >>> import numpy as np, tempfile
    >>> from emofuse.data.dataset import FeatureDataset
    >>> ds = FeatureDataset({"audio": np.zeros((2, 3), np.float32)}, np.array([0, 1]),
    ...                     label_space="sentiment2")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     len(load_dataset(ds.save(d)))
    2
"""

from __future__ import annotations

import inspect
import io
import json
import pickle  # only behind an explicit opt-in, and through a restricted Unpickler
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.data.dataset import FeatureDataset
from emofuse.data.spec import TASKS
from emofuse.errors import ConfigError, DataError, MissingFileError, UnknownNameError, UnsafeFileError
from emofuse.registry import Registry

__all__ = [
    "NAN_POLICIES",
    "READERS",
    "load_csd_dataset",
    "load_dataset",
    "read_csd",
    "read_csd_dataset",
    "read_csd_metadata",
    "read_features",
    "read_mmsa",
    "read_mmsa_splits",
    "read_mosi_bclstm",
    "sniff_format",
]

Reader = Callable[..., FeatureDataset]
READERS: Registry[Reader] = Registry("dataset format")

#: What to do with NaN/inf feature values: ``raise`` a DataError, or replace them by ``zero``.
NAN_POLICIES: tuple[str, ...] = ("raise", "zero")

_SUFFIXES = {".npz": "mosi_bclstm", ".pkl": "mmsa", ".pickle": "mmsa", ".csd": "csd"}
_MULTI_SPLIT = {"mmsa"}
_CSD_INSTALL_HINT = "reading CMU-MultimodalSDK .csd files needs h5py: install it with `pip install emofuse[csd]`"


# ---------------------------------------------------------------------------- entry point
def sniff_format(path: str | Path | Mapping[str, str | Path]) -> str:
    """Name of the reader for ``path`` (a mapping of modality → ``.csd`` path means ``csd``).

    Raises:
        MissingFileError: ``path`` does not exist.
        DataError: the path exists but no reader recognises it.
    """
    if isinstance(path, Mapping):
        return "csd"
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"dataset path {p} does not exist")
    if p.is_dir():
        if (p / "manifest.json").is_file():
            return "features"
        raise DataError(f"{p} is a directory without manifest.json, so not an emofuse feature dataset "
                        "(write one with FeatureDataset.save, or name a data file)")
    fmt = _SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        known = ", ".join(f"{s} ({f})" for s, f in _SUFFIXES.items())
        raise DataError(f"cannot tell the format of {p.name!r} from its suffix; known suffixes: {known}, or a "
                        f"directory with manifest.json. Name the reader with format= (one of {READERS.names()})")
    return fmt


def load_dataset(
    path: str | Path | Mapping[str, str | Path],
    *,
    format: str = "auto",
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
        The dataset.

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
    options = dict(kw)
    if fmt in _MULTI_SPLIT:
        options.update(split=split, allow_pickle=allow_pickle, pickle_reason=pickle_reason)
    elif split is not None:
        raise DataError(f"format {fmt!r} holds a single split; split={split!r} applies only to "
                        f"multi-split formats ({', '.join(sorted(_MULTI_SPLIT))})")
    if label_space is not None:
        options["label_space"] = label_space
    if task is not None:
        options["task"] = task
    params = inspect.signature(reader).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [n for n in params if n != "path"]
        for name in options:
            if name not in params:
                raise UnknownNameError(f"option of reader {fmt!r}", name, accepted)
    return reader(path, **options)


# ---------------------------------------------------------------------------- shared helpers
def _check_nan_policy(policy: str) -> None:
    if policy not in NAN_POLICIES:
        raise UnknownNameError("nan_policy", policy, NAN_POLICIES)


def _float_features(x: Any, name: str, source: str, nan_policy: str) -> np.ndarray:
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


def _continuous_targets(y: np.ndarray, task: str, label_space: str | None,
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


def _trailing_index(ids: np.ndarray, sep: str) -> np.ndarray | None:
    """Integer after the last ``sep`` of every id, or ``None`` if one has none."""
    pat = re.compile(re.escape(sep) + r"(\d+)$")
    out = np.empty(len(ids), dtype=np.int64)
    for i, s in enumerate(ids.tolist()):
        m = pat.search(str(s))
        if m is None:
            return None
        out[i] = int(m.group(1))
    return out


# ---------------------------------------------------------------------------- features directory
@READERS.register("features")
def read_features(path: str | Path, *, label_space: str | None = None, task: str | None = None,
                  mmap: bool = True, check: bool = True) -> FeatureDataset:
    """Open a directory written by :meth:`FeatureDataset.save` (memory-mapped by default).

    ``label_space`` and ``task`` may be given only to assert what the directory holds; a
    different value raises :class:`DataError` (the stored targets are not converted).
    """
    ds = FeatureDataset.load(path, mmap=mmap, check=check)
    if label_space is not None and label_space != ds.label_space:
        raise DataError(f"{path}: holds label space {ds.label_space!r}, not {label_space!r}")
    if task is not None and task != ds.task:
        raise DataError(f"{path}: holds a {ds.task!r} dataset, not {task!r}")
    return ds


# ---------------------------------------------------------------------------- mosi_bclstm (.npz)
_MOSI_KEYS = ("utterance_id", "video_id", "transcript", "text", "audio", "video", "label")


@READERS.register("mosi_bclstm")
def read_mosi_bclstm(path: str | Path, *, label_space: str = "sentiment2", task: str = "classification",
                     nan_policy: str = "raise", check: bool = True) -> FeatureDataset:
    """Read the CMU-MOSI utterance features of Poria et al. (ACL 2017) from an ``.npz``.

    The file holds plain arrays (read with ``allow_pickle=False``): ``utterance_id`` and
    ``video_id`` (unicode), ``transcript``, ``text`` ``(N, 100)``, ``audio`` ``(N, 73)``,
    ``video`` ``(N, 100)`` and ``label`` (0 negative, 1 positive). Any number of utterances is
    accepted, so the official test file reads like the training file.

    Args:
        path: The ``.npz`` file.
        label_space: Label space of ``label`` (binary sentiment).
        task: Must be ``classification`` (the labels are classes).
        nan_policy: ``raise`` on NaN/inf features, or replace them by ``zero``.
        check: Validate the dataset (shapes, finiteness, labels) now.

    Returns:
        Pooled modalities ``text``, ``audio``, ``video``; ids = ``utterance_id``; group
        ``video`` = ``video_id``; positions = the trailing ``_NN`` index of ``utterance_id`` (the
        order of an utterance in its video's context); ``ds.extras["transcript"]``.
    """
    _check_nan_policy(nan_policy)
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"mosi_bclstm file {p} does not exist")
    if task != "classification":
        raise DataError(f"{p.name}: mosi_bclstm labels are sentiment classes, so task must be "
                        f"'classification', got {task!r}")
    try:
        with np.load(p, allow_pickle=False) as z:
            found = list(z.files)
            arrays = {k: z[k] for k in _MOSI_KEYS if k in found}
    except ValueError as e:  # object arrays would need unpickling, which is refused
        raise DataError(f"{p.name}: cannot be read without unpickling ({e}); mosi_bclstm files hold "
                        "plain arrays only") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{p.name}: not a readable .npz file ({e})") from None
    missing = [k for k in _MOSI_KEYS if k not in arrays]
    if missing:
        raise DataError(f"{p.name}: missing required arrays {missing} "
                        f"(expected {list(_MOSI_KEYS)}, found {sorted(found)})")
    src = p.name
    feats = {m: _float_features(arrays[m], m, src, nan_policy) for m in ("text", "audio", "video")}
    for m, x in feats.items():
        if x.ndim != 2:
            raise DataError(f"{src}: {m!r} must be pooled (N, D) features, got shape {x.shape}")
    label = arrays["label"]
    if not np.issubdtype(label.dtype, np.integer):
        if np.issubdtype(label.dtype, np.floating) and np.all(label == np.round(label)):
            label = label.astype(np.int64)
        else:
            raise DataError(f"{src}: 'label' must hold integer classes, got {label.dtype}")
    utt = arrays["utterance_id"].astype(str)
    positions = _trailing_index(utt, "_")
    if positions is None:
        warnings.warn(f"{src}: some utterance_id lack a trailing _NN index; context order falls back to "
                      "the order in the file", stacklevel=2)
    ds = FeatureDataset(feats, label.astype(np.int64), "classification", ids=utt,
                        groups={"video": arrays["video_id"].astype(str)}, positions=positions,
                        label_space=label_space, context_key="video", check=check)
    ds.extras = {"transcript": arrays["transcript"].astype(str)}
    return ds


# ---------------------------------------------------------------------------- mmsa (.pkl)
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
        x = _float_features(d[m], m, source, nan_policy)
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
    targets, space = _continuous_targets(y, task, label_space, source)
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
    ds = FeatureDataset(feats, targets, task, lengths=lengths, ids=ids, groups={"video": videos},  # type: ignore[arg-type]
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
        Split name → dataset with sequence modalities ``text``, ``audio``, ``vision``; group
        ``video`` and positions from the numeric clip part of ``id``; ``ds.extras`` keeps
        ``regression_labels`` and whichever of ``raw_text``, ``classification_labels`` and
        ``regression_labels_T/A/V`` the file has.

    Raises:
        UnsafeFileError: without ``allow_pickle=True`` and a ``pickle_reason``, or when the
            pickle references anything but numpy arrays and plain containers.
    """
    _check_nan_policy(nan_policy)
    p, data = _mmsa_splits(path, allow_pickle, pickle_reason)
    return {name: _mmsa_dataset(d, f"{p.name}[{name!r}]", task=task, label_space=label_space,
                                nan_policy=nan_policy, check=check) for name, d in data.items()}


@READERS.register("mmsa")
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
    _check_nan_policy(nan_policy)
    p, data = _mmsa_splits(path, allow_pickle, pickle_reason)
    if split is None:
        if len(data) != 1:
            raise DataError(f"{p.name} holds splits {sorted(data)}: choose one with split=")
        split = next(iter(data))
    if split not in data:
        raise UnknownNameError(f"split of {p.name}", split, data)
    return _mmsa_dataset(data[split], f"{p.name}[{split!r}]", task=task, label_space=label_space,
                         nan_policy=nan_policy, check=check)


# ---------------------------------------------------------------------------- csd (HDF5)
def _h5py() -> Any:
    try:
        import h5py
    except ImportError as e:
        raise ImportError(_CSD_INSTALL_HINT) from e
    return h5py


def _open_csd(path: str | Path) -> tuple[Any, str, Any]:
    """Open a ``.csd``: (h5 file, root name, ``data`` group). The caller closes the file."""
    h5py = _h5py()
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"computational sequence {p} does not exist")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise DataError(f"{p.name}: not an HDF5 computational sequence ({e})") from None
    roots = list(f.keys())
    if len(roots) != 1 or "data" not in f[roots[0]]:
        f.close()
        raise DataError(f"{p.name}: expected one root group <sequence name> holding 'data' and 'metadata' "
                        f"(CMU-MultimodalSDK layout), found root keys {roots}")
    return f, roots[0], f[roots[0]]["data"]


def _csd_entry(group: Any, vid: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    entry = group[vid]
    if "features" not in entry or "intervals" not in entry:
        raise DataError(f"{source}: entry {vid!r} must hold 'features' and 'intervals', found {sorted(entry)}")
    feats, ivals = entry["features"][()], entry["intervals"][()]
    if feats.ndim == 1:
        feats = feats[:, None]
    if ivals.ndim != 2 or ivals.shape[1] != 2 or ivals.shape[0] != feats.shape[0]:
        raise DataError(f"{source}: entry {vid!r} needs intervals (T, 2) for its {feats.shape[0]} feature rows, "
                        f"got {ivals.shape}")
    return feats, ivals.astype(np.float64)


def read_csd(path: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a CMU-MultimodalSDK computational sequence (``.csd``, HDF5) into memory.

    Layout: one root group named after the sequence (``COVAREP``, ``glove_vectors``,
    ``Opinion Segment Labels`` ...) holding ``data/<video_id>/features`` ``(T, D)`` and
    ``data/<video_id>/intervals`` ``(T, 2)`` (start, end in seconds), and ``metadata``.

    Returns:
        Video id → ``(features (T, D), intervals (T, 2) float64 seconds)``; features keep their
        stored dtype (word sequences hold strings).
    """
    f, _, data = _open_csd(path)
    with f:
        return {vid: _csd_entry(data, vid, Path(path).name) for vid in data}


def read_csd_metadata(path: str | Path) -> tuple[str, dict[str, Any]]:
    """Root (sequence) name and metadata of a ``.csd`` (JSON values decoded where possible)."""
    f, root, _ = _open_csd(path)
    meta: dict[str, Any] = {}
    with f:
        grp = f[root].get("metadata")
        if grp is None:
            return root, meta
        items: list[tuple[str, Any]] = list(grp.attrs.items())
        if hasattr(grp, "keys"):  # the SDK writes one (1,) string dataset per key
            items += [(k, grp[k][()]) for k in grp.keys()]
        for key, val in items:
            if isinstance(val, np.ndarray) and val.size == 1:
                val = val.reshape(-1)[0]
            if isinstance(val, bytes):
                val = val.decode("utf-8", "replace")
            if isinstance(val, str):
                try:
                    val = json.loads(val)
                except ValueError:
                    pass
            meta[key] = val
    return root, meta


def _overlap(frames: np.ndarray, start: float, end: float) -> np.ndarray:
    """Mask of frames whose interval overlaps ``[start, end)`` (instantaneous frames: lie inside it)."""
    fs, fe = frames[:, 0], frames[:, 1]
    spans = (fs < end) & (fe > start)
    points = (fs == fe) & (fs >= start) & (fs < end)
    return spans | points


def _pack(rows: list[np.ndarray | None], dim: int, pool: bool, max_steps: int | None
          ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Per-sample frame blocks → (features, lengths or None, present)."""
    n = len(rows)
    present = np.array([r is not None and len(r) > 0 for r in rows], dtype=bool)
    if pool:
        out = np.zeros((n, dim), dtype=np.float32)
        for i, r in enumerate(rows):
            if present[i]:
                out[i] = r.mean(axis=0)  # type: ignore[union-attr]
        return out, None, present
    lens = np.array([0 if r is None else len(r) for r in rows], dtype=np.int64)
    if max_steps is not None:
        lens = np.minimum(lens, max_steps)
    out = np.zeros((n, max(int(lens.max(initial=0)), 1), dim), dtype=np.float32)
    for i, r in enumerate(rows):
        if lens[i]:
            out[i, :lens[i]] = r[:lens[i]]  # type: ignore[index]
    return out, lens, present


def load_csd_dataset(
    modalities: Mapping[str, str | Path],
    labels: str | Path,
    *,
    level: str = "segment",
    task: str = "regression",
    label_space: str | None = None,
    label_columns: Sequence[int] | None = None,
    pool: bool = False,
    max_steps: int | None = None,
    nan_policy: str = "raise",
    check: bool = True,
) -> FeatureDataset:
    """Build a dataset from several computational sequences and a labels sequence.

    At ``segment`` level every labelled interval of the labels file is one sample, with id
    ``"<video>[<row>]"`` (the SDK's naming of aligned segments), group ``video`` and position
    its rank by start time; each modality contributes the frames whose intervals overlap the
    labelled interval (a frame with zero duration counts when it lies inside it), in file order.
    At ``video`` level every labelled video is one sample holding all its frames, and its
    target is the unweighted mean of its segments' labels.

    Args:
        modalities: Modality name → ``.csd`` path (e.g. ``{"text": "glove.csd", "audio": "covarep.csd"}``).
        labels: ``.csd`` of labels, e.g. ``CMU_MOSI_Opinion_Labels.csd`` (sentiment in ``[-3, 3]``) or
            ``CMU_MOSEI_All_Labels.csd`` (sentiment then six emotion intensities).
        level: ``segment`` or ``video``.
        task: ``regression`` (targets ``(N,)`` for one label column, else ``(N, K)``) or
            ``classification`` from the first selected column (see ``label_space``).
        label_space: For classification: ``sentiment2`` (score >= 0 positive) or ``sentiment3`` (sign).
        label_columns: Which label columns to keep (default: all).
        pool: Mean-pool each sample's frames into ``(N, D)`` instead of ``(N, T, D)`` sequences.
        max_steps: Keep at most this many frames per sample (sequences only).
        nan_policy: ``raise`` on NaN/inf features, or replace them by ``zero``.
        check: Validate the dataset now.

    Returns:
        The dataset; a modality with no frames for a sample is marked absent in ``present``.
    """
    _check_nan_policy(nan_policy)
    if level not in ("segment", "video"):
        raise UnknownNameError("csd level", level, ("segment", "video"))
    if not modalities:
        raise DataError("load_csd_dataset needs at least one modality .csd")
    if max_steps is not None and max_steps < 1:
        raise ConfigError(f"max_steps must be >= 1, got {max_steps}")
    label_data = read_csd(labels)
    lab_src = Path(labels).name
    if not label_data:
        raise DataError(f"{lab_src}: the labels sequence holds no videos")
    ids: list[str] = []
    videos: list[str] = []
    positions: list[int] = []
    targets: list[np.ndarray] = []
    spans: list[tuple[str, float, float] | None] = []  # (video, start, end) or None for a whole video
    for vid in sorted(label_data):
        lab, ivals = label_data[vid]
        lab = _float_features(lab, "labels", f"{lab_src}[{vid!r}]", "raise").astype(np.float64)
        if label_columns is not None:
            try:
                lab = lab[:, list(label_columns)]
            except IndexError:
                raise DataError(f"{lab_src}: label_columns {list(label_columns)} out of range for "
                                f"{lab.shape[1]} label columns") from None
        if len(lab) == 0:
            continue
        if level == "video":
            ids.append(vid)
            videos.append(vid)
            positions.append(0)
            targets.append(lab.mean(axis=0))
            spans.append(None)
            continue
        rank = np.argsort(np.argsort(ivals[:, 0], kind="stable"), kind="stable")
        for s in range(len(lab)):
            ids.append(f"{vid}[{s}]")
            videos.append(vid)
            positions.append(int(rank[s]))
            targets.append(lab[s])
            spans.append((vid, float(ivals[s, 0]), float(ivals[s, 1])))
    if not targets:
        raise DataError(f"{lab_src}: no labelled segments")
    y = np.stack(targets)
    if y.shape[1] == 1:
        y = y[:, 0]
    y_out, space = _continuous_targets(y, task, label_space, lab_src)

    feats: dict[str, np.ndarray] = {}
    lengths: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    for name, mpath in modalities.items():
        f, _, data = _open_csd(mpath)
        src = Path(mpath).name
        with f:
            cache: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
            dim: int | None = None
            rows: list[np.ndarray | None] = []
            for vid, span in zip(videos, spans, strict=True):
                if vid not in cache:
                    if vid in data:
                        fx, iv = _csd_entry(data, vid, src)
                        fx = _float_features(fx, name, f"{src}[{vid!r}]", nan_policy)
                        if dim is not None and fx.shape[1] != dim:
                            raise DataError(f"{src}: entry {vid!r} has {fx.shape[1]} feature columns, "
                                            f"others have {dim}")
                        dim = fx.shape[1]
                        cache = {vid: (fx, iv)}  # labels are grouped by video: keep one in memory
                    else:
                        cache = {vid: None}
                got = cache[vid]
                if got is None:
                    rows.append(None)
                elif span is None:
                    rows.append(got[0])
                else:
                    rows.append(got[0][_overlap(got[1], span[1], span[2])])
            if dim is None:
                raise DataError(f"{src}: none of the {len(set(videos))} labelled videos appear in modality "
                                f"{name!r} (e.g. {sorted(set(videos))[:3]})")
        x, ln, pr = _pack(rows, dim, pool, max_steps)
        feats[name] = x
        if ln is not None:
            lengths[name] = ln
        if not pr.all():
            present[name] = pr
    return FeatureDataset(feats, y_out, task, lengths=lengths, present=present, ids=ids,  # type: ignore[arg-type]
                          groups={"video": videos}, positions=np.asarray(positions, dtype=np.int64),
                          label_space=space, context_key="video", check=check)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "features"


@READERS.register("csd")
def read_csd_dataset(path: str | Path | Mapping[str, str | Path], *, labels: str | Path | None = None,
                     modality: str | None = None, **options: Any) -> FeatureDataset:
    """``load_dataset`` route for ``.csd``: a mapping of modality → path, or one file with ``labels``.

    A single ``.csd`` becomes a one-modality dataset named ``modality`` (default: the sequence's
    root name in lower case, e.g. ``covarep``); further ``options`` go to :func:`load_csd_dataset`.
    """
    if labels is None:
        raise DataError(
            "a .csd file holds one computational sequence (one modality, or the labels), so it needs a labels "
            "sequence to become a dataset. Combine files with load_csd_dataset({'text': 'glove_vectors.csd', "
            "'audio': 'COVAREP.csd', 'video': 'FACET.csd'}, labels='Opinion_Labels.csd'), or read one modality "
            "with load_dataset('COVAREP.csd', labels='Opinion_Labels.csd')")
    accepted = [k for k in inspect.signature(load_csd_dataset).parameters if k not in ("modalities", "labels")]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UnknownNameError("option of reader 'csd'", unknown[0], [*accepted, "labels", "modality"])
    if isinstance(path, Mapping):
        if modality is not None:
            raise DataError("modality= names a single .csd; a mapping already names its modalities")
        mods = dict(path)
    else:
        name = modality or _slug(read_csd_metadata(path)[0])
        mods = {name: path}
    return load_csd_dataset(mods, labels, **options)
