"""Robustness measures (known answers) and the feature-level sweeps on a tiny generated dataset."""

from __future__ import annotations

import math

import numpy as np
import pytest

from emofuse.data.dataset import FeatureDataset
from emofuse.errors import ConfigError, DataError
from emofuse.robustness import (
    add_feature_noise,
    effective_robustness,
    feature_rows,
    feature_std,
    minmax_normalize,
    modality_subsets,
    noise_rows,
    relative_robustness,
    subset_rows,
)

# --------------------------------------------------------------------------- measures (known answers)


def test_relative_robustness_is_the_trapezoid_area_on_unit_levels() -> None:
    # levels 0, .5, 1: 0.5 * (1.0 + 0.5) / 2 + 0.5 * (0.5 + 0.5) / 2 = 0.375 + 0.25
    assert relative_robustness([0, 0.5, 1], [1.0, 0.5, 0.5]) == pytest.approx(0.625)
    # uneven levels are rescaled to [0, 1]: u = 0, .25, 1 → .25 * 1.8 / 2 + .75 * 1.4 / 2 = .225 + .525
    assert relative_robustness([0, 1, 4], [1.0, 0.8, 0.6]) == pytest.approx(0.75)
    # order of the points does not matter, None is the clean level
    assert relative_robustness([4, None, 1], [0.6, 1.0, 0.8]) == pytest.approx(0.75)
    # a flat curve's area is its value
    assert relative_robustness([0, 0.25, 2], [0.7, 0.7, 0.7]) == pytest.approx(0.7)


def test_relative_robustness_matches_multibench_grid() -> None:
    """On MultiBench's 11 levels 0, .1, .., 1 the area equals its sum of (a_i + a_{i+1}) * 0.1 / 2."""
    acc = np.linspace(0.9, 0.4, 11) ** 2
    expected = sum((acc[i] + acc[i + 1]) * 0.1 / 2 for i in range(10))
    assert relative_robustness(np.linspace(0, 1, 11).tolist(), acc.tolist()) == pytest.approx(expected)


def test_effective_robustness_known_answers() -> None:
    # (a - a0) = 0, -.1, -.2 ; (b - b0) = 0, -.2, -.3 → .1 + .1
    assert effective_robustness([0, 1, 2], [0.9, 0.8, 0.7], [0.8, 0.6, 0.5]) == pytest.approx(0.2)
    # the reference against itself, and any curve shifted by a constant, score 0
    assert effective_robustness([0, 1, 2], [0.8, 0.6, 0.5], [0.8, 0.6, 0.5]) == 0.0
    assert effective_robustness([0, 1, 2], [0.9, 0.7, 0.6], [0.8, 0.6, 0.5]) == pytest.approx(0.0)
    # degrading faster than the reference is negative
    assert effective_robustness([0, 1], [0.9, 0.5], [0.8, 0.7]) == pytest.approx(-0.3)
    # the baseline may come in another order when its levels are given
    assert effective_robustness([0, 1, 2], [0.9, 0.8, 0.7], [0.5, 0.8, 0.6], [2, 0, 1]) == pytest.approx(0.2)


def test_measures_refuse_bad_curves() -> None:
    with pytest.raises(DataError, match="at least 2 levels"):
        relative_robustness([0], [0.5])
    with pytest.raises(DataError, match="as many levels as values"):
        relative_robustness([0, 1], [0.5])
    with pytest.raises(DataError, match="repeated level"):
        relative_robustness([0, 1, 1], [0.5, 0.4, 0.3])
    with pytest.raises(DataError, match="finite"):
        relative_robustness([0, 1], [0.5, float("nan")])
    with pytest.raises(DataError, match="same levels"):
        effective_robustness([0, 1], [0.9, 0.8], [0.8, 0.7], [0, 2])


def test_minmax_normalize() -> None:
    assert minmax_normalize({"a": 0.5, "b": 0.7, "c": 0.6}) == {"a": 0.0, "b": 1.0, "c": 0.5}
    assert minmax_normalize({"a": 2.0, "b": 1.0}, higher_is_better=False) == {"a": 0.0, "b": 1.0}
    assert minmax_normalize({"a": 0.3, "b": 0.3}) == {"a": 1.0, "b": 1.0}
    assert minmax_normalize({}) == {}


