"""``WS /live``: live analysis over a WebSocket, the same :class:`~emofuse.analysis.AnalysisSession` as batch.

The protocol (JSON text messages, audio as binary messages):

1. The client opens with ``{"type": "start", "config": {...AnalyzeConfig fields...}, "audio": true,
   "video": true, "physio": false}`` (optional ``"audio_format": "f32"``, ``"api_key"`` when the
   service has one and the ``X-API-Key`` header was not sent). The server answers
   ``{"type": "started", "modalities": [...], "missing": {...}, "sample_rate": 16000, ...}``.
2. Then, in any order: **binary** messages of 16 kHz mono audio — 16-bit little-endian integers,
   or 32-bit floats after ``{"type": "audio", "format": "f32"}`` — appended one after the other
   (their count of samples is the stream's clock); ``{"type": "frame", "t": s, "jpeg": "<base64>"}``
   (JPEG or WebP, ``t`` on the audio's clock; frames are sampled at the config's ``fps``);
   ``{"type": "physio", "signal": "eda", "start": s, "rate": 4, "samples": [...]}``;
   ``{"type": "stop"}``. ``{"type": "text"}`` messages (live words) are **not supported yet**:
   they are answered with an error and ignored (give ``"asr": true`` for words).
3. The server sends ``{"type": "segment", ...SegmentResult..., "latency_ms"}`` for each closed
   segment, ``{"type": "rolling", "t", "label", "probs", "weights", "modalities", "latency_ms"}``
   every ``rolling_interval_s`` (:mod:`emofuse.serve.rolling`), ``{"type": "stats",
   "dropped_frames", ...}`` every ``stats_interval_s``, and after ``stop`` the last segments
   and ``{"type": "end", "result": {...}, "dropped_frames", ...}`` (the whole result, as
   ``POST /analyze`` gives it), then closes (1000). ``latency_ms`` is the time from the server
   receiving the last message an answer reads to the answer being sent.

Back-pressure: each connection has a bounded inbound queue. When the analysis falls behind,
video frames are dropped (and counted: ``dropped_frames``); audio is never dropped — the server
stops reading instead, so the client's sends wait. Malformed messages are answered with
``{"type": "error", "message"}`` and the session goes on; protocol violations (a binary
message before ``start``, a first message that is not ``start``) close the connection with
1008, too many live sessions with 1013 (after an error with ``"status": 429``). The analysis
runs in a worker thread, so the event loop stays responsive; a client that goes away leaves
nothing behind (its session is dropped once the chunk in progress is done).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
from dataclasses import dataclass
from typing import Any

try:  # the serve extra (see emofuse.serve.app)
    from fastapi import WebSocket
except ImportError:  # pragma: no cover - exercised only without the serve extra
    WebSocket = None  # type: ignore[assignment,misc]

from emofuse.errors import EmofuseError
from emofuse.serve.errors import ServeError
from emofuse.serve.rolling import AUDIO_FORMATS, SAMPLE_RATE, LiveAnalysis, segment_dict
from emofuse.serve.settings import client_config

__all__ = ["LiveConnection", "add_live_route"]

log = logging.getLogger("emofuse.serve")
_FORMAT_NAMES = {"s16": "s16", "int16": "s16", "pcm_s16le": "s16", "f32": "f32", "float32": "f32",
                 "pcm_f32le": "f32"}
_MAX_ERRORS_BEFORE_START = 10


@dataclass
class _Item:
    kind: str
    received: float
    data: Any = None


class _Closed(Exception):
    """The connection is over (the client left, or the server closed it)."""


class LiveConnection:
    """One ``/live`` WebSocket connection (see the module docstring).

    Args:
        ws: The Starlette WebSocket.
        state: The service's :class:`~emofuse.serve.app.ServiceState`.
    """

    def __init__(self, ws: Any, state: Any) -> None:
        self.ws, self.state, self.s = ws, state, state.settings
        self.live: LiveAnalysis | None = None
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=self.s.live_queue)
        self.audio_format = "s16"
        self.dropped = self.skipped = 0
        self.next_frame_t = -math.inf
        self._send_lock = asyncio.Lock()
        self._inflight: asyncio.Future[Any] | None = None
        self.consumer: asyncio.Task[Any] | None = None
        self.closed = False

    # ------------------------------------------------------------------ sending

    async def send(self, msg: dict[str, Any]) -> None:
        """Send one JSON message (one sender at a time)."""
        if self.closed:
            raise _Closed
        try:
            async with self._send_lock:
                await self.ws.send_text(json.dumps(msg, ensure_ascii=False, separators=(",", ":")))
        except Exception as err:  # the client went away
            self.closed = True
            raise _Closed from err

    async def error(self, message: str, **extra: Any) -> None:
        """An ``error`` message (the connection goes on)."""
        await self.send({"type": "error", "message": message, **extra})

    async def close(self, code: int, reason: str = "") -> None:
        """Close the connection (once)."""
        if not self.closed:
            self.closed = True
            try:
                await self.ws.close(code=code, reason=reason[:120])
            except Exception:  # noqa: S110 - already gone
                pass

    async def put(self, item: _Item) -> None:
        """Queue an item, waiting while the queue is full (``_Closed`` if the analysis side ended)."""
        if self.consumer is None or self.consumer.done():
            raise _Closed
        put = asyncio.ensure_future(self.queue.put(item))
        done, _ = await asyncio.wait({put, self.consumer}, return_when=asyncio.FIRST_COMPLETED)
        if put not in done:
            put.cancel()
            raise _Closed

    async def blocking(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker thread; remembered so that cleanup can wait for it."""
        fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved even if nobody waits
        self._inflight = fut
        return await asyncio.shield(fut)

    # ------------------------------------------------------------------ the connection

    async def run(self) -> None:
        """Serve the connection until it stops, fails or the client leaves; then release everything."""
        await self.ws.accept()
        st = self.state
        with st.live_lock:
            admitted = st.live < self.s.max_live_sessions
            st.live += admitted
        if not admitted:
            try:
                await self.error(f"too many live sessions (at most {self.s.max_live_sessions}); try again later",
                                 status=429)
            except _Closed:
                pass
            await self.close(1013, "too many live sessions")
            return
        try:
            if st.ready != "ready":
                await self.error("the models are not loaded yet", status=503)
                await self.close(1013, "not ready")
                return
            if not await self.wait_start():
                return
            self.consumer = asyncio.create_task(self.consume())
            if await self.read_loop():
                await self.consumer
                await self.close(1000, "done")
        except _Closed:
            pass
        finally:  # no await before the bookkeeping: this also runs when the task is being cancelled
            with st.live_lock:
                st.live -= 1
            self.live = None  # the session goes with the last reference (the chunk in progress holds one)
            if self.consumer is not None and not self.consumer.done():
                self.consumer.cancel()
        await self.close(1000)

    async def receive(self) -> dict[str, Any]:
        """The next message (``_Closed`` when the client left or was idle too long)."""
        try:
            msg = await asyncio.wait_for(self.ws.receive(), timeout=self.s.live_idle_timeout_s)
        except asyncio.TimeoutError:
            try:
                await self.error(f"nothing received for {self.s.live_idle_timeout_s:g} s; closing")
            finally:
                await self.close(1000, "idle")
            raise _Closed from None
        except Exception as err:
            self.closed = True
            raise _Closed from err
        if msg.get("type") == "websocket.disconnect":
            self.closed = True
            raise _Closed
        return msg

    def _key_ok(self, start: dict[str, Any]) -> bool:
        key = self.s.api_key
        if not key:
            return True
        given = self.ws.headers.get("x-api-key") or start.get("api_key") or ""
        return hmac.compare_digest(str(given).encode("utf-8"), key.encode("utf-8"))

    async def wait_start(self) -> bool:
        """Read messages until a valid ``start`` (opens the session); ``False`` when the connection closed."""
        errors = 0
        while True:
            msg = await self.receive()
            if msg.get("bytes") is not None:
                await self.error("protocol: send a JSON 'start' message before any audio")
                await self.close(1008, "binary message before start")
                return False
            try:
                start = json.loads(msg.get("text") or "")
            except json.JSONDecodeError:
                start = None
            if not isinstance(start, dict) or start.get("type") != "start":
                await self.error("protocol: the first message must be {\"type\": \"start\", ...}")
                await self.close(1008, "expected start")
                return False
            if not self._key_ok(start):
                await self.error("missing or wrong API key (X-API-Key header, or 'api_key' in start)", status=401)
                await self.close(1008, "unauthorized")
                return False
            try:
                await self.open(start)
                return True
            except (EmofuseError, ServeError) as err:
                errors += 1
                await self.error(f"start: {err}")
                if errors >= _MAX_ERRORS_BEFORE_START:
                    await self.close(1008, "too many bad start messages")
                    return False
            except Exception as err:  # e.g. an optional backend missing on the server
                log.error("live session could not open: %s", type(err).__name__)
                await self.error(f"start: the session could not be opened ({type(err).__name__})", status=500)
                await self.close(1011, "internal error")
                return False

    async def open(self, start: dict[str, Any]) -> None:
        """Open the analysis session a ``start`` message asks for and answer ``started``."""
        from emofuse.errors import ConfigError

        flags = {}
        for name, default in (("audio", True), ("video", False), ("physio", False)):
            v = start.get(name, default)
            if not isinstance(v, bool):
                raise ConfigError(f"{name}: expected true or false, got {v!r}")
            flags[name] = v
        fmt = start.get("audio_format", "s16")
        if fmt not in _FORMAT_NAMES:
            raise ConfigError(f"audio_format: {fmt!r}; one of s16, f32")
        cfg = client_config(start.get("config"))
        s = self.s
        self.live = await self.blocking(lambda: LiveAnalysis(
            cfg, audio=flags["audio"], video=flags["video"], physio=flags["physio"], resources=self.state.resources,
            max_duration_s=s.max_duration_s, window_s=s.rolling_window_s, text=s.rolling_text,
            max_frame_bytes=s.max_frame_bytes, max_frame_pixels=s.max_frame_pixels))
        self.audio_format = _FORMAT_NAMES[fmt]
        sess = self.live.session
        await self.send({"type": "started", "modalities": list(sess.paths), "missing": dict(sess.whole),
                         "segmentation": sess.mode, "sample_rate": SAMPLE_RATE, "audio_format": self.audio_format,
                         "fps": cfg.fps, "rolling_interval_s": s.rolling_interval_s, "config": cfg.to_dict()})

    async def read_loop(self) -> bool:
        """Read messages into the queue until ``stop`` (``True``) or the connection ends (``False``)."""
        now = LiveAnalysis.now
        while True:
            if self.consumer is None or self.consumer.done():  # the analysis ended the session (a limit)
                return False
            msg = await self.receive()
            t = now()
            data = msg.get("bytes")
            if data is not None:
                if len(data) > self.s.max_message_bytes:
                    await self.error(f"audio: message of {len(data)} bytes is over the {self.s.max_message_bytes}"
                                     "-byte limit")
                    continue
                if len(data) % AUDIO_FORMATS[self.audio_format][1]:
                    width = AUDIO_FORMATS[self.audio_format][1]
                    await self.error(f"audio: chunk of {len(data)} bytes is not whole {width}-byte samples "
                                     f"({self.audio_format}); chunk ignored")
                    continue
                await self.put(_Item("audio", t, (data, self.audio_format)))  # waits: audio is never dropped
                continue
            text = msg.get("text") or ""
            if len(text) > self.s.max_message_bytes:
                await self.error(f"message of {len(text)} characters is over the limit")
                continue
            try:
                m = json.loads(text)
            except json.JSONDecodeError as err:
                await self.error(f"not JSON ({err.msg} at character {err.pos}); message ignored")
                continue
            if not isinstance(m, dict) or not isinstance(m.get("type"), str):
                await self.error("a message is a JSON object with a 'type'")
                continue
            if await self.on_message(m, t):
                return True

    async def on_message(self, m: dict[str, Any], t: float) -> bool:
        """Handle one JSON message; ``True`` for ``stop``."""
        kind = m["type"]
        if kind == "frame":
            ft = m.get("t")
            if not isinstance(ft, (int, float)) or isinstance(ft, bool) or not math.isfinite(ft) or ft < 0:
                await self.error("frame: 't' must be a number of seconds >= 0")
            elif not isinstance(m.get("jpeg"), str):
                await self.error("frame: 'jpeg' must be a base64 string of a JPEG or WebP image")
            elif len(m["jpeg"]) > (self.s.max_frame_bytes * 4) // 3 + 4:
                await self.error(f"frame: the image is over the {self.s.max_frame_bytes}-byte limit; frame ignored")
            elif self.live is not None and self.live.cfg.fps > 0 and ft < self.next_frame_t:
                self.skipped += 1  # sampled at the config's fps, as frames of a file are
            elif self.queue.full():
                self.dropped += 1  # back-pressure: frames go, audio stays
            else:
                fps = self.live.cfg.fps if self.live is not None else 0.0
                self.next_frame_t = float(ft) + (0.999 / fps if fps > 0 else 0.0)
                self.queue.put_nowait(_Item("frame", t, (float(ft), m["jpeg"])))
        elif kind == "audio":
            fmt = m.get("format", "s16")
            if fmt not in _FORMAT_NAMES:
                await self.error(f"audio: format {fmt!r}; one of s16 (16-bit little-endian) or f32")
            elif m.get("rate", SAMPLE_RATE) != SAMPLE_RATE:
                await self.error(f"audio: only {SAMPLE_RATE} Hz mono is accepted")
            else:
                self.audio_format = _FORMAT_NAMES[fmt]
        elif kind == "physio":
            await self.put(_Item("physio", t, m))
        elif kind == "stop":
            await self.put(_Item("stop", t))
            return True
        elif kind == "text":
            await self.error("text messages are not supported yet (words come from speech recognition: "
                             "config asr true); message ignored")
        elif kind == "start":
            await self.error("the session has already started")
        elif kind == "ping":
            await self.send({"type": "pong"})
        else:
            await self.error(f"unknown message type {kind!r} (start, audio, frame, physio, stop)")
        return False

    # ------------------------------------------------------------------ the analysis side

    def _handle(self, item: _Item) -> list[Any]:
        live = self.live
        if live is None:  # the consumer starts only after start opened the session
            raise _Closed("no live session")
        if item.kind == "audio":
            return live.feed_audio(*item.data)
        if item.kind == "frame":
            return live.feed_frame(*item.data)
        return live.feed_physio_message(item.data)

    async def consume(self) -> None:
        """Feed queued messages to the session; send segments, rolling estimates and stats."""
        try:
            await self._consume()
        except (_Closed, asyncio.CancelledError):
            raise
        except Exception as err:  # a bug, not the client's input: say so and close
            log.error("live session failed: %s", type(err).__name__)
            try:
                await self.error("internal error; the session is closed", status=500)
            finally:
                await self.close(1011, "internal error")

    async def _consume(self) -> None:
        live = self.live
        if live is None:
            raise _Closed("no live session")
        now = LiveAnalysis.now
        last_rolling = last_stats = now()
        newest = now()
        while True:
            item = await self.queue.get()
            if item.kind == "stop":
                segs, result = await self.blocking(live.close)
                for seg in segs:
                    await self.send({"type": "segment", **segment_dict(seg),
                                     "latency_ms": round((now() - item.received) * 1000, 1)})
                await self.send({"type": "end", **self.counts(), "result": result.to_dict()})
                return
            try:
                segs = await self.blocking(self._handle, item)
            except ServeError as err:
                await self.error(err.message, status=err.status)
                if err.code == "too_long":
                    await self.close(1008, "stream too long")
                    return
                continue
            except EmofuseError as err:
                await self.error(str(err))
                continue
            newest = max(newest, item.received)
            for seg in segs:
                await self.send({"type": "segment", **segment_dict(seg),
                                 "latency_ms": round((now() - item.received) * 1000, 1)})
            if now() - last_rolling >= self.s.rolling_interval_s and live.changed:
                last_rolling = now()
                est = await self.blocking(live.rolling)
                if est is not None:
                    await self.send({"type": "rolling", **est, "latency_ms": round((now() - newest) * 1000, 1)})
            if now() - last_stats >= self.s.stats_interval_s:
                last_stats = now()
                await self.send({"type": "stats", **self.counts()})

    def counts(self) -> dict[str, Any]:
        """Frames dropped (back-pressure) and skipped (over the fps), and what was received."""
        base = self.live.stats() if self.live is not None else {}
        return {"dropped_frames": self.dropped, "skipped_frames": self.skipped, "queued": self.queue.qsize(), **base}


def add_live_route(app: Any, state: Any) -> None:
    """Register ``WS /live`` on ``app``."""
    @app.websocket("/live")
    async def live(ws: WebSocket) -> None:
        """Live analysis (protocol in :mod:`emofuse.serve.live`)."""
        await LiveConnection(ws, state).run()
