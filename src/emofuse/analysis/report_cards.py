"""What the experts behind a result were validated on, read from their model cards, for the HTML report.

Nothing here knows a figure: every word and number comes from the card of each expert the
result used (:func:`emofuse.experts.read_card`). The **headline figure** is the card's own
``fusion.skill`` metric of the largest weight, the validation figure its fusion prior is built
from (``metrics.<path>``, with its chance level and, for a mean over folds, its spread); the
card's other skill metrics follow it. The **main limits** are the card's first
``limitations``; all of them and its ``out_of_scope`` uses are one click further.

Example:
    >>> summary = card_summary("face-fer2013")
    >>> summary.figures[0].path
    'publictest.uar'
    >>> summary.figures[0].text() == f"balanced accuracy {100 * summary.figures[0].value:.1f} %"
    True
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emofuse.analysis.report_common import display_name, modality, shown_modalities
from emofuse.analysis.result import AnalysisResult

__all__ = ["CardSummary", "Figure", "card_summary", "cards_html", "experts_used", "summarise"]

#: Limitations shown in the table; the others are in the expandable list.
MAIN_LIMITS = 3
# plain words for the metric names cards use (the path's last part); others are shown as written
_METRIC_WORDS = {
    "uar": "balanced accuracy",
    "accuracy": "accuracy",
    "f1_macro": "macro-F1",
    "ekman_f1_macro": "macro-F1 over the 7 emotions",
    "ekman_accuracy": "accuracy over the 7 emotions",
}


@dataclass(frozen=True)
class Figure:
    """One validation figure of a card.

    Attributes:
        path: Where it is in the card's ``metrics`` (``"publictest.uar"``).
        value: The figure (a fraction in ``[0, 1]`` for the metrics cards use).
        std: Its spread over folds or seeds, when the card gives one.
        chance: What guessing scores on the same metric.
    """

    path: str
    value: float
    std: float | None = None
    chance: float | None = None

    @property
    def name(self) -> str:
        """The metric in plain words (``uar`` → ``balanced accuracy``)."""
        parts = [p for p in self.path.split(".") if p not in ("mean", "std")]
        return _METRIC_WORDS.get(parts[-1], parts[-1].replace("_", " ")) if parts else self.path

    @property
    def context(self) -> str:
        """The part of the path saying where it was measured (``cross_corpus.mlp.ravdess->emodb``)."""
        parts = [p for p in self.path.split(".") if p not in ("mean", "std")]
        return " ".join(p.replace("_", " ") for p in parts[:-1])

    def text(self) -> str:
        """``balanced accuracy 60.4 % (± 4.1)``; fractions as percentages."""
        pct = 0.0 <= self.value <= 1.0
        out = f"{self.name} " + (f"{100 * self.value:.1f} %" if pct else f"{self.value:g}")
        if self.std is not None:
            out += f" (± {100 * self.std:.1f})" if pct else f" (± {self.std:g})"
        return out


@dataclass(frozen=True)
class CardSummary:
    """What the report shows of one expert's card (all fields read from the card)."""

    name: str
    modality: str
    description: str = ""
    trained_on: str = ""
    validated_on: str = ""
    figures: list[Figure] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)
    out_of_scope: list[str] = field(default_factory=list)
    licence: str = ""


def _lookup(metrics: dict[str, Any], path: str) -> Any:
    value: Any = metrics
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _figure(metrics: dict[str, Any], item: dict[str, Any]) -> Figure | None:
    path = str(item.get("metric", ""))
    value = _lookup(metrics, path)
    if isinstance(value, dict) and "mean" in value:  # a {"mean", "std"} block named without ".mean"
        value, path = value["mean"], path + ".mean"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    std = _lookup(metrics, path[: -len(".mean")] + ".std") if path.endswith(".mean") else None
    chance = item.get("chance")
    return Figure(path=path, value=float(value), std=float(std) if isinstance(std, (int, float)) else None,
                  chance=float(chance) if isinstance(chance, (int, float)) else None)


def _trained_on(data: Any) -> str:
    if not isinstance(data, dict):
        return str(data or "")
    if data.get("corpus"):
        return str(data["corpus"])
    corpora = data.get("corpora") or []
    return "; ".join(str(c.get("name", c)) if isinstance(c, dict) else str(c) for c in corpora)


def _licence(lic: Any) -> str:
    """Every licence line of the card (``what: terms``), its note last."""
    if not isinstance(lic, dict):
        return str(lic or "")
    parts = []
    for k, v in sorted(lic.items(), key=lambda kv: kv[0] == "note"):
        if isinstance(v, dict):
            parts += [f"{kk}: {vv}" for kk, vv in v.items()]
        elif k == "note":
            parts.append(str(v))
        elif v:
            parts.append(f"{k.replace('_', ' ')}: {v}")
    return "; ".join(parts)


