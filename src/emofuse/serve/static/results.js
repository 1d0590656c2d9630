// An analysis result drawn in the page: the timeline as SVG (the PNG timeline's layout: the fused
// ekman7 distribution, the fusion weights, a row per modality with missing segments hatched) and
// the segment table (words, fused label and confidence, each modality's reading, weights, reasons).

import {
  CLASSES, MISSING, clear, colorOf, displayName, el, fmtConf, fmtTime, labelChip, modalityColor,
  reading, shownModalities, svg,
} from "./common.js";

const W = 960;
const LEFT = 96;
const RIGHT = 24;
const NICE = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];

/** Whether segments are placed by index (text input, or no segment has a duration). */
export function byIndex(result) {
  const segs = result.segments || [];
  if (result.kind === "text") return true;
  if (segs.length) return segs.every((s) => s.end <= s.start);
  return !(result.duration > 0);
}

/** The hatch pattern of "modality missing" boxes (defined once per SVG). */
export function hatchDefs(root, id) {
  const defs = svg("defs");
  const pat = svg("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  pat.append(svg("rect", { width: 6, height: 6, fill: MISSING[0] }),
    svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: MISSING[1], "stroke-width": 2 }));
  defs.append(pat);
  root.append(defs);
  return `url(#${id})`;
}

/** A stacked column of an ekman7 distribution, from the bottom in class order. */
export function stack(group, x0, x1, y0, h, probs, title) {
  let y = y0 + h;
  const total = CLASSES.reduce((a, c) => a + Math.max(0, Number(probs[c]) || 0), 0) || 1;
  for (const c of CLASSES) {
    const p = Math.max(0, Number(probs[c]) || 0) / total;
    if (p <= 0) continue;
    const ph = p * h;
    y -= ph;
    group.append(svg("rect", { x: x0, y, width: Math.max(0.5, x1 - x0), height: ph, fill: colorOf(c), class: `p-${c}` },
      `${title} — ${c} ${p.toFixed(2)}`));
  }
}

function timeStep(span, target = 8) {
  const raw = span / target;
  return NICE.find((s) => s >= raw) || NICE[NICE.length - 1];
}

/** Time ticks along the bottom of a chart from t0 to t1 (seconds) at x0..x1 (pixels). */
export function timeAxis(root, t0, t1, x0, x1, y, { label = "time", index = false } = {}) {
  const span = Math.max(1e-6, t1 - t0);
  const step = index ? Math.max(1, Math.ceil(span / 10)) : timeStep(span);
  const g = svg("g", { class: "axis" });
  g.append(svg("line", { x1: x0, y1: y, x2: x1, y2: y, stroke: "#555" }));
  for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
    const x = x0 + ((t - t0) / span) * (x1 - x0);
    g.append(svg("line", { x1: x, y1: y, x2: x, y2: y + 4, stroke: "#555" }));
    const text = svg("text", { x, y: y + 16, "text-anchor": "middle", class: "tick" });
    text.textContent = index ? String(Math.round(t)) : fmtTime(t, step < 1 ? 1 : 0);
    g.append(text);
  }
  const name = svg("text", { x: x0 - 26, y: y + 16, "text-anchor": "end", class: "tick" });
  name.textContent = label;
  g.append(name);
  root.append(g);
}

function rowLabel(root, text, y, h) {
  const t = svg("text", { x: LEFT - 8, y: y + h / 2 + 4, "text-anchor": "end", class: "row-label" });
  t.textContent = text;
  root.append(t);
}

/**
 * Draw a result's timeline into an <svg>: a row of fused labels, the fused distribution, the
 * fusion weights, then one row per modality the input has (missing segments hatched grey).
 */
export function drawTimeline(root, result) {
  for (const child of [...root.children]) if (child.tagName !== "title" && child.tagName !== "desc") child.remove();
  const segs = result.segments || [];
  const mods = shownModalities(result);
  const index = byIndex(result);
  const span = index ? Math.max(1, segs.length)
    : Math.max(result.duration || 0, ...segs.map((s) => s.end), 1e-6);
  const x = (t) => LEFT + (t / span) * (W - LEFT - RIGHT);
  const bounds = segs.map((s, i) => (index ? [i, i + 1] : [s.start, s.end]));
  const hatch = hatchDefs(root, `${root.id || "chart"}-hatch`);

  const rows = [["labels", 18], ["fused", 80], ["weights", 14], ...mods.map((m) => [m, 44])];
  let y = 8;
  const top = {};
  for (const [name, h] of rows) {
    top[name] = [y, h];
    y += h + 8;
  }
  const height = y + 22;
  root.setAttribute("viewBox", `0 0 ${W} ${height}`);
  root.setAttribute("preserveAspectRatio", "xMinYMin meet");
  root.dataset.segments = String(segs.length);

  rowLabel(root, "fused", ...top.fused);
  rowLabel(root, "weights", ...top.weights);
  for (const m of mods) rowLabel(root, displayName(m), ...top[m]);

  const g = svg("g", { class: "segments" });
  root.append(g);
  segs.forEach((s, i) => {
    const [t0, t1] = bounds[i];
    const x0 = x(t0);
    const x1 = Math.max(x0 + 1, x(t1) - (index ? 1 : 0));
    const when = index ? `segment ${s.index}` : `${fmtTime(s.start)}–${fmtTime(s.end)}`;
    const seg = svg("g", { class: "segment", "data-index": s.index });
    g.append(seg);
    // fused label text (where it fits) and distribution
    const [ly, lh] = top.labels;
    if (s.label && x1 - x0 > 8 * s.label.length) {
      const t = svg("text", { x: (x0 + x1) / 2, y: ly + lh - 4, "text-anchor": "middle", class: "seg-label" });
      t.textContent = s.label;
      seg.append(t);
    }
    const [fy, fh] = top.fused;
    if (s.probs && Object.keys(s.probs).length) {
      stack(seg, x0, x1, fy, fh, s.probs, `${when} fused: ${s.label} ${fmtConf(s.confidence)}`);
    } else {
      seg.append(svg("rect", { x: x0, y: fy, width: x1 - x0, height: fh, fill: hatch, class: "missing" },
        `${when}: no modality could be read`));
    }
    // fusion weights, left to right in modality order
    const [wy, wh] = top.weights;
    let wx = x0;
    const names = Object.keys(s.weights || {});
    names.forEach((m, k) => {
      const w = Number(s.weights[m]) || 0;
      if (w <= 0) return;
      const ww = w * (x1 - x0);
      seg.append(svg("rect", { x: wx, y: wy, width: ww, height: wh, fill: modalityColor(m, k), class: "weight" },
        `${when} weight of ${displayName(m)}: ${w.toFixed(2)}`));
      wx += ww;
    });
    // one row per modality
    for (const m of mods) {
      const [my, mh] = top[m];
      const r = (s.modalities || {})[m];
      if (r && r.status === "ok" && r.probs) {
        const [label, conf] = reading(r);
        stack(seg, x0, x1, my, mh, r.probs, `${when} ${displayName(m)}: ${label} ${fmtConf(conf)}`);
      } else {
        const why = r ? r.reason || "missing" : "not analysed";
        seg.append(svg("rect", { x: x0, y: my, width: x1 - x0, height: mh, fill: hatch, class: "missing" },
          `${when} ${displayName(m)} missing: ${why}`));
      }
    }
  });
  timeAxis(root, 0, span, x(0), x(span), height - 20, { index, label: index ? "segment" : "time" });
}