def test_modality_subsets_every_nonempty_subset_largest_first() -> None:
    subs = modality_subsets(["text", "audio", "face"])
    assert len(subs) == 7 == len(set(subs))
    assert subs[0] == ("text", "audio", "face") and subs[-3:] == [("text",), ("audio",), ("face",)]
    assert [len(s) for s in subs] == sorted((len(s) for s in subs), reverse=True)


# --------------------------------------------------------------------------- tiny dataset and model


def make_dataset(n: int = 160, seed: int = 0) -> FeatureDataset:
    """Text (pooled, 4-d) carries the label; audio (sequence) and face (pooled, some absent) are noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    sign = np.where(y == 1, 1.0, -1.0)[:, None]
    # opposite signs across dimensions: the encoders' LayerNorm would erase a shift shared by all of them
    text = (2.0 * sign * np.array([1.0, -1.0, 1.0, -1.0]) + 0.5 * rng.normal(size=(n, 4))).astype(np.float32)
    audio = rng.normal(size=(n, 5, 3)).astype(np.float32)
    lengths = rng.integers(2, 6, n)
    for i, k in enumerate(lengths):
        audio[i, k:] = 0.0
    face = rng.normal(size=(n, 2)).astype(np.float32)
    present = {"face": np.arange(n) % 4 != 0}  # a quarter of the samples have no face
    return FeatureDataset({"text": text, "audio": audio, "face": face}, y, lengths={"audio": lengths},
                          present=present, classes=("neg", "pos"))


@pytest.fixture(scope="module")
def trained() -> tuple[object, FeatureDataset]:
    from emofuse.models import create_model
    from emofuse.train.trainer import TrainConfig, Trainer, seed_everything

    train, valid = make_dataset(160, 0), make_dataset(80, 1)
    seed_everything(0)
    model = create_model("early_concat", train.spec, hidden=8)
    Trainer(TrainConfig(epochs=12, patience=12, progress=False, lr=5e-3)).fit(model, train, valid)
    return model, valid


def test_subset_rows_cover_every_subset_and_text_carries_the_signal(trained) -> None:
    model, ds = trained
    rows = subset_rows(model, ds, target="ec", seed=3)
    assert [r["condition"] for r in rows] == ["text+audio+face", "text+audio", "text+face", "audio+face", "text",
                                              "audio", "face"]
    assert {r["kind"] for r in rows} == {"subset"} and {r["seed"] for r in rows} == {3}
    assert [r["level"] for r in rows] == [0.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    assert all(r["n"] == len(ds) and r["modality"] is None for r in rows)
    acc = {r["condition"]: r["accuracy"] for r in rows}
    assert acc["text+audio+face"] > 0.9
    assert all(acc[c] > 0.85 for c in acc if "text" in c)  # text alone still carries the label
    assert all(acc[c] < 0.75 for c in acc if "text" not in c)  # without text: about chance
    for r in rows:
        assert 0 <= r["f1_macro"] <= 1 and 0 <= r["uar"] <= 1 and 0 <= r["f1_weighted"] <= 1


def test_noise_rows_degrade_with_the_informative_modality_only(trained) -> None:
    model, ds = trained
    rows = noise_rows(model, ds, [0.5, 2, 8], target="ec", seed=0, model_seed=1)
    by = {(r["modality"], r["level"]): r for r in rows}
    assert sorted({r["level"] for r in rows}) == [0.0, 0.5, 2.0, 8.0]  # the clean point is added
    assert by[("text", 0.0)]["accuracy"] == subset_rows(model, ds, target="ec")[0]["accuracy"]
    assert by[("text", 8.0)]["accuracy"] < by[("text", 0.0)]["accuracy"] - 0.15
    assert abs(by[("audio", 8.0)]["accuracy"] - by[("audio", 0.0)]["accuracy"]) <= 0.1
    assert by[("face", 0.0)]["n"] == int(ds.present["face"].sum()) == 60  # scored where face is present
    assert by[("text", 2.0)]["condition"] == "noise σ=2 on text" and by[("text", 2.0)]["seed"] == 1
    again = noise_rows(model, ds, [0.5, 2, 8], target="ec", seed=0, model_seed=1)
    assert again == rows  # seeded


def test_feature_rows_is_subsets_then_noise(trained) -> None:
    model, ds = trained
    rows = feature_rows(model, ds, [1.0], target="ec")
    assert [r["kind"] for r in rows] == ["subset"] * 7 + ["feature_noise"] * 6


def test_add_feature_noise_scales_by_each_dimension_std_on_valid_steps_only() -> None:
    ds = make_dataset(400, 2)
    ds.features["face"][:, 1] *= 10.0  # dimension 1 spreads ten times more
    std = feature_std(ds, "face")
    one, two = add_feature_noise(ds, "face", 1.0, seed=5), add_feature_noise(ds, "face", 2.0, seed=5)
    d1 = one.features["face"] - ds.features["face"]
    d2 = two.features["face"] - ds.features["face"]
    present = ds.present["face"]
    assert np.all(d1[~present] == 0)  # absent samples untouched
    np.testing.assert_allclose(d2, 2 * d1, rtol=1e-5, atol=1e-5)  # same z at every level
    ratio = d1[present].std(axis=0) / std
    assert np.all(np.abs(ratio - 1) < 0.15)
    assert ds.features["face"] is not one.features["face"]  # the input is not modified
    # sequences: padding steps stay zero
    noisy = add_feature_noise(ds, "audio", 1.0, seed=0).features["audio"]
    pad = np.arange(5)[None, :] >= ds.lengths["audio"][:, None]
    assert np.all(noisy[pad] == 0) and not np.all(noisy[~pad] == ds.features["audio"][~pad])
    # σ = 0 is an unperturbed copy
    np.testing.assert_array_equal(add_feature_noise(ds, "text", 0.0).features["text"], ds.features["text"])


def test_feature_std_is_nan_safe_and_constant_dims_get_no_noise() -> None:
    ds = make_dataset(40, 3)
    x = ds.features["face"].copy()
    x[:, 0] = 3.0  # constant
    x[1, 1] = np.nan
    ds = FeatureDataset({"text": ds.features["text"], "face": x}, ds.targets, classes=("neg", "pos"), check=False)
    std = feature_std(ds, "face")
    assert std[0] == 0.0 and math.isfinite(std[1]) and std[1] > 0
    noisy = add_feature_noise(ds, "face", 1.0).features["face"]
    assert np.all(noisy[:, 0] == 3.0) and np.isnan(noisy[1, 1])
    allnan = x.copy()
    allnan[:, 1] = np.nan
    ds2 = FeatureDataset({"face": allnan}, ds.targets, classes=("neg", "pos"), check=False)
    assert feature_std(ds2, "face").tolist() == [0.0, 0.0]


def test_sweeps_refuse_bad_input(trained) -> None:
    model, ds = trained
    with pytest.raises(DataError, match=r"lacks \['face'\]"):
        subset_rows(model, ds.select_modalities(["text", "audio"]), target="ec")
    with pytest.raises(DataError, match="σ >= 0"):
        noise_rows(model, ds, [-1.0], target="ec")
    with pytest.raises(DataError, match="cannot perturb 'video'"):
        noise_rows(model, ds, [1.0], target="ec", modalities=["video"])
    with pytest.raises(DataError, match="finite σ"):
        add_feature_noise(ds, "text", float("inf"))
    gone = ds.subset(np.arange(len(ds)))
    gone.present = {**gone.present, "face": np.zeros(len(ds), dtype=bool)}
    with pytest.raises(DataError, match="missing in every sample"):
        noise_rows(model, gone, [1.0], target="ec", modalities=["face"])


def test_regression_checkpoints_are_refused() -> None:
    from emofuse.models import create_model

    ds = make_dataset(20, 4)
    reg = FeatureDataset(dict(ds.features), ds.targets.astype(np.float32), task="regression",
                         lengths=ds.lengths, present=ds.present)
    model = create_model("early_concat", reg.spec, hidden=4)
    with pytest.raises(ConfigError, match="classification checkpoint"):
        subset_rows(model, reg, target="reg")
