"""Shapley contributions of zoo models (every registered one) and the rationales made from them."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from emofuse.data.dataset import FeatureDataset
from emofuse.data.spec import Batch, ModalitySpec, Specifications
from emofuse.explain import EPS, explain_dataset, rationale, rationale_statements, shapley_contributions, shapley_matrix
from emofuse.models import create_model, list_models

MODALITIES = {"text": ModalitySpec(6), "audio": ModalitySpec(5, sequential=True, max_len=7),
              "video": ModalitySpec(4, sequential=True, max_len=9)}
NAMES = list_models()
OUTPUTS = {"classification": 3, "regression": 1, "multilabel": 4}


def make_model(name: str, task: str = "classification", **overrides):  # noqa: ANN201
    torch.manual_seed(0)
    spec = Specifications(MODALITIES, task, OUTPUTS[task], classes=("a", "b", "c") if task == "classification" else ())
    return create_model(name, spec, tiny=True, dropout=0.0, **overrides).eval()


def make_batch(b: int = 6, seed: int = 0) -> Batch:
    """Random features; row 0 has every modality, row 1 none, rows 2-4 one each, the rest random."""
    g = torch.Generator().manual_seed(seed)
    feats, lens, present = {}, {}, {}
    for j, (name, ms) in enumerate(MODALITIES.items()):
        if ms.sequential:
            ln = torch.randint(1, ms.max_len + 1, (b,), generator=g)
            x = torch.randn(b, ms.max_len, ms.dim, generator=g)
            feats[name] = x * (torch.arange(ms.max_len)[None, :, None] < ln[:, None, None])
            lens[name] = ln
        else:
            feats[name] = torch.randn(b, ms.dim, generator=g)
        p = torch.rand(b, generator=g) < 0.6
        p[0], p[1] = True, False
        for i in (2, 3, 4):
            p[i] = (i - 2) == j
        present[name] = p
    groups = torch.tensor([0, 0, 1, 1, 1, 2][:b])
    return Batch(feats, lens, present, groups=groups, positions=torch.arange(b), ids=[f"s{i}" for i in range(b)])


def check_efficiency(c, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(c.values.sum(1), c.full - c.base, atol=atol)
    assert np.all(c.values[~c.present] == 0.0)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", NAMES)
def test_shapley_values_sum_to_the_prediction_minus_the_empty_set(name: str, task: str) -> None:
    model = make_model(name, task)
    batch = make_batch()
    c = shapley_contributions(model, batch)
    check_efficiency(c)
    with torch.inference_mode():
        probs = model(batch).probs.double().numpy()
        empty = model(batch.drop(*MODALITIES)).probs.double().numpy()
    np.testing.assert_allclose(c.full, probs, atol=1e-5)  # v(full) is the model's prediction
    np.testing.assert_allclose(c.base, empty, atol=1e-5)  # v(∅): the model with no modality present
    assert c.values.shape == (6, 3, OUTPUTS[task]) and c.ids == batch.ids
    # one modality alone: all the change is its own
    for i, j in ((2, 0), (3, 1), (4, 2)):
        np.testing.assert_allclose(c.values[i, j], c.full[i] - c.base[i], atol=1e-6)
        np.testing.assert_allclose(c.alone[i, j], c.full[i], atol=1e-6)
    assert np.isnan(c.alone[~c.present]).all()


def test_multilabel_and_context_models_are_exact_too() -> None:
    batch = make_batch()
    check_efficiency(shapley_contributions(make_model("gated", "multilabel"), batch))
    model = make_model("late_weighted", context=True)  # reads the other utterances of the group
    c = shapley_contributions(model, batch)
    check_efficiency(c)
    with torch.inference_mode():
        np.testing.assert_allclose(c.full, model(batch).probs.double().numpy(), atol=1e-5)


def test_chunked_equals_one_pass_and_indices_select_rows() -> None:
    model, batch = make_model("tfn"), make_batch()
    one = shapley_contributions(model, batch)
    small = shapley_contributions(model, batch, indices=[4, 0], max_rows=3)
    np.testing.assert_allclose(small.values, one.values[[4, 0]], atol=1e-6)
    np.testing.assert_array_equal(small.present, one.present[[4, 0]])


class IgnoresVideo(nn.Module):
    """A zoo model whose output never reads the video (it is dropped before the model runs)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.spec = inner, inner.spec

    def forward(self, batch: Batch):  # noqa: ANN201
        return self.inner(batch.drop("video"))


@pytest.mark.parametrize("name", ["early_concat", "late_average", "mult"])
def test_a_modality_the_output_ignores_gets_no_contribution(name: str) -> None:
    c = shapley_contributions(IgnoresVideo(make_model(name)), make_batch())
    check_efficiency(c)
    assert np.abs(c.values[:, 2]).max() < 1e-6
    assert np.abs(c.values[:, :2]).max() > 1e-3  # the others do matter


def test_shapley_matrix_gives_the_additive_and_symmetric_answers() -> None:
    a = np.array([0.3, -0.1, 0.5])
    v = np.array([sum(a[j] for j in range(3) if k >> j & 1) for k in range(8)])
    np.testing.assert_allclose(shapley_matrix(3) @ v, a, atol=1e-12)  # additive game: own effects
    both = np.array([0.0, 0.0, 0.0, 1.0])  # only together: split equally
    np.testing.assert_allclose(shapley_matrix(2) @ both, [0.5, 0.5])
    np.testing.assert_allclose(shapley_matrix(3).sum(0), np.eye(8)[7] - np.eye(8)[0], atol=1e-12)


