// What the page's views share: the configuration handed over in the HTML, the colours of the
// reports (EMOTION_COLORS, the Okabe–Ito palette of the PNG timeline), API calls, small DOM helpers.

const CONFIG_EL = document.getElementById("emofuse-config");

/** The page configuration written by the server (emofuse.serve.page.page_config). */
export const CONFIG = JSON.parse(CONFIG_EL ? CONFIG_EL.textContent : "{}");
export const CLASSES = CONFIG.classes || ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"];
const EMOTION_COLORS = CONFIG.emotion_colors || {};
const STATE_COLORS = CONFIG.state_colors || {};
export const MISSING = CONFIG.missing_color || ["#f0f0f0", "#b5b5b5"];
const MODALITY_COLORS = CONFIG.modality_colors || {};
const EXTRA_MODALITY_COLORS = ["#4e6e58", "#7a5c8a", "#9c7a3c", "#3c6e9c"];
const FALLBACK_COLOR = "#444444";
const SVG_NS = "http://www.w3.org/2000/svg";

/** The colour of an emotion (or a native state) label, as in the PNG timeline and the HTML report. */
export function colorOf(label) {
  return EMOTION_COLORS[label] || STATE_COLORS[label] || FALLBACK_COLOR;
}

/** The weight-strip colour of a modality. */
export function modalityColor(name, position = 0) {
  return MODALITY_COLORS[name] || EXTRA_MODALITY_COLORS[position % EXTRA_MODALITY_COLORS.length];
}

/** What people read for a modality (audio reads as voice). */
export function displayName(modality) {
  return (CONFIG.modality_names || {})[modality] || modality;
}

/** The modalities a result speaks of, in the server's order (then any other, first seen). */
export function modalityNames(result) {
  const seen = new Set(Object.keys(result.modalities || {}));
  for (const seg of result.segments || []) {
    for (const m of Object.keys(seg.modalities || {})) seen.add(m);
    for (const m of Object.keys(seg.weights || {})) seen.add(m);
  }
  if (!seen.size) return ["text", "audio", "face"];
  const order = CONFIG.modalities || ["text", "audio", "face", "physio"];
  return [...order.filter((m) => seen.has(m)), ...[...seen].filter((m) => !order.includes(m))];
}

/** Those of them the input has (a modality missing for the whole input gets no row or column). */
export function shownModalities(result) {
  const whole = result.modalities || {};
  return modalityNames(result).filter((m) => !(m in whole));
}

/** `[label, confidence]` of a modality reading as people read it (the native state where there is one). */
export function reading(r) {
  if (!r || r.status !== "ok") return [null, null];
  if (r.native && Object.keys(r.native).length) {
    const top = Object.keys(r.native).reduce((a, b) => (r.native[a] >= r.native[b] ? a : b));
    return [top, r.native[top]];
  }
  return [r.label, r.confidence];
}

/** Seconds as mm:ss.s (h:mm:ss.s from one hour on), like the reports. */
export function fmtTime(t, decimals = 1) {
  const scale = 10 ** decimals;
  t = Math.round(Math.max(0, Number(t) || 0) * scale) / scale;
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = (t % 60).toFixed(decimals).padStart(decimals ? 3 + decimals : 2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${String(m).padStart(2, "0")}:${s}`;
}

export function fmtConf(x) {
  return x === null || x === undefined ? "" : Number(x).toFixed(2);
}

/** An HTML element: el("td", {class: "x", dataset: {a: 1}}, "text", child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

/** An SVG element with attributes (and an optional tooltip title). */
export function svg(tag, attrs = {}, title = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  if (title) {
    const t = document.createElementNS(SVG_NS, "title");
    t.textContent = title;
    node.append(t);
  }
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "text") node.textContent = v;
    else if (k === "style") Object.assign(node.style, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
}

/** A colour swatch followed by its label in text (colour is never the only cue). */
export function labelChip(label, conf, cls = "label") {
  const chip = el("span", { class: "chip" });
  if (!label) {
    chip.append(el("span", { class: "swatch missing", "aria-hidden": "true" }), el("span", { class: cls }, "—"));
    return chip;
  }
  chip.append(el("span", { class: "swatch", "aria-hidden": "true", style: { backgroundColor: colorOf(label) } }),
    el("span", { class: cls }, label));
  if (conf !== null && conf !== undefined) chip.append(" ", el("span", { class: "confidence" }, fmtConf(conf)));
  return chip;
}

/** The legend of the charts: every emotion with its colour and name, and the missing pattern. */
export function fillLegend(list) {
  list.replaceChildren();
  for (const c of CLASSES) {
    list.append(el("li", {}, el("span", { class: "swatch", "aria-hidden": "true", style: { backgroundColor: colorOf(c) } }),
      el("span", {}, c)));
  }
  list.append(el("li", {}, el("span", { class: "swatch missing", "aria-hidden": "true" }), el("span", {}, "missing")));
}

/** Remove every child of an element. */
export function clear(node) {
  node.replaceChildren();
  return node;
}

/** The API key typed into the page (sent as X-API-Key; empty when the server has none). */
export function apiKey() {
  const input = document.getElementById("api-key");
  return input ? input.value.trim() : "";
}

function headers(extra = {}) {
  const h = { ...extra };
  const key = apiKey();
  if (key) h["X-API-Key"] = key;
  return h;
}

/** fetch() on the service with the API key; rejects with the server's message on an error status. */
export async function api(path, options = {}) {
  const resp = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (!resp.ok) throw await apiError(resp);
  return resp;
}

async function apiError(resp) {
  let message = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body && body.message) message = body.message;
  } catch (_err) {
    // not JSON: the status line says it
  }
  const err = new Error(message);
  err.status = resp.status;
  return err;
}

/** POST a form with upload progress (XMLHttpRequest: fetch does not report what was sent). */
export function postForm(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      const body = xhr.response || {};
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        const err = new Error(body.message || `${xhr.status} ${xhr.statusText}`);
        err.status = xhr.status;
        reject(err);
      }
    };
    xhr.onerror = () => reject(new Error("the upload failed (the server could not be reached)"));
    xhr.send(form);
  });
}

/** A download link to a blob (made once; the old one is released). */
export function setDownload(link, blob, filename) {
  if (link.href && link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.hidden = false;
  link.removeAttribute("aria-disabled");
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
