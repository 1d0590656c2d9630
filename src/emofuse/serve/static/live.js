// Live mode: the camera and microphone streamed over WS /live.
//
// Audio: getUserMedia → MediaStreamAudioSourceNode → AudioWorkletNode "pcm-capture" (pcm-worklet.js:
// mono, downsampled to 16 kHz, int16) → one binary message every 250 ms. Without AudioWorklet a
// ScriptProcessorNode does the same on the main thread. The samples sent are the stream's clock.
// Video: the camera drawn onto a canvas (at most 320 px wide) and sent as base64 JPEG at the
// chosen fps, stamped with the audio clock; frames are skipped here while the socket is backed up.
// The server's rolling estimates, closed segments and stats are shown as they come.

import {
  CONFIG, apiKey, clear, colorOf, displayName, el, fmtConf, fmtTime, labelChip, reading, setDownload, svg,
} from "./common.js";
import { hatchDefs, segmentRow, stack, tableHead, timeAxis } from "./results.js";
import { PcmChunker } from "./resampler.js";

const $ = (id) => document.getElementById(id);
const RATE = CONFIG.sample_rate || 16000;
const CHUNK_SAMPLES = RATE / 4; // 250 ms
const WINDOW_S = 60;
const MAX_BUFFERED = 512 * 1024; // bytes waiting in the socket before frames are skipped
const FRAME_WIDTH = 320;
const PING_MS = 2000;

let s = null; // the running session

function newSession() {
  return {
    ws: null, stream: null, ctx: null, node: null, source: null, sink: null, frameTimer: null, pingTimer: null,
    samples: 0, frames: 0, clientDropped: 0, rolling: [], segments: [], mods: [], started: false, ended: false,
    stopping: false, label: null, pingAt: 0, flushed: null, video: false,
  };
}

function status(text) {
  $("live-status").textContent = text;
}