/** The segment table's header: #, time, words, fused, one column per modality, weights. */
export function tableHead(thead, mods) {
  clear(thead);
  const tr = el("tr", {},
    el("th", { scope: "col" }, "#"), el("th", { scope: "col" }, "Time"), el("th", { scope: "col" }, "Words"),
    el("th", { scope: "col" }, "Fused"),
    mods.map((m) => el("th", { scope: "col", dataset: { modality: m } }, displayName(m))),
    el("th", { scope: "col" }, "Weights"));
  thead.append(tr);
}

/** One segment as a table row (class "segment"; cells: .seg-time, .seg-text, .fused, .modality). */
export function segmentRow(seg, mods, { index = false } = {}) {
  const when = index ? "—" : `${fmtTime(seg.start)}–${fmtTime(seg.end)}`;
  const tr = el("tr", { class: "segment", dataset: { index: seg.index } });
  tr.append(el("td", { class: "seg-index" }, String(seg.index)), el("td", { class: "seg-time" }, when));
  const text = el("td", { class: "seg-text" }, seg.text || "");
  if (seg.text && seg.text_source) text.append(" ", el("span", { class: "source" }, `(${seg.text_source})`));
  tr.append(text);
  tr.append(el("td", { class: "fused" }, labelChip(seg.label, seg.confidence, "fused-label")));
  for (const m of mods) {
    const r = (seg.modalities || {})[m];
    const td = el("td", { class: "modality", dataset: { modality: m } });
    if (r && r.status === "ok") {
      const [label, conf] = reading(r);
      td.append(labelChip(label, conf, "modality-label"));
    } else {
      td.classList.add("is-missing");
      td.append(el("span", { class: "swatch missing", "aria-hidden": "true" }), " ",
        el("span", { class: "missing-reason" }, r ? r.reason || "missing" : "not analysed"));
    }
    tr.append(td);
  }
  const weights = Object.entries(seg.weights || {}).map(([m, w]) => el("span", { class: "weight", dataset: { modality: m } },
    `${displayName(m)} ${Number(w).toFixed(2)}`));
  tr.append(el("td", { class: "weights" }, weights.length ? weights : "—"));
  return tr;
}

/** Fill a <table> with a result's segments. */
export function fillTable(table, result) {
  const mods = shownModalities(result);
  tableHead(table.tHead || table.createTHead(), mods);
  const body = table.tBodies[0] || table.createTBody();
  clear(body);
  const index = byIndex(result);
  for (const seg of result.segments || []) body.append(segmentRow(seg, mods, { index }));
}

/** The notes of a result: modalities missing for the whole input, the warnings. */
export function fillNotes(list, result) {
  clear(list);
  for (const [m, why] of Object.entries(result.modalities || {})) {
    list.append(el("li", { class: "whole-missing", dataset: { modality: m } }, `${displayName(m)}: ${why}`));
  }
  for (const w of result.warnings || []) list.append(el("li", { class: "warning" }, w));
  list.hidden = !list.children.length;
}

/** "12 segments, 5.4 s — dominant: happiness" (the dominant label by seconds). */
export function summaryText(result, name) {
  const segs = result.segments || [];
  const secs = {};
  for (const s of segs) {
    if (s.label) secs[s.label] = (secs[s.label] || 0) + (byIndex(result) ? 1 : Math.max(0, s.end - s.start));
  }
  const dom = Object.keys(secs).sort((a, b) => secs[b] - secs[a])[0];
  const length = byIndex(result) ? "" : `, ${Number(result.duration || 0).toFixed(1)} s`;
  return `${name}: ${result.kind}${length}, ${segs.length} segment${segs.length === 1 ? "" : "s"} — dominant: ${dom || "none"}`;
}
