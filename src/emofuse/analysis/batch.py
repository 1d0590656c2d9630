"""Batch analysis: many files, one output folder each, resumable, failures kept per file.

:func:`analyze_batch` walks a list of inputs (files, folders — searched recursively for media
and text files — or both), analyses each with :func:`~emofuse.analysis.pipeline.analyze`, and
writes ``out_dir/<name>/analysis.*``. A file whose ``analysis.json`` already exists for the
same source path, settings and content (size, modification time, SHA-1) is skipped (so an
interrupted batch resumes where it stopped, and a file replaced under the same name is analysed
again); each summary row names the input's output folder;
a file that fails is recorded with its error and the batch goes on. The summary (one row per
input: status, duration, segments, dominant emotion, seconds per emotion, time taken, error)
is written as ``summary.csv`` and ``summary.json``. With ``transcripts=DIR``, each input's
transcript is ``DIR/<input stem>.srt`` (or ``.vtt``, ``.json``, ``.txt``) where one exists;
its content is part of the resume key.

Memory stays flat over the batch as far as this module goes: each file is analysed and written
inside :func:`_run_one`, so its :class:`~emofuse.analysis.result.AnalysisResult` (segments,
per-frame face timeline) is released before the next file starts, and only the small summary
row is kept. ``bench/batch_memory.py`` measures the per-file growth of a whole batch.

Example:
    >>> sorted(MEDIA_SUFFIXES)[:4]
    ['.aac', '.avi', '.flac', '.m4a']
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from emofuse.analysis.pipeline import TEXT_SUFFIXES, AnalyzeConfig, analyze
from emofuse.analysis.report_common import summary_counts
from emofuse.analysis.result import EKMAN, AnalysisResult
from emofuse.analysis.writers import check_formats
from emofuse.errors import DataError, EmofuseError, MissingFileError

__all__ = ["MEDIA_SUFFIXES", "TRANSCRIPT_SUFFIXES", "analyze_batch", "collect_inputs", "find_transcript"]

#: File suffixes picked up when a folder is given.
MEDIA_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".wav", ".flac", ".mp3", ".ogg",
                            ".opus", ".m4a", ".aac"})


def collect_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Expand folders (recursively, media and text files only, sorted) and keep files as given.

    Raises:
        MissingFileError: An input path that does not exist.
        DataError: No inputs at all.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file()
                              and q.suffix.lower() in MEDIA_SUFFIXES | set(TEXT_SUFFIXES)))
        elif p.exists():
            out.append(p)
        else:
            raise MissingFileError(f"input not found: {p}")
    if not out:
        raise DataError("no media or text files to analyse in the given inputs")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]  # type: ignore[func-returns-value]


#: Transcript suffixes looked up beside a batch input, in this order.
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".json", ".txt")


def find_transcript(folder: Path | None, path: Path) -> Path | None:
    """The transcript of ``path`` in ``folder`` (``<stem>.srt|.vtt|.json|.txt``), or ``None``."""
    if folder is None:
        return None
    for suffix in TRANSCRIPT_SUFFIXES:
        cand = folder / f"{path.stem}{suffix}"
        if cand.is_file() and cand.resolve() != path.resolve():
            return cand
    return None


def _names(paths: list[Path]) -> list[str]:
    """Output folder names: the file stem, made unique with a short hash of the path."""
    stems = [p.stem or "input" for p in paths]
    dup = {s for s in stems if stems.count(s) > 1}
    return [s if s not in dup else f"{s}-{hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]}"
            for s, p in zip(stems, paths, strict=True)]


def content_key(path: Path) -> dict[str, Any]:
    """What identifies a file's content for resuming: size, modification time and SHA-1 of the bytes."""
    st = path.stat()
    h = hashlib.sha1()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha1": h.hexdigest()}


def _summary_row(path: Path, status: str, res: AnalysisResult | None, seconds: float,
                 error: str = "", output: Path | None = None, transcript: Path | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"file": str(path), "output": str(output) if output else "",
                           "transcript": str(transcript) if transcript else "", "status": status,
                           "kind": res.kind if res else "",
                           "duration_s": res.duration if res else None,
                           "segments": len(res.segments) if res else None,
                           "dominant": (res.dominant() or "") if res else "",
                           "missing": "; ".join(f"{m}: {r}" for m, r in res.modalities.items()) if res else "",
                           "seconds": round(seconds, 2), "error": error}
    counts = summary_counts(res) if res else {}
    for c in EKMAN:
        row[f"s_{c}"] = round(counts.get(c, 0.0), 3) if res else None
    return row


