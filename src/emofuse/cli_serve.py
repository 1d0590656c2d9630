"""``emofuse serve``: start the analysis service (registered in :mod:`emofuse.cli`).

Part of the command line (layer 1): it uses only the public names of :mod:`emofuse.serve`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from emofuse.errors import EmofuseError

__all__ = ["serve_cmd"]


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
