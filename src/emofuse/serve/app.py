"""The FastAPI application of ``emofuse serve`` (:func:`create_app`): REST endpoints over the analysis.

=====================  ======================================================================
``POST /analyze``      multipart upload (``file`` or ``text``, ``transcript``, options) → the
                       result, by default the JSON of ``emofuse analyze --format json``
``POST /jobs``         the same inputs → ``202 {"id": ...}``; the analysis runs in the queue
``GET /jobs/{id}``     status and progress; ``GET /jobs/{id}/result[?format=csv|html|...]`` the
                       result, once (then it is gone); ``DELETE /jobs/{id}`` cancels
``GET /models``        the experts and their model cards
``GET /health``        the process is up; ``GET /ready``: the models are loaded (503 until then)
``WS /live``           live analysis (:mod:`emofuse.serve.live`)
``GET /docs``          the OpenAPI document (FastAPI's own, at ``/openapi.json``)
=====================  ======================================================================

Every refusal is a JSON body (:mod:`emofuse.serve.errors`): 401 without the API key, 413 too
large or too long, 415 not media, 422 bad options or unreadable media, 429 queue full, 503 not
ready. Uploads stream into a private folder that is deleted once answered.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import threading
from contextlib import asynccontextmanager
from typing import Any

try:  # the serve extra; without it this module still imports (create_app then says what to install)
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from starlette.exceptions import HTTPException
except ImportError:  # pragma: no cover - exercised only without the serve extra
    FastAPI = Request = RequestValidationError = JSONResponse = Response = HTTPException = None  # type: ignore

from emofuse._version import __version__
from emofuse.errors import EmofuseError
from emofuse.serve.errors import ServeError, error_body, status_of
from emofuse.serve.forms import FIELDS, FILE_PARTS, AnalysisRequest, media_type, parse_request, render, tidy_result
from emofuse.serve.jobs import Job, JobManager, QueueFull
from emofuse.serve.page import add_page_routes, is_page_path
from emofuse.serve.settings import ServeSettings
from emofuse.serve.uploads import TempRoot, Upload, check_media, receive_upload

__all__ = ["ServiceState", "create_app"]

log = logging.getLogger("emofuse.serve")
#: Paths answered without the API key (probes).
OPEN_PATHS = frozenset({"/health", "/ready"})
_FORM_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary", "description": "audio or video"},
                   "transcript": {"type": "string", "format": "binary", "description": "SRT, WebVTT, JSON or text"},
                   **{f: {"type": "string"} for f in FIELDS}}}}}}}


class ServiceState:
    """What one running service holds: settings, its private folder, the job queue, the live sessions."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.root: TempRoot = None  # type: ignore[assignment]  # made when the service starts
        self.jobs = JobManager(workers=settings.workers, max_jobs=settings.max_jobs,
                               result_ttl_s=settings.result_ttl_s, job_timeout_s=settings.job_timeout_s,
                               cleanup=TempRoot.remove)
        self.resources: Any = None
        self.ready, self.ready_error = "loading", None
        self.live = 0
        self.live_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the models by opening (and closing) an analysis session with the default settings."""
        try:
            load_models(self.resources)
            self.ready = "ready"
        except Exception as err:  # reported by /ready
            self.ready, self.ready_error = "failed", f"{type(err).__name__}: {err}"
            log.warning("models could not be loaded: %s", self.ready_error)

    def require_ready(self) -> None:
        """Raise 503 while the models are loading or could not be loaded."""
        if self.ready != "ready":
            raise ServeError(503, "not_ready", "the models are not loaded yet" if self.ready == "loading"
                             else f"the models could not be loaded: {self.ready_error}")


def load_models(resources: Any) -> None:
    """Open an analysis session with audio and video and the default settings (loads its experts), close it."""
    import av  # noqa: F401  (decoding uploads needs PyAV)

    from emofuse.analysis import AnalysisSession, AnalyzeConfig

    session = AnalysisSession(AnalyzeConfig(), has_audio=True, has_video=True, resources=resources)
    session.close(0.0)


class _ApiKey:
    """ASGI middleware: HTTP requests need ``X-API-Key`` (WebSockets are checked by their handler)."""

    def __init__(self, app: Any, key: str) -> None:
        self.app, self.key = app, key.encode("utf-8")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") not in OPEN_PATHS and not is_page_path(scope.get("path", "")):
            given = dict(scope.get("headers") or []).get(b"x-api-key", b"")
            if not hmac.compare_digest(given, self.key):
                resp = JSONResponse(error_body(401, "unauthorized", "missing or wrong X-API-Key header"), 401)
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _json(body: dict[str, Any], status: int) -> Any:
    return JSONResponse(body, status_code=status)


def _handlers(app: Any) -> None:
    @app.exception_handler(ServeError)
    async def _serve_error(_request: Any, exc: ServeError) -> Any:
        return _json(exc.body(), exc.status)

    @app.exception_handler(EmofuseError)
    async def _emofuse_error(_request: Any, exc: EmofuseError) -> Any:
        status, code = status_of(exc)
        return _json(error_body(status, code, str(exc)), status)

    @app.exception_handler(QueueFull)
    async def _queue_full(_request: Any, exc: QueueFull) -> Any:
        return _json(error_body(429, "queue_full", str(exc)), 429)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Any, exc: RequestValidationError) -> Any:
        errs = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return _json(error_body(422, "bad_request", "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                                              for e in errs), detail=errs), 422)

    @app.exception_handler(HTTPException)
    async def _http(_request: Any, exc: HTTPException) -> Any:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, f"http_{exc.status_code}")
        return _json(error_body(exc.status_code, code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def _internal(_request: Any, exc: Exception) -> Any:
        log.error("internal error: %s", type(exc).__name__)
        return _json(error_body(500, "internal", "internal error"), 500)


async def _receive(state: ServiceState, request: Any) -> tuple[Upload, AnalysisRequest]:
    """Stream the upload in, read the form, check the media (the folder is deleted on any refusal)."""
    state.require_ready()
    s = state.settings
    if state.jobs.active() >= s.max_jobs:  # before the upload is read (submit checks again, atomically)
        raise QueueFull(f"the analysis queue is full ({s.max_jobs} jobs queued or running); try again later")
    up = await receive_upload(request, state.root, max_bytes=s.max_upload_bytes, file_parts=FILE_PARTS)
    try:
        req = parse_request(up, single_format=request.url.path == "/analyze")
        if req.media is not None:
            await asyncio.to_thread(check_media, req.media, max_bytes=s.max_upload_bytes,
                                    max_duration_s=s.max_duration_s)
    except BaseException:
        state.root.remove(up.dir)
        raise
    return up, req


def _runner(req: AnalysisRequest, up: Upload, resources: Any) -> Any:
    """The job: :func:`emofuse.analyze` (or its text analysis) on the upload, as the CLI runs it.

    ``resources``: the service's thread-safe models, shared by every job and live session.
    """
    from emofuse.analysis.pipeline import analyze, analyze_text

    def run(job: Job) -> Any:
        if req.text is not None:
            return tidy_result(analyze_text(req.text, config=req.config, resources=resources), None, "<text>")
        if req.media is None:
            raise ServeError(422, "bad_request", "give a file or a text to analyse")
        res = analyze(req.media, transcript=req.transcript, transcript_encoding=req.encoding, config=req.config,
                      on_progress=job.on_progress, resources=resources)
        return tidy_result(res, up.dir, "upload" + req.media.suffix)

    return run


def _submit(state: ServiceState, req: AnalysisRequest, up: Upload, *, keep: bool) -> Job:
    try:
        job = state.jobs.submit(_runner(req, up, state.resources), dir=up.dir, formats=req.formats, keep=keep)
    except BaseException:
        state.root.remove(up.dir)
        raise
    log.info("job %s queued (%d bytes, %s)", job.id, up.size, "kept" if keep else "answered")
    return job


async def _answer(state: ServiceState, result: Any, fmt: str) -> Any:
    folder = state.root.new_dir()
    try:
        try:
            body = await asyncio.to_thread(render, result, fmt, folder)
        except ImportError as err:
            raise ServeError(422, "format_unavailable", str(err)) from None
    finally:
        state.root.remove(folder)
    headers = {} if fmt == "json" else {"Content-Disposition": f'inline; filename="analysis.{fmt}"'}
    return Response(body, media_type=media_type(fmt), headers=headers)


def _routes(app: Any, state: ServiceState) -> None:
    @app.get("/health", summary="The service is up")
    async def health() -> dict[str, Any]:
        """Always 200 while the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/ready", summary="The models are loaded", responses={503: {"description": "not ready"}})
    async def ready() -> Any:
        """200 once the models are loaded; 503 while loading or when they could not be loaded."""
        body = {"ready": state.ready == "ready", "status": state.ready, "jobs": state.jobs.active(),
                "live_sessions": state.live}
        if state.ready_error:
            body["error"] = state.ready_error
        return _json(body, 200 if state.ready == "ready" else 503)

    @app.get("/models", summary="Experts and their model cards")
    async def models() -> dict[str, Any]:
        """Every registered expert with its model card (training data, metrics, fusion prior)."""
        return await asyncio.to_thread(list_models)

    @app.post("/analyze", summary="Analyse an upload and answer with the result", openapi_extra=_FORM_DOC)
    async def analyze_now(request: Request) -> Any:
        """Analyse the uploaded media (or text) now; the answer is the result (``formats``: one, default json)."""
        up, req = await _receive(state, request)
        job = _submit(state, req, up, keep=False)
        if job.future is None:  # submit always sets it; never wait on nothing
            raise ServeError(503, "not_started", "the analysis could not be started")
        try:
            result = await asyncio.wrap_future(job.future)
        except Exception:
            if job.error is not None:  # the job's error, its message without server paths
                err = dict(job.error)
                raise ServeError(int(err.pop("status", 422)), err.pop("error", "failed"), err.pop("message", ""),
                                 **err) from None
            raise
        if job.status == "cancelled" or result is None:
            raise ServeError(503, "cancelled", "the analysis was cancelled (the service is stopping)")
        return await _answer(state, result, req.formats[0])

    @app.post("/jobs", status_code=202, summary="Queue an analysis", openapi_extra=_FORM_DOC)
    async def submit_job(request: Request) -> Any:
        """Queue the analysis of an upload; poll ``GET /jobs/{id}``, then fetch the result once."""
        up, req = await _receive(state, request)
        job = _submit(state, req, up, keep=True)
        return _json({"id": job.id, "status": job.status, "status_url": f"/jobs/{job.id}",
                      "result_url": f"/jobs/{job.id}/result"}, 202)

    @app.get("/jobs/{job_id}", summary="A job's status and progress")
    async def job_status(job_id: str) -> dict[str, Any]:
        """Status (queued, running, done, failed, cancelled) and progress in ``[0, 1]``."""
        return _job(state, job_id).to_dict()

    @app.get("/jobs/{job_id}/result", summary="A job's result (once)")
    async def job_result(job_id: str, format: str = "json", keep: bool = False) -> Any:  # noqa: A002
        """The result in ``format`` (one of the job's formats); deleted once sent, unless ``keep`` (until expiry)."""
        job = _job(state, job_id)
        if job.status == "failed":  # the failure is the answer, given once like a result
            state.jobs.forget(job_id)
            err = dict(job.error or {})
            return _json({**err, "job": job_id}, int(err.get("status", 422)))
        if job.status != "done":
            raise ServeError(409, "not_done", f"the job is {job.status}", job=job.to_dict())
        fmt = format.strip().lower()
        if fmt not in job.formats:
            raise ServeError(422, "bad_format", f"format {fmt!r}: this job's result comes in "
                             f"{', '.join(job.formats)}")
        taken = state.jobs.get(job_id) if keep else state.jobs.take(job_id)
        if taken is None:
            raise ServeError(404, "not_found", "no such job (unknown, expired, or its result was already fetched)")
        try:
            return await _answer(state, taken.result, fmt)
        except BaseException:
            state.jobs.put_back(taken)
            raise

    @app.delete("/jobs/{job_id}", summary="Cancel a job (or discard its result)")
    async def job_cancel(job_id: str) -> dict[str, Any]:
        """A queued job never runs; a running one stops at its next progress step; a result is discarded."""
        job = state.jobs.cancel(job_id)
        if job is None:
            raise ServeError(404, "not_found", "no such job (unknown, expired, or its result was already fetched)")
        return {"id": job.id, "status": job.status}


