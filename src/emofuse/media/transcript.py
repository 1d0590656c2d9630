r"""Read user-supplied transcripts (SRT, WebVTT, JSON, plain text) into timed cues.

:func:`read_transcript` turns a transcript file (or its bytes) into a list of :class:`Cue`
objects — ``start``/``end`` in seconds, the cue ``text`` with markup removed, and a ``speaker``
where the format names one. Four formats are understood:

* ``"srt"`` — SubRip: numbered blocks ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` followed by text lines.
  Missing cue numbers, ``.`` instead of ``,``, CRLF line ends, extra blank lines and trailing
  whitespace are tolerated; simple tags (``<i>``, ``<font ...>``, ``{\an8}``) are removed and
  the text lines of a cue are joined with spaces.
* ``"vtt"`` — WebVTT: a ``WEBVTT`` header (header metadata lines are skipped), optional cue
  identifiers, ``MM:SS.mmm`` or ``HH:MM:SS.mmm`` timings with optional cue settings after them
  (``align:start``, ...); ``NOTE``, ``STYLE`` and ``REGION`` blocks are skipped. A voice tag
  ``<v Alice>`` sets the cue's speaker; a cue holding several voices becomes one cue per voice,
  all with the cue's timing. Other tags are removed and character references (``&amp;``)
  decoded.
* ``"json"`` — a list of ``{"start", "end", "text"[, "speaker"]}`` objects, or an object whose
  ``"segments"`` (Whisper / faster-whisper / WhisperX output) or ``"cues"`` key holds such a
  list. Times are numbers of seconds or ``"HH:MM:SS.mmm"`` strings; other keys are ignored.
* ``"txt"`` — plain text without times: one cue per non-empty line, with ``start=None`` and
  ``end=None``. Untimed cues carry no position in the media; the pipeline spreads them over the
  speech it detects itself.

The format comes from ``format=``, else from the file suffix (``.srt``, ``.vtt``, ``.json``,
``.txt``), else — for bytes or another suffix — from the content: ``WEBVTT`` at the start means
WebVTT, a line starting with a timestamp and ``-->`` means SRT, ``{`` or ``[`` at the start
means JSON, anything else is plain text.

Text is decoded strictly: UTF-8 (with or without a byte-order mark), or UTF-16 when a UTF-16
byte-order mark is present. Any other encoding must be named with ``encoding=`` (for example
``encoding="cp1252"``); the error for undecodable bytes gives the byte offset of the first bad
byte. Every problem with the transcript itself raises :class:`TranscriptError` (a
:class:`~emofuse.errors.DataError`) naming the file and, where it has one, the line or cue:
malformed timing lines, a cue that ends before it starts, negative times, an empty file or one
without any cue, a file over :data:`MAX_TRANSCRIPT_BYTES`. Cues with empty text are dropped;
overlapping cues are kept as they are; timed cues are returned sorted by start time (stable).

:func:`clip_cues` fits timed cues to the length of the media and says what it changed.

Example:
    >>> srt = (b"1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there\r\n\r\n"
    ...        b"2\r\n00:00:03,000 --> 00:00:04,000\r\nBye\r\n")
    >>> [(c.start, c.end, c.text) for c in read_transcript(srt)]
    [(1.0, 2.5, 'Hello there'), (3.0, 4.0, 'Bye')]
    >>> clip_cues(read_transcript(srt), 3.5)[1]
    ['1 cue runs past the end of the media and was cut at 3.5 s']
"""

from __future__ import annotations

import codecs
import html
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from emofuse.errors import DataError, MissingFileError, UnknownNameError

__all__ = ["FORMATS", "MAX_TRANSCRIPT_BYTES", "Cue", "TranscriptError", "clip_cues", "read_transcript"]

#: Transcript formats :func:`read_transcript` understands.
FORMATS = ("json", "srt", "txt", "vtt")
#: Largest transcript accepted, in bytes (20 MiB: hours of subtitles take well under 1 MiB).
MAX_TRANSCRIPT_BYTES = 20 * 2**20

