"""What the report views share: the colours, the time and label formats, the label seconds.

The timeline (:mod:`emofuse.analysis.timeline`), the HTML report
(:mod:`emofuse.analysis.report_html`) and the terminal table (:mod:`emofuse.analysis.table`)
read their colours and formats from here, so the three views agree. Modalities are named with
:data:`emofuse.modalities.DISPLAY_NAMES` (the audio modality reads as ``voice``); a view lists
the modalities a result holds (:meth:`~emofuse.analysis.result.AnalysisResult.modality_names`)
less those the input does not have (:func:`shown_modalities`: an audio file has no face row,
column or panel; the reason is said once), so a fourth modality (``physio``) gets its row,
panel and column without a change here.

The emotion colours are the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design"),
which stays distinguishable with red–green and blue–yellow colour blindness (the earlier
tab10-like palette showed anger and disgust in nearly one colour to deuteranopes). Neutral is a
dark grey, clear of the hatched light grey of a missing modality.

Example:
    >>> from emofuse.analysis.result import AnalysisResult, SegmentResult
    >>> seg = SegmentResult(index=0, start=0.0, end=2.0, label="happiness", confidence=0.8)
    >>> res = AnalysisResult(source="clip.mp4", kind="video", duration=2.0, segments=[seg])
    >>> summary_counts(res)["happiness"]
    2.0
    >>> fmt_time(75.25)
    '01:15.2'
"""

from __future__ import annotations

from pathlib import Path

from emofuse.analysis.result import EKMAN, AnalysisResult, ModalityResult, SegmentResult
from emofuse.modalities import DISPLAY_NAMES

__all__ = [
    "EMOTION_COLORS",
    "MISSING_COLOR",
    "MODALITY_COLORS",
    "MODALITY_DISPLAY",
    "display_name",
    "fmt_time",
    "modality_color",
    "shown_modalities",
    "summary_counts",
]

#: One fixed colour per ``ekman7`` emotion (Okabe–Ito, colour-blind safe), used by every panel of
#: the plot, the HTML report and the terminal table.
EMOTION_COLORS: dict[str, str] = {
    "anger": "#d55e00",
    "disgust": "#009e73",
    "fear": "#cc79a7",
    "happiness": "#f0e442",
    "sadness": "#0072b2",
    "surprise": "#e69f00",
    "neutral": "#666666",
}
#: Colours of native states shown instead of an Ekman label (the physio expert's WESAD conditions):
#: calm and amusement as their Ekman routes, stress in the one Okabe–Ito colour the emotions leave free.
STATE_COLORS: dict[str, str] = {"baseline": "#666666", "amusement": "#f0e442", "stress": "#56b4e9"}
#: Fill and hatch colours of a "modality missing" box.
MISSING_COLOR: tuple[str, str] = ("#f0f0f0", "#b5b5b5")
#: Colours of the modalities in the fusion-weight strip (blue-greys, distinct from the emotions).
MODALITY_COLORS: dict[str, str] = {"text": "#263238", "audio": "#5f7d8c", "face": "#b8c7cf", "physio": "#8d6e63"}
#: How each modality is called in reports (the one table, :data:`emofuse.modalities.DISPLAY_NAMES`).
MODALITY_DISPLAY: dict[str, str] = DISPLAY_NAMES

_FALLBACK_COLOR = "#444444"
# weight-strip colours of modalities outside MODALITY_COLORS (a feature set's own "eeg")
_EXTRA_MODALITY_COLORS = ("#4e6e58", "#7a5c8a", "#9c7a3c", "#3c6e9c")


def display_name(modality: str) -> str:
    """What people read for ``modality`` (``audio`` → ``voice``; unknown names as they are)."""
    return MODALITY_DISPLAY.get(modality, modality)


def modality_color(modality: str, position: int = 0) -> str:
    """The weight-strip colour of ``modality`` (``position`` picks one for modalities without their own)."""
    return MODALITY_COLORS.get(modality) or _EXTRA_MODALITY_COLORS[position % len(_EXTRA_MODALITY_COLORS)]


def color(label: str | None) -> str:
    """The colour of an emotion label (dark grey for none or an unknown label)."""
    return EMOTION_COLORS.get(label or "", STATE_COLORS.get(label or "", _FALLBACK_COLOR))


def fmt_time(t: float, decimals: int = 1) -> str:
    """Seconds as ``mm:ss.s`` (``h:mm:ss.s`` from one hour on)."""
    t = max(0.0, float(t))
    scale = 10**decimals
    t = round(t * scale) / scale
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    width = 2 + (decimals + 1 if decimals else 0)
    sec = f"{s:0{width}.{decimals}f}"
    return f"{int(h)}:{int(m):02d}:{sec}" if h else f"{int(m):02d}:{sec}"


def fmt_duration(seconds: float) -> str:
    """A duration: ``12.3 s`` under a minute, ``mm:ss (N s)`` from one on."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{fmt_time(seconds, 0)} ({seconds:.0f} s)"


def fmt_conf(label: str | None, conf: float | None) -> str:
    """``label (0.81)``; ``—`` without a label."""
    if not label:
        return "—"
    return label if conf is None else f"{label} ({conf:.2f})"


def weights_text(result: AnalysisResult, seg: SegmentResult, sep: str = " · ") -> str:
    """The fusion weights of a segment as ``text 0.40 · voice 0.25 · face 0.35``."""
    order = result.modality_names()
    parts = [f"{display_name(m)} {seg.weights[m]:.2f}" for m in order if m in seg.weights]
    parts += [f"{m} {w:.2f}" for m, w in seg.weights.items() if m not in order]
    return sep.join(parts) if parts else "—"


def index_axis(result: AnalysisResult) -> bool:
    """Whether to show the segment index instead of time (text input, or no segment has a duration)."""
    if result.kind == "text":
        return True
    if result.segments:
        return all(s.end <= s.start for s in result.segments)
    return result.duration <= 0


def media_length(result: AnalysisResult) -> float:
    """The media duration, or the end of the last segment when the duration is unknown."""
    return max([result.duration, *(s.end for s in result.segments)])


def shown_modalities(result: AnalysisResult) -> tuple[str, ...]:
    """The modalities a view gives a row, column or panel: those of the result the input has.

    A modality missing for the whole input (``result.modalities``: no video stream in an audio
    file, no voice in a text) is left out; views name it once with its reason instead. One
    that is present but missing on some segments stays, with the reason on those segments.
    """
    return tuple(m for m in result.modality_names() if m not in result.modalities)


def modality(seg: SegmentResult, name: str) -> ModalityResult:
    """The segment's result for modality ``name`` (missing, "not analysed", when it has none)."""
    return seg.modalities.get(name) or ModalityResult.missing("not analysed")


def title(result: AnalysisResult) -> str:
    """``clip.mp4  —  video, 34.7 s  —  dominant: happiness``."""
    name = Path(result.source).name or result.source or "<input>"
    n = len(result.segments)
    if index_axis(result):
        length = f"{n} segment{'s' if n != 1 else ''}"
    else:
        length = fmt_duration(media_length(result))
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
