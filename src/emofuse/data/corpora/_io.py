"""Reading helpers shared by the corpus readers: file kinds, compressed tables, skip reports."""

from __future__ import annotations

import csv
import gzip
import io
import re
import tarfile
import warnings
import zipfile
from pathlib import Path

from emofuse.data._readers import check_choice
from emofuse.data.corpora._records import Label
from emofuse.errors import DataError, UnknownNameError

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".wma",
                                     ".aif", ".aiff")
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm")
#: What a reader does with a label outside its ``label_map`` / ``label_space``.
UNKNOWN_POLICIES: tuple[str, ...] = ("error", "drop")


def check_unknown_policy(unknown: str) -> None:
    """Refuse an ``unknown=`` value other than ``error``/``drop`` (with close matches)."""
    check_choice(unknown, UNKNOWN_POLICIES, "unknown-label policy")


def read_bytes(path: Path) -> bytes:
    """File content, decompressed when it is gzip, or the single CSV/TSV inside a tar or zip archive.

    Compression is told from the magic bytes, not from the file name.
    """
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise DataError(f"{path.name}: not a readable gzip file ({e})") from None
    if len(data) > 262 and data[257:262] == b"ustar":
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = [m for m in tar.getmembers()
                       if m.isfile() and m.name.lower().endswith((".csv", ".tsv", ".txt"))]
            if len(members) != 1:
                raise DataError(f"{path.name}: a tar archive must hold one .csv/.tsv file, found "
                                f"{[m.name for m in members]}")
            return tar.extractfile(members[0]).read()  # type: ignore[union-attr]
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n for n in zf.namelist() if n.lower().endswith((".csv", ".tsv", ".txt"))]
            if len(names) != 1:
                raise DataError(f"{path.name}: a zip archive must hold one .csv/.tsv file, found {names}")
            return zf.read(names[0])
    return data


def decode(data: bytes, encoding: str, name: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise DataError(f"{name}: not valid {encoding} text ({e}); pass encoding= (e.g. 'latin-1')") from None


def first_line(path: Path) -> str:
    """First line of a (possibly compressed) text file, read without loading a big plain file whole."""
    with path.open("rb") as f:
        head = f.read(4)
    if head == b"PK\x03\x04" or path.name.lower().endswith((".tar", ".tgz", ".tar.gz")):
        line = read_bytes(path).split(b"\n", 1)[0]
    elif head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as f:
            line = f.readline(1 << 16)
    else:
        with path.open("rb") as f:
            line = f.readline(1 << 16)
    return line.decode("utf-8-sig", "replace").strip()


def header_columns(header: str) -> list[str]:
    """Lower-case column names of a header line split at any of ``, TAB ; |`` (for sniffing)."""
    return [c.strip().strip('"').lower() for c in re.split(r"[,\t;|]", header)]


def skip_report(skipped: list[str], total: int, where: str, pattern: str, strict: bool) -> None:
    if not skipped:
        return
    examples = ", ".join(skipped[:5])
    if strict:
        raise DataError(f"{where}: {len(skipped)} of {total} files are not named like {pattern}, e.g. {examples} "
                        "(strict=True; pass strict=False to skip them)")
    warnings.warn(f"{where}: skipped {len(skipped)} of {total} files not named like {pattern}, e.g. {examples}",
                  stacklevel=3)



def read_table(path: Path, delimiter: str | None, encoding: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line number, fields)`` rows of a CSV/TSV; the delimiter is sniffed from the header.

    Sniffing counts ``, TAB ; |`` in the header line (headers rarely hold free text); a tie
    falls back to the file suffix (``.tsv`` → TAB, else comma).
    """
    text = decode(read_bytes(path), encoding, path.name)
    if delimiter is None:
        header_line = text.split("\n", 1)[0]
        counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
        best = max(counts.values())
        default = "\t" if path.suffix.lower() == ".tsv" or path.name.lower().endswith(".tsv.gz") else ","
        delimiter = default if best == 0 or counts[default] == best else max(counts, key=counts.__getitem__)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path.name}: the file is empty") from None
    rows = []
    for fields in reader:
        if not fields or not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise DataError(f"{path.name} line {reader.line_num}: {len(fields)} fields, expected {len(header)} "
                            f"({header}); is the delimiter {delimiter!r} right? (pass delimiter=)")
        rows.append((reader.line_num, fields))
    return header, rows


def column(header: list[str], name: str, path: Path) -> int:
    if name not in header:
        raise UnknownNameError(f"column of {path.name}", name, header)
    return header.index(name)


def row_labels(rows: list[tuple[int, list[str]]], col: int, label_sep: str | None, unknown: str,
                path: Path) -> tuple[list[Label | None], int]:
    """Raw labels per row (``None`` for an empty label that ``unknown="drop"`` drops) and the count of those."""
    labels: list[Label | None] = []
    empty = []
    for line, fields in rows:
        cell = fields[col].strip()
        lab: Label | None = cell
        if label_sep is not None:
            lab = tuple(dict.fromkeys(x.strip() for x in cell.split(label_sep) if x.strip()))
        if not lab:
            empty.append(line)
            lab = None
        labels.append(lab)
    if empty and unknown == "error":
        raise DataError(f"{path.name}: {len(empty)} rows have an empty label (lines {empty[:5]}); fill them or "
                        "pass unknown='drop'")
    return labels, len(empty)

