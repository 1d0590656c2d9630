"""CMU-MOSI utterance features of Poria et al. (ACL 2017, bc-LSTM) in an ``.npz`` of plain arrays."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from emofuse.data.dataset import FeatureDataset
from emofuse.data.formats._base import READERS, build_dataset, check_nan_policy, float_features, trailing_index
from emofuse.errors import DataError, MissingFileError

_MOSI_KEYS = ("utterance_id", "video_id", "transcript", "text", "audio", "video", "label")


@READERS.register("mosi_bclstm", suffixes=(".npz",), order=20,
                  layout=".npz with utterance_id, video_id, transcript, text, audio, video, label")
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
        Pooled modalities ``text``, ``audio`` and ``face`` (the file's ``video`` features are
        face features, named through :func:`emofuse.modalities.canonical_modality`); ids = ``utterance_id``; group
        ``video`` = ``video_id``; positions = the trailing ``_NN`` index of ``utterance_id`` (the
        order of an utterance in its video's context); ``ds.extras["transcript"]``.
    """
    check_nan_policy(nan_policy)
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
    feats = {m: float_features(arrays[m], m, src, nan_policy) for m in ("text", "audio", "video")}
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
    positions = trailing_index(utt, "_")
    if positions is None:
        warnings.warn(f"{src}: some utterance_id lack a trailing _NN index; context order falls back to "
                      "the order in the file", stacklevel=2)
    ds = build_dataset(feats, label.astype(np.int64), "classification", source=src, ids=utt,
                       groups={"video": arrays["video_id"].astype(str)}, positions=positions,
                       label_space=label_space, context_key="video", check=check)
    ds.extras = {"transcript": arrays["transcript"].astype(str)}
    return ds
