"""Errors of the service and the JSON bodies they are answered with.

Every refusal is a JSON object ``{"error": code, "message": text, "status": http_status}``;
user input never causes a 500. emofuse's own errors map to statuses by kind
(:func:`status_of`): bad input and bad options are 422, broken model weights on the server 503.

Example:
    >>> from emofuse.errors import UnknownNameError
    >>> status_of(UnknownNameError("fusion method", "evidnce", ["evidence"]))
    (422, 'unknown_name')
    >>> ServeError(429, "queue_full", "too many jobs").body()["status"]
    429
"""

from __future__ import annotations

from typing import Any

from emofuse.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    EmofuseError,
    MissingFileError,
    UnknownNameError,
    UnsafeFileError,
)

__all__ = ["ServeError", "error_body", "status_of"]

# most specific first: UnknownNameError is also a KeyError, ConfigError and DataError are ValueErrors
_STATUS: tuple[tuple[type[EmofuseError], int, str], ...] = (
    (UnknownNameError, 422, "unknown_name"),
    (ConfigError, 422, "bad_options"),
    (MissingFileError, 422, "missing_file"),
    (DataError, 422, "bad_input"),
    (UnsafeFileError, 422, "unsafe_file"),
    (CheckpointError, 503, "models_unavailable"),
)


class ServeError(Exception):
    """A request the service refuses, with its HTTP status and a short machine-readable code.

    Args:
        status: HTTP status (4xx, or 503).
        code: Short name of the refusal (``"too_large"``, ``"not_media"``, ...).
        message: One line for people.
        **extra: More fields for the JSON body.
    """

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = int(status), code, message, extra

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return error_body(self.status, self.code, self.message, **self.extra)


def error_body(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """``{"error": code, "message": message, "status": status, **extra}``."""
    return {"error": code, "message": message, "status": int(status), **extra}


def status_of(exc: EmofuseError) -> tuple[int, str]:
    """HTTP status and code for one of emofuse's errors (422 for anything a client can cause)."""
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            return status, code
    return 422, "bad_input"
