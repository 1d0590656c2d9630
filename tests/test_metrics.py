"""Metrics: parity with scikit-learn / scipy / numpy references, known answers, bad inputs."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
)
from torchmetrics.functional.classification import multiclass_f1_score

from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.evaluate import (
    DEFAULT_THRESHOLD_GRID,
    MONITOR_MODES,
    classification_metrics,
    compute_metrics,
    monitor_mode,
    mosi_metrics,
    multilabel_metrics,
    regression_metrics,
    tune_thresholds,
)

SEEDS = [0, 1, 2, 3, 4]


def _plain(obj):
    """True if obj is built only from JSON-ready Python types (no numpy scalars)."""
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_plain(v) for v in obj)
    return type(obj) in (float, int, str, bool)


def _same(a, b):
    """Dict equality that treats nan as equal to nan."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


# ------------------------------------------------------------------ classification parity


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("as_tensor", [False, True])
def test_classification_parity_with_sklearn(seed, as_tensor):
    rng = np.random.default_rng(seed)
    n, c = 60, 5
    y = rng.integers(0, c, n)
    scores = rng.normal(size=(n, c))
    pred = scores.argmax(1)
    args = (torch.from_numpy(y), torch.from_numpy(scores).float()) if as_tensor else (y, scores)
    m = classification_metrics(*args)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    assert m["f1_weighted"] == pytest.approx(f1_score(y, pred, average="weighted", zero_division=0))
    assert m["uar"] == pytest.approx(recall_score(y, pred, average="macro", zero_division=0))
    assert m["uar"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert m["confusion_matrix"] == confusion_matrix(y, pred, labels=range(c)).tolist()
    per = recall_score(y, pred, average=None, labels=range(c), zero_division=0)
    assert list(m["per_class_recall"].values()) == pytest.approx(per.tolist())
    assert list(m["support"].values()) == np.bincount(y, minlength=c).tolist()
    assert m["n"] == n
    assert _plain(m)
    json.dumps(m)


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_absent_classes(seed):
    """Classes 3 and 4 never occur in y_true; class 4 is still predicted sometimes."""
    rng = np.random.default_rng(seed)
    n, c = 40, 6
    y = rng.integers(0, 3, n)
    pred = rng.integers(0, 5, n)
    m = _no_warnings(classification_metrics, y, pred, num_classes=c)
    present = np.unique(y)
    assert m["uar"] == pytest.approx(recall_score(y, pred, labels=present, average="macro", zero_division=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about predicted classes absent from y_true
        assert m["uar"] == pytest.approx(balanced_accuracy_score(y, pred))
    # f1_macro: sklearn default label set (classes in y_true or pred), same as torchmetrics macro
    assert m["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    tm = multiclass_f1_score(torch.from_numpy(pred), torch.from_numpy(y), num_classes=c, average="macro")
    assert m["f1_macro"] == pytest.approx(float(tm), abs=1e-6)
    recalls = m["per_class_recall"]
    assert math.isnan(recalls["3"]) and math.isnan(recalls["4"]) and math.isnan(recalls["5"])
    assert m["uar"] == pytest.approx(np.nanmean(list(recalls.values())))
    assert m["support"]["5"] == 0
    assert len(m["confusion_matrix"]) == c and all(len(r) == c for r in m["confusion_matrix"])


def test_classification_known_answer_with_names():
    m = classification_metrics([0, 1, 1, 2], [0, 1, 2, 2], classes=["neg", "neu", "pos"])
    assert m["accuracy"] == 0.75
    assert m["per_class_recall"] == {"neg": 1.0, "neu": 0.5, "pos": 1.0}
    assert m["uar"] == pytest.approx(2.5 / 3)
    assert m["support"] == {"neg": 1, "neu": 2, "pos": 1}
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def test_classification_probabilities_and_logits_agree():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(30, 4)))
    y = torch.from_numpy(rng.integers(0, 4, 30))
    assert _same(classification_metrics(y, logits), classification_metrics(y, logits.softmax(-1)))
    assert _same(classification_metrics(y, logits), classification_metrics(y, logits.argmax(-1), num_classes=4))


def test_classification_float_labels_and_requires_grad():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)
    m = classification_metrics(torch.tensor([0.0, 1.0]), logits)
    assert m["accuracy"] == 1.0 and type(m["accuracy"]) is float


# ------------------------------------------------------------------ multilabel parity


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("per_class_thresholds", [False, True])
def test_multilabel_parity_with_sklearn(seed, per_class_thresholds):
    rng = np.random.default_rng(seed)
    n, c = 50, 6
    y = (rng.random((n, c)) < 0.3).astype(int)
    y[:, 5] = 0  # a label with no positives
    probs = rng.random((n, c))
    thr = rng.uniform(0.2, 0.8, c) if per_class_thresholds else 0.5
    pred = (probs > thr).astype(int)
    m = multilabel_metrics(y, probs, thresholds=thr)
    for avg in ("macro", "micro", "weighted"):
        assert m[f"f1_{avg}"] == pytest.approx(f1_score(y, pred, average=avg, zero_division=0))
    assert m["precision_macro"] == pytest.approx(precision_score(y, pred, average="macro", zero_division=0))
    assert m["recall_macro"] == pytest.approx(recall_score(y, pred, average="macro", zero_division=0))
    assert m["exact_match"] == pytest.approx(accuracy_score(y, pred))
    per = f1_score(y, pred, average=None, zero_division=0)
    assert list(m["per_class_f1"].values()) == pytest.approx(per.tolist())
    assert _plain(m)


def test_multilabel_threshold_is_strict():
    m = multilabel_metrics([[1, 0], [0, 1]], [[0.5, 0.2], [0.2, 0.9]], thresholds=0.5)
    assert m["per_class_f1"] == {"0": 0.0, "1": 1.0}  # 0.5 is not > 0.5


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_multilabel_single_label(seed):
    """An (N, 1) indicator is one label, not a binary column with classes 0 and 1."""
    rng = np.random.default_rng(seed)
    y = (rng.random((30, 1)) < 0.4).astype(int)
    probs = rng.random((30, 1))
    pred = (probs[:, 0] > 0.5).astype(int)
    m = multilabel_metrics(y, probs, classes=["joy"])
    f1 = f1_score(y[:, 0], pred, zero_division=0)
    assert m["per_class_f1"] == {"joy": pytest.approx(f1)}
    for key in ("f1_macro", "f1_micro", "f1_weighted"):
        assert m[key] == pytest.approx(f1)
    assert m["precision_macro"] == pytest.approx(precision_score(y[:, 0], pred, zero_division=0))
    assert m["recall_macro"] == pytest.approx(recall_score(y[:, 0], pred, zero_division=0))
    assert m["exact_match"] == pytest.approx(accuracy_score(y[:, 0], pred))
    # a label that is never true and never predicted scores 0 like the multi-label macro does
    assert multilabel_metrics([[0], [0]], [[0.1], [0.2]])["f1_macro"] == 0.0


# ------------------------------------------------------------------ threshold tuning


def test_tune_thresholds_recovers_known_optimum():
    # label 0: positives score >= 0.7, negatives <= 0.62 -> any t in [0.62, 0.7) separates;
    #          grid points there: 0.65 only -> 0.65
    # label 1: positives score >= 0.12, negatives <= 0.08 -> separating grid points 0.1 only
    # label 2: no positives at all -> F1 is 0 everywhere -> tie-break keeps 0.5
    # label 3: separable by any t in [0.3, 0.7) -> plateau, tie-break picks 0.5
    pos0 = [0.7, 0.8, 0.95, 0.72]
    neg0 = [0.62, 0.1, 0.3, 0.6]
    pos1 = [0.12, 0.5, 0.13, 0.9]
    neg1 = [0.08, 0.01, 0.02, 0.05]
    probs = np.array([
        [p0, p1, 0.9, 0.8] for p0, p1 in zip(pos0, pos1, strict=True)
    ] + [
        [n0, n1, 0.1, 0.3] for n0, n1 in zip(neg0, neg1, strict=True)
    ])
    y = np.array([[1, 1, 0, 1]] * 4 + [[0, 0, 0, 0]] * 4)
    thr = tune_thresholds(y, probs)
    assert thr.shape == (4,) and thr.dtype == np.float64
    np.testing.assert_allclose(thr, [0.65, 0.1, 0.5, 0.5])
    # the tuned thresholds give a perfect score on the labels that have positives
    m = multilabel_metrics(y, probs, thresholds=thr)
    assert [m["per_class_f1"][k] for k in "013"] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("seed", SEEDS)
def test_tune_thresholds_matches_brute_force_sklearn(seed):
    """The hand-written vectorised F1 agrees with sklearn's per-class F1 at every grid point."""
    rng = np.random.default_rng(seed)
    n, c = 40, 4
    y = (rng.random((n, c)) < 0.4).astype(int)
    probs = np.clip(y * 0.3 + rng.random((n, c)) * 0.7, 0, 1)
    grid = np.array(DEFAULT_THRESHOLD_GRID)
    thr = tune_thresholds(torch.from_numpy(y), torch.from_numpy(probs))
    for k in range(c):
        f1s = np.array([f1_score(y[:, k], probs[:, k] > t, zero_division=0) for t in grid])
        best = f1s.max()
        assert f1_score(y[:, k], probs[:, k] > thr[k], zero_division=0) == pytest.approx(best)
        ties = grid[np.isclose(f1s, best)]
        expected = min(ties, key=lambda t: (abs(t - 0.5), t))
        assert thr[k] == pytest.approx(expected)


def test_default_grid():
    np.testing.assert_allclose(DEFAULT_THRESHOLD_GRID, np.linspace(0.05, 0.95, 19))


# ------------------------------------------------------------------ regression


def _ccc_numpy(t, p):
    """CCC with the sample (N-1) moments torchmetrics uses."""
    cov = np.cov(t, p, ddof=1)[0, 1]
    return 2 * cov / (t.var(ddof=1) + p.var(ddof=1) + (t.mean() - p.mean()) ** 2)


def _ccc_lin(t, p):
    """Lin (1989) / AVEC population-moment CCC."""
    cov = np.mean((t - t.mean()) * (p - p.mean()))
    return 2 * cov / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_parity(seed):
    rng = np.random.default_rng(seed)
    t = rng.normal(size=80)
    p = 0.7 * t + rng.normal(scale=0.5, size=80) + 0.3
    m = regression_metrics(torch.from_numpy(t), p)
    assert m["mae"] == pytest.approx(mean_absolute_error(t, p))
    assert m["mse"] == pytest.approx(mean_squared_error(t, p))
    assert m["pearson"] == pytest.approx(pearsonr(t, p)[0], rel=1e-9)
    assert m["ccc"] == pytest.approx(_ccc_numpy(t, p), rel=1e-9)
    assert abs(m["ccc"] - _ccc_lin(t, p)) < 2 / len(t)  # the O(1/N) gap to Lin's form
    assert m["n"] == 80
    assert _plain(m)


def test_regression_multi_target():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(30, 2))
    p = t + rng.normal(scale=0.3, size=(30, 2))
    m = regression_metrics(t, p, names=["valence", "arousal"])
    assert set(m["per_target"]) == {"valence", "arousal"}
    for k, name in enumerate(["valence", "arousal"]):
        assert m["per_target"][name]["pearson"] == pytest.approx(pearsonr(t[:, k], p[:, k])[0])
        assert m["per_target"][name]["ccc"] == pytest.approx(_ccc_numpy(t[:, k], p[:, k]))
    assert m["ccc"] == pytest.approx(np.mean([m["per_target"][n]["ccc"] for n in m["per_target"]]))
    assert _plain(m)


