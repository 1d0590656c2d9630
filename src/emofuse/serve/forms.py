"""Upload forms → analysis requests, and results → answers in the output formats.

The form fields mirror ``emofuse analyze``: ``file`` (the media) or ``text``, ``transcript`` (a
file) and ``encoding``, ``fps``, ``asr``, ``segmentation``, ``fusion``, ``formats``, ``set``
(repeatable ``key=value``, as ``--set``) and ``config`` (a JSON object of
:class:`~emofuse.analysis.AnalyzeConfig` fields). Answers are written by the registered writers
(:mod:`emofuse.analysis.writers`), the JSON one being exactly ``emofuse analyze --format json``.

Example:
    >>> parse_bool("asr", "false"), parse_bool("asr", "1")
    (False, True)
    >>> media_type("csv")
    'text/csv; charset=utf-8'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emofuse.analysis import AnalysisResult, AnalyzeConfig, check_formats
from emofuse.errors import ConfigError, EmofuseError
from emofuse.serve.errors import ServeError
from emofuse.serve.settings import client_config
from emofuse.serve.uploads import MEDIA_SUFFIXES, TRANSCRIPT_SUFFIXES, Upload, scrub

__all__ = ["FIELDS", "FILE_PARTS", "AnalysisRequest", "media_type", "parse_bool", "parse_request", "render",
           "tidy_result"]

#: File parts of an upload form, with the suffixes each may keep.
FILE_PARTS = {"file": MEDIA_SUFFIXES, "transcript": TRANSCRIPT_SUFFIXES}
#: Plain fields of an upload form.
FIELDS = ("text", "encoding", "fps", "asr", "segmentation", "fusion", "formats", "set", "config")
#: Formats a job's result can be fetched in by default (those whose dependencies are installed).
DEFAULT_FORMATS = ("json", "csv", "html", "parquet", "png")
_MEDIA_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8",
                "parquet": "application/vnd.apache.parquet", "png": "image/png"}
_MAX_TEXT = 200_000
_MAX_SET = 1000


def parse_bool(name: str, value: str) -> bool:
    """A form's boolean (``true/false``, ``1/0``, ``yes/no``, ``on/off``).

    Raises:
        ConfigError: Anything else.
    """
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def media_type(fmt: str) -> str:
    """The HTTP content type of an output format."""
    return _MEDIA_TYPES.get(fmt, "application/octet-stream")


@dataclass
class AnalysisRequest:
    """What an upload asks for.

    Attributes:
        config: The analysis settings.
        formats: Output formats asked for (the answer's, or those a job's result may be fetched in).
        media: The uploaded media file (server path), or ``None`` for ``text``.
        transcript: The uploaded transcript (server path), if any.
        encoding: The transcript's text encoding when not UTF-8.
        text: A text to analyse instead of media.
        options: The options as given (for the job's status).
    """

    config: AnalyzeConfig
    formats: tuple[str, ...]
    media: Path | None = None
    transcript: Path | None = None
    encoding: str | None = None
    text: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _options(up: Upload) -> dict[str, Any]:
    from emofuse.config import apply_overrides

    opts: dict[str, Any] = {}
    raw = up.get("config")
    if raw is not None:
        try:
            opts = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ConfigError(f"config: not JSON ({err.msg} at character {err.pos})") from None
        if not isinstance(opts, dict):
            raise ConfigError("config: expected a JSON object of analysis options")
    sets = [s for s in up.fields.get("set", []) if s.strip()]
    if any(len(s) > _MAX_SET for s in sets):
        raise ConfigError(f"set: each key=value is at most {_MAX_SET} characters")
    try:
        opts = apply_overrides(opts, sets)
    except EmofuseError:
        raise
    except Exception as err:  # a value YAML cannot read
        raise ConfigError(f"set: unreadable value ({type(err).__name__})") from None
    fps = up.get("fps")
    if fps is not None:
        try:
            opts["fps"] = float(fps)
        except ValueError:
            raise ConfigError(f"fps: expected a number, got {fps!r}") from None
        if not math.isfinite(opts["fps"]):
            raise ConfigError(f"fps: expected a finite number, got {fps!r}")
    asr = up.get("asr")
    if asr is not None:
        opts["asr"] = parse_bool("asr", asr)
    for name in ("segmentation", "fusion"):
        value = up.get(name)
        if value is not None:
            opts[name] = value
    return opts


def _formats(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    from emofuse.analysis.writers import WRITERS

    if raw is None:
        return tuple(n for n in default if n in WRITERS and not WRITERS.get(n).missing())
    names = [f.strip().lower() for f in raw.split(",") if f.strip()]
    if names == ["all"]:
        names = [n for n in WRITERS.names() if not WRITERS.get(n).missing()]
    if not names:
        raise ConfigError("formats: give at least one output format (json, csv, html, parquet, png)")
    try:
        return tuple(w.name for w in check_formats(names))
    except ImportError as err:
        raise ConfigError(f"formats: {err}") from None


def parse_request(up: Upload, *, single_format: bool) -> AnalysisRequest:
    """Read an upload form into an :class:`AnalysisRequest`.

    Args:
        up: The received upload.
        single_format: The answer itself is the result (``POST /analyze``): one format only.

    Raises:
        ConfigError / UnknownNameError: Unknown fields or options, bad values (the service answers 422).
        ServeError: 422 neither or both of a media file and a text.
    """
    unknown = sorted(k for k in up.fields if k not in FIELDS)
    if unknown:
        raise ConfigError(f"unknown form field(s): {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(FIELDS + tuple(FILE_PARTS)))}")
    opts = _options(up)
    cfg = client_config(opts)
    formats = _formats(up.get("formats"), ("json",) if single_format else DEFAULT_FORMATS)
    if single_format and len(formats) != 1:
        raise ConfigError("formats: POST /analyze answers with one format (json, csv, html, ...); "
                          "for several, submit a job (POST /jobs) and fetch each")
    text = up.get("text")
    media = up.files.get("file")
    if (text is None) == (media is None):
        raise ServeError(422, "bad_form", "give either a media file (the 'file' part) or a 'text' field")
    if text is not None:
        if len(text) > _MAX_TEXT:
            raise ServeError(413, "too_large", f"text: over {_MAX_TEXT} characters")
        if "transcript" in up.files:
            raise ServeError(422, "bad_form", "a transcript goes with a media file, not with a text")
    encoding = up.get("encoding")
    if encoding is not None:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ConfigError(f"encoding: {encoding!r} is not a known text encoding (e.g. utf-8, cp1252)") from None
    return AnalysisRequest(config=cfg, formats=formats, media=media, transcript=up.files.get("transcript"),
                           encoding=encoding, text=text, options=opts)


def tidy_result(result: AnalysisResult, folder: Path | None, name: str) -> AnalysisResult:
    """The result as a client sees it: no server path (the source is ``name``; paths in warnings scrubbed)."""
    result.source = name
    if "path" in result.media:
        result.media["path"] = name
    result.warnings = [scrub(w, folder) for w in result.warnings]
    return result


def render(result: AnalysisResult, fmt: str, folder: Path) -> bytes:
    """``result`` in output format ``fmt`` (the JSON as ``emofuse analyze`` writes it), made in ``folder``.

    Raises:
        UnknownNameError: Not an output format.
        ImportError: The format's optional dependency is missing on the server.
    """
    if fmt == "json":
        return result.to_json(indent=2).encode("utf-8")
    (writer,) = check_formats([fmt])
    path = writer(result, folder / f"analysis{writer.suffix}")
    return path.read_bytes()