function showError(message) {
  const box = $("live-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function setStat(id, value) {
  const node = $(id);
  if (node) node.textContent = value;
}

function wsUrl() {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/live`;
}

async function openMedia(wantVideo) {
  const audio = { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new Error("this browser gives no camera or microphone here (the page needs https or localhost)");
  }
  if (wantVideo) {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio, video: { width: { ideal: 640 }, height: { ideal: 480 } } });
    } catch (err) {
      if (err.name !== "NotFoundError" && err.name !== "OverconstrainedError") throw err;
      showError("No camera found: live analysis goes on with the microphone only.");
    }
  }
  return navigator.mediaDevices.getUserMedia({ audio, video: false });
}

function sendAudio(pcm, rms) {
  if (!s || !s.started || s.stopping && s.flushed === null) return;
  if (s.ws.readyState !== WebSocket.OPEN) return;
  s.ws.send(pcm);
  s.samples += pcm.byteLength / 2;
  $("live-level").value = Math.min(1, rms * 4);
  setStat("stat-audio", `${(s.samples / RATE).toFixed(1)} s`);
}

async function startAudio() {
  const ctx = new AudioContext();
  s.ctx = ctx;
  s.source = ctx.createMediaStreamSource(s.stream);
  if (ctx.audioWorklet) {
    await ctx.audioWorklet.addModule("/static/pcm-worklet.js");
    const node = new AudioWorkletNode(ctx, "pcm-capture", {
      numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1],
      processorOptions: { targetRate: RATE, chunkSamples: CHUNK_SAMPLES },
    });
    node.port.onmessage = (e) => {
      if (e.data.type === "audio") sendAudio(e.data.pcm, e.data.rms);
      else if (e.data.type === "flushed" && s && s.flushed) s.flushed();
    };
    s.node = node;
    $("live-capture").textContent = `AudioWorklet, ${ctx.sampleRate} Hz → ${RATE} Hz int16`;
  } else { // no AudioWorklet: the same chunking on the main thread
    const node = ctx.createScriptProcessor(4096, 1, 1);
    const chunker = new PcmChunker(ctx.sampleRate, {
      outRate: RATE, chunkSamples: CHUNK_SAMPLES, onChunk: (pcm, rms) => sendAudio(pcm.buffer, rms),
    });
    node.onaudioprocess = (e) => chunker.push([e.inputBuffer.getChannelData(0)]);
    node.flush = () => chunker.flush();
    s.node = node;
    $("live-capture").textContent = `ScriptProcessor, ${ctx.sampleRate} Hz → ${RATE} Hz int16`;
  }
  // a silent sink keeps the graph pulled (nothing is played back)
  s.sink = ctx.createGain();
  s.sink.gain.value = 0;
  s.source.connect(s.node);
  s.node.connect(s.sink);
  s.sink.connect(ctx.destination);
  if (ctx.state === "suspended") await ctx.resume();
}

function flushAudio() {
  return new Promise((resolve) => {
    if (!s.node) return resolve();
    if (s.node.port) {
      const timer = setTimeout(resolve, 500);
      s.flushed = () => { clearTimeout(timer); resolve(); };
      s.node.port.postMessage("flush");
    } else {
      s.node.flush();
      resolve();
    }
  });
}

function startFrames(fps) {
  const video = $("live-video");
  const canvas = $("live-canvas");
  const interval = 1000 / Math.max(0.2, Math.min(10, fps || 2));
  s.frameTimer = setInterval(() => {
    if (!s.started || s.stopping || !video.videoWidth) return;
    if (s.ws.bufferedAmount > MAX_BUFFERED) { // the network or the server is behind: skip this frame
      s.clientDropped += 1;
      setStat("stat-client-dropped", String(s.clientDropped));
      return;
    }
    const scale = Math.min(1, FRAME_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    const jpeg = canvas.toDataURL("image/jpeg", 0.8).split(",", 2)[1];
    s.ws.send(JSON.stringify({ type: "frame", t: s.samples / RATE, jpeg }));
    s.frames += 1;
    setStat("stat-frames", String(s.frames));
  }, interval);
}

function showNow(msg) {
  const label = msg.label || null;
  if (label !== s.label) { // the aria-live region changes only when the emotion does
    s.label = label;
    $("live-label").textContent = label || "no reading";
    $("live-swatch").style.backgroundColor = label ? colorOf(label) : "transparent";
    $("live-now").dataset.label = label || "";
  }
  $("live-confidence").textContent = label ? `confidence ${fmtConf(msg.confidence)}` : "";
  const list = clear($("live-modalities"));
  const names = Object.keys(msg.modalities || {});
  for (const m of names) {
    const r = msg.modalities[m];
    const w = (msg.weights || {})[m];
    const li = el("li", { class: "live-modality", dataset: { modality: m } }, el("span", { class: "name" }, displayName(m)));
    if (r.status === "ok") {
      const [lab, conf] = reading(r);
      li.append(labelChip(lab, conf, "modality-label"));
    } else {
      li.classList.add("is-missing");
      li.append(el("span", { class: "swatch missing", "aria-hidden": "true" }), " ",
        el("span", { class: "missing-reason" }, r.reason || "missing"));
    }
    if (w !== undefined) li.append(el("span", { class: "weight" }, `weight ${Number(w).toFixed(2)}`));
    list.append(li);
  }
}

function latency(msg) {
  if (msg.latency_ms !== undefined) setStat("stat-latency", `${Math.round(msg.latency_ms)} ms`);
}

/** The rolling chart: the estimates of the last 60 s (top) and the closed segments (bottom). */
function drawLive() {
  const root = clear($("live-chart"));
  const W = 960;
  const H = 170;
  const left = 96;
  const right = 28;
  const now = Math.max(s.samples / RATE, ...s.rolling.map((r) => r.t), 0);
  const t1 = Math.max(WINDOW_S, now);
  const t0 = t1 - WINDOW_S;
  const x = (t) => left + ((t - t0) / WINDOW_S) * (W - left - right);
  root.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const hatch = hatchDefs(root, "live-hatch");
  for (const [text, y] of [["rolling", 58], ["segments", 128]]) {
    const t = svg("text", { x: left - 8, y, "text-anchor": "end", class: "row-label" });
    t.textContent = text;
    root.append(t);
  }
  s.rolling = s.rolling.filter((r) => r.t >= t0 - 5);
  const g = svg("g", { class: "rolling" });
  root.append(g);
  let prev = null;
  for (const r of s.rolling) {
    const a = prev === null ? Math.max(t0, r.t - 0.5) : Math.max(t0, prev);
    prev = r.t;
    if (r.t <= t0) continue;
    if (r.probs && Object.keys(r.probs).length) stack(g, x(a), x(r.t), 10, 96, r.probs, `${fmtTime(r.t)} ${r.label} ${fmtConf(r.confidence)}`);
    else g.append(svg("rect", { x: x(a), y: 10, width: x(r.t) - x(a), height: 96, fill: hatch }, `${fmtTime(r.t)} no reading`));
  }
  const gs = svg("g", { class: "segments" });
  root.append(gs);
  for (const seg of s.segments) {
    if (seg.end < t0) continue;
    const a = x(Math.max(t0, seg.start));
    const b = Math.max(a + 1, x(seg.end));
    const title = `${fmtTime(seg.start)}–${fmtTime(seg.end)} ${seg.label || "missing"} ${fmtConf(seg.confidence)}`;
    gs.append(svg("rect", { x: a, y: 114, width: b - a, height: 22, fill: seg.label ? colorOf(seg.label) : hatch,
      class: "live-seg" }, title));
    if (seg.label && b - a > 8 * seg.label.length) {
      const t = svg("text", { x: (a + b) / 2, y: 129, "text-anchor": "middle", class: "seg-label on-color" });
      t.textContent = seg.label;
      gs.append(t);
    }
  }
  timeAxis(root, t0, t1, x(t0), x(t1), H - 26, { label: "stream" });
  root.dataset.points = String(s.rolling.length);
}

function onSegment(msg) {
  s.segments.push(msg);
  const table = $("live-segments");
  const mods = Object.keys(msg.modalities || {});
  if (mods.join() !== s.mods.join()) {
    s.mods = mods;
    tableHead(table.tHead || table.createTHead(), mods);
  }
  table.tBodies[0].append(segmentRow(msg, s.mods));
  table.hidden = false;
  setStat("stat-segments", String(s.segments.length));
  latency(msg);
  drawLive();
}

function onStats(msg) {
  setStat("stat-dropped", String(msg.dropped_frames ?? 0));
  setStat("stat-skipped", String(msg.skipped_frames ?? 0));
  if (msg.frames !== undefined) setStat("stat-frames-read", String(msg.frames));
}

function onMessage(event) {
  if (typeof event.data !== "string") return;
  const msg = JSON.parse(event.data);
  switch (msg.type) {
    case "started":
      s.started = true;
      status(`Live: ${msg.modalities.map(displayName).join(", ")} (segments by ${msg.segmentation}).`);
      $("live-missing").textContent = Object.entries(msg.missing || {})
        .map(([m, why]) => `${displayName(m)}: ${why}`).join("; ");
      startAudio().catch((err) => { showError(`Audio could not start: ${err.message}`); stop(); });
      if (s.video) startFrames(Number($("live-fps").value));
      s.pingTimer = setInterval(() => {
        if (s.ws.readyState === WebSocket.OPEN && !s.stopping) {
          s.pingAt = performance.now();
          s.ws.send(JSON.stringify({ type: "ping" }));
        }
      }, PING_MS);
      break;
    case "rolling":
      s.rolling.push(msg);
      showNow(msg);
      latency(msg);
      drawLive();
      $("panel-live").dataset.rolling = String(s.rolling.length);
      break;
    case "segment":
      onSegment(msg);
      break;
    case "stats":
      onStats(msg);
      break;
    case "pong":
      if (s.pingAt) setStat("stat-rtt", `${Math.round(performance.now() - s.pingAt)} ms`);
      break;
    case "error":
      showError(msg.message);
      break;
    case "end":
      s.ended = true;
      onStats(msg);
      finish(msg.result);
      break;
    default:
      break;
  }
}

function finish(result) {
  const n = (result && result.segments ? result.segments.length : s.segments.length);
  status(`Stopped: ${n} segment${n === 1 ? "" : "s"}, ${(s.samples / RATE).toFixed(1)} s of audio.`);
  if (result) {
    setDownload($("live-download-json"), new Blob([JSON.stringify(result, null, 2)], { type: "application/json" }),
      "live-analysis.json");
  }
  $("panel-live").dataset.state = "ended";
}

function release() {
  if (!s) return;
  clearInterval(s.frameTimer);
  clearInterval(s.pingTimer);
  if (s.node && s.node.port) s.node.port.postMessage("stop");
  for (const n of [s.source, s.node, s.sink]) if (n) n.disconnect();
  if (s.ctx) s.ctx.close().catch(() => null);
  if (s.stream) for (const track of s.stream.getTracks()) track.stop();
  $("live-video").srcObject = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
  $("live-form").querySelectorAll("input, select").forEach((i) => { i.disabled = false; });
}

async function start() {
  showError("");
  release();
  s = newSession();
  const session = s;
  $("live-start").disabled = true;
  $("live-form").querySelectorAll("input, select").forEach((i) => { i.disabled = true; });
  clear($("live-segments").tBodies[0]);
  $("live-segments").hidden = true;
  $("live-download-json").hidden = true;
  $("live-label").textContent = "—";
  $("panel-live").dataset.state = "starting";
  $("panel-live").dataset.rolling = "0";
  for (const id of ["stat-audio", "stat-frames", "stat-frames-read", "stat-client-dropped", "stat-dropped",
    "stat-skipped", "stat-segments", "stat-latency", "stat-rtt"]) setStat(id, "—");
  setStat("stat-client-dropped", "0");
  status("Asking for the camera and microphone…");
  try {
    session.stream = await openMedia($("live-video-on").checked);
  } catch (err) {
    showError(`No camera or microphone: ${err.message}`);
    status("Not started.");
    release();
    return;
  }
  session.video = session.stream.getVideoTracks().length > 0;
  $("live-video").srcObject = session.video ? session.stream : null;
  $("live-stop").disabled = false;
  status("Connecting…");
  const ws = new WebSocket(wsUrl());
  ws.binaryType = "arraybuffer";
  session.ws = ws;
  ws.onopen = () => {
    const config = { fps: Number($("live-fps").value) || 2, asr: $("live-asr").checked };
    if ($("live-fusion").value) config.fusion = $("live-fusion").value;
    const msg = { type: "start", config, audio: true, video: session.video };
    if (apiKey()) msg.api_key = apiKey();
    ws.send(JSON.stringify(msg));
    $("panel-live").dataset.state = "live";
  };
  ws.onmessage = (e) => { if (s === session) onMessage(e); };
  ws.onclose = (e) => {
    if (s !== session) return;
    if (!session.ended) {
      status(`The connection closed${e.reason ? `: ${e.reason}` : ""} (code ${e.code}).`);
      $("panel-live").dataset.state = "closed";
    }
    release();
  };
  ws.onerror = () => showError("The live connection failed.");
}

async function stop() {
  if (!s || s.stopping) return;
  const session = s;
  session.stopping = true;
  $("live-stop").disabled = true;
  status("Finishing: the last segments are being read…");
  if (session.ws && session.ws.readyState === WebSocket.OPEN && session.started) {
    await flushAudio();
    session.flushed = null;
    session.ws.send(JSON.stringify({ type: "stop" }));
    setTimeout(() => { if (!session.ended && session.ws.readyState === WebSocket.OPEN) session.ws.close(); }, 30000);
  } else if (session.ws) {
    session.ws.close();
  }
  clearInterval(session.frameTimer);
  if (session.stream) for (const track of session.stream.getTracks()) track.stop();
}

export function initLive(config) {
  const fusion = $("live-fusion");
  for (const m of config.fusion_methods || ["trained"]) fusion.append(el("option", { value: m }, m));
  $("live-start").addEventListener("click", start);
  $("live-stop").addEventListener("click", stop);
  window.addEventListener("pagehide", () => { if (s && s.ws) s.ws.close(); release(); });
}
