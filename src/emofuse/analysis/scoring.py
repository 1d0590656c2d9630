"""Score analysis results against labels: per-modality and fused accuracy, UAR, macro-F1, confusions.

For users with their own labelled recordings (and for the project's validation media): give
the analyses (``AnalysisResult`` objects, ``analysis.json`` files, or batch output folders) and
a labels table, and get the figures of every modality *and* of the fused label, by file and
overall — the measurement that says whether fusion beats its best single signal.

Labels table (CSV, header required): ``file,label`` (one label per file) or
``file,start,end,label`` (labelled spans, seconds). ``file`` is matched to each result's source
by full path, then file name, then stem. Labels may be ekman7 names or the native names of any
label space mapped to ekman7 (``angry``, ``happy``, ``joy``, ``calm``, ...).

Two units (``unit``):

* ``"segment"`` — every analysed segment whose midpoint falls in a labelled span (or in a
  labelled file) is one item, labelled by that span;
* ``"label"`` — every labelled span (or file) is one item; each modality's prediction is the
  duration-weighted mean of its segment distributions inside the span (missing readings
  skipped), and the fused prediction likewise.

A modality missing on an item does not count as wrong: its figures are over the items where it
gave a reading, and its ``coverage`` says on how many that was.

Example:
    >>> norm_label("angry"), norm_label("Joy"), norm_label("calm")
    ('anger', 'happiness', 'neutral')
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.analysis.result import EKMAN, AnalysisResult
from emofuse.errors import DataError, MissingFileError

__all__ = ["UNITS", "LabelSpan", "load_results", "norm_label", "print_scores", "read_labels", "score_analyses"]

UNITS = ("segment", "label")
FUSED = "fused"
_MAX_LABEL_BYTES = 50 * 2**20


def _aliases() -> dict[str, str]:
    from emofuse.labels import MAPPINGS

    out = {c: c for c in EKMAN}
    for (_src, dst), table in MAPPINGS.items():
        if dst == "ekman7":
            for k, v in table.items():
                if v is not None:
                    out.setdefault(k.lower(), v)
    out.update({"happy": "happiness", "sad": "sadness", "angry": "anger", "fearful": "fear",
                "surprised": "surprise", "disgusted": "disgust"})
    return out


def norm_label(label: str) -> str:
    """An ekman7 class name from an ekman7 name or a mapped native name (case-insensitive).

    Raises:
        DataError: A name no label space maps to ekman7.
    """
    key = str(label).strip().lower()
    table = _aliases()
    if key not in table:
        raise DataError(f"label {label!r} is not an ekman7 class nor a name mapped to one; use one of {list(EKMAN)}")
    return table[key]


@dataclass(frozen=True)
class LabelSpan:
    """One labelled file or span: ``start``/``end`` in seconds, ``None`` for the whole file."""

    file: str
    label: str
    start: float | None = None
    end: float | None = None


def read_labels(path: str | Path) -> list[LabelSpan]:
    """Read a labels CSV (see the module docstring).

    Raises:
        MissingFileError: No such file.
        DataError: No header with ``file`` and ``label``, an unknown label, bad or reversed times.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"labels file not found: {p}")
    if p.stat().st_size > _MAX_LABEL_BYTES:
        raise DataError(f"{p}: labels file over {_MAX_LABEL_BYTES // 2**20} MB")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{p}: not UTF-8 (invalid byte at offset {err.start})") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    cols = {c.strip().lower() for c in (rows[0].keys() if rows else [])}
    if not rows or not {"file", "label"} <= cols:
        raise DataError(f"{p}: expected a CSV header with file,label (and optionally start,end); got {sorted(cols)}")
    out = []
    for i, raw in enumerate(rows, start=2):
        r = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        try:
            s = float(r["start"]) if r.get("start") else None
            e = float(r["end"]) if r.get("end") else None
        except ValueError:
            raise DataError(f"{p}, line {i}: start/end must be seconds, got {r.get('start')!r}, {r.get('end')!r}") \
                from None
        if (s is None) != (e is None) or (s is not None and (not np.isfinite([s, e]).all() or e < s)):
            raise DataError(f"{p}, line {i}: give both start and end (end >= start), or neither")
        try:
            label = norm_label(r["label"])
        except DataError as err:
            raise DataError(f"{p}, line {i}: {err}") from None
        if not r["file"]:
            raise DataError(f"{p}, line {i}: empty file name")
        out.append(LabelSpan(r["file"], label, s, e))
    return out


