"""Peak and per-file memory of batch analysis (`emofuse analyze FOLDER -o OUT`) over N files.

For each N (default 10 and 30) the first N of a set of generated short clips (320x240 H.264 +
AAC, 4 s: the demo's face photo drifting over a textured background and a 4 s slice of the
demo's speech, a different slice and seed per clip) are analysed by
:func:`emofuse.analysis.batch.analyze_batch` in a **fresh Python process**, as the CLI's batch
mode does. The child process records its resident memory after every file (``VmRSS`` from
``/proc/self/status`` in the batch's ``on_file`` hook); the parent records the child's peak RSS
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``). The growth per file is the least-squares slope of RSS
over the files after the first two (the first files load the models).

To find *what* grows, ``--variant`` toggles paths (``no-asr``, ``no-face``, ``no-audio``,
``text-only``...) and ``--objects`` counts live Python objects by type after the second and the
last file (objects holding native memory - a Whisper model, a MediaPipe graph, a torch module -
show up as a count growing by one per file); ``--tracemalloc`` traces Python allocations
between the same two points (native allocations of CTranslate2, MediaPipe or torch are not
traced, so the object counts are the main clue).

Run from the repository root:

    .venv/bin/python bench/batch_memory.py                         # N = 10, 30, default settings
    .venv/bin/python bench/batch_memory.py --n 10 100 300          # the full set (long on 2 cores)
    .venv/bin/python bench/batch_memory.py --n 12 --variant default no-asr no-face no-audio --objects
    .venv/bin/python bench/batch_memory.py --fast                  # --no-asr and fps=1

Writes ``bench/results/batch_memory.json`` (``--out``) and prints a table. Clips are cached in
``--work-dir`` (default ``/tmp/emofuse-bench-batch``) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Path toggles: name -> AnalyzeConfig overrides.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "no-asr": {"asr": False},
    "no-face": {"face": False},
    "no-audio": {"audio": False},
    "no-text": {"text": False},
    "no-asr-no-face": {"asr": False, "face": False},
    "text-only": {"asr": False, "face": False, "audio": False},
    "fast": {"asr": False, "fps": 1.0},
}

CLIP_SECONDS = 4.0

# The child: one batch, RSS after every file; optional object counts and tracemalloc.
CHILD = r"""
import collections, gc, json, sys, time, tracemalloc
spec = json.loads(sys.argv[1])
if spec["tracemalloc"]:
    tracemalloc.start(12)

def rss_mb():
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out

def type_counts():
    gc.collect()
    c = collections.Counter()
    for o in gc.get_objects():
        t = type(o)
        c[f"{t.__module__}.{t.__qualname__}"] += 1
    return c

t0 = time.perf_counter()
from emofuse.analysis.batch import analyze_batch
import_s = time.perf_counter() - t0
per_file, marks = [], {}
probe_at = 1 if spec["n"] > 2 else 0

def on_file(i, n, path, row):
    m = rss_mb()
    per_file.append({"i": i, "rss_mb": round(m["VmRSS"], 1), "hwm_mb": round(m["VmHWM"], 1),
                     "status": row["status"], "seconds": row["seconds"], "error": row["error"]})
    if i in (probe_at, n - 1) and n > 1:
        mark = {}
        if spec["objects"]:
            mark["types"] = type_counts()
        if spec["tracemalloc"]:
            mark["snap"] = tracemalloc.take_snapshot()
        marks[i] = mark

t1 = time.perf_counter()
rows = analyze_batch(spec["paths"], spec["out"], config=spec["config"], formats=spec["formats"],
                     redo=True, on_file=on_file)
wall = time.perf_counter() - t1
res = {"import_s": round(import_s, 2), "batch_s": round(wall, 2), "per_file": per_file,
       "failed": sum(r["status"] == "failed" for r in rows)}
if len(marks) == 2:
    a, b = marks[probe_at], marks[spec["n"] - 1]
    files = spec["n"] - 1 - probe_at
    res["probe_files"] = files
    if "types" in a:
        ta, tb = a["types"], b["types"]
        grow = [(k, tb[k] - ta.get(k, 0)) for k in tb if tb[k] - ta.get(k, 0) > 0]
        grow.sort(key=lambda kv: -kv[1])
        res["objects_growth"] = [{"type": k, "added": v, "per_file": round(v / files, 2)} for k, v in grow[:40]]
    if "snap" in a:
        flt = [tracemalloc.Filter(False, tracemalloc.__file__)]
        stats = b["snap"].filter_traces(flt).compare_to(a["snap"].filter_traces(flt), "traceback")
        top = []
        for st in stats[:15]:
            if st.size_diff <= 0:
                continue
            frames = [f"{f.filename}:{f.lineno}" for f in st.traceback if "emofuse" in f.filename][-4:]
            top.append({"kb_added": round(st.size_diff / 1024, 1), "kb_per_file": round(st.size_diff / 1024 / files, 1),
                        "blocks_added": st.count_diff, "where": frames or [str(st.traceback[-1])]})
        res["tracemalloc_growth"] = top
