"""The emotion timeline of an analysis result as a PNG (matplotlib, Agg canvas, no pyplot).

:func:`plot_timeline` draws the fused ``ekman7`` distribution over time (with the fusion weights
in a thin strip under it), then one panel per modality the input has (text, voice, face, and
physio when present; :func:`~emofuse.analysis.report_common.shown_modalities`): a modality the
input lacks (no video stream, no voice in a text) is named once, with its reason, above the plot.
Segments where a modality is missing are shown as hatched grey boxes.
Matplotlib is imported lazily, only when a plot is drawn (``pip install 'emofuse[plots]'``).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emofuse.analysis.report_common import (
    MISSING_COLOR,
    color,
    display_name,
    fmt_time,
    index_axis,
    media_length,
    modality,
    modality_color,
    shown_modalities,
    title,
)
from emofuse.analysis.result import EKMAN, AnalysisResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_timeline", "png_bytes"]

_NICE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
# figure height: 7.4 in for the fused panel, the weight strip and three modality panels; each
# further modality panel adds this much
_BASE_HEIGHT_IN, _PANEL_HEIGHT_IN = 7.4, 1.4
# never lower than with one modality panel (the legend and the title need the room)
_MIN_HEIGHT_IN = _BASE_HEIGHT_IN - 2 * _PANEL_HEIGHT_IN


def _mpl_escape(text: str) -> str:
    """Keep matplotlib from reading ``$...$`` in user text (file names, reasons) as mathtext."""
    return text.replace("$", r"\$")


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


def _draw_stack(ax: Axes, x0: np.ndarray, x1: np.ndarray, probs: np.ndarray,
                classes: tuple[str, ...] = EKMAN) -> None:
    """Stacked bars over the spans, one patch per class (``ekman7`` unless the modality has its own).

    NaN rows stay empty.
    """
    import numpy as np

    cum = np.concatenate([np.zeros((len(probs), 1)), np.cumsum(probs, axis=1)], axis=1)
    for k, cls in enumerate(classes):
        _rects(ax, x0, x1, cum[:, k], cum[:, k + 1], facecolor=color(cls), linewidth=0, antialiased=False,
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
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt_time(v, 0)))
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


def plot_timeline(result: AnalysisResult, path: str | Path | None = None, *, dpi: int = 110,
                  legend: bool = True) -> Figure:
    """Draw the emotion timeline of a result (and save it as PNG when ``path`` is given).

    Panels, sharing the time axis: ``fused`` (the fused ``ekman7`` distribution as stacked bars,
    one step per segment), a thin ``weights`` strip with the fusion weight of each modality, then
    one panel per modality the input has (:func:`~emofuse.analysis.report_common.shown_modalities`:
    ``text``, ``voice``, ``face``, ``physio``...; those missing for the whole input are named above the
    fused panel). Gaps between segments stay empty; a modality missing on a
    segment is a hatched grey box. The face panel shows the per-frame face timeline
    (``result.frames``) when it holds probabilities. Text input (no durations) is plotted against
    the segment index. The figure is drawn with the Agg canvas and never touches pyplot, and each
    class is one patch per panel, so thousands of segments draw in about a second.

    Args:
        result: The analysis result.
        path: Where to write the PNG (``None``: only return the figure).
        dpi: Resolution of the figure.
        legend: Draw the colour legend under the panels (the HTML report draws its one legend
            itself and embeds the plot without it).

    Returns:
        The :class:`matplotlib.figure.Figure`.

    Raises:
        ImportError: matplotlib is not installed.
    """
    figure_cls, canvas_cls = _matplotlib()
    import numpy as np
    from matplotlib.patches import Patch

    width_in = 12.0
    mods = shown_modalities(result)
    segs = result.segments
    n = len(segs)
    by_index = index_axis(result)
    if by_index:
        starts = np.arange(n, dtype=float)
        ends = starts + 1.0
        span = float(max(n, 1))
    else:
        starts = np.asarray([s.start for s in segs], dtype=float)
        ends = np.asarray([s.end for s in segs], dtype=float)
        span = media_length(result)
        span = span if span > 0 else 1.0
    min_gap = span / (width_in * dpi * 0.85)  # about one pixel of the plotting area
    x0, x1 = _spans(starts, ends, min_gap)

    height_in = max(_MIN_HEIGHT_IN, _BASE_HEIGHT_IN + _PANEL_HEIGHT_IN * (len(mods) - 3) - 0.5 * (not legend))
    fig = figure_cls(figsize=(width_in, height_in), dpi=dpi, layout="constrained")
    canvas_cls(fig)
    grid = fig.add_gridspec(2 + len(mods), 1, height_ratios=[1.25, 0.3, *([1] * len(mods))])
    ax_fused = fig.add_subplot(grid[0])
    axes = {"fused": ax_fused, "weights": fig.add_subplot(grid[1], sharex=ax_fused)}
    panels = {m: fig.add_subplot(grid[2 + i], sharex=ax_fused) for i, m in enumerate(mods)}

    nan_row = [math.nan] * len(EKMAN)
    states: list[str] = []  # native classes drawn (legend)
    if n:
        fused = np.asarray([[float(s.probs.get(c, 0.0)) for c in EKMAN] if s.probs else nan_row for s in segs])
        _draw_missing(ax_fused, x0, x1, np.asarray([s.probs is None for s in segs]))
        _draw_stack(ax_fused, x0, x1, fused)
        w = np.asarray([[float(s.weights.get(m, math.nan if not s.weights else 0.0)) for m in mods]
                        for s in segs], dtype=float)
        cum = np.concatenate([np.zeros((n, 1)), np.cumsum(w, axis=1)], axis=1)
        for k, m in enumerate(mods):
            _rects(axes["weights"], x0, x1, cum[:, k], cum[:, k + 1], facecolor=modality_color(m, k), linewidth=0,
                   antialiased=False)
        frames = None if by_index else _face_frames(result)
        for m, ax in panels.items():
            _draw_missing(ax, x0, x1, np.asarray([not modality(s, m).ok for s in segs]))
            if m == "face" and frames is not None:
                f0, f1 = _spans(frames[0], frames[1], min_gap)
                _draw_stack(ax, f0, f1, frames[2])
            else:
                native = next((modality(s, m).native for s in segs if modality(s, m).native), None)
                if native:  # the expert's own states (physio: baseline / stress / amusement), as the table shows
                    own = tuple(native)
                    nan_own = [math.nan] * len(own)
                    probs = np.asarray([[modality(s, m).native.get(c, 0.0) for c in own] if modality(s, m).native
                                        else nan_own for s in segs], dtype=float)
                    _draw_stack(ax, x0, x1, probs, own)
                    states.extend(c for c in own if c not in states)
                else:
                    probs = np.asarray([modality(s, m).vector() or nan_row for s in segs], dtype=float)
                    _draw_stack(ax, x0, x1, probs)
    else:
        _panel_note(ax_fused, "no segments")
    absent = [f"{display_name(m)} ({reason})" for m, reason in result.modalities.items()]
    if absent:
        ax_fused.set_title(_mpl_escape("not analysed: " + " · ".join(absent)), loc="left", fontsize=8.5,
                           color="#555555")

    names = {"fused": "fused", "weights": "weights", **{m: display_name(m) for m in mods}}
    axes.update(panels)
    bottom_key = list(axes)[-1]
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
        if key != bottom_key:
            ax.tick_params(labelbottom=False)
    bottom = axes[bottom_key]
    if by_index:
        from matplotlib.ticker import MaxNLocator

        bottom.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
        bottom.set_xlabel("segment", fontsize=9)
    else:
        bottom.set_xlabel(_setup_time_axis(bottom, span), fontsize=9)

    if legend:
        face, edge = MISSING_COLOR
        handles = [Patch(facecolor=color(c), label=c) for c in EKMAN]
        handles += [Patch(facecolor=color(c), label=c) for c in states if c not in EKMAN]
        handles.append(Patch(facecolor=face, edgecolor=edge, hatch="///", label="missing"))
        handles += [Patch(facecolor=modality_color(m, k), label=f"{display_name(m)} weight")
                    for k, m in enumerate(mods)]
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8.5, frameon=False,
                   handlelength=1.4, columnspacing=1.2)
    fig.suptitle(_mpl_escape(title(result)), fontsize=12)

    if path is not None:
        fig.savefig(Path(path), format="png", dpi=dpi, facecolor="white")
    return fig


def png_bytes(result: AnalysisResult, dpi: int = 110, *, legend: bool = True) -> bytes:
    """The timeline PNG as bytes (for embedding; ``legend`` as in :func:`plot_timeline`).

    Raises:
        ImportError: matplotlib is not installed.
    """
    fig = plot_timeline(result, dpi=dpi, legend=legend)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()
