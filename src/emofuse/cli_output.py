"""What the ``emofuse`` commands print and write: metric tables, confusion matrices, prediction CSVs, strict JSON.

Part of the command line (layer 1), shared by :mod:`emofuse.cli` and its helper modules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["console", "err_console", "json_safe", "print_confusion", "print_metrics", "write_predictions"]

#: Where tables go (stdout) and where progress, warnings and errors go (stderr).
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def print_metrics(metrics: dict[str, Any], title: str) -> None:
    """A metrics dict as a two-column table (numbers, per-class dicts, per-group figures)."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        if isinstance(v, float):
            table.add_row(k, f"{v:.4f}")
        elif isinstance(v, int):
            table.add_row(k, str(v))
        elif isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
            table.add_row(k, ", ".join(f"{a}={b:.3f}" for a, b in v.items()))
        elif k == "by_group":  # per-group figures and the worst-group gap
            [table.add_row(f"{v['key']}={g}", f"n={r['n']} acc={r['accuracy']:.3f} UAR={r['uar']:.3f}")
             for g, r in v["groups"].items()]
            table.add_row(f"{v['key']}: worst-group gap", f"UAR {v['uar_gap']:.3f} (worst: {v['worst_group']})")
    console.print(table)


def json_safe(value: Any) -> Any:
    """NaN/inf become null so the output is strict JSON any tool can load."""
    import math

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return json_safe(value.item())
    return value


def print_confusion(metrics: dict[str, Any]) -> None:
    """The confusion matrix of a metrics dict (rows: true, columns: predicted)."""
    names = metrics.get("classes") or [str(i) for i in range(len(metrics["confusion_matrix"]))]
    table = Table(title="confusion matrix (rows: true, columns: predicted)")
    table.add_column("")
    for n in names:
        table.add_column(n, justify="right")
    for n, row in zip(names, metrics["confusion_matrix"], strict=False):
        table.add_row(n, *[str(int(x)) for x in row])
    console.print(table)


def write_predictions(pred: Any, path: Path, classes: list[str] | None) -> None:
    """One CSV row per item: id, true, predicted, class probabilities (and modality weights)."""
    import csv

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    c = pred.probs.shape[1]
    names = classes or [str(i) for i in range(c)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        header = ["id", "true", "predicted", *[f"p_{n}" for n in names]]
        if pred.weights is not None:
            header += [f"weight_{m}" for m in pred.modalities]
        w.writerow(header)
        for i in range(len(pred.ids)):
            y = pred.targets[i]
            if np.ndim(y) == 0 and c > 1:
                true, predicted = names[int(y)], names[int(np.argmax(pred.probs[i]))]
            else:
                true, predicted = json.dumps(np.asarray(y).tolist()), json.dumps(pred.probs[i].round(4).tolist())
            row = [pred.ids[i], true, predicted, *[f"{p:.6f}" for p in pred.probs[i]]]
            if pred.weights is not None:
                row += [f"{x:.4f}" for x in pred.weights[i]]
            w.writerow(row)
