"""Decision-level fusion of the per-modality experts: rules that know when a signal says nothing.

Each present modality ``m`` brings a calibrated ``ekman7`` distribution ``p_m``, a per-segment
reliability ``r_m`` in ``[0, 1]`` from its quality signals (speech probability, ASR word
confidence, face detection score / size / sharpness, ...) and a prior ``π_m``: how good the
expert is on its own, its validation skill above chance read from its own model card
(:attr:`emofuse.experts.base.Expert.prior`), unless the analysis config overrides it.

``evidence`` (the default rule) weighs what each reading *says* on this segment:

* **certainty** ``c_m = 1 − H(p_m) / log K`` (1: one class, 0: uniform): a reading spread over
  all classes carries little, whatever the expert's average skill;
* **absence of evidence**: an expert may declare a class that means "nothing to see" (its card's
  ``fusion.absent_class``; the text expert's ``neutral`` — lexically neutral words such as
  "Kids are talking by the door" say nothing about how they were said). Its mass ``n_m`` is
  not evidence: the reading enters the pool with its other classes ``q_m`` (renormalised) and
  share ``1 − n_m``, and hands its share ``n_m`` to the pool of the *other* modalities (to its
  absent class when there is no other, so text alone still reads ``neutral``). When the
  reading's top class *is* its absent class (``absent_verdict``, the default), all of it is
  absence (``n_m = 1``): the words' verdict is "nothing to see", and the rest of a flat reading
  of lexically neutral words (happiness for "Dogs are sitting by the door") is not evidence
  against a weak voice (validation: recipes/analysis_validation README, "absent verdict").

A ``neutral`` reading of a signal without an absent class of its own (a face, a voice) may
count partly as absence too: a share ``α`` (``neutral_absence``) of its neutral mass is handed
on the same way (``α = 0``: a neutral face is evidence of a neutral state, all of it).

With base weights ``b_m = π_m × r_m × c_m^γ`` (``γ``: ``certainty_power``), the fused
distribution is

    ``P = Σ_m b_m [(1 − n_m) q_m + n_m Q_{−m}] / Σ_m b_m``,   ``Q_{−m}``: the others' evidence pool,

and the reported weight of each modality is its coefficient in that mixture. ``linear`` (the
rule before) is ``Σ w_m p_m`` with ``w_m ∝ π_m r_m``; ``log`` is ``∝ Π p_m^{w_m}``.

A trained fusion model from the zoo can replace the rule
(:class:`~emofuse.analysis.fusion_trained.TrainedFusion`); one is shipped (:data:`SHIPPED_FUSION`,
``fusion="trained"``; the default was this model from issue 9 until the voice expert's 10 s head,
after which the ``evidence`` rule scored at or above it on every view of the validation media of
``recipes/analysis_validation``), with the ``evidence`` rule passing a single signal through.
:func:`refuse` applies any fuser to a saved :class:`~emofuse.analysis.result.AnalysisResult`
without analysing the media again.

Example:
    >>> from emofuse.analysis.result import ModalityResult
    >>> mods = {"text": ModalityResult.from_probs([0, 0, 0, 0, 0, 0, 1], reliability=1.0),
    ...         "audio": ModalityResult.from_probs([0.8, 0.04, 0.04, 0.04, 0.04, 0.02, 0.02], reliability=1.0)}
    >>> probs, weights = fuse(mods, method="evidence", absent={"text": "neutral"})
    >>> EKMAN[int(np.argmax(probs))], weights
    ('anger', {'text': 0.0, 'audio': 1.0})
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.analysis.config import FUSION_METHODS
from emofuse.analysis.result import EKMAN, AnalysisResult, ModalityResult, SegmentResult
from emofuse.errors import ConfigError, MissingFileError

__all__ = ["FUSION_METHODS", "SHIPPED_FUSION", "Fuser", "RuleFusion", "TrainedFusion", "apply_fusion",
           "card_fusion_facts", "certainty", "fuse", "fusion_dataset", "fusion_weights", "make_fuser", "refuse"]

_FLOOR = 1e-3  # a present modality never gets exactly zero base weight
#: The fusion model shipped in the package (``fusion="trained"``): trained on analysed media by
#: ``recipes/analysis_validation/train_fusion.py``; its model card says on what and how well.
SHIPPED_FUSION = Path(__file__).parent / "weights" / "fusion-media"
#: ``mods -> (probs | None, weights)``: what every fuser is.
Fuser = Callable[[Mapping[str, ModalityResult]], tuple[list[float] | None, dict[str, float]]]


def certainty(p: Any, skip: int | None = None) -> float:
    """``1 − H(p) / log K`` of a distribution (1: all mass on one class, 0: uniform).

    Args:
        p: ``(K,)`` probabilities.
        skip: Index of a class left out (its mass removed, the rest renormalised, ``K − 1`` classes).
    """
    v = np.asarray(p, np.float64)
    if skip is not None:
        v = np.delete(v, skip)
    total = v.sum()
    if total <= 1e-12 or len(v) < 2:
        return 0.0
    v = np.clip(v / total, 1e-12, 1.0)
    return float(max(0.0, 1.0 + (v * np.log(v)).sum() / np.log(len(v))))


def fusion_weights(mods: Mapping[str, ModalityResult], priors: Mapping[str, float] | None = None) -> dict[str, float]:
    """Normalised ``π_m × r_m`` weights of the present modalities (the ``linear``/``log`` rules).

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


