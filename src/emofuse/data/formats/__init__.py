"""Feature-dataset formats, one module per format, all returning a :class:`FeatureDataset`.

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
carried over by :meth:`FeatureDataset.subset` or :meth:`FeatureDataset.save`). Modalities come
out in emofuse's vocabulary (``text``, ``audio``, ``face``, ``physio``): a file's own names for
them (MOSI's ``video``, MMSA's ``vision``) are mapped by :func:`~emofuse.data.formats._base.build_dataset`.

A new format is one module whose reader is decorated with ``@READERS.register(name,
suffixes=..., sniff=..., layout=...)``, imported below.

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

from emofuse.data.formats import csd, features, mmsa, mosi_bclstm
from emofuse.data.formats._base import (
    NAN_POLICIES,
    READERS,
    build_dataset,
    canonical_dataset,
    load_dataset,
    sniff_format,
)
from emofuse.data.formats.csd import load_csd_dataset, read_csd, read_csd_dataset, read_csd_metadata
from emofuse.data.formats.features import read_features
from emofuse.data.formats.mmsa import read_mmsa, read_mmsa_splits
from emofuse.data.formats.mosi_bclstm import read_mosi_bclstm

__all__ = [
    "NAN_POLICIES",
    "READERS",
    "build_dataset",
    "canonical_dataset",
    "csd",
    "features",
    "load_csd_dataset",
    "load_dataset",
    "mmsa",
    "mosi_bclstm",
    "read_csd",
    "read_csd_dataset",
    "read_csd_metadata",
    "read_features",
    "read_mmsa",
    "read_mmsa_splits",
    "read_mosi_bclstm",
    "sniff_format",
]
