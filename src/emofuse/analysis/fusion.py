"""Decision-level fusion of the per-modality experts, weighted by reliability.

Each present modality ``m`` brings a calibrated ``ekman7`` distribution ``p_m`` and a
per-segment reliability ``r_m`` in ``[0, 1]`` from its quality signals (speech probability,
ASR word confidence, face detection score / size / sharpness, ...). Its fusion weight is

    ``w_m = prior_m × r_m / Σ_k prior_k × r_k``

where ``prior_m`` is how good the expert is on its own: its validation skill above chance,
read from the expert's own model card (:attr:`emofuse.experts.base.Expert.prior`; e.g. text
0.63 macro-F1 on GoEmotions dev (Ekman view) → 0.48, face 0.60 UAR on FER2013 PublicTest →
0.46, voice 0.73 UAR on held-out speakers but 0.35-0.38 across corpora → 0.35 after shading for
acted speech), unless the analysis config overrides it. The fused
distribution is the weighted **linear pool** ``Σ_m w_m p_m`` (default: robust when one
expert is confidently wrong) or the weighted **log pool** ``∝ Π_m p_m^{w_m}`` (sharper when
the experts agree). Missing modalities simply drop out; with none present there is no fused
prediction.

A trained fusion model from the zoo can replace the rule (:class:`TrainedFusion`) when its
checkpoint was trained on the same inputs: pooled ``(7,)`` expert distributions named
``text``, ``audio``, ``face``, predicting ``ekman7``. :func:`fusion_dataset` builds that
training set from analysed, labelled media.

Example:
    >>> from emofuse.analysis.result import ModalityResult
    >>> mods = {"text": ModalityResult.from_probs([0, 0, 0, 1, 0, 0, 0], reliability=1.0),
    ...         "face": ModalityResult.missing("no face")}
    >>> probs, weights = fuse(mods)
    >>> weights, [round(p, 2) for p in probs]
    ({'text': 1.0}, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.analysis.config import FUSION_METHODS
from emofuse.analysis.result import EKMAN, MODALITY_NAMES, AnalysisResult, ModalityResult
from emofuse.errors import CheckpointError, ConfigError

__all__ = ["FUSION_METHODS", "TrainedFusion", "fuse", "fusion_dataset", "fusion_weights"]

_FLOOR = 1e-3  # a present modality never gets exactly zero weight


def fusion_weights(mods: Mapping[str, ModalityResult], priors: Mapping[str, float] | None = None) -> dict[str, float]:
    """Normalised fusion weights of the present modalities (see the module docstring).

    ``priors=None`` weighs every modality by its reliability alone (equal priors).
    """
    raw = {m: max(float(priors.get(m, 0.0) if priors is not None else 1.0), 0.0) * max(float(r.reliability), _FLOOR)
           for m, r in mods.items() if r.ok}
    total = sum(raw.values())
    if not raw:
        return {}
    if total <= 0:  # all priors zero: fall back to equal weights
        return {m: round(1.0 / len(raw), 4) for m in raw}
    return {m: round(v / total, 4) for m, v in raw.items()}


def fuse(mods: Mapping[str, ModalityResult], priors: Mapping[str, float] | None = None,
         method: str = "linear") -> tuple[list[float] | None, dict[str, float]]:
    """Fuse the present modalities of one segment.

    Args:
        mods: ``{modality: ModalityResult}``.
        priors: Per-modality prior weights (``None``: equal).
        method: ``"linear"`` (weighted mean) or ``"log"`` (weighted geometric mean).

    Returns:
        ``(probs, weights)``: the fused ``(7,)`` distribution as a list in ``EKMAN`` order
        (``None`` when no modality is present) and the weights used.

    Raises:
        ConfigError: Unknown ``method``.
    """
    if method not in FUSION_METHODS:
        raise ConfigError(f"fusion method must be one of {FUSION_METHODS}, got {method!r}")
    weights = fusion_weights(mods, priors)
    if not weights:
        return None, {}
    vecs = np.array([mods[m].vector() for m in weights], dtype=np.float64)
    w = np.array([weights[m] for m in weights], dtype=np.float64)
    w = w / w.sum()
    if method == "linear":
        p = (vecs * w[:, None]).sum(0)
    else:
        logp = (np.log(np.clip(vecs, 1e-6, 1.0)) * w[:, None]).sum(0)
        p = np.exp(logp - logp.max())
    p = p / p.sum()
    return [float(v) for v in p], weights


class TrainedFusion:
    """A zoo fusion model used in place of the rule, on the experts' ``ekman7`` outputs.

    The checkpoint must be a classification model over ``ekman7`` whose modalities are a
    subset of ``text``, ``audio``, ``face``, each pooled with dimension 7 (the expert
    distributions). Missing modalities are passed as absent (zero features, ``present=False``).
    Fusion weights are the model's own per-sample modality weights when it has them, else
    the rule's weights.

    Args:
        checkpoint: Checkpoint directory (``model.safetensors`` + ``model_card.json``).

    Raises:
        CheckpointError: The checkpoint was trained on other inputs.
    """

    def __init__(self, checkpoint: str | Path) -> None:
        from emofuse.models.checkpoint import load_checkpoint

        self.model, self.card = load_checkpoint(checkpoint)
        spec = self.model.spec
        bad = [m for m in spec.modality_names if m not in MODALITY_NAMES]
        dims = {m: (s.dim, s.sequential) for m, s in spec.modalities.items()}
        if (spec.task != "classification" or tuple(spec.classes) != EKMAN or bad
                or any(d != (len(EKMAN), False) for d in dims.values())):
            raise CheckpointError(
                f"{checkpoint}: a fusion model for the pipeline must classify ekman7 from pooled 7-d expert "
                f"distributions named text/audio/face; this one has task={spec.task}, classes={spec.classes}, "
                f"modalities={dims}")
        self.name = str(self.card.get("model", "trained"))

    def __call__(self, mods: Mapping[str, ModalityResult]) -> tuple[list[float] | None, dict[str, float]]:
        """Fuse one segment (same contract as :func:`fuse`)."""
        import torch

        from emofuse.data.spec import Batch

        present = {m: bool(mods.get(m) is not None and mods[m].ok) for m in self.model.spec.modality_names}
        if not any(present.values()):
            return None, {}
        feats = {m: torch.tensor([mods[m].vector() if present[m] else [0.0] * len(EKMAN)], dtype=torch.float32)
                 for m in present}
        batch = Batch(features=feats, lengths={m: torch.ones(1, dtype=torch.long) for m in present},
                      present={m: torch.tensor([present[m]]) for m in present})
        with torch.inference_mode():
            out = self.model(batch)
        probs = [float(v) for v in out.probs[0]]
        weights = fusion_weights({m: mods[m] for m in present if present[m]})
        if out.weights is not None:
            raw = {m: float(out.weights[0, i]) for i, m in enumerate(out.modalities) if present.get(m)}
            total = sum(raw.values())
            if total > 0:
                weights = {m: round(v / total, 4) for m, v in raw.items()}
        return probs, weights


def fusion_dataset(results: Sequence[AnalysisResult], labels: Sequence[Sequence[str | None]]) -> Any:
    """Training data for a :class:`TrainedFusion` model from analysed media and segment labels.

    Each segment becomes one sample: per modality its 7-d ``ekman7`` distribution (zeros and
    ``present=False`` when missing), the target its label, grouped by source file (so the
    context encoder and speaker-/file-independent splits work). Segments labelled ``None``
    are skipped.

    Args:
        results: Analysis results (e.g. ``emofuse.analyze(...)`` over a labelled corpus).
        labels: Per result, one ``ekman7`` class name (or ``None``) per segment.

    Returns:
        A :class:`~emofuse.data.dataset.FeatureDataset` (``.save(dir)`` writes the safe format);
        train any zoo model on it with ``emofuse train`` and pass the checkpoint as
        ``fusion_model``.

    Raises:
        DataError: Label counts that do not match the segments, unknown class names, or no
            labelled segment at all.
    """
    from emofuse.data.dataset import FeatureDataset
    from emofuse.errors import DataError

    if len(results) != len(labels):
        raise DataError(f"fusion_dataset: {len(results)} results but {len(labels)} label lists")
    feats: dict[str, list[list[float]]] = {m: [] for m in MODALITY_NAMES}
    present: dict[str, list[bool]] = {m: [] for m in MODALITY_NAMES}
    targets, ids, groups = [], [], []
    for res, labs in zip(results, labels, strict=True):
        if len(labs) != len(res.segments):
            raise DataError(f"{res.source}: {len(res.segments)} segments but {len(labs)} labels")
        for seg, lab in zip(res.segments, labs, strict=True):
            if lab is None:
                continue
            if lab not in EKMAN:
                raise DataError(f"{res.source}: unknown label {lab!r}; expected one of {list(EKMAN)}")
            for m in MODALITY_NAMES:
                r = seg.modalities.get(m)
                ok = r is not None and r.ok
                feats[m].append(r.vector() if ok else [0.0] * len(EKMAN))
                present[m].append(ok)
            targets.append(EKMAN.index(lab))
            ids.append(f"{res.source}#{seg.index}")
            groups.append(res.source)
    if not targets:
        raise DataError("fusion_dataset: no labelled segment")
    return FeatureDataset(
        {m: np.asarray(v, np.float32) for m, v in feats.items()}, np.asarray(targets, np.int64),
        present={m: np.asarray(v, bool) for m, v in present.items()}, ids=ids, groups={"source": groups},
        label_space="ekman7")
