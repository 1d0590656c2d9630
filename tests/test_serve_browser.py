"""`emofuse serve`, the web page in a real browser: upload and live mode in headless Chromium.

A real service (uvicorn on 127.0.0.1, a free port, in a thread) and Debian's Chromium driven by
Playwright. Upload: a generated video (one sentence of the demo's speech over the demo's face)
and its SRT transcript go through the page's file inputs; the page runs the job and draws the
timeline, the segment table and the download links. Live: Chromium's fake camera (a Y4M file of
the demo's face written here) and fake microphone (a WAV of the demo's sentence) stream through
the page's AudioWorklet capture and canvas frames to ``WS /live`` until predictions are shown.

They skip without the ``playwright`` package (``pip install 'emofuse[browser]'``) or without a
Chromium at /usr/bin/chromium (``apt-get install chromium``; ``EMOFUSE_CHROMIUM`` names another).
Never ``playwright install``: the system Chromium is launched. With ``EMOFUSE_SCREENSHOTS=1``
the two tests write docs/screenshots/serve_upload.png and serve_live.png.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

CHROMIUM = Path(os.environ.get("EMOFUSE_CHROMIUM", "/usr/bin/chromium"))
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need playwright: "
                               "pip install 'emofuse[browser]' (and a Chromium: apt-get install chromium)")
if not CHROMIUM.exists():
    pytest.skip(f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium, or set "
                "EMOFUSE_CHROMIUM); `playwright install` is not used", allow_module_level=True)
pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install 'emofuse[serve]'")
pytest.importorskip("uvicorn", reason="the service needs the serve extra: pip install 'emofuse[serve]'")
pytest.importorskip("av")
pytest.importorskip("faster_whisper")
pytest.importorskip("mediapipe")
import uvicorn  # noqa: E402
from PIL import Image  # noqa: E402

from emofuse.analysis.report_common import EMOTION_COLORS  # noqa: E402
from emofuse.data.synth_media import demo_face, demo_speech, write_video  # noqa: E402
from emofuse.media.audio import resample  # noqa: E402
from emofuse.serve import ServeSettings, create_app  # noqa: E402

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
SR = 16000
CLASSES = tuple(EMOTION_COLORS)
TRANSCRIPT = ("1\n00:00:00,450 --> 00:00:02,600\nI just got the news, we won!\n\n"
              "2\n00:00:02,600 --> 00:00:04,500\nI am so happy about this.\n")


def _screenshots() -> bool:
    return os.environ.get("EMOFUSE_SCREENSHOTS", "").strip().lower() in ("1", "true", "yes")


def _y4m(path: Path, rgb: np.ndarray, frames: int = 10, size: tuple[int, int] = (320, 240)) -> Path:
    """A Y4M video (4:2:0, full-range BT.601 as 'C420jpeg' means) of ``rgb`` with a slight drift."""
    w, h = size
    img = Image.fromarray(rgb)
    img.thumbnail((h, h))
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for k in range(frames):
            canvas = Image.new("RGB", (w, h), (90, 96, 104))
            canvas.paste(img, ((w - img.width) // 2 + (k % 5) - 2, (h - img.height) // 2))
            x = np.asarray(canvas, dtype=np.float32)
            r, g, b = x[..., 0], x[..., 1], x[..., 2]
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b

            def sub(c: np.ndarray) -> np.ndarray:
                return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

            f.write(b"FRAME\n")
            for plane in (y, sub(u), sub(v)):
                f.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())
    return path


def _wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("browser-media")
    wave_, sr = demo_speech()
    sentence = resample(wave_[int(4.7 * sr):int(8.6 * sr)], sr, SR)
    speech = np.concatenate([np.zeros(SR // 2, np.float32), sentence, np.zeros(SR, np.float32)])  # ~5.4 s
    video = write_video(d / "talk.mp4", duration_s=len(speech) / SR, width=320, height=180, fps=10,
                        audio=(speech, SR), face=demo_face())
    (d / "talk.srt").write_text(TRANSCRIPT, encoding="utf-8")
    return SimpleNamespace(video=video, transcript=d / "talk.srt",
                           wav=_wav(d / "speech.wav", resample(speech, SR, 48000), 48000),
                           y4m=_y4m(d / "face.y4m", demo_face()))


@pytest.fixture(scope="module")
def server() -> Iterator[SimpleNamespace]:
    """The service on 127.0.0.1 at a free port (uvicorn in a thread), models loaded."""
    settings = ServeSettings(workers=1, rolling_interval_s=0.5, stats_interval_s=0.5)
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        ws_max_size=int(settings.max_message_bytes), lifespan="on"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    t0 = time.monotonic()
    while not (srv.started and app.state.service.ready != "loading"):
        assert thread.is_alive() and time.monotonic() - t0 < 120, "the service did not start"
        time.sleep(0.05)
    assert app.state.service.ready == "ready", app.state.service.ready_error
    yield SimpleNamespace(url=f"http://127.0.0.1:{port}", app=app)
    srv.should_exit = True
    thread.join(timeout=15)
    sock.close()


@pytest.fixture(scope="module")
def browser(media: SimpleNamespace) -> Iterator[Any]:
    """Headless Chromium with fake camera and microphone fed from the files above."""
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={media.wav}", f"--use-file-for-fake-video-capture={media.y4m}",
            "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, server: SimpleNamespace) -> Iterator[Any]:
    """A fresh page; afterwards it must have logged no error (CSP violations included)."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, device_scale_factor=1)
    ctx.grant_permissions(["camera", "microphone"], origin=server.url)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    yield pg
    ctx.close()
    assert not errors, errors


