"""Analysis jobs: a bounded queue, worker threads, progress, cancellation, results kept until fetched.

:class:`JobManager` runs each upload through :func:`emofuse.analyze` (the CLI's code, unchanged) in
a :class:`~concurrent.futures.ThreadPoolExecutor` of ``workers`` threads. At most ``max_jobs``
jobs are queued or running at once (:class:`QueueFull` above: the service answers 429).

* Progress comes from ``analyze``'s ``on_progress`` callback (seconds decoded / duration).
* Cancelling a queued job removes it from the queue; a running one stops at its next progress
  callback (the callback raises :class:`JobCancelled`); a job over ``job_timeout_s`` stops the
  same way (:class:`JobTimeout`).
* Whatever happens, the job's upload folder is deleted when it stops (``try/finally``).
* A finished job's result is kept in memory until it is fetched once (:meth:`JobManager.take`)
  or ``result_ttl_s`` after it finished, whichever comes first; then the job is forgotten.

Example:
    >>> m = JobManager(workers=1, max_jobs=0, result_ttl_s=60, job_timeout_s=60)
    >>> try:
    ...     m.submit(lambda job: None)
    ... except QueueFull as err:
    ...     print(err)
    the analysis queue is full (0 jobs queued or running); try again later
    >>> m.shutdown()
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emofuse.errors import EmofuseError

__all__ = ["Job", "JobCancelled", "JobManager", "JobTimeout", "QueueFull"]


class QueueFull(Exception):
    """No room for another job (``max_jobs`` are queued or running)."""


class JobCancelled(Exception):
    """Raised inside a running analysis (from its progress callback) when its job was cancelled."""


class JobTimeout(Exception):
    """Raised inside a running analysis when it ran past ``job_timeout_s``."""


@dataclass(eq=False)
class Job:
    """One analysis job.

    Attributes:
        id: Random, unguessable identifier.
        status: ``"queued"``, ``"running"``, ``"done"``, ``"failed"`` or ``"cancelled"``.
        created: ``time.time()`` when submitted; ``started``/``finished`` likewise (``None`` until then).
        seconds_done: Media seconds analysed so far; ``duration``: the media's length (0 until known).
        error: ``{"error", "message", "status"}`` of a failed job.
        result: The :class:`~emofuse.analysis.result.AnalysisResult` of a done job, until fetched.
        dir: The job's private upload folder (deleted when the job stops).
        formats: Output formats its result may be fetched in.
        keep: Keep the result for a later fetch (``POST /jobs``); ``POST /analyze`` takes it at once.
    """

    id: str
    status: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    seconds_done: float = 0.0
    duration: float = 0.0
    error: dict[str, Any] | None = None
    result: Any = None
    dir: Path | None = None
    formats: tuple[str, ...] = ("json",)
    keep: bool = True
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    future: Future[Any] | None = field(default=None, repr=False)
    deadline: float = float("inf")

    @property
    def progress(self) -> float:
        """Share of the media analysed, in ``[0, 1]`` (1 once done)."""
        if self.status == "done":
            return 1.0
        return min(1.0, self.seconds_done / self.duration) if self.duration > 0 else 0.0

    def on_progress(self, seconds_done: float, duration: float) -> None:
        """``analyze``'s progress callback: records progress; stops a cancelled or overdue job.

        Raises:
            JobCancelled: The job was cancelled.
            JobTimeout: The job ran past its deadline.
        """
        self.seconds_done, self.duration = float(seconds_done), float(duration)
        if self.cancel_event.is_set():
            raise JobCancelled(self.id)
        if time.monotonic() > self.deadline:
            raise JobTimeout(self.id)

    def to_dict(self) -> dict[str, Any]:
        """The job's status as plain data (what ``GET /jobs/{id}`` answers; never the result)."""
        d: dict[str, Any] = {"id": self.id, "status": self.status, "progress": round(self.progress, 4),
                             "seconds_done": round(self.seconds_done, 3), "duration": round(self.duration, 3),
                             "created": self.created, "started": self.started, "finished": self.finished,
                             "formats": list(self.formats)}
        if self.error is not None:
            d["error"] = self.error
        if self.status == "done":
            d["result"] = f"/jobs/{self.id}/result"
        return d