@pytest.mark.parametrize(
    ("t", "p", "pearson", "ccc"),
    [
        ([1.0, 2.0, 3.0], [0.5, 0.5, 0.5], math.nan, 0.0),  # constant prediction
        ([2.0, 2.0, 2.0], [1.0, 2.0, 3.0], math.nan, 0.0),  # constant truth
        ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0], math.nan, 0.0),  # both constant, different
        ([2.0, 2.0, 2.0], [2.0, 2.0, 2.0], math.nan, math.nan),  # both constant, equal: 0/0
        ([1.5], [1.0], math.nan, math.nan),  # a single sample
    ],
)
def test_regression_degenerate_inputs_never_crash(t, p, pearson, ccc):
    m = _no_warnings(regression_metrics, t, p)
    for key, want in (("pearson", pearson), ("ccc", ccc)):
        assert type(m[key]) is float
        assert (math.isnan(m[key]) and math.isnan(want)) or m[key] == want


def test_regression_perfect():
    t = np.linspace(-1, 1, 11)
    m = regression_metrics(t, t.copy())
    assert m["mae"] == 0.0 and m["mse"] == 0.0
    assert m["pearson"] == pytest.approx(1.0) and m["ccc"] == pytest.approx(1.0)


# ------------------------------------------------------------------ MOSI conventions


