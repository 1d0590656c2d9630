"""The web page of ``emofuse serve``: ``GET /`` (upload and live modes) and its files under ``/static``.

The page is plain HTML, CSS and JavaScript shipped in ``emofuse/serve/static`` (no CDN, nothing
fetched from elsewhere, so it works offline). It speaks the service's own API: an upload is a job
(``POST /jobs``, polled with a progress bar, its result fetched with ``keep=1`` in each format the
page offers, then discarded with ``DELETE``); live mode streams the camera and microphone over
``WS /live``. The emotion colours are :data:`~emofuse.analysis.report_common.EMOTION_COLORS`, the
Okabe–Ito palette of the PNG timeline and the HTML report, handed to the page in the HTML itself.

``GET /`` answers the page to browsers (``Accept: text/html``) and the JSON pointer to the API
to everyone else. The page and its files are public also when the service has an API key (they
hold no data); the API calls they make send the key typed into the page.

Example:
    >>> is_page_path("/static/app.js"), is_page_path("/jobs")
    (True, False)
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

try:  # the serve extra (see emofuse.serve.app)
    from fastapi import Request
except ImportError:  # pragma: no cover - exercised only without the serve extra
    Request = None  # type: ignore[assignment,misc]

from emofuse._version import __version__

__all__ = ["PAGE_CSP", "STATIC_DIR", "add_page_routes", "index_pointer", "is_page_path", "page_config"]

#: The page's files (HTML, CSS, JavaScript), shipped as package data.
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Content-Security-Policy of the page: its own files only (no inline scripts, no other hosts).
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "media-src 'self' blob: mediastream:; connect-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'none'")
_CONFIG_MARK = "__EMOFUSE_PAGE_CONFIG__"
_PAGE_HEADERS = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                 "Referrer-Policy": "no-referrer"}


def is_page_path(path: str) -> bool:
    """Whether ``path`` is the page or one of its files (answered without the API key)."""
    return path == "/" or path.startswith("/static/")


def index_pointer() -> dict[str, Any]:
    """What ``GET /`` answers to clients that do not ask for HTML: where things are."""
    return {"service": "emofuse", "version": __version__, "page": "/", "docs": "/docs", "openapi": "/openapi.json",
            "endpoints": ["POST /analyze", "POST /jobs", "GET /jobs/{id}", "GET /jobs/{id}/result",
                          "DELETE /jobs/{id}", "GET /models", "GET /health", "GET /ready", "WS /live"]}


def page_config() -> dict[str, Any]:
    """What the page's scripts read from the HTML: the classes, the report colours, the modality names."""
    from emofuse.analysis.config import FUSION_METHODS, SEGMENTATIONS
    from emofuse.analysis.report_common import (
        EMOTION_COLORS,
        MISSING_COLOR,
        MODALITY_COLORS,
        MODALITY_DISPLAY,
        STATE_COLORS,
    )
    from emofuse.analysis.result import EKMAN, MODALITY_NAMES
    from emofuse.modalities import MODALITIES
    from emofuse.serve.rolling import SAMPLE_RATE

    return {"version": __version__, "classes": list(EKMAN), "emotion_colors": dict(EMOTION_COLORS),
            "state_colors": dict(STATE_COLORS), "missing_color": list(MISSING_COLOR),
            "modality_colors": dict(MODALITY_COLORS), "modality_names": dict(MODALITY_DISPLAY),
            "modalities": list(dict.fromkeys([*MODALITY_NAMES, *MODALITIES])),
            "fusion_methods": list(FUSION_METHODS), "segmentations": list(SEGMENTATIONS),
            "sample_rate": SAMPLE_RATE}


@lru_cache(maxsize=1)
def _page_html() -> str:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    # inside <script type="application/json">: "<" is escaped so the data cannot end the element
    data = json.dumps(page_config(), ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return html.replace(_CONFIG_MARK, data)


def add_page_routes(app: Any, state: Any) -> None:  # noqa: ARG001 - same signature as add_live_route
    """Register ``GET /`` (the page, or the JSON pointer) and mount ``/static`` on ``app``."""
    from fastapi.responses import HTMLResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    @app.get("/", summary="The web page (browsers) or where things are (JSON)",
             responses={200: {"content": {"text/html": {}, "application/json": {}}}})
    async def index(request: Request) -> Any:
        """The upload and live page for ``Accept: text/html``; otherwise a JSON pointer to the API."""
        if "text/html" not in request.headers.get("accept", ""):
            return JSONResponse(index_pointer())
        return HTMLResponse(_page_html(), headers=_PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
