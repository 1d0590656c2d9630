"""Human-readable views of an :class:`~emofuse.analysis.result.AnalysisResult`, in one namespace.

* :func:`plot_timeline` (:mod:`emofuse.analysis.timeline`) draws the emotion timeline as a PNG:
  the fused ``ekman7`` distribution over time (with the fusion weights in a thin strip under
  it), then one panel per modality. Segments where a modality is missing are hatched grey boxes.
* :func:`write_html` (:mod:`emofuse.analysis.report_html`) writes one self-contained HTML report
  (inline CSS, the timeline embedded as a ``data:`` URI, no scripts, nothing fetched).
* :func:`print_table` (:mod:`emofuse.analysis.table`) prints the per-segment table with :mod:`rich`.
* :func:`summary_counts` (:mod:`emofuse.analysis.report_common`) gives the seconds of media per
  fused label (for batch summaries).

Colours are fixed per emotion (:data:`EMOTION_COLORS`) and shared by the plot and the HTML.
Matplotlib is imported lazily, only when a plot is drawn (``pip install 'emofuse[plots]'``).
The files ``emofuse analyze`` writes come from the registry in :mod:`emofuse.analysis.writers`.

Example:
    >>> from emofuse.analysis.result import AnalysisResult, ModalityResult, SegmentResult
    >>> seg = SegmentResult(index=0, start=0.0, end=2.0, label="happiness", confidence=0.8)
    >>> res = AnalysisResult(source="clip.mp4", kind="video", duration=2.0, segments=[seg])
    >>> summary_counts(res)["happiness"]
    2.0
"""

from __future__ import annotations

from emofuse.analysis.report_common import (
    EMOTION_COLORS,
    MISSING_COLOR,
    MODALITY_COLORS,
    MODALITY_DISPLAY,
    summary_counts,
)
from emofuse.analysis.report_html import write_html
from emofuse.analysis.table import print_table
from emofuse.analysis.timeline import plot_timeline

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
