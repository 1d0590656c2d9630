"""Motion artefacts on real WESAD recordings: are corrupted windows flagged, and what does the flag save?

For every subject, a copy of the recording gets motion in a random 30 % of its 60 s blocks:
acceleration noise (0.3 g) and, on the BVP, the large slow swings a moving wrist puts on a
photoplethysmogram (a random walk at 5 × the signal's own spread). Features are computed again
from the corrupted signals (NeuroKit2, as in the analysis), and the chosen head of
``train.py`` is trained leave-one-subject-out on the *clean* other subjects, then read

* on the clean windows,
* on the corrupted windows as they are,
* on the corrupted windows with the expert's rule: a window whose acceleration variability is
  above the card's threshold is flagged, and its BVP features are set to the wearer's reference
  level (the pulse is not trusted while the wrist moves; EDA carries the reading).

Reports the share of corrupted / clean windows flagged and 3-class accuracy of the three
readings on the windows that overlap a corrupted block, mean ± std over subjects:

    python recipes/wesad/robustness.py --data-dir <data-dir>       # ~3 min; needs train.py's cache

Writes ``robustness.json`` here and a table into README.md.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import train as T  # noqa: E402  (this recipe's folder, first on sys.path)

from emofuse.cards import replace_block  # noqa: E402
from emofuse.data.corpora import DATA_DIR_ENV  # noqa: E402
from emofuse.experts import read_card, weights_dir  # noqa: E402
from emofuse.experts.evaluate_physio import labelled_windows  # noqa: E402
from emofuse.experts.physio_features import FEATURES, normalise, process, window_features  # noqa: E402
from emofuse.media.physio import Signal  # noqa: E402
from emofuse.media.physio_io import read_physio  # noqa: E402

HERE = Path(__file__).resolve().parent
START, END = "<!-- robustness:start -->", "<!-- robustness:end -->"


def corrupt(rec, rng: np.random.Generator, share: float = 0.3) -> tuple[dict, np.ndarray]:
    """Signals with motion in a random ``share`` of 60 s blocks; returns them and the blocks' start times."""
    n_blocks = int(rec.duration // 60)
    blocks = np.flatnonzero(rng.random(n_blocks) < share) * 60.0 + rec.start
    sig = dict(rec.signals)
    acc, bvp = sig["acc"], sig["bvp"]
    a, b = acc.data.copy(), bvp.data.astype(np.float64).copy()
    spread = float(np.nanstd(b))
    for t0 in blocks:
        i0, i1 = int((t0 - acc.start) * acc.rate), int((t0 + 60 - acc.start) * acc.rate)
        a[i0:i1] += rng.normal(0, 0.3, a[i0:i1].shape)
        j0, j1 = int((t0 - bvp.start) * bvp.rate), int((t0 + 60 - bvp.start) * bvp.rate)
        walk = np.cumsum(rng.normal(0, 1, j1 - j0))
        b[j0:j1] += 5 * spread * walk / max(np.abs(walk).max(), 1e-9)
    sig["acc"], sig["bvp"] = Signal("acc", a, acc.rate, acc.start), Signal("bvp", b, bvp.rate, bvp.start)
    return sig, blocks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get(DATA_DIR_ENV))
    ap.add_argument("--cache", default="runs/wesad/features")
    args = ap.parse_args()
    if not args.data_dir:
        raise SystemExit(f"give --data-dir or set {DATA_DIR_ENV}")
    card = read_card(weights_dir("physio-wesad"))
    thr = float(card["preprocessing"]["motion_threshold_g"])
    chosen = card["head"]["candidate"]
    make = T.CANDIDATES[chosen][1]
    tables = T.load_tables(Path(args.data_dir), Path(args.cache))
    files = {f.stem.split("_")[0]: f for f in (Path(args.data_dir) / "wesad_wrist").glob("S*_wrist.npz")}
    rng = np.random.default_rng(0)
    acc_col, bvp_cols = FEATURES.index("acc_std"), T.GROUP_COLS["bvp"]
    rows = []
    D = [T.design(t, "recording") for t in tables]
    for i, t in enumerate(tables):
        rec = read_physio(files[t["subject"]], format="wesad")
        sig, blocks = corrupt(rec, rng)
        ends, codes = labelled_windows(rec, T.WINDOW_S, T.HOP_S, T.PURITY)
        X, _ = window_features(process(sig), ends, T.WINDOW_S)
        keep = np.isin(codes, (1, 2, 3))
        hit = np.array([any(e - 60 < b + 60 and b < e for b in blocks) for e in ends])[keep]
        Z = np.nan_to_num(normalise(X, t["ref_recording"])[keep][:, T._MODEL_COLS], nan=0.0)
        flag = X[keep, acc_col] > thr
        clean_flag = t["X"][keep, acc_col] > thr
        Zr = Z.copy()
        Zr[np.ix_(flag, bvp_cols)] = 0.0  # the rule: no pulse features while the wrist moves
        Xtr = np.concatenate([d[0] for j, d in enumerate(D) if j != i])
        ytr = np.concatenate([d[1] for j, d in enumerate(D) if j != i])
        m = T.pipeline(make, 0).fit(Xtr, ytr)
        y = D[i][1]
        acc = {k: float((m.predict(x[hit]) == y[hit]).mean()) if hit.any() else np.nan
               for k, x in (("clean", D[i][0]), ("corrupted", Z), ("corrupted + rule", Zr))}
        rows.append({"subject": t["subject"], "windows_hit": int(hit.sum()),
                     "flagged_corrupted": float(flag[hit].mean()) if hit.any() else np.nan,
                     "flagged_clean": float(clean_flag.mean()), **{f"acc_{k}": v for k, v in acc.items()}})
        print(rows[-1], flush=True)
    summary = {k: {"mean": round(float(np.nanmean([r[k] for r in rows])), 4),
                   "std": round(float(np.nanstd([r[k] for r in rows])), 4)}
               for k in rows[0] if k not in ("subject", "windows_hit")}
    out = {"threshold_g": thr, "head": chosen, "share_of_blocks": 0.3, "per_subject": rows, "summary": summary}
    (HERE / "robustness.json").write_text(json.dumps(out, indent=1) + "\n")
    s = summary
    table = ["### Motion artefacts (leave one subject out, windows overlapping a corrupted block)", "",
             "| | mean ± std over subjects |", "|---|---|",
             f"| corrupted windows flagged | {100 * s['flagged_corrupted']['mean']:.0f} ± "
             f"{100 * s['flagged_corrupted']['std']:.0f} % |",
             f"| clean windows flagged | {100 * s['flagged_clean']['mean']:.1f} ± "
             f"{100 * s['flagged_clean']['std']:.1f} % |",
             *[f"| 3-class accuracy, {k} | {100 * s[f'acc_{k}']['mean']:.1f} ± {100 * s[f'acc_{k}']['std']:.1f} % |"
               for k in ("clean", "corrupted", "corrupted + rule")], "",
             "Reproduce: `python recipes/wesad/robustness.py --data-dir <data-dir>`.", ""]
    replace_block(HERE / "README.md", "\n".join(table), START, END)
    print("\n".join(table))


if __name__ == "__main__":
    main()
