"""Contract tests parametrized over every registered fusion model (tiny variants).

Every model must: give finite ``(B, C)`` outputs, pass a gradient to every parameter, accept
any subset of modalities (missing keys or per-sample masks), ignore the features of absent
samples, give the same output for a sample alone as in a padded batch, return well-formed
modality weights, survive save → load, and keep context groups independent.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
from torch.nn import functional as F

from emofuse.data.spec import Batch, ModalitySpec, Specifications
from emofuse.errors import ConfigError, DataError, UnknownNameError
from emofuse.models import MODELS, FusionConfig, create_model, list_models, model_config
from emofuse.models.checkpoint import load_checkpoint, save_checkpoint

MODALITIES = {
    "text": ModalitySpec(6),
    "audio": ModalitySpec(5, sequential=True, max_len=7),
    "video": ModalitySpec(4, sequential=True, max_len=9),
}
NAMES = list_models()
NUM_OUTPUTS = {"classification": 3, "regression": 1, "multilabel": 4}
SUBSETS = [s for r in range(1, len(MODALITIES) + 1) for s in itertools.combinations(MODALITIES, r)]


def make_spec(task: str = "classification") -> Specifications:
    return Specifications(MODALITIES, task, NUM_OUTPUTS[task])


def make_model(name: str, task: str = "classification", **overrides):
    torch.manual_seed(0)
    overrides.setdefault("dropout", 0.0)
    return create_model(name, make_spec(task), tiny=True, **overrides)


def make_batch(b: int = 5, seed: int = 0, *, masked: bool = False, task: str = "classification") -> Batch:
    """Random batch; sequences padded with zeros to the batch's longest, lengths 1..max_len.

    With ``masked``, per-sample presence is random, and row 0 has every modality absent while
    rows 1-3 have exactly one modality each.
    """
    g = torch.Generator().manual_seed(seed)
    feats, lens, present = {}, {}, {}
    for name, ms in MODALITIES.items():
        if ms.sequential:
            ln = torch.randint(1, ms.max_len + 1, (b,), generator=g)
            ln[0], ln[-1] = ms.max_len, 1
            x = torch.randn(b, ms.max_len, ms.dim, generator=g)
            x = x * (torch.arange(ms.max_len)[None, :, None] < ln[:, None, None])
            lens[name] = ln
        else:
            x = torch.randn(b, ms.dim, generator=g)
        feats[name] = x
    if masked:
        for j, name in enumerate(MODALITIES):
            p = torch.rand(b, generator=g) < 0.6
            p[0] = False
            for i in (1, 2, 3):
                if i < b:
                    p[i] = (i - 1) == j
            present[name] = p
    c = NUM_OUTPUTS[task]
    if task == "classification":
        targets = torch.randint(0, c, (b,), generator=g)
    elif task == "multilabel":
        targets = (torch.rand(b, c, generator=g) < 0.5).float()
    else:
        targets = torch.randn(b, c, generator=g)
    return Batch(feats, lens, present, targets=targets, ids=[f"s{i}" for i in range(b)])


def presence(batch: Batch) -> torch.Tensor:
    return torch.stack([batch.mask(m) for m in MODALITIES], dim=1)


def only(batch: Batch, keep: tuple[str, ...]) -> Batch:
    """The batch with every modality not in ``keep`` removed from the dicts."""
    return Batch({k: v for k, v in batch.features.items() if k in keep},
                 {k: v for k, v in batch.lengths.items() if k in keep},
                 {k: v for k, v in batch.present.items() if k in keep},
                 batch.targets, batch.groups, batch.positions, list(batch.ids))


def trimmed_row(batch: Batch, i: int) -> Batch:
    """Sample ``i`` alone, its sequences cut to its own length (no padding at all)."""
    one = batch.select([i])
    for m, ln in one.lengths.items():
        one.features[m] = one.features[m][:, : int(ln[0])]
    return one


def assert_finite_output(out, b: int, c: int) -> None:
    assert out.logits.shape == (b, c)
    assert torch.isfinite(out.logits).all()
    assert torch.isfinite(out.hidden).all()
    if out.task == "classification":
        torch.testing.assert_close(out.probs.sum(-1), torch.ones(b))


# -- registry-level checks ------------------------------------------------------------------

def test_zoo_is_registered():
    expected = {"early_concat", "late_average", "late_weighted", "late_stacking", "tfn", "lmf", "gated", "moe",
                "bilinear"}
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_config_is_own_typed_dataclass(name):
    cls = MODELS.get(name)
    assert issubclass(cls.config_class, FusionConfig)
    assert dataclasses.is_dataclass(cls.config_class)
    assert cls.registry_name == name
    assert cls.__doc__ and cls.config_class.__doc__
    cfg = model_config(name, tiny=True)
    assert isinstance(cfg, cls.config_class)


def test_unknown_model_name_suggests_close_match():
    with pytest.raises(UnknownNameError) as info:
        create_model("tnf", make_spec())
    assert "tfn" in info.value.suggestions
    assert "tfn" in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_config_key_raises(name):
    with pytest.raises(ConfigError, match="hiden"):
        create_model(name, make_spec(), tiny=True, hiden=8)
    with pytest.raises(ConfigError):
        create_model(name, make_spec(), tiny=True, hidden="eight")


def test_validate_rejects_wrong_shape_and_nan():
    spec = make_spec()
    batch = make_batch()
    batch.validate(spec)
    bad = make_batch()
    bad.features["audio"] = bad.features["audio"][..., :3]
    with pytest.raises(DataError, match="audio"):
        bad.validate(spec)
    bad = make_batch()
    bad.features["text"] = bad.features["text"].unsqueeze(1)
    with pytest.raises(DataError, match="text"):
        bad.validate(spec)
    bad = make_batch()
    bad.features["video"][1, 0, 0] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        bad.validate(spec)


# -- per-model contract -----------------------------------------------------------------------

@pytest.mark.parametrize("task", list(NUM_OUTPUTS))
@pytest.mark.parametrize("name", NAMES)
def test_output_shapes_and_finite(name, task):
    model = make_model(name, task).eval()
    batch = make_batch(task=task)
    with torch.no_grad():
        out = model(batch)
    b, c = batch.size, NUM_OUTPUTS[task]
    assert_finite_output(out, b, c)
    assert out.task == task
    assert out.hidden.shape == (b, model.out_dim)
    assert out.modalities == tuple(MODALITIES)
    for m, lg in out.modality_logits.items():
        assert m in MODALITIES
        assert lg.shape == (b, c) and torch.isfinite(lg).all()
    for m, e in out.embeddings.items():
        assert m in MODALITIES
        assert e.shape[0] == b and torch.isfinite(e).all()


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_gets_a_gradient(name, task):
    model = make_model(name, task).train()
    batch = make_batch(task=task)
    out = model(batch)
    if task == "classification":
        loss = F.cross_entropy(out.logits, batch.targets)
    else:
        loss = F.mse_loss(out.logits, batch.targets)
    loss.backward()
    # every modality is present on every row of this batch, so every parameter takes part:
    # a parameter with no (or an all-zero) gradient is dead weight, not a feature
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    bad = [n for n, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad}"
    zero = [n for n, p in model.named_parameters() if not p.grad.abs().sum() > 0]
    assert not zero, f"zero gradient for {zero}"


@pytest.mark.parametrize("name", NAMES)
def test_context_model_gradients_reach_every_parameter(name):
    """With a context encoder every model (those predicting their own logits too) uses the head."""
    model = make_model(name, context=True).train()
    batch = make_batch(6, seed=2)
    batch.groups = torch.tensor([0, 0, 1, 1, 1, 2])
    batch.positions = torch.tensor([0, 1, 0, 1, 2, 0])
    F.cross_entropy(model(batch).logits, batch.targets).backward()
    zero = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not zero, f"no or zero gradient for {zero}"


@pytest.mark.parametrize("name", NAMES)
def test_any_subset_of_modalities(name):
    model = make_model(name).eval()
    batch = make_batch()
    with torch.no_grad():
        for keep in SUBSETS:
            dropped = [m for m in MODALITIES if m not in keep]
            out_keys = model(only(batch, keep))
            out_mask = model(batch.drop(*dropped))
            assert_finite_output(out_keys, batch.size, 3)
            assert_finite_output(out_mask, batch.size, 3)
            # a modality missing from the dict is the same as one masked for every sample
            torch.testing.assert_close(out_keys.logits, out_mask.logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", NAMES)
def test_everything_absent_is_finite(name, task):
    model = make_model(name, task).eval()
    batch = make_batch(task=task)
    c = NUM_OUTPUTS[task]
    with torch.no_grad():
        assert_finite_output(model(batch.drop(*MODALITIES)), batch.size, c)
    # and it trains without NaN gradients
    model.train()
    out = model(batch.drop(*MODALITIES))
    out.logits.square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", NAMES)
def test_batch_without_any_features(name):
    # a Batch whose features dict is empty is valid (every modality absent; B from targets)
    model = make_model(name).eval()
    batch = only(make_batch(), ())
    with torch.no_grad():
        assert_finite_output(model(batch), batch.size, 3)


@pytest.mark.parametrize("name", NAMES)
def test_absent_samples_features_are_ignored(name):
    model = make_model(name).eval()
    batch = make_batch(masked=True)
    noisy = make_batch(masked=True)
    for m, x in noisy.features.items():
        absent = ~noisy.present[m]
        x[absent] = float("nan")
    with torch.no_grad():
        ref, out = model(batch), model(noisy)
    torch.testing.assert_close(out.logits, ref.logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("name", NAMES)
def test_batch_of_one_equals_batched(name, task):
    model = make_model(name, task).eval()
    for batch in (make_batch(6, seed=1, task=task), make_batch(6, seed=2, masked=True, task=task)):
        with torch.no_grad():
            full = model(batch)
            for i in range(batch.size):
                one = model(trimmed_row(batch, i))
                torch.testing.assert_close(one.logits, full.logits[i : i + 1], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(one.hidden, full.hidden[i : i + 1], atol=1e-5, rtol=1e-5)
                if full.weights is not None:
                    torch.testing.assert_close(one.weights, full.weights[i : i + 1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_weights_are_distributions_over_present_modalities(name):
    model = make_model(name).eval()
    batch = make_batch(8, seed=3, masked=True)
    with torch.no_grad():
        out = model(batch)
    if out.weights is None:
        pytest.skip(f"{name} has no modality weights")
    w, pm = out.weights, presence(batch)
    assert w.shape == (batch.size, len(MODALITIES))
    assert torch.isfinite(w).all() and (w >= 0).all()
    assert (w[~pm] == 0).all()
    anyp = pm.any(-1)
    torch.testing.assert_close(w[anyp].sum(-1), torch.ones(int(anyp.sum())))
    # rows with exactly one present modality put all weight on it
    single = pm.sum(-1) == 1
    torch.testing.assert_close(w[single], pm[single].float())


@pytest.mark.parametrize("name", NAMES)
def test_save_load_gives_identical_outputs(name, tmp_path):
    model = make_model(name, dropout=0.1).eval()
    batch = make_batch(masked=True)
    with torch.no_grad():
        ref = model(batch)
    save_checkpoint(model, tmp_path / name, note="contract test")
    loaded, card = load_checkpoint(tmp_path / name)
    assert card["model"] == name and card["note"] == "contract test"
    assert type(loaded) is type(model)
    assert not loaded.training
    with torch.no_grad():
        out = loaded(batch)
    torch.testing.assert_close(out.logits, ref.logits, atol=0, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_context_groups_are_independent(name):
    model = make_model(name, context=True).eval()
    assert model.context_encoder is not None
    batch = make_batch(7, seed=4, masked=True)
    batch.groups = torch.tensor([2, 0, 2, 0, 1, 2, 0])
    batch.positions = torch.tensor([1, 2, 0, 0, 0, 2, 1])
    with torch.no_grad():
        full = model(batch)
        assert_finite_output(full, batch.size, 3)
        for g in (0, 1, 2):
            idx = torch.nonzero(batch.groups == g).flatten()
            alone = model(batch.select(idx))
            torch.testing.assert_close(alone.logits, full.logits[idx], atol=1e-5, rtol=1e-5)
        # the order of the rows in the batch does not matter either
        perm = torch.tensor([6, 5, 4, 3, 2, 1, 0])
        shuffled = model(batch.select(perm))
        torch.testing.assert_close(shuffled.logits, full.logits[perm], atol=1e-5, rtol=1e-5)
    # and the context encoder trains
    model.train()
    model(batch).logits.square().mean().backward()
    assert all(p.grad is not None for p in model.context_encoder.parameters())
