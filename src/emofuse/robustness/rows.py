"""The common row format of every robustness sweep, and its summary over seeds.

One row per (target, condition, level)::

    {"target": str,            # zoo model name, expert name, or "analysis"
     "kind": str,              # "subset" | "feature_noise" | a corruption name ("snr", "blur", ...)
     "modality": str | None,   # the modality perturbed (None for subsets / all modalities)
     "condition": str,         # human-readable: "text+audio", "noise σ=0.5 on audio", "snr 10 dB"
     "level": float | None,    # severity; 0 or None = clean
     "n": int,                 # samples scored
     "accuracy": float, "f1_macro": float, "f1_weighted": float, "uar": float,  # fractions in [0, 1]
     "seed": int | None}       # training (or noise) seed; None when not seeded

Extra keys (other metrics) are allowed and carried through. Feature sweeps
(:mod:`emofuse.robustness.features`) and raw-media sweeps both produce this format;
:mod:`emofuse.robustness.report` renders it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from emofuse.errors import DataError

__all__ = ["KEY_COLUMNS", "METRICS", "ORDER_KEYS", "check_rows", "curve_key", "curve_position", "make_row", "summarize"]

#: The metrics every row carries (fractions in ``[0, 1]``), in display order.
METRICS: tuple[str, ...] = ("accuracy", "f1_macro", "f1_weighted", "uar")
#: Columns that identify a row (with ``seed``); everything else is a measurement.
KEY_COLUMNS: tuple[str, ...] = ("target", "kind", "modality", "condition", "level")
_REQUIRED = (*KEY_COLUMNS, "n", *METRICS, "seed")
#: Optional keys kept by :func:`summarize`: ``severity`` (int rank, 0 clean, growing with damage,
#: for corruptions whose unit gets worse as it falls, e.g. SNR in dB) and ``unit`` of ``level``.
ORDER_KEYS: tuple[str, ...] = ("severity", "unit")


def make_row(target: str, kind: str, modality: str | None, condition: str, level: float | None,
             metrics: Mapping[str, Any], seed: int | None = None) -> dict[str, Any]:
    """One row from a metrics dict (``compute_metrics`` output: its scalar metrics are kept)."""
    row: dict[str, Any] = {"target": target, "kind": kind, "modality": modality, "condition": condition,
                           "level": None if level is None else float(level), "n": int(metrics["n"])}
    row.update({k: float(metrics[k]) for k in METRICS})
    row["seed"] = None if seed is None else int(seed)
    return row


def check_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate rows (required keys, metric types) and return them as a list of dicts.

    Raises:
        DataError: An empty list, or a row missing a required key / with a non-numeric metric.
    """
    out = [dict(r) for r in rows]
    if not out:
        raise DataError("no robustness rows to report")
    for i, r in enumerate(out):
        missing = [k for k in _REQUIRED if k not in r]
        if missing:
            raise DataError(f"robustness row {i} lacks {missing} (rows need {list(_REQUIRED)})")
        for k in METRICS:
            if not isinstance(r[k], int | float) or isinstance(r[k], bool):
                raise DataError(f"robustness row {i}: {k} must be a number, got {r[k]!r}")
    return out


def curve_position(entry: Mapping[str, Any]) -> float:
    """Where a row sits along its curve: its ``severity`` rank if it has one, else its level (None = 0)."""
    sev = entry.get("severity")
    return float(sev) if sev is not None else _level(entry.get("level"))


def curve_key(row: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """``(target, kind, modality)``: the rows of one curve share it and differ in ``level``."""
    return (row["target"], row["kind"], row["modality"])


def _level(v: Any) -> float:
    return 0.0 if v is None else float(v)


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


def summarize(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Average the seeds: one entry per (target, kind, modality, condition, level).

    Returns:
        Entries with the key columns, ``n`` (of the first seed), ``seeds`` (how many rows were
        averaged), ``severity`` / ``unit`` where the rows have them and, per metric,
        ``<metric>`` (mean) and ``<metric>_std`` (sample std; 0 for one seed), in the order the
        conditions first appear. ``level`` is the first row's (``None`` stays ``None``).
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in check_rows(rows):
        groups.setdefault((*curve_key(r), r["condition"], _level(r["level"])), []).append(r)
    out = []
    for (target, kind, modality, condition, _), members in groups.items():
        entry: dict[str, Any] = {"target": target, "kind": kind, "modality": modality, "condition": condition,
                                 "level": members[0]["level"], "n": members[0]["n"], "seeds": len(members)}
        for k in ORDER_KEYS:  # corruption sweeps rank their levels mildest → worst
            if members[0].get(k) is not None:
                entry[k] = members[0][k]
        for k in METRICS:
            entry[k], entry[f"{k}_std"] = _mean_std([m[k] for m in members])
        out.append(entry)
    return out