def load_results(paths: Iterable[str | Path | AnalysisResult]) -> list[AnalysisResult]:
    """Results from objects, ``analysis.json`` files, or folders holding them (batch outputs, searched recursively).

    Raises:
        MissingFileError: A path that does not exist, or a folder without any ``analysis.json``.
    """
    out: list[AnalysisResult] = []
    for item in paths:
        if isinstance(item, AnalysisResult):
            out.append(item)
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted(p.rglob("analysis.json"))
            if not found:
                raise MissingFileError(f"no analysis.json under {p}")
            out += [AnalysisResult.read_json(f) for f in found]
        elif p.is_file():
            out.append(AnalysisResult.read_json(p))
        else:
            raise MissingFileError(f"analysis result not found: {p}")
    return out


def _match(res: AnalysisResult, labels: Sequence[LabelSpan]) -> list[LabelSpan]:
    """The label rows of a result: matched by full path, else file name, else stem."""
    src = Path(res.source)
    for key in (lambda q: str(q), lambda q: q.name, lambda q: q.stem):
        hit = [x for x in labels if key(Path(x.file)) == key(src)]
        if hit:
            return hit
    return []


def _items(res: AnalysisResult, spans: list[LabelSpan], unit: str, modalities: list[str]) -> list[dict[str, Any]]:
    """One scored item per segment (or span): its true label and each modality's distribution (or None)."""
    items = []
    for span in spans:
        lo = span.start if span.start is not None else -np.inf
        hi = span.end if span.end is not None else np.inf
        segs = [s for s in res.segments if lo <= (s.start + s.end) / 2 <= hi]
        if not segs:
            continue
        groups = [[s] for s in segs] if unit == "segment" else [segs]
        for group in groups:
            preds: dict[str, np.ndarray | None] = {}
            for m in [*modalities, FUSED]:
                vecs, w = [], []
                for s in group:
                    if m == FUSED:
                        v = [s.probs[c] for c in EKMAN] if s.probs else None
                    else:
                        r = s.modalities.get(m)
                        v = r.vector() if r is not None and r.ok else None
                    if v is not None:
                        vecs.append(v)
                        w.append(max(s.end - s.start, 1e-3))
                preds[m] = (np.average(np.asarray(vecs, float), axis=0, weights=w) if vecs else None)
            items.append({"file": res.source, "start": group[0].start, "end": group[-1].end, "label": span.label,
                          "preds": preds})
    return items


def _metrics(items: list[dict[str, Any]], m: str) -> dict[str, Any]:
    from emofuse.evaluate.metrics import classification_metrics

    have = [it for it in items if it["preds"][m] is not None]
    out: dict[str, Any] = {"n": len(have), "coverage": round(len(have) / len(items), 4) if items else 0.0}
    if not have:
        return out
    y = np.array([EKMAN.index(it["label"]) for it in have])
    scores = np.stack([it["preds"][m] for it in have])
    met = classification_metrics(y, scores, classes=list(EKMAN))
    out.update({k: met[k] for k in ("accuracy", "uar", "f1_macro", "per_class_recall", "confusion_matrix")})
    return out


