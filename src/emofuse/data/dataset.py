"""Feature datasets: per-modality arrays, lengths, presence masks, targets, ids and groups.

On-disk format (a directory; every file is a plain ``.npy`` array, never a pickle)::

    manifest.json            {"format": "emofuse-features", "version": 1, "size": N, "task": ...,
                              "label_space": ..., "classes": [...], "modalities": {...},
                              "groups": [...], "context_key": ...}
    features.<modality>.npy  float32, (N, D) pooled or (N, T, D) zero-padded sequences
    lengths.<modality>.npy   int64 (N,), sequences only: valid steps per sample
    present.<modality>.npy   bool (N,), optional: False where the modality is missing
    targets.npy              int64 (N,) classes | float32 (N, C) multi-hot | float32 (N,) / (N, K) regression
    ids.npy                  unicode (N,)
    group.<key>.npy          unicode (N,), e.g. group.video.npy, group.speaker.npy
    positions.npy            int64 (N,), optional: order of each utterance inside its context group

Arrays are opened memory-mapped, so a set larger than memory is read batch by batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emofuse.data.spec import TASKS, Batch, ModalitySpec, Specifications, Task
from emofuse.errors import DataError, MissingFileError
from emofuse.labels import get_label_space

FORMAT_NAME = "emofuse-features"
FORMAT_VERSION = 1
_CHUNK = 4096


class FeatureDataset:
    """Per-modality feature arrays with targets, ids and group keys.

    Args:
        features: Modality → array ``(N, D)`` or ``(N, T, D)`` (numpy or memmap).
        targets: ``(N,)`` int classes, ``(N, C)`` multi-hot, or float regression targets.
        task: ``classification``, ``multilabel`` or ``regression``.
        lengths: Modality → ``(N,)`` valid steps (sequences only; defaults to ``T``).
        present: Modality → ``(N,)`` bool presence (defaults to all present).
        ids: ``(N,)`` sample ids (defaults to ``"0".."N-1"``).
        groups: Group key → ``(N,)`` labels, e.g. ``{"video": ..., "speaker": ...}``.
        positions: ``(N,)`` order inside the context group (defaults to order of appearance).
        label_space: Registered label space name for classification/multilabel targets.
        classes: Class names when no registered space applies.
        context_key: Which group key defines context (defaults to the first group key).
        check: Validate shapes, finiteness and labels now (chunked, memory-safe).
    """

    def __init__(
        self,
        features: Mapping[str, np.ndarray],
        targets: np.ndarray,
        task: Task = "classification",
        *,
        lengths: Mapping[str, np.ndarray] | None = None,
        present: Mapping[str, np.ndarray] | None = None,
        ids: Sequence[str] | np.ndarray | None = None,
        groups: Mapping[str, Sequence[str] | np.ndarray] | None = None,
        positions: np.ndarray | None = None,
        label_space: str | None = None,
        classes: Sequence[str] | None = None,
        context_key: str | None = None,
        check: bool = True,
    ) -> None:
        if task not in TASKS:
            raise DataError(f"task must be one of {TASKS}, got {task!r}")
        if not features:
            raise DataError("a feature dataset needs at least one modality")
        self.features = dict(features)
        self.task: Task = task
        self.targets = np.asarray(targets) if not isinstance(targets, np.memmap) else targets
        n = len(self.targets)
        self.lengths = {k: np.asarray(v, dtype=np.int64) for k, v in (lengths or {}).items()}
        self.present = {k: np.asarray(v, dtype=bool) for k, v in (present or {}).items()}
        self.ids = np.asarray(ids if ids is not None else [str(i) for i in range(n)]).astype(str)
        self.groups = {k: np.asarray(v).astype(str) for k, v in (groups or {}).items()}
        self.context_key = context_key or (next(iter(self.groups)) if self.groups else None)
        if self.context_key is not None and self.context_key not in self.groups:
            raise DataError(f"context_key {self.context_key!r} is not one of the group keys {list(self.groups)}")
        self.label_space = label_space
        if label_space is not None:
            self.classes = get_label_space(label_space).classes
        else:
            self.classes = tuple(classes or ())
        self.positions = None if positions is None else np.asarray(positions, dtype=np.int64)
        if check:
            self.validate()
        for name, x in self.features.items():
            if x.ndim == 3 and name not in self.lengths:
                self.lengths[name] = np.full(n, x.shape[1], dtype=np.int64)
        for name in self.features:
            if name in self.lengths:  # an empty sequence is a missing modality
                empty = self.lengths[name] <= 0
                if empty.any():
                    base = self.present.get(name, np.ones(n, dtype=bool))
                    self.present[name] = base & ~empty
        self._group_codes: np.ndarray | None = None

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check shapes, dtypes, NaN/inf and labels; raise :class:`DataError` naming the problem."""
        n = len(self.targets)
        if n == 0:
            raise DataError("dataset is empty (0 samples)")
        for name, x in self.features.items():
            if x.ndim not in (2, 3):
                raise DataError(f"modality {name!r}: expected (N, D) or (N, T, D) features, got shape {x.shape}")
            if x.shape[0] != n:
                raise DataError(f"modality {name!r}: {x.shape[0]} rows but {n} targets")
            if not np.issubdtype(x.dtype, np.floating):
                raise DataError(f"modality {name!r}: expected float features, got {x.dtype}")
            for start in range(0, n, _CHUNK):
                block = np.asarray(x[start:start + _CHUNK])
                if not np.isfinite(block).all():
                    rows = start + np.unique(np.nonzero(~np.isfinite(block))[0])[:5]
                    raise DataError(f"modality {name!r}: NaN or inf features in rows {rows.tolist()} "
                                    "(impute or drop them, or mark the modality absent with `present`)")
            if name in self.lengths:
                lens = self.lengths[name]
                tmax = x.shape[1] if x.ndim == 3 else 1
                if lens.shape != (n,) or lens.min() < 0 or lens.max() > tmax:
                    raise DataError(f"modality {name!r}: lengths must be (N,) within 0..{tmax}")
        for name, m in self.present.items():
            if name not in self.features or m.shape != (n,):
                raise DataError(f"present[{name!r}] must be a (N,) mask of a known modality")
        for key, g in self.groups.items():
            if g.shape != (n,):
                raise DataError(f"group {key!r}: expected {n} entries, got {g.shape}")
        if self.ids.shape != (n,):
            raise DataError(f"ids: expected {n} entries, got {self.ids.shape}")
        y = self.targets
        if self.task == "classification":
            if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
                raise DataError(f"classification targets must be (N,) integers, got {y.dtype} {y.shape}")
            k = len(self.classes) if self.classes else int(y.max()) + 1
            if y.min() < 0 or y.max() >= k:
                if self.label_space:
                    get_label_space(self.label_space).check_indices(y)
                raise DataError(f"labels outside 0..{k - 1} ({', '.join(self.classes)})")
        elif self.task == "multilabel":
            if y.ndim != 2 or not np.isin(np.unique(y), [0, 1]).all():
                raise DataError("multilabel targets must be an (N, C) 0/1 matrix")
            if self.classes and y.shape[1] != len(self.classes):
                raise DataError(f"multilabel targets have {y.shape[1]} columns for {len(self.classes)} classes")
        else:
            if y.ndim not in (1, 2) or not np.isfinite(np.asarray(y, dtype=np.float64)).all():
                raise DataError("regression targets must be finite, shape (N,) or (N, K)")

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.targets)

    @property
    def num_outputs(self) -> int:
        """Classes (classification/multilabel) or regression targets."""
        if self.task == "classification":
            return len(self.classes) if self.classes else int(np.max(self.targets)) + 1
        if self.task == "multilabel":
            return int(self.targets.shape[1])
        return 1 if self.targets.ndim == 1 else int(self.targets.shape[1])

    @property
    def spec(self) -> Specifications:
        """The data → model contract for this dataset."""
        mods = {}
        for name, x in self.features.items():
            seq = x.ndim == 3
            mods[name] = ModalitySpec(int(x.shape[-1]), seq, int(x.shape[1]) if seq else 1)
        return Specifications(mods, self.task, self.num_outputs, self.label_space, tuple(self.classes))

    def group_codes(self) -> np.ndarray:
        """``(N,)`` int codes of the context group (each sample its own group if none)."""
        if self._group_codes is None:
            if self.context_key is None:
                self._group_codes = np.arange(len(self), dtype=np.int64)
            else:
                _, codes = np.unique(self.groups[self.context_key], return_inverse=True)
                self._group_codes = codes.astype(np.int64)
        return self._group_codes

    def _positions(self) -> np.ndarray:
        if self.positions is not None:
            return self.positions
        codes = self.group_codes()
        pos = np.zeros(len(self), dtype=np.int64)
        counter: dict[int, int] = {}
        for i, c in enumerate(codes.tolist()):
            pos[i] = counter.get(c, 0)
            counter[c] = pos[i] + 1
        self.positions = pos
        return pos

    def batch(self, indices: Sequence[int] | np.ndarray) -> Batch:
        """Gather rows ``indices`` into a :class:`Batch` (sequences trimmed to the batch's longest)."""
        idx = np.asarray(indices, dtype=np.int64)
        order = np.argsort(idx, kind="stable")  # memmaps read faster in increasing order
        inv = np.empty_like(order)
        inv[order] = np.arange(len(order))
        sidx = idx[order]
        feats, lens, pres = {}, {}, {}
        for name, x in self.features.items():
            arr = np.asarray(x[sidx])[inv]
            if x.ndim == 3:
                ln = self.lengths[name][idx]
                tmax = max(int(ln.max()), 1)
                arr = arr[:, :tmax]
                lens[name] = torch.from_numpy(np.maximum(ln, 1).copy())
            feats[name] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
            if name in self.present:
                pres[name] = torch.from_numpy(self.present[name][idx].copy())
        y = np.asarray(self.targets[sidx])[inv]
        if self.task == "classification":
            targets = torch.from_numpy(y.astype(np.int64))
        else:
            targets = torch.from_numpy(y.astype(np.float32))
        return Batch(
            features=feats, lengths=lens, present=pres, targets=targets,
            groups=torch.from_numpy(self.group_codes()[idx].copy()),
            positions=torch.from_numpy(self._positions()[idx].copy()),
            ids=self.ids[idx].tolist(),
        )

    def iter_batches(self, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                     whole_groups: bool = False) -> Iterator[Batch]:
        """Yield batches; with ``whole_groups`` a context group is never split across batches."""
        rng = np.random.default_rng(seed)
        if not whole_groups:
            order = rng.permutation(len(self)) if shuffle else np.arange(len(self))
            for s in range(0, len(order), batch_size):
                yield self.batch(order[s:s + batch_size])
            return
        codes = self.group_codes()
        uniq = np.unique(codes)
        if shuffle:
            uniq = rng.permutation(uniq)
        members = {int(g): np.nonzero(codes == g)[0] for g in uniq}
        current: list[int] = []
        for g in uniq.tolist():
            if current and len(current) + len(members[g]) > batch_size:
                yield self.batch(current)
                current = []
            current.extend(members[g].tolist())
        if current:
            yield self.batch(current)

    def subset(self, indices: Sequence[int] | np.ndarray) -> FeatureDataset:
        """A new in-memory dataset of the given rows."""
        idx = np.asarray(indices, dtype=np.int64)
        return FeatureDataset(
            {k: np.asarray(v[idx]) for k, v in self.features.items()}, np.asarray(self.targets[idx]),
            self.task, lengths={k: v[idx] for k, v in self.lengths.items()},
            present={k: v[idx] for k, v in self.present.items()}, ids=self.ids[idx],
            groups={k: v[idx] for k, v in self.groups.items()},
            positions=None if self.positions is None else self.positions[idx],
            label_space=self.label_space, classes=None if self.label_space else self.classes,
            context_key=self.context_key, check=False,
        )

    def select_modalities(self, names: Sequence[str]) -> FeatureDataset:
        """Keep only the named modalities (aliases such as ``video`` accepted; unknown names raise).

        Raises:
            UnknownNameError: A name that is not a modality of the dataset (with close matches).
        """
        from emofuse.errors import UnknownNameError
        from emofuse.modalities import canonical_modality

        names = [n if n in self.features else canonical_modality(n) for n in names]
        for n in names:
            if n not in self.features:
                raise UnknownNameError("modality", n, self.features)
        ds = self.subset(np.arange(len(self)))
        ds.features = {k: ds.features[k] for k in names}
        ds.lengths = {k: v for k, v in ds.lengths.items() if k in names}
        ds.present = {k: v for k, v in ds.present.items() if k in names}
        return ds

    # ------------------------------------------------------------------ io
    def save(self, directory: str | Path) -> Path:
        """Write the dataset in the documented directory format; returns the directory."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        spec = self.spec
        manifest: dict[str, Any] = {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "size": len(self), "task": self.task,
            "label_space": self.label_space, "classes": list(self.classes),
            "modalities": spec.to_dict()["modalities"], "groups": list(self.groups),
            "context_key": self.context_key, "has_positions": self.positions is not None,
        }
        for name, x in self.features.items():
            np.save(d / f"features.{name}.npy", np.asarray(x, dtype=np.float32))
            if x.ndim == 3:
                np.save(d / f"lengths.{name}.npy", self.lengths[name])
            if name in self.present:
                np.save(d / f"present.{name}.npy", self.present[name])
        np.save(d / "targets.npy", np.asarray(self.targets))
        np.save(d / "ids.npy", self.ids)
        for key, g in self.groups.items():
            np.save(d / f"group.{key}.npy", g)
        if self.positions is not None:
            np.save(d / "positions.npy", self.positions)
        (d / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        return d

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = True, check: bool = True) -> FeatureDataset:
        """Open a dataset directory written by :meth:`save` (memory-mapped by default)."""
        d = Path(directory)
        mf = d / "manifest.json"
        if not mf.is_file():
            raise MissingFileError(f"{d} is not an emofuse feature dataset: missing {mf.name}")
        manifest = json.loads(mf.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT_NAME:
            raise DataError(f"{mf}: format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
        mode = "r" if mmap else None

        def arr(name: str) -> np.ndarray:
            p = d / name
            if not p.is_file():
                raise MissingFileError(f"feature dataset {d}: missing {name}")
            return np.load(p, mmap_mode=mode, allow_pickle=False)

        mods = manifest["modalities"]
        feats = {m: arr(f"features.{m}.npy") for m in mods}
        lens = {m: np.asarray(arr(f"lengths.{m}.npy")) for m, s in mods.items() if s["sequential"]}
        pres = {m: np.asarray(arr(f"present.{m}.npy")) for m in mods if (d / f"present.{m}.npy").is_file()}
        return cls(
            feats, arr("targets.npy"), manifest["task"], lengths=lens, present=pres,
            ids=np.asarray(arr("ids.npy")),
            groups={k: np.asarray(arr(f"group.{k}.npy")) for k in manifest.get("groups", [])},
            positions=np.asarray(arr("positions.npy")) if manifest.get("has_positions") else None,
            label_space=manifest.get("label_space"),
            classes=manifest.get("classes") or None, context_key=manifest.get("context_key"),
            check=check,
        )
