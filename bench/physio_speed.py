"""Speed of the physiological path: features + expert for one hour of wrist data, on one core.

The recording is a real WESAD subject file when the shared data are there (``--wesad FILE``;
the longest ones last about 100 minutes: the first hour is used), else one hour generated with
NeuroKit2's simulators (BVP 64 Hz, EDA / temperature / acceleration 4 Hz). Stages, each timed
on one thread (best of ``--repeat``):

* ``process``: NeuroKit2 over the whole hour (pulse peaks, EDA phasic split and SCR peaks);
* ``reference``: the wearer's reference from the recording (windows every 10 s);
* ``windows``: window features, 60 s windows every 5 s (720 windows);
* ``expert``: ``physio-wesad`` on those windows;
* ``analyze``: ``emofuse.analyze`` of the hour saved as a CSV (reading, 5 s segments, the path,
  fusion), end to end.

Run from the repository root:

    .venv/bin/python bench/physio_speed.py [--wesad <data-dir>/wesad_wrist/S2_wrist.npz]

Prints a table and writes bench/results/physio_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from emofuse.experts import load_expert  # noqa: E402
from emofuse.experts.physio import PhysioWindow, recording_reference  # noqa: E402
from emofuse.experts.physio_features import process, window_features  # noqa: E402
from emofuse.media.physio import PhysioRecording, Signal  # noqa: E402

HOUR = 3600.0


def generated_hour(seed: int = 0) -> PhysioRecording:
    import neurokit2 as nk

    rng = np.random.default_rng(seed)
    bvp = 50.0 * nk.ppg_simulate(duration=int(HOUR), sampling_rate=64, heart_rate=72, random_state=seed)
    eda = nk.eda_simulate(duration=int(HOUR), sampling_rate=4, scr_number=120, drift=0.002, random_state=seed)
    n = int(HOUR * 4)
    acc = np.tile([0.0, 0.0, 1.0], (n, 1)) + rng.normal(0, 0.01, (n, 3))
    return PhysioRecording({"bvp": Signal("bvp", bvp, 64.0), "eda": Signal("eda", np.asarray(eda)[:n], 4.0),
                            "temp": Signal("temp", 33 + rng.normal(0, 0.01, n), 4.0), "acc": Signal("acc", acc, 4.0)},
                           source="generated hour")


def first_hour(path: Path) -> PhysioRecording:
    from emofuse.media.physio_io import read_physio

    rec = read_physio(path)
    sig = {k: Signal(k, s.data[: int(HOUR * s.rate)], s.rate, s.start) for k, s in rec.signals.items()}
    return PhysioRecording(sig, source=f"{path.name} (first hour)")


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def to_csv(rec: PhysioRecording, path: Path) -> None:
    import pandas as pd

    frames = []
    for name, s in rec.signals.items():
        t = s.start + np.arange(len(s.data)) / s.rate
        cols = ({"acc_x": s.data[:, 0], "acc_y": s.data[:, 1], "acc_z": s.data[:, 2]} if name == "acc"
                else {name: s.data})
        frames.append(pd.DataFrame({"time": t, **cols}))
    df = pd.concat(frames).groupby("time", as_index=False).first()
    df.to_csv(path, index=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wesad", type=Path, default=None, help="a WESAD subject file (default: a generated hour)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/physio_speed.json"))
    args = ap.parse_args()
    rec = first_hour(args.wesad) if args.wesad else generated_hour()
    expert = load_expert("physio-wesad")
    rows = {}
    rows["process"], proc = best(lambda: process(rec.signals), args.repeat)
    rows["reference"], ref = best(lambda: recording_reference(rec, processed=proc), args.repeat)
    ends = np.arange(60.0, rec.end + 1e-9, 5.0)
    rows["windows"], (X, cov) = best(lambda: window_features(proc, ends), args.repeat)
    wins = [PhysioWindow(X[i], cov[i], ref[0], ref[1], float(e)) for i, e in enumerate(ends)]
    rows["expert"], _ = best(lambda: expert.predict(wins), args.repeat)
    rows["features + expert"] = rows["process"] + rows["reference"] + rows["windows"] + rows["expert"]
    import emofuse

    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "hour.csv"
        to_csv(rec, csv)
        rows["analyze (CSV, end to end)"], res = best(lambda: emofuse.analyze(csv, fusion="evidence"), 1)
    ok = sum(s.modalities["physio"].ok for s in res.segments)
    print(f"{rec.source}: {rec.duration / 60:.0f} min, {len(ends)} windows; analyze: {len(res.segments)} segments "
          f"({ok} with a physio reading)")
    print(f"{'stage':28s} {'seconds':>8s} {'x real time':>12s}")
    for k, v in rows.items():
        print(f"{k:28s} {v:8.2f} {rec.duration / v:12.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"recording": rec.source, "minutes": round(rec.duration / 60, 2),
                                    "windows": len(ends), "threads": 1, "machine": platform.processor() or
                                    platform.machine(), "seconds": {k: round(v, 3) for k, v in rows.items()},
                                    "segments": len(res.segments), "segments_with_physio": ok}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
