"""A trained zoo fusion model in place of the rule, over the experts' outputs and their quality.

Each modality enters the model as one pooled vector: its ``(7,)`` ``ekman7`` distribution
(``inputs="probs"``), or that plus two quality signals, the segment's reliability and the
reading's certainty (``inputs="probs+quality"``, 9 values; see :func:`modality_features`).
Missing modalities are passed as absent (zero features, ``present=False``), so any model of the
zoo (late, gated, mixture of experts, ...) handles them through its presence mask.

:func:`fusion_dataset` turns analysed, labelled media into a
:class:`~emofuse.data.dataset.FeatureDataset` to train such a model with the one trainer
(``recipes/analysis_validation/train_fusion.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.analysis.fusion import certainty
from emofuse.analysis.result import EKMAN, MODALITY_NAMES, AnalysisResult, ModalityResult
from emofuse.errors import CheckpointError, DataError

__all__ = ["FUSION_INPUTS", "TrainedFusion", "fusion_dataset", "modality_features"]

#: Input layouts of a trained fuser: name → features per modality.
FUSION_INPUTS = {"probs": len(EKMAN), "probs+quality": len(EKMAN) + 2}


def modality_features(r: ModalityResult | None, inputs: str = "probs+quality") -> list[float]:
    """One modality's input vector: ``(7,)`` probabilities [+ reliability, certainty]; zeros when missing.

    Raises:
        DataError: Unknown ``inputs``.
    """
    if inputs not in FUSION_INPUTS:
        raise DataError(f"fusion inputs must be one of {list(FUSION_INPUTS)}, got {inputs!r}")
    if r is None or not r.ok:
        return [0.0] * FUSION_INPUTS[inputs]
    v = r.vector() or []
    if inputs == "probs":
        return v
    return [*v, float(r.reliability), certainty(v)]


class TrainedFusion:
    """A zoo fusion model used in place of the rule, on the experts' ``ekman7`` outputs.

    The checkpoint must be a classification model over ``ekman7`` whose modalities are a
    subset of ``text``, ``audio``, ``face``, each pooled with one of the :data:`FUSION_INPUTS`
    dimensions. Fusion weights are the model's own per-sample modality weights when it has
    them, else each modality's influence on the fused label (see :meth:`__call__`).

    Args:
        checkpoint: Checkpoint directory (``model.safetensors`` + ``model_card.json``).
        fallback: Fuser used when fewer than two modalities are present (``None``: the model
            fuses whatever is present).

    Raises:
        CheckpointError: The checkpoint was trained on other inputs.
    """

    def __init__(self, checkpoint: str | Path, fallback: Any = None) -> None:
        self.fallback = fallback
        from emofuse.models.checkpoint import load_checkpoint

        self.model, self.card = load_checkpoint(checkpoint)
        spec = self.model.spec
        bad = [m for m in spec.modality_names if m not in MODALITY_NAMES]
        dims = {m: (s.dim, s.sequential) for m, s in spec.modalities.items()}
        layouts = {d: name for name, d in FUSION_INPUTS.items()}
        if (spec.task != "classification" or tuple(spec.classes) != EKMAN or bad or len(set(dims.values())) != 1
                or any(seq or d not in layouts for d, seq in dims.values())):
            raise CheckpointError(
                f"{checkpoint}: a fusion model for the pipeline must classify ekman7 from pooled expert outputs "
                f"named text/audio/face ({FUSION_INPUTS} values each); this one has task={spec.task}, "
                f"classes={spec.classes}, modalities={dims}")
        self.inputs = layouts[next(iter(dims.values()))[0]]
        #: Softmax temperature from the card's ``calibration`` block (1 when it has none).
        self.temperature = float((self.card.get("calibration") or {}).get("temperature", 1.0))
        self.name = str(self.card.get("model", "trained"))

    def _forward(self, mods: Mapping[str, ModalityResult], present: dict[str, bool]) -> tuple[np.ndarray, Any]:
        """``(probs, (own weights or None, their modality order))`` of the model on one segment."""
        import torch

        from emofuse.data.spec import Batch

        feats = {m: torch.tensor([modality_features(mods.get(m) if present[m] else None, self.inputs)],
                                 dtype=torch.float32) for m in present}
        batch = Batch(features=feats, lengths={m: torch.ones(1, dtype=torch.long) for m in present},
                      present={m: torch.tensor([present[m]]) for m in present})
        with torch.inference_mode():
            out = self.model(batch)
        logits = out.logits[0].numpy().astype(np.float64) / self.temperature
        e = np.exp(logits - logits.max())
        return e / e.sum(), (out.weights, out.modalities)

    def __call__(self, mods: Mapping[str, ModalityResult]) -> tuple[list[float] | None, dict[str, float]]:
        """Fuse one segment (same contract as :func:`emofuse.analysis.fusion.fuse`).

        With fewer than two signals present and a ``fallback``, the fallback fuses (a single
        reading is passed through rather than remapped by a model trained on fused media).
        Weights: the model's own per-sample modality weights where it has them, else each
        modality's influence — how much the fused label's probability drops without it.
        A present modality the model was not trained on (``physio``) joins the model's output
        through the fallback rule: the model's output takes the rule's weight of the modalities
        it reads, the others their own rule weight.
        """
        present = {m: bool(mods.get(m) is not None and mods[m].ok) for m in self.model.spec.modality_names}
        extra = [m for m, r in mods.items() if m not in present and r is not None and r.ok]
        if not any(present.values()):
            return self.fallback(mods) if extra and self.fallback is not None else (None, {})
        if self.fallback is not None and sum(present.values()) < 2:
            return self.fallback(mods)
        probs, weights = self._fuse_own(mods, present)
        if extra and self.fallback is not None:  # modalities the model never saw (physio): joined by the rule
            _, rule_w = self.fallback(mods)
            w_in = sum(v for m, v in rule_w.items() if m not in extra)
            mix = w_in * np.asarray(probs) + sum(rule_w[m] * np.asarray(mods[m].vector()) for m in extra)
            probs = [float(v) for v in mix / mix.sum()]
            weights = {**{m: round(v * w_in, 4) for m, v in weights.items()}, **{m: rule_w[m] for m in extra}}
        return probs, weights

    def _fuse_own(self, mods: Mapping[str, ModalityResult], present: dict[str, bool]) -> tuple[list[float], dict]:
        probs, (own, names) = self._forward(mods, present)
        top = int(np.argmax(probs))
        on = [m for m, v in present.items() if v]
        if own is not None:
            raw = {m: float(own[0, i]) for i, m in enumerate(names) if present.get(m)}
        else:  # occlusion: the drop of the fused label's probability when the modality is left out
            raw = {m: max(0.0, probs[top] - self._forward(mods, {**present, m: False})[0][top]) if len(on) > 1
                   else 1.0 for m in on}
        total = sum(raw.values())
        weights = ({m: round(v / total, 4) for m, v in raw.items()} if total > 0
                   else {m: round(1.0 / len(on), 4) for m in on})
        return [float(v) for v in probs], weights


def fusion_dataset(results: Sequence[AnalysisResult], labels: Sequence[Sequence[str | None]],
                   inputs: str = "probs", groups: Mapping[str, Sequence[str]] | None = None) -> Any:
    """Training data for a :class:`TrainedFusion` model from analysed media and segment labels.

    Each segment becomes one sample: per modality its :func:`modality_features` (zeros and
    ``present=False`` when missing), the target its label, grouped by source file (so
    speaker-/file-independent splits work). Segments labelled ``None`` are skipped.

    Args:
        results: Analysis results (e.g. ``emofuse.analyze(...)`` over a labelled corpus).
        labels: Per result, one ``ekman7`` class name (or ``None``) per segment.
        inputs: ``"probs"`` or ``"probs+quality"`` (:data:`FUSION_INPUTS`).
        groups: Extra group columns, one value per *result* (e.g. ``{"speaker": [...]}``).

    Returns:
        A :class:`~emofuse.data.dataset.FeatureDataset` (``.save(dir)`` writes the safe format).

    Raises:
        DataError: Label counts that do not match the segments, unknown class names, or no
            labelled segment at all.
    """
    from emofuse.data.dataset import FeatureDataset

    if len(results) != len(labels):
        raise DataError(f"fusion_dataset: {len(results)} results but {len(labels)} label lists")
    feats: dict[str, list[list[float]]] = {m: [] for m in MODALITY_NAMES}
    present: dict[str, list[bool]] = {m: [] for m in MODALITY_NAMES}
    targets, ids = [], []
    cols: dict[str, list[str]] = {"source": [], **{k: [] for k in (groups or {})}}
    for i, (res, labs) in enumerate(zip(results, labels, strict=True)):
        if len(labs) != len(res.segments):
            raise DataError(f"{res.source}: {len(res.segments)} segments but {len(labs)} labels")
        for seg, lab in zip(res.segments, labs, strict=True):
            if lab is None:
                continue
            if lab not in EKMAN:
                raise DataError(f"{res.source}: unknown label {lab!r}; expected one of {list(EKMAN)}")
            for m in MODALITY_NAMES:
                r = seg.modalities.get(m)
                feats[m].append(modality_features(r, inputs))
                present[m].append(r is not None and r.ok)
            targets.append(EKMAN.index(lab))
            ids.append(f"{res.source}#{seg.index}")
            cols["source"].append(res.source)
            for k, vals in (groups or {}).items():
                cols[k].append(str(vals[i]))
    if not targets:
        raise DataError("fusion_dataset: no labelled segment")
    return FeatureDataset(
        {m: np.asarray(v, np.float32) for m, v in feats.items()}, np.asarray(targets, np.int64),
        present={m: np.asarray(v, bool) for m, v in present.items()}, ids=ids, groups=cols,
        label_space="ekman7")
