"""Uploads: a private temporary folder, multipart bodies streamed to it, media told by content.

* :class:`TempRoot` — one private folder per service (``mkdtemp``, mode 0700) with one private
  sub-folder per request; each is deleted when its request is answered (also after errors,
  timeouts and cancellation) and the root when the service stops.
* :func:`receive_upload` — parses a ``multipart/form-data`` body **as it streams in**
  (python-multipart's streaming parser), writing file parts straight to the request's folder with a
  running byte count: a body over the limit is refused (413) as soon as the count passes it,
  and nothing is ever held whole in memory. Files get server-made names (``upload``,
  ``transcript``) and keep the client's suffix only when it is in an allow-list; the client's
  file name and any path in it never reach the file system.
* :func:`check_media` — tells media from anything else by content: magic bytes
  (:func:`sniff_media`), then emofuse's own :func:`~emofuse.media.stream.probe`. Not media →
  415; media that cannot be read (empty, truncated, damaged) → 422; too long → 413.

Example:
    >>> sniff_media(b"\\x00\\x00\\x00\\x20ftypisom"), sniff_media(b"\\x1aE\\xdf\\xa3"), sniff_media(b"hello")
    ('mp4', 'matroska', None)
    >>> looks_like_text(b"WEBVTT\\n\\n00:00.000 --> 00:01.000\\nhi\\n"), looks_like_text(b"\\x00\\x01\\x02")
    (True, False)
    >>> safe_suffix("../../etc/clip.MP4", MEDIA_SUFFIXES), safe_suffix("x.exe", MEDIA_SUFFIXES)
    ('.mp4', '')
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from emofuse.errors import DataError
from emofuse.serve.errors import ServeError

__all__ = ["MEDIA_SUFFIXES", "TRANSCRIPT_SUFFIXES", "TempRoot", "Upload", "check_media", "looks_like_text",
           "receive_upload", "safe_suffix", "scrub", "sniff_media"]

#: Suffixes a media upload may keep (FFmpeg reads by content; the suffix only helps raw streams).
MEDIA_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".3gp",
                            ".wmv", ".flv", ".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac",
                            ".wma", ".aif", ".aiff"})
#: Suffixes a transcript upload may keep.
TRANSCRIPT_SUFFIXES = frozenset({".srt", ".vtt", ".json", ".txt"})
#: Largest plain form field, bytes.
MAX_FIELD_BYTES = 2**20
#: Largest URL-encoded form (fields only, read into memory), bytes.
MAX_URLENCODED_BYTES = 2 * 2**20
_MAX_PARTS = 32
#: The server's names of file parts on disk (the client's names never are).
_DISK_NAMES = {"file": "upload", "transcript": "transcript"}
_HEAD = 4096


def safe_suffix(filename: str | None, allowed: frozenset[str]) -> str:
    """The lower-cased suffix of a client's file name when it is in ``allowed``, else ``""``."""
    if not filename:
        return ""
    name = PureWindowsPath(PurePosixPath(str(filename)).name).name  # a base name, whatever the client's OS
    suffix = os.path.splitext(name)[1].lower()
    return suffix if suffix in allowed else ""


class TempRoot:
    """The service's private temporary folder (mode 0700) and its per-request sub-folders.

    Args:
        parent: Where to make it (default: the system's temporary folder).
    """

    def __init__(self, parent: str | Path | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="emofuse-serve-", dir=parent))
        os.chmod(self.path, 0o700)

    def new_dir(self) -> Path:
        """A new private sub-folder (mode 0700, a random name)."""
        return Path(tempfile.mkdtemp(prefix="req-", dir=self.path))

    @staticmethod
    def remove(path: Path | None) -> None:
        """Delete a request's folder and everything in it (no error if already gone)."""
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)

    def entries(self) -> list[str]:
        """Names in the root (empty when every request has been cleaned up)."""
        return sorted(os.listdir(self.path)) if self.path.exists() else []

    def close(self) -> None:
        """Delete the root and everything left in it."""
        shutil.rmtree(self.path, ignore_errors=True)


@dataclass
class Upload:
    """A received multipart body.

    Attributes:
        dir: The request's private folder (the caller deletes it with :meth:`TempRoot.remove`).
        fields: Plain form fields, ``{name: [values]}``.
        files: File parts written to ``dir``, ``{part name: server path}``.
        size: Bytes received.
    """

    dir: Path
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    size: int = 0

    def get(self, name: str) -> str | None:
        """The last value of form field ``name`` (``None`` when absent or blank)."""
        vals = self.fields.get(name) or []
        return (vals[-1].strip() or None) if vals else None


