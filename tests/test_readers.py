"""Dataset readers: tiny fixtures written in the official on-disk layouts."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from emofuse.data.dataset import FeatureDataset
from emofuse.data.formats import (
    READERS,
    load_csd_dataset,
    load_dataset,
    read_csd,
    read_csd_metadata,
    read_mmsa_splits,
    sniff_format,
)
from emofuse.errors import DataError, MissingFileError, UnknownNameError, UnsafeFileError

REASON = "fixture written by this test"


# ---------------------------------------------------------------------------- fixtures
def write_mosi_npz(path: Path, *, n_per_video: int = 3, label: np.ndarray | None = None,
                   drop: str | None = None, nan: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    # file order is not context order: indices come out of order, as in the official files
    order = [2, 0, 1][:n_per_video] if n_per_video <= 3 else list(range(n_per_video))[::-1]
    vids = ["vidA", "vidB"]
    utt = np.array([f"{v}_{k + 1}" for v in vids for k in order])
    n = len(utt)
    arrays = {
        "utterance_id": utt,
        "video_id": np.array([u.rsplit("_", 1)[0] for u in utt]),
        "transcript": np.array([f"WORDS OF {u} ÄÖ" for u in utt]),
        "text": rng.normal(size=(n, 100)).astype(np.float32),
        "audio": rng.normal(size=(n, 73)).astype(np.float32),
        "video": rng.normal(size=(n, 100)).astype(np.float32),
        "label": np.arange(n, dtype=np.int64) % 2 if label is None else label,
    }
    if nan:
        arrays["audio"][1, 5] = np.nan
    if drop:
        arrays.pop(drop)
    np.savez(path, **arrays)
    return arrays


def mmsa_split(n: int, rng: np.random.Generator, video: str = "v") -> dict[str, object]:
    tt, ta, tv = 4, 6, 5
    mask = np.zeros((n, tt))
    for i in range(n):
        mask[i, : 2 + i % 3] = 1
    return {
        "raw_text": np.array([f"sentence {i}" for i in range(n)], dtype=object),
        "id": np.array([f"{video}{i // 2}$_${(i % 2) + 1}" for i in range(n)], dtype=object),
        "text": rng.normal(size=(n, tt, 768)).astype(np.float32),
        "text_bert": np.stack([rng.integers(0, 1000, (n, tt)), mask, np.zeros((n, tt))], axis=1).astype(np.float64),
        "audio": rng.normal(size=(n, ta, 5)).astype(np.float32),
        "vision": rng.normal(size=(n, tv, 20)).astype(np.float32),
        "audio_lengths": [int(1 + i % ta) for i in range(n)],
        "vision_lengths": [np.int64(tv) for _ in range(n)],
        "regression_labels": np.linspace(-3, 3, n).astype(np.float32),
        "classification_labels": np.arange(n) % 3,
        "regression_labels_T": np.zeros(n, np.float32),
    }


def write_mmsa(path: Path, **edits: object) -> dict[str, dict[str, object]]:
    rng = np.random.default_rng(1)
    data = {"train": mmsa_split(6, rng), "valid": mmsa_split(4, rng), "test": mmsa_split(4, rng, "w")}
    for key, val in edits.items():
        if val is None:
            data["train"].pop(key)
        else:
            data["train"][key] = val
    with path.open("wb") as f:
        pickle.dump(data, f)
    return data


def write_csd(path: Path, root: str, entries: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    """A computational sequence exactly as the CMU-MultimodalSDK writes one."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        grp = f.create_group(root)
        data = grp.create_group("data")
        for vid, (feats, ivals) in entries.items():
            v = data.create_group(vid)
            v.create_dataset("features", data=feats)
            v.create_dataset("intervals", data=ivals)
        meta = grp.create_group("metadata")
        for key, val in {"root name": root, "dimension names": ["d0"], "computational sequence version": 1.0}.items():
            meta.create_dataset(key, (1,), dtype=h5py.special_dtype(vlen=str))
            meta[key][0] = json.dumps(val)
    return path


