"""The per-segment table of an analysis result, printed to a terminal with :mod:`rich`.

One column per modality the result holds
(:meth:`~emofuse.analysis.result.AnalysisResult.modality_names`) that is not missing for the
whole input; user text is never read as rich markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from emofuse.analysis.report_common import (
    color,
    display_name,
    fmt_conf,
    fmt_duration,
    fmt_time,
    index_axis,
    media_length,
    modality,
    shown_modalities,
)
from emofuse.analysis.result import AnalysisResult, SegmentResult

if TYPE_CHECKING:  # pragma: no cover - typing only
    from rich.console import Console

__all__ = ["print_table"]


def _truncate(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def print_table(result: AnalysisResult, console: Console | None = None, max_rows: int = 50) -> None:
    """Print the per-segment table and a one-line summary to a terminal.

    Columns: time span (or segment number for text input), the text (cut at 50 characters, less
    on narrow terminals), the fused label with its confidence, each modality's label (text /
    voice / face / physio, those the result holds) with confidence (``—`` when the modality is
    missing on the segment) and the fusion weights.
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
    by_index = index_axis(result)
    mods = list(shown_modalities(result))

    max_rows = max(1, int(max_rows))
    if len(segs) <= max_rows:
        shown: list[SegmentResult | None] = list(segs)
    else:
        head = (max_rows + 1) // 2
        shown = [*segs[:head], None, *segs[len(segs) - (max_rows - head):]]

    def when(s: SegmentResult) -> str:
        return str(s.index) if by_index else f"{fmt_time(s.start)}–{fmt_time(s.end)}"

    # widest layout that leaves the text column at least 20 characters; the text column gives way first
    time_w = max([len(when(s)) for s in shown if s is not None] + [1 if by_index else 4])
    weights_head = "weights " + "/".join(display_name(m)[0] for m in mods)
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
        table.add_column(display_name(m), no_wrap=True, min_width=lab_w)
    if show_weights:
        table.add_column(weights_head, no_wrap=True, style="dim", min_width=weights_w)

    def label_text(label: str | None, conf: float | None, with_conf: bool = True, bold: bool = False) -> Text:
        if not label:
            return Text("—", style="dim")
        style = color(label) + (" bold" if bold else "")
        return Text(fmt_conf(label, conf) if with_conf else label, style=style)

    def row(s: SegmentResult) -> list[Text]:
        cells = [Text(when(s)), Text(_truncate(s.text, text_w)),
                 label_text(s.label, s.confidence, bold=True)]
        for m in mods:
            r = modality(s, m)
            cells.append(label_text(*r.shown, show_conf) if r.ok else Text("—", style="dim"))
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
        summary.append(f" over {fmt_duration(media_length(result))}")
    summary.append(" · dominant: ")
    summary.append(dom or "none", style=f"bold {color(dom)}" if dom else "dim")
    missing = []
    for m in result.modality_names():
        if m in result.modalities:
            missing.append(f"{display_name(m)} ({result.modalities[m]})")
        elif segs:
            k = sum(not modality(s, m).ok for s in segs)
            if k:
                missing.append(f"{display_name(m)} on {k}/{len(segs)} segments")
    summary.append(" · missing: " + ("; ".join(missing) if missing else "none"))
    console.print(summary)
