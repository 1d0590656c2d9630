"""Human-readable views of an :class:`~emofuse.analysis.result.AnalysisResult`.

* :func:`plot_timeline` draws the emotion timeline as a PNG: the fused ``ekman7`` distribution
  over time (with the fusion weights in a thin strip under it), then one panel per modality
  (text, voice, face). Segments where a modality is missing are shown as hatched grey boxes.
* :func:`write_html` writes one self-contained HTML report (inline CSS, the timeline embedded as
  a ``data:`` URI, no scripts, nothing fetched from the network).
* :func:`print_table` prints the per-segment table to a terminal with :mod:`rich`.
* :func:`summary_counts` gives the seconds of media per fused label (for batch summaries).

Colours are fixed per emotion (:data:`EMOTION_COLORS`) and shared by the plot and the HTML.
Matplotlib is imported lazily, only when a plot is drawn (``pip install 'emofuse[plots]'``).

Example:
    >>> from emofuse.analysis.result import AnalysisResult, ModalityResult, SegmentResult
    >>> seg = SegmentResult(index=0, start=0.0, end=2.0, label="happiness", confidence=0.8)
    >>> res = AnalysisResult(source="clip.mp4", kind="video", duration=2.0, segments=[seg])
    >>> summary_counts(res)["happiness"]
    2.0
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emofuse.analysis.result import EKMAN, MODALITY_NAMES, AnalysisResult, ModalityResult, SegmentResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from rich.console import Console

__all__ = [
    "EMOTION_COLORS",
    "MISSING_COLOR",
    "MODALITY_COLORS",
    "MODALITY_DISPLAY",
    "plot_timeline",
    "print_table",
    "summary_counts",
    "write_html",
]

#: One fixed colour per ``ekman7`` emotion, used by every panel of the plot and by the HTML report.
EMOTION_COLORS: dict[str, str] = {
    "anger": "#d62728",
    "disgust": "#6b8e23",
    "fear": "#8e63b5",
    "happiness": "#f2c230",
    "sadness": "#2f7fc1",
    "surprise": "#ff8c1a",
    "neutral": "#a6a6a6",
}
#: Fill and hatch colours of a "modality missing" box.
MISSING_COLOR: tuple[str, str] = ("#f0f0f0", "#b5b5b5")
#: Colours of the modalities in the fusion-weight strip (blue-greys, distinct from the emotions).
MODALITY_COLORS: dict[str, str] = {"text": "#263238", "audio": "#5f7d8c", "face": "#b8c7cf"}
#: How each modality is called in reports (the audio modality is the voice).
MODALITY_DISPLAY: dict[str, str] = {"text": "text", "audio": "voice", "face": "face"}

_FALLBACK_COLOR = "#444444"
_NICE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
_MAX_HTML_ROWS = 5000


# --------------------------------------------------------------------------- small helpers


def _color(label: str | None) -> str:
    return EMOTION_COLORS.get(label or "", _FALLBACK_COLOR)


def _fmt_time(t: float, decimals: int = 1) -> str:
    """Seconds as ``mm:ss.s`` (``h:mm:ss.s`` from one hour on)."""
    t = max(0.0, float(t))
    scale = 10**decimals
    t = round(t * scale) / scale
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    width = 2 + (decimals + 1 if decimals else 0)
    sec = f"{s:0{width}.{decimals}f}"
    return f"{int(h)}:{int(m):02d}:{sec}" if h else f"{int(m):02d}:{sec}"


def _fmt_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{_fmt_time(seconds, 0)} ({seconds:.0f} s)"


def _fmt_conf(label: str | None, conf: float | None) -> str:
    if not label:
        return "—"
    return label if conf is None else f"{label} ({conf:.2f})"


def _weights_text(seg: SegmentResult, sep: str = " · ") -> str:
    parts = [f"{MODALITY_DISPLAY.get(m, m)} {seg.weights[m]:.2f}" for m in MODALITY_NAMES if m in seg.weights]
    parts += [f"{m} {w:.2f}" for m, w in seg.weights.items() if m not in MODALITY_NAMES]
    return sep.join(parts) if parts else "—"


def _index_axis(result: AnalysisResult) -> bool:
    """Whether to plot against the segment index (text input, or no segment has a duration)."""
    if result.kind == "text":
        return True
    if result.segments:
        return all(s.end <= s.start for s in result.segments)
    return result.duration <= 0


def _media_length(result: AnalysisResult) -> float:
    """The media duration, or the end of the last segment when the duration is unknown."""
    return max([result.duration, *(s.end for s in result.segments)])


def _modality(seg: SegmentResult, name: str) -> ModalityResult:
    return seg.modalities.get(name) or ModalityResult.missing("not analysed")


def _mpl_escape(text: str) -> str:
    """Keep matplotlib from reading ``$...$`` in user text (file names, reasons) as mathtext."""
    return text.replace("$", r"\$")


def _title(result: AnalysisResult) -> str:
    name = Path(result.source).name or result.source or "<input>"
    n = len(result.segments)
    if _index_axis(result):
        length = f"{n} segment{'s' if n != 1 else ''}"
    else:
        length = _fmt_duration(_media_length(result))
    dom = result.dominant()
    return f"{name}  —  {result.kind}, {length}  —  dominant: {dom or 'none'}"


def summary_counts(result: AnalysisResult) -> dict[str, float]:
    """Seconds of media per fused label, in ``ekman7`` order (every class present, zeros included).

    Each segment adds its duration to its fused label; segments without a fused label are not
    counted. For text input (all segments zero-length) each segment counts as 1 instead, so the
    values are segment counts.

    Args:
        result: The analysis result.

    Returns:
        ``{class: seconds}`` (or ``{class: segments}`` for text input).
    """
    counts: dict[str, float] = dict.fromkeys(EKMAN, 0.0)
    by_count = bool(result.segments) and all(s.duration <= 0 for s in result.segments)
    for s in result.segments:
        if not s.label:
            continue
        counts[s.label] = counts.get(s.label, 0.0) + (1.0 if by_count else max(0.0, s.duration))
    return {k: round(v, 6) for k, v in counts.items()}


# --------------------------------------------------------------------------- plot


def _matplotlib() -> tuple[Any, Any]:
    """``(Figure, FigureCanvasAgg)``, imported lazily; an ImportError with the install hint otherwise."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("plotting the timeline needs matplotlib: pip install 'emofuse[plots]'") from err
    return Figure, FigureCanvasAgg


