"""bc-LSTM specifics beyond the registry contract: context inside a group, none without it, level-1 heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from emofuse.data.spec import Batch, ModalitySpec, Specifications
from emofuse.errors import ConfigError
from emofuse.models import create_model
from emofuse.models.fusion.bclstm import run_over_groups
from emofuse.train import TrainConfig, Trainer

SPEC = Specifications({"text": ModalitySpec(6), "audio": ModalitySpec(5)}, "classification", 2)


def _batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch({"text": torch.randn(5, 6, generator=g), "audio": torch.randn(5, 5, generator=g)},
                 groups=torch.tensor([0, 0, 0, 1, 1]), positions=torch.tensor([2, 0, 1, 1, 0]),
                 ids=[f"u{i}" for i in range(5)])


def test_run_over_groups_equals_one_lstm_call_per_group_in_order():
    torch.manual_seed(0)
    rnn = nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(5, 3)
    groups, positions = torch.tensor([1, 0, 1, 0, 1]), torch.tensor([2, 1, 0, 0, 1])
    out = run_over_groups(rnn, x, groups, positions)
    assert out.shape == (5, 8)
    for g in (0, 1):
        idx = torch.nonzero(groups == g).flatten()
        idx = idx[torch.argsort(positions[idx])]
        ref, _ = rnn(x[idx].unsqueeze(0))
        torch.testing.assert_close(out[idx], ref[0])


def test_an_utterance_reads_its_neighbours_in_the_same_video_only():
    model = create_model("bc_lstm", SPEC, hidden=8, dropout=0.0, context=True).eval()
    batch = _batch()
    changed = _batch()
    changed.features["text"][1] = torch.randn(6, generator=torch.Generator().manual_seed(9))  # utterance 1 of video 0
    with torch.no_grad():
        a, b = model(batch).logits, model(changed).logits
    assert not torch.allclose(a[[0, 2]], b[[0, 2]])  # its neighbours in video 0 change
    torch.testing.assert_close(a[3:], b[3:])  # video 1 does not


def test_without_context_there_is_no_lstm_and_utterances_are_independent():
    model = create_model("bc_lstm", SPEC, hidden=8, dropout=0.0).eval()
    assert model.context_encoder is None and model.unimodal is None
    assert not any(isinstance(m, nn.LSTM) for m in model.modules())
    batch, changed = _batch(), _batch()
    changed.features["text"][1] = torch.randn(6, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        a, b = model(batch).logits, model(changed).logits
    keep = [0, 2, 3, 4]
    torch.testing.assert_close(a[keep], b[keep])


def test_unimodal_heads_classify_each_contextual_feature_and_feed_the_aux_loss():
    model = create_model("bc_lstm", SPEC, hidden=8, dropout=0.0, context=True, unimodal_heads=True).eval()
    batch = _batch()
    batch.targets = torch.tensor([0, 1, 0, 1, 1])
    out = model(batch)
    assert set(out.modality_logits) == {"text", "audio"}
    assert all(lg.shape == (5, 2) for lg in out.modality_logits.values())
    # the level-1 logits are the heads applied to the contextual unimodal embeddings
    torch.testing.assert_close(out.modality_logits["text"], model.unimodal_heads["text"](out.embeddings["text"]))
    loss_fn = nn.CrossEntropyLoss()
    with_aux = Trainer(TrainConfig(aux_weight=0.5, progress=False)).compute_objective(out, batch, loss_fn)
    without = Trainer(TrainConfig(aux_weight=0.0, progress=False)).compute_objective(out, batch, loss_fn)
    aux = torch.stack([loss_fn(lg, batch.targets) for lg in out.modality_logits.values()]).mean()
    torch.testing.assert_close(with_aux, without + 0.5 * aux)
    with_aux.backward()
    assert model.unimodal_heads["audio"][1].weight.grad.abs().sum() > 0


def test_unimodal_heads_need_context_and_are_off_by_default():
    assert create_model("bc_lstm", SPEC, hidden=8, context=True).unimodal_heads is None
    assert create_model("bc_lstm", SPEC, hidden=8, context=True)(_batch()).modality_logits == {}
    with pytest.raises(ConfigError, match="unimodal_heads needs context"):
        create_model("bc_lstm", SPEC, hidden=8, unimodal_heads=True)
