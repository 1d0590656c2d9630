"""`emofuse serve`, REST side: every endpoint, the limits, the job lifecycle, privacy of uploads.

The service runs in-process through FastAPI's TestClient (httpx); the media are generated here
with `emofuse.data.synth_media` (one sentence of the demo's speech over the demo's face), as in
tests/test_analyze.py. Speech recognition is off and frames are sampled at 2 fps to keep it fast.
After every test the service's private temporary folder is empty.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install 'emofuse[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (the serve extra)")
pytest.importorskip("av")
pytest.importorskip("faster_whisper")
pytest.importorskip("mediapipe")

from fastapi.testclient import TestClient  # noqa: E402

import emofuse.analysis.pipeline as pipeline  # noqa: E402
import emofuse.serve.app as serve_app  # noqa: E402
from emofuse.analysis import AnalysisResult  # noqa: E402
from emofuse.data.synth_media import demo_face, demo_speech, write_video  # noqa: E402
from emofuse.errors import DataError  # noqa: E402
from emofuse.media.audio import resample  # noqa: E402
from emofuse.serve import ServeSettings, create_app  # noqa: E402

pytestmark = pytest.mark.integration
SR = 16000
FAST = {"fps": "2", "asr": "false"}
_APPS: list[Any] = []


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("serve-media")
    wave, sr = demo_speech()
    sentence = resample(wave[int(4.7 * sr):int(8.6 * sr)], sr, SR)
    speech = np.concatenate([np.zeros(SR // 2, np.float32), sentence, np.zeros(SR, np.float32)])  # ~5.4 s
    video = write_video(d / "talk.mp4", duration_s=len(speech) / SR, width=320, height=180, fps=10,
                        audio=(speech, SR), face=demo_face())
    data = video.read_bytes()
    (d / "truncated.mp4").write_bytes(data[: int(len(data) * 0.6)])
    (d / "text.mp4").write_text("This is a text file, not a video.\n" * 20, encoding="utf-8")
    (d / "empty.mp4").write_bytes(b"")
    (d / "garbage.mp4").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    return {p.stem: p for p in d.iterdir()}


def _wait(pred: Any, timeout: float = 20.0) -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


@contextlib.contextmanager
def serve(**settings: Any) -> Iterator[TestClient]:
    """A running service with these settings (models ready); its temp folder must end up empty."""
    app = create_app(ServeSettings(**settings))
    _APPS.append(app)
    with TestClient(app) as client:
        if settings.get("preload", True):
            _wait(lambda: app.state.service.ready != "loading", timeout=120)
        yield client
        root = app.state.service.root
        _wait(lambda: root.entries() == [], timeout=10)
    assert not root.path.exists()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve(workers=1) as c:
        yield c


@pytest.fixture(autouse=True)
def _temp_root_is_empty_after_each_test() -> Iterator[None]:
    yield
    for app in _APPS:
        root = app.state.service.root
        if root.path.exists():
            _wait(lambda r=root: r.entries() == [], timeout=10)
            assert root.entries() == []


def _upload(path: Path, name: str | None = None, **fields: str) -> dict[str, Any]:
    return {"files": {"file": (name or path.name, path.read_bytes(), "application/octet-stream")},
            "data": {**FAST, **fields}}


def _done(client: TestClient, job_id: str) -> dict[str, Any]:
    """The job's status once it has stopped."""

    def stopped() -> dict[str, Any] | None:
        s = client.get(f"/jobs/{job_id}").json()
        return s if s.get("status") in ("done", "failed", "cancelled") and s.get("finished") is not None else None

    return _wait(stopped)


@pytest.fixture
def slow_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """emofuse.analyze as it is, with each progress step taking 0.15 s longer (jobs stay running a while)."""
    real = pipeline.analyze

    def slow(*args: Any, on_progress: Any = None, **kwargs: Any) -> Any:
        def step(done: float, total: float) -> None:
            time.sleep(0.15)
            on_progress(done, total)

        return real(*args, on_progress=step, **kwargs)

    monkeypatch.setattr(pipeline, "analyze", slow)


# --------------------------------------------------------------------------- the small endpoints


