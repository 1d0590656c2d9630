"""Cross-modal attention maps of the zoo models that have them (MulT).

:func:`attention_maps` asks a fusion model for the attention weights its cross-modal layers give
each target step over the steps of every other modality, with the masks needed to read them
(which steps are padding, which samples lack a modality). Attention weights say where a layer
*looked*, not what the prediction depended on; :func:`~emofuse.explain.shapley_contributions`
answers that question for whole modalities.

A model exposes its maps with a class attribute ``attention_record``, a :class:`contextvars.ContextVar`:
while it holds a dict, the model's forward stores in it ``"target<-source"`` → ``(B, T_q, T_k)`` weights
averaged over heads and layers (:attr:`emofuse.models.fusion.mult.MulT.attention_record`); a context
variable is per thread, so a recording never reaches another thread's forward of a shared model. The
models whose fusion weights are per modality rather than per step (``gated``, ``moe``,
``late_weighted``) report those in ``model(batch).weights`` instead.

Example:
    >>> import torch
    >>> from emofuse.data.spec import Batch, ModalitySpec, Specifications
    >>> from emofuse.models import create_model
    >>> spec = Specifications({"text": ModalitySpec(4, True, 5), "audio": ModalitySpec(3, True, 6)},
    ...                       "classification", 2)
    >>> model = create_model("mult", spec, tiny=True)
    >>> batch = Batch({"text": torch.randn(2, 5, 4), "audio": torch.randn(2, 6, 3)})
    >>> out = attention_maps(model, batch)
    >>> sorted(out["maps"]), out["maps"]["text<-audio"].shape
    (['audio<-text', 'text<-audio'], (2, 5, 6))
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import numpy as np
import torch
from torch import nn

from emofuse.data.spec import Batch
from emofuse.errors import ConfigError

__all__ = ["attention_maps", "models_with_attention"]


def models_with_attention() -> list[str]:
    """Registered fusion models that expose cross-modal attention maps (``["mult"]``)."""
    from emofuse.models import MODELS, list_models

    return [n for n in list_models() if isinstance(getattr(MODELS.get(n), "attention_record", None), ContextVar)]


def _valid_steps(model: nn.Module, batch: Batch) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per modality of the model in ``batch``: ``(B, T)`` valid steps of present samples, ``(B,)`` presence."""
    valid, present = {}, {}
    for m in model.modalities:
        if m not in batch.features:
            continue
        x = batch.features[m]
        t = x.shape[1] if x.dim() == 3 else 1
        pres = batch.mask(m).cpu()
        lens = batch.length(m).cpu().clamp(0, t) * pres
        valid[m] = (torch.arange(t)[None, :] < lens[:, None]).numpy()
        present[m] = pres.numpy()
    return valid, present


def attention_maps(model: nn.Module, batch: Batch) -> dict[str, Any]:
    """Cross-modal attention weights of a fusion model on a batch, as NumPy arrays.

    The model is run once in eval mode (its mode is restored); its outputs are not changed.

    Args:
        model: A zoo fusion model that has attention maps (see :func:`models_with_attention`).
        batch: A :class:`~emofuse.data.spec.Batch` for the model's specifications.

    Returns:
        ``{"model": registry name, "maps": {"target<-source": (B, T_target, T_source) float32},
        "valid": {modality: (B, T) bool}, "present": {modality: (B,) bool}}``. ``maps[pair][b, i]``
        is the weight target step ``i`` gives each source step, averaged over heads and layers;
        it sums to 1 over the source's valid steps (``valid[source][b]``) and is 0 on padded keys.
        ``valid[m][b]`` is False on padding and on every step of a sample whose ``m`` is absent
        (``present[m][b]`` False). Missing modalities: the rows of a sample that lacks the
        target or the source are all 0 (that sample's cross-modal transformer output is zero),
        and a pair whose target or source is absent from the whole batch is not in ``maps``. A
        pooled ``(B, D)`` modality is one step (``T = 1``).

    Raises:
        ConfigError: The model has no attention maps (the message names the models that have).
    """
    var = getattr(type(model), "attention_record", None)
    if not isinstance(var, ContextVar):
        have = models_with_attention()
        name = getattr(model, "registry_name", "") or type(model).__name__
        raise ConfigError(f"model {name!r} has no cross-modal attention maps; models that have them: {have}. "
                          "Per-modality fusion weights (gated, moe, late_weighted) are in model(batch).weights; "
                          "emofuse.explain.shapley_contributions explains any model")
    was_training = model.training
    model.eval()  # dropout would change the steps later layers attend from
    record: dict[str, torch.Tensor] = {}
    token = var.set(record)
    try:
        with torch.no_grad():
            model(batch)
    finally:
        var.reset(token)
        model.train(was_training)
    valid, present = _valid_steps(model, batch)
    maps = {}
    for pair, w in record.items():
        t, s = pair.split("<-")
        # the model computes rows it never reads: padded queries, and samples without the source
        # (they attend to key 0 so that no softmax row is empty); zero them
        keep = valid[t][:, :, None] & valid[s].any(1)[:, None, None]
        maps[pair] = w.detach().float().cpu().numpy() * keep
    return {"model": getattr(model, "registry_name", type(model).__name__), "maps": maps,
            "valid": valid, "present": present}
