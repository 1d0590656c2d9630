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

    Segments are matched by time (the other run's segment overlapping it most, by at least half
    of the shorter one). A segment without a match (e.g. a face-only window over a clip whose
    speech the voice-activity detector missed) keeps no voice reading; the count is printed.

    Raises:
        ValueError: A result without its counterpart.
    """
    from emofuse.analysis.result import ModalityResult

    by_src = {Path(r.source).name: r for r in other}
    unmatched = 0
    for res in results:
        o = by_src.get(Path(res.source).name)
        if o is None:
            raise ValueError(f"--voice-from: no analysis of {res.source}")
        for seg in res.segments:
            def overlap(t: Any, seg: Any = seg) -> float:
                return min(seg.end, t.end) - max(seg.start, t.start)

            twin = max(o.segments, key=overlap, default=None)
            if twin is not None and overlap(twin) >= 0.5 * min(seg.end - seg.start, twin.end - twin.start):
                seg.modalities["audio"] = twin.modalities["audio"]
            else:
                unmatched += 1
                seg.modalities["audio"] = ModalityResult.missing("no segment in the other voice run")
    if unmatched:
        print(f"--voice-from: {unmatched} segment(s) without a voice segment in the other run")
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
