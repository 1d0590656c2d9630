"""``emofuse serve`` (start the analysis service) and ``emofuse live`` (registered in :mod:`emofuse.cli`).

``emofuse live --realtime FILE`` plays a media file into the live analysis in real time (or
``--speed`` times faster) — the same :class:`~emofuse.serve.LiveAnalysis` a ``/live`` WebSocket
drives — and prints a rolling table: the current estimate every ``--interval`` seconds and each
segment as it closes. Part of the command line (layer 1): it uses only public names.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from emofuse.errors import EmofuseError

__all__ = ["COMMANDS", "live_cmd", "serve_cmd"]


def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only; 0.0.0.0: all).")]
        = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="EMOFUSE_API_KEY", show_default=False,
        help="Require this key in the X-API-Key header (or set EMOFUSE_API_KEY).")] = None,
    workers: Annotated[int | None, typer.Option(help="Analyses at the same time (default: min(2, CPU cores)).")]
        = None,
    max_jobs: Annotated[int, typer.Option(help="Analyses queued or running at once (429 above).")] = 8,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload, MB (413 above).")] = 500.0,
    max_duration: Annotated[float, typer.Option(help="Longest media or live stream, seconds.")] = 3 * 3600.0,
    max_live_sessions: Annotated[int, typer.Option(help="Live WebSocket sessions at once.")] = 4,
    result_ttl: Annotated[float, typer.Option(help="Seconds a result waits to be fetched.")] = 600.0,
    cors_origin: Annotated[list[str] | None, typer.Option("--cors-origin", help="An origin allowed to call the "
        "service from a browser (repeatable; none by default: CORS off).")] = None,
    rolling_interval: Annotated[float, typer.Option(help="Seconds between live rolling estimates.")] = 0.5,
    temp_dir: Annotated[Path | None, typer.Option(help="Where the private temporary folder is made.")] = None,
    preload: Annotated[bool, typer.Option("--preload/--no-preload", help="Load the models at start-up.")] = True,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log",
        help="Log one line per request (method, path, status; never media, text or predictions).")] = True,
) -> None:
    """Serve the analysis over HTTP and WebSocket (POST /analyze, /jobs, WS /live; docs at /docs).

    Runs locally: uploads go to a private temporary folder deleted after each answer; nothing is sent anywhere.
    """
    from emofuse.serve import ServeSettings, run

    try:
        settings = ServeSettings(host=host, port=port, api_key=api_key, max_jobs=max_jobs,
                                 max_upload_bytes=int(max_upload_mb * 10**6), max_duration_s=max_duration,
                                 max_live_sessions=max_live_sessions, result_ttl_s=result_ttl,
                                 cors_origins=tuple(cor for cor in cors_origin or ()),
                                 rolling_interval_s=rolling_interval, temp_dir=str(temp_dir) if temp_dir else None,
                                 preload=preload, access_log=access_log,
                                 **({"workers": workers} if workers is not None else {}))
        run(settings)
    except (EmofuseError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


def _fmt(label: str | None, conf: float | None) -> str:
    return "—" if not label else f"{label} ({conf:.2f})" if conf is not None else label


def live_cmd(
    realtime: Annotated[Path | None, typer.Option("--realtime", help="Play this media file into the live analysis "
        "in real time (a microphone and camera are not read by this version).")] = None,
    speed: Annotated[float, typer.Option(help="Play the file this many times faster than real time.")] = 1.0,
    interval: Annotated[float, typer.Option(help="Seconds (of media) between rolling estimates.")] = 0.5,
    fps: Annotated[float, typer.Option(help="Video frames sampled per second (face path).")] = 3.0,
    asr: Annotated[bool, typer.Option("--asr/--no-asr", help="Transcribe closed segments (Whisper tiny.en).")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON line per estimate and segment.")] = False,
) -> None:
    """Live analysis: a rolling estimate and each closed segment as the media plays (same code as /live)."""
    import json

    from emofuse.analysis import AnalyzeConfig
    from emofuse.serve import replay

    if realtime is None:
        print("error: no microphone or camera backend in this version: give --realtime FILE to play a recording "
              "as if it were live (or stream to `emofuse serve`'s /live WebSocket)", file=sys.stderr)
        raise typer.Exit(2)
    try:
        for kind, rec, took in replay(realtime, AnalyzeConfig(asr=asr, fps=fps), speed=speed, interval=interval):
            if kind == "end":
                res = rec["result"]
                if not json_out:
                    print(f"{len(res.segments)} segments over {res.duration:.1f} s; dominant: {res.dominant() or '—'}")
            elif json_out:
                print(json.dumps({"type": kind, **rec, "latency_ms": round(took * 1000, 1)}, ensure_ascii=False))
            else:
                mods = "  ".join(f"{m}={_fmt(r.get('label'), r.get('confidence'))}"
                                 for m, r in rec["modalities"].items() if r.get("status") == "ok")
                head = "segment" if kind == "segment" else "now    "
                fused = _fmt(rec.get("label"), rec.get("confidence"))
                print(f"{head} {rec['start']:7.1f}–{rec['end']:6.1f} s  {fused:18s} {mods}  [{took * 1000:.0f} ms]",
                      flush=True)
    except (EmofuseError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None


#: The commands of this module, by name (registered by :mod:`emofuse.cli`).
COMMANDS = {"serve": serve_cmd, "live": live_cmd}
