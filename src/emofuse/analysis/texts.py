"""Many texts in one call: one result per text, the experts loaded once, saved like a batch.

:func:`analyze_texts` reads each text as :func:`~emofuse.analysis.pipeline.analyze_text` does
(one segment per sentence, read by the text path). Every text's session shares the
process-wide :class:`~emofuse.analysis.paths.base.Resources`, so the text expert is loaded
for the first text and reused by the others, whatever their number. With ``out_dir`` each
result is written to ``out_dir/text-0001/analysis.*`` (numbered in the given order) and
``summary.csv`` / ``summary.json`` list, per text, the text itself, its output folder, its
sentences, its dominant emotion and any warnings (:func:`text_summary`).

Example:
    >>> analyze_texts("one text")
    Traceback (most recent call last):
    ...
    emofuse.errors.DataError: analyze_texts: expected a list of texts, got a single string; for one text use emofuse.analyze(text=...)
"""  # noqa: E501

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from emofuse.analysis.config import AnalyzeConfig
from emofuse.analysis.pipeline import analyze_text
from emofuse.analysis.report_common import summary_counts
from emofuse.analysis.result import EKMAN, AnalysisResult
from emofuse.errors import DataError

__all__ = ["analyze_texts", "text_folder", "text_summary"]


def text_folder(index: int) -> str:
    """The output folder name of the ``index``-th text (0-based): ``text-0001`` for the first."""
    return f"text-{index + 1:04d}"


def _check(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise DataError("analyze_texts: expected a list of texts, got a single string; for one text use "
                        "emofuse.analyze(text=...)")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise DataError(f"analyze_texts: text {i + 1} is a {type(t).__name__}, not a string")
        if not t.strip():
            raise DataError(f"analyze_texts: text {i + 1} is empty")
    if not out:
        raise DataError("analyze_texts: no texts given")
    return out


def analyze_texts(texts: Sequence[str], *, config: AnalyzeConfig | dict[str, Any] | None = None,
                  out_dir: str | Path | None = None, formats: Iterable[str] | None = None) -> list[AnalysisResult]:
    """Analyse each text (one segment per sentence); the experts are loaded once for all of them.

    Args:
        texts: The texts, in order (a list, not one string).
        config: Settings for every text (:class:`AnalyzeConfig` or a dict of its fields).
        out_dir: Write ``out_dir/text-0001/analysis.*`` per text and ``summary.csv`` /
            ``summary.json`` (see :func:`text_summary`); ``None``: write nothing.
        formats: Output formats per text (writer names; ``None``: all), with ``out_dir``.

    Returns:
        One :class:`~emofuse.analysis.result.AnalysisResult` per text, in order (``source`` is
        ``"<text N>"``).

    Raises:
        DataError: Not a list of strings, an empty list or an empty text (named by its number),
            or a text over the size limit.
        UnknownNameError / ImportError: An unknown output format or its missing dependency
            (before any text is analysed).
    """
    items = _check(texts)
    cfg = config if isinstance(config, AnalyzeConfig) else AnalyzeConfig.from_dict(config)
    fmts = None
    if out_dir is not None:
        from emofuse.analysis.writers import check_formats

        fmts = [w.name for w in check_formats(None if formats is None else list(formats))]
    results = [analyze_text(t, config=cfg, source=f"<text {i + 1}>") for i, t in enumerate(items)]
    if out_dir is not None:
        out = Path(out_dir)
        for i, res in enumerate(results):
            res.save(out / text_folder(i), fmts)
        rows = text_summary(items, results, out)
        _write_summary(rows, out)
    return results


def text_summary(texts: Sequence[str], results: Sequence[AnalysisResult],
                 out_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per text: what it said and what it read as.

    Columns: ``index`` (1-based), ``text``, ``output`` (its folder under ``out_dir``, or empty),
    ``sentences``, ``dominant`` (the fused label of most sentences), ``confidence`` (the mean
    confidence of those sentences), ``warnings`` (joined by ``"; "``) and ``n_<class>`` (sentences
    per fused label, ``ekman7`` order).
    """
    rows = []
    for i, (text, res) in enumerate(zip(texts, results, strict=True)):
        dom = res.dominant()
        confs = [s.confidence for s in res.segments if s.label == dom and s.confidence is not None]
        row: dict[str, Any] = {"index": i + 1, "text": text,
                               "output": str(Path(out_dir) / text_folder(i)) if out_dir is not None else "",
                               "sentences": len(res.segments), "dominant": dom or "",
                               "confidence": round(sum(confs) / len(confs), 4) if confs else None,
                               "warnings": "; ".join(res.warnings)}
        counts = summary_counts(res)
        row.update({f"n_{c}": int(counts.get(c, 0.0)) for c in EKMAN})
        rows.append(row)
    return rows


def _write_summary(rows: list[dict[str, Any]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "summary.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "summary.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
