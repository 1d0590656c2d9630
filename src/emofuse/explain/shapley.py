"""Exact Shapley values of the modalities of a zoo fusion model, computed batched.

For one sample with present modalities ``P`` (``n = |P|``), every subset ``S ⊆ P`` is a
coalition: the sample with only ``S`` present, through the presence masks of its
:class:`~emofuse.data.spec.Batch` (the others marked absent, which every zoo model already
handles: their features are ignored whatever they hold). The value of a coalition ``v(S)`` is
the model's output vector — the class probabilities (classification: softmax; multilabel:
sigmoid) or the predicted values (regression), i.e. :attr:`~emofuse.models.base.ModelOutput.probs`.
The contribution of modality ``m`` is

    ``φ_m = Σ_{S ⊆ P∖{m}} |S|! (n − |S| − 1)! / n! · [v(S ∪ {m}) − v(S)]``

per output, so that ``Σ_m φ_m = v(P) − v(∅)`` exactly (efficiency).

**The empty coalition** ``v(∅)`` is the model's own output with every presence mask ``False``:
what the zoo does for a sample with no modality at all, which every registered model runs on
(``tests/test_models_contract.py`` checks an all-absent row), so no substitute is needed:

* ``early_concat``, ``tfn``, ``lmf``, ``bilinear``, ``gated``, ``mult``: zero embeddings (and zero
  presence flags / neutral product elements / zero gates) go through the fusion layers, and
  ``v(∅)`` is what the head makes of that — the model's output bias, learnt in training;
* ``late_average``, ``late_weighted``, ``moe``: all fusion weights are zero and the combined
  prediction is the neutral one (uniform distribution, probability 0.5, value 0);
* ``late_stacking``: the stacker reads zero expert outputs with zero presence, its own bias.

A context model (``context=True``) reads the other utterances of a sample's group: each
coalition is evaluated on a copy of the whole group in which only the explained sample's masks
change, so ``v(P)`` is exactly the model's prediction in context.

All ``2^n`` coalitions of all samples are stacked into one batch (cut into chunks of at most
``max_rows`` rows, never splitting a group copy) — one or a few forward passes.

Example:
    >>> import torch
    >>> from emofuse.data.spec import Batch, ModalitySpec, Specifications
    >>> from emofuse.models import create_model
    >>> spec = Specifications({"text": ModalitySpec(4), "audio": ModalitySpec(3)}, "classification", 2)
    >>> model = create_model("early_concat", spec, hidden=8)
    >>> batch = Batch({"text": torch.randn(3, 4), "audio": torch.randn(3, 3)})
    >>> c = shapley_contributions(model, batch)
    >>> c.values.shape, bool(abs(c.values.sum(1) - (c.full - c.base)).max() < 1e-6)
    ((3, 2, 2), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from emofuse.data.spec import Batch
from emofuse.errors import DataError
from emofuse.evaluate.predict import check_compatible

__all__ = ["Contributions", "explain_dataset", "shapley_contributions", "shapley_matrix"]

#: Reason given for a modality a sample does not have.
ABSENT_REASON = "absent in this sample"


@lru_cache(maxsize=16)
def shapley_matrix(n: int) -> np.ndarray:
    """``(n, 2^n)`` float64 weights ``W`` with ``φ = W @ v`` for coalition values ``v`` ``(2^n, ...)``.

    Coalition ``k`` holds player ``j`` when bit ``j`` of ``k`` is set (``0``: the empty set,
    ``2^n − 1``: everyone). Each row sums to 0 and the rows add up to ``e_full − e_empty``, so
    ``Σ_j φ_j = v(full) − v(∅)``.
    """
    if n < 0:
        raise DataError(f"shapley_matrix: n must be >= 0, got {n}")
    w = np.zeros((n, 2 ** n), dtype=np.float64)
    fact = [math.factorial(k) for k in range(n + 1)]
    for k in range(2 ** n):
        s = bin(k).count("1")
        for j in range(n):
            if k >> j & 1:
                continue
            c = fact[s] * fact[n - s - 1] / fact[n]
            w[j, k | 1 << j] += c
            w[j, k] -= c
    w.setflags(write=False)
    return w


@dataclass
class Contributions:
    """Shapley contributions of each modality to each output, for ``N`` samples.

    Attributes:
        modalities: The model's modality names (spec order, ``M``).
        classes: Output names (``C``): the class names, or ``value``/``value_k`` for regression.
        task: ``classification``, ``multilabel`` or ``regression``.
        ids: Sample ids (``N``; may be empty).
        present: ``(N, M)`` bool: the modalities each sample has (the players).
        values: ``(N, M, C)`` float64 ``φ``; exactly 0 for absent modalities.
        base: ``(N, C)`` ``v(∅)``: the output with no modality present.
        full: ``(N, C)`` ``v(P)``: the output with every present modality (the model's prediction).
        alone: ``(N, M, C)`` ``v({m})``: the output with modality ``m`` alone (NaN where absent).
        predicted: ``(N,)`` index of the explained output: the predicted class (argmax of
            ``full``) for classification and multilabel, 0 for regression.
    """

    modalities: tuple[str, ...]
    classes: tuple[str, ...]
    task: str
    present: np.ndarray
    values: np.ndarray
    base: np.ndarray
    full: np.ndarray
    alone: np.ndarray
    predicted: np.ndarray
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def predicted_values(self) -> np.ndarray:
        """``(N, M)`` contributions to the explained (predicted) output of each sample."""
        return self.values[np.arange(len(self)), :, self.predicted]

    def sample(self, i: int, missing: dict[str, str] | None = None) -> dict[str, Any]:
        """Sample ``i`` as an explanation dict (the format :func:`emofuse.explain.rationale` reads).

        Keys: ``method`` (``"shapley"``), ``task``, ``target`` (the explained output's name),
        ``classes``, ``base``/``full`` (``{output: value}``), ``modalities`` (per present modality:
        ``label`` — its own top output when alone, ``None`` for regression — ``contribution`` to
        the target and ``contributions`` to every output) and ``missing`` (``{modality: reason}``;
        ``missing`` overrides the default reason per modality). Numbers are rounded to 6 decimals.
        """
        t = int(self.predicted[i])
        r6 = lambda x: round(float(x), 6)  # noqa: E731
        mods = {}
        for j, m in enumerate(self.modalities):
            if not self.present[i, j]:
                continue
            own = None if self.task == "regression" else self.classes[int(np.argmax(self.alone[i, j]))]
            mods[m] = {"label": own, "contribution": r6(self.values[i, j, t]),
                       "contributions": {c: r6(v) for c, v in zip(self.classes, self.values[i, j], strict=True)}}
        gone = {m: (missing or {}).get(m, ABSENT_REASON) for j, m in enumerate(self.modalities)
                if not self.present[i, j]}
        return {"method": "shapley", "task": self.task, "target": self.classes[t], "classes": list(self.classes),
                "base": {c: r6(v) for c, v in zip(self.classes, self.base[i], strict=True)},
                "full": {c: r6(v) for c, v in zip(self.classes, self.full[i], strict=True)},
                "modalities": mods, "missing": gone}


def _output_names(model: nn.Module) -> tuple[str, ...]:
    spec = model.spec
    if spec.classes and len(spec.classes) == spec.num_outputs:
        return tuple(spec.classes)
    if spec.task == "regression":
        return ("value",) if spec.num_outputs == 1 else tuple(f"value_{k}" for k in range(spec.num_outputs))
    return tuple(f"class_{k}" for k in range(spec.num_outputs))


def _gather(batch: Batch, rows: list[int], masks: list[dict[str, bool] | None], groups: list[int]) -> Batch:
    """Rows ``rows`` of ``batch`` with presence overridden where ``masks`` says so and new group ids."""
    idx = torch.as_tensor(rows, dtype=torch.long)
    sub = batch.select(idx)
    present = {}
    for m in sub.features:
        p = batch.mask(m)[idx].clone()
        for r, over in enumerate(masks):
            if over is not None:
                p[r] = bool(over[m]) and bool(p[r])
        present[m] = p
    sub.present = present
    sub.groups = torch.as_tensor(groups, dtype=torch.long)
    if sub.positions is None:
        sub.positions = torch.zeros(len(rows), dtype=torch.long)
    return sub


@torch.inference_mode()
def shapley_contributions(model: nn.Module, batch: Batch, *, indices: list[int] | None = None,
                          max_rows: int = 4096) -> Contributions:
    """Exact Shapley contributions of the present modalities of samples of ``batch`` (see the module docstring).

    Args:
        model: A zoo model (:class:`~emofuse.models.base.FusionModel`, or any module with its
            ``spec`` and ``forward(batch) -> ModelOutput``); run in eval mode (its mode is restored).
        batch: The samples (and, for a context model, the rest of their groups).
        indices: Rows of ``batch`` to explain (default: all).
        max_rows: Largest number of rows in one forward pass.

    Returns:
        :class:`Contributions` of the explained rows, in ``indices`` order.
    """
    names = tuple(model.spec.modality_names)
    rows_i = list(range(batch.size)) if indices is None else [int(i) for i in indices]
    present = torch.stack([batch.mask(m).bool().cpu() for m in names], 1).numpy()
    context = getattr(model, "context_encoder", None) is not None
    group_of = batch.groups.cpu().numpy() if (context and batch.groups is not None) else None
    # one unit per (sample, coalition): its rows (the sample, or its whole group) and where the sample sits
    units: list[tuple[list[int], list[dict[str, bool] | None], int]] = []
    for i in rows_i:
        on = [j for j in range(len(names)) if present[i, j]]
        members = [i] if group_of is None else [int(k) for k in np.nonzero(group_of == group_of[i])[0]]
        for k in range(2 ** len(on)):
            mask = {m: False for m in names}
            mask.update({names[on[b]]: bool(k >> b & 1) for b in range(len(on))})
            units.append((members, [mask if r == i else None for r in members], members.index(i)))
    outs: list[np.ndarray] = []
    was_training = model.training
    model.eval()
    try:
        start = 0
        while start < len(units):
            chunk, n_rows = [], 0
            while start < len(units) and (not chunk or n_rows + len(units[start][0]) <= max_rows):
                chunk.append(units[start])
                n_rows += len(units[start][0])
                start += 1
            rows, masks, groups, where, off = [], [], [], [], 0
            for g, (members, over, at) in enumerate(chunk):
                rows += members
                masks += over
                groups += [g] * len(members)
                where.append(off + at)
                off += len(members)
            out = model(_gather(batch, rows, masks, groups))
            outs.append(out.probs.double().cpu().numpy()[where])
    finally:
        model.train(was_training)
    v_all = np.concatenate(outs, 0) if outs else np.zeros((0, model.spec.num_outputs))
    n_s, m_n, c_n = len(rows_i), len(names), v_all.shape[1] if v_all.ndim == 2 else model.spec.num_outputs
    values = np.zeros((n_s, m_n, c_n))
    base, full = np.zeros((n_s, c_n)), np.zeros((n_s, c_n))
    alone = np.full((n_s, m_n, c_n), np.nan)
    off = 0
    for s, i in enumerate(rows_i):
        on = [j for j in range(m_n) if present[i, j]]
        v = v_all[off: off + 2 ** len(on)]
        off += 2 ** len(on)
        if on:
            values[s, on] = shapley_matrix(len(on)) @ v
        for b, j in enumerate(on):
            alone[s, j] = v[1 << b]
        base[s], full[s] = v[0], v[-1]
    task = model.spec.task
    predicted = (np.zeros(n_s, dtype=np.int64) if task == "regression"
                 else full.argmax(1).astype(np.int64))
    ids = [batch.ids[i] for i in rows_i] if batch.ids else []
    return Contributions(modalities=names, classes=_output_names(model), task=task, present=present[rows_i],
                         values=values, base=base, full=full, alone=alone, predicted=predicted, ids=ids)


def explain_dataset(model: nn.Module, dataset: Any, indices: list[int], *, max_rows: int = 4096) -> Contributions:
    """Contributions of rows ``indices`` of a :class:`~emofuse.data.dataset.FeatureDataset`.

    The dataset is checked against the model (:func:`~emofuse.evaluate.predict.check_compatible`:
    modality dims, task, classes); modalities the model does not read are left out. For
    a context model the samples' whole groups are read, so contributions explain the
    prediction in context.

    Raises:
        DataError: An index out of range, or data that do not fit the model.
    """
    n = len(dataset)
    bad = [i for i in indices if not -n <= i < n]
    if bad:
        raise DataError(f"index {bad[0]} out of range: the dataset has {n} samples (0..{n - 1})")
    idx = [i % n for i in indices]
    check_compatible(model, dataset)
    ds = dataset
    if set(ds.features) - set(model.spec.modalities):
        ds = ds.select_modalities([m for m in ds.features if m in model.spec.modalities])
    rows = list(idx)
    if getattr(model, "context_encoder", None) is not None:
        codes = ds.group_codes()
        rows = sorted({int(k) for i in idx for k in np.nonzero(codes == codes[i])[0]})
    batch = ds.batch(rows)
    return shapley_contributions(model, batch, indices=[rows.index(i) for i in idx], max_rows=max_rows)

