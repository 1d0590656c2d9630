"""Render robustness rows: a rich table, Markdown, CSV, JSON (with the robustness measures), PNG.

Rows are the common format of :mod:`emofuse.robustness.rows` (one per target × condition ×
level × seed). Text formats are registered in :data:`FORMATS`, the single source of the names
the CLI accepts. Tables and Markdown show the seeds' mean ± std in %; CSV keeps one line per
row (seed) so nothing is lost; JSON holds the rows, their summary and, per curve, MultiBench's
relative and effective robustness (:mod:`emofuse.robustness.metrics`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from emofuse.registry import Registry
from emofuse.robustness.metrics import effective_robustness, relative_robustness
from emofuse.robustness.rows import KEY_COLUMNS, METRICS, check_rows, curve_position, summarize

__all__ = ["FORMATS", "curve_measures", "pivot_markdown", "plot_rows", "render", "to_csv", "to_json", "to_markdown",
           "to_table", "write_report"]

#: Text renderers ``rows -> str`` by format name (``emofuse robustness ... --format NAME``).
FORMATS: Registry[Callable[..., str]] = Registry("robustness report format")
_SHORT = {"accuracy": "acc", "f1_macro": "F1-m", "f1_weighted": "F1-w", "uar": "UAR"}


def _cell(entry: Mapping[str, Any], metric: str) -> str:
    """``mean ± std`` in % (just the mean for a single seed)."""
    m, s = entry[metric], entry.get(f"{metric}_std", 0.0)
    if m is None or not math.isfinite(m):
        return "—"
    return f"{100 * m:.1f}" if entry.get("seeds", 1) < 2 else f"{100 * m:.1f} ± {100 * s:.1f}"


def _level_text(level: float | None) -> str:
    return "—" if level is None else f"{level:g}"


def _summary_table(rows: Iterable[Mapping[str, Any]], metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    summary = summarize(rows)
    header = ["target", "kind", "condition", "level", "n", "seeds", *[_SHORT.get(m, m) for m in metrics]]
    body = [[e["target"], e["kind"], e["condition"], _level_text(e["level"]), str(e["n"]), str(e["seeds"]),
             *[_cell(e, m) for m in metrics]] for e in summary]
    return header, body


def to_table(rows: Iterable[Mapping[str, Any]], *, title: str | None = None,
             metrics: Sequence[str] = METRICS) -> Table:
    """A rich table of the seeds' mean ± std (metrics in %)."""
    header, body = _summary_table(rows, metrics)
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(header):
        table.add_column(col, justify="right" if i >= 3 else "left", overflow="fold")
    for cells in body:
        table.add_row(*cells)
    return table


@FORMATS.register("table")
def _render_table(rows: Iterable[Mapping[str, Any]], *, title: str | None = None, **_: Any) -> str:
    buf = io.StringIO()
    Console(file=buf, width=160, color_system=None).print(to_table(rows, title=title))
    return buf.getvalue()


@FORMATS.register("markdown")
def to_markdown(rows: Iterable[Mapping[str, Any]], *, title: str | None = None, metrics: Sequence[str] = METRICS,
                **_: Any) -> str:
    """A Markdown table of the seeds' mean ± std (metrics in %), preceded by ``title`` if given."""
    header, body = _summary_table(rows, metrics)
    lines = [title, ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


@FORMATS.register("csv")
def to_csv(rows: Iterable[Mapping[str, Any]], **_: Any) -> str:
    """One CSV line per row (seed), the common columns first, extra keys after; empty cell = None."""
    data = check_rows(rows)
    cols = [*KEY_COLUMNS, "n", *METRICS, "seed"]
    for r in data:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in cols} for r in data)
    return buf.getvalue()


def pivot_markdown(rows: Iterable[Mapping[str, Any]], *, kind: str = "subset", metric: str = "accuracy",
                   title: str | None = None) -> str:
    """A compact Markdown view of one kind: one line per target, one column per condition.

    Cells are the seeds' ``mean ± std`` of ``metric`` in %; a condition a target lacks is ``—``.
    """
    entries = [e for e in summarize(rows) if e["kind"] == kind]
    conditions = list(dict.fromkeys(e["condition"] for e in entries))
    targets = list(dict.fromkeys(e["target"] for e in entries))
    cells = {(e["target"], e["condition"]): _cell(e, metric) for e in entries}
    lines = [title, ""] if title else []
    lines += ["| target | " + " | ".join(conditions) + " |", "|" + "---|" * (len(conditions) + 1)]
    lines += ["| " + " | ".join([t, *(cells.get((t, c), "—") for c in conditions)]) + " |" for t in targets]
    return "\n".join(lines) + "\n"


