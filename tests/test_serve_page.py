"""`emofuse serve`, the web page without a browser: what `GET /` and `/static` answer, and `keep=1`.

The page is HTML for browsers and the JSON pointer for other clients; it carries the report
colours (EMOTION_COLORS) itself; its files ship as package data; it is public also behind an API
key (the API is not). ``GET /jobs/{id}/result?keep=1`` leaves the result for another fetch (the
page fetches each download format that way, then deletes the job).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install 'emofuse[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (the serve extra)")

from fastapi.testclient import TestClient  # noqa: E402

from emofuse.analysis.report_common import EMOTION_COLORS, MISSING_COLOR  # noqa: E402
from emofuse.serve import ServeSettings, create_app  # noqa: E402
from emofuse.serve.page import STATIC_DIR  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(ServeSettings(preload=False))) as c:
        yield c


def _config(html: str) -> dict:
    m = re.search(r'<script id="emofuse-config" type="application/json">(.*?)</script>', html, re.S)
    assert m, "no page configuration in the HTML"
    return json.loads(m.group(1))


def test_browsers_get_the_page_and_others_the_pointer(client: TestClient) -> None:
    r = client.get("/", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "http" not in csp  # nothing from elsewhere
    assert 'id="timeline"' in r.text and 'id="live-start"' in r.text and 'aria-live="polite"' in r.text
    assert not re.search(r"""(src|href)=["']https?://""", r.text)  # no CDN
    cfg = _config(r.text)
    assert cfg["emotion_colors"] == EMOTION_COLORS and cfg["missing_color"] == list(MISSING_COLOR)
    assert cfg["classes"] == list(EMOTION_COLORS) and cfg["sample_rate"] == 16000
    j = client.get("/")  # httpx sends Accept: */*
    assert j.headers["content-type"].startswith("application/json") and j.json()["docs"] == "/docs"
    assert client.get("/", headers={"Accept": "application/json"}).json()["page"] == "/"


def test_static_files_are_served_and_shipped(client: TestClient) -> None:
    html = client.get("/", headers=HTML).text
    names = {p.name for p in STATIC_DIR.iterdir() if p.is_file()}
    refs = set(re.findall(r'/static/([\w.-]+)', html))
    for js in (STATIC_DIR / n for n in names if n.endswith(".js")):  # the modules' imports
        refs |= set(re.findall(r'from "\./([\w.-]+)"', js.read_text(encoding="utf-8")))
        refs |= set(re.findall(r'"/static/([\w.-]+)"', js.read_text(encoding="utf-8")))
    assert refs and refs <= names, refs - names
    for name in sorted(names - {"index.html"}):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200, name
        kind = {"js": "javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
        assert kind in r.headers["content-type"], (name, r.headers["content-type"])
        assert "http://" not in r.text.replace("http://www.w3.org/2000/svg", "") and "https://" not in r.text
    assert client.get("/static/nope.js").status_code == 404
    assert client.get("/static/../page.py").status_code == 404
    toml = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # the files ship in the wheel
    package_data = toml.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert '"serve/static/*"' in package_data


def test_page_is_public_behind_an_api_key_but_the_api_is_not() -> None:
    with TestClient(create_app(ServeSettings(preload=False, api_key="s3cret"))) as c:
        assert c.get("/", headers=HTML).status_code == 200
        assert c.get("/static/main.js").status_code == 200
        assert c.get("/models").status_code == 401 and c.get("/jobs/x").status_code == 401
        assert c.get("/models", headers={"X-API-Key": "s3cret"}).status_code == 200


@pytest.mark.integration
def test_keep_leaves_the_result_for_another_fetch(client: TestClient, tmp_path: Path) -> None:
    pytest.importorskip("av")
    pytest.importorskip("mediapipe")
    from emofuse.data.synth_media import demo_face, write_video

    sr = 16000
    t = np.arange(int(2.0 * sr)) / sr
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    video = write_video(tmp_path / "clip.mp4", duration_s=2.0, width=160, height=120, fps=5, audio=(tone, sr),
                        face=demo_face())
    r = client.post("/jobs", files={"file": ("clip.mp4", video.read_bytes(), "video/mp4")},
                    data={"fps": "1", "asr": "false", "formats": "json,csv"})
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    t0 = time.monotonic()
    while (s := client.get(f"/jobs/{job}").json())["status"] in ("queued", "running"):
        assert time.monotonic() - t0 < 120
        time.sleep(0.05)
    assert s["status"] == "done", s
    first = client.get(f"/jobs/{job}/result?format=json&keep=1")
    again = client.get(f"/jobs/{job}/result", params={"format": "json", "keep": "true"})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert client.get(f"/jobs/{job}/result?format=csv&keep=1").text.startswith("index,start,end")
    assert client.get(f"/jobs/{job}").json()["status"] == "done"
    assert client.get(f"/jobs/{job}/result?format=csv").status_code == 200  # without keep: the last fetch
    assert client.get(f"/jobs/{job}/result?format=json&keep=1").status_code == 404