def _blob_text(page: Any, selector: str) -> str:
    return page.evaluate("async (s) => await (await fetch(document.querySelector(s).href)).text()", selector)


def _blob_head(page: Any, selector: str, n: int = 8) -> bytes:
    b64 = page.evaluate("""async ([s, n]) => {
        const buf = new Uint8Array(await (await fetch(document.querySelector(s).href)).arrayBuffer());
        return btoa(String.fromCharCode(...buf.slice(0, n)));
    }""", [selector, n])
    return base64.b64decode(b64)


# --------------------------------------------------------------------------- upload


def test_upload_shows_timeline_table_and_downloads(page: Any, server: SimpleNamespace, media: SimpleNamespace) -> None:
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    page.set_input_files("#file", str(media.video))
    page.set_input_files("#transcript", str(media.transcript))
    page.fill("#fps", "2")
    page.uncheck("#asr")
    page.click("#submit")
    page.wait_for_selector("#downloads[data-ready='true']", timeout=30_000)

    result = json.loads(_blob_text(page, "#download-json"))
    segs = result["segments"]
    assert result["format"] == "emofuse-analysis" and segs
    assert page.is_visible("#timeline") and page.locator("#timeline g.segment").count() == len(segs)
    assert page.locator("#timeline rect.missing").count() >= 0  # present where a modality is missing
    rows = page.locator("#segments tbody tr.segment")
    assert rows.count() == len(segs)
    labels = page.locator("#segments .fused-label").all_inner_texts()
    assert labels == [s["label"] or "—" for s in segs] and set(labels) <= {*CLASSES, "—"}
    texts = " ".join(page.locator("#segments .seg-text").all_inner_texts())
    assert "we won" in texts and "so happy" in texts  # the transcript's words, per segment
    assert page.locator("#segments thead th[data-modality]").all_inner_texts() == ["text", "voice", "face"]
    cells = page.locator("#segments td.modality")
    assert cells.count() == 3 * len(segs)
    for i, seg in enumerate(segs):
        for m, r in seg["modalities"].items():
            cell = rows.nth(i).locator(f"td.modality[data-modality='{m}']")
            if r["status"] == "ok":
                assert cell.locator(".modality-label").inner_text() == r["label"]
            else:
                assert cell.locator(".missing-reason").inner_text() == r["reason"]
    # the colours are the PNG timeline's (EMOTION_COLORS), each with its name beside it
    legend = page.evaluate("""() => [...document.querySelectorAll('#result .legend li')].map(li => [
        li.textContent.trim(), getComputedStyle(li.querySelector('.swatch')).backgroundColor])""")
    rgb = {c: "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (1, 3, 5))) for c, h in EMOTION_COLORS.items()}
    assert [name for name, _ in legend] == [*CLASSES, "missing"]
    assert {name: color for name, color in legend if name in rgb} == rgb
    fills = set(page.eval_on_selector_all("#timeline g.segment rect[class^='p-']",
                                          "rs => rs.map(r => r.getAttribute('fill'))"))
    assert fills and fills <= set(EMOTION_COLORS.values())

    # downloads: blobs the page holds (the result was fetched with keep=1, then discarded on the server)
    assert _blob_text(page, "#download-csv").startswith("index,start,end")
    assert "<html" in _blob_text(page, "#download-html")[:500].lower()
    assert _blob_head(page, "#download-png") == b"\x89PNG\r\n\x1a\n"
    for fmt in ("json", "csv", "html", "png"):
        link = page.locator(f"#download-{fmt}")
        assert link.get_attribute("href").startswith("blob:") and link.get_attribute("download") == f"analysis.{fmt}"
    assert all(j.result is None for j in server.app.state.service.jobs._jobs.values())
    assert "Done" in page.inner_text("#job-status") and page.get_attribute("#job-progress", "value") == "100"
    if _screenshots():
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "serve_upload.png"), full_page=True)