def _spans(starts: np.ndarray, ends: np.ndarray, min_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Clean ``[start, end]`` spans for drawing.

    Overlaps are clipped at the next start (spans never go backwards) and gaps narrower than
    ``min_gap`` (less than a pixel) are closed, so dense timelines tile the axis without white
    slivers while real pauses stay empty.
    """
    import numpy as np

    x0 = np.asarray(starts, dtype=float)
    x1 = np.asarray(ends, dtype=float).copy()
    if len(x0) > 1:
        nxt = x0[1:]
        x1[:-1] = np.where((nxt >= x1[:-1]) & (nxt - x1[:-1] < min_gap), nxt, np.minimum(x1[:-1], nxt))
    return x0, np.maximum(x1, x0)


def _rects(ax: Axes, x0: np.ndarray, x1: np.ndarray, y0: Any, y1: Any, **style: Any) -> None:
    """Add many axis-aligned rectangles as ONE compound path patch (fast for thousands of spans).

    Rows whose ``y`` is NaN or whose width or height is zero are skipped.
    """
    import numpy as np
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    x0, x1 = np.asarray(x0, dtype=float), np.asarray(x1, dtype=float)
    y0 = np.broadcast_to(np.asarray(y0, dtype=float), x0.shape)
    y1 = np.broadcast_to(np.asarray(y1, dtype=float), x0.shape)
    keep = np.isfinite(y0) & np.isfinite(y1) & (y1 > y0) & (x1 > x0)
    if not keep.any():
        return
    x0, x1, y0, y1 = x0[keep], x1[keep], y0[keep], y1[keep]
    verts = np.stack([np.stack([x0, y0], 1), np.stack([x1, y0], 1), np.stack([x1, y1], 1),
                      np.stack([x0, y1], 1), np.stack([x0, y0], 1)], axis=1).reshape(-1, 2)
    codes = np.tile(np.asarray([MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO,
                                MplPath.CLOSEPOLY], dtype=MplPath.code_type), len(x0))
    # add_artist, not add_patch: the axes limits are set explicitly, and add_patch would walk every
    # vertex to update them (seconds for long media)
    ax.add_artist(PathPatch(MplPath(verts, codes), **style))


def _draw_stack(ax: Axes, x0: np.ndarray, x1: np.ndarray, probs: np.ndarray) -> None:
    """Stacked ``ekman7`` bars over the spans: one patch per class. NaN rows stay empty."""
    import numpy as np

    cum = np.concatenate([np.zeros((len(probs), 1)), np.cumsum(probs, axis=1)], axis=1)
    for k, cls in enumerate(EKMAN):
        _rects(ax, x0, x1, cum[:, k], cum[:, k + 1], facecolor=_color(cls), linewidth=0, antialiased=False,
               zorder=2)


def _draw_missing(ax: Axes, x0: np.ndarray, x1: np.ndarray, missing: np.ndarray) -> None:
    """Hatched light-grey boxes over the spans whose ``missing`` flag is true."""
    import numpy as np

    missing = np.asarray(missing, dtype=bool)
    if missing.any():
        face, edge = MISSING_COLOR
        _rects(ax, x0[missing], x1[missing], 0.0, 1.0, facecolor=face, edgecolor=edge, hatch="///",
               linewidth=0, zorder=1)


def _panel_note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, _mpl_escape(text), transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="#555555", zorder=5, bbox={"boxstyle": "round,pad=0.3", "facecolor": "white",
                                             "edgecolor": "#cccccc", "alpha": 0.9})


def _time_step(span: float, target: int = 10) -> float:
    for step in _NICE_STEPS:
        if span / step <= target:
            return float(step)
    return float(_NICE_STEPS[-1] * math.ceil(span / (_NICE_STEPS[-1] * target)))


def _setup_time_axis(ax: Axes, span: float) -> str:
    """Tick positions and format for a time axis over ``[0, span]``; returns the axis label."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    step = _time_step(span)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    if span <= 120:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        return "time (s)"
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _fmt_time(v, 0)))
    return "time (mm:ss)" if span < 3600 else "time (h:mm:ss)"