class JobManager:
    """The job queue and its worker threads (see the module docstring).

    Args:
        workers: Worker threads (analyses at the same time).
        max_jobs: Jobs queued or running at once.
        result_ttl_s: How long a finished job is kept without being fetched, seconds.
        job_timeout_s: Longest run of one job, seconds.
        cleanup: Called with a job's folder when the job stops (deletes it).
    """

    def __init__(self, *, workers: int, max_jobs: int, result_ttl_s: float, job_timeout_s: float,
                 cleanup: Callable[[Path | None], None] | None = None) -> None:
        self.max_jobs, self.result_ttl_s, self.job_timeout_s = int(max_jobs), float(result_ttl_s), float(job_timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="emofuse-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._cleanup = cleanup or (lambda _p: None)

    # ------------------------------------------------------------------ bookkeeping

    def active(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.status in ("queued", "running"))

    def purge(self) -> None:
        """Forget finished jobs older than ``result_ttl_s`` (their results with them)."""
        now = time.time()
        with self._lock:
            old = [k for k, j in self._jobs.items()
                   if j.finished is not None and now - j.finished > self.result_ttl_s]
            for k in old:
                del self._jobs[k]

    def get(self, job_id: str) -> Job | None:
        """The job (``None`` when unknown, expired or already fetched)."""
        self.purge()
        with self._lock:
            return self._jobs.get(job_id)

    # ------------------------------------------------------------------ running

    def submit(self, run: Callable[[Job], Any], *, dir: Path | None = None, formats: tuple[str, ...] = ("json",),
               keep: bool = True) -> Job:
        """Queue ``run(job)`` (it returns the result); the job's folder is cleaned up when it stops.

        Raises:
            QueueFull: ``max_jobs`` jobs are queued or running (the caller still owns ``dir``).
        """
        self.purge()
        job = Job(id=secrets.token_urlsafe(16), dir=dir, formats=tuple(formats), keep=keep)
        with self._lock:
            if sum(1 for j in self._jobs.values() if j.status in ("queued", "running")) >= self.max_jobs:
                raise QueueFull(f"the analysis queue is full ({self.max_jobs} jobs queued or running); "
                                "try again later")
            self._jobs[job.id] = job
        job.future = self._pool.submit(self._run, job, run)
        return job

    def _run(self, job: Job, run: Callable[[Job], Any]) -> Any:
        try:
            with self._lock:
                if job.status != "queued":  # cancelled while it waited
                    return None
                job.status, job.started = "running", time.time()
            job.deadline = time.monotonic() + self.job_timeout_s
            try:
                result = run(job)
            except JobCancelled:
                self._finish(job, "cancelled")
                return None
            except JobTimeout:
                self._finish(job, "failed", {"error": "timeout", "status": 422, "message":
                                             f"the analysis ran past the {self.job_timeout_s:.0f}-s limit"})
                raise
            except EmofuseError as err:
                from emofuse.serve.errors import status_of

                status, code = status_of(err)
                self._finish(job, "failed", {"error": code, "status": status, "message": job_message(err, job)})
                raise
            except Exception as err:
                self._finish(job, "failed", {"error": "internal", "status": 500,
                                             "message": f"the analysis failed ({type(err).__name__})"})
                raise
            with self._lock:
                cancelled = job.status == "cancelled"  # cancelled after its last progress callback
                if not cancelled:
                    job.result = result if job.keep else None
            self._finish(job, "cancelled" if cancelled else "done")
            return None if cancelled else result
        finally:
            self._cleanup(job.dir)
            job.dir = None

    def _finish(self, job: Job, status: str, error: dict[str, Any] | None = None) -> None:
        with self._lock:
            if job.status in ("queued", "running"):
                job.status, job.error = status, error
            job.finished = job.finished or time.time()
            if not job.keep and job.id in self._jobs:  # POST /analyze: answered directly, never fetched
                del self._jobs[job.id]

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a job: a queued one never runs, a running one stops at its next progress callback,
        a finished one is forgotten with its result. ``None`` when there is no such job."""
        job = self.get(job_id)
        if job is None:
            return None
        job.cancel_event.set()
        with self._lock:
            if job.status == "queued":
                job.status, job.finished = "cancelled", time.time()
                if job.future is not None and job.future.cancel():  # never started: clean up here
                    self._cleanup(job.dir)
                    job.dir = None
            elif job.status == "running":
                job.status = "cancelled"
            else:
                job.result = None
                if job.status == "done":
                    job.status = "cancelled"
                job.finished = job.finished or time.time()
        return job

    def take(self, job_id: str) -> Job | None:
        """Remove a finished job and hand it over with its result (a result is fetched once)."""
        self.purge()
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status != "done":
                return None
            return self._jobs.pop(job_id)

    def forget(self, job_id: str) -> None:
        """Drop a finished job (a failed job's error is answered once, like a result)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.status not in ("queued", "running"):
                del self._jobs[job_id]

    def put_back(self, job: Job) -> None:
        """Keep a job taken with :meth:`take` after all (its result could not be sent)."""
        with self._lock:
            self._jobs.setdefault(job.id, job)

    def shutdown(self) -> None:
        """Cancel every job and stop the workers (waits for running analyses to stop)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for j in jobs:
            if j.status in ("queued", "running"):
                self.cancel(j.id)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for j in self._jobs.values():
                self._cleanup(j.dir)
            self._jobs.clear()


def job_message(err: BaseException, job: Job) -> str:
    """An error's message without the server's paths (see :func:`~emofuse.serve.uploads.scrub`)."""
    from emofuse.serve.uploads import scrub

    return scrub(str(err), job.dir) if job.dir is not None else str(err)
