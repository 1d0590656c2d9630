"""Generated wrist recordings for the physio tests (NeuroKit2's simulators; no corpus needed)."""

from __future__ import annotations

import numpy as np

from emofuse.media.physio import PhysioRecording, Signal


def recording(seconds: float = 180.0, *, heart_rate: float = 70.0, scr_number: int = 4, temp: float = 33.0,
              temp_slope: float = 0.0, motion: float = 0.01, signals: tuple[str, ...] = ("bvp", "eda", "temp", "acc"),
              seed: int = 0, start: float = 0.0) -> PhysioRecording:
    """BVP at 64 Hz, EDA / temperature / acceleration at 4 Hz, as a wrist device records them.

    ``motion`` is the standard deviation (g) of the acceleration noise around 1 g.
    """
    import neurokit2 as nk

    rng = np.random.default_rng(seed)
    out: dict[str, Signal] = {}
    if "bvp" in signals:
        bvp = nk.ppg_simulate(duration=int(seconds), sampling_rate=64, heart_rate=heart_rate, random_state=seed)
        out["bvp"] = Signal("bvp", 50.0 * np.asarray(bvp), 64.0, start)
    n4 = int(seconds * 4)
    if "eda" in signals:
        eda = nk.eda_simulate(duration=int(seconds), sampling_rate=4, scr_number=scr_number, drift=0.01,
                              random_state=seed)
        out["eda"] = Signal("eda", np.asarray(eda)[:n4], 4.0, start)
    if "temp" in signals:
        t = np.arange(n4) / 4.0
        out["temp"] = Signal("temp", temp + temp_slope * t / 60.0 + rng.normal(0, 0.01, n4), 4.0, start)
    if "acc" in signals:
        acc = np.tile([0.0, 0.0, 1.0], (n4, 1)) + rng.normal(0, motion, (n4, 3))
        out["acc"] = Signal("acc", acc, 4.0, start)
    return PhysioRecording(out, source="generated")


def write_csv(rec: PhysioRecording, path, eda_scale: float = 1.0):  # noqa: ANN001, ANN201
    """The recording as one CSV with a time column, rows of each signal at its own rate (empty cells elsewhere)."""
    import pandas as pd

    frames = []
    for name, s in rec.signals.items():
        t = s.start + np.arange(len(s.data)) / s.rate
        if name == "acc":
            cols = {"acc_x": s.data[:, 0], "acc_y": s.data[:, 1], "acc_z": s.data[:, 2]}
        else:
            cols = {name: s.data * (eda_scale if name == "eda" else 1.0)}
        frames.append(pd.DataFrame({"time": t, **cols}))
    pd.concat(frames).groupby("time", as_index=False).first().to_csv(path, index=False)
    return path
