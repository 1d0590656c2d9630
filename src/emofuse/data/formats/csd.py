"""CMU-MultimodalSDK computational sequences (HDF5 ``.csd``; needs ``h5py``)."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.data.dataset import FeatureDataset
from emofuse.data.formats._base import READERS, build_dataset, check_nan_policy, continuous_targets, float_features
from emofuse.errors import ConfigError, DataError, MissingFileError, UnknownNameError

_CSD_INSTALL_HINT = "reading CMU-MultimodalSDK .csd files needs h5py: install it with `pip install emofuse[csd]`"


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
    check_nan_policy(nan_policy)
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
        lab = float_features(lab, "labels", f"{lab_src}[{vid!r}]", "raise").astype(np.float64)
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
    y_out, space = continuous_targets(y, task, label_space, lab_src)

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
                        fx = float_features(fx, name, f"{src}[{vid!r}]", nan_policy)
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
    return build_dataset(feats, y_out, task, source=lab_src, lengths=lengths, present=present, ids=ids,
                         groups={"video": videos}, positions=np.asarray(positions, dtype=np.int64),
                         label_space=space, context_key="video", check=check)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "features"


def _csd_options() -> tuple[str, ...]:
    """Options of the ``csd`` route: ``labels``, ``modality`` and those of :func:`load_csd_dataset`."""
    params = inspect.signature(load_csd_dataset).parameters
    return ("labels", "modality", *(k for k in params if k not in ("modalities", "labels")))


@READERS.register("csd", suffixes=(".csd",), order=40, many=True, options=_csd_options(),
                  layout=".csd (HDF5) sequences: a mapping modality → .csd, or one .csd with labels=")
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
            "'audio': 'COVAREP.csd', 'face': 'FACET.csd'}, labels='Opinion_Labels.csd'), or read one modality "
            "with load_dataset('COVAREP.csd', labels='Opinion_Labels.csd')")
    READERS.check_options("csd", options)
    if isinstance(path, Mapping):
        if modality is not None:
            raise DataError("modality= names a single .csd; a mapping already names its modalities")
        mods = dict(path)
    else:
        name = modality or _slug(read_csd_metadata(path)[0])
        mods = {name: path}
    return load_csd_dataset(mods, labels, **options)