def score_analyses(results: Iterable[str | Path | AnalysisResult], labels: str | Path | Sequence[LabelSpan], *,
                   unit: str = "segment", fuser: Any = None, drop: Sequence[str] = ()) -> dict[str, Any]:
    """Per-modality and fused figures of analyses against labels, overall and by file.

    Args:
        results: Results, ``analysis.json`` paths or folders of them.
        labels: A labels CSV path or :class:`LabelSpan` rows.
        unit: ``"segment"`` or ``"label"`` (module docstring).
        fuser: Fuse the saved readings again with this fuser (a fusion rule or trained model,
            :mod:`emofuse.analysis.fusion`) before scoring — compares fusions without analysing
            the media again.
        drop: Modalities to leave out before fusing again (``("text",)``: as if speech
            recognition had been off); with ``fuser=None`` each result's own fusion settings
            are used.

    Returns:
        ``{"unit", "n_items", "modalities", "overall": {modality|"fused": metrics}, "by_file":
        {file: {...}}, "best_single", "fused_minus_best_single", "unmatched_files", "classes"}``;
        metrics hold ``n``, ``coverage``, ``accuracy``, ``uar``, ``f1_macro``,
        ``per_class_recall`` and ``confusion_matrix`` (rows true, columns predicted).

    Raises:
        ConfigError: Unknown ``unit``.
        DataError: No labelled segment in any result.
    """
    from emofuse.errors import ConfigError

    if unit not in UNITS:
        raise ConfigError(f"unit must be one of {UNITS}, got {unit!r}")
    spans = read_labels(labels) if isinstance(labels, (str, Path)) else list(labels)
    res = load_results(results)
    if fuser is not None or drop:
        import json

        from emofuse.analysis.config import AnalyzeConfig
        from emofuse.analysis.fusion import make_fuser, refuse

        own: dict[str, Any] = {}  # one fuser per distinct setting (a trained one loads a checkpoint)

        def fuser_of(r: AnalysisResult) -> Any:
            key = json.dumps(r.config, sort_keys=True, default=str)
            if key not in own:
                own[key] = make_fuser(AnalyzeConfig.from_dict(r.config))
            return own[key]

        res = [refuse(r, fuser or fuser_of(r), drop=tuple(drop)) for r in res]
    modalities = list(dict.fromkeys(m for r in res for m in r.modality_names()))
    items, by_file, unmatched = [], {}, []
    for r in res:
        mine = _match(r, spans)
        if not mine:
            unmatched.append(r.source)
            continue
        its = _items(r, mine, unit, modalities)
        items += its
        by_file[r.source] = {m: _metrics(its, m) for m in [*modalities, FUSED]}
    if not items:
        raise DataError("score_analyses: no analysed segment falls in a labelled file or span "
                        f"(results: {[r.source for r in res][:5]}, labels for: {sorted({s.file for s in spans})[:5]})")
    overall = {m: _metrics(items, m) for m in [*modalities, FUSED]}
    absent = [m for m in modalities if not overall[m]["n"]]  # e.g. no face in any WAV: no row for it
    modalities = [m for m in modalities if m not in absent]
    for m in absent:
        del overall[m]
        for per in by_file.values():
            per.pop(m, None)
    singles = {m: v["uar"] for m, v in overall.items() if m != FUSED and "uar" in v}
    best = max(singles, key=singles.get) if singles else None
    return {"unit": unit, "n_items": len(items), "modalities": modalities, "classes": list(EKMAN),
            "overall": overall, "by_file": by_file, "best_single": best,
            "fused_minus_best_single": (round(overall[FUSED].get("uar", float("nan")) - singles[best], 4)
                                        if best else None),
            "unmatched_files": unmatched}


def print_scores(report: dict[str, Any], console: Any = None) -> None:
    """The overall table (one row per modality and the fused label) and a per-file accuracy table."""
    from rich.console import Console
    from rich.table import Table

    from emofuse.modalities import DISPLAY_NAMES

    console = console or Console()
    rows = [*report["modalities"], FUSED]
    t = Table(title=f"analysis vs labels ({report['unit']}s: {report['n_items']})")
    for c in ("signal", "n", "coverage", "accuracy", "UAR", "macro-F1"):
        t.add_column(c, justify="left" if c == "signal" else "right")
    for m in rows:
        v = report["overall"][m]
        cells = [f"{v[k]:.3f}" if k in v else "—" for k in ("accuracy", "uar", "f1_macro")]
        t.add_row(DISPLAY_NAMES.get(m, m), str(v["n"]), f"{v['coverage']:.2f}", *cells)
    console.print(t)
    if report["best_single"]:
        console.print(f"best single signal: {DISPLAY_NAMES.get(report['best_single'], report['best_single'])}; "
                      f"fused UAR minus best single: {report['fused_minus_best_single']:+.3f}")
    f = Table(title="accuracy by file")
    f.add_column("file", overflow="fold")
    for m in rows:
        f.add_column(DISPLAY_NAMES.get(m, m), justify="right")
    for name, per in report["by_file"].items():
        f.add_row(Path(name).name, *[f"{per[m]['accuracy']:.2f}" if "accuracy" in per[m] else "—" for m in rows])
    console.print(f)
    if report["unmatched_files"]:
        console.print(f"[yellow]no labels for {len(report['unmatched_files'])} result(s)[/]: "
                      + ", ".join(Path(x).name for x in report["unmatched_files"][:5]))