def _mmsa_reference(y_pred, y_true):
    """Port of MMSA's MetricsTop.__eval_mosi_regression (the published-number code path)."""
    test_preds, test_truth = np.asarray(y_pred, float), np.asarray(y_true, float)
    a7p, a7t = np.clip(test_preds, -3.0, 3.0), np.clip(test_truth, -3.0, 3.0)
    a5p, a5t = np.clip(test_preds, -2.0, 2.0), np.clip(test_truth, -2.0, 2.0)

    def mult_acc(p, t):
        return np.sum(np.round(p) == np.round(t)) / float(len(t))

    non_zeros = np.array([i for i, e in enumerate(test_truth) if e != 0])
    nz_truth = test_truth[non_zeros] > 0
    nz_preds = test_preds[non_zeros] > 0
    return {
        "acc2_has0": accuracy_score(test_preds >= 0, test_truth >= 0),
        "f1_has0": f1_score(test_truth >= 0, test_preds >= 0, average="weighted"),
        "acc2_non0": accuracy_score(nz_preds, nz_truth),
        "f1_non0": f1_score(nz_truth, nz_preds, average="weighted"),
        "acc5": mult_acc(a5p, a5t),
        "acc7": mult_acc(a7p, a7t),
        "mae": np.mean(np.absolute(test_preds - test_truth)),
        "pearson": np.corrcoef(test_preds, test_truth)[0][1],
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_mosi_parity_with_mmsa(seed):
    rng = np.random.default_rng(seed)
    # MOSI-like labels: multiples of 0.2 in [-3, 3] with plenty of exact zeros and halves
    t = np.round(rng.uniform(-3, 3, 120) * 5) / 5
    t[:15] = 0.0
    t[15:20] = [0.5, -0.5, 1.5, -2.5, 2.5]
    p = np.clip(t + rng.normal(scale=0.8, size=120), -3.5, 3.5)
    p[20:24] = [0.0, 0.5, -1.5, 2.5]
    ours = mosi_metrics(torch.from_numpy(t), p)
    ref = _mmsa_reference(p, t)
    assert ours.keys() == ref.keys()
    for k in ref:
        assert ours[k] == pytest.approx(float(ref[k]), rel=1e-9), k
    assert _plain(ours)


def test_mosi_perfect_predictions_score_one_everywhere():
    t = np.array([-3.0, -2.6, -1.4, -0.5, 0.0, 0.0, 0.2, 0.5, 1.5, 2.5, 3.0, -0.2])
    m = mosi_metrics(t, t.copy())
    for key in ("acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc5", "acc7", "pearson"):
        assert m[key] == pytest.approx(1.0), key
    assert m["mae"] == 0.0


def test_mosi_true_zeros_excluded_from_non0():
    t = [0.0, 1.0, -1.0, 0.0]
    p = [-1.0, 1.0, -1.0, 5.0]
    m = mosi_metrics(t, p)
    assert m["acc2_non0"] == 1.0  # only the two non-zero truths count, both right
    assert m["acc2_has0"] == 0.75  # truth 0 vs prediction -1 is wrong when zeros are non-negative


def test_mosi_zero_prediction_is_negative_in_non0_and_nonnegative_in_has0():
    m = mosi_metrics([1.0, -1.0], [0.0, 0.0])
    assert m["acc2_non0"] == 0.5  # 0.0 counted as negative: right for -1, wrong for 1
    assert m["acc2_has0"] == 0.5  # 0.0 counted as non-negative: right for 1, wrong for -1


def test_mosi_all_true_zero_gives_nan_non0():
    m = _no_warnings(mosi_metrics, [0.0, 0.0, 0.0], [0.1, -0.2, 0.0])
    assert math.isnan(m["acc2_non0"]) and math.isnan(m["f1_non0"])
    assert m["acc2_has0"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("truth", "pred", "acc7"),
    [
        # numpy rounds halves to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2, -2.5 -> -2
        ([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], [0.0, 2.0, 2.0, 0.0, -2.0, -2.0], 1.0),
        # halves-away-from-zero classes would be [1, 2, 3, -1, -2, -3]: only 1.5/-1.5 agree
        ([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], [1.0, 2.0, 3.0, -1.0, -2.0, -3.0], 2 / 6),
        ([0.49, 0.51, 2.51], [0.0, 1.0, 3.0], 1.0),  # just off the boundary
        ([3.4, -7.0], [10.0, -3.0], 1.0),  # clipped to [-3, 3] first
    ],
)
def test_mosi_acc7_rounding(truth, pred, acc7):
    assert mosi_metrics(truth, pred)["acc7"] == pytest.approx(acc7)


def test_mosi_acc5_clips_to_two():
    m = mosi_metrics([2.6, -3.0, 1.0], [3.0, -2.2, 1.0])
    assert m["acc5"] == 1.0  # 2.6 and 3 both clip to 2; -3 and -2.2 both clip to -2
    assert m["acc7"] == pytest.approx(2 / 3)  # 2.6 and 3 both round to 3; -3 vs -2 differ


# ------------------------------------------------------------------ dispatcher


def test_compute_metrics_classification_uses_argmax():
    logits = torch.tensor([[5.0, 1.0, 0.0], [0.0, 0.1, 3.0], [0.0, 2.0, 1.0]])
    y = torch.tensor([0, 2, 2])
    m = compute_metrics("classification", logits, y, classes=["a", "b", "c"])
    assert _same(m, classification_metrics(y, logits.argmax(-1), classes=["a", "b", "c"]))
    assert m["accuracy"] == pytest.approx(2 / 3)


def test_compute_metrics_multilabel_applies_sigmoid():
    logits = torch.tensor([[3.0, -2.0, 0.0], [-1.0, 1.0, 0.1]])
    y = torch.tensor([[1, 0, 0], [0, 1, 1]])
    m = compute_metrics("multilabel", logits, y)
    assert m == multilabel_metrics(y, torch.sigmoid(logits), thresholds=0.5)
    assert m["exact_match"] == 1.0  # logit 0 -> p 0.5 -> negative; logit 0.1 -> positive
    tuned = compute_metrics("multilabel", logits, y, thresholds=[0.5, 0.5, 0.6])
    assert tuned["exact_match"] == 0.5


def test_compute_metrics_regression_squeezes_and_merges_mosi():
    t = torch.tensor([[-1.2], [0.0], [0.4], [2.6]])
    out = torch.tensor([[-0.8], [0.3], [0.6], [3.4]])
    m = compute_metrics("regression", out, t.squeeze(1), mosi=True)
    reg = regression_metrics(t, out)
    mosi = mosi_metrics(t, out)
    assert m == {**reg, **mosi}
    assert compute_metrics("regression", out, t) == reg


def test_compute_metrics_bad_task_and_flags():
    with pytest.raises(UnknownNameError, match="classification"):
        compute_metrics("clasification", np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ConfigError, match="regression"):
        compute_metrics("classification", np.zeros((2, 2)), np.zeros(2), mosi=True)


# ------------------------------------------------------------------ monitor modes


@pytest.mark.parametrize(
    ("name", "mode"),
    [("accuracy", "max"), ("f1_macro", "max"), ("uar", "max"), ("ccc", "max"), ("acc7", "max"),
     ("mae", "min"), ("mse", "min"), ("loss", "min"), ("val/loss", "min"), ("val_f1_weighted", "max"),
     ("test.pearson", "max")],
)
def test_monitor_mode(name, mode):
    assert monitor_mode(name) == mode


def test_monitor_modes_cover_every_metric_key():
    keys = set()
    keys |= set(classification_metrics([0, 1], [0, 1]))
    keys |= set(multilabel_metrics([[0, 1]], [[0.2, 0.7]]))
    keys |= set(regression_metrics([0.0, 1.0], [0.1, 0.9]))
    keys |= set(mosi_metrics([0.0, 1.0], [0.1, 0.9]))
    scalar = {k for k in keys if k not in {"per_class_recall", "per_class_f1", "confusion_matrix", "support", "n"}}
    assert scalar <= set(MONITOR_MODES)
    assert set(MONITOR_MODES.values()) == {"max", "min"}


@pytest.mark.parametrize("name", ["f1_macr", "val/nope", "", "valloss"])
def test_monitor_mode_unknown(name):
    with pytest.raises(UnknownNameError, match="Unknown metric"):
        monitor_mode(name)


# ------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    ("fn", "args", "kwargs", "match"),
    [
        (classification_metrics, ([0, 1, 1], np.zeros((2, 2))), {}, "same number of samples, got 3 and 2"),
        (classification_metrics, ([0, 1], [[0.1, float("nan")], [0.2, 0.3]]), {}, "NaN"),
        (classification_metrics, ([], np.zeros((0, 3))), {}, "at least one sample"),
        (classification_metrics, ([0, 3], np.zeros((2, 3))), {}, r"\[0, 3\), got \[3\]"),
        (classification_metrics, ([0, -1], np.zeros((2, 3))), {}, r"\[0, 3\)"),
        (classification_metrics, ([0, 1], [0, 2]), {"num_classes": 2}, "predicted classes"),
        (classification_metrics, ([0.5, 1], [0, 1]), {}, "integer class indices"),
        (classification_metrics, ([0, 1], [0.2, 0.7]), {}, r"pass \(N, C\) scores"),
        (classification_metrics, ([0, 1], np.zeros((2, 3))), {"num_classes": 4}, "num_classes=4"),
        (classification_metrics, ([0, 1], np.zeros((2, 3))), {"classes": ["a", "b"]}, "3 class names"),
        (classification_metrics, ([0, 1], np.zeros((2, 3, 1))), {}, "got shape"),
        (multilabel_metrics, ([[0, 1]], [[0.2, 0.3, 0.4]]), {}, r"same shape \(N, C\), got \(1, 2\) and \(1, 3\)"),
        (multilabel_metrics, ([[0, 2]], [[0.2, 0.3]]), {}, "0/1"),
        (multilabel_metrics, ([[0, 1]], [[-2.0, 3.0]]), {}, "probabilities in"),
        (multilabel_metrics, ([[0, 1]], [[0.2, float("inf")]]), {}, "NaN/inf"),
        (multilabel_metrics, ([[0, 1]], [[0.2, 0.3]]), {"thresholds": [0.5, 0.5, 0.5]}, r"shape \(2,\)"),
        (multilabel_metrics, ([[0, 1]], [[0.2, 0.3]]), {"thresholds": 1.5}, r"in \[0, 1\]"),
        (multilabel_metrics, ([[0, 1]], [[0.2, 0.3]]), {"classes": ["a"]}, "2 classes names"),
        (tune_thresholds, ([[0, 1]], [[0.2, 0.3]]), {"grid": []}, "at least one threshold"),
        (tune_thresholds, ([[0, 1]], [[0.2, 0.3]]), {"grid": [0.5, 2.0]}, r"in \[0, 1\]"),
        (regression_metrics, ([1.0, 2.0], [1.0]), {}, "same number of samples, got 2 and 1"),
        (regression_metrics, ([1.0, float("nan")], [1.0, 2.0]), {}, "NaN"),
        (regression_metrics, ([], []), {}, "at least one sample"),
        (regression_metrics, (np.zeros((2, 2)), np.zeros((2, 3))), {}, "same shape"),
        (mosi_metrics, (np.zeros((2, 2)), np.zeros((2, 2))), {}, "one sentiment score"),
        (mosi_metrics, ([1.0], [float("nan")]), {}, "NaN"),
        (compute_metrics, ("multilabel", [[float("nan"), 1.0]], [[0, 1]]), {}, "outputs"),
    ],
)
def test_bad_inputs_raise_data_error(fn, args, kwargs, match):
    with pytest.raises(DataError, match=match):
        fn(*args, **kwargs)


def test_data_error_is_value_error():
    with pytest.raises(ValueError):
        regression_metrics([1.0], [])
