"""Helpers of ``emofuse analyze`` (in :mod:`emofuse.cli`): many texts in one call, and batches.

Texts come from ``--text`` (repeated; ``--text -`` reads stdin, one text per line) and
``--text-file`` (one text per line); more than one is analysed in one call (the models loaded
once) and printed as one table, one row per text. Part of the command line (layer 1): it uses
only the public API of :mod:`emofuse.analysis`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from emofuse.errors import DataError, MissingFileError

__all__ = ["STDIN", "gather_texts", "run_batch", "run_texts", "show_result"]

#: The ``--text`` value that reads texts from standard input, one per line.
STDIN = "-"


def _lines(data: bytes, where: str, encoding: str | None) -> list[str]:
    """Non-blank lines of ``data`` decoded as ``encoding`` (default UTF-8, a BOM allowed)."""
    try:
        text = data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{where}: not {encoding or 'UTF-8'} text (invalid byte at offset {err.start}); give its "
                        "encoding, e.g. --encoding cp1252") from None
    except LookupError:
        raise DataError(f"--encoding {encoding!r}: not a known text encoding (e.g. utf-8, cp1252, latin-1)") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def gather_texts(values: list[str] | None, text_file: Path | None, encoding: str | None = None) -> list[str] | None:
    """The texts to analyse, in order: each ``--text`` value (``-``: stdin, one text per line), then
    each non-blank line of ``text_file``; ``None`` when neither was given.

    Raises:
        MissingFileError: ``text_file`` does not exist.
        DataError: A file or stdin that cannot be decoded (the message names ``--encoding``), or
            one without any text.
    """
    if not values and text_file is None:
        return None
    texts: list[str] = []
    for v in values or []:
        if v == STDIN:
            stream = getattr(sys.stdin, "buffer", None)  # bytes, so that --encoding applies
            data = stream.read() if stream is not None else (sys.stdin.read() if sys.stdin else "").encode()
            got = _lines(data, "standard input", encoding)
            if not got:
                raise DataError("--text -: standard input holds no text (one text per line)")
            texts += got
        else:
            texts.append(v)
    if text_file is not None:
        if not text_file.is_file():
            raise MissingFileError(f"--text-file not found: {text_file}")
        got = _lines(text_file.read_bytes(), str(text_file), encoding)
        if not got:
            raise DataError(f"--text-file {text_file}: no text in it (one text per line, blank lines skipped)")
        texts += got
    return texts


def _cut(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def run_texts(texts: list[str], cfg: Any, out: Path | None, fmts: list[str], json_out: bool, *,
              console: Console, err_console: Console) -> None:
    """Analyse ``texts`` in one call (models loaded once), print one row per text, save like a batch."""
    from emofuse.analysis import analyze_texts, text_summary

    results = analyze_texts(texts, config=cfg, out_dir=out, formats=fmts)
    rows = text_summary(texts, results, out)
    if json_out:
        sys.stdout.write(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2) + "\n")
    else:
        table = Table(title=f"{len(texts)} texts")
        for col, just in (("#", "right"), ("text", "left"), ("emotion", "left"), ("confidence", "right"),
                          ("sentences", "right")):
            table.add_column(col, justify=just, overflow="fold")  # type: ignore[arg-type]
        for r in rows:
            conf = "" if r["confidence"] is None else f"{r['confidence']:.2f}"
            table.add_row(str(r["index"]), Text(_cut(r["text"])), r["dominant"] or "—", conf, str(r["sentences"]))
        console.print(table)
        for r, res in zip(rows, results, strict=True):
            for w in res.warnings:
                err_console.print(f"[yellow]warning:[/] text {r['index']}: ", Text(w), sep="", highlight=False,
                                  soft_wrap=True)
    if out is not None:
        err_console.print(f"wrote {len(texts)} results under {out} (which text is in which folder: "
                          f"{out / 'summary.csv'})", highlight=False, soft_wrap=True)


def run_batch(paths: list[Path], out: Path, cfg: Any, fmts: list[str], redo: bool, *, console: Console,
              err_console: Console, transcripts: Path | None = None, encoding: str | None = None) -> None:
    """Analyse files and folders into ``out`` (one folder each), print the summary; exit 1 if any failed."""
    from emofuse.analysis import analyze_batch

    def on_file(i: int, n: int, path: Path, row: dict[str, Any]) -> None:
        colour = {"done": "green", "skipped": "cyan", "failed": "red"}[row["status"]]
        extra = row["error"] if row["status"] == "failed" else (row.get("dominant") or "")
        err_console.print(f"[{i + 1}/{n}] [{colour}]{row['status']}[/] {path} {extra}", highlight=False,
                          soft_wrap=True)

    rows = analyze_batch(paths, out, config=cfg, formats=fmts, redo=redo, on_file=on_file,
                         progress=err_console.is_terminal, transcripts=transcripts, transcript_encoding=encoding)
    table = Table(title=f"batch summary ({out / 'summary.csv'})")
    for col in ("file", "status", "duration_s", "segments", "dominant", "seconds", "error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*[("" if r[c] is None else str(r[c])) for c in
                        ("file", "status", "duration_s", "segments", "dominant", "seconds", "error")])
    console.print(table)
    failed = sum(r["status"] == "failed" for r in rows)
    if failed:
        err_console.print(f"[red]{failed} of {len(rows)} files failed[/] (see the error column)")
        raise typer.Exit(1)


def show_result(result: Any, out: Path | None, fmts: list[str], json_out: bool, max_rows: int, *,
                console: Console, err_console: Console) -> None:
    """Print one analysis (JSON or the table, then its warnings) and write it under ``out`` when given."""
    from emofuse.analysis import print_table

    if json_out:
        sys.stdout.write(result.to_json() + "\n")
    else:
        print_table(result, console=console, max_rows=max_rows)
        for w in result.warnings:
            err_console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
    if out is not None:
        written = result.save(out, fmts)
        err_console.print("wrote " + ", ".join(str(p) for p in written.values()), highlight=False, soft_wrap=True)
