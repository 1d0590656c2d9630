"""Cross-modal attention maps: row sums, padding, missing modalities, a known answer, parity with plain maths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emofuse.data.spec import Batch, ModalitySpec, Specifications
from emofuse.errors import ConfigError
from emofuse.explain.attention import attention_maps, models_with_attention
from emofuse.models import create_model, list_models

SPEC = Specifications(
    {"text": ModalitySpec(6, True, 7), "audio": ModalitySpec(3, True, 9), "video": ModalitySpec(4, False)},
    "classification", 3,
)
NO_DROPOUT = {"dropout": 0.0, "attn_dropout": 0.0, "relu_dropout": 0.0, "res_dropout": 0.0, "embed_dropout": 0.0}
PAIRS = {"text<-audio", "text<-video", "audio<-text", "audio<-video", "video<-text", "video<-audio"}


def make_model(**overrides):  # noqa: ANN201
    torch.manual_seed(0)
    return create_model("mult", SPEC, tiny=True, **{**NO_DROPOUT, **overrides}).eval()


def make_batch(b: int = 4, seed: int = 0) -> Batch:
    """Unequal lengths with zero padding; sample 3 lacks audio."""
    g = torch.Generator().manual_seed(seed)
    lt, la = torch.tensor([7, 3, 5, 2][:b]), torch.tensor([4, 9, 1, 6][:b])
    text, audio = torch.randn(b, 7, 6, generator=g), torch.randn(b, 9, 3, generator=g)
    for i in range(b):
        text[i, lt[i]:] = 0
        audio[i, la[i]:] = 0
    present = {"audio": torch.tensor([True, True, True, False][:b])}
    return Batch({"text": text, "audio": audio, "video": torch.randn(b, 4, generator=g)},
                 {"text": lt, "audio": la}, present)


def test_shapes_rows_sum_to_one_over_valid_keys_and_padding_gets_nothing():
    model = make_model(nlevels=2, conv_kernels={"text": 3})
    batch = make_batch()
    out = attention_maps(model, batch)
    assert out["model"] == "mult" and set(out["maps"]) == PAIRS
    sizes = {"text": 7, "audio": 9, "video": 1}
    for pair, w in out["maps"].items():
        t, s = pair.split("<-")
        assert w.shape == (4, sizes[t], sizes[s]) and w.dtype == np.float32
        qv, kv = out["valid"][t], out["valid"][s]
        assert np.all(w >= 0)
        rows = qv & out["present"][s][:, None]  # valid queries of samples that have the source
        np.testing.assert_allclose(w.sum(-1)[rows], 1.0, atol=1e-5)
        np.testing.assert_allclose(w.sum(-1)[~rows], 0.0, atol=1e-7)
        assert np.abs(w * ~kv[:, None, :]).max() < 1e-7  # padded / absent keys get no weight
    # the masks say what the batch says
    np.testing.assert_array_equal(out["valid"]["text"].sum(1), [7, 3, 5, 2])
    np.testing.assert_array_equal(out["valid"]["audio"].sum(1), [4, 9, 1, 0])  # sample 3 lacks audio
    np.testing.assert_array_equal(out["present"]["audio"], [True, True, True, False])


def test_outputs_and_training_mode_are_unchanged():
    model = make_model()
    batch = make_batch()
    with torch.no_grad():
        before = model(batch).logits.clone()
    model.train()
    attention_maps(model, batch)
    assert model.training and type(model).attention_record.get() is None  # recording switched off again
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):  # a forward that fails midway
        attention_maps(model, Batch({"text": torch.randn(2, 7, 5)}))
    assert type(model).attention_record.get() is None
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(batch).logits, before, rtol=0, atol=0)


def test_identical_keys_get_uniform_weights():
    """Every audio step the same vector → same keys → each text step spreads 1/len over them."""
    model = make_model(nlevels=2)  # kernel 1 projections: equal steps give equal keys
    b, la = 3, torch.tensor([9, 4, 1])
    step = torch.randn(b, 1, 3)
    audio = step.expand(b, 9, 3).clone()
    for i in range(b):
        audio[i, la[i]:] = 0
    batch = Batch({"text": torch.randn(b, 7, 6), "audio": audio, "video": torch.randn(b, 4)}, {"audio": la})
    w = attention_maps(model, batch)["maps"]["text<-audio"]
    for i in range(b):
        want = np.zeros(9)
        want[: la[i]] = 1.0 / int(la[i])
        np.testing.assert_allclose(w[i], np.broadcast_to(want, (7, 9)), atol=1e-6)


def test_modality_absent_from_the_whole_batch_drops_its_pairs():
    model = make_model()
    batch = make_batch().drop("audio")
    out = attention_maps(model, batch)
    assert set(out["maps"]) == {"text<-video", "video<-text"}
    assert not out["present"]["audio"].any() and not out["valid"]["audio"].any()
    single = create_model("mult", Specifications({"text": ModalitySpec(6, True, 7)}, "classification", 3),
                          tiny=True).eval()
    assert attention_maps(single, Batch({"text": torch.randn(2, 7, 6)}))["maps"] == {}


def _plain_maps(model, feats):  # noqa: ANN001, ANN202
    """One unpadded sample ``{m: (T, D)}``: every cross-modal layer written out, weights averaged."""
    d, heads = model.config.d_model, model.config.num_heads
    emb = {}
    for m, x in feats.items():
        k = model.kernels[m]
        xt = F.pad(x.T[None], ((k - 1) // 2, k - 1 - (k - 1) // 2))
        emb[m] = F.conv1d(xt, model.proj[m].weight)[0].T * math.sqrt(d)
    out = {}
    for t in model.modalities:
        for s in model.modalities:
            if s == t:
                continue
            h, ws = emb[t], []
            for layer in model.cross[f"{t}_with_{s}"].layers:
                w, b = layer.in_proj_weight, layer.in_proj_bias
                xn, kn = layer.norm_attn(h), layer.norm_attn(emb[s])
                q = (xn @ w[:d].T + b[:d]).view(-1, heads, d // heads).transpose(0, 1)
                k_ = (kn @ w[d: 2 * d].T + b[d: 2 * d]).view(-1, heads, d // heads).transpose(0, 1)
                v = (kn @ w[2 * d:].T + b[2 * d:]).view(-1, heads, d // heads).transpose(0, 1)
                a = (q @ k_.transpose(1, 2) / math.sqrt(d // heads)).softmax(-1)
                ws.append(a.mean(0))
                h = h + layer.out_proj((a @ v).transpose(0, 1).reshape(-1, d))
                h = h + layer.fc2(F.relu(layer.fc1(layer.norm_ffn(h))))
            out[f"{t}<-{s}"] = torch.stack(ws).mean(0)
    return out


def test_maps_match_a_plain_multi_head_reference():
    model = make_model(nlevels=3, conv_kernels={"text": 3, "audio": 2})
    g = torch.Generator().manual_seed(3)
    feats = {"text": torch.randn(7, 6, generator=g), "audio": torch.randn(9, 3, generator=g),
             "video": torch.randn(1, 4, generator=g)}
    batch = Batch({"text": feats["text"][None], "audio": feats["audio"][None], "video": feats["video"]})
    got = attention_maps(model, batch)["maps"]
    with torch.no_grad():
        want = _plain_maps(model, feats)
    assert set(got) == set(want)
    for pair, w in want.items():
        np.testing.assert_allclose(got[pair][0], w.numpy(), rtol=1e-4, atol=1e-6)


def test_batch_of_one_equals_batched():
    model = make_model(nlevels=2, conv_kernels={"text": 3})
    batch = make_batch()
    full = attention_maps(model, batch)["maps"]
    for i in range(4):
        one = batch.select([i])
        t_len, a_len = int(one.lengths["text"][0]), int(one.lengths["audio"][0])
        trimmed = Batch({"text": one.features["text"][:, :t_len], "audio": one.features["audio"][:, :max(a_len, 1)],
                         "video": one.features["video"]}, {"text": one.lengths["text"], "audio": one.lengths["audio"]},
                        dict(one.present))
        alone = attention_maps(model, trimmed)["maps"]
        np.testing.assert_allclose(alone["text<-video"][0], full["text<-video"][i, :t_len], atol=1e-5)
        if bool(one.present["audio"][0]):
            np.testing.assert_allclose(alone["text<-audio"][0], full["text<-audio"][i, :t_len, :a_len], atol=1e-5)


def test_models_without_attention_are_refused_with_the_ones_that_have_it():
    assert models_with_attention() == ["mult"]
    for name in set(list_models()) - {"mult"}:
        torch.manual_seed(0)
        model = create_model(name, SPEC, tiny=True)
        with pytest.raises(ConfigError, match=r"has no cross-modal attention maps; models that have them: \['mult'\]"):
            attention_maps(model, make_batch())