def _evidence(mods: Mapping[str, ModalityResult], priors: Mapping[str, float] | None,
              absent: Mapping[str, str | None], power: float,
              neutral_absence: float = 0.0, verdict: bool = True) -> tuple[np.ndarray, dict[str, float]]:
    names = [m for m, r in mods.items() if r.ok]
    base, share, q, gone = {}, {}, {}, {}
    for m in names:
        p = np.asarray(mods[m].vector(), np.float64)
        a, strength = absent.get(m), 1.0
        if a is None and neutral_absence > 0:  # a neutral face or voice: partly absence of expression
            a, strength = "neutral", float(neutral_absence)
        k = EKMAN.index(a) if a is not None else None
        n = strength * float(p[k]) if k is not None else 0.0
        if verdict and k is not None and strength >= 1.0 and int(np.argmax(p)) == k:
            n = 1.0  # its verdict is its absent class: the whole reading is absence
        if k is not None and n < 1.0 - 1e-9:
            rest = p.copy()
            rest[k] -= n
            q[m] = np.clip(rest, 0.0, None) / max(rest.sum(), 1e-12)
        else:
            q[m] = p
            n = 0.0 if k is None else n  # all mass on the absent class: nothing but absence
        cert = certainty(p, k) if k is not None and strength >= 1.0 else certainty(q[m])
        prior = max(float(priors.get(m, 0.0) if priors is not None else 1.0), 0.0)
        base[m] = max(prior, 1e-6) * max(float(mods[m].reliability), _FLOOR) * max(cert, _FLOOR) ** power
        share[m], gone[m] = 1.0 - n, (n, k)
    total = sum(base.values())
    coef = {m: base[m] * share[m] for m in names}  # each modality's own evidence
    fallback = np.zeros(len(EKMAN))
    for m in names:  # hand each absent share to the others' evidence pool
        n, k = gone[m]
        if n <= 0:
            continue
        others = {o: base[o] * share[o] for o in names if o != m}
        w_others = sum(others.values())
        if w_others > 1e-12:
            for o, w in others.items():
                coef[o] += base[m] * n * w / w_others
        else:  # nobody else has evidence: the absent class it is, on this modality's word
            fallback[k] += base[m] * n
            coef[m] += base[m] * n
    fused = sum(coef[m] * q[m] for m in names) + fallback
    fused = fused / fused.sum()
    weights = {m: round(coef[m] / total, 4) for m in names}
    return fused, weights


def fuse(mods: Mapping[str, ModalityResult], priors: Mapping[str, float] | None = None,
         method: str = "linear", *, absent: Mapping[str, str | None] | None = None,
         certainty_power: float = 1.0, neutral_absence: float = 0.0,
         absent_verdict: bool = True) -> tuple[list[float] | None, dict[str, float]]:
    """Fuse the present modalities of one segment with a rule (see the module docstring).

    Args:
        mods: ``{modality: ModalityResult}``.
        priors: Per-modality prior weights (``None``: equal).
        method: ``"evidence"``, ``"linear"`` (weighted mean) or ``"log"`` (weighted geometric mean).
        absent: Per modality, the class that means no evidence (``evidence`` only).
        certainty_power: ``γ`` of the ``evidence`` rule (0 ignores certainty).
        neutral_absence: ``α``: the share of a ``neutral`` reading of a modality without an
            absent class of its own (face, voice) treated as absence of expression (0: all of
            it is evidence of a neutral state; ``evidence`` only).
        absent_verdict: A reading whose top class is its modality's absent class is absence as a
            whole (``False``: only its absent-class mass is; ``evidence`` only).

    Returns:
        ``(probs, weights)``: the fused ``(7,)`` distribution as a list in ``EKMAN`` order
        (``None`` when no modality is present) and the weights used (sum 1).

    Raises:
        ConfigError: Unknown ``method``.
    """
    if method not in FUSION_METHODS or method == "trained":
        raise ConfigError(f"fusion rule must be one of {FUSION_METHODS[1:]}, got {method!r} (a trained fusion "
                          "model is a TrainedFusion, see make_fuser)")
    if not any(r.ok for r in mods.values()):
        return None, {}
    if method == "evidence":
        p, weights = _evidence(mods, priors, absent or {}, certainty_power, neutral_absence, absent_verdict)
        return [float(v) for v in p], weights
    weights = fusion_weights(mods, priors)
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