def curve_measures(rows: Iterable[Mapping[str, Any]], *, baseline: str | None = None,
                   metric: str = "accuracy") -> list[dict[str, Any]]:
    """Relative and effective robustness of every curve (seeds averaged first).

    A curve is the rows of one (target, kind, modality) with at least two levels; ``subset``
    rows are not a curve (several conditions share a level) and are left out. Points are
    ordered and integrated along ``severity`` (0 clean, 1, 2, ...: evenly spaced, as on
    MultiBench's grid) where the rows have it, else along ``level``; ``x`` says which.

    Args:
        rows: Rows in the common format.
        baseline: Target whose curve of the same kind and modality is the reference of
            effective robustness (MultiBench: late fusion). ``None``: effective robustness is
            ``None`` (there is no reference to compare against).
        metric: Which metric the curve follows.

    Returns:
        ``{"target", "kind", "modality", "metric", "levels", "x", "values", "clean", "worst",
        "relative_robustness", "effective_robustness", "baseline"}`` per curve.
    """
    curves: dict[tuple[Any, ...], dict[float, tuple[float | None, float]]] = {}
    for e in summarize(rows):
        if e["kind"] == "subset":
            continue
        curves.setdefault((e["target"], e["kind"], e["modality"]), {})[curve_position(e)] = (e["level"], e[metric])
    out = []
    for (target, kind, modality), pts in curves.items():
        if len(pts) < 2:
            continue
        xs = sorted(pts)
        values = [pts[x][1] for x in xs]
        ref = curves.get((baseline, kind, modality)) if baseline is not None else None
        eff = None
        if ref is not None and sorted(ref) == xs:
            eff = effective_robustness(xs, values, [ref[x][1] for x in xs])
        out.append({"target": target, "kind": kind, "modality": modality, "metric": metric,
                    "levels": [pts[x][0] for x in xs], "x": xs, "values": values, "clean": values[0],
                    "worst": min(values), "relative_robustness": relative_robustness(xs, values),
                    "effective_robustness": eff, "baseline": baseline if eff is not None else None})
    return out


