// Upload mode: the file (and transcript) become a job (POST /jobs), polled with a progress bar;
// the result is fetched with keep=1 in each format offered for download, drawn, then discarded
// on the server (DELETE /jobs/{id}) — the downloads are blobs held by the page.

import { api, el, postForm, setDownload, sleep } from "./common.js";
import { drawTimeline, fillNotes, fillTable, summaryText } from "./results.js";

const $ = (id) => document.getElementById(id);
const DOWNLOADS = [
  ["json", "download-json", "application/json"],
  ["csv", "download-csv", "text/csv"],
  ["html", "download-html", "text/html"],
  ["png", "download-png", "image/png"],
];
const POLL_MS = 250;

let current = null; // {id, cancelled}

function showError(message) {
  const box = $("upload-error");
  box.textContent = message;
  box.hidden = !message;
}

function setProgress(fraction, text) {
  const bar = $("job-progress");
  bar.value = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  bar.setAttribute("aria-valuetext", text);
  $("job-status").textContent = text;
}

function formFields() {
  const fd = new FormData();
  const file = $("file").files[0];
  fd.append("file", file, file.name);
  const transcript = $("transcript").files[0];
  if (transcript) fd.append("transcript", transcript, transcript.name);
  fd.append("fps", $("fps").value || "2");
  fd.append("asr", $("asr").checked ? "true" : "false");
  if ($("fusion").value) fd.append("fusion", $("fusion").value);
  if ($("segmentation").value) fd.append("segmentation", $("segmentation").value);
  return fd;
}

async function waitForJob(job) {
  for (;;) {
    if (job.cancelled) return null;
    const s = await (await api(`/jobs/${job.id}`)).json();
    if (s.status === "done") return s;
    if (s.status === "failed") throw new Error((s.error && s.error.message) || "the analysis failed");
    if (s.status === "cancelled") return null;
    const text = s.status === "queued" ? "Queued…"
      : `Analysing: ${Number(s.seconds_done).toFixed(1)} s of ${Number(s.duration).toFixed(1)} s`;
    setProgress(s.progress || 0, text);
    await sleep(POLL_MS);
  }
}

function resetResult() {
  $("result").hidden = true;
  for (const [, id] of DOWNLOADS) {
    const a = $(id);
    a.hidden = true;
    a.removeAttribute("href");
  }
}

async function submit(event) {
  event.preventDefault();
  showError("");
  if (!$("file").files.length) {
    showError("Choose an audio or video file first.");
    $("file").focus();
    return;
  }
  resetResult();
  const name = $("file").files[0].name;
  $("job").hidden = false;
  $("submit").disabled = true;
  $("cancel").hidden = false;
  setProgress(0, "Uploading…");
  const job = { id: null, cancelled: false };
  current = job;
  try {
    const queued = await postForm("/jobs", formFields(), (f) => setProgress(f * 0.1, `Uploading: ${Math.round(f * 100)} %`));
    job.id = queued.id;
    const status = await waitForJob(job);
    if (!status) {
      setProgress(0, "Cancelled.");
      return;
    }
    setProgress(1, "Done. Fetching the result…");
    const text = await (await api(`/jobs/${job.id}/result?format=json&keep=1`)).text();
    const result = JSON.parse(text);
    show(result, name);
    setDownload($("download-json"), new Blob([text], { type: "application/json" }), "analysis.json");
    const others = DOWNLOADS.filter(([fmt]) => fmt !== "json" && status.formats.includes(fmt));
    await Promise.all(others.map(async ([fmt, id, type]) => {
      try {
        const blob = await (await api(`/jobs/${job.id}/result?format=${fmt}&keep=1`)).blob();
        setDownload($(id), new Blob([blob], { type }), `analysis.${fmt}`);
      } catch (err) {
        $(id).hidden = true;
        console.warn(`format ${fmt}: ${err.message}`);
      }
    }));
    await api(`/jobs/${job.id}`, { method: "DELETE" }).catch(() => null); // the page holds the result now
    setProgress(1, `Done: ${result.segments.length} segments.`);
    $("downloads").dataset.ready = "true";
  } catch (err) {
    showError(`The analysis failed: ${err.message}`);
    setProgress(0, "Failed.");
  } finally {
    if (current === job) current = null;
    $("submit").disabled = false;
    $("cancel").hidden = true;
  }
}

async function cancel() {
  const job = current;
  if (!job) return;
  job.cancelled = true;
  if (job.id) await api(`/jobs/${job.id}`, { method: "DELETE" }).catch(() => null);
  setProgress(0, "Cancelled.");
}

/** Show a result: summary, notes, timeline, table. */
export function show(result, name) {
  $("result-summary").textContent = summaryText(result, name);
  fillNotes($("result-notes"), result);
  drawTimeline($("timeline"), result);
  $("timeline-desc").textContent = `${summaryText(result, name)}. Stacked bars: the fused emotion probabilities per `
    + "segment, the fusion weights, then each modality's probabilities; hatched grey: the modality is missing.";
  fillTable($("segments"), result);
  $("result").hidden = false;
  $("result").dataset.segments = String(result.segments.length);
}

export function initUpload(config) {
  const fusion = $("fusion");
  for (const m of config.fusion_methods || ["trained"]) fusion.append(el("option", { value: m }, m));
  const seg = $("segmentation");
  for (const m of config.segmentations || ["auto"]) seg.append(el("option", { value: m }, m));
  $("upload-form").addEventListener("submit", submit);
  $("cancel").addEventListener("click", cancel);
}