def frames(n: int, step: float = 0.5, dim: int = 2, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` frames of ``step`` seconds whose first feature is the frame index (+ offset)."""
    starts = np.arange(n) * step
    feats = np.stack([np.arange(n) + offset] + [np.full(n, 1.0)] * (dim - 1), axis=1)
    return feats.astype(np.float64), np.stack([starts, starts + step], axis=1)


@pytest.fixture()
def csd_files(tmp_path: Path) -> dict[str, Path]:
    audio = write_csd(tmp_path / "COVAREP.csd", "COVAREP", {"v1": frames(8), "v2": frames(4, offset=100)})
    text = write_csd(tmp_path / "glove.csd", "glove_vectors", {"v1": frames(4, step=1.0, dim=3)})
    labels = write_csd(tmp_path / "labels.csd", "Opinion Segment Labels", {
        "v1": (np.array([[1.5], [-2.0]]), np.array([[2.0, 4.0], [0.0, 1.0]])),
        "v2": (np.array([[0.0]]), np.array([[0.5, 1.5]])),
    })
    return {"audio": audio, "text": text, "labels": labels}


# ---------------------------------------------------------------------------- mosi_bclstm
def test_mosi_round_trip_and_positions(tmp_path: Path) -> None:
    p = tmp_path / "train.npz"
    arrays = write_mosi_npz(p)
    ds = load_dataset(p)
    assert len(ds) == 6 and ds.task == "classification" and ds.label_space == "sentiment2"
    spec = ds.spec
    # the file's "video" features are face features: the dataset speaks the one vocabulary
    assert {k: (m.dim, m.sequential) for k, m in spec.modalities.items()} == {
        "text": (100, False), "audio": (73, False), "face": (100, False)}
    for m, key in (("text", "text"), ("audio", "audio"), ("face", "video")):
        np.testing.assert_array_equal(ds.features[m], arrays[key])
    np.testing.assert_array_equal(ds.targets, arrays["label"])
    assert ds.ids.tolist() == arrays["utterance_id"].tolist()
    assert ds.groups["video"].tolist() == ["vidA"] * 3 + ["vidB"] * 3
    assert ds.extras["transcript"].tolist() == arrays["transcript"].tolist()
    # positions follow the trailing _NN index, not the file order
    assert ds.positions.tolist() == [3, 1, 2, 3, 1, 2]
    b = ds.batch(np.arange(6))
    assert b.positions.tolist() == [3, 1, 2, 3, 1, 2]
    assert b.features["audio"].shape == (6, 73)


def test_mosi_any_size_and_ids(tmp_path: Path) -> None:
    p = tmp_path / "test.npz"
    write_mosi_npz(p, n_per_video=12)  # a "withheld test file" of another size
    ds = load_dataset(p, format="mosi_bclstm")
    assert len(ds) == 24 and sorted(ds.positions[:12].tolist()) == list(range(1, 13))


def test_mosi_missing_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.npz"
    write_mosi_npz(p, drop="audio")
    with pytest.raises(DataError, match="audio"):
        load_dataset(p)


def test_mosi_label_outside_space(tmp_path: Path) -> None:
    p = tmp_path / "bad.npz"
    write_mosi_npz(p, label=np.array([0, 1, 2, 0, 1, 0]))
    with pytest.raises(DataError, match="outside label space"):
        load_dataset(p)


def test_mosi_nan_policy(tmp_path: Path) -> None:
    p = tmp_path / "nan.npz"
    write_mosi_npz(p, nan=True)
    with pytest.raises(DataError, match="NaN"):
        load_dataset(p)
    ds = load_dataset(p, nan_policy="zero")
    assert ds.features["audio"][1, 5] == 0.0 and np.isfinite(ds.features["audio"]).all()


def test_mosi_refuses_object_arrays(tmp_path: Path) -> None:
    p = tmp_path / "obj.npz"
    arrays = write_mosi_npz(p)
    arrays["transcript"] = np.array([{"x": 1}] * 6, dtype=object)
    np.savez(p, **arrays)
    with pytest.raises(DataError, match="unpickling"):
        load_dataset(p)


# ---------------------------------------------------------------------------- mmsa
def test_mmsa_requires_opt_in_and_reason(tmp_path: Path) -> None:
    p = tmp_path / "mosi.pkl"
    write_mmsa(p)
    with pytest.raises(UnsafeFileError, match="arbitrary|runs whatever code"):
        load_dataset(p, split="train")
    with pytest.raises(UnsafeFileError, match="pickle_reason"):
        load_dataset(p, split="train", allow_pickle=True)
    with pytest.raises(UnsafeFileError, match="pickle_reason"):
        load_dataset(p, split="train", allow_pickle=True, pickle_reason="   ")


def test_mmsa_values_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "mosi.pkl"
    data = write_mmsa(p)
    ds = load_dataset(p, split="train", allow_pickle=True, pickle_reason=REASON)
    src = data["train"]
    assert len(ds) == 6 and ds.task == "regression"
    for m, key in (("text", "text"), ("audio", "audio"), ("face", "vision")):  # MMSA's "vision" is the face
        np.testing.assert_array_equal(ds.features[m], src[key])
        assert ds.spec.modalities[m].sequential
    np.testing.assert_array_equal(ds.lengths["audio"], src["audio_lengths"])
    assert ds.lengths["face"].tolist() == [5] * 6
    assert ds.lengths["text"].tolist() == src["text_bert"][:, 1].sum(1).astype(int).tolist()
    np.testing.assert_allclose(ds.targets, src["regression_labels"])
    assert ds.groups["video"].tolist() == ["v0", "v0", "v1", "v1", "v2", "v2"]
    assert ds.positions.tolist() == [1, 2] * 3
    assert ds.extras["raw_text"].tolist() == list(src["raw_text"])
    assert "regression_labels_T" in ds.extras
    splits = read_mmsa_splits(p, allow_pickle=True, pickle_reason=REASON)
    assert {k: len(v) for k, v in splits.items()} == {"train": 6, "valid": 4, "test": 4}


def test_mmsa_classification_from_scores(tmp_path: Path) -> None:
    p = tmp_path / "mosi.pkl"
    write_mmsa(p, regression_labels=np.array([-2.0, -0.0, 0.0, 0.4, 3.0, -0.1], np.float32))
    kw = {"split": "train", "allow_pickle": True, "pickle_reason": REASON, "task": "classification"}
    assert load_dataset(p, **kw).targets.tolist() == [0, 1, 1, 1, 1, 0]
    assert load_dataset(p, label_space="sentiment3", **kw).targets.tolist() == [0, 1, 1, 2, 2, 0]


def test_mmsa_unknown_split(tmp_path: Path) -> None:
    p = tmp_path / "mosi.pkl"
    write_mmsa(p)
    with pytest.raises(UnknownNameError, match="Did you mean: valid"):
        load_dataset(p, split="vaild", allow_pickle=True, pickle_reason=REASON)
    with pytest.raises(DataError, match="split="):
        load_dataset(p, allow_pickle=True, pickle_reason=REASON)


def test_mmsa_text_bert_only(tmp_path: Path) -> None:
    p = tmp_path / "bert.pkl"
    write_mmsa(p, text=None)
    with pytest.raises(DataError, match="token ids"):
        load_dataset(p, split="train", allow_pickle=True, pickle_reason=REASON)


def test_mmsa_nan_policy(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    audio = rng.normal(size=(6, 6, 5)).astype(np.float32)
    audio[2, 0, 1] = -np.inf
    p = tmp_path / "mosei.pkl"
    write_mmsa(p, audio=audio)
    kw = {"split": "train", "allow_pickle": True, "pickle_reason": REASON}
    with pytest.raises(DataError, match="nan_policy"):
        load_dataset(p, **kw)
    ds = load_dataset(p, nan_policy="zero", **kw)
    assert ds.features["audio"][2, 0, 1] == 0.0
    with pytest.raises(UnknownNameError, match="Did you mean: zero"):
        load_dataset(p, nan_policy="zeros", **kw)


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"echo pwned > {self.marker}",))


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    p = tmp_path / "evil.pkl"
    data = write_mmsa(tmp_path / "ok.pkl")
    data["train"]["raw_text"] = Evil(marker)
    with p.open("wb") as f:
        pickle.dump(data, f)
    with pytest.raises(UnsafeFileError, match="system"):
        load_dataset(p, split="train", allow_pickle=True, pickle_reason=REASON)
    assert not marker.exists()


def test_mmsa_pickle_protocols_and_numpy_names(tmp_path: Path) -> None:
    """numpy 1.x pickles name ``numpy.core``; protocol 2 goes through ``_codecs.encode``."""
    rng = np.random.default_rng(3)
    split = mmsa_split(2, rng)
    for proto in (2, 5):
        blob = pickle.dumps({"train": split}, protocol=proto)
        p = tmp_path / f"p{proto}.pkl"
        p.write_bytes(blob.replace(b"numpy._core", b"numpy.core") if proto == 2 else blob)
        ds = load_dataset(p, allow_pickle=True, pickle_reason=REASON)  # one split: no split= needed
        np.testing.assert_array_equal(ds.features["face"], split["vision"])


# ---------------------------------------------------------------------------- csd
def test_read_csd_layout(csd_files: dict[str, Path]) -> None:
    seq = read_csd(csd_files["audio"])
    assert sorted(seq) == ["v1", "v2"]
    feats, ivals = seq["v1"]
    assert feats.shape == (8, 2) and ivals.shape == (8, 2)
    root, meta = read_csd_metadata(csd_files["audio"])
    assert root == "COVAREP" and meta["dimension names"] == ["d0"]


def test_csd_segment_alignment(csd_files: dict[str, Path]) -> None:
    ds = load_csd_dataset({"audio": csd_files["audio"], "text": csd_files["text"]}, labels=csd_files["labels"])
    assert ds.ids.tolist() == ["v1[0]", "v1[1]", "v2[0]"]
    assert ds.positions.tolist() == [1, 0, 0]  # rank by start time inside the video
    np.testing.assert_allclose(ds.targets, [1.5, -2.0, 0.0])
    # v1[0] = [2, 4) s: audio frames of 0.5 s number 4..7; text frames of 1 s number 2, 3
    a, t = ds.features["audio"], ds.features["text"]
    assert ds.lengths["audio"].tolist() == [4, 2, 2]
    assert a[0, :4, 0].tolist() == [4, 5, 6, 7]
    assert a[1, :2, 0].tolist() == [0, 1]
    assert a[2, :2, 0].tolist() == [101, 102]  # v2 [0.5, 1.5): frames 1, 2
    assert ds.lengths["text"].tolist() == [2, 1, 0]
    assert t[0, :2, 0].tolist() == [2, 3] and t.shape[-1] == 3
    assert ds.present["text"].tolist() == [True, True, False]  # v2 has no text


def test_csd_video_level_and_pool(csd_files: dict[str, Path]) -> None:
    ds = load_csd_dataset({"audio": csd_files["audio"]}, labels=csd_files["labels"], level="video", pool=True)
    assert ds.ids.tolist() == ["v1", "v2"]
    np.testing.assert_allclose(ds.targets, [-0.25, 0.0])
    np.testing.assert_allclose(ds.features["audio"][:, 0], [3.5, 101.5])
    cls = load_csd_dataset({"audio": csd_files["audio"]}, labels=csd_files["labels"], task="classification")
    assert cls.targets.tolist() == [1, 0, 1] and cls.label_space == "sentiment2"


def test_csd_load_dataset_route(csd_files: dict[str, Path]) -> None:
    with pytest.raises(DataError, match="load_csd_dataset"):
        load_dataset(csd_files["audio"])
    ds = load_dataset(csd_files["audio"], labels=csd_files["labels"])
    assert list(ds.features) == ["covarep"] and len(ds) == 3
    ds = load_dataset({"a": csd_files["audio"]}, labels=csd_files["labels"], level="video")
    assert len(ds) == 2


def test_csd_nan_policy(tmp_path: Path, csd_files: dict[str, Path]) -> None:
    f, iv = frames(8)
    f[5, 1] = np.nan
    bad = write_csd(tmp_path / "nan.csd", "COVAREP", {"v1": (f, iv)})
    with pytest.raises(DataError, match="NaN"):
        load_csd_dataset({"audio": bad}, labels=csd_files["labels"])
    ds = load_csd_dataset({"audio": bad}, labels=csd_files["labels"], nan_policy="zero")
    assert ds.features["audio"][0, 1, 1] == 0.0  # frame 5 is the 2nd frame of v1[0]


def test_csd_word_sequence_refused(tmp_path: Path, csd_files: dict[str, Path]) -> None:
    words = np.array([[b"hello"], [b"world"]])
    p = write_csd(tmp_path / "words.csd", "words", {"v1": (words, np.array([[0.0, 1.0], [1.0, 2.0]]))})
    with pytest.raises(DataError, match="numeric"):
        load_csd_dataset({"text": p}, labels=csd_files["labels"])


# ---------------------------------------------------------------------------- entry point
def test_save_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "train.npz"
    write_mosi_npz(p)
    ds = load_dataset(p)
    back = load_dataset(ds.save(tmp_path / "saved"))
    assert isinstance(back, FeatureDataset) and sniff_format(tmp_path / "saved") == "features"
    for m in ds.features:
        np.testing.assert_array_equal(back.features[m], ds.features[m])
    np.testing.assert_array_equal(back.targets, ds.targets)
    assert back.positions.tolist() == ds.positions.tolist()
    assert back.ids.tolist() == ds.ids.tolist() and back.label_space == "sentiment2"


def test_unknown_format_and_option(tmp_path: Path) -> None:
    p = tmp_path / "train.npz"
    write_mosi_npz(p)
    with pytest.raises(UnknownNameError, match="Did you mean: mosi_bclstm"):
        load_dataset(p, format="mosi_bclstn")
    with pytest.raises(UnknownNameError, match="Did you mean: nan_policy"):
        load_dataset(p, nan_polcy="zero")
    with pytest.raises(DataError, match="single split"):
        load_dataset(p, split="train")
    assert READERS.names() == ["csd", "features", "mmsa", "mosi_bclstm"]


def test_missing_and_unknown_paths(tmp_path: Path) -> None:
    for name in ("nope.npz", "nope.pkl", "nope.csd", "nope_dir"):
        with pytest.raises(MissingFileError):
            load_dataset(tmp_path / name)
    with pytest.raises(MissingFileError):
        load_dataset(tmp_path / "nope.npz", format="mosi_bclstm")
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(DataError, match="format="):
        load_dataset(tmp_path / "data.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="manifest.json"):
        load_dataset(tmp_path / "empty")


def test_old_import_paths_still_work() -> None:
    import emofuse
    import emofuse.corpora
    import emofuse.data.corpora
    import emofuse.data.readers

    assert emofuse.data.readers.load_dataset is load_dataset and emofuse.data.readers.READERS is READERS
    assert emofuse.corpora.load_corpus is emofuse.data.corpora.load_corpus
    assert set(emofuse.corpora.__all__) == set(emofuse.data.corpora.__all__)
    assert callable(emofuse.load_dataset)
