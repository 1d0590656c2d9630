"""HTML of the within-modality evidence (the analysis's ``explain`` setting) for the report.

* :func:`highlighted_text` — a segment's words with each word's attribution as its background:
  the reading's label colour for words that raised the label, grey for words that lowered it,
  the strength proportional to ``|score|`` over the segment's largest ``|score|``; each word's
  score is in its tooltip;
* :func:`evidence_note` — one short line under a modality's label: the voice stretch whose
  silencing lowered the label most and the prosody (pitch, energy, voiced share), or the face
  frames that showed the label most clearly, with their heat-map overlays where the analysis
  kept face pictures (``thumbnails``).

Only what :attr:`~emofuse.analysis.result.ModalityResult.evidence` holds is shown.
"""

from __future__ import annotations

import html
from typing import Any

from emofuse.analysis.result import ModalityResult

__all__ = ["EVIDENCE_CSS", "evidence_note", "highlighted_text"]

EVIDENCE_CSS = """
span.w { border-radius: 3px; padding: 0 1px; }
div.ev { color: var(--muted); font-size: 11px; margin-top: 3px; clear: both; }
img.heat { width: 48px; height: 48px; border-radius: 3px; margin: 2px 4px 0 0; border: 1px solid var(--line); }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    if len(h) != 6:
        return f"rgba(128,128,128,{alpha:.2f})"
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:.2f})"


def highlighted_text(text: str, r: ModalityResult | None, colour: str) -> str | None:
    """``text`` as HTML with its words shaded by attribution, or ``None`` without word evidence for it.

    Args:
        text: The segment's words (the text the expert read; the offsets index into it).
        r: The segment's text reading.
        colour: ``#rrggbb`` of the reading's label.
    """
    ev = r.evidence if r is not None and r.ok else None
    words = (ev or {}).get("words") or []
    if not words or any(int(w["end"]) > len(text) for w in words):
        return None
    peak = max(abs(float(w["score"])) for w in words) or 1.0
    out, pos = [], 0
    for w in sorted(words, key=lambda w: int(w["start"])):
        a, b, score = int(w["start"]), int(w["end"]), float(w["score"])
        if a < pos:
            continue
        out.append(_esc(text[pos:a]))
        alpha = min(1.0, abs(score) / peak) * 0.6
        bg = _rgba(colour, alpha) if score > 0 else f"rgba(120,120,120,{alpha:.2f})"
        out.append(f'<span class="w" style="background:{bg}" title="{_esc(ev["target"])} {score:+.3f}">'
                   f"{_esc(text[a:b])}</span>")
        pos = b
    out.append(_esc(text[pos:]))
    return "".join(out)


def _prosody(p: dict[str, Any]) -> str:
    parts = []
    if p.get("pitch_median_hz") is not None:
        parts.append(f"pitch {float(p['pitch_median_hz']):.0f} Hz")
    if p.get("pitch_range_semitones") is not None:
        parts.append(f"range {float(p['pitch_range_semitones']):.1f} st")
    if p.get("energy_db") is not None:
        parts.append(f"energy {float(p['energy_db']):.0f} dB")
    if p.get("voiced_fraction") is not None:
        parts.append(f"voiced {float(p['voiced_fraction']):.0%}")
    return ", ".join(parts)


def evidence_note(r: ModalityResult) -> str:
    """One line of evidence under a voice or face label (``""`` when there is none)."""
    ev = r.evidence if r.ok else None
    if not ev:
        return ""
    if ev.get("reason"):
        return f'<div class="ev">{_esc(ev["reason"])}</div>'
    bits = []
    top = ev.get("top")
    if ev.get("stretches") is not None and top:
        bits.append(f"strongest {float(top['start']):.1f}–{float(top['end']):.1f} s "
                    f"(silenced: {ev['target']} −{float(top['drop']):.2f})")
    if isinstance(ev.get("prosody"), dict) and _prosody(ev["prosody"]):
        bits.append(_prosody(ev["prosody"]))
    frames = ev.get("frames") or []
    if frames:
        bits.append("clearest at " + ", ".join(f"{float(f['t']):.1f} s ({float(f['prob']):.2f})" for f in frames))
    pics = "".join(f'<img class="heat" alt="heat-map of the face at {float(f["t"]):.1f} s" src="{_esc(u)}">'
                   for f, u in zip(frames, r.evidence_images or [], strict=False)
                   if u.startswith("data:image/png;base64,"))
    return (f'<div class="ev">{_esc("; ".join(bits))}</div>' if bits else "") + (
        f"<div>{pics}</div>" if pics else "")