print("@@RESULT@@" + json.dumps(res))
"""


def make_clips(work: Path, n: int) -> list[Path]:
    """The first ``n`` generated clips (made once and cached in ``work``)."""
    try:  # the synthesiser may move to emofuse.data.synth_media
        from emofuse.data import synth_media as synth  # type: ignore[attr-defined]
    except ImportError:
        from emofuse.media import synth  # type: ignore[no-redef]

    work.mkdir(parents=True, exist_ok=True)
    paths = [work / f"clip{i:04d}.mp4" for i in range(n)]
    todo = [p for p in paths if not p.is_file()]
    if not todo:
        return paths
    wave, sr = synth.demo_speech()
    face = synth.demo_face()
    total = len(wave) / sr
    for p in todo:
        i = int(p.stem[4:])
        off = (i * 3.7) % max(total - CLIP_SECONDS, 1.0)
        piece = wave[int(off * sr): int((off + CLIP_SECONDS) * sr)]
        tmp = p.with_suffix(".part.mp4")
        synth.write_video(tmp, duration_s=CLIP_SECONDS, width=320, height=240, fps=15.0, audio=(piece, sr),
                          face=face, face_scale=0.5, seed=i)
        tmp.rename(p)
    return paths


def slope(ys: list[float]) -> float | None:
    """Least-squares slope of ``ys`` against their index (MB per file)."""
    n = len(ys)
    if n < 2:
        return None
    mx, my = (n - 1) / 2, sum(ys) / n
    den = sum((x - mx) ** 2 for x in range(n))
    return sum((x - mx) * (y - my) for x, y in enumerate(ys)) / den


def run_one(paths: list[Path], out: Path, config: dict[str, Any], formats: list[str], objects: bool,
            tracemalloc: bool) -> dict[str, Any]:
    """Analyse ``paths`` as one batch in a fresh process; its memory figures."""
    spec = {"paths": [str(p) for p in paths], "out": str(out), "config": config, "formats": formats,
            "n": len(paths), "objects": objects, "tracemalloc": tracemalloc}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    if proc.returncode or not lines:
        raise SystemExit(f"batch child failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
    res = json.loads(lines[-1][len("@@RESULT@@"):])
    rss = [f["rss_mb"] for f in res["per_file"]]
    # ru_maxrss of children is the max over all children so far; a smaller later child reads as the earlier max
    res["peak_rss_mb"] = round(peak / 1024, 1) if peak > before else max(f["hwm_mb"] for f in res["per_file"])
    res["wall_s"] = round(wall, 1)
    res["rss_first_mb"], res["rss_last_mb"] = (rss[0], rss[-1]) if rss else (None, None)
    tail = rss[2:] if len(rss) > 4 else rss
    s = slope(tail)
    res["growth_mb_per_file"] = None if s is None else round(s, 2)
    return res


def main() -> None:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10, 30], help="batch sizes (default 10 30)")
    ap.add_argument("--variant", nargs="+", default=["default"], choices=sorted(VARIANTS),
                    help="path toggles to measure (default: default)")
    ap.add_argument("--fast", action="store_true", help="shorthand for --variant fast (--no-asr, fps=1)")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="AnalyzeConfig override key=value")
    ap.add_argument("--formats", default="json,csv,parquet,html,png", help="output formats per file")
    ap.add_argument("--objects", action="store_true", help="count live objects by type (2nd vs last file)")
    ap.add_argument("--tracemalloc", action="store_true", help="trace Python allocations (2nd vs last file)")
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/emofuse-bench-batch"))
    ap.add_argument("--out", type=Path, default=Path("bench/results/batch_memory.json"))
    args = ap.parse_args()
    from rich.console import Console
    from rich.table import Table

    from emofuse.config import apply_overrides

    variants = ["fast"] if args.fast else args.variant
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    clips = make_clips(args.work_dir / "clips", max(args.n))
    console = Console(width=160)
    runs = []
    for v in variants:
        cfg = apply_overrides(dict(VARIANTS[v]), args.sets)
        for n in args.n:
            console.print(f"[dim]batch of {n} files, variant {v} {cfg} ...[/]")
            res = run_one(clips[:n], args.work_dir / "out" / f"{v}-{n}", cfg, formats, args.objects,
                          args.tracemalloc)
            runs.append({"variant": v, "n": n, "config": cfg, "formats": formats, **res})
            console.print(f"  peak {res['peak_rss_mb']:.0f} MB, {res['growth_mb_per_file']} MB/file, "
                          f"{res['batch_s']:.0f} s, {res['failed']} failed")
    table = Table(title="batch analysis memory (fresh process per batch)")
    for col in ("variant", "files", "peak RSS MB", "RSS after 1st", "RSS after last", "MB/file", "batch s", "failed"):
        table.add_column(col, justify="right")
    for r in runs:
        table.add_row(r["variant"], str(r["n"]), f"{r['peak_rss_mb']:.0f}", f"{r['rss_first_mb']:.0f}",
                      f"{r['rss_last_mb']:.0f}", str(r["growth_mb_per_file"]), f"{r['batch_s']:.0f}",
                      str(r["failed"]))
    console.print(table)
    for r in runs:
        for key in ("objects_growth", "tracemalloc_growth"):
            if r.get(key):
                console.print(f"[bold]{r['variant']} n={r['n']}: {key}[/] (over {r['probe_files']} files)")
                for item in r[key][:15]:
                    console.print(f"  {item}", soft_wrap=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "clip": f"{CLIP_SECONDS:g} s 320x240 15 fps H.264+AAC, demo face and speech",
            "command": " ".join(["bench/batch_memory.py", *sys.argv[1:]])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