def test_health_ready_index_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    r = client.get("/ready")
    assert r.status_code == 200 and r.json()["ready"] is True
    assert client.get("/").json()["docs"] == "/docs"
    doc = client.get("/openapi.json").json()
    assert {"/analyze", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/result", "/models"} <= set(doc["paths"])
    assert "multipart/form-data" in doc["paths"]["/analyze"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200
    r = client.get("/nothing/here")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_models_lists_the_experts_and_their_cards(client: TestClient) -> None:
    body = client.get("/models").json()
    by_name = {e["name"]: e for e in body["experts"]}
    assert {"text-goemotions", "voice-whisper", "face-fer2013"} <= set(by_name)
    face = by_name["face-fer2013"]
    assert face["modality"] == "face" and face["default"] and face["card"]["name"] == "face-fer2013"
    assert "trained" in body["fusion"]["methods"] and "json" in body["formats"]


# --------------------------------------------------------------------------- POST /analyze


def test_analyze_answers_the_json_of_emofuse_analyze(client: TestClient, media: dict[str, Path]) -> None:
    r = client.post("/analyze", **_upload(media["talk"], name="../../secret/My Interview.MP4"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    res = AnalysisResult.from_dict(r.json())
    ref = pipeline.analyze(media["talk"], fps=2, asr=False)  # the CLI's code, run directly
    assert [(s.start, s.end, s.label) for s in res.segments] == [(s.start, s.end, s.label) for s in ref.segments]
    seg = res.segments[0]
    assert {m for m, x in seg.modalities.items() if x.ok} == {"audio", "face"}
    assert seg.modalities["text"].reason and abs(sum(seg.weights.values()) - 1) < 1e-3
    # neither the client's file name nor a server path is in the answer
    assert res.source == "upload.mp4" and "secret" not in r.text and "Interview" not in r.text
    assert str(client.app.state.service.root.path) not in r.text


def test_analyze_in_other_formats_and_text(client: TestClient, media: dict[str, Path],
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="emofuse.serve")
    r = client.post("/analyze", **_upload(media["talk"], name="Private Name.mp4", formats="csv"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("index,start,end") and len(r.text.splitlines()) >= 2
    r = client.post("/analyze", data={"text": "I am so happy, we won!"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "text" and body["segments"][0]["modalities"]["text"]["label"] == "happiness"
    # the service's log says that jobs ran, never what was in them
    assert "queued" in caplog.text and not any(w in caplog.text for w in ("happy", "Private", "happiness"))


def test_analyze_with_an_uploaded_transcript(client: TestClient, media: dict[str, Path]) -> None:
    srt = (b"1\n00:00:00,400 --> 00:00:02,500\nI just got the news, we won!\n\n"
           b"2\n00:00:02,500 --> 00:00:04,600\nI am so happy about this!\n")
    files = {"file": ("talk.mp4", media["talk"].read_bytes()), "transcript": ("../t.srt", srt)}
    r = client.post("/analyze", files=files, data=FAST)
    assert r.status_code == 200, r.text
    cues = [s for s in r.json()["segments"] if s["source"] == "transcript"]
    assert [(s["start"], s["end"]) for s in cues] == [(0.4, 2.5), (2.5, 4.6)]
    assert cues[1]["modalities"]["text"]["label"] == "happiness"


@pytest.mark.parametrize(("name", "fields", "status", "code"), [
    ("text", {}, 415, "not_media"),            # a text file named .mp4: told by content, not by name
    ("garbage", {}, 415, "not_media"),
    ("empty", {}, 422, "empty_upload"),
    ("truncated", {}, 422, "bad_media"),       # an mp4 without its index
    ("talk", {"fps": "fast"}, 422, "bad_options"),
    ("talk", {"asr": "maybe"}, 422, "bad_options"),
    ("talk", {"fusion": "evidnce"}, 422, "unknown_name"),
    ("talk", {"segmentation": "sentences"}, 422, "unknown_name"),
    ("talk", {"config": '{"fusion_model": "/etc/passwd"}'}, 422, "bad_options"),
    ("talk", {"config": "[1, 2"}, 422, "bad_options"),
    ("talk", {"set": "window_s=-1"}, 422, "bad_options"),
    ("talk", {"colour": "blue"}, 422, "bad_options"),
    ("talk", {"formats": "xls"}, 422, "unknown_name"),
    ("talk", {"formats": "json,csv"}, 422, "bad_options"),  # /analyze answers one format
    ("talk", {"text": "both a file and a text"}, 422, "bad_form"),
])
def test_refusals_are_json_never_500(client: TestClient, media: dict[str, Path], name: str,
                                     fields: dict[str, str], status: int, code: str) -> None:
    r = client.post("/analyze", **_upload(media[name], **fields))
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and body["status"] == status and body["message"]
    assert str(client.app.state.service.root.path) not in r.text and "/tmp" not in body["message"]


def test_requests_that_are_not_uploads(client: TestClient) -> None:
    r = client.post("/analyze", content=b"raw bytes", headers={"content-type": "video/mp4"})
    assert r.status_code == 415 and r.json()["error"] == "not_multipart"
    r = client.post("/analyze", data=FAST)  # a form without a file or a text
    assert r.status_code == 422 and r.json()["error"] == "bad_form"
    r = client.get("/jobs/nope/result", params={"format": 3})
    assert r.status_code == 404


# --------------------------------------------------------------------------- limits


def _multipart(path: Path, boundary: str = "emofuse-test-boundary") -> tuple[bytes, dict[str, str]]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


def test_uploads_over_the_size_limit_are_413(media: dict[str, Path]) -> None:
    with serve(max_upload_bytes=20_000) as c:
        r = c.post("/analyze", **_upload(media["talk"]))  # refused on its Content-Length
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        body, headers = _multipart(media["talk"])
        # streamed without a length: refused by the running byte count, midway
        r = c.post("/jobs", content=(body[i:i + 4096] for i in range(0, len(body), 4096)), headers=headers)
        assert r.status_code == 413 and r.json()["limit"] == 20_000
        assert c.post("/analyze", data={"text": "short texts still pass"}).status_code == 200


def test_media_over_the_duration_limit_is_413(media: dict[str, Path]) -> None:
    with serve(max_duration_s=2.0) as c:
        r = c.post("/analyze", **_upload(media["talk"]))
        assert r.status_code == 413 and r.json()["error"] == "too_long"


def test_full_queue_is_429(media: dict[str, Path]) -> None:
    with serve(max_jobs=0) as c:
        for url in ("/analyze", "/jobs"):
            r = c.post(url, **_upload(media["talk"]))
            assert r.status_code == 429 and r.json()["error"] == "queue_full"


def test_a_second_job_waits_for_room(media: dict[str, Path], slow_analysis: None) -> None:
    with serve(max_jobs=1, workers=1) as c:
        first = c.post("/jobs", **_upload(media["talk"])).json()["id"]
        r = c.post("/jobs", **_upload(media["talk"]))
        assert r.status_code == 429
        assert c.delete(f"/jobs/{first}").json()["status"] == "cancelled"
        _done(c, first)
        assert c.post("/jobs", **_upload(media["talk"])).status_code == 202


def test_api_key(media: dict[str, Path]) -> None:
    with serve(api_key="s3cret") as c:
        assert c.get("/health").status_code == 200 and c.get("/ready").status_code == 200
        for r in (c.get("/models"), c.post("/analyze", **_upload(media["talk"])),
                  c.get("/models", headers={"X-API-Key": "wrong"})):
            assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        assert c.get("/models", headers={"X-API-Key": "s3cret"}).status_code == 200
        r = c.post("/analyze", headers={"X-API-Key": "s3cret"}, **_upload(media["talk"]))
        assert r.status_code == 200


def test_cors_is_off_unless_configured() -> None:
    pre = {"Origin": "http://example.org", "Access-Control-Request-Method": "POST"}
    with serve(preload=False) as c:
        r = c.options("/analyze", headers=pre)
        assert "access-control-allow-origin" not in r.headers
    with serve(preload=False, cors_origins=("http://example.org",)) as c:
        r = c.options("/analyze", headers=pre)
        assert r.headers["access-control-allow-origin"] == "http://example.org"


def test_not_ready_is_503(media: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_resources: Any) -> None:
        raise RuntimeError("weights missing")

    monkeypatch.setattr(serve_app, "load_models", broken)
    with serve() as c:
        r = c.get("/ready")
        assert r.status_code == 503 and r.json()["status"] == "failed" and "weights missing" in r.json()["error"]
        for url in ("/analyze", "/jobs"):
            r = c.post(url, **_upload(media["talk"]))
            assert r.status_code == 503 and r.json()["error"] == "not_ready"
        assert c.get("/health").status_code == 200


# --------------------------------------------------------------------------- jobs


def test_job_lifecycle_result_fetched_once(client: TestClient, media: dict[str, Path]) -> None:
    r = client.post("/jobs", **_upload(media["talk"], formats="json,html"))
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    status = _done(client, job)
    assert status["status"] == "done" and status["progress"] == 1.0 and status["duration"] > 5
    assert status["formats"] == ["json", "html"]
    assert client.get(f"/jobs/{job}/result", params={"format": "csv"}).status_code == 422  # not asked for
    r = client.get(f"/jobs/{job}/result", params={"format": "html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html") and "<html" in r.text.lower()
    for url in (f"/jobs/{job}/result", f"/jobs/{job}"):  # fetched once, then gone
        assert client.get(url).status_code == 404
    job = client.post("/jobs", **_upload(media["talk"])).json()["id"]
    _done(client, job)
    body = client.get(f"/jobs/{job}/result").json()
    assert body["format"] == "emofuse-analysis" and body["segments"]


def test_cancel_queued_and_running_jobs(media: dict[str, Path], slow_analysis: None) -> None:
    with serve(workers=1) as c:
        running = c.post("/jobs", **_upload(media["talk"], name="../../etc/evil name.mp4")).json()["id"]
        queued = c.post("/jobs", **_upload(media["talk"])).json()["id"]
        status = _wait(lambda: (s := c.get(f"/jobs/{running}").json())["progress"] > 0 and s)
        assert status["status"] == "running" and 0 < status["progress"] < 1
        assert c.get(f"/jobs/{queued}").json()["status"] == "queued"
        # the uploads sit in private folders under server-made names
        root = c.app.state.service.root.path
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
        dirs = list(root.iterdir())
        assert len(dirs) == 2 and all(stat.S_IMODE(os.stat(d).st_mode) == 0o700 for d in dirs)
        assert sorted(p.name for d in dirs for p in d.iterdir()) == ["upload.mp4", "upload.mp4"]
        assert c.delete(f"/jobs/{queued}").json() == {"id": queued, "status": "cancelled"}
        assert c.delete(f"/jobs/{running}").json()["status"] == "cancelled"
        final = _done(c, running)
        assert final["status"] == "cancelled" and final["progress"] < 1
        assert c.get(f"/jobs/{queued}").json()["started"] is None  # never ran
        r = c.get(f"/jobs/{running}/result")
        assert r.status_code == 409 and r.json()["error"] == "not_done"
        assert c.delete("/jobs/unknown").status_code == 404


def test_results_expire(media: dict[str, Path]) -> None:
    with serve(result_ttl_s=0.3) as c:
        job = c.post("/jobs", **_upload(media["talk"])).json()["id"]
        _done(c, job)
        time.sleep(0.5)
        assert c.get(f"/jobs/{job}").status_code == 404
        assert c.get(f"/jobs/{job}/result").status_code == 404


def test_failed_and_timed_out_jobs(media: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def bad(path: Any, **_kwargs: Any) -> Any:
        raise DataError(f"{path}: the streams are broken")

    with serve(job_timeout_s=0.2) as c:
        monkeypatch.setattr(pipeline, "analyze", bad)
        job = c.post("/jobs", **_upload(media["talk"])).json()["id"]
        status = _done(c, job)
        assert status["status"] == "failed" and status["error"]["status"] == 422
        assert status["error"]["message"] == "upload: the streams are broken"  # no server path
        r = c.get(f"/jobs/{job}/result")
        assert r.status_code == 422 and r.json()["message"] == "upload: the streams are broken"
        assert c.get(f"/jobs/{job}").status_code == 404
        r = c.post("/analyze", **_upload(media["talk"]))
        assert r.status_code == 422 and r.json()["error"] == "bad_input"
        monkeypatch.undo()

        real = pipeline.analyze

        def slow(*args: Any, on_progress: Any = None, **kwargs: Any) -> Any:
            return real(*args, on_progress=lambda d, t: (time.sleep(0.1), on_progress(d, t)), **kwargs)

        monkeypatch.setattr(pipeline, "analyze", slow)
        job = c.post("/jobs", **_upload(media["talk"])).json()["id"]
        status = _done(c, job)
        assert status["status"] == "failed" and status["error"]["error"] == "timeout"


def test_job_status_body_never_holds_the_result(client: TestClient, media: dict[str, Path]) -> None:
    job = client.post("/jobs", **_upload(media["talk"])).json()["id"]
    status = _done(client, job)
    assert "segments" not in json.dumps(status) and status["result"] == f"/jobs/{job}/result"
    assert client.delete(f"/jobs/{job}").json()["status"] == "cancelled"  # a result can be discarded unread
    assert client.get(f"/jobs/{job}/result").status_code in (404, 409)


def test_concurrent_jobs_share_the_models_safely(media: dict[str, Path]) -> None:
    import emofuse.analysis.session as session
    from emofuse.serve.resources import Locked

    before = session.RESOURCES
    with serve(workers=2) as c:
        res = c.app.state.service.resources
        assert session.RESOURCES is before  # uploads get the thread-safe models passed in; the default stays
        jobs = [c.post("/jobs", **_upload(media["talk"])).json()["id"] for _ in range(3)]
        direct = c.post("/analyze", **_upload(media["talk"])).json()
        results = []
        for job in jobs:
            assert _done(c, job)["status"] == "done"
            results.append(c.get(f"/jobs/{job}/result").json())
        assert all(r["segments"] == direct["segments"] for r in results)
        assert res._proxies and all(isinstance(p, Locked) for p in res._proxies.values())
    assert session.RESOURCES is before  # restored when the service stopped
