"""The safe directory format written by :meth:`FeatureDataset.save` (``manifest.json`` + ``.npy``)."""

from __future__ import annotations

from pathlib import Path

from emofuse.data.dataset import FeatureDataset
from emofuse.data.formats._base import READERS, canonical_dataset
from emofuse.errors import DataError


def _sniff(path: Path) -> bool:
    return path.is_dir() and (path / "manifest.json").is_file()


@READERS.register("features", sniff=_sniff, order=10,
                  layout="a directory with manifest.json, written by FeatureDataset.save")
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
    return canonical_dataset(ds, str(path))
