"""Batch analysis: many files, one output folder each, resumable, failures kept per file.

:func:`analyze_batch` walks a list of inputs (files, folders — searched recursively for media
and text files — or both), analyses each with :func:`~emofuse.analysis.pipeline.analyze`, and
writes ``out_dir/<name>/analysis.*``. A file whose ``analysis.json`` already exists for the
same source path and settings is skipped (so an interrupted batch resumes where it stopped);
a file that fails is recorded with its error and the batch goes on. The summary (one row per
input: status, duration, segments, dominant emotion, seconds per emotion, time taken, error)
is written as ``summary.csv`` and ``summary.json``.

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
from emofuse.analysis.result import EKMAN, OUTPUT_FORMATS, AnalysisResult
from emofuse.errors import ConfigError, DataError, EmofuseError, MissingFileError

__all__ = ["MEDIA_SUFFIXES", "analyze_batch", "collect_inputs"]

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


def _names(paths: list[Path]) -> list[str]:
    """Output folder names: the file stem, made unique with a short hash of the path."""
    stems = [p.stem or "input" for p in paths]
    dup = {s for s in stems if stems.count(s) > 1}
    return [s if s not in dup else f"{s}-{hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:8]}"
            for s, p in zip(stems, paths, strict=True)]


def _summary_row(path: Path, status: str, res: AnalysisResult | None, seconds: float,
                 error: str = "") -> dict[str, Any]:
    from emofuse.analysis.report import summary_counts

    row: dict[str, Any] = {"file": str(path), "status": status, "kind": res.kind if res else "",
                           "duration_s": res.duration if res else None,
                           "segments": len(res.segments) if res else None,
                           "dominant": (res.dominant() or "") if res else "",
                           "missing": "; ".join(f"{m}: {r}" for m, r in res.modalities.items()) if res else "",
                           "seconds": round(seconds, 2), "error": error}
    counts = summary_counts(res) if res else {}
    for c in EKMAN:
        row[f"s_{c}"] = round(counts.get(c, 0.0), 3) if res else None
    return row


def analyze_batch(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    config: AnalyzeConfig | dict[str, Any] | None = None,
    formats: Iterable[str] = OUTPUT_FORMATS,
    redo: bool = False,
    on_file: Callable[[int, int, Path, dict[str, Any]], None] | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Analyse many files; write per-file outputs and a summary; never stop on one bad file.

    Args:
        inputs: Files and/or folders.
        out_dir: Output root (``<out_dir>/<name>/analysis.*``, ``summary.csv``, ``summary.json``).
        config: Settings for every file.
        formats: Output formats per file (``json`` is always written: it marks a file as done).
        redo: Analyse files again even when their outputs exist.
        on_file: Called after each file with ``(i, n, path, summary_row)``.
        progress: Show a progress bar per file.

    Returns:
        The summary rows (``status`` is ``"done"``, ``"skipped"`` (already done) or ``"failed"``).
    """
    cfg = config if isinstance(config, AnalyzeConfig) else AnalyzeConfig.from_dict(config)
    fmts = list(dict.fromkeys(["json", *formats]))
    bad = [f for f in fmts if f not in OUTPUT_FORMATS]
    if bad:
        raise ConfigError(f"unknown output format(s) {bad}; known: {list(OUTPUT_FORMATS)}")
    paths = collect_inputs(inputs)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    settings = cfg.to_dict()
    for i, (path, name) in enumerate(zip(paths, _names(paths), strict=True)):
        target = root / name
        done = target / "analysis.json"
        t0 = time.perf_counter()
        row: dict[str, Any]
        prev = None
        if done.is_file() and not redo:
            try:
                prev = AnalysisResult.read_json(done)
            except (OSError, ValueError, EmofuseError, TypeError):
                prev = None
        if prev is not None and prev.source == str(path) and prev.config == settings:
            row = _summary_row(path, "skipped", prev, 0.0)
        else:
            try:
                res = analyze(path, config=cfg, progress=progress)
                res.save(target, [f for f in fmts if f != "json"])
                res.to_json(done)  # written last: its presence means the file is complete
                row = _summary_row(path, "done", res, time.perf_counter() - t0)
            except (EmofuseError, OSError, ImportError) as err:
                row = _summary_row(path, "failed", None, time.perf_counter() - t0, f"{type(err).__name__}: {err}")
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