def _parser_class() -> Any:
    try:
        from python_multipart.multipart import MultipartParser, parse_options_header
    except ImportError:  # python-multipart < 0.0.13 has the old import name
        from multipart.multipart import MultipartParser, parse_options_header  # type: ignore[no-redef]
    return MultipartParser, parse_options_header


class _Parts:
    """python-multipart callbacks: file parts to files under server-made names, fields to memory."""

    def __init__(self, upload: Upload, file_parts: dict[str, frozenset[str]], parse_header: Any) -> None:
        self.up, self.file_parts, self.parse_header = upload, file_parts, parse_header
        self.n_parts = 0
        self._headers: dict[bytes, bytes] = {}
        self._hname, self._hvalue = b"", b""
        self._name: str | None = None
        self._file: BinaryIO | None = None
        self._buf: bytearray | None = None

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_done, "on_part_data": self.data, "on_part_end": self.part_end}

    def part_begin(self) -> None:
        self.n_parts += 1
        if self.n_parts > _MAX_PARTS:
            raise ServeError(422, "bad_form", f"the form has more than {_MAX_PARTS} parts")
        self._headers, self._hname, self._hvalue = {}, b"", b""

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def header_end(self) -> None:
        self._headers[self._hname.strip().lower()] = self._hvalue.strip()
        self._hname, self._hvalue = b"", b""

    def headers_done(self) -> None:
        _, opts = self.parse_header(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if not name:
            raise ServeError(422, "bad_form", "a form part has no name")
        self._name = name
        if name in self.file_parts:
            if name in self.up.files:
                raise ServeError(422, "bad_form", f"the form has more than one {name!r} file")
            filename = opts.get(b"filename", b"").decode("utf-8", "replace")
            path = self.up.dir / (_DISK_NAMES.get(name, "part") + safe_suffix(filename, self.file_parts[name]))
            self.up.files[name] = path
            self._file = open(path, "xb")  # noqa: SIM115 - closed in part_end (or by close())
        elif b"filename" in opts:
            raise ServeError(422, "bad_form", f"unexpected file field {name!r}; files go in: "
                             f"{', '.join(sorted(self.file_parts))}")
        else:
            self._buf = bytearray()

    def data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
        elif self._buf is not None:
            self._buf += data[start:end]
            if len(self._buf) > MAX_FIELD_BYTES:
                raise ServeError(413, "too_large", f"form field {self._name!r} is over {MAX_FIELD_BYTES} bytes")

    def part_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._buf is not None and self._name is not None:
            try:
                value = self._buf.decode("utf-8")
            except UnicodeDecodeError:
                raise ServeError(422, "bad_form", f"form field {self._name!r} is not UTF-8 text") from None
            self.up.fields.setdefault(self._name, []).append(value)
            self._buf = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive_upload(request: Any, root: TempRoot, *, max_bytes: int,
                         file_parts: dict[str, frozenset[str]]) -> Upload:
    """Stream a ``multipart/form-data`` request body into a new private folder of ``root``.

    Args:
        request: The Starlette request.
        root: The service's :class:`TempRoot`.
        max_bytes: Largest body, bytes.
        file_parts: Part names that are files, each with the suffixes it may keep.

    Returns:
        The :class:`Upload`; the caller owns (and deletes) its folder.

    Raises:
        ServeError: 413 over ``max_bytes`` (the folder is deleted), 415 not a multipart form, 422 a
            malformed form.
    """
    from starlette.requests import ClientDisconnect

    MultipartParser, parse_header = _parser_class()
    mime, params = parse_header(request.headers.get("content-type", ""))
    urlencoded = mime == b"application/x-www-form-urlencoded"  # fields only (a text to analyse)
    if urlencoded:
        max_bytes = min(max_bytes, MAX_URLENCODED_BYTES)
    elif mime != b"multipart/form-data" or not params.get(b"boundary"):
        raise ServeError(415, "not_multipart", "send the media as multipart/form-data (a 'file' part)")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ServeError(413, "too_large", f"the upload is {int(declared)} bytes, over the {max_bytes}-byte limit",
                         limit=max_bytes)
    up = Upload(dir=root.new_dir())
    if urlencoded:
        try:
            await _read_urlencoded(request, up, max_bytes)
        except BaseException:
            root.remove(up.dir)
            raise
        return up
    parts = _Parts(up, file_parts, parse_header)
    try:
        parser = MultipartParser(params[b"boundary"], parts.callbacks())
        async for chunk in request.stream():
            up.size += len(chunk)
            if up.size > max_bytes:
                raise ServeError(413, "too_large", f"the upload is over the {max_bytes}-byte limit", limit=max_bytes)
            if chunk:
                parser.write(chunk)
        parser.finalize()
        parts.close()
    except ServeError:
        parts.close()
        root.remove(up.dir)
        raise
    except ClientDisconnect:  # the client went away mid-upload
        parts.close()
        root.remove(up.dir)
        raise
    except OSError:  # the server's disk, not the client's form
        parts.close()
        root.remove(up.dir)
        raise ServeError(507, "no_storage", "the server could not store the upload") from None
    except Exception:  # a malformed body (python-multipart's parse errors)
        parts.close()
        root.remove(up.dir)
        raise ServeError(422, "bad_form", "the multipart form could not be read") from None
    return up


async def _read_urlencoded(request: Any, up: Upload, max_bytes: int) -> None:
    from urllib.parse import parse_qs

    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ServeError(413, "too_large", f"the form is over the {max_bytes}-byte limit", limit=max_bytes)
    up.size = len(body)
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=False,
                          max_num_fields=_MAX_PARTS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ServeError(422, "bad_form", "the form could not be read (URL-encoded UTF-8 expected)") from None
    up.fields = {k: list(v) for k, v in fields.items()}


# --------------------------------------------------------------------------- telling media by content


def sniff_media(head: bytes) -> str | None:
    """The container format named by the first bytes of a file (magic numbers), or ``None``."""
    h = bytes(head[:64])
    if len(h) >= 12 and h[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mp4"
    checks = ((b"\x1aE\xdf\xa3", "matroska"), (b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3", "mp3"),
              (b"FLV", "flv"), (b"#!AMR", "amr"), (b"caff", "caf"), (b".snd", "au"),
              (b"0&\xb2u\x8ef\xcf\x11", "asf"), (b"\x00\x00\x01\xba", "mpeg"), (b"\x00\x00\x01\xb3", "mpeg"))
    for magic, name in checks:
        if h.startswith(magic):
            return name
    if h[:4] == b"RIFF" and h[8:12] in (b"WAVE", b"AVI ", b"RMP3"):
        return "wav" if h[8:12] == b"WAVE" else "avi"
    if h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    if len(h) >= 2 and h[0] == 0xFF and (h[1] & 0xE0) == 0xE0:  # MPEG audio / ADTS AAC frame sync
        return "mpeg-audio"
    return None


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file read as text (UTF-8 or Latin-1 without control bytes)."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 4:  # not just a character cut at the end of the sample
            text = head.decode("latin-1")
        else:
            text = head[: err.start].decode("utf-8")
    bad = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f")
    return bad <= len(text) * 0.01


def check_media(path: Path, *, max_bytes: int, max_duration_s: float) -> Any:
    """Probe an uploaded file; its :class:`~emofuse.media.stream.MediaInfo` when it is media emofuse reads.

    Raises:
        ServeError: 422 empty or unreadable media (truncated, damaged), 415 not audio or video at
            all (told by content, never by name), 413 longer than ``max_duration_s``.
    """
    from emofuse.media.stream import probe

    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        raise ServeError(422, "empty_upload", "the uploaded file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    kind = sniff_media(head)
    if kind is None and looks_like_text(head):
        raise ServeError(415, "not_media", "the upload is text, not an audio or video file")
    try:
        info = probe(path, max_bytes=max_bytes)
    except DataError as err:
        if kind is None:
            raise ServeError(415, "not_media", "the upload is not an audio or video file emofuse can read") from None
        raise ServeError(422, "bad_media", scrub(str(err), path.parent)) from None
    if info.duration > max_duration_s:
        raise ServeError(413, "too_long", f"the media lasts {info.duration:.0f} s, over the {max_duration_s:.0f}-s "
                         "limit", limit_s=max_duration_s)
    return info


def scrub(message: str, folder: Path | None) -> str:
    """``message`` without the server's paths: files in ``folder`` become their stem (``upload``), the folder too."""
    if folder is None:
        return message
    base = re.escape(str(folder))
    message = re.sub(base + r"[/\\]([A-Za-z0-9_.-]+)", lambda m: Path(m.group(1)).stem, message)
    return message.replace(str(folder), "upload")
