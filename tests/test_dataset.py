import numpy as np
import pytest

from emofuse.data.dataset import FeatureDataset
from emofuse.data.synthetic import make_synthetic
from emofuse.errors import DataError, MissingFileError, UnknownNameError


def test_save_load_roundtrip_memory_mapped(tmp_path):
    ds = make_synthetic(6, seed=3)
    ds.save(tmp_path / "set")
    back = FeatureDataset.load(tmp_path / "set")
    assert isinstance(back.features["audio"], np.memmap)
    assert back.spec == ds.spec
    for m in ds.features:
        np.testing.assert_array_equal(np.asarray(back.features[m]), ds.features[m])
        np.testing.assert_array_equal(back.present[m], ds.present[m])
    np.testing.assert_array_equal(back.targets, ds.targets)
    assert back.ids.tolist() == ds.ids.tolist()
    b1, b2 = ds.batch([3, 1, 2]), back.batch([3, 1, 2])
    assert b1.ids == b2.ids
    for m in ds.features:
        assert (b1.features[m] == b2.features[m]).all()


def test_batch_trims_padding_and_keeps_order():
    ds = make_synthetic(4, seed=0)
    idx = [5, 0, 3]
    b = ds.batch(idx)
    assert b.ids == [ds.ids[i] for i in idx]
    assert b.features["audio"].shape[1] == ds.lengths["audio"][idx].max()
    assert b.targets.tolist() == ds.targets[idx].tolist()


def test_whole_group_batches_never_split_a_group():
    ds = make_synthetic(10, seed=0)
    seen = {}
    for b in ds.iter_batches(8, shuffle=True, whole_groups=True):
        for g in set(b.groups.tolist()):
            assert g not in seen
            seen[g] = True
    assert len(seen) == 10


def test_nan_features_rejected():
    x = np.zeros((4, 3), dtype=np.float32)
    x[2, 1] = np.nan
    with pytest.raises(DataError, match="rows \\[2\\]"):
        FeatureDataset({"text": x}, np.zeros(4, dtype=np.int64), classes=("a", "b"))


def test_labels_outside_label_space_rejected():
    x = np.zeros((3, 2), dtype=np.float32)
    with pytest.raises(DataError, match="outside label space"):
        FeatureDataset({"text": x}, np.array([0, 1, 2]), label_space="sentiment2")


def test_shape_and_dtype_errors():
    with pytest.raises(DataError, match="rows"):
        FeatureDataset({"text": np.zeros((3, 2), np.float32)}, np.zeros(4, dtype=np.int64))
    with pytest.raises(DataError, match="float"):
        FeatureDataset({"text": np.zeros((3, 2), np.int32)}, np.zeros(3, dtype=np.int64))
    with pytest.raises(DataError, match="empty"):
        FeatureDataset({"text": np.zeros((0, 2), np.float32)}, np.zeros(0, dtype=np.int64))


def test_missing_directory_and_unknown_modality(tmp_path):
    with pytest.raises(MissingFileError):
        FeatureDataset.load(tmp_path / "nope")
    ds = make_synthetic(3, seed=0)
    with pytest.raises(UnknownNameError, match="Did you mean: audio"):
        ds.select_modalities(["audoi"])


def test_zero_length_sequence_counts_as_missing():
    x = np.ones((2, 4, 3), dtype=np.float32)
    ds = FeatureDataset({"audio": x}, np.array([0, 1]), lengths={"audio": np.array([4, 0])}, classes=("a", "b"))
    assert ds.present["audio"].tolist() == [True, False]


def test_synthetic_speaks_the_modality_vocabulary():
    ds = make_synthetic(3, seed=0)
    assert list(ds.features) == ["text", "audio", "face"]
    # an alias from another vocabulary selects the same modality
    assert list(ds.select_modalities(["text", "video"]).features) == ["text", "face"]
