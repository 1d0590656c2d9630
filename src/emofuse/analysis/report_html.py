"""A single self-contained HTML report of an analysis result, written for readers who are not ML experts.

:func:`write_html` writes inline CSS, the timeline embedded as a ``data:`` URI, no scripts and
nothing fetched from the network. Every text from the input is HTML-escaped. The page says how
to read it (labels and their confidence, fusion weights, what the estimates are not), has one
colour legend for the timeline and the tables (the palette of
:mod:`~emofuse.analysis.report_common`), and ends with what each expert was validated on, read
from its model card (:mod:`~emofuse.analysis.report_cards`). The modality rows and columns are
those the input has (:func:`~emofuse.analysis.report_common.shown_modalities`); a modality the
input lacks is named once with its reason. Face thumbnails appear in the segment table only
when the analysis kept them (the ``thumbnails`` setting).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emofuse.analysis.report_cards import cards_html
from emofuse.analysis.report_common import (
    MISSING_COLOR,
    color,
    display_name,
    fmt_duration,
    fmt_time,
    index_axis,
    media_length,
    modality,
    modality_color,
    shown_modalities,
    summary_counts,
    weights_text,
)
from emofuse.analysis.report_evidence import EVIDENCE_CSS, evidence_note, highlighted_text
from emofuse.analysis.result import EKMAN, AnalysisResult, ModalityResult
from emofuse.analysis.timeline import png_bytes

__all__ = ["write_html"]

_MAX_HTML_ROWS = 5000

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
.swatch.missing { background: repeating-linear-gradient(45deg, @missing_fill@ 0 3px, @missing_hatch@ 3px 4px); }
.legend { margin: 8px 0; }
section.howto { max-width: 900px; }
section.howto dt { font-weight: 600; margin-top: 8px; }
section.howto dd { margin: 2px 0 0 0; }
img.thumb { width: 48px; height: 48px; border-radius: 3px; float: left; margin: 0 8px 2px 0;
            border: 1px solid var(--line); }
section.card { margin: 12px 0 20px; max-width: 1000px; }
section.card h3 .sub { font-weight: normal; color: var(--muted); margin-left: 6px; }
table.card th { position: static; background: none; color: var(--muted); font-weight: normal; width: 9em; }
table.card ul, details ul { margin: 0; padding-left: 18px; }
details { margin-top: 6px; font-size: 13px; }
details h4 { margin: 8px 0 2px; font-size: 13px; }
.path { color: var(--muted); font-size: 11px; margin-left: 4px; }
p.intro { max-width: 900px; }
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

_HOW_TO_READ = """<section class="howto">
<h2>How to read this report</h2>
<dl>
<dt>Labels</dt>
<dd>Each segment of the recording gets one of seven labels: anger, disgust, fear, happiness, sadness,
surprise or neutral. The <i>fused</i> label combines the signals; the other columns show what each
signal suggests on its own.</dd>
<dt>Confidence</dt>
<dd>The number after a label, from 0 to 1, is a probability, not a certainty. For one signal it is
that expert's calibrated probability: on the expert's validation data, labels given with 0.7 were
right about 7 times in 10. On recordings unlike that data it is less trustworthy. For the fused
label it is the share the combined estimate gives that label; a low number means the signals
disagree or are unsure.</dd>
<dt>Fusion weights</dt>
<dd>How much each signal counted in the fused label of that segment; they add up to 1. A signal
weighs little, or nothing, when it is missing (no face in view, no speech), of low quality (a
small, blurred or turned-away face; noisy or unclear speech) or uninformative there (words that
carry no emotion, a reading spread over several emotions); a signal whose expert did worse in
validation counts less throughout.</dd>
<dt>Missing</dt>
<dd>&ldquo;missing: &hellip;&rdquo; says why a signal could not be read on a segment; the timeline
shows it as a hatched grey box.</dd>
<dt>Expressed, not felt</dt>
<dd>These are estimates of the emotion a person <em>expresses</em> in words, voice and face, as the
people who labelled the experts' training data would read it. They do not say what anyone feels
inside; people show emotions differently across cultures, ages, situations and health.</dd>
<dt>Not for decisions about people</dt>
<dd>Errors are common (see the experts' validation figures at the end). Do not use this report to
make or support decisions about individuals, such as hiring, grading, health, policing, security,
credit or customer scoring.</dd>
</dl>
</section>"""


def _css() -> str:
    fill, hatch = MISSING_COLOR
    return _CSS.replace("@missing_fill@", fill).replace("@missing_hatch@", hatch) + EVIDENCE_CSS


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _swatch(label: str | None) -> str:
    return f'<span class="swatch" style="background:{color(label)}"></span>'


def _label_cell(label: str | None, conf: float | None) -> str:
    """A label with its confidence and a small bar in the label's colour."""
    if not label:
        return '<span class="missing">—</span>'
    pct = 0.0 if conf is None else max(0.0, min(1.0, float(conf))) * 100
    conf_txt = "" if conf is None else f" {float(conf):.2f}"
    return (f'<span class="lab">{_swatch(label)}{_esc(label)}{conf_txt}</span>'
            f'<div class="bar"><div style="width:{pct:.0f}%;background:{color(label)}"></div></div>')


def _modality_cell(r: ModalityResult, when: str) -> str:
    if not r.ok:
        return f'<span class="missing">missing: {_esc(r.reason or "missing")}</span>'
    thumb = ""
    if r.thumbnail and r.thumbnail.startswith("data:image/jpeg;base64,"):
        thumb = f'<img class="thumb" alt="main face, {_esc(when)}" src="{_esc(r.thumbnail)}">'
    return thumb + _label_cell(*r.shown) + evidence_note(r)


def _legend(mods: Sequence[str]) -> str:
    """The one colour legend of the page: the emotions, a missing signal, the weight strip."""
    items = [f'<span class="item">{_swatch(c)}{_esc(c)}</span>' for c in EKMAN]
    items.append('<span class="item"><span class="swatch missing"></span>missing signal</span>')
    items += [f'<span class="item"><span class="swatch" style="background:{modality_color(m, k)}"></span>'
              f"{_esc(display_name(m))} weight</span>" for k, m in enumerate(mods)]
    return ('<p class="legend"><b>Colours</b> (timeline and tables; the emotion palette reads for colour-blind '
            "eyes too): " + "".join(items) + "</p>")


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
    """One HTML line per modality the input has: present on how many segments, why missing on others."""
    n = len(result.segments)
    lines = []
    for m in shown_modalities(result):
        name = _esc(display_name(m))
        ok = sum(modality(s, m).ok for s in result.segments)
        reasons: dict[str, int] = {}
        for s in result.segments:
            r = modality(s, m)
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
    with reasons, the modalities not analysed and why, warnings), how to read the report, the one
    colour legend, the timeline PNG embedded as a ``data:`` URI (drawn without its own legend),
    the per-segment table (time, transcript, fused label and confidence, each modality's label or
    why it is missing, with the main face's thumbnail when the analysis kept one, fusion weights;
    at most ``max_rows`` rows), one small table per expert used (what it was trained and
    validated on, its headline figure, main limits, licence: read from its model card), the
    settings and timings. Modalities missing for the whole input get no column or panel.
    It has inline CSS only: no scripts, fonts, or anything loaded from the network.
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
    by_index = index_axis(result)
    name = Path(result.source).name or result.source or "<input>"
    dom = result.dominant()

    modality_names = shown_modalities(result)
    try:
        png = base64.b64encode(png_bytes(result, legend=False)).decode("ascii")
        panels = ", ".join(display_name(m) for m in modality_names)
        alt = ("Emotion timeline: the fused emotion mix of each segment over time, the fusion weights under it"
               + (f", then one panel per signal ({panels})" if panels else "") + ".")
        timeline = f'<img class="timeline" alt="{_esc(alt)}" src="data:image/png;base64,{png}">'
    except ImportError as err:
        timeline = f'<p class="note">Timeline not drawn: {_esc(err)}</p>'
    legend = _legend(modality_names)

    counts = summary_counts(result)
    total = sum(counts.values())
    share = "—"
    if total:
        amount = (lambda v: f"{v:.0f}") if by_index else (lambda v: f"{v:.1f} s")
        share = " · ".join(f"{_swatch(c)}{_esc(c)} {amount(v)} ({100 * v / total:.0f}%)"
                           for c, v in sorted(counts.items(), key=lambda kv: -kv[1]) if v > 0)

    length = f"{len(segs)} segments" if by_index else fmt_duration(media_length(result))
    meta = [
        ("input", _esc(result.source)),
        ("kind", _esc(result.kind)),
        ("duration" if not by_index else "length", _esc(length) + ("" if by_index else f", {len(segs)} segments")),
        ("dominant emotion", f"{_swatch(dom)}<b>{_esc(dom)}</b>" if dom else '<span class="missing">none</span>'),
        ("fused labels", share),
        ("modalities", "<br>".join(_modality_summary(result)) or '<span class="missing">none</span>'),
    ]
    if result.modalities:
        meta.append(("not analysed", "<br>".join(f"<b>{_esc(display_name(m))}</b>: {_esc(r)}"
                                                 for m, r in result.modalities.items())))
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
    why = any(s.rationale for s in shown)  # the rationale column, when the analysis ran with explain on
    rows = []
    for s in shown:
        time = f"#{s.index}" if by_index else f"{fmt_time(s.start)}–{fmt_time(s.end)}"
        tr = s.modalities.get("text")
        marked = highlighted_text(s.text, tr, color(tr.label)) if s.text and tr is not None and tr.label else None
        text = marked or (_esc(s.text) if s.text else '<span class="missing">—</span>')
        mods = "".join(f"<td>{_modality_cell(modality(s, m), time)}</td>" for m in modality_names)
        rows.append(f'<tr><td class="time">{_esc(time)}</td><td class="text">{text}</td>'
                    f"<td>{_label_cell(s.label, s.confidence)}</td>{mods}"
                    f'<td class="w">{_esc(weights_text(result, s))}</td>'
                    + (f'<td class="text">{_esc(s.rationale or "")}</td>' if why else "") + "</tr>")
    head = "".join(f"<th>{_esc(h)}</th>" for h in
                   ["segment" if by_index else "time", "text", "fused",
                    *(display_name(m) for m in modality_names), "fusion weights", *(["why"] if why else [])])
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
    experts = cards_html(result)
    faces_note = ""
    if any(r.thumbnail for s in shown for r in s.modalities.values()):
        faces_note = (" This page shows pictures of faces (the thumbnails setting): share it only with people who "
                      "may see them; the JSON, CSV and Parquet outputs hold no face pixels.")

    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(name)} — emofuse analysis</title>
<style>{_css()}</style>
</head>
<body>
<header>
<h1>{_esc(name)}</h1>
<div class="sub">emofuse emotion analysis</div>
<dl class="meta">{meta_html}</dl>
</header>
{warn_html}
{_HOW_TO_READ}
<h2>Timeline</h2>
{legend}
{timeline}
<h2>Segments ({len(segs)})</h2>
{trunc}
{table}
{experts}
<h2>Settings</h2>
<div class="cols">
<div><h3>Configuration</h3>{settings}</div>
<div><h3>Timings</h3>{timings}</div>
<div><h3>Media</h3>{media}</div>
</div>
<footer>Produced by emofuse{_esc(version)}. The analysis ran locally on this machine; nothing was sent
anywhere. This page is self-contained: it loads no scripts, fonts or images from the network.{faces_note}</footer>
</body>
</html>
"""
    path.write_text(page, encoding="utf-8")
    return path
