"""Seed spread of the shipped voice-whisper configuration on held-out RAVDESS actors (validation).

The validation-only head (``train.py --exclude-speakers ravdess:15,16,17,18 --ship-only``) is one
seed. Here the same configuration (the shipped card's features, head type and hyper-parameters,
no re-selection) is refitted with seeds 0-4 on RAVDESS actors 01-14 + all of EmoDB from the
cached features (``runs/voice_whisper/features``, ``runs/voice/features``: run ``train.py``
first), and each fit scores the 240 speech files of actors 15-18 (ekman7, calm -> neutral):
accuracy, UAR and UAR per gender, mean ± std over seeds. The cached features equal what the
expert computes at inference (``train.py`` checks it), so these are the ``emofuse evaluate``
figures of each seed's head without exporting it. Writes ``results_seed_spread.json`` here.

    python recipes/voice_whisper/seed_spread.py --data-dir <data-dir>     # ~3 min, 1 thread
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import balanced_accuracy_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from train import cached_tables  # noqa: E402

from emofuse.data.corpora import DATA_DIR_ENV  # noqa: E402
from emofuse.experts.base import weights_dir  # noqa: E402
from emofuse.train import speech  # noqa: E402

HERE = Path(__file__).resolve().parent
HELD_OUT = ["15", "16", "17", "18"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = ap.parse_args()
    card = json.loads((weights_dir("voice-whisper") / "card.json").read_text())
    pre, kind = card["preprocessing"], card["head"]["type"]
    window = float(pre.get("train_window_s", 30.0))
    tabs = cached_tables(args.data_dir, pre["features"], window)
    rav = tabs["ravdess"]
    test = np.isin(rav["speaker"], HELD_OUT)  # rows of the held-out actors; the rest + EmoDB train
    x = np.concatenate([rav["x"][~test], tabs["emodb"]["x"]])
    y = np.concatenate([rav["y_ekman"][~test], tabs["emodb"]["y_ekman"]])
    xt, yt = rav["x"][test], rav["y_ekman"][test]
    male = rav["speaker"][test].astype(int) % 2 == 1  # RAVDESS: odd actors are male
    make, _ = speech.CANDIDATES[kind]
    hp = {k.removeprefix("clf__"): v for k, v in card["head"]["hyper_parameters"].items()}
    rows = []
    for seed in args.seeds:
        pipe = Pipeline([("scale", StandardScaler()), ("clf", make(seed).set_params(**hp))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(x, y)
        p = pipe.predict(xt)
        row = {"seed": seed, "accuracy": float((p == yt).mean()), "uar": float(balanced_accuracy_score(yt, p)),
               "uar_female": float(balanced_accuracy_score(yt[~male], p[~male])),
               "uar_male": float(balanced_accuracy_score(yt[male], p[male]))}
        rows.append(row)
        print({k: round(100 * v, 1) if k != "seed" else v for k, v in row.items()}, flush=True)
    summary = {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows]))}
               for k in ("accuracy", "uar", "uar_female", "uar_male")}
    print("mean ± std over seeds:", {k: f"{100 * v['mean']:.1f} ± {100 * v['std']:.1f}" for k, v in summary.items()})
    out = {"what": "shipped voice-whisper configuration refitted without RAVDESS actors 15-18, scored on their "
                   "240 speech files (ekman7); validation figures", "features": pre["features"], "head": kind,
           "hyper_parameters": card["head"]["hyper_parameters"], "train_window_s": window, "n_test": int(len(yt)),
           "seeds": rows, "summary": summary,
           "command": "python recipes/voice_whisper/seed_spread.py --data-dir <data-dir>"}
    (HERE / "results_seed_spread.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