_SUFFIXES = {".srt": "srt", ".vtt": "vtt", ".json": "json", ".txt": "txt"}
_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[.,](\d+))?")
_SNIFF_SRT = re.compile(r"^[ \t]*(?:\d+:)?\d{1,2}:\d{1,2}(?:[.,]\d+)?[ \t]*-->", re.MULTILINE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")  # <i>, </b>, <font color="red">, <c.yellow>, </v>
_ASS_TAG = re.compile(r"\{\\[^{}]*\}")  # {\an8}, {\i1}
_VTT_TIMESTAMP_TAG = re.compile(r"<\d[\d:.]*>")  # karaoke timestamps <00:00:01.500>
_VTT_RUBY_TEXT = re.compile(r"<rt(?:\.[^<>]*)?>.*?</rt>", re.DOTALL)
_VTT_VOICE = re.compile(r"<v(?:\.[^\s<>]*)?(?:[ \t]+([^<>]*))?>")
_VTT_SKIPPED_BLOCK = re.compile(r"(?:NOTE|STYLE|REGION)(?:[ \t].*)?")
# a timing line with a wrong arrow ("->", "=>", "–>", ...): reported as malformed, not read as text
_TIMING_LIKE = re.compile(r"-?\d+:\d+[\d:.,]*\s*(?:-+>?|=+>|>|\u2192|\u2013|\u2014)\s*-?\d+:\d")
_VTT_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")


class TranscriptError(DataError):
    """A transcript that cannot be read: bad encoding, malformed timing, no cues, too large."""


@dataclass(frozen=True)
class Cue:
    """One piece of transcript text and when it is spoken.

    Attributes:
        start: Start time in seconds, or ``None`` for untimed plain-text cues.
        end: End time in seconds (``>= start``), or ``None`` for untimed cues.
        text: The spoken text, markup removed and whitespace collapsed.
        speaker: Who speaks, where the transcript says (WebVTT ``<v>`` tags, JSON ``speaker``).
    """

    start: float | None
    end: float | None
    text: str
    speaker: str | None = None

    def __post_init__(self) -> None:
        for label, value in (("start", self.start), ("end", self.end)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise TranscriptError(f"cue {label} must be a finite time >= 0 seconds, got {value!r}")
        if self.start is None and self.end is not None:
            raise TranscriptError(f"a cue without a start cannot have an end (end={self.end!r})")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise TranscriptError(f"cue ends before it starts (start={self.start!r}, end={self.end!r})")


def read_transcript(
    source: str | Path | bytes,
    *,
    format: str | None = None,
    encoding: str | None = None,
) -> list[Cue]:
    """Read a transcript file (or its bytes) into a list of cues.

    Args:
        source: Path of the transcript file, or its raw bytes. A ``str`` is always a path; to
            parse transcript text held in a string pass ``text.encode()``.
        format: One of :data:`FORMATS`; by default taken from the file suffix, else sniffed
            from the content (see the module docstring).
        encoding: Text encoding of the file. By default only UTF-8 (BOM optional) and UTF-16
            with a BOM are accepted; name any other encoding here, e.g. ``"cp1252"``.

    Returns:
        The cues, sorted by start time (stable); plain text gives untimed cues in file order.

    Raises:
        MissingFileError: ``source`` is a path that does not exist.
        UnknownNameError: ``format`` is not one of :data:`FORMATS`.
        TranscriptError: The file is empty, too large, not decodable, malformed, or has no cues.
    """
    if format is not None:
        fmt = str(format).strip().lower().lstrip(".")
        if fmt not in FORMATS:
            raise UnknownNameError("transcript format", str(format), FORMATS)
    else:
        fmt = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "transcript bytes"
        if len(data) > MAX_TRANSCRIPT_BYTES:
            raise TranscriptError(_too_large(name, len(data)))
    elif isinstance(source, (str, Path)):
        path = Path(source)
        name = str(path)
        data = _read_file(path, source)
        if fmt is None:
            fmt = _SUFFIXES.get(path.suffix.lower())
    else:
        raise TypeError(f"read_transcript: expected a path or bytes, got {type(source).__name__}")
    if not data:
        raise TranscriptError(f"{name}: the transcript is empty (0 bytes)")
    text = _decode(data, name, encoding)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if fmt is None:
        fmt = _sniff(text)
    if fmt == "srt" or fmt == "vtt":
        cues = _parse_subtitles(text, name, fmt)
    elif fmt == "json":
        cues = _parse_json(text, name)
    else:
        cues = _parse_plain(text)
    if not cues:
        raise TranscriptError(f"{name}: the transcript has no cues (no text was found in it as {fmt!r})")
    if all(c.start is not None for c in cues):
        cues.sort(key=lambda c: c.start)
    return cues


def clip_cues(cues: list[Cue], duration: float) -> tuple[list[Cue], list[str]]:
    """Fit timed cues to media of ``duration`` seconds.

    Cues starting at or after ``duration`` are dropped and cues running past it are cut to end
    at ``duration``; untimed cues are kept unchanged.

    Args:
        cues: Cues from :func:`read_transcript`.
        duration: Length of the media in seconds.

    Returns:
        ``(kept, warnings)``: the kept (possibly cut) cues in their order, and one human-readable
        warning per kind of change (empty when nothing changed).

    Raises:
        DataError: ``duration`` is negative or not finite.
    """
    duration = float(duration)
    if not (math.isfinite(duration) and duration >= 0):
        raise DataError(f"media duration must be a finite number of seconds >= 0, got {duration!r}")
    kept: list[Cue] = []
    dropped = cut = timed = 0
    for cue in cues:
        if cue.start is None:
            kept.append(cue)
            continue
        timed += 1
        if cue.start >= duration:
            dropped += 1
        elif cue.end is not None and cue.end > duration:
            kept.append(replace(cue, end=duration))
            cut += 1
        else:
            kept.append(cue)
    secs = _fmt_seconds(duration)
    warnings = []
    if dropped:
        one = dropped == 1
        warnings.append(f"{dropped} transcript {'cue starts' if one else 'cues start'} after the end of the media "
                        f"({secs} s) and {'was' if one else 'were'} dropped")
        if dropped == timed:
            warnings.append("no transcript cue falls within the media: check that the transcript belongs to it")
    if cut:
        one = cut == 1
        warnings.append(f"{cut} {'cue runs' if one else 'cues run'} past the end of the media and "
                        f"{'was' if one else 'were'} cut at {secs} s")
    return kept, warnings


# --------------------------------------------------------------------------------------------
# reading and decoding


def _read_file(path: Path, source: str | Path) -> bytes:
    if not path.exists():
        hint = ""
        if isinstance(source, str) and ("\n" in source or "-->" in source):
            hint = " (a str is read as a path; to parse transcript text pass it as bytes: text.encode())"
        shown = str(path) if len(str(path)) <= 200 else str(path)[:200] + "..."
        raise MissingFileError(f"transcript file not found: {shown}{hint}")
    if not path.is_file():
        raise TranscriptError(f"{path}: expected a transcript file, got a folder or special file")
    try:
        size = path.stat().st_size
        if size > MAX_TRANSCRIPT_BYTES:
            raise TranscriptError(_too_large(str(path), size))
        with path.open("rb") as f:
            data = f.read(MAX_TRANSCRIPT_BYTES + 1)
    except OSError as err:
        raise TranscriptError(f"{path}: cannot read the file ({err.strerror or err})") from None
    if len(data) > MAX_TRANSCRIPT_BYTES:  # grew since stat()
        raise TranscriptError(_too_large(str(path), len(data)))
    return data


def _too_large(name: str, size: int) -> str:
    return (f"{name}: the transcript is {size:,} bytes, over the limit of {MAX_TRANSCRIPT_BYTES:,} bytes "
            "(MAX_TRANSCRIPT_BYTES); is this really a transcript?")


def _decode(data: bytes, name: str, encoding: str | None) -> str:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise TranscriptError(f"{name}: unknown text encoding {encoding!r}") from None
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as err:
            raise TranscriptError(f"{name}: cannot be decoded as {encoding!r}: byte 0x{data[err.start]:02X} at byte "
                                  f"offset {err.start} is invalid ({err.reason}); pass the file's real encoding "
                                  "as encoding=") from None
        text = text.removeprefix("\ufeff")
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as err:
            raise TranscriptError(f"{name}: starts with a UTF-16 byte-order mark but is not valid UTF-16: "
                                  f"{err.reason} at byte offset {err.start}; pass the file's real encoding "
                                  "as encoding=") from None
    else:
        bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        try:
            text = data[bom:].decode("utf-8")
        except UnicodeDecodeError as err:
            offset = bom + err.start
            raise TranscriptError(
                f"{name}: not valid UTF-8 — byte 0x{data[offset]:02X} at byte offset {offset} is invalid. "
                "Transcripts are read as UTF-8 (or UTF-16 with a byte-order mark); if this file uses another "
                'encoding, name it: encoding="cp1252" (Windows Western European) in Python, '
                "--encoding cp1252 on the command line"
            ) from None
    if "\x00" in text:
        raise TranscriptError(f"{name}: the text contains NUL characters; it may be UTF-16 without a byte-order "
                              'mark: pass encoding="utf-16-le" (or "utf-16-be")')
    return text


def _sniff(text: str) -> str:
    head = text.lstrip()
    if _VTT_HEADER.match(head.split("\n", 1)[0]):
        return "vtt"
    if head.startswith(("{", "[")):
        return "json"
    if _SNIFF_SRT.search(text):
        return "srt"
    return "txt"


# --------------------------------------------------------------------------------------------
# SRT and WebVTT


def _parse_time(value: str) -> float | None:
    """Seconds for ``[HH:]MM:SS[.,fff]``, or None when it does not parse."""
    m = _TIME.fullmatch(value.strip())
    if m is None:
        return None
    hours, minutes, seconds, frac = m.groups()
    if int(minutes) >= 60 or int(seconds) >= 60:
        return None
    whole = (int(hours or 0) * 60 + int(minutes)) * 60 + int(seconds)
    return float(f"{whole}.{frac or '0'}")


def _parse_timing(line: str, where: str, fmt: str) -> tuple[float, float]:
    example = "HH:MM:SS,mmm --> HH:MM:SS,mmm" if fmt == "srt" else "HH:MM:SS.mmm --> HH:MM:SS.mmm"
    parts = line.split("-->")
    rest = parts[1].split(None, 1) if len(parts) == 2 else []
    start = _parse_time(parts[0]) if rest else None
    end = _parse_time(rest[0]) if rest else None
    if start is None or end is None:
        raise TranscriptError(f"{where}: malformed timing line {line.strip()!r}; expected {example!r}")
    if end < start:
        raise TranscriptError(f"{where}: the cue ends before it starts ({rest[0]} < {parts[0].strip()})")
    return start, end


def _clean_markup(text: str, fmt: str) -> str:
    if fmt == "vtt":
        text = _VTT_RUBY_TEXT.sub("", text)
        text = _VTT_TIMESTAMP_TAG.sub("", text)
    text = _TAG.sub("", text)
    text = _ASS_TAG.sub("", text)
    if fmt == "vtt":
        text = html.unescape(text)
    return " ".join(text.split())


def _vtt_voices(text: str) -> list[tuple[str | None, str]]:
    """Split WebVTT cue text at ``<v Speaker>`` tags into ``(speaker, text)`` runs."""
    parts = _VTT_VOICE.split(text)
    runs: list[tuple[str | None, str]] = []
    speakers: list[str | None] = [None] + [(s or "").strip() or None for s in parts[1::2]]
    for speaker, chunk in zip(speakers, parts[0::2], strict=True):
        chunk = _clean_markup(chunk, "vtt")
        if not chunk:
            continue
        if runs and runs[-1][0] == speaker:
            runs[-1] = (speaker, f"{runs[-1][1]} {chunk}")
        else:
            runs.append((speaker, chunk))
    return runs


def _parse_subtitles(text: str, name: str, fmt: str) -> list[Cue]:
    lines = text.split("\n")
    n = len(lines)
    i = 0
    if fmt == "vtt":
        while i < n and not lines[i].strip():
            i += 1
        first = lines[i].strip() if i < n else ""
        if not _VTT_HEADER.fullmatch(first):
            raise TranscriptError(f"{name}, line {i + 1}: a WebVTT file must start with 'WEBVTT', got {first[:60]!r}"
                                  ' (pass format="srt" if it is a SubRip file)')
        i += 1
        while i < n and lines[i].strip() and "-->" not in lines[i]:  # header metadata
            i += 1
    raw: list[tuple[float, float, list[str]]] = []
    block_start = True  # the current line follows a blank line (or the header)
    after_block_start = False  # the previous line was the first of its block (a cue number/identifier?)
    skipping = False
    while i < n:
        line = lines[i].strip()
        where = f"{name}, line {i + 1}"
        i += 1
        if not line:
            block_start, after_block_start, skipping = True, False, False
            continue
        if skipping:
            continue
        first_in_block, block_start = block_start, False
        timing_slot, after_block_start = first_in_block or after_block_start, first_in_block
        if fmt == "vtt" and first_in_block and "-->" not in line and _VTT_SKIPPED_BLOCK.fullmatch(line):
            skipping = True
            continue
        if "-->" in line or (timing_slot and _TIMING_LIKE.match(line)):
            start, end = _parse_timing(line, where, fmt)
            raw.append((start, end, []))
            continue
        next_line = lines[i].strip() if i < n else ""
        next_is_timing = "-->" in next_line or _TIMING_LIKE.match(next_line) is not None
        if next_is_timing and (line.isdigit() if fmt == "srt" else first_in_block):
            continue  # cue number (SRT) or cue identifier (WebVTT)
        if fmt == "srt" and first_in_block and line.isdigit() and next_line:
            # a cue number whose timing line is garbled beyond recognition
            _parse_timing(next_line, f"{name}, line {i + 1}", fmt)
        if not raw:
            what = "a cue number" if fmt == "srt" else "a cue identifier"
            raise TranscriptError(f"{where}: expected {what} or a timing line before any text, got {line[:60]!r}")
        raw[-1][2].append(line)
    cues = []
    for start, end, text_lines in raw:
        body = "\n".join(text_lines)
        if fmt == "vtt":
            cues.extend(Cue(start, end, chunk, speaker) for speaker, chunk in _vtt_voices(body))
        elif cleaned := _clean_markup(body, fmt):
            cues.append(Cue(start, end, cleaned))
    return cues


# --------------------------------------------------------------------------------------------
# JSON and plain text


def _json_time(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or value is None:
        seconds = None
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_time(value)
        if seconds is None:
            try:
                seconds = float(value)
            except ValueError:
                seconds = None
    else:
        seconds = None
    if seconds is None or not math.isfinite(seconds):
        raise TranscriptError(f"{where}: {key!r} must be a number of seconds or an 'HH:MM:SS.mmm' string, "
                              f"got {value!r}")
    if seconds < 0:
        raise TranscriptError(f"{where}: {key!r} is negative ({value!r})")
    return seconds


def _parse_json(text: str, name: str) -> list[Cue]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise TranscriptError(f"{name}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from None
    shapes = ("a list of {start, end, text} objects, or an object with a 'segments' or 'cues' list of them")
    if isinstance(doc, list):
        items, key = doc, ""
    elif isinstance(doc, dict) and ("segments" in doc or "cues" in doc):
        key = "segments" if "segments" in doc else "cues"
        items = doc[key]
        if not isinstance(items, list):
            raise TranscriptError(f"{name}: {key!r} must be a list, got {type(items).__name__}; expected {shapes}")
    elif isinstance(doc, dict):
        keys = ", ".join(repr(k) for k in list(doc)[:10]) or "none"
        raise TranscriptError(f"{name}: a JSON object without 'segments' or 'cues' (keys: {keys}); expected {shapes}")
    else:
        raise TranscriptError(f"{name}: expected {shapes}, got a JSON {type(doc).__name__}")
    cues = []
    for k, item in enumerate(items):
        where = f"{name}, cue {k + 1} ({key}[{k}])" if key else f"{name}, cue {k + 1} ([{k}])"
        if not isinstance(item, dict):
            raise TranscriptError(f"{where}: expected an object with 'start', 'end' and 'text', "
                                  f"got {type(item).__name__}")
        missing = [f for f in ("start", "end", "text") if f not in item]
        if missing:
            raise TranscriptError(f"{where}: missing {', '.join(repr(f) for f in missing)}")
        start = _json_time(item["start"], where, "start")
        end = _json_time(item["end"], where, "end")
        if end < start:
            raise TranscriptError(f"{where}: the cue ends before it starts (end {end:g} s < start {start:g} s)")
        if not isinstance(item["text"], str):
            raise TranscriptError(f"{where}: 'text' must be a string, got {type(item['text']).__name__}")
        body = " ".join(item["text"].split())
        speaker = item.get("speaker")
        speaker = None if speaker is None else (str(speaker).strip() or None)
        if body:
            cues.append(Cue(start, end, body, speaker))
    return cues


def _parse_plain(text: str) -> list[Cue]:
    return [Cue(None, None, body) for line in text.split("\n") if (body := " ".join(line.split()))]


def _fmt_seconds(x: float) -> str:
    s = f"{x:.3f}".rstrip("0")
    return s + "0" if s.endswith(".") else s
