"""emofuse.train.folds: speaker-independent outer folds and nested inner folds."""

import numpy as np
import pytest

from emofuse.errors import DataError
from emofuse.train.folds import (
    chunk_groups,
    cross_validate,
    inner_group_kfold,
    interleave_folds,
    iter_folds,
    leave_one_group_out,
    prefix_groups,
    random_folds,
)

SPEAKERS = np.repeat([f"{i:02d}" for i in range(1, 10)], 5)


def test_chunks_and_leave_one_out():
    assert chunk_groups(SPEAKERS, 3) == [["01", "02", "03"], ["04", "05", "06"], ["07", "08", "09"]]
    assert leave_one_group_out(["b", "a", "b"]) == [["a"], ["b"]]
    with pytest.raises(DataError):
        chunk_groups(SPEAKERS, 0)


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_folds_never_share_a_speaker_between_train_and_validation(size):
    seen = np.zeros(len(SPEAKERS), int)
    for _, held, train, test in iter_folds(SPEAKERS, chunk_groups(SPEAKERS, size)):
        assert set(SPEAKERS[train]).isdisjoint(SPEAKERS[test])
        assert set(SPEAKERS[test]) == set(held)
        seen += test
        # the inner (hyper-parameter) folds split the training speakers only, again disjointly
        for itr, ite in inner_group_kfold(SPEAKERS[train], 4).split(SPEAKERS[train], groups=SPEAKERS[train]):
            assert set(SPEAKERS[train][itr]).isdisjoint(SPEAKERS[train][ite])
            assert set(SPEAKERS[train][ite]).isdisjoint(held)
    assert (seen == 1).all()  # every sample is held out exactly once


def test_joint_folds_over_two_corpora():
    a, b = prefix_groups("ravdess", ["01", "02"]), prefix_groups("emodb", ["03", "08", "09"])
    folds = interleave_folds([[a[0]], [a[1]]], list(b))
    assert folds == [["ravdess-01", "emodb-03", "emodb-09"], ["ravdess-02", "emodb-08"]]


def test_bad_folds_are_refused():
    with pytest.raises(DataError, match="never held out"):
        list(iter_folds(SPEAKERS, [["01"]]))
    with pytest.raises(DataError, match="held out by folds"):
        list(iter_folds(["a", "b"], [["a"], ["a", "b"]]))
    with pytest.raises(DataError, match="unknown"):
        list(iter_folds(["a"], [["a", "z"]]))


def test_random_folds_balanced_and_seeded():
    f = random_folds(11, 2, seed=3)
    assert sorted(np.bincount(f).tolist()) == [5, 6]
    np.testing.assert_array_equal(f, random_folds(11, 2, seed=3))


def test_cross_validate_out_of_fold():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2], 15)[: len(SPEAKERS)]
    x = np.eye(3)[y] * 3 + 0.1 * rng.standard_normal((len(y), 3))
    fitted_on = []

    def fit(xt, yt, gt):
        fitted_on.append(set(gt))
        return None

    res = cross_validate(fit, lambda m, xs: xs, x, y, SPEAKERS, chunk_groups(SPEAKERS, 3), ["a", "b", "c"],
                         describe=lambda m: "chosen")
    assert res["summary"]["all"]["accuracy_mean"] == 1.0 and res["summary"]["all"]["n_folds"] == 3
    assert res["chosen"] == ["chosen"] * 3 and (res["fold_of"] >= 0).all()
    for groups, (_, held, _, _) in zip(fitted_on, iter_folds(SPEAKERS, chunk_groups(SPEAKERS, 3)), strict=True):
        assert groups.isdisjoint(held)
    np.testing.assert_array_equal(res["oof"], x)
