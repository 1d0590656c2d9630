"""``emofuse serve``: the analysis as a local web service (FastAPI + uvicorn), REST and live WebSocket.

The service runs the very code of the command line — uploads go through :func:`emofuse.analyze`,
live streams feed an :class:`~emofuse.analysis.AnalysisSession` — with the models loaded once and
shared (:mod:`emofuse.serve.resources`). Endpoints: :mod:`emofuse.serve.app`; the live protocol:
:mod:`emofuse.serve.live`; the rolling estimate: :mod:`emofuse.serve.rolling`.

Needs the ``serve`` extra (``pip install 'emofuse[serve]'``); importing this package does not.

Example:
    >>> from emofuse.serve import ServeSettings
    >>> ServeSettings(port=9000).port
    9000
"""

from __future__ import annotations

from typing import Any

from emofuse.serve.errors import ServeError
from emofuse.serve.playback import replay
from emofuse.serve.rolling import LiveAnalysis
from emofuse.serve.settings import SERVER_ONLY_FIELDS, ServeSettings, client_config

__all__ = ["SERVER_ONLY_FIELDS", "LiveAnalysis", "ServeError", "ServeSettings", "client_config", "create_app", "replay",
           "run"]

_INSTALL = "the service needs the serve extra: pip install 'emofuse[serve]'"


def _require() -> None:
    import importlib.util

    def has(name: str) -> bool:
        return importlib.util.find_spec(name) is not None

    missing = [m for m in ("fastapi", "uvicorn") if not has(m)]
    if not (has("python_multipart") or has("multipart")):
        missing.append("python-multipart")
    if missing:
        raise ImportError(f"{_INSTALL} (missing: {', '.join(missing)})")


def create_app(settings: ServeSettings | None = None) -> Any:
    """The FastAPI application (see :func:`emofuse.serve.app.create_app`).

    Raises:
        ImportError: FastAPI, uvicorn or python-multipart is not installed (with the install command).
    """
    _require()
    from emofuse.serve.app import create_app as _create

    return _create(settings)


def run(settings: ServeSettings | None = None) -> None:
    """Start the service with uvicorn and serve until interrupted (``emofuse serve``).

    Raises:
        ImportError: The ``serve`` extra is not installed.
    """
    settings = settings or ServeSettings()
    app = create_app(settings)
    import uvicorn

    uvicorn.run(app, host=settings.host, port=int(settings.port), access_log=settings.access_log,
                ws_max_size=int(settings.max_message_bytes), log_level="info")