def _content(path: Path, transcript: Path | None) -> dict[str, Any]:
    key = content_key(path)
    if transcript is not None:
        key["transcript"] = content_key(transcript)
    return key


def _previous(done: Path, path: Path, settings: dict[str, Any], transcript: Path | None) -> AnalysisResult | None:
    """The result already written for ``path`` with the same settings *and content*, if any (a resumed batch).

    A file replaced under the same name (other size, time or bytes) is analysed again.
    """
    if not done.is_file():
        return None
    try:
        prev = AnalysisResult.read_json(done)
    except (OSError, ValueError, EmofuseError, TypeError):
        return None
    if prev.source != str(path) or prev.config != settings:
        return None
    try:
        same = prev.media.get("content") == _content(path, transcript)
    except OSError:
        return None
    return prev if same else None


def _run_one(path: Path, target: Path, cfg: AnalyzeConfig, formats: list[str], progress: bool,
             transcript: Path | None = None, encoding: str | None = None) -> dict[str, Any]:
    """Analyse one file and write its outputs; only the summary row outlives the call."""
    t0 = time.perf_counter()
    try:
        key = _content(path, transcript)
        res = analyze(path, transcript=transcript, transcript_encoding=encoding, config=cfg, progress=progress)
        res.media["content"] = key  # what a resumed batch compares
        res.save(target, [f for f in formats if f != "json"])
        res.to_json(target / "analysis.json")  # written last: its presence means the file is complete
        return _summary_row(path, "done", res, time.perf_counter() - t0, output=target, transcript=transcript)
    except (EmofuseError, OSError, ImportError) as err:
        return _summary_row(path, "failed", None, time.perf_counter() - t0, f"{type(err).__name__}: {err}",
                            output=target, transcript=transcript)


def analyze_batch(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    config: AnalyzeConfig | dict[str, Any] | None = None,
    formats: Iterable[str] | None = None,
    redo: bool = False,
    on_file: Callable[[int, int, Path, dict[str, Any]], None] | None = None,
    progress: bool = False,
    transcripts: str | Path | None = None,
    transcript_encoding: str | None = None,
) -> list[dict[str, Any]]:
    """Analyse many files; write per-file outputs and a summary; never stop on one bad file.

    Args:
        inputs: Files and/or folders.
        out_dir: Output root (``<out_dir>/<name>/analysis.*``, ``summary.csv``, ``summary.json``).
        config: Settings for every file.
        formats: Output formats per file, names from :data:`emofuse.analysis.writers.WRITERS`
            (``None``: all; ``json`` is always written: it marks a file as done).
        redo: Analyse files again even when their outputs exist.
        on_file: Called after each file with ``(i, n, path, summary_row)``.
        progress: Show a progress bar per file.
        transcripts: A folder of transcripts named after the inputs (``<stem>.srt`` etc.;
            inputs without one are analysed with speech recognition as usual).
        transcript_encoding: Text encoding of those transcripts (``None``: UTF-8, with advice
            when that fails).

    Returns:
        The summary rows (``status`` is ``"done"``, ``"skipped"`` (already done) or ``"failed"``).

    Raises:
        UnknownNameError: An unknown output format (before any file is analysed).
        MissingFileError: ``transcripts`` is not a folder.
        ImportError: A format's optional dependency is missing (before any file is analysed).
    """
    cfg = config if isinstance(config, AnalyzeConfig) else AnalyzeConfig.from_dict(config)
    fmts = [w.name for w in check_formats(None if formats is None else ["json", *formats])]
    paths = collect_inputs(inputs)
    tdir = None if transcripts is None else Path(transcripts)
    if tdir is not None and not tdir.is_dir():
        raise MissingFileError(f"transcripts folder not found: {tdir}")
    if tdir is not None:  # the transcripts themselves are not inputs
        paths = [p for p in paths if p.resolve().parent != tdir.resolve()]
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    settings = cfg.to_dict()
    for i, (path, name) in enumerate(zip(paths, _names(paths), strict=True)):
        target = root / name
        tx = find_transcript(tdir, path)
        prev = None if redo else _previous(target / "analysis.json", path, settings, tx)
        if prev is not None:
            row = _summary_row(path, "skipped", prev, 0.0, output=target, transcript=tx)
            del prev
        else:
            row = _run_one(path, target, cfg, fmts, progress, tx, transcript_encoding)
        rows.append(row)
        if on_file is not None:
            on_file(i, len(paths), path, row)
    cols = list(rows[0]) if rows else []
    with open(root / "summary.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    (root / "summary.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return rows
