"""MulT-specific tests: masking, padding exactness, missing modalities, parity with a plain reference."""

from __future__ import annotations

import copy
import importlib.util
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from emofuse.data.spec import Batch, ModalitySpec, Specifications
from emofuse.errors import ConfigError
from emofuse.models import create_model

SPEC = Specifications(
    {"text": ModalitySpec(6, True, 7), "audio": ModalitySpec(3, True, 9), "video": ModalitySpec(4, False)},
    "classification", 3,
)
TINY = {"dropout": 0.0, "attn_dropout": 0.0, "relu_dropout": 0.0, "res_dropout": 0.0, "embed_dropout": 0.0}


def make_model(**overrides):
    torch.manual_seed(0)
    kw = {"conv_kernels": {"text": 3, "audio": 2}, **TINY, **overrides}
    return create_model("mult", SPEC, tiny=True, **kw).eval()


def make_batch(b: int = 3, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    lt = torch.tensor([7, 3, 5, 1, 6][:b])
    la = torch.tensor([4, 9, 2, 9, 5][:b])
    text = torch.randn(b, 7, 6, generator=g)
    audio = torch.randn(b, 9, 3, generator=g)
    for i in range(b):  # zero padding, as the batch contract says
        text[i, lt[i]:] = 0
        audio[i, la[i]:] = 0
    video = torch.randn(b, 4, generator=g)
    return Batch({"text": text, "audio": audio, "video": video}, {"text": lt, "audio": la})


def trim(batch: Batch, i: int) -> Batch:
    """Sample ``i`` alone, without any padding."""
    one = batch.select([i])
    feats = {}
    for m, x in one.features.items():
        if x.dim() == 3:
            x = x[:, : int(one.lengths[m][0])]
        feats[m] = x
    return Batch(feats, {m: v for m, v in one.lengths.items()}, dict(one.present))


def test_shapes_and_embeddings():
    model = make_model()
    out = model(make_batch())
    assert out.logits.shape == (3, 3)
    assert out.hidden.shape == (3, model.out_dim) == (3, 8)
    assert set(out.embeddings) == {"text", "audio", "video"}
    assert all(e.shape == (3, 2 * 8) for e in out.embeddings.values())
    assert type(model).uses_sequences


def test_hidden_equal_to_fused_size_keeps_mmsa_layout():
    model = make_model(hidden=48)  # 3 targets x 2 sources x d_model 8
    assert isinstance(model.out_proj, torch.nn.Identity)
    assert model(make_batch()).hidden.shape == (3, 48)


@pytest.mark.parametrize("attn_mask", [False, True])
@pytest.mark.parametrize("pool", ["last", "mean"])
def test_batch_of_one_equals_batched_with_unequal_lengths(attn_mask, pool):
    model = make_model(attn_mask=attn_mask, pool=pool)
    batch = make_batch(5)
    with torch.no_grad():
        full = model(batch).logits
        for i in range(5):
            torch.testing.assert_close(model(trim(batch, i)).logits, full[i: i + 1], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(model(batch.select([i])).logits, full[i: i + 1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attn_mask", [False, True])
def test_padding_values_are_ignored(attn_mask):
    model = make_model(attn_mask=attn_mask)
    batch = make_batch(4)
    noisy = Batch({m: x.clone() for m, x in batch.features.items()}, dict(batch.lengths))
    for m in ("text", "audio"):
        for i, n in enumerate(batch.lengths[m].tolist()):
            noisy.features[m][i, n:] = 1e3 * torch.randn_like(noisy.features[m][i, n:])
    with torch.no_grad():
        torch.testing.assert_close(model(noisy).logits, model(batch).logits, rtol=1e-5, atol=1e-6)


def test_absent_modality_values_are_ignored_and_give_zero_embedding():
    model = make_model()
    batch = make_batch(3)
    batch.present = {"audio": torch.tensor([True, False, True])}
    other = Batch({m: x.clone() for m, x in batch.features.items()}, dict(batch.lengths), dict(batch.present))
    other.features["audio"][1] = 50.0
    with torch.no_grad():
        a, b = model(batch), model(other)
    torch.testing.assert_close(a.logits, b.logits)
    assert torch.all(a.embeddings["audio"][1] == 0)
    # the sample without audio equals the same sample with audio missing from the batch
    with torch.no_grad():
        alone = model(Batch({m: x[1:2] for m, x in batch.features.items() if m != "audio"},
                            {"text": batch.lengths["text"][1:2]}))
    torch.testing.assert_close(alone.logits, a.logits[1:2], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attn_mask", [False, True])
@pytest.mark.parametrize("pool", ["last", "mean"])
def test_no_nan_when_every_key_of_a_sample_is_masked(attn_mask, pool):
    model = make_model(attn_mask=attn_mask, pool=pool).train()
    batch = make_batch(4)
    batch.present = {
        "text": torch.tensor([False, True, False, True]),
        "audio": torch.tensor([False, False, True, True]),
        "video": torch.tensor([False, True, True, False]),
    }
    batch.lengths["text"] = torch.tensor([0, 3, 5, 0])  # a present modality with no valid step
    out = model(batch)
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.hidden).all()
    # a sample with nothing present: every target block is zero
    torch.testing.assert_close(out.hidden[0], model.out_proj(model.proj2(F.relu(model.proj1(torch.zeros(48))))))
    out.logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_modalities_absent_from_whole_batch_and_single_modality():
    model = make_model()
    with torch.no_grad():
        out = model(Batch({"video": torch.randn(2, 4)}))
    assert out.logits.shape == (2, 3) and torch.isfinite(out.logits).all()
    single = create_model("mult", Specifications({"audio": ModalitySpec(3, True, 5)}, "regression", 1), tiny=True)
    res = single(Batch({"audio": torch.randn(2, 5, 3)}, {"audio": torch.tensor([5, 2])}))
    assert res.logits.shape == (2, 1) and torch.isfinite(res.logits).all()


def test_gradient_reaches_every_parameter():
    model = make_model(attn_mask=True).train()
    model(make_batch(3)).logits.pow(2).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing


def test_cached_kv_weights_follow_parameter_updates():
    model = make_model()
    batch = make_batch(2)
    with torch.inference_mode():
        before = model(batch).logits
    with torch.no_grad():  # an in-place update, like an optimiser step or load_state_dict
        model.cross["audio_with_text"].layers[0].norm_attn.weight.mul_(3.0)
    with torch.inference_mode():
        cached = model(batch).logits
    fresh = model(batch).logits.detach()  # grad enabled: no cache
    assert not torch.allclose(before, cached)
    torch.testing.assert_close(cached, fresh)
    clone = copy.deepcopy(model)  # the cache holds inference tensors; copying must still work
    torch.testing.assert_close(clone(batch).logits.detach(), fresh)


def test_config_validation():
    with pytest.raises(ConfigError, match="multiple of num_heads"):
        create_model("mult", SPEC, d_model=10, num_heads=3)
    with pytest.raises(ConfigError, match="spec lacks"):
        create_model("mult", SPEC, conv_kernels={"face": 3})
    with pytest.raises(ConfigError, match="pool"):
        create_model("mult", SPEC, pool="max")


# -- parity with a plain, MMSA-style implementation ----------------------------------------
def _plain_layer(layer, x, src=None, mask=None):
    d, heads = layer.dim, layer.heads
    w, b = layer.in_proj_weight, layer.in_proj_bias
    xn = layer.norm_attn(x)
    kn = xn if src is None else layer.norm_attn(src)  # MMSA normalises keys with the query's norm
    q = (xn @ w[:d].T + b[:d]).view(-1, heads, d // heads).transpose(0, 1)
    k = (kn @ w[d: 2 * d].T + b[d: 2 * d]).view(-1, heads, d // heads).transpose(0, 1)
    v = (kn @ w[2 * d:].T + b[2 * d:]).view(-1, heads, d // heads).transpose(0, 1)
    scores = q @ k.transpose(1, 2) / math.sqrt(d // heads)
    if mask is not None:
        scores = scores + mask
    att = (scores.softmax(-1) @ v).transpose(0, 1).reshape(-1, d)
    x = x + layer.out_proj(att)
    return x + layer.fc2(F.relu(layer.fc1(layer.norm_ffn(x))))


def _future_mask(tq, tk):  # MMSA's buffered_future_mask
    return torch.triu(torch.full((tq, tk), float("-inf")), 1 + abs(tk - tq))


def _plain_forward(model, feats, attn_mask):
    """One unpadded sample ``{m: (T, D)}``, every modality present, MMSA's algorithm step by step."""
    cfg = model.config
    d = cfg.d_model
    emb = {}
    for m, x in feats.items():
        k = model.kernels[m]
        xt = F.pad(x.T[None], ((k - 1) // 2, k - 1 - (k - 1) // 2))
        emb[m] = F.conv1d(xt, model.proj[m].weight)[0].T * math.sqrt(d)
    pooled = []
    for t in model.modalities:
        parts = []
        for s in model.modalities:
            if s == t:
                continue
            net = model.cross[f"{t}_with_{s}"]
            h = emb[t]
            mask = _future_mask(len(emb[t]), len(emb[s])) if attn_mask else None
            for layer in net.layers:
                h = _plain_layer(layer, h, emb[s], mask)
            parts.append(net.norm(h))
        h = torch.cat(parts, -1) * math.sqrt(model.mem_dim)
        mask = _future_mask(len(h), len(h)) if attn_mask else None
        for layer in model.memory[t].layers:
            h = _plain_layer(layer, h, None, mask)
        pooled.append(model.memory[t].norm(h)[-1])
    h = torch.cat(pooled)
    h = h + model.proj2(F.relu(model.proj1(h)))
    return model.head(model.out_proj(h))


@pytest.mark.parametrize("attn_mask", [False, True])
def test_matches_plain_reference(attn_mask):
    model = make_model(attn_mask=attn_mask, nlevels=2, mem_nlevels=2)
    g = torch.Generator().manual_seed(1)
    feats = {"text": torch.randn(7, 6, generator=g), "audio": torch.randn(9, 3, generator=g),
             "video": torch.randn(1, 4, generator=g)}
    batch = Batch({"text": feats["text"][None], "audio": feats["audio"][None], "video": feats["video"]})
    with torch.no_grad():
        want = _plain_forward(model, feats, attn_mask)
        torch.testing.assert_close(model(batch).logits[0], want, rtol=1e-4, atol=1e-5)
        with torch.inference_mode():
            torch.testing.assert_close(model(batch).logits[0], want, rtol=1e-4, atol=1e-5)


BENCH = Path(__file__).resolve().parents[1] / "bench" / "fusion_speed.py"


@pytest.mark.skipif(importlib.util.find_spec("MMSA") is None or not BENCH.is_file(),
                    reason="MMSA (pip install --no-deps mmsa) is optional")
def test_matches_mmsa_mult_with_copied_weights():
    spec_ = importlib.util.spec_from_file_location("fusion_speed", BENCH)
    bench = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(bench)
    mmsa = bench.load_mmsa()
    assert mmsa is not None
    dims = {"text": 12, "audio": 5, "video": 7}
    spec = Specifications({m: ModalitySpec(v, True, 9) for m, v in dims.items()}, "regression", 1)
    args = bench.mmsa_args(mmsa, "mult", feature_dims=list(dims.values()), dst_feature_dim_nheads=[8, 2],
                           nlevels=2, conv1d_kernel_size_l=1, conv1d_kernel_size_a=1, conv1d_kernel_size_v=1,
                           attn_mask=False)
    torch.manual_seed(0)
    theirs = mmsa.models["mult"](args).eval()
    ours = bench.ours_like_mmsa_mult(spec, args)
    bench.copy_mmsa_mult_weights(theirs, ours)
    x = {m: torch.randn(1, t, dims[m]) for m, t in (("text", 6), ("audio", 9), ("video", 4))}
    with torch.no_grad():
        want = theirs(x["text"], x["audio"], x["video"])["M"]
        got = ours(Batch(x)).logits
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
