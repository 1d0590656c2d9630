"""Known-answer and property tests of the fusion zoo on tiny hand-built inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from emofuse.data.spec import Batch, ModalitySpec, Specifications
from emofuse.errors import ConfigError
from emofuse.models import create_model
from emofuse.models.fusion._ops import combine_predictions, masked_softmax

TWO = {"text": ModalitySpec(6), "audio": ModalitySpec(5, sequential=True, max_len=7)}
THREE = {**TWO, "video": ModalitySpec(4, sequential=True, max_len=9)}


def spec(mods=THREE, task: str = "classification", c: int = 3) -> Specifications:
    return Specifications(mods, task, c)


def model(name: str, s: Specifications, **overrides):
    torch.manual_seed(0)
    overrides.setdefault("dropout", 0.0)
    return create_model(name, s, tiny=True, **overrides).eval()


def batch(mods=THREE, b: int = 4, seed: int = 0, present: dict | None = None) -> Batch:
    g = torch.Generator().manual_seed(seed)
    feats, lens = {}, {}
    for m, ms in mods.items():
        if ms.sequential:
            feats[m] = torch.randn(b, ms.max_len, ms.dim, generator=g)
            lens[m] = torch.full((b,), ms.max_len)
        else:
            feats[m] = torch.randn(b, ms.dim, generator=g)
    return Batch(feats, lens, dict(present or {}))


# -- late fusion ----------------------------------------------------------------------------

def test_late_average_is_the_mean_of_per_modality_distributions():
    s = spec(TWO)
    net = model("late_average", s)
    with torch.no_grad():
        out = net(batch(TWO))
    mean = (out.modality_logits["text"].softmax(-1) + out.modality_logits["audio"].softmax(-1)) / 2
    torch.testing.assert_close(out.probs, mean)
    torch.testing.assert_close(out.weights, torch.full((4, 2), 0.5))


def test_late_average_logit_mode_is_a_normalised_product_of_experts():
    net = model("late_average", spec(TWO), combine="logit")
    with torch.no_grad():
        out = net(batch(TWO))
    lp = (out.modality_logits["text"].log_softmax(-1) + out.modality_logits["audio"].log_softmax(-1)) / 2
    torch.testing.assert_close(out.probs, lp.softmax(-1))


def test_late_average_regression_and_missing_modality():
    net = model("late_average", spec(TWO, "regression", 1))
    present = {"audio": torch.tensor([True, False, True, False])}
    with torch.no_grad():
        out = net(batch(TWO, present=present))
    t, a = out.modality_logits["text"], out.modality_logits["audio"]
    expected = torch.where(present["audio"].unsqueeze(-1), (t + a) / 2, t)
    torch.testing.assert_close(out.logits, expected)


def test_late_weighted_uses_softmax_of_its_scores():
    net = model("late_weighted", spec(TWO))
    with torch.no_grad():
        net.modality_scores.copy_(torch.tensor([math.log(3.0), 0.0]))  # weights 0.75 / 0.25
        out = net(batch(TWO))
    torch.testing.assert_close(out.weights, torch.tensor([[0.75, 0.25]]).expand(4, 2))
    mix = 0.75 * out.modality_logits["text"].softmax(-1) + 0.25 * out.modality_logits["audio"].softmax(-1)
    torch.testing.assert_close(out.probs, mix)


def test_late_stacking_sees_probabilities_and_presence():
    net = model("late_stacking", spec(TWO))
    assert net.meta[0].in_features == 2 * 3 + 2


def test_combine_rejects_unknown_mode():
    with pytest.raises(ConfigError, match="combine"):
        create_model("late_average", spec(TWO), combine="median")


# -- tensor fusion --------------------------------------------------------------------------

def test_tfn_tensor_size_is_product_of_dims_plus_one():
    net = model("tfn", spec(), tensor_dim=3, tensor_dims={"text": 2, "video": 4})
    assert net.fused_dim == (2 + 1) * (3 + 1) * (4 + 1)
    emb = {"text": torch.randn(2, 2), "audio": torch.randn(2, 3), "video": torch.randn(2, 4)}
    t = net.fusion_tensor(emb)
    assert t.shape == (2, 60)
    one = lambda z: torch.cat([z, torch.ones(2, 1)], -1)  # noqa: E731
    full = torch.einsum("bi,bj,bk->bijk", one(emb["text"]), one(emb["audio"]), one(emb["video"]))
    torch.testing.assert_close(t, full.flatten(1))
    torch.testing.assert_close(t[:, -1], torch.ones(2))  # the 1·1·1 corner
    # the unimodal text terms survive in the corner slice
    torch.testing.assert_close(full[:, :2, -1, -1], emb["text"])
    with torch.no_grad():
        out = net(batch())
    assert out.hidden.shape == (4, 8)


def test_tfn_rejects_unknown_modality_in_tensor_dims():
    with pytest.raises(ConfigError, match="face"):
        create_model("tfn", spec(), tiny=True, tensor_dims={"face": 3})
    with pytest.raises(ConfigError):
        create_model("tfn", spec(), tiny=True, tensor_dims={"text": 0})


# -- low-rank fusion ------------------------------------------------------------------------

def test_lmf_with_identical_factors_is_rank_one_times_the_weight_sum():
    net = model("lmf", spec(), rank=3)
    with torch.no_grad():
        for p in net.factors.values():
            p.copy_(p[:1].expand_as(p))
        net.rank_weights.copy_(torch.tensor([0.5, 1.0, 2.0]))
        net.bias.normal_()
    emb = {m: torch.randn(4, 8) for m in THREE}
    prod = torch.ones(4, 8)
    for m, z in emb.items():
        prod = prod * (torch.cat([z, torch.ones(4, 1)], -1) @ net.factors[m][0])
    with torch.no_grad():
        torch.testing.assert_close(net.fusion(emb), 3.5 * prod + net.bias)


def test_lmf_equals_a_linear_map_of_the_tfn_tensor():
    net = model("lmf", spec(TWO), rank=2)
    emb = {"text": torch.randn(3, 8), "audio": torch.randn(3, 8)}
    a, b = net.factors["text"], net.factors["audio"]  # (R, E+1, H)
    w_full = torch.einsum("r,rih,rjh->ijh", net.rank_weights, a, b)  # the rank-2 weight tensor
    z1 = {m: torch.cat([z, torch.ones(3, 1)], -1) for m, z in emb.items()}
    expected = torch.einsum("bi,bj,ijh->bh", z1["text"], z1["audio"], w_full) + net.bias
    with torch.no_grad():
        torch.testing.assert_close(net.fusion(emb), expected, atol=1e-5, rtol=1e-5)


# -- gates and routers ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gated", "moe", "late_weighted", "late_average"])
def test_weights_are_one_hot_with_a_single_modality(name):
    net = model(name, spec())
    for j, keep in enumerate(THREE):
        present = {m: torch.full((4,), m == keep) for m in THREE}
        with torch.no_grad():
            out = net(batch(present=present))
        expected = torch.zeros(4, 3)
        expected[:, j] = 1.0
        assert torch.equal(out.weights, expected)


def test_gated_output_is_the_gated_sum_of_transforms():
    net = model("gated", spec(TWO))
    b = batch(TWO)
    with torch.no_grad():
        out = net(b)
        h = torch.stack([torch.tanh(net.transforms[m](out.embeddings[m])) for m in TWO], 1)
        torch.testing.assert_close(out.hidden, (out.weights.unsqueeze(-1) * h).sum(1))


def test_moe_top_k_keeps_k_experts_and_mixes_their_predictions():
    net = model("moe", spec(), top_k=2)
    with torch.no_grad():
        out = net(batch(b=6))
    assert ((out.weights > 0).sum(-1) == 2).all()
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(6))
    mix = sum(out.weights[:, i : i + 1] * out.modality_logits[m].softmax(-1) for i, m in enumerate(THREE))
    torch.testing.assert_close(out.probs, mix)


def test_masked_softmax_properties():
    scores = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [5.0, -1.0, 0.0]])
    present = torch.tensor([[True, True, True], [True, False, True], [False, False, False]])
    w = masked_softmax(scores, present)
    torch.testing.assert_close(w[0], scores[0].softmax(-1))
    torch.testing.assert_close(w[1, [0, 2]], scores[1, [0, 2]].softmax(-1))
    assert w[1, 1] == 0 and torch.equal(w[2], torch.zeros(3))
    top1 = masked_softmax(scores, present, top_k=1)
    torch.testing.assert_close(top1[:2], torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))
    assert torch.equal(top1[2], torch.zeros(3))


def test_combine_of_nothing_is_neutral():
    logits = torch.randn(2, 3, 4)
    weights = torch.zeros(2, 3)
    for task in ("classification", "multilabel", "regression"):
        for mode in ("prob", "logit"):
            assert torch.equal(combine_predictions(logits, weights, task, mode), torch.zeros(2, 4))


def test_combine_multilabel_prob_is_mean_of_sigmoids():
    logits = torch.randn(5, 2, 4)
    weights = torch.tensor([[0.3, 0.7]]).expand(5, 2)
    fused = combine_predictions(logits, weights, "multilabel", "prob")
    torch.testing.assert_close(fused.sigmoid(), 0.3 * logits[:, 0].sigmoid() + 0.7 * logits[:, 1].sigmoid())


# -- bilinear pooling -----------------------------------------------------------------------

def test_mfb_two_modalities_is_factorized_bilinear_pooling():
    net = model("bilinear", spec(TWO), factor_k=3, factor_o=4)
    emb = {"text": torch.randn(2, 8), "audio": torch.randn(2, 8)}
    present = {m: torch.ones(2, dtype=torch.bool) for m in TWO}
    with torch.no_grad():
        x = (net.projections["text"](emb["text"]) * net.projections["audio"](emb["audio"])).view(2, 4, 3).sum(-1)
        eps = net.config.power_eps
        x = torch.sqrt(F.relu(x) + eps) - torch.sqrt(F.relu(-x) + eps)
        torch.testing.assert_close(net.pooled(emb, present), F.normalize(x, dim=-1))
        # an absent modality is neutral: the pooling of the present one alone
        present["audio"] = torch.tensor([True, False])
        alone = net.projections["text"](emb["text"][1:]).view(1, 4, 3).sum(-1)
        alone = torch.sqrt(F.relu(alone) + eps) - torch.sqrt(F.relu(-alone) + eps)
        torch.testing.assert_close(net.pooled(emb, present)[1:], F.normalize(alone, dim=-1))
        assert torch.allclose(net.pooled(emb, present).norm(dim=-1), torch.ones(2))
