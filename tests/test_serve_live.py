"""`emofuse serve`, live side: the `/live` WebSocket protocol over one AnalysisSession.

A client streams one sentence of the demo's speech (16 kHz int16 chunks) and JPEG frames of the
demo's face; the server answers closed segments (per-modality readings, fused label, weights),
rolling estimates and stats. Malformed messages are answered with errors and the session goes
on; protocol violations close the connection; a client that leaves leaves nothing behind.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra: pip install 'emofuse[serve]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (the serve extra)")
pytest.importorskip("faster_whisper")
pytest.importorskip("mediapipe")

from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import emofuse.serve.rolling as rolling  # noqa: E402
from emofuse.data.synth_media import demo_face, demo_speech  # noqa: E402
from emofuse.media.audio import resample  # noqa: E402
from emofuse.serve import ServeSettings, create_app  # noqa: E402

pytestmark = pytest.mark.integration
SR = 16000
START = {"type": "start", "config": {"fps": 2, "asr": False}, "audio": True, "video": True}


@pytest.fixture(scope="module")
def stream() -> dict[str, Any]:
    """~5.4 s of speech as int16 bytes, and a JPEG of the face (base64)."""
    wave, sr = demo_speech()
    sentence = resample(wave[int(4.7 * sr):int(8.6 * sr)], sr, SR)
    speech = np.concatenate([np.zeros(SR // 2, np.float32), sentence, np.zeros(SR, np.float32)])
    face = Image.fromarray(demo_face())
    face.thumbnail((320, 320))
    buf = io.BytesIO()
    face.save(buf, "JPEG", quality=85)
    return {"pcm": (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes(), "speech": speech,
            "jpeg": base64.b64encode(buf.getvalue()).decode("ascii")}


def _wait(pred: Any, timeout: float = 10.0) -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if v := pred():
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


@contextlib.contextmanager
def serve(**settings: Any) -> Iterator[TestClient]:
    """A running service (models ready); afterwards no live session is left and its temp folder is empty."""
    app = create_app(ServeSettings(**{"rolling_interval_s": 0.1, "stats_interval_s": 0.2, **settings}))
    with TestClient(app) as client:
        _wait(lambda: app.state.service.ready != "loading", timeout=120)
        yield client
        state = app.state.service
        _wait(lambda: state.live == 0)
        assert state.root.entries() == []


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve() as c:
        yield c


@pytest.fixture(autouse=True)
def _nothing_left_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "client" in request.fixturenames:
        state = request.getfixturevalue("client").app.state.service
        _wait(lambda: state.live == 0)
        assert state.root.entries() == []


def _send_stream(ws: Any, stream: dict[str, Any], *, chunk_s: float = 0.5, pause: float = 0.03,
                 frames: bool = True) -> None:
    pcm, n = stream["pcm"], int(chunk_s * SR) * 2
    for k, i in enumerate(range(0, len(pcm), n)):
        ws.send_bytes(pcm[i:i + n])
        if frames:
            ws.send_text(json.dumps({"type": "frame", "t": k * chunk_s, "jpeg": stream["jpeg"]}))
        time.sleep(pause)


def _until_end(ws: Any) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    got: dict[str, list[dict[str, Any]]] = {}
    while True:
        m = ws.receive_json()
        if m["type"] == "end":
            return got, m
        got.setdefault(m["type"], []).append(m)


# --------------------------------------------------------------------------- a whole session


def test_live_session_gives_segments_and_rolling_estimates(client: TestClient, stream: dict[str, Any]) -> None:
    with client.websocket_connect("/live") as ws:
        ws.send_text(json.dumps(START))
        started = ws.receive_json()
        assert started["type"] == "started" and started["modalities"] == ["audio", "face"]
        assert started["sample_rate"] == SR and started["segmentation"] == "vad"
        assert "text" in started["missing"]  # no speech recognition asked for
        _send_stream(ws, stream)
        ws.send_text(json.dumps({"type": "stop"}))
        got, end = _until_end(ws)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000
    assert not got.get("error"), got.get("error")
    segs = got["segment"]
    speech = [s for s in segs if s["source"] == "vad"]
    assert len(speech) == 1 and 0.2 <= speech[0]["start"] <= 0.9 and 3.8 <= speech[0]["end"] <= 5.0
    seg = speech[0]
    assert seg["modalities"]["audio"]["status"] == "ok" and seg["modalities"]["face"]["status"] == "ok"
    assert seg["modalities"]["text"]["reason"] and seg["label"] in seg["probs"]
    assert abs(sum(seg["weights"].values()) - 1) < 1e-3 and seg["latency_ms"] >= 0
    roll = got["rolling"]
    assert roll and all(r["latency_ms"] >= 0 and r["label"] in r["probs"] for r in roll)
    assert {"audio", "face", "text"} <= set(roll[-1]["modalities"]) and roll[-1]["t"] > 0
    assert roll[-1]["modalities"]["face"]["status"] == "ok"
    assert any(r["modalities"]["audio"]["status"] == "ok" for r in roll)
    assert "stats" in got and end["dropped_frames"] == 0 and end["audio_s"] == pytest.approx(5.4, abs=0.01)
    res = end["result"]
    assert res["format"] == "emofuse-analysis" and res["kind"] == "live"
    assert [(s["start"], s["end"], s["label"]) for s in res["segments"]] == [
        (s["start"], s["end"], s["label"]) for s in sorted(segs, key=lambda s: s["start"])]


def test_rolling_estimate_reads_the_session_without_disturbing_it(stream: dict[str, Any]) -> None:
    """The same stream with and without rolling estimates gives the same segments."""
    from emofuse.analysis import AnalyzeConfig
    from emofuse.serve.resources import serve_resources

    def run(roll: bool) -> tuple[list[Any], list[dict[str, Any]], dict[str, float]]:
        live = rolling.LiveAnalysis(AnalyzeConfig(fps=2, asr=False), audio=True, video=True, physio=False,
                                    resources=serve_resources(), max_duration_s=60)
        segs, ests = [], []
        pcm, n = stream["pcm"], SR  # 0.5 s of int16
        for k, i in enumerate(range(0, len(pcm), n)):
            segs += live.feed_audio(pcm[i:i + n])
            segs += live.feed_frame(k * 0.5, stream["jpeg"])
            if roll:
                t0 = time.perf_counter()
                est = live.rolling()
                if est is not None:
                    ests.append({**est, "ms": (time.perf_counter() - t0) * 1000})
        more, res = live.close()
        return segs + more, ests, res.timings

    with_roll, ests, timings = run(True)
    without, _, ref_timings = run(False)
    assert [(s.start, s.end, s.label, s.weights) for s in with_roll] == [
        (s.start, s.end, s.label, s.weights) for s in without]
    assert ests and ests[-1]["end"] == pytest.approx(5.4, abs=0.01)
    # the last 3 s of each signal (the last frame, at 5.0 s, is half a second behind the audio)
    assert ests[-1]["start"] == pytest.approx(5.0 - 3.0)
    assert set(timings) == set(ref_timings)  # the estimate's time is not in the session's timings
    print(f"rolling estimate: median {np.median([e['ms'] for e in ests]):.1f} ms over {len(ests)} updates")


# --------------------------------------------------------------------------- malformed input


def test_malformed_messages_are_answered_and_the_session_goes_on(stream: dict[str, Any]) -> None:
    with serve(max_frame_bytes=20_000) as c, c.websocket_connect("/live") as ws:
        ws.send_text(json.dumps(START))
        assert ws.receive_json()["type"] == "started"
        bad = ["{not json", json.dumps([1, 2]), json.dumps({"type": "dance"}),
               json.dumps({"type": "text", "text": "hello"}), json.dumps({"type": "start"}),
               json.dumps({"type": "frame", "t": "soon", "jpeg": stream["jpeg"]}),
               json.dumps({"type": "frame", "t": 0.0, "jpeg": "A" * 100_000}),  # over the frame limit
               json.dumps({"type": "audio", "format": "mp3"})]
        for text in bad:
            ws.send_text(text)
            assert ws.receive_json()["type"] == "error", text
        ws.send_bytes(b"\x00\x01\x02")  # not whole 16-bit samples
        assert "2-byte samples" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "frame", "t": 0.0, "jpeg": "!!! not base64"}))
        assert "base64" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "frame", "t": 0.5, "jpeg": base64.b64encode(b"GIF89a....").decode()}))
        assert "image" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "physio", "signal": "eda", "start": 0, "rate": 4, "samples": [1.0]}))
        assert "physio" in ws.receive_json()["message"]  # the session was opened without physio
        ws.send_text(json.dumps({"type": "audio", "format": "f32"}))
        ws.send_bytes(np.zeros(7, np.float32).tobytes()[:-2])
        assert "4-byte samples" in ws.receive_json()["message"]
        ws.send_bytes(stream["speech"][: SR * 2].astype("<f4").tobytes())  # float32 audio is taken
        ws.send_text(json.dumps({"type": "ping"}))
        assert ws.receive_json()["type"] in ("pong", "rolling", "stats")
        ws.send_text(json.dumps({"type": "stop"}))
        got, end = _until_end(ws)
        assert end["audio_s"] == pytest.approx(2.0) and not got.get("error")


def test_binary_before_start_closes_with_1008(client: TestClient) -> None:
    with client.websocket_connect("/live") as ws:
        ws.send_bytes(b"\x00\x00")
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008
    with client.websocket_connect("/live") as ws:
        ws.send_text(json.dumps({"type": "frame", "t": 0}))
        assert ws.receive_json()["type"] == "error"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


def test_bad_start_options_can_be_corrected(client: TestClient) -> None:
    with client.websocket_connect("/live") as ws:
        for cfg in ({"fusion": "evidnce"}, {"expert_weights": {"face": "/etc"}}, {"colour": 1}):
            ws.send_text(json.dumps({**START, "config": cfg}))
            err = ws.receive_json()
            assert err["type"] == "error" and err["message"].startswith("start:")
        ws.send_text(json.dumps({**START, "audio": False, "video": False}))
        assert ws.receive_json()["type"] == "error"
        ws.send_text(json.dumps(START))
        assert ws.receive_json()["type"] == "started"
        ws.send_text(json.dumps({"type": "stop"}))
        _, end = _until_end(ws)
        assert end["result"]["segments"] == []


# --------------------------------------------------------------------------- limits and leaving


def test_too_many_live_sessions_is_429() -> None:
    with serve(max_live_sessions=0) as c, c.websocket_connect("/live") as ws:
        err = ws.receive_json()
        assert err["type"] == "error" and err["status"] == 429
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1013


def test_api_key_on_the_websocket() -> None:
    with serve(api_key="s3cret") as c:
        with c.websocket_connect("/live") as ws:
            ws.send_text(json.dumps(START))
            assert ws.receive_json()["status"] == 401
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008
        with c.websocket_connect("/live", headers={"X-API-Key": "s3cret"}) as ws:
            ws.send_text(json.dumps(START))
            assert ws.receive_json()["type"] == "started"
        with c.websocket_connect("/live") as ws:
            ws.send_text(json.dumps({**START, "api_key": "s3cret"}))
            assert ws.receive_json()["type"] == "started"


def test_disconnect_mid_stream_leaves_nothing(client: TestClient, stream: dict[str, Any]) -> None:
    state = client.app.state.service
    with client.websocket_connect("/live") as ws:
        ws.send_text(json.dumps(START))
        assert ws.receive_json()["type"] == "started"
        assert state.live == 1
        ws.send_bytes(stream["pcm"][: SR * 2])
        ws.send_text(json.dumps({"type": "frame", "t": 0.0, "jpeg": stream["jpeg"]}))
    _wait(lambda: state.live == 0)
    assert state.root.entries() == []
    with client.websocket_connect("/live") as ws:  # the service goes on
        ws.send_text(json.dumps(START))
        assert ws.receive_json()["type"] == "started"
        ws.send_text(json.dumps({"type": "stop"}))
        _until_end(ws)


def test_back_pressure_drops_frames_never_audio(stream: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    real = rolling.decode_frame

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.08)
        return real(*args, **kwargs)

    monkeypatch.setattr(rolling, "decode_frame", slow)
    with serve(live_queue=2) as c, c.websocket_connect("/live") as ws:
        ws.send_text(json.dumps({**START, "config": {"fps": 20, "asr": False}}))
        assert ws.receive_json()["type"] == "started"
        pcm, n = stream["pcm"], SR // 5  # 0.1 s chunks, each with a frame, sent as fast as possible
        for k, i in enumerate(range(0, len(pcm), n)):
            ws.send_bytes(pcm[i:i + n])
            ws.send_text(json.dumps({"type": "frame", "t": k * 0.1, "jpeg": stream["jpeg"]}))
        ws.send_text(json.dumps({"type": "stop"}))
        got, end = _until_end(ws)
    assert end["dropped_frames"] > 0 and end["frames"] + end["dropped_frames"] == len(range(0, len(pcm), n))
    assert end["audio_s"] == pytest.approx(len(pcm) / 2 / SR)  # every sample arrived
    assert any(s["source"] == "vad" for s in got["segment"])


def test_frames_are_sampled_at_the_configured_fps(client: TestClient, stream: dict[str, Any]) -> None:
    with client.websocket_connect("/live") as ws:
        ws.send_text(json.dumps({**START, "audio": False}))
        started = ws.receive_json()
        assert started["segmentation"] == "window" and started["modalities"] == ["face"]
        for k in range(30):  # 10 fps for 3 s; the session samples 2 fps
            ws.send_text(json.dumps({"type": "frame", "t": k * 0.1, "jpeg": stream["jpeg"]}))
        ws.send_text(json.dumps({"type": "stop"}))
        got, end = _until_end(ws)
    assert end["frames"] == 6 and end["skipped_frames"] == 24 and end["dropped_frames"] == 0
    assert got["segment"][0]["modalities"]["face"]["status"] == "ok"


def test_physio_chunks(client: TestClient) -> None:
    with client.websocket_connect("/live") as ws:
        ws.send_text(json.dumps({**START, "audio": False, "video": False, "physio": True}))
        started = ws.receive_json()
        assert started["modalities"] == ["physio"]
        ws.send_text(json.dumps({"type": "physio", "signal": "eda", "start": 0, "rate": 4}))
        assert "missing 'samples'" in ws.receive_json()["message"]
        ws.send_text(json.dumps({"type": "physio", "signal": "smell", "start": 0, "rate": 4, "samples": [1, 2]}))
        assert ws.receive_json()["type"] == "error"
        eda = (2.0 + 0.1 * np.sin(np.arange(48) / 5)).tolist()
        for k in range(3):  # 3 × 12 s of skin conductance at 4 Hz
            ws.send_text(json.dumps({"type": "physio", "signal": "eda", "start": 12.0 * k, "rate": 4,
                                     "samples": eda}))
        ws.send_text(json.dumps({"type": "stop"}))
        got, end = _until_end(ws)
    assert not got.get("error") and end["physio_chunks"] == 3
    assert end["result"]["segments"] and all("physio" in s["modalities"] for s in end["result"]["segments"])
