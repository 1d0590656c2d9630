"""Exceptions raised at emofuse's boundaries.

Every error a user can trigger with bad input derives from :class:`EmofuseError`, so callers
(the CLI, the web service) can catch one type and show its message unchanged.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EmofuseError(Exception):
    """Base class of every user-facing emofuse error."""


class UnknownNameError(EmofuseError, KeyError):
    """A name that no registry knows; the message lists close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        listing = ", ".join(known) if len(known) <= 20 else f"{len(known)} names"
        super().__init__(f"Unknown {kind} {name!r}.{hint} Known: {listing}.")
        self.kind, self.name, self.suggestions = kind, name, close

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class ConfigError(EmofuseError, ValueError):
    """A configuration with unknown keys or values of the wrong type."""


class DataError(EmofuseError, ValueError):
    """Input data with the wrong shape, dtype, values (NaN/inf) or labels."""


class MissingFileError(EmofuseError, FileNotFoundError):
    """A file the user named (data, checkpoint, weights) does not exist."""


class UnsafeFileError(EmofuseError):
    """A file that could only be read by unpickling it, without the explicit opt-in."""


class CheckpointError(EmofuseError):
    """A checkpoint whose weights or model card do not match what is being loaded."""