def _face_frames(result: AnalysisResult) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(starts, ends, probs)`` of the per-frame face timeline, or ``None`` without per-frame probs.

    Each frame with a face holds until the next sampled frame (at most two sampling steps), so
    frames without a face leave gaps.
    """
    import numpy as np

    if not any(f.probs is not None and len(f.probs) == len(EKMAN) for f in result.frames):
        return None
    frames = sorted(result.frames, key=lambda f: f.t)
    t = np.asarray([f.t for f in frames], dtype=float)
    diffs = np.diff(t)
    diffs = diffs[diffs > 0]
    dt = float(np.median(diffs)) if len(diffs) else 0.5
    ends = np.minimum(np.append(t[1:], np.inf), t + 2 * dt)
    nan_row = [math.nan] * len(EKMAN)
    probs = np.asarray([f.probs if f.probs is not None and len(f.probs) == len(EKMAN) else nan_row
                        for f in frames], dtype=float)
    return t, ends, probs


def plot_timeline(result: AnalysisResult, path: str | Path | None = None, *, dpi: int = 110) -> Figure:
    """Draw the emotion timeline of a result (and save it as PNG when ``path`` is given).

    Panels, sharing the time axis: ``fused`` (the fused ``ekman7`` distribution as stacked bars,
    one step per segment), a thin ``weights`` strip with the fusion weight of each modality, then
    ``text``, ``voice`` and ``face``. Gaps between segments stay empty; a modality missing on a
    segment is a hatched grey box. The face panel shows the per-frame face timeline
    (``result.frames``) when it holds probabilities. Text input (no durations) is plotted against
    the segment index. The figure is drawn with the Agg canvas and never touches pyplot, and each
    class is one patch per panel, so thousands of segments draw in about a second.

    Args:
        result: The analysis result.
        path: Where to write the PNG (``None``: only return the figure).
        dpi: Resolution of the figure.

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Raises:
        ImportError: matplotlib is not installed.
    """
    figure_cls, canvas_cls = _matplotlib()
    import numpy as np
    from matplotlib.patches import Patch

    width_in = 12.0
    segs = result.segments
    n = len(segs)
    by_index = _index_axis(result)
    if by_index:
        starts = np.arange(n, dtype=float)
        ends = starts + 1.0
        span = float(max(n, 1))
    else:
        starts = np.asarray([s.start for s in segs], dtype=float)
        ends = np.asarray([s.end for s in segs], dtype=float)
        span = _media_length(result)
        span = span if span > 0 else 1.0
    min_gap = span / (width_in * dpi * 0.85)  # about one pixel of the plotting area
    x0, x1 = _spans(starts, ends, min_gap)

    fig = figure_cls(figsize=(width_in, 7.4), dpi=dpi, layout="constrained")
    canvas_cls(fig)
    grid = fig.add_gridspec(5, 1, height_ratios=[1.25, 0.3, 1, 1, 1])
    ax_fused = fig.add_subplot(grid[0])
    axes = {"fused": ax_fused, "weights": fig.add_subplot(grid[1], sharex=ax_fused)}
    for i, m in enumerate(MODALITY_NAMES):
        axes[m] = fig.add_subplot(grid[2 + i], sharex=ax_fused)

    nan_row = [math.nan] * len(EKMAN)
    if n:
        fused = np.asarray([[float(s.probs.get(c, 0.0)) for c in EKMAN] if s.probs else nan_row for s in segs])
        _draw_missing(ax_fused, x0, x1, np.asarray([s.probs is None for s in segs]))
        _draw_stack(ax_fused, x0, x1, fused)
        w = np.asarray([[float(s.weights.get(m, math.nan if not s.weights else 0.0)) for m in MODALITY_NAMES]
                        for s in segs], dtype=float)
        cum = np.concatenate([np.zeros((n, 1)), np.cumsum(w, axis=1)], axis=1)
        for k, m in enumerate(MODALITY_NAMES):
            _rects(axes["weights"], x0, x1, cum[:, k], cum[:, k + 1], facecolor=MODALITY_COLORS[m], linewidth=0,
                   antialiased=False)
        frames = None if by_index else _face_frames(result)
        for m in MODALITY_NAMES:
            ax = axes[m]
            _draw_missing(ax, x0, x1, np.asarray([not _modality(s, m).ok for s in segs]))
            if m == "face" and frames is not None:
                f0, f1 = _spans(frames[0], frames[1], min_gap)
                _draw_stack(ax, f0, f1, frames[2])
            else:
                probs = np.asarray([_modality(s, m).vector() or nan_row for s in segs], dtype=float)
                _draw_stack(ax, x0, x1, probs)
    else:
        _panel_note(ax_fused, "no segments")
    for m, reason in result.modalities.items():
        if m in axes:
            _panel_note(axes[m], f"{MODALITY_DISPLAY.get(m, m)} missing: {reason}")

    names = {"fused": "fused", "weights": "weights", **MODALITY_DISPLAY}
    for key, ax in axes.items():
        ax.set_ylim(0, 1)
        ax.set_xlim(0, span)
        ax.set_ylabel(names[key], rotation=0, ha="right", va="center", fontsize=10,
                      fontweight="bold" if key == "fused" else "normal")
        ax.tick_params(labelsize=8, length=3)
        ax.spines[["top", "right"]].set_visible(False)
        if key == "weights":
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            ax.tick_params(axis="x", length=0)
        else:
            ax.set_yticks([0, 0.5, 1], ["0", ".5", "1"])
        if key != "face":
            ax.tick_params(labelbottom=False)
    bottom = axes["face"]
    if by_index:
        from matplotlib.ticker import MaxNLocator

        bottom.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
        bottom.set_xlabel("segment", fontsize=9)
    else:
        bottom.set_xlabel(_setup_time_axis(bottom, span), fontsize=9)

    face, edge = MISSING_COLOR
    handles = [Patch(facecolor=_color(c), label=c) for c in EKMAN]
    handles.append(Patch(facecolor=face, edgecolor=edge, hatch="///", label="missing"))
    handles += [Patch(facecolor=MODALITY_COLORS[m], label=f"{MODALITY_DISPLAY[m]} weight") for m in MODALITY_NAMES]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8.5, frameon=False,
               handlelength=1.4, columnspacing=1.2)
    fig.suptitle(_mpl_escape(_title(result)), fontsize=12)

    if path is not None:
        fig.savefig(Path(path), format="png", dpi=dpi, facecolor="white")
    return fig


def _png_bytes(result: AnalysisResult, dpi: int = 110) -> bytes:
    fig = plot_timeline(result, dpi=dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML

_CSS = """
:root { --fg: #222; --muted: #888; --line: #e3e3e3; --bg-alt: #fafafa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--fg); margin: 0 auto; padding: 24px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 4px; word-break: break-all; }
h3 { font-size: 14px; margin: 8px 0 4px; color: #555; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.sub { color: var(--muted); margin-bottom: 14px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px;
          margin-right: 4px; border: 1px solid rgba(0,0,0,.15); }
.legend span.item { margin-right: 14px; white-space: nowrap; }
.swatch.missing { background: repeating-linear-gradient(45deg, #f0f0f0 0 3px, #b5b5b5 3px 4px); }
ul.warn { margin: 4px 0; padding-left: 20px; color: #8a5a00; }
img.timeline { max-width: 100%; height: auto; border: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { background: #f3f3f3; position: sticky; top: 0; font-weight: 600; }
tbody tr:nth-child(even) { background: var(--bg-alt); }
td.num, td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.text { max-width: 420px; }
td.w { white-space: nowrap; font-size: 12px; color: #555; }
.lab { white-space: nowrap; }
.bar { height: 5px; background: #eee; border-radius: 2px; margin-top: 3px; width: 90px; }
.bar > div { height: 100%; border-radius: 2px; }
.missing { color: var(--muted); font-style: italic; font-size: 12px; }
.note { color: #8a5a00; margin: 8px 0; }
table.kv { width: auto; min-width: 320px; }
table.kv td:first-child { color: var(--muted); padding-right: 24px; }
.cols { display: flex; flex-wrap: wrap; gap: 32px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
         padding-top: 8px; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _swatch(label: str | None) -> str:
    return f'<span class="swatch" style="background:{_color(label)}"></span>'


def _label_cell(label: str | None, conf: float | None) -> str:
    """A label with its confidence and a small bar in the label's colour."""
    if not label:
        return '<span class="missing">—</span>'
    pct = 0.0 if conf is None else max(0.0, min(1.0, float(conf))) * 100
    conf_txt = "" if conf is None else f" {float(conf):.2f}"
    return (f'<span class="lab">{_swatch(label)}{_esc(label)}{conf_txt}</span>'
            f'<div class="bar"><div style="width:{pct:.0f}%;background:{_color(label)}"></div></div>')


def _modality_cell(r: ModalityResult) -> str:
    if not r.ok:
        return f'<span class="missing">missing: {_esc(r.reason or "missing")}</span>'
    return _label_cell(r.label, r.confidence)


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


def _kv_table(rows: Sequence[tuple[str, Any]]) -> str:
    if not rows:
        return '<p class="missing">none recorded</p>'
    body = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _value_text(v: Any) -> str:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, float):
        return f"{v:g}"
    return "—" if v is None else str(v)


def _modality_summary(result: AnalysisResult) -> list[str]:
    """One HTML line per modality: present on how many segments, or missing with the reason."""
    n = len(result.segments)
    lines = []
    for m in MODALITY_NAMES:
        name = _esc(MODALITY_DISPLAY[m])
        if m in result.modalities:
            lines.append(f'<b>{name}</b>: <span class="missing">missing for the whole input: '
                         f"{_esc(result.modalities[m])}</span>")
            continue
        ok = sum(_modality(s, m).ok for s in result.segments)
        reasons: dict[str, int] = {}
        for s in result.segments:
            r = _modality(s, m)
            if not r.ok:
                reasons[r.reason or "missing"] = reasons.get(r.reason or "missing", 0) + 1
        line = f"<b>{name}</b>: present on {ok}/{n} segments"
        if reasons:
            top = sorted(reasons.items(), key=lambda kv: -kv[1])[:3]
            more = "" if len(reasons) <= 3 else f"; {len(reasons) - 3} other reasons"
            line += ' <span class="missing">(missing: ' + "; ".join(
                f"{_esc(r)} ×{c}" for r, c in top) + more + ")</span>"
        lines.append(line)
    return lines


def write_html(result: AnalysisResult, path: str | Path, *, max_rows: int = _MAX_HTML_ROWS) -> Path:
    """Write a single self-contained HTML report of a result.

    The page holds a header (input, kind, duration, dominant emotion, per-modality availability
    with reasons, warnings), the timeline PNG embedded as a ``data:`` URI, the emotion colour
    legend, the per-segment table (time, transcript, fused label and confidence, each modality's
    label or why it is missing, fusion weights; at most ``max_rows`` rows), the settings and
    timings. It has inline CSS only: no scripts, fonts, or anything loaded from the network.
    All text from the input is HTML-escaped. When matplotlib is missing the page is written
    without the timeline image.

    Args:
        result: The analysis result.
        path: The ``.html`` file to write.
        max_rows: Most table rows to write (a note says when the table was cut).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    segs = result.segments
    by_index = _index_axis(result)
    name = Path(result.source).name or result.source or "<input>"
    dom = result.dominant()

    try:
        png = base64.b64encode(_png_bytes(result)).decode("ascii")
        timeline = (f'<img class="timeline" alt="emotion timeline" '
                    f'src="data:image/png;base64,{png}">')
    except ImportError as err:
        timeline = f'<p class="note">Timeline not drawn: {_esc(err)}</p>'

    legend = "".join(f'<span class="item">{_swatch(c)}{_esc(c)}</span>' for c in EKMAN)
    legend += '<span class="item"><span class="swatch missing"></span>missing modality</span>'

    counts = summary_counts(result)
    total = sum(counts.values())
    share = "—"
    if total:
        amount = (lambda v: f"{v:.0f}") if by_index else (lambda v: f"{v:.1f} s")
        share = " · ".join(f"{_swatch(c)}{_esc(c)} {amount(v)} ({100 * v / total:.0f}%)"
                           for c, v in sorted(counts.items(), key=lambda kv: -kv[1]) if v > 0)

    length = f"{len(segs)} segments" if by_index else _fmt_duration(_media_length(result))
    meta = [
        ("input", _esc(result.source)),
        ("kind", _esc(result.kind)),
        ("duration" if not by_index else "length", _esc(length) + ("" if by_index else f", {len(segs)} segments")),
        ("dominant emotion", f"{_swatch(dom)}<b>{_esc(dom)}</b>" if dom else '<span class="missing">none</span>'),
        ("fused labels", share),
        ("modalities", "<br>".join(_modality_summary(result))),
    ]
    if result.faces:
        meta.append(("faces", "<br>".join(
            _esc(f"{'main face' if f.get('main') else 'face'} #{f.get('id')}: {f.get('first', 0):.1f}–"
                 f"{f.get('last', 0):.1f} s, {f.get('n_frames', 0)} sampled frames, "
                 f"~{f.get('mean_face_px', 0):.0f} px") for f in result.faces[:10])
            + (f"<br>… {len(result.faces) - 10} more" if len(result.faces) > 10 else "")))
    meta_html = "".join(f"<dt>{_esc(k)}</dt><dd>{v}</dd>" for k, v in meta)
    warn_html = ""
    if result.warnings:
        items = "".join(f"<li>{_esc(w)}</li>" for w in result.warnings)
        warn_html = f'<h2>Warnings ({len(result.warnings)})</h2><ul class="warn">{items}</ul>'

    shown = segs[:max_rows]
    rows = []
    for s in shown:
        time = f"#{s.index}" if by_index else f"{_fmt_time(s.start)}–{_fmt_time(s.end)}"
        text = _esc(s.text) if s.text else '<span class="missing">—</span>'
        mods = "".join(f"<td>{_modality_cell(_modality(s, m))}</td>" for m in MODALITY_NAMES)
        rows.append(f'<tr><td class="time">{_esc(time)}</td><td class="text">{text}</td>'
                    f"<td>{_label_cell(s.label, s.confidence)}</td>{mods}"
                    f'<td class="w">{_esc(_weights_text(s))}</td></tr>')
    head = "".join(f"<th>{_esc(h)}</th>" for h in
                   ["segment" if by_index else "time", "text", "fused",
                    *(MODALITY_DISPLAY[m] for m in MODALITY_NAMES), "fusion weights"])
    trunc = ""
    if len(segs) > len(shown):
        trunc = (f'<p class="note">Table cut at {len(shown)} of {len(segs)} segments; the JSON, CSV and Parquet '
                 "outputs hold every segment.</p>")
    table = (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>" if segs
             else '<p class="missing">No segments.</p>')

    settings = _kv_table([(k, _value_text(v)) for k, v in _flatten(result.config)])
    timings = _kv_table([(k, f"{v:.2f}×" if k == "realtime_factor" else f"{v:.2f} s")
                         for k, v in result.timings.items() if isinstance(v, (int, float))])
    media = _kv_table([(k, _value_text(v)) for k, v in _flatten(result.media)])
    version = f" {result.version}" if result.version else ""

    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(name)} — emofuse analysis</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{_esc(name)}</h1>
<div class="sub">emofuse emotion analysis</div>
<dl class="meta">{meta_html}</dl>
</header>
{warn_html}
<h2>Timeline</h2>
{timeline}
<div class="legend">{legend}</div>
<h2>Segments ({len(segs)})</h2>
{trunc}
{table}
<h2>Settings</h2>
<div class="cols">
<div><h3>Configuration</h3>{settings}</div>
<div><h3>Timings</h3>{timings}</div>
<div><h3>Media</h3>{media}</div>
</div>
<footer>Produced by emofuse{_esc(version)}. The analysis ran locally on this machine; nothing was sent
anywhere. This page is self-contained: it loads no scripts, fonts or images from the network.</footer>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- terminal


def _truncate(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def print_table(result: AnalysisResult, console: Console | None = None, max_rows: int = 50) -> None:
    """Print the per-segment table and a one-line summary to a terminal.

    Columns: time span (or segment number for text input), the text (cut at 50 characters, less
    on narrow terminals), the fused label with its confidence, the text / voice / face labels
    with confidence (``—`` when the modality is missing on the segment) and the fusion weights.
    Modalities missing for the whole input get no column (the summary line names them). With
    more than ``max_rows`` segments the first and last rows are shown around an ellipsis row.
    User text is never read as rich markup.

    Args:
        result: The analysis result.
        console: Where to print (a new :class:`rich.console.Console` when ``None``).
        max_rows: Most segment rows to show.
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    segs = result.segments
    by_index = _index_axis(result)
    mods = [m for m in MODALITY_NAMES if m not in result.modalities]

    max_rows = max(1, int(max_rows))
    if len(segs) <= max_rows:
        shown: list[SegmentResult | None] = list(segs)
    else:
        head = (max_rows + 1) // 2
        shown = [*segs[:head], None, *segs[len(segs) - (max_rows - head):]]

    def when(s: SegmentResult) -> str:
        return str(s.index) if by_index else f"{_fmt_time(s.start)}–{_fmt_time(s.end)}"

    # widest layout that leaves the text column at least 20 characters; the text column gives way first
    time_w = max([len(when(s)) for s in shown if s is not None] + [1 if by_index else 4])
    weights_head = "weights " + "/".join(MODALITY_DISPLAY[m][0] for m in mods)
    weights_w = max(len(weights_head), 5 * len(mods) - 1)
    layouts = ((True, True), (True, False), (False, False))
    for show_conf, show_weights in layouts:
        show_weights = show_weights and len(mods) > 1  # one modality always weighs 1
        lab_w = 16 if show_conf else 9
        ncols = 3 + len(mods) + show_weights
        text_w = console.width - (time_w + 16 + lab_w * len(mods) + weights_w * show_weights) - 2 * (ncols - 1)
        if text_w >= 20:
            break
    text_w = max(8, min(50, text_w))

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, padding=(0, 1))
    table.add_column("#" if by_index else "time", no_wrap=True, style="dim", min_width=time_w)
    table.add_column("text", no_wrap=True, max_width=text_w, overflow="ellipsis")
    table.add_column("fused", no_wrap=True, min_width=16)
    for m in mods:
        table.add_column(MODALITY_DISPLAY[m], no_wrap=True, min_width=lab_w)
    if show_weights:
        table.add_column(weights_head, no_wrap=True, style="dim", min_width=weights_w)

    def label_text(label: str | None, conf: float | None, with_conf: bool = True, bold: bool = False) -> Text:
        if not label:
            return Text("—", style="dim")
        style = _color(label) + (" bold" if bold else "")
        return Text(_fmt_conf(label, conf) if with_conf else label, style=style)

    def row(s: SegmentResult) -> list[Text]:
        cells = [Text(when(s)), Text(_truncate(s.text, text_w)),
                 label_text(s.label, s.confidence, bold=True)]
        for m in mods:
            r = _modality(s, m)
            cells.append(label_text(r.label, r.confidence, show_conf) if r.ok else Text("—", style="dim"))
        if show_weights:
            w = "/".join(f"{s.weights[m]:.2f}" if m in s.weights else "—" for m in mods) if s.weights else "—"
            cells.append(Text(w))
        return cells

    for s in shown:
        if s is None:
            table.add_row(Text("…"), Text(f"… {len(segs) - max_rows} more segments …", style="dim italic"),
                          *[Text("…", style="dim")] * (1 + len(mods) + show_weights))
        else:
            table.add_row(*row(s))
    if segs:
        console.print(table)

    dom = result.dominant()
    summary = Text()
    summary.append(f"{len(segs)} segment{'s' if len(segs) != 1 else ''}")
    if not by_index:
        summary.append(f" over {_fmt_duration(_media_length(result))}")
    summary.append(" · dominant: ")
    summary.append(dom or "none", style=f"bold {_color(dom)}" if dom else "dim")
    missing = []
    for m in MODALITY_NAMES:
        if m in result.modalities:
            missing.append(f"{MODALITY_DISPLAY[m]} ({result.modalities[m]})")
        elif segs:
            k = sum(not _modality(s, m).ok for s in segs)
            if k:
                missing.append(f"{MODALITY_DISPLAY[m]} on {k}/{len(segs)} segments")
    summary.append(" · missing: " + ("; ".join(missing) if missing else "none"))
    console.print(summary)