@dataclass
class RuleFusion:
    """A fusion rule with its settings, callable as a :data:`Fuser`.

    Attributes:
        method: ``"evidence"``, ``"linear"`` or ``"log"``.
        priors: Per-modality priors (from the experts' cards unless overridden).
        absent: Per-modality absent class (from the experts' cards).
        certainty_power: ``γ`` of the ``evidence`` rule.
        neutral_absence: ``α`` of the ``evidence`` rule.
        absent_verdict: A reading whose top class is its absent class is absence as a whole.
    """

    method: str = "evidence"
    priors: dict[str, float] | None = None
    absent: dict[str, str | None] = field(default_factory=dict)
    certainty_power: float = 1.0
    neutral_absence: float = 0.0
    absent_verdict: bool = True

    @property
    def name(self) -> str:
        """Short name for tables (``evidence(γ=1, α=0)``)."""
        if self.method != "evidence":
            return self.method
        return (f"evidence(γ={self.certainty_power:g}, α={self.neutral_absence:g}"
                + ("" if self.absent_verdict else ", absence by mass only") + ")")

    def __call__(self, mods: Mapping[str, ModalityResult]) -> tuple[list[float] | None, dict[str, float]]:
        """Fuse one segment (see :func:`fuse`)."""
        return fuse(mods, self.priors, self.method, absent=self.absent, certainty_power=self.certainty_power,
                    neutral_absence=self.neutral_absence, absent_verdict=self.absent_verdict)


def card_fusion_facts(expert: str, weights: str | None = None) -> tuple[float, str | None]:
    """``(prior, absent_class)`` of a registered expert, read from its card only (packaged, or in ``weights``)."""
    from emofuse.experts import read_card, weights_dir
    from emofuse.experts.base import absent_class, card_prior

    card = read_card(weights_dir(expert) if weights is None else weights)
    return card_prior(card), absent_class(card)


def make_fuser(cfg: Any, priors: Mapping[str, float] | None = None,
               absent: Mapping[str, str | None] | None = None) -> Fuser:
    """The fuser an :class:`~emofuse.analysis.config.AnalyzeConfig` asks for.

    ``priors``/``absent`` default to what the experts named in ``cfg.experts`` say in their
    cards (``cfg.priors`` overrides priors).
    """
    if priors is None or absent is None:
        facts = {m: card_fusion_facts(name, cfg.expert_weights.get(m)) for m, name in cfg.experts.items()}
        priors = priors if priors is not None else {m: f[0] for m, f in facts.items()}
        absent = absent if absent is not None else {m: f[1] for m, f in facts.items()}
    priors = {**priors, **cfg.priors}
    method = "evidence" if cfg.fusion == "trained" else cfg.fusion
    rule = RuleFusion(method, dict(priors), dict(absent), cfg.certainty_power, cfg.neutral_absence,
                      cfg.absent_verdict)
    if cfg.fusion_model or cfg.fusion == "trained":
        from emofuse.analysis.fusion_trained import TrainedFusion

        ckpt = cfg.fusion_model or SHIPPED_FUSION
        if not (Path(ckpt) / "model.safetensors").is_file():
            raise MissingFileError(f"fusion model not found: {Path(ckpt) / 'model.safetensors'} (the package's "
                                   "shipped fusion model, or --fusion-model); --fusion evidence needs none")
        return TrainedFusion(ckpt, fallback=rule)
    return rule


def apply_fusion(seg: SegmentResult, fuser: Fuser) -> None:
    """Set ``seg``'s fused ``probs``, ``label``, ``confidence`` and ``weights`` with ``fuser``."""
    probs, weights = fuser(seg.modalities)
    seg.weights = weights
    if probs is None:
        seg.probs, seg.label, seg.confidence = None, None, None
        return
    top = int(np.argmax(probs))
    seg.probs = {c: round(float(p), 4) for c, p in zip(EKMAN, probs, strict=True)}
    seg.label, seg.confidence = EKMAN[top], round(float(probs[top]), 4)


def refuse(result: AnalysisResult, fuser: Fuser, *, drop: tuple[str, ...] = ()) -> AnalysisResult:
    """A copy of ``result`` fused again with ``fuser`` (the experts' readings are kept).

    Args:
        result: A saved analysis.
        fuser: Any :data:`Fuser` (e.g. ``RuleFusion("linear", priors)`` or a ``TrainedFusion``).
        drop: Modalities to treat as missing (``("text",)`` reads a result as if speech
            recognition had been off — exact when segments come from voice activity).
    """
    out = copy.deepcopy(result)
    for seg in out.segments:
        for m in drop:
            if m in seg.modalities:
                seg.modalities[m] = ModalityResult.missing("left out when fusing again")
        apply_fusion(seg, fuser)
        seg.contributions, seg.rationale = None, None  # an explanation of the old fusion no longer holds
    return out


def __getattr__(name: str) -> Any:  # the trained fuser lives in its own module (torch, checkpoints)
    if name in ("TrainedFusion", "fusion_dataset"):
        from emofuse.analysis import fusion_trained

        return getattr(fusion_trained, name)
    raise AttributeError(name)


TrainedFusion: Any
fusion_dataset: Any