def test_explain_dataset_matches_the_batch_and_names_the_missing() -> None:
    rng = np.random.default_rng(0)
    n = 8
    feats = {"text": rng.normal(size=(n, 6)).astype(np.float32), "audio": rng.normal(size=(n, 7, 5)).astype(np.float32)}
    present = {"audio": np.array([True] * 6 + [False] * 2)}
    ds = FeatureDataset(feats, rng.integers(0, 3, n), lengths={"audio": np.full(n, 7)}, present=present,
                        classes=["a", "b", "c"])
    spec = Specifications({"text": ModalitySpec(6), "audio": ModalitySpec(5, True, 7)}, "classification", 3,
                          classes=("a", "b", "c"))
    torch.manual_seed(0)
    model = create_model("gated", spec, tiny=True, dropout=0.0).eval()
    c = explain_dataset(model, ds, [7, 2, -1])
    check_efficiency(c)
    exp = c.sample(0)
    assert set(exp["modalities"]) == {"text"} and exp["missing"] == {"audio": "absent in this sample"}
    assert exp["target"] == "abc"[int(np.argmax(c.full[0]))]
    with torch.inference_mode():
        np.testing.assert_allclose(c.full[1], model(ds.batch([2])).probs.double().numpy()[0], atol=1e-5)


# --------------------------------------------------------------------------- rationales

def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=\.)\s+(?=[A-Z])", text) if s]


def random_explanation(rng: np.random.Generator) -> dict:
    classes = ["anger", "joy", "sadness"]
    mods = [m for m in ("text", "audio", "face") if rng.random() < 0.75]
    base = {c: 1 / 3 for c in classes}
    target = classes[int(rng.integers(3))]
    phi = {m: float(np.round(rng.normal(0, 0.2), 3)) * (rng.random() < 0.9) for m in mods}
    return {"task": "classification", "target": target, "classes": classes, "base": base,
            "full": {c: (1 / 3 + sum(phi.values()) if c == target else 0.2) for c in classes},
            "modalities": {m: {"label": classes[int(rng.integers(3))], "contribution": v} for m, v in phi.items()},
            "missing": {m: "no face detected" for m in ("text", "audio", "face") if m not in mods}}


@pytest.mark.parametrize("seed", range(40))
def test_every_statement_of_a_rationale_is_true_of_the_numbers(seed: int) -> None:
    exp = random_explanation(np.random.default_rng(seed))
    st = rationale_statements(exp)
    kinds = [s.kind for s in st]
    phi = {m: d["contribution"] for m, d in exp["modalities"].items()}
    positive = {m: v for m, v in phi.items() if v > EPS}
    if not phi:
        assert kinds[0] == "none"
    elif positive:
        (driver,) = [s for s in st if s.kind == "driver"]
        (m,) = driver.modalities
        assert phi[m] == max(phi.values())  # the named driver really has the largest contribution
        assert driver.data["share"] == pytest.approx(phi[m] / sum(positive.values()))
        assert f"{phi[m]:+.2f}" in driver.text
        assert (f"{driver.data['share']:.0%}" if len(phi) > 1 else "the only signal present") in driver.text
    else:
        assert "no_driver" in kinds and "driver" not in kinds
    own = {m: d["label"] for m, d in exp["modalities"].items()}
    disagree = [s for s in st if s.kind == "disagreement"]
    assert bool(disagree) == (len(set(own.values())) > 1)  # iff the modalities' own top labels differ
    for s in disagree:
        assert set(s.modalities) == {m for m, lab in own.items() if lab == exp["target"]}
    assert {s.modalities[0] for s in st if s.kind == "lowered"} == {m for m, v in phi.items() if v < -EPS}
    assert {m for s in st if s.kind == "missing" for m in s.modalities} == set(exp["missing"])
    text = rationale(exp)
    assert 1 <= len(sentences(text)) <= 2 and text == rationale(exp)  # short and deterministic


def test_rationale_of_a_model_explanation_names_the_real_driver() -> None:
    c = shapley_contributions(make_model("late_average"), make_batch())
    for i in range(len(c)):
        exp = c.sample(i)
        st = rationale_statements(exp)
        phi = c.predicted_values[i]
        drivers = [s for s in st if s.kind == "driver"]
        if drivers:
            j = c.modalities.index(drivers[0].modalities[0])
            assert phi[j] == pytest.approx(np.nanmax(np.where(c.present[i], phi, np.nan)), abs=1e-6)
        own = {exp["modalities"][m]["label"] for m in exp["modalities"]}
        assert any(s.kind == "disagreement" for s in st) == (len(own) > 1)
        assert {m for s in st if s.kind == "missing" for m in s.modalities} == {
            m for j, m in enumerate(c.modalities) if not c.present[i, j]}


def test_regression_rationale_follows_the_direction_of_the_change() -> None:
    exp = {"task": "regression", "target": "value", "base": {"value": 0.0}, "full": {"value": -0.6},
           "modalities": {"text": {"label": None, "contribution": -0.5},
                          "audio": {"label": None, "contribution": -0.1}},
           "missing": {}}
    st = rationale_statements(exp)
    assert st[0].kind == "driver" and st[0].modalities == ("text",) and "down" in st[0].text
    assert st[0].data["share"] == pytest.approx(0.5 / 0.6)
    assert [s.kind for s in st] == ["driver"]