def _job(state: ServiceState, job_id: str) -> Job:
    job = state.jobs.get(job_id)
    if job is None:
        raise ServeError(404, "not_found", "no such job (unknown, expired, or its result was already fetched)")
    return job


def list_models() -> dict[str, Any]:
    """``{"experts": [...], "fusion": {...}, "formats": [...]}``: what ``GET /models`` answers."""
    from emofuse.analysis.config import DEFAULT_EXPERTS, FUSION_METHODS, AnalyzeConfig
    from emofuse.analysis.writers import output_formats
    from emofuse.experts import EXPERTS, list_experts, read_card, weights_dir

    experts = []
    for name in list_experts():
        cls = EXPERTS.get(name)
        item: dict[str, Any] = {"name": name, "modality": cls.modality, "label_space": cls.label_space,
                                "description": cls.description, "default": DEFAULT_EXPERTS.get(cls.modality) == name}
        try:
            item["card"] = read_card(weights_dir(name))
        except EmofuseError as err:
            item["card"], item["card_error"] = None, type(err).__name__
        experts.append(item)
    return {"experts": experts, "fusion": {"methods": list(FUSION_METHODS), "default": AnalyzeConfig().fusion},
            "formats": list(output_formats())}


def create_app(settings: ServeSettings | None = None) -> Any:
    """The service as a FastAPI application (run it with uvicorn, or :func:`emofuse.serve.run`).

    On start-up the models load in a background thread (``/ready`` says when); on shutdown
    running jobs are cancelled and the private temporary folder is deleted.

    Args:
        settings: :class:`~emofuse.serve.settings.ServeSettings` (defaults when ``None``).

    Returns:
        The application; ``app.state.service`` is its :class:`ServiceState`.
    """
    from emofuse.serve import resources as shared
    from emofuse.serve.live import add_live_route

    settings = settings or ServeSettings()
    state = ServiceState(settings)

    @asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        state.root = TempRoot(settings.temp_dir)
        state.resources = shared.serve_resources()
        warm = None
        if settings.preload:
            warm = threading.Thread(target=state.warm_up, name="emofuse-warm-up", daemon=True)
            warm.start()
        else:
            state.ready = "ready"
        try:
            yield
        finally:
            await asyncio.to_thread(state.jobs.shutdown)
            if warm is not None:
                await asyncio.to_thread(warm.join)
            state.root.close()

    app = FastAPI(title="emofuse", version=__version__, lifespan=lifespan,
                  description="Multimodal emotion recognition (text, voice, face, physiology) as a local service: "
                              "the same analysis as `emofuse analyze`.")
    app.state.service = state
    _handlers(app)
    add_page_routes(app, state)
    _routes(app, state)
    add_live_route(app, state)
    if settings.api_key:
        app.add_middleware(_ApiKey, key=settings.api_key)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"], allow_headers=["X-API-Key", "Content-Type"])
    return app
