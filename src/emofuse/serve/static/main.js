// The page: two modes as tabs (upload, live), the server's readiness, the legends.

import { CONFIG, fillLegend } from "./common.js";
import { initLive } from "./live.js";
import { initUpload } from "./upload.js";

const $ = (id) => document.getElementById(id);
const TABS = ["upload", "live"];

function select(name, focus = false) {
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    const on = t === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
}

function initTabs() {
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    tab.addEventListener("click", () => select(t));
    tab.addEventListener("keydown", (e) => { // the tab pattern: arrows, Home and End move between tabs
      const i = TABS.indexOf(t);
      const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
      if (next === undefined) return;
      e.preventDefault();
      select(TABS[(next + TABS.length) % TABS.length], true);
    });
  }
  select(location.hash === "#live" ? "live" : "upload");
}

async function watchReady() {
  const out = $("server-status");
  for (;;) {
    try {
      const r = await fetch("/ready");
      const body = await r.json();
      if (r.ok) {
        out.textContent = `Server ready (emofuse ${CONFIG.version}).`;
        document.body.dataset.ready = "true";
        return;
      }
      out.textContent = body.status === "failed" ? `The models could not be loaded: ${body.error}` : "Loading the models…";
      if (body.status === "failed") return;
    } catch (_err) {
      out.textContent = "The server cannot be reached.";
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

initTabs();
$("server-form").addEventListener("submit", (e) => e.preventDefault()); // Enter in the key field submits nothing
for (const list of document.querySelectorAll("ul.legend")) fillLegend(list);
initUpload(CONFIG);
initLive(CONFIG);
watchReady();
