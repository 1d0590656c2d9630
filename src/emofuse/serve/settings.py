"""Settings of the ``emofuse serve`` service (:class:`ServeSettings`) and the analysis options clients may set.

Example:
    >>> s = ServeSettings()
    >>> s.host, s.port, s.max_live_sessions, s.api_key is None
    ('127.0.0.1', 8765, 4, True)
    >>> client_config({"fps": 2, "asr": False}).fps
    2.0
    >>> try:
    ...     client_config({"fusion_model": "/etc/passwd"})
    ... except ConfigError as err:
    ...     print(str(err).split(":")[0])
    analysis option(s) not settable through the service
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from emofuse.analysis import AnalyzeConfig
from emofuse.errors import ConfigError

__all__ = ["SERVER_ONLY_FIELDS", "ServeSettings", "client_config"]

#: Analysis options a client may not set: they name files on the server or set its resource limits.
SERVER_ONLY_FIELDS = ("fusion_model", "expert_weights", "threads", "max_bytes", "max_pixels")


def _default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class ServeSettings:
    """How the service runs and what it accepts (``emofuse serve --help`` sets the common ones).

    Attributes:
        host: Interface to listen on (the default answers this machine only).
        port: TCP port.
        max_upload_bytes: Largest request body of an upload (media + transcript), bytes (413 above).
        max_duration_s: Longest media analysed (an upload, or a live stream), seconds (413 above).
        max_jobs: Analyses queued or running at once, ``POST /analyze`` and ``POST /jobs`` together
            (429 when full; 0 refuses every upload).
        workers: Analyses running at the same time (worker threads).
        max_live_sessions: WebSocket sessions at the same time (more are refused with status 429).
        result_ttl_s: How long a finished job (and its result) is kept when nobody fetches it, seconds.
        job_timeout_s: Longest time one analysis may run, seconds (the job fails with a timeout).
        api_key: When set, every request but ``/health`` and ``/ready`` needs it in the
            ``X-API-Key`` header (a WebSocket may give it as ``api_key`` in its start message).
        cors_origins: Origins allowed to call the service from a browser (none by default: CORS off).
        rolling_interval_s: Seconds between rolling estimates of a live session.
        rolling_window_s: The rolling estimate reads the last this-many seconds of each signal.
        rolling_text: Include the words (speech recognition over the rolling window) in the
            rolling estimate; off by default (Whisper every interval is costly), words then come
            with the closed segments only.
        live_queue: Messages buffered per live connection before video frames are dropped
            (audio is never dropped: the connection waits instead).
        max_frame_bytes: Largest encoded video frame of a live session, bytes.
        max_frame_pixels: Largest decoded video frame (width × height) of a live session.
        max_message_bytes: Largest WebSocket message, bytes.
        live_idle_timeout_s: A live session that receives nothing for this long is closed.
        stats_interval_s: Seconds between the ``stats`` messages of a live session.
        preload: Load the models when the service starts (``/ready`` answers 503 until they are).
        temp_dir: Where the service's private temporary folder is made (default: the system's).
        access_log: Log one line per request (method, path, status: never media, text or predictions).
    """

    host: str = "127.0.0.1"
    port: int = 8765
    max_upload_bytes: int = 500 * 10**6
    max_duration_s: float = 3 * 3600.0
    max_jobs: int = 8
    workers: int = field(default_factory=_default_workers)
    max_live_sessions: int = 4
    result_ttl_s: float = 600.0
    job_timeout_s: float = 3600.0
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    rolling_interval_s: float = 0.5
    rolling_window_s: float = 3.0
    rolling_text: bool = False
    live_queue: int = 64
    max_frame_bytes: int = 4 * 2**20
    max_frame_pixels: int = 4096 * 4096
    max_message_bytes: int = 8 * 2**20
    live_idle_timeout_s: float = 60.0
    stats_interval_s: float = 2.0
    preload: bool = True
    temp_dir: str | None = None
    access_log: bool = True

    def __post_init__(self) -> None:
        self.cors_origins = tuple(self.cors_origins or ())
        if self.api_key is not None and not str(self.api_key).strip():
            self.api_key = None
        if not 0 < int(self.port) < 65536:
            raise ConfigError(f"serve: port must be in 1..65535, got {self.port}")
        ints = {"max_upload_bytes": 1, "max_jobs": 0, "workers": 1, "max_live_sessions": 0, "live_queue": 1,
                "max_frame_bytes": 1, "max_frame_pixels": 1, "max_message_bytes": 1}
        for name, low in ints.items():
            if int(getattr(self, name)) < low:
                raise ConfigError(f"serve: {name} must be >= {low}, got {getattr(self, name)}")
        for name in ("max_duration_s", "result_ttl_s", "job_timeout_s", "rolling_interval_s", "rolling_window_s",
                     "live_idle_timeout_s", "stats_interval_s"):
            v = float(getattr(self, name))
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"serve: {name} must be a positive number of seconds, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the settings, the API key masked."""
        d = asdict(self)
        d["api_key"] = "***" if self.api_key else None
        d["cors_origins"] = list(self.cors_origins)
        return d


def client_config(options: dict[str, Any] | None) -> AnalyzeConfig:
    """An :class:`AnalyzeConfig` from options a client sent (a form or a live start message).

    Any field of :class:`AnalyzeConfig` may be given, except :data:`SERVER_ONLY_FIELDS`
    (paths on the server, its limits and threads): a client never names a file the server reads.

    Raises:
        ConfigError: An option the client may not set, an unknown option, or a bad value.
        UnknownNameError: An unknown segmentation, fusion or expert name.
    """
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ConfigError(f"analysis options must be a JSON object, got {type(options).__name__}")
    banned = sorted(k for k in options if k in SERVER_ONLY_FIELDS)
    if banned:
        raise ConfigError(f"analysis option(s) not settable through the service: {', '.join(banned)}")
    cfg = AnalyzeConfig.from_dict(options)
    cfg.check_experts()
    return cfg