def _finite(obj: Any) -> Any:
    """NaN/inf → None, so the JSON is strict (``allow_nan=False``) and every reader accepts it."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


@FORMATS.register("json")
def to_json(rows: Iterable[Mapping[str, Any]], *, baseline: str | None = None, title: str | None = None,
            meta: Mapping[str, Any] | None = None, **_: Any) -> str:
    """``{"title", "meta", "rows", "summary", "measures"}`` as strict JSON (NaN written as null)."""
    data = check_rows(rows)
    doc = {"title": title, "meta": dict(meta or {}), "rows": data, "summary": summarize(data),
           "measures": curve_measures(data, baseline=baseline)}
    return json.dumps(_finite(doc), indent=2, allow_nan=False) + "\n"


def render(rows: Iterable[Mapping[str, Any]], fmt: str, **kwargs: Any) -> str:
    """Rows in the text format ``fmt`` (a :data:`FORMATS` name; unknown names raise with close matches)."""
    return FORMATS.get(fmt)(rows, **kwargs)


def plot_rows(rows: Iterable[Mapping[str, Any]], path: str | Path, *, title: str | None = None,
              metric: str = "accuracy") -> Path:
    """PNG with one panel per kind (and per perturbed modality): bars for subsets, curves otherwise.

    Subsets are a grouped bar chart (x = modalities present, one bar per target); every other
    kind is ``metric`` against level, one panel per modality and one line per target (one panel
    holding every target × modality is unreadable past a few targets). Bars and points are the
    seeds' mean, error bars their std; a target keeps its colour in every panel, and one legend
    sits to the right of the panels.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display (servers and CI)
    import matplotlib.pyplot as plt

    summary = summarize(rows)
    panels = list(dict.fromkeys((e["kind"], None if e["kind"] == "subset" else e["modality"]) for e in summary))
    targets = list(dict.fromkeys(e["target"] for e in summary))
    cmap = plt.get_cmap("tab10" if len(targets) <= 10 else "tab20")
    colours = {t: cmap(i % cmap.N) for i, t in enumerate(targets)}
    widths = [2.0 if kind == "subset" else 1.0 for kind, _ in panels]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * sum(widths) + 2.6, 4.5), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    for ax, (kind, modality) in zip(axes[0], panels, strict=True):
        entries = [e for e in summary if e["kind"] == kind and (kind == "subset" or e["modality"] == modality)]
        if kind == "subset":
            _bars(ax, entries, metric, colours)
            ax.set_title("modality subsets")
        else:
            _lines(ax, entries, metric, colours)
            ax.set_title(kind.replace("_", " ") + ("" if modality is None else f" on {modality}"))
        ax.set_ylabel(f"{metric} (%)")
        ax.grid(alpha=0.3)
    curve_axes = [ax for ax, (kind, _) in zip(axes[0], panels, strict=True) if kind != "subset"]
    if curve_axes:  # one y range for every curve panel, so the modalities' drops compare by eye
        lo = min(ax.get_ylim()[0] for ax in curve_axes)
        hi = max(ax.get_ylim()[1] for ax in curve_axes)
        for ax in curve_axes:
            ax.set_ylim(lo, hi)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[t]) for t in targets]
    fig.legend(handles, targets, loc="center right", fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1 - 2.4 / (4.2 * sum(widths) + 2.6), 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _bars(ax: Any, entries: list[dict[str, Any]], metric: str, colours: Mapping[str, Any]) -> None:
    conditions = list(dict.fromkeys(e["condition"] for e in entries))
    targets = list(dict.fromkeys(e["target"] for e in entries))
    width = 0.8 / len(targets)
    for k, t in enumerate(targets):
        by = {e["condition"]: e for e in entries if e["target"] == t}
        xs = [i + (k - (len(targets) - 1) / 2) * width for i in range(len(conditions))]
        ys = [100 * by[c][metric] if c in by else math.nan for c in conditions]
        err = [100 * by[c][f"{metric}_std"] if c in by else 0.0 for c in conditions]
        ax.bar(xs, ys, width, yerr=err, capsize=1.5, color=colours[t], error_kw={"elinewidth": 0.8})
    ax.set_xticks(range(len(conditions)), conditions, rotation=30, ha="right")
    ax.set_xlabel("modalities present")


def _lines(ax: Any, entries: list[dict[str, Any]], metric: str, colours: Mapping[str, Any]) -> None:
    for target in dict.fromkeys(e["target"] for e in entries):
        pts = sorted((e for e in entries if e["target"] == target), key=curve_position)
        ax.errorbar([curve_position(e) for e in pts], [100 * e[metric] for e in pts],
                    yerr=[100 * e[f"{metric}_std"] for e in pts], marker="o", markersize=3, capsize=2,
                    color=colours[target], linewidth=1.2)
    if entries[0]["kind"] == "feature_noise":
        ax.set_xlabel("level (σ in feature stds)")
    elif any(e.get("severity") is not None for e in entries):  # ranks on the axis, the real levels as labels
        ticks = {curve_position(e): "clean" if e["level"] is None else f"{e['level']:g}" for e in entries}
        ax.set_xticks(list(ticks), list(ticks.values()))
        unit = next((e["unit"] for e in entries if e.get("unit")), None)
        ax.set_xlabel("level, mildest → worst" + (f" ({unit})" if unit else ""))
    else:
        ax.set_xlabel("level")


def write_report(rows: Iterable[Mapping[str, Any]], out_dir: str | Path, *, stem: str = "robustness",
                 title: str | None = None, baseline: str | None = None,
                 meta: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.csv``, ``<stem>.json`` and ``<stem>.png`` into ``out_dir``.

    Returns:
        Format → path written.
    """
    data = check_rows(rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out / f"{stem}.md", "csv": out / f"{stem}.csv", "json": out / f"{stem}.json"}
    paths["markdown"].write_text(to_markdown(data, title=title), encoding="utf-8")
    paths["csv"].write_text(to_csv(data), encoding="utf-8")
    paths["json"].write_text(to_json(data, baseline=baseline, title=title, meta=meta), encoding="utf-8")
    paths["png"] = plot_rows(data, out / f"{stem}.png", title=title)
    return paths
