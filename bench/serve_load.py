"""Load on a real `emofuse serve` on 127.0.0.1: live latency, upload throughput, failures, memory.

Starts the service in a subprocess (default settings, models preloaded), waits for ``/ready``,
then, bounded in time:

1. **Live**: 1 and then 4 concurrent WebSocket clients, each streaming the demo's speech in real
   time (0.25 s chunks of 16 kHz int16) with camera frames at 2 fps (JPEG of the demo face) for
   ``--live-s`` seconds (speech recognition off: the rolling estimate reads voice and face; closed
   segments would add Whisper). Latency of each rolling estimate, measured by the **client**:
   from sending the audio chunk that ends at the estimate's time ``t`` to receiving the estimate
   (aim: p95 ≤ 200 ms); the server's own ``latency_ms`` alongside.
2. **Uploads**: 10 and then 50 concurrent clients each ``POST /analyze`` a 5 s generated video
   (320x180, speech + face, ``asr=false``, ``fps=2``): requests per second, p50/p95 latency, and
   the count of failed requests other than deliberate 429/503 (aim: 0).
3. **Memory**: the server's resident memory before the uploads and after 200 upload requests
   (no growth expected beyond the first analyses' warm-up).

Run from the repository root (about 3-5 minutes on 2 cores):

    .venv/bin/python bench/serve_load.py [--live-s 20] [--requests 200]

Prints tables and writes bench/results/serve_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def media(work: Path) -> tuple[Path, np.ndarray, bytes]:
    """The upload video, the live speech (16 kHz float32) and one JPEG frame."""
    from PIL import Image

    from emofuse.data.synth_media import demo_face, demo_speech, write_video
    from emofuse.media.audio import resample

    wave, sr = demo_speech()
    speech = resample(wave, sr, 16000)
    clip = speech[int(4.2 * 16000):int(9.6 * 16000)]
    video = write_video(work / "talk.mp4", duration_s=len(clip) / 16000, width=320, height=180, fps=10,
                        audio=(clip, 16000), face=demo_face())
    face = Image.fromarray(np.asarray(demo_face())).convert("RGB").resize((320, 240))
    buf = io.BytesIO()
    face.save(buf, format="JPEG", quality=80)
    return video, speech.astype(np.float32), buf.getvalue()


async def live_client(url: str, speech: np.ndarray, jpeg: bytes, seconds: float, out: dict) -> None:
    import websockets

    chunk = 4000  # 0.25 s
    sent_at: dict[float, float] = {}
    client, server = out.setdefault("client_ms", []), out.setdefault("server_ms", [])
    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "start", "config": {"asr": False, "fps": 2.0}, "audio": True,
                                  "video": True}))
        first = json.loads(await ws.recv())
        if first.get("type") != "started":
            out.setdefault("errors", []).append(first)
            return

        async def reader() -> None:
            async for raw in ws:
                m = json.loads(raw)
                now = time.perf_counter()
                if m.get("type") == "rolling":
                    t = round(float(m["t"]) * 4) / 4
                    if t in sent_at:
                        client.append((now - sent_at[t]) * 1000)
                    server.append(float(m.get("latency_ms", float("nan"))))
                elif m.get("type") == "error":
                    out.setdefault("errors", []).append(m)
                elif m.get("type") == "end":
                    out.setdefault("dropped_frames", []).append(m.get("dropped_frames", 0))
                    return

        task = asyncio.create_task(reader())
        t0, n, frames = time.perf_counter(), 0, 0
        b64 = base64.b64encode(jpeg).decode()
        while n * chunk / 16000 < seconds:
            i = (n * chunk) % (len(speech) - chunk)
            pcm = (np.clip(speech[i:i + chunk], -1, 1) * 32767).astype("<i2").tobytes()
            await ws.send(pcm)
            n += 1
            t_end = n * chunk / 16000
            sent_at[round(t_end * 4) / 4] = time.perf_counter()
            if t_end >= frames * 0.5:
                await ws.send(json.dumps({"type": "frame", "t": t_end, "jpeg": b64}))
                frames += 1
            await asyncio.sleep(max(0.0, t0 + t_end - time.perf_counter()))  # real time
        await ws.send(json.dumps({"type": "stop"}))
        await asyncio.wait_for(task, timeout=120)


def run_live(base: str, speech: np.ndarray, jpeg: bytes, clients: int, seconds: float) -> dict:
    out: dict = {}

    async def main() -> None:
        await asyncio.gather(*[live_client(base.replace("http", "ws") + "/live", speech, jpeg, seconds, out)
                               for _ in range(clients)])

    asyncio.run(main())
    c, s = out.get("client_ms", []), out.get("server_ms", [])
    return {"clients": clients, "estimates": len(c), "client_p50_ms": round(pct(c, 50), 1),
            "client_p95_ms": round(pct(c, 95), 1), "server_p50_ms": round(pct(s, 50), 1),
            "server_p95_ms": round(pct(s, 95), 1), "errors": len(out.get("errors", [])),
            "dropped_frames": int(sum(out.get("dropped_frames", [])))}


async def upload_wave(base: str, video: bytes, clients: int, total: int) -> tuple[list, float]:
    import httpx

    results = []
    sem = asyncio.Semaphore(clients)

    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        async def one() -> None:
            async with sem:
                t = time.perf_counter()
                try:
                    r = await http.post("/analyze", files={"file": ("talk.mp4", video, "video/mp4")},
                                        data={"asr": "false", "fps": "2"})
                    results.append((r.status_code, time.perf_counter() - t))
                except httpx.HTTPError as err:
                    results.append((f"{type(err).__name__}", time.perf_counter() - t))

        t0 = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(total)])
    return results, time.perf_counter() - t0


def run_uploads(base: str, video: bytes, clients: int, total: int) -> dict:
    res, wall = asyncio.run(upload_wave(base, video, clients, total))
    ok = [t for code, t in res if code == 200]
    deliberate = sum(code in (429, 503) for code, _ in res)
    failed = [code for code, _ in res if code not in (200, 429, 503)]
    return {"clients": clients, "requests": total, "ok": len(ok), "deliberate_429_503": deliberate,
            "failed": len(failed), "failed_codes": sorted({str(c) for c in failed}),
            "throughput_rps": round(len(ok) / wall, 3), "p50_s": round(pct(ok, 50), 2), "p95_s": round(pct(ok, 95), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--live-s", type=float, default=20.0, help="seconds each live client streams")
    ap.add_argument("--requests", type=int, default=200, help="upload requests in all (memory check)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/serve_load.json"))
    args = ap.parse_args()
    import httpx

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as work:
        server = subprocess.Popen([sys.executable, "-m", "emofuse", "serve", "--port", str(port), "--no-access-log",
                                   "--max-jobs", "16"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            t0 = time.perf_counter()
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"server exited: {server.stderr.read().decode()[-2000:]}")
                try:
                    if httpx.get(base + "/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - t0 > 300:
                    raise SystemExit("server not ready after 300 s")
                time.sleep(1)
            ready_s = time.perf_counter() - t0
            video, speech, jpeg = media(Path(work))
            data = video.read_bytes()
            report: dict = {"ready_s": round(ready_s, 1), "cores": os.cpu_count(), "live": [], "uploads": []}
            for n in (1, 4):
                report["live"].append(run_live(base, speech, jpeg, n, args.live_s))
                print("live", report["live"][-1], flush=True)
            run_uploads(base, data, 2, 4)  # warm-up: the first analyses load the face and voice models
            report["rss_mb_before"] = round(rss_mb(server.pid), 1)
            done = 0
            for n in (10, 50):
                report["uploads"].append(run_uploads(base, data, n, n * 2))
                done += n * 2
                print("uploads", report["uploads"][-1], flush=True)
            while done < args.requests:
                k = min(20, args.requests - done)
                report["uploads_extra"] = run_uploads(base, data, 4, k)
                done += k
            report["requests_total"] = done
            report["rss_mb_after"] = round(rss_mb(server.pid), 1)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    print(f"\nready after {report['ready_s']} s; {report['cores']} cores")
    print(f"{'live clients':>12} {'estimates':>9} {'client p50':>10} {'client p95':>10} {'server p95':>10} "
          f"{'dropped':>7} {'errors':>6}")
    for r in report["live"]:
        print(f"{r['clients']:>12} {r['estimates']:>9} {r['client_p50_ms']:>8.0f}ms {r['client_p95_ms']:>8.0f}ms "
              f"{r['server_p95_ms']:>8.0f}ms {r['dropped_frames']:>7} {r['errors']:>6}")
    print(f"{'upload clients':>14} {'ok':>4} {'429/503':>7} {'failed':>6} {'req/s':>6} {'p50':>6} {'p95':>6}")
    for r in report["uploads"]:
        print(f"{r['clients']:>14} {r['ok']:>4} {r['deliberate_429_503']:>7} {r['failed']:>6} "
              f"{r['throughput_rps']:>6.2f} {r['p50_s']:>5.1f}s {r['p95_s']:>5.1f}s")
    print(f"server memory: {report['rss_mb_before']} MB before, {report['rss_mb_after']} MB after "
          f"{report['requests_total']} upload requests")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
