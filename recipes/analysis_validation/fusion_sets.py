"""Loading the analysed media sets of this recipe for fusion training and comparison.

``--voice-from NAME`` (both scripts) replaces each segment's voice reading by the one in
``runs/<set>/<NAME>/`` — an analysis of the same media with another voice head (e.g. one
trained without the validation actors, ``recipes/voice_whisper/README.md``) and the voice
path only; segments are matched by their times (voice activity does not depend on the head).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from emofuse.analysis.result import AnalysisResult
from emofuse.analysis.scoring import load_results


def file_labels(path: Path) -> dict[str, dict[str, str]]:
    """``labels.csv`` rows by file name."""
    with path.open(encoding="utf-8") as fh:
        return {r["file"]: r for r in csv.DictReader(fh)}


def actor_of(source: str) -> int:
    """RAVDESS actor of a clip, from its file name (``actor15_...``)."""
    m = re.match(r"actor(\d+)", Path(source).name)
    return int(m.group(1)) if m else -1


def merge_voice(results: list[AnalysisResult], other: list[AnalysisResult]) -> list[AnalysisResult]:
    """``results`` with each segment's ``audio`` reading taken from the same segment in ``other``.

    Raises:
        ValueError: A result or segment without its counterpart.
    """
    by_src = {Path(r.source).name: r for r in other}
    for res in results:
        o = by_src.get(Path(res.source).name)
        if o is None:
            raise ValueError(f"--voice-from: no analysis of {res.source}")
        segs = {(round(s.start, 2), round(s.end, 2)): s for s in o.segments}
        for seg in res.segments:
            twin = segs.get((round(seg.start, 2), round(seg.end, 2)))
            if twin is None:
                raise ValueError(f"--voice-from: {res.source} has no segment {seg.start}-{seg.end} in the other run")
            seg.modalities["audio"] = twin.modalities["audio"]
    return results


def load_set(runs: Path, name: str, voice_from: str | None = None) -> list[AnalysisResult]:
    """The analyses of one set (``runs/<name>/analysis``), voice readings optionally from another run."""
    results = load_results([runs / name / "analysis"])
    if voice_from:
        merge_voice(results, load_results([runs / name / voice_from]))
    return results


def labelled(runs: Path, name: str, results: list[AnalysisResult]) -> list[tuple[AnalysisResult, dict[str, Any]]]:
    """``(result, its labels.csv row)`` for the clips that have a label and segments."""
    rows = file_labels(runs / name / "labels.csv")
    return [(r, rows[Path(r.source).name]) for r in results if Path(r.source).name in rows and r.segments]