def summarise(card: dict[str, Any]) -> CardSummary:
    """The report's view of an expert card (missing fields left empty)."""
    metrics = card.get("metrics") or {}
    skills = sorted((card.get("fusion") or {}).get("skill") or [], key=lambda s: -float(s.get("weight", 1.0)))
    figures = [f for f in (_figure(metrics, s) for s in skills) if f is not None]
    validated = metrics.get("split") or metrics.get("protocol") or ""
    return CardSummary(name=str(card.get("name", "")), modality=str(card.get("modality", "")),
                       description=str(card.get("description", "")),
                       trained_on=_trained_on(card.get("training_data")), validated_on=str(validated),
                       figures=figures, limitations=[str(x) for x in card.get("limitations") or []],
                       out_of_scope=[str(x) for x in card.get("out_of_scope") or []],
                       licence=_licence(card.get("licenses")))


def _read_card(name: str) -> dict[str, Any] | None:
    """The card of the registered expert ``name``, or ``None`` (an unknown name, no readable card)."""
    from emofuse.errors import EmofuseError
    from emofuse.experts import EXPERTS, read_card, weights_dir

    if name not in EXPERTS:  # names from a result file are not paths to read
        return None
    try:
        return read_card(weights_dir(name))
    except EmofuseError:
        return None


def card_summary(name: str, read: Callable[[str], dict[str, Any] | None] | None = None) -> CardSummary | None:
    """The summary of expert ``name``'s card; ``None`` when it has none (``read``: how cards are read)."""
    card = (read or _read_card)(name)
    return None if card is None else summarise(card)


def experts_used(result: AnalysisResult) -> list[tuple[str, str]]:
    """``(modality, expert)`` of every expert that read a segment, in the order of the report's modalities.

    A modality none of whose segments was read falls back to the expert the settings name.
    """
    configured = (result.config or {}).get("experts") or {}
    out: list[tuple[str, str]] = []
    for m in shown_modalities(result):
        names = list(dict.fromkeys(r.expert for s in result.segments if (r := modality(s, m)).ok and r.expert))
        if not names and isinstance(configured, dict) and configured.get(m):
            names = [str(configured[m])]
        out += [(m, n) for n in names]
    return out


_INTRO = (
    "Each signal is read by its own model (an <i>expert</i>). What follows is taken from each expert's model card: "
    "what it learnt from, how well it did on data held out from its training, and its known limits. Recordings "
    "unlike that data (other languages, spontaneous rather than acted emotion, poor light or sound) usually "
    "score lower. <i>Balanced accuracy</i> is the mean of the hit rates of the seven emotions, so rare emotions "
    "count as much as common ones; <i>macro-F1</i> likewise averages over the emotions a score that counts both "
    "missed and wrongly given labels; <i>chance</i> is what guessing would score.")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _figures_html(figures: list[Figure]) -> str:
    if not figures:
        return '<span class="missing">the card names no validation figure</span>'
    lines = []
    for k, f in enumerate(figures):
        chance = "" if f.chance is None else f" (chance {100 * f.chance:.1f} %)"
        # the headline's setting is the "Validated on" row; a further figure says where it was measured
        txt = f"<b>{_esc(f.text())}</b>{_esc(chance)}" if k == 0 else (
            f"also {_esc(f.text())}{_esc(chance)}" + (f" on {_esc(f.context)}" if f.context else ""))
        lines.append(f'{txt} <span class="path">card: metrics.{_esc(f.path)}</span>')
    return "<br>".join(lines)


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{_esc(x)}</li>" for x in items) + "</ul>"


def _card_html(m: str, summary: CardSummary) -> str:
    rows = [("What it is", _esc(summary.description)), ("Trained on", _esc(summary.trained_on)),
            ("Validated on", _esc(summary.validated_on)), ("Headline figure", _figures_html(summary.figures)),
            ("Main limits", _list(summary.limitations[:MAIN_LIMITS])), ("Licence", _esc(summary.licence))]
    body = "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in rows if v)
    more = ""
    if len(summary.limitations) > MAIN_LIMITS or summary.out_of_scope:
        more = (f"<details><summary>All {len(summary.limitations)} limits, and what it is not meant for</summary>"
                f"<h4>Limits</h4>{_list(summary.limitations)}"
                + (f"<h4>Not meant for</h4>{_list(summary.out_of_scope)}" if summary.out_of_scope else "")
                + "</details>")
    return (f'<section class="card"><h3>{_esc(summary.name)} <span class="sub">reads the '
            f'{_esc(display_name(m))}</span></h3><table class="card"><tbody>{body}</tbody></table>{more}</section>')


def cards_html(result: AnalysisResult, read: Callable[[str], dict[str, Any] | None] | None = None) -> str:
    """The report section on the experts the result used: one small table per expert, from its card.

    Args:
        result: The analysis result (its experts: :func:`experts_used`).
        read: How a card is read by expert name (default: the registered experts' shipped cards).

    Returns:
        HTML (``<h2>`` heading included); an expert without a readable card is named as such.
    """
    used = experts_used(result)
    if not used:
        return ""
    parts = []
    for m, name in used:
        summary = card_summary(name, read)
        parts.append(_card_html(m, summary) if summary is not None else
                     f'<p class="missing">{_esc(name)} ({_esc(display_name(m))}): no model card found '
                     "(not an expert this emofuse ships)</p>")
    return f'<h2>The models behind these readings</h2><p class="intro">{_INTRO}</p>{"".join(parts)}'
