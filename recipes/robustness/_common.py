"""Shared parts of the expert robustness recipes: arguments and result files.

Result files (``results/<modality>.*``, written by :func:`emofuse.robustness.write_report`):
``.csv`` one line per row of the common format plus ``severity`` (0 clean, then 1.. from
mildest to worst) and ``unit``; ``.json`` the rows, their summary and, per curve, MultiBench's
relative robustness over the **severity ranks** (a lower SNR or JPEG quality is worse, and the
clean condition has no level); ``.md`` the metrics (%) per condition; ``.png`` the curves.
The same files come from ``emofuse robustness expert NAME CORPUS --out DIR``.
"""

from __future__ import annotations

import argparse
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


def write_results(rows: list[dict[str, Any]], stem: str, title: str, meta: dict[str, Any], out: Path) -> None:
    """``<stem>.md/.csv/.json/.png`` into ``out`` (:func:`emofuse.robustness.write_report`)."""
    from emofuse.robustness import write_report

    meta = {**meta, "python": platform.python_version(), "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_report(rows, out, stem=stem, title=title, meta=meta)
