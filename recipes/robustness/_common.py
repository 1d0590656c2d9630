"""Shared parts of the expert robustness recipes: arguments, result files, the curve figure.

Result files (``results/<modality>.*``):

* ``.csv``: one line per row of the common format (:func:`emofuse.robustness.report.to_csv`),
  plus ``severity`` (0 clean, then 1.. from mildest to worst) and ``unit``;
* ``.json``: ``{"title", "meta", "rows", "measures"}``; ``measures`` holds, per curve, the clean
  and worst accuracy/UAR and MultiBench's relative robustness (area under the curve,
  :func:`emofuse.robustness.metrics.relative_robustness`) computed over the **severity ranks**
  (clean, mildest, ..., worst, equally spaced) — the raw levels cannot be used directly because
  a lower SNR or JPEG quality is worse, and the clean condition has no level;
* ``.md``: accuracy and UAR (%) per condition;
* ``.png``: accuracy and UAR against the level in its unit (x axis reversed where a lower level is
  worse), the clean figure as a dashed line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(description: str, argv: list[str] | None = None,
               extra: Sequence[tuple[str, dict[str, Any]]] = ()) -> argparse.Namespace:
    """``--data-dir`` (default ``$EMOFUSE_DATA_DIR``), ``--out``, ``--seed``, ``--limit`` and ``extra``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=os.environ.get("EMOFUSE_DATA_DIR"),
                   help="folder holding the corpora (default $EMOFUSE_DATA_DIR)")
    p.add_argument("--out", type=Path, default=RESULTS, help="where results/<modality>.* are written")
    p.add_argument("--seed", type=int, default=0, help="corruption seed")
    p.add_argument("--limit", type=int, default=None, help="score only the first N items (smoke runs)")
    p.add_argument("--no-progress", action="store_true")
    for flag, kw in extra:
        p.add_argument(flag, **kw)
    args = p.parse_args(argv)
    if not args.data_dir:
        raise SystemExit("give --data-dir or set $EMOFUSE_DATA_DIR")
    return args


def measures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (target, kind): clean/worst accuracy and UAR, relative robustness over severity ranks."""
    from emofuse.robustness.metrics import relative_robustness

    out = []
    for key in dict.fromkeys((r["target"], r["kind"]) for r in rows):
        curve = sorted((r for r in rows if (r["target"], r["kind"]) == key), key=lambda r: r["severity"])
        entry: dict[str, Any] = {"target": key[0], "kind": key[1], "levels": [r["level"] for r in curve]}
        for m in ("accuracy", "uar"):
            vals = [r[m] for r in curve]
            entry[f"{m}_clean"], entry[f"{m}_worst"] = vals[0], vals[-1]
            entry[f"{m}_relative_robustness"] = (relative_robustness([r["severity"] for r in curve], vals)
                                                 if len(vals) > 1 else None)
        out.append(entry)
    return out


def markdown(rows: list[dict[str, Any]], title: str) -> str:
    """Accuracy / UAR (%) per condition, grouped by corruption."""
    lines = [f"### {title}", "", "| corruption | condition | n | accuracy | UAR | F1-macro |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['condition']} | {r['n']} | {100 * r['accuracy']:.1f} | "
                     f"{100 * r['uar']:.1f} | {100 * r['f1_macro']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """One panel per corruption: accuracy and UAR against the level (clean dashed)."""
    import matplotlib

    matplotlib.use("Agg")  # files only
    import matplotlib.pyplot as plt

    from emofuse.robustness.corrupt import get_corruption

    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.6), squeeze=False, dpi=110)
    for ax, kind in zip(axes[0], kinds, strict=True):
        spec = get_corruption(kind)
        curve = [r for r in rows if r["kind"] == kind]
        clean = [r for r in curve if r["level"] is None]
        pts = sorted((r for r in curve if r["level"] is not None), key=lambda r: r["level"])
        for m, color in (("accuracy", "C0"), ("uar", "C1")):
            ax.plot([r["level"] for r in pts], [100 * r[m] for r in pts], marker="o", color=color, label=m)
            if clean:
                ax.axhline(100 * clean[0][m], color=color, ls="--", lw=1, alpha=0.7)
        if spec.worse_when_lower:
            ax.invert_xaxis()
        ax.set_title(kind.replace("_", " "))
        ax.set_xlabel(spec.unit)
        ax.set_ylabel("%")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title="dashed: clean", title_fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_results(rows: list[dict[str, Any]], stem: str, title: str, meta: dict[str, Any], out: Path) -> None:
    """``<stem>.csv/.json/.md/.png`` into ``out``."""
    from emofuse.robustness.report import to_csv
    from emofuse.robustness.rows import check_rows

    rows = check_rows(rows)
    out.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "python": platform.python_version(), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    (out / f"{stem}.csv").write_text(to_csv(rows), encoding="utf-8")
    (out / f"{stem}.json").write_text(json.dumps({"title": title, "meta": meta, "rows": rows,
                                                  "measures": measures(rows)}, indent=1) + "\n", encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown(rows, title), encoding="utf-8")
    plot(rows, out / f"{stem}.png", title)
