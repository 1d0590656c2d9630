"""Real-time factor and peak memory of `emofuse analyze` on long generated videos.

For each length (default 1, 5 and 10 minutes) a 1280x720, 30 fps H.264 + AAC video is
generated with `emofuse.data.synth_media.write_video`: the demo's public-domain face photo drifting
over a textured background (hidden for 3 s every 40 s) and the demo's synthesised speech
looped as the audio track. Each file is then analysed with **default settings** in a fresh
Python process (so its peak RSS is the analysis alone); we report

* real-time factor = analysis wall time / media duration (lower is better; < 1 = faster
  than real time), with the per-stage split from the result's timings, and
* peak resident memory of the analysing process (ru_maxrss).

Run from the repository root (takes ~10-15 minutes on 2 cores, mostly the 10-minute video):

    .venv/bin/python bench/analyze_speed.py                 # 1, 5, 10 minutes
    .venv/bin/python bench/analyze_speed.py --minutes 1 2   # quicker
    .venv/bin/python bench/analyze_speed.py --set fps=1     # any AnalyzeConfig override

Before/after on the same machine in one run: `--before-ref REF` checks REF (a commit, e.g. the
one before a change) out into a git worktree and analyses every video with both trees, one
after the other, in fresh processes (`version` column: `before` = REF, `after` = this tree):

    .venv/bin/python bench/analyze_speed.py --minutes 10 --before-ref fe86124

Writes bench/results/analyze_speed.json (and prints a table). Generated videos are cached in
--work-dir (default /tmp/emofuse-bench) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import emofuse
from emofuse.analysis.pipeline import analyze
cfg = json.loads(sys.argv[2])
t1 = time.perf_counter()
res = analyze(sys.argv[1], **cfg)
t2 = time.perf_counter()
print(json.dumps({"emofuse": emofuse.__file__, "import_s": t1 - t0, "analyze_s": t2 - t1, "duration": res.duration,
                  "segments": len(res.segments), "timings": res.timings,
                  "frames": len(res.frames), "face_frames": sum(f.probs is not None for f in res.frames),
                  "dominant": res.dominant(), "modalities": res.modalities,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_video(path: Path, minutes: float) -> float:
    from emofuse.data.synth_media import demo_face, demo_speech, write_video

    if path.is_file():
        return 0.0
    t0 = time.perf_counter()
    tmp = path.with_suffix(".part.mp4")
    write_video(tmp, duration_s=minutes * 60, width=1280, height=720, fps=30.0, audio=demo_speech(),
                face=demo_face(), face_visible=lambda t: (t % 40.0) < 37.0, seed=1)
    tmp.rename(path)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/emofuse-bench"))
    ap.add_argument("--set", dest="sets", action="append", default=[], help="AnalyzeConfig override key=value")
    ap.add_argument("--out", type=Path, default=Path("bench/results/analyze_speed.json"))
    ap.add_argument("--before-ref", default=None, help="also analyse with this git ref (a worktree) for before/after")
    args = ap.parse_args()
    trees = {"after": None}
    if args.before_ref:
        wt = args.work_dir / f"tree-{args.before_ref}"
        if not wt.is_dir():
            subprocess.run(["git", "worktree", "add", "--detach", str(wt), args.before_ref], check=True)
        trees = {"before": wt / "src", "after": None}
    from emofuse.config import apply_overrides

    cfg = apply_overrides({}, args.sets)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    console = Console(width=200)
    rows = []
    for m in args.minutes:
        video = args.work_dir / f"speech_face_720p30_{m:g}min.mp4"
        gen = make_video(video, m)
        if gen:
            console.print(f"generated {video} ({video.stat().st_size / 2**20:.0f} MiB) in {gen:.0f} s")
        for version, src in trees.items():
            env = dict(os.environ)
            if src is not None:
                env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD, str(video), json.dumps(cfg)], capture_output=True,
                                 text=True, check=False, env=env)
            wall = time.perf_counter() - t0
            if out.returncode != 0:
                console.print(out.stderr[-3000:])
                raise SystemExit(f"analysis of {video} failed ({version})")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r.update(version=version, minutes=m, process_wall_s=round(wall, 2),
                     rtf=round(r["analyze_s"] / r["duration"], 4), rtf_with_startup=round(wall / r["duration"], 4),
                     file_mb=round(video.stat().st_size / 2**20, 1))
            rows.append(r)
            console.print(f"{m:g} min ({version}, {r['emofuse']}): analyze {r['analyze_s']:.1f} s, "
                          f"RTF {r['rtf']:.3f}, peak {r['peak_rss_mb']:.0f} MB")
    table = Table(title="emofuse analyze, 720p 30 fps speech + face video, default settings "
                        f"({os.cpu_count()} CPU cores)")
    for c in ("media", "version", "analysis s", "RTF", "RTF incl. start-up", "peak RSS MB", "segments", "face frames",
              "decode s", "face s", "vad s", "whisper enc s", "voice s", "asr s", "text s"):
        table.add_column(c, justify="right")
    for r in rows:
        t = r["timings"]
        table.add_row(f"{r['minutes']:g} min", r["version"], f"{r['analyze_s']:.1f}", f"{r['rtf']:.3f}",
                      f"{r['rtf_with_startup']:.3f}", f"{r['peak_rss_mb']:.0f}", str(r["segments"]),
                      f"{r['face_frames']}/{r['frames']}",
                      *(f"{t.get(k, 0.0):.1f}" for k in ("decode", "face", "vad", "whisper_encoder", "voice", "asr",
                                                          "text")))
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                "python": platform.python_version()},
                                    "config": cfg, "before_ref": args.before_ref, "runs": rows}, indent=2) + "\n")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
