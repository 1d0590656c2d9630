"""Rationales: one or two sentences per sample or segment, made only from its contributions.

:func:`rationale_statements` reads an explanation dict (what
:meth:`~emofuse.explain.shapley.Contributions.sample` and
:func:`emofuse.analysis.explain.segment_contributions` return) and returns the
:class:`Statement` s it supports, each with the numbers it rests on; :func:`rationale` joins
their texts. Templates only, deterministic (ties go to the first modality in the dict's order),
and every statement is a fact of the numbers:

* ``driver``: the present modality with the largest contribution ``φ`` to the explained output
  (the label's probability; for regression the predicted value, in the direction it moved from
  ``v(∅)``), with its share of the total contribution in that direction; stated only when
  ``φ > EPS`` (a modality alone is "the only signal present"). Without one, a ``no_driver``
  statement says that no signal raised it;
* ``disagreement``: stated iff the present modalities' own top labels differ (a modality's own
  label: its expert's reading, or the model's output with that modality alone), naming the
  modalities whose own label is the fused one (or that none is);
* ``lowered``: each present modality with ``φ < −EPS`` (it pulled the label's probability down);
* ``evidence``: for the driver, what inside it carried its own label, when the explanation
  has that modality's within-modality evidence (``exp["evidence"][m]``, the analysis's
  ``ModalityResult.evidence``): the words of largest positive attribution, the voice stretch
  whose silencing lowered its label most, the face frame that showed it most clearly — each
  only when its number is over ``EPS``;
* ``noisy``: a present modality whose reading counted less because its input was noisy
  (``exp["noise"][m]``: ``snr_db`` estimated and the ``weight_factor`` it put on the fusion
  weight), stated when that factor is below ``1 − EPS``;
* ``missing``: the modalities without a reading, grouped by reason;
* ``none``: nothing present at all (the output is the no-signal baseline).

Contributions within ``±EPS`` are treated as none (no claim is made about them).

Example:
    >>> exp = {"task": "classification", "target": "anger", "base": {"anger": 0.1}, "full": {"anger": 0.7},
    ...        "modalities": {"audio": {"label": "anger", "contribution": 0.5},
    ...                       "text": {"label": "neutral", "contribution": 0.1}}, "missing": {}}
    >>> for s in rationale_statements(exp):
    ...     print(s.kind, s.modalities)
    driver ('audio',)
    disagreement ('audio',)
    >>> rationale(exp).split(". ")[1]
    'The signals disagreed (voice anger, text neutral); the label follows the voice.'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emofuse.modalities import DISPLAY_NAMES

__all__ = ["EPS", "Statement", "rationale", "rationale_statements"]

#: Contributions of at most this size (in probability, or the regression unit) are treated as none.
EPS = 0.005


@dataclass(frozen=True)
class Statement:
    """One claim of a rationale and the numbers it rests on.

    Attributes:
        kind: ``driver``, ``no_driver``, ``disagreement``, ``lowered``, ``evidence``, ``noisy``,
            ``missing`` or ``none``.
        modalities: The modalities it names (the driver; the ones the label follows; ...).
        text: The words (a sentence, or a clause of the second sentence).
        data: The numbers (``contribution``, ``share``, ``labels``, ``reason``, ...).
    """

    kind: str
    modalities: tuple[str, ...]
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def _name(m: str) -> str:
    return DISPLAY_NAMES.get(m, m)


def _names(ms: list[str]) -> str:
    words = [f"the {_name(m)}" for m in ms]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _evidence(m: str, ev: dict[str, Any] | None) -> Statement | None:
    """What inside modality ``m`` carried its own label (see the module docstring), or ``None``."""
    if not ev or not ev.get("target"):
        return None
    target = ev["target"]
    if ev.get("words"):
        top = sorted((w for w in ev["words"] if float(w["score"]) > EPS), key=lambda w: -float(w["score"]))[:2]
        if top:
            said = " and ".join(f"'{w['word']}' ({float(w['score']):+.2f})" for w in top)
            return Statement("evidence", (m,), f"the {_name(m)} read {target} mostly from {said}",
                             {"words": [w["word"] for w in top], "scores": [float(w["score"]) for w in top]})
    top = ev.get("top")
    if ev.get("stretches") is not None and top and float(top["drop"]) > EPS:
        return Statement("evidence", (m,), f"silencing the {_name(m)} at {float(top['start']):.1f}–"
                         f"{float(top['end']):.1f} s lowers its {target} by {float(top['drop']):.2f}",
                         {"start": float(top["start"]), "end": float(top["end"]), "drop": float(top["drop"])})
    frames = ev.get("frames") or []
    if frames and float(frames[0]["prob"]) > EPS:
        f = frames[0]
        return Statement("evidence", (m,), f"the {_name(m)} showed {target} most clearly at {float(f['t']):.1f} s "
                         f"({float(f['prob']):.2f})", {"t": float(f["t"]), "prob": float(f["prob"])})
    return None


def rationale_statements(exp: dict[str, Any]) -> list[Statement]:
    """The statements an explanation dict supports, in rationale order (see the module docstring)."""
    mods: dict[str, dict[str, Any]] = exp.get("modalities") or {}
    missing: dict[str, str] = exp.get("missing") or {}
    target = exp.get("target")
    regression = exp.get("task") == "regression"
    out: list[Statement] = []
    evidence: list[Statement] = []
    if not mods or target is None:
        out.append(Statement("none", (), "No signal was present, so the output is the no-signal baseline."))
    else:
        base = float(exp["base"][target])
        full = float(exp["full"][target])
        phi = {m: float(d["contribution"]) for m, d in mods.items()}
        sign = -1.0 if regression and full < base else 1.0
        same = {m: v for m, v in phi.items() if sign * v > EPS}
        what = "the prediction" if regression else f"the label {target}"
        level = (f"{full:.2f}, {base:.2f} with no signal" if regression
                 else f"probability {full:.2f}, {base:.2f} with no signal")
        if same:
            driver = max(same, key=lambda m: sign * same[m])  # first of equals: dict order
            share = same[driver] / sum(same.values())
            way = "" if not regression else (" up" if sign > 0 else " down")
            kind_of = "positive" if sign > 0 else "negative"
            part = ("the only signal present" if len(mods) == 1
                    else f"{share:.0%} of the {kind_of} contributions")
            text = f"The {_name(driver)} drove {what}{way} ({level}): {phi[driver]:+.2f}, {part}."
            out.append(Statement("driver", (driver,), text,
                                 {"contribution": phi[driver], "share": share, "base": base, "full": full}))
            found = _evidence(driver, (exp.get("evidence") or {}).get(driver))
            if found is not None:
                evidence.append(found)
        else:
            verb = "moved" if regression else "raised"
            out.append(Statement("no_driver", (), f"No signal {verb} {what} above the no-signal baseline ({level}).",
                                 {"base": base, "full": full}))
        own = {m: d.get("label") for m, d in mods.items() if d.get("label") is not None}
        if not regression and len(set(own.values())) > 1:
            follows = [m for m, lab in own.items() if lab == target]
            listed = ", ".join(f"{_name(m)} {lab}" for m, lab in own.items())
            tail = (f"the label follows {_names(follows)}" if follows
                    else f"none of them read {target} on its own")
            out.append(Statement("disagreement", tuple(follows), f"the signals disagreed ({listed}); {tail}",
                                 {"labels": dict(own)}))
        for m, v in phi.items():
            if sign * v < -EPS:
                out.append(Statement("lowered", (m,), f"the {_name(m)} pulled it {'down' if sign > 0 else 'up'} "
                                     f"by {abs(v):.2f}", {"contribution": v}))
    out.extend(evidence)
    for m, q in (exp.get("noise") or {}).items():
        if m in mods and float(q.get("weight_factor", 1.0)) < 1.0 - EPS:
            out.append(Statement("noisy", (m,), f"the {_name(m)} was heard through noise (about "
                                 f"{float(q['snr_db']):.0f} dB SNR), so it counted {float(q['weight_factor']):.0%} "
                                 "of its weight", {"snr_db": float(q["snr_db"]),
                                                   "weight_factor": float(q["weight_factor"])}))
    by_reason: dict[str, list[str]] = {}
    for m, why in missing.items():
        by_reason.setdefault(why, []).append(m)
    for why, ms in by_reason.items():
        verb = "was" if len(ms) == 1 else "were"
        out.append(Statement("missing", tuple(ms), f"{_names(ms)} {verb} missing ({why})", {"reason": why}))
    return out


def rationale(exp: dict[str, Any]) -> str:
    """One or two sentences from :func:`rationale_statements`: the driver, then the rest as clauses."""
    st = rationale_statements(exp)
    first = [s.text for s in st if s.kind in ("driver", "no_driver", "none")]
    rest = [s.text for s in st if s.kind not in ("driver", "no_driver", "none")]
    if rest:
        second = "; ".join(rest)
        first.append(second[0].upper() + second[1:] + ".")
    return " ".join(first)