def test_upload_error_is_shown(page: Any, server: SimpleNamespace, media: SimpleNamespace) -> None:
    page.goto(server.url + "/")
    page.set_input_files("#file", str(media.transcript))  # a text file, not media: 415
    page.click("#submit")
    page.wait_for_selector("#upload-error:not([hidden])", timeout=10_000)
    assert "not" in page.inner_text("#upload-error").lower() and page.is_hidden("#result")
    page.errors.clear()  # the browser logs the refused request itself


# --------------------------------------------------------------------------- keyboard


def test_tabs_work_with_the_keyboard(page: Any, server: SimpleNamespace) -> None:
    page.goto(server.url + "/")
    page.focus("#tab-upload")
    page.keyboard.press("ArrowRight")
    assert page.is_visible("#panel-live") and page.is_hidden("#panel-upload")
    assert page.get_attribute("#tab-live", "aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "tab-live"
    page.keyboard.press("Home")
    assert page.is_visible("#panel-upload") and page.get_attribute("#tab-upload", "aria-selected") == "true"
    for sel in ("#file", "#transcript", "#fps", "#asr", "#fusion", "#live-fps", "#live-asr", "#api-key"):
        label = page.evaluate("(s) => document.querySelector(`label[for=\"${s.slice(1)}\"]`)?.textContent", sel)
        assert label and label.strip(), sel
    assert page.get_attribute("#live-label", "aria-live") == "polite"


def test_downsampler_keeps_speech_band_and_rejects_aliases(page: Any, server: SimpleNamespace) -> None:
    page.goto(server.url + "/")
    out = page.evaluate("""async () => {
        const { Downsampler } = await import('/static/resampler.js');
        const tone = (f, rate) => {
            const ds = new Downsampler(rate, 16000), parts = [];
            for (let i = 0; i < rate; i += 128) {
                const x = new Float32Array(128);
                for (let k = 0; k < 128; k++) x[k] = Math.sin(2 * Math.PI * f * (i + k) / rate);
                parts.push(...ds.process(x));
            }
            const y = parts.slice(400);
            const rms = Math.sqrt(y.reduce((a, v) => a + v * v, 0) / y.length);
            let zc = 0;
            for (let i = 1; i < y.length; i++) if ((y[i - 1] < 0) !== (y[i] < 0)) zc++;
            return { n: parts.length, rms, freq: zc / 2 / (y.length / 16000) };
        };
        return { a: tone(440, 48000), b: tone(1000, 44100), alias: tone(11000, 48000) };
    }""")
    for k in ("a", "b"):
        assert abs(out[k]["n"] - 16000) < 80 and abs(out[k]["rms"] - 2 ** -0.5) < 0.02
    assert abs(out["a"]["freq"] - 440) < 5 and abs(out["b"]["freq"] - 1000) < 8
    assert out["alias"]["rms"] < 0.02  # 11 kHz would fold to 5 kHz: filtered out


# --------------------------------------------------------------------------- live


def test_live_mode_streams_camera_and_microphone(page: Any, server: SimpleNamespace) -> None:
    page.goto(server.url + "/#live")
    page.wait_for_selector("body[data-ready='true']", timeout=20_000)
    page.fill("#live-fps", "2")
    page.click("#live-start")
    page.wait_for_function("() => Number(document.querySelector('#panel-live').dataset.rolling) >= 2",
                           timeout=20_000)
    assert page.inner_text("#live-label") in CLASSES
    mods = page.locator("#live-modalities li.live-modality")
    assert {mods.nth(i).get_attribute("data-modality") for i in range(mods.count())} >= {"audio", "face"}
    assert page.inner_text("#live-modalities li[data-modality='text'] .missing-reason")  # no words: asr is off
    page.wait_for_selector("#live-segments tbody tr.segment", timeout=25_000)  # a closed segment (VAD)
    page.wait_for_function("() => Number(document.querySelector('#stat-frames').textContent) >= 2", timeout=10_000)
    assert page.inner_text("#live-capture").startswith("AudioWorklet")
    assert float(page.inner_text("#stat-audio").split()[0]) > 3
    assert page.inner_text("#stat-dropped").isdigit() and page.inner_text("#stat-latency").endswith("ms")
    assert page.locator("#live-chart g.rolling rect").count() > 0
    assert page.locator("#live-segments .fused-label").first.inner_text() in CLASSES
    if _screenshots():
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "serve_live.png"), full_page=True)
    page.click("#live-stop")
    page.wait_for_selector("#panel-live[data-state='ended']", timeout=20_000)
    assert "Stopped" in page.inner_text("#live-status") and page.is_enabled("#live-start")
    session = json.loads(_blob_text(page, "#live-download-json"))
    assert session["format"] == "emofuse-analysis" and session["segments"]
    t0 = time.monotonic()
    while server.app.state.service.live and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    assert server.app.state.service.live == 0
