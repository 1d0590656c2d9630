"""``physio-wesad``: baseline, stress or amusement from wrist physiology (BVP, EDA, temperature, motion).

The expert reads **windows** of a wearer's signals (:class:`PhysioWindow`: the NeuroKit2 window
features of :mod:`emofuse.experts.physio_features`, each signal's coverage of the window, and
the wearer's reference), z-scores the features against the wearer's own reference, fills
missing signals with the reference level (0 after z-scoring) and applies a small MLP head
trained leave-subjects-out on WESAD (``recipes/wesad``): the ``all`` head when the window has
EDA (it reads EDA without BVP nearly as well), the ``no_eda`` head (trained without EDA) when it
has not. Acceleration is not read by the heads (people move while speaking in the stress test;
a head would learn that), only used to flag motion. :func:`physio_windows` turns a
:class:`~emofuse.media.physio.PhysioRecording` into windows (signals processed once).

**What it can and cannot say.** Its native classes are the WESAD conditions (``wesad3``); the
2-class view is ``P(stress)`` (``info["p_stress"]``). It does not see Ekman categories; its
``ekman7`` view is a documented, limited routing (card ``ekman``): baseline → neutral,
amusement → happiness, stress → split evenly between fear and anger (the aroused, negative
states it resembles; it cannot tell which), and nothing to disgust, sadness or surprise. Its
fusion prior is shaded accordingly. A coarse circumplex placement is given as
``info["arousal"]`` and ``info["valence"]`` (expected value of the condition anchors on the
card, in ``[-1, 1]``).

Reliability (``info["reliability"]``): the mean coverage of the window by the signals the
head weighs most (BVP, EDA), times the reference quality (minutes of recording it was
estimated from, up to the card's ``reference_full_min``), lowered when the wearer moves a lot
(``info["motion"]``: the window's acceleration variability above the card's threshold). While
the wrist moves the pulse is not trusted: a flagged window that has EDA is read without its BVP
features (``info["bvp_ignored"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from emofuse.errors import CheckpointError, DataError
from emofuse.experts.base import Expert, ExpertNeeds, ExpertOutput, read_card, read_weights, register_expert
from emofuse.experts.physio_features import FEATURES, GROUPS, normalise, process, reference_stats, window_features
from emofuse.experts.voice import VoiceHead, VoiceHeadConfig
from emofuse.media.physio import PhysioRecording

__all__ = ["PhysioHead", "PhysioWesadExpert", "PhysioWindow", "physio_windows", "recording_reference"]

#: Signal groups in the order of :data:`~emofuse.experts.physio_features.GROUPS`.
GROUP_NAMES = tuple(GROUPS)
#: Native classes → (arousal, valence) anchors (circumplex placement of the WESAD conditions).
ANCHORS = {"baseline": (-0.4, 0.0), "stress": (0.7, -0.6), "amusement": (0.4, 0.7)}


class PhysioHead(torch.nn.Module):
    """One head per set of signals (``all``: EDA present, BVP optional; ``no_eda``: trained without EDA).

    Each is a :class:`~emofuse.experts.voice.VoiceHead` (standardisation + MLP or linear layer):
    ``(B, n_features)`` → ``(B, 3)`` logits.
    """

    def __init__(self, heads: dict[str, VoiceHead]) -> None:
        super().__init__()
        self.heads = torch.nn.ModuleDict(heads)

    def forward(self, x: torch.Tensor, head: str = "all") -> torch.Tensor:
        """Logits of the named head."""
        return self.heads[head](x)


@dataclass(frozen=True)
class PhysioWindow:
    """One window of a wearer's physiology, as the expert reads it.

    Attributes:
        features: ``(F,)`` raw window features (:data:`~emofuse.experts.physio_features.FEATURES`; NaN: missing).
        coverage: ``(G,)`` fraction of the window each signal group covers (:data:`GROUP_NAMES`).
        reference: ``(centre, scale)`` ``(F,)`` each: the wearer's reference (:func:`recording_reference`).
        reference_min: Minutes of recording the reference was estimated from.
        end: Window end on the recording clock, seconds (informative).
    """

    features: np.ndarray
    coverage: np.ndarray
    reference: tuple[np.ndarray, np.ndarray]
    reference_min: float
    end: float = 0.0


def recording_reference(rec: PhysioRecording, hop_s: float = 10.0, window_s: float = 60.0,
                        processed: Any = None) -> tuple[tuple[np.ndarray, np.ndarray], float]:
    """The wearer's reference estimated from the whole recording: robust centre/scale of its windows.

    Returns:
        ``((centre, scale), minutes)``; the minutes of signal it rests on.
    """
    p = process(rec.signals) if processed is None else processed
    start = rec.start + window_s
    ends = np.arange(start, rec.end + 1e-9, hop_s) if rec.end >= start else np.asarray([rec.end])
    X, _ = window_features(p, ends, window_s)
    return reference_stats(X, robust=True), max(0.0, (rec.end - rec.start) / 60.0)


def physio_windows(rec: PhysioRecording, ends: Sequence[float], window_s: float = 60.0,
                   reference: tuple[tuple[np.ndarray, np.ndarray], float] | None = None) -> list[PhysioWindow]:
    """Windows ``[end − window_s, end)`` of a recording, ready for :meth:`PhysioWesadExpert.predict`.

    Args:
        rec: The recording.
        ends: Window end times, seconds on the recording clock.
        window_s: Window length (the card's ``preprocessing.window_s``).
        reference: ``((centre, scale), minutes)``; default :func:`recording_reference` of ``rec``.
    """
    p = process(rec.signals)
    ref = recording_reference(rec, window_s=window_s, processed=p) if reference is None else reference
    X, cov = window_features(p, np.asarray(ends, np.float64), window_s)
    return [PhysioWindow(X[i], cov[i], ref[0], float(ref[1]), float(e)) for i, e in enumerate(ends)]


def _as_windows(inputs: Any) -> list[PhysioWindow]:
    items = [inputs] if isinstance(inputs, PhysioWindow) else list(inputs)
    if not items:
        raise DataError("physio expert: no windows given")
    for i, w in enumerate(items):
        if not isinstance(w, PhysioWindow):
            raise DataError(f"physio expert: item {i} is {type(w).__name__}, not a PhysioWindow "
                            "(see emofuse.experts.physio.physio_windows)")
        f, c = np.asarray(w.features), np.asarray(w.coverage)
        if f.shape != (len(FEATURES),) or c.shape != (len(GROUP_NAMES),):
            raise DataError(f"physio expert: item {i} has {f.shape} features / {c.shape} coverage; expected "
                            f"({len(FEATURES)},) / ({len(GROUP_NAMES)},)")
        if np.isinf(f).any():
            raise DataError(f"physio expert: item {i} holds infinite features")
        if not np.isfinite(f).any():
            raise DataError(f"physio expert: item {i} has no usable signal in its window (every feature is missing)")
    return items


@register_expert
class PhysioWesadExpert(Expert):
    """WESAD conditions from wrist signals (window features + MLP head; leave-subjects-out validated)."""

    name = "physio-wesad"
    modality = "physio"
    label_space = "wesad3"
    multilabel = False
    needs = ExpertNeeds(input="physio_window")
    description = "baseline / stress / amusement from wrist BVP, EDA, temperature and motion (WESAD, 12 subjects)"

    def __init__(self, head: PhysioHead, card: dict[str, Any]) -> None:
        super().__init__(card)
        self.head = head.eval()
        pre = card["preprocessing"]
        if list(pre.get("features", [])) != list(FEATURES):
            raise CheckpointError(f"physio expert card lists features {pre.get('features')}; this emofuse computes "
                                  f"{list(FEATURES)}")
        unknown = [f for f in pre["model_features"] if f not in FEATURES]
        if unknown:
            raise CheckpointError(f"physio expert card: the heads read unknown features {unknown}")
        self.cols = [FEATURES.index(f) for f in pre["model_features"]]
        self._bvp_cols = [i for i, f in enumerate(pre["model_features"]) if f in GROUPS["bvp"]]
        # calibration is of the native classes; the Ekman view routes those calibrated probabilities
        self.native_temperature = float(card["calibration"].get("native_temperature", 1.0))
        self.window_s = float(pre["window_s"])
        self.reference_full_min = float(pre.get("reference_full_min", 20.0))
        self.motion_threshold = float(pre.get("motion_threshold_g", np.inf))
        route = card["ekman"]["routing"]
        self.routing = np.asarray([[float(route[c].get(e, 0.0)) for e in ExpertOutput.ekman_classes]
                                   for c in self.classes])
        if not np.allclose(self.routing.sum(1), 1.0):
            raise CheckpointError("physio expert card: each class's ekman routing must sum to 1")

    @classmethod
    def from_dir(cls, directory: str | Path, **kwargs: Any) -> PhysioWesadExpert:
        """Load head + card from ``directory`` (strict, safetensors only)."""
        card = read_card(directory)
        if card["name"] != cls.name:
            raise CheckpointError(f"{directory}: card is for expert {card['name']!r}, not {cls.name!r}")
        cfg = VoiceHeadConfig.from_dict(card["head"]["config"])
        head = PhysioHead({k: VoiceHead(cfg) for k in card["head"]["heads"]})
        if "all" not in head.heads:
            raise CheckpointError(f"{directory}: the physio card names no 'all' head")
        read_weights(directory, head)
        return cls(head, card, **kwargs)

    def inputs(self, windows: Sequence[PhysioWindow]) -> np.ndarray:
        """``(N, F')`` head inputs: the heads' features z-scored against each window's reference, missing → 0."""
        Z = np.stack([normalise(w.features, w.reference) for w in windows])
        return np.nan_to_num(Z[:, self.cols], nan=0.0)

    def reliability(self, w: PhysioWindow) -> tuple[float, bool]:
        """``(reliability in [0, 1], motion flag)`` of one window (see the module docstring)."""
        cov = np.asarray(w.coverage, np.float64)
        main = float(cov[[GROUP_NAMES.index("bvp"), GROUP_NAMES.index("eda")]].mean())
        ref = min(1.0, float(w.reference_min) / self.reference_full_min)
        acc_std = float(w.features[FEATURES.index("acc_std")])
        moving = bool(np.isfinite(acc_std) and acc_std > self.motion_threshold)
        return round(main * (0.5 + 0.5 * ref) * (0.3 if moving else 1.0), 4), moving

    @torch.inference_mode()
    def _forward(self, inputs: Any) -> tuple[np.ndarray, np.ndarray | None, dict[str, list[Any]]]:
        windows = _as_windows(inputs)
        rel = [self.reliability(w) for w in windows]
        eda = GROUP_NAMES.index("eda")
        z = self.inputs(windows)
        # the pulse is not trusted while the wrist moves: a flagged window with EDA is read without BVP
        ignore_bvp = [moving and w.coverage[eda] > 0 for w, (_, moving) in zip(windows, rel, strict=True)]
        z[np.ix_(np.asarray(ignore_bvp, bool), self._bvp_cols)] = 0.0
        x = torch.from_numpy(z)
        use = ["all" if w.coverage[eda] > 0 or "no_eda" not in self.head.heads else "no_eda" for w in windows]
        logits = np.zeros((len(windows), len(self.classes)))
        for key in set(use):
            rows = [i for i, u in enumerate(use) if u == key]
            logits[rows] = self.head(x[rows], key).double().numpy()
        logits /= self.native_temperature
        z = logits - logits.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        ek = np.log(p @ self.routing + 1e-6)
        anchors = np.asarray([ANCHORS[c] for c in self.classes])
        av = p @ anchors
        info = {"p_stress": [round(float(v), 4) for v in p[:, self.classes.index("stress")]],
                "arousal": [round(float(v), 3) for v in av[:, 0]], "valence": [round(float(v), 3) for v in av[:, 1]],
                "reliability": [r for r, _ in rel], "motion": [m for _, m in rel],
                "signals": [[g for g, c in zip(GROUP_NAMES, w.coverage, strict=True) if c > 0] for w in windows],
                "head": use, "bvp_ignored": ignore_bvp}
        return logits, ek, info
