"""WESAD wrist signals → ``physio-wesad``: leave-subjects-out validation, model choice, calibration, shipping.

One command, fixed seeds, CPU only (about 10 minutes on 2 cores; features are cached):

    python recipes/wesad/train.py --data-dir <data-dir>     # or set EMOFUSE_DATA_DIR

Steps:

1. read each of the 12 shared subjects (``wesad_wrist/S*_wrist.npz``) with
   :func:`emofuse.media.physio_io.read_physio`; NeuroKit2 window features
   (:mod:`emofuse.experts.physio_features`), 60 s windows every 5 s; a window is labelled when
   at least 90 % of its samples carry one condition (baseline, stress, amusement; meditation
   and the transients are not used for the 3-class task); cached under ``runs/wesad/``;
2. per-wearer normalisation: ``recording`` (robust centre/scale of all of the wearer's windows,
   what the analysis can do on any recording — the shipped one), ``baseline`` (mean/std of the
   known baseline stretch) and ``none``, reported side by side;
3. leave-one-subject-out (12 folds): exportable heads (logistic regression, MLP) over a small
   grid, and tree ensembles (random forest, gradient boosting) as a reference that is not
   shipped; heads read the BVP, EDA and temperature features (acceleration only flags motion:
   people move while speaking in the stress test, and a head would learn that); MLPs and
   forests over 5 seeds (mean ± std of the fold means); 3-class accuracy / macro-F1 and the
   2-class view (``P(stress) > 0.5``: stress vs baseline + amusement);
4. the chosen head (best 3-class macro-F1 among exportable heads, ``recording`` normalisation)
   with other normalisations, on EDA only (the same head, BVP features at the reference level)
   and BVP only (a second head, ``no_eda``, trained without EDA), per subject, permutation
   importance of every feature and signal group on the held-out subjects, motion flags per
   condition, temperature scaling of the out-of-fold logits (cross-fitted ECE);
5. refit both heads on all 12 subjects, copy into torch (safetensors), write head + card to
   ``src/emofuse/experts/weights/physio-wesad/``, ``results.json`` and the README tables here.

The 3 withheld WESAD subjects are never read; every figure is a validation (LOSO) figure.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _card import build_card, render_readme  # noqa: E402  (this recipe's folder, first on sys.path)
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from emofuse.data.corpora import DATA_DIR_ENV  # noqa: E402
from emofuse.experts.base import weights_dir, write_weights  # noqa: E402
from emofuse.experts.calibration import calibration_report  # noqa: E402
from emofuse.experts.evaluate_physio import labelled_windows  # noqa: E402
from emofuse.experts.physio import PhysioHead, recording_reference  # noqa: E402
from emofuse.experts.physio_features import FEATURES, GROUPS, normalise, process, reference_stats, window_features  # noqa: E402
from emofuse.media.physio_io import read_physio  # noqa: E402
from emofuse.train.speech import check_export, to_voice_head  # noqa: E402

warnings.filterwarnings("ignore", category=UserWarning)
HERE = Path(__file__).resolve().parent
CLASSES = ("baseline", "stress", "amusement")  # WESAD labels 1, 2, 3
WINDOW_S, HOP_S, PURITY = 60.0, 5.0, 0.9
#: Features the heads read: acceleration is left out (it flags motion only; moving while speaking during the
#: stress test would otherwise be learnt as stress)
MODEL_FEATURES = tuple(f for f in FEATURES if f not in GROUPS["acc"])
GROUP_COLS = {g: [MODEL_FEATURES.index(f) for f in fs] for g, fs in GROUPS.items() if g != "acc"}
_MODEL_COLS = [FEATURES.index(f) for f in MODEL_FEATURES]
SEEDS = (0, 1, 2, 3, 4)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- features


def subject_table(path: Path) -> dict:
    """Window features, labels and the wearer's references of one subject file."""
    rec = read_physio(path, format="wesad")
    p = process(rec.signals)
    ends, y = labelled_windows(rec, WINDOW_S, HOP_S, PURITY)  # the windows `emofuse evaluate` scores
    X, cov = window_features(p, ends, WINDOW_S)
    # the recording reference exactly as the analysis and `emofuse evaluate` estimate it
    (centre, scale), _ = recording_reference(rec, window_s=WINDOW_S, processed=p)
    b_centre, b_scale = reference_stats(X[y == 1], robust=False)
    return {"subject": rec.subject, "X": X, "cov": cov, "y": y, "ends": ends, "ref_recording": (centre, scale),
            "ref_baseline": (b_centre, b_scale), "minutes": rec.duration / 60.0}


def load_tables(data_dir: Path, cache: Path) -> list[dict]:
    files = sorted((data_dir / "wesad_wrist").glob("S*_wrist.npz"), key=lambda f: int(f.name[1:].split("_")[0]))
    if not files:
        raise SystemExit(f"no WESAD subject files under {data_dir / 'wesad_wrist'}")
    tables = []
    for f in files:
        c = cache / f"{f.stem}.npz"
        if c.is_file():
            d = np.load(c, allow_pickle=False)
            t = {k: d[k] for k in ("X", "cov", "y", "ends")}
            t.update(subject=str(d["subject"]), minutes=float(d["minutes"]),
                     ref_recording=(d["rc"], d["rs"]), ref_baseline=(d["bc"], d["bs"]))
        else:
            t0 = time.perf_counter()
            t = subject_table(f)
            cache.mkdir(parents=True, exist_ok=True)
            np.savez(c, X=t["X"], cov=t["cov"], y=t["y"], ends=t["ends"], subject=t["subject"], minutes=t["minutes"],
                     rc=t["ref_recording"][0], rs=t["ref_recording"][1], bc=t["ref_baseline"][0],
                     bs=t["ref_baseline"][1])
            log(f"{t['subject']}: {len(t['y'])} windows, {time.perf_counter() - t0:.1f} s")
        tables.append(t)
    return tables


def design(t: dict, norm: str) -> tuple[np.ndarray, np.ndarray]:
    """Head inputs (missing → 0 after normalisation) and 0-based labels of one subject's 3-class windows."""
    keep = np.isin(t["y"], (1, 2, 3))
    X = t["X"][keep]
    if norm != "none":
        X = normalise(X, t[f"ref_{norm}"])
    return np.nan_to_num(X[:, _MODEL_COLS], nan=0.0), t["y"][keep] - 1


def drop_groups(X: np.ndarray, groups: tuple[str, ...]) -> np.ndarray:
    X = X.copy()
    for g in groups:
        X[:, GROUP_COLS[g]] = 0.0
    return X


#: The heads shipped: ``all`` reads every signal (and EDA without BVP, which it does nearly as well), ``no_eda``
#: is trained with EDA missing and reads windows without EDA. A head never sees rows with signals dropped at
#: random: that cost the full head 5 points of accuracy for a weaker BVP-only reading than a head of its own.
HEADS = {"all": (), "no_eda": ("eda",)}


# --------------------------------------------------------------------------- models

CANDIDATES = {
    "logreg C=0.1": (True, lambda s: LogisticRegression(C=0.1, max_iter=3000, class_weight="balanced")),
    "logreg C=1": (True, lambda s: LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")),
    "mlp 32 α=0.01": (True, lambda s: MLPClassifier((32,), alpha=1e-2, max_iter=300, random_state=s)),
    "mlp 32 α=1": (True, lambda s: MLPClassifier((32,), alpha=1.0, max_iter=300, random_state=s)),
    "random forest (reference)": (False, lambda s: RandomForestClassifier(
        200, min_samples_leaf=5, class_weight="balanced", n_jobs=2, random_state=s)),
    "gradient boosting (reference)": (False, lambda s: HistGradientBoostingClassifier(
        max_depth=3, learning_rate=0.05, max_iter=200, class_weight="balanced", random_state=s)),
}


def pipeline(make, seed: int) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", make(seed))])


def scores(y: np.ndarray, p: np.ndarray) -> dict:
    pred = p.argmax(1)
    y2, p2 = (y == 1).astype(int), (p[:, 1] > 0.5).astype(int)
    return {"acc3": accuracy_score(y, pred), "f1_3": f1_score(y, pred, average="macro", labels=[0, 1, 2]),
            "acc2": accuracy_score(y2, p2), "f1_2": f1_score(y2, p2, average="macro", labels=[0, 1])}


def loso(tables: list[dict], norm: str, make, seed: int, train_drop: tuple[str, ...] = (),
         test_drop: tuple[str, ...] = (), keep_oof: bool = False) -> dict:
    """Leave-one-subject-out figures (per-fold scores, their mean/std; out-of-fold logits when asked)."""
    D = [design(t, norm) for t in tables]
    folds, oof = [], []
    for i, t in enumerate(tables):
        Xtr = np.concatenate([d[0] for j, d in enumerate(D) if j != i])
        ytr = np.concatenate([d[1] for j, d in enumerate(D) if j != i])
        m = pipeline(make, seed).fit(drop_groups(Xtr, train_drop), ytr)
        Xte = drop_groups(D[i][0], test_drop)
        p = m.predict_proba(Xte)
        folds.append({"subject": t["subject"], "n": len(D[i][1]), **scores(D[i][1], p)})
        if keep_oof:
            z = np.log(np.clip(p, 1e-7, 1.0))
            oof.append((z, D[i][1], np.full(len(z), i), m, Xte))
    out: dict = {"folds": folds}
    for k in ("acc3", "f1_3", "acc2", "f1_2"):
        vals = np.asarray([f_[k] for f_ in folds])
        out[f"{k}_mean"], out[f"{k}_std"] = float(vals.mean()), float(vals.std())
    if keep_oof:
        out["_oof"] = oof
    return out


def over_seeds(tables, norm, make, stochastic: bool, **kw) -> dict:
    runs = [loso(tables, norm, make, s, **kw) for s in (SEEDS if stochastic else SEEDS[:1])]
    summary = {"seeds": len(runs)}
    for k in ("acc3", "f1_3", "acc2", "f1_2"):
        means = np.asarray([r[f"{k}_mean"] for r in runs])
        summary[f"{k}_mean"], summary[f"{k}_seed_std"] = float(means.mean()), float(means.std())
        summary[f"{k}_fold_std"] = float(np.mean([r[f"{k}_std"] for r in runs]))
    summary["per_subject"] = runs[0]["folds"]
    return summary


def permutation_importance(tables: list[dict], make, norm: str, repeats: int = 3) -> dict:
    """Drop in held-out 3-class macro-F1 when one feature (or one signal group) is shuffled, mean over folds."""
    rng = np.random.default_rng(0)
    D = [design(t, norm) for t in tables]
    feat = {f: [] for f in MODEL_FEATURES}
    grp = {g: [] for g in GROUP_COLS}
    for i in range(len(tables)):
        Xtr = np.concatenate([d[0] for j, d in enumerate(D) if j != i])
        ytr = np.concatenate([d[1] for j, d in enumerate(D) if j != i])
        m = pipeline(make, 0).fit(Xtr, ytr)
        Xte, yte = D[i]
        base = f1_score(yte, m.predict(Xte), average="macro", labels=[0, 1, 2])
        for cols, store in [([c], feat[f]) for c, f in enumerate(MODEL_FEATURES)] + \
                           [(GROUP_COLS[g], grp[g]) for g in GROUP_COLS]:
            drops = []
            for _ in range(repeats):
                Xp = Xte.copy()
                perm = rng.permutation(len(Xp))
                Xp[:, cols] = Xte[perm][:, cols]
                drops.append(base - f1_score(yte, m.predict(Xp), average="macro", labels=[0, 1, 2]))
            store.append(float(np.mean(drops)))
    return {"features": dict(sorted(((f, round(float(np.mean(v)), 4)) for f, v in feat.items()),
                                    key=lambda kv: -kv[1])),
            "groups": {g: round(float(np.mean(v)), 4) for g, v in grp.items()}}


def motion_report(tables: list[dict]) -> dict:
    """Acceleration variability per condition, and the threshold that flags the most agitated windows."""
    col = FEATURES.index("acc_std")
    per = {c: np.concatenate([t["X"][t["y"] == k, col] for t in tables]) for k, c in enumerate(CLASSES, 1)}
    per["meditation"] = np.concatenate([t["X"][t["y"] == 4, col] for t in tables])
    allv = np.concatenate([t["X"][:, col] for t in tables])
    thr = float(np.nanpercentile(allv, 95))
    return {"threshold_g": round(thr, 4), "rule": "acc_std above the 95th percentile of all WESAD windows",
            "flagged_share": {c: round(float(np.nanmean(v > thr)), 4) for c, v in per.items()},
            "median_acc_std_g": {c: round(float(np.nanmedian(v)), 4) for c, v in per.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=os.environ.get(DATA_DIR_ENV))
    ap.add_argument("--cache", default="runs/wesad/features")
    ap.add_argument("--out", default=str(weights_dir("physio-wesad")))
    ap.add_argument("--quick", action="store_true", help="one seed, no reference trees (a smoke run)")
    ap.add_argument("--card-only", action="store_true",
                    help="rewrite the shipped card and README tables from results.json (weights untouched)")
    args = ap.parse_args()
    if args.card_only:
        res = json.loads((HERE / "results.json").read_text())
        from emofuse.experts import read_card

        old = read_card(args.out)
        card = build_card(res, old["head"]["config"], res["chosen"], list(MODEL_FEATURES), HEADS)
        from emofuse.cards import write_card

        write_card(args.out, card, kind="expert")
        render_readme(res, card, HERE / "README.md")
        log(f"rewrote {args.out}/card.json and the README tables")
        return
    if not args.data_dir:
        raise SystemExit(f"give --data-dir or set {DATA_DIR_ENV}")
    global SEEDS
    if args.quick:
        SEEDS = (0,)
    tables = load_tables(Path(args.data_dir), Path(args.cache))
    log(f"{len(tables)} subjects, {sum(int(np.isin(t['y'], (1, 2, 3)).sum()) for t in tables)} labelled windows")
    res: dict = {"subjects": [t["subject"] for t in tables], "window_s": WINDOW_S, "hop_s": HOP_S,
                 "purity": PURITY, "features": list(FEATURES), "normalisations": {}, "candidates": {}}
    for name, (exportable, make) in CANDIDATES.items():
        if args.quick and not exportable:
            continue
        stoch = "mlp" in name or "forest" in name
        res["candidates"][name] = {"exportable": exportable, **over_seeds(tables, "recording", make, stoch)}
        c = res["candidates"][name]
        log(f"{name:30s} 3-class acc {c['acc3_mean']:.3f} F1 {c['f1_3_mean']:.3f} | 2-class acc {c['acc2_mean']:.3f}")
    best = max((n for n, c in res["candidates"].items() if c["exportable"]),
               key=lambda n: res["candidates"][n]["f1_3_mean"])
    res["chosen"] = best
    make = CANDIDATES[best][1]
    stoch = "mlp" in best
    for norm in ("none", "baseline"):
        res["normalisations"][norm] = over_seeds(tables, norm, make, stoch)
        log(f"normalisation {norm}: 3-class acc {res['normalisations'][norm]['acc3_mean']:.3f}")
    res["normalisations"]["recording"] = res["candidates"][best]
    res["missing"] = {"eda only": over_seeds(tables, "recording", make, stoch, test_drop=("bvp",)),
                      "bvp only (no_eda head)": over_seeds(tables, "recording", make, stoch, train_drop=("eda",),
                                                           test_drop=("eda",)),
                      "bvp only (all head)": over_seeds(tables, "recording", make, stoch, test_drop=("eda",)),
                      # skin temperature drifts over a laboratory session: how much rests on it
                      "without temperature": over_seeds(tables, "recording", make, stoch, train_drop=("temp",),
                                                        test_drop=("temp",))}
    for k, v in res["missing"].items():
        log(f"{k}: 3-class acc {v['acc3_mean']:.3f}, 2-class {v['acc2_mean']:.3f}")
    res["importance"] = permutation_importance(tables, make, "recording")
    res["motion"] = motion_report(tables)
    oof = loso(tables, "recording", make, 0, keep_oof=True)["_oof"]
    z, y, f = (np.concatenate([o[k] for o in oof]) for k in range(3))
    res["calibration"] = calibration_report(z, y, folds=f)
    log(f"calibration T={res['calibration']['temperature']:.3f} ECE {res['calibration']['ece_before']:.3f} -> "
        f"{res['calibration']['ece_after_crossfit']:.3f} (cross-fitted)")
    # refit on every subject and ship: one head per signal set
    D = [design(t, "recording") for t in tables]
    X, yy = np.concatenate([d[0] for d in D]), np.concatenate([d[1] for d in D])
    heads = {}
    for key, drop in HEADS.items():
        Xh = drop_groups(X, drop)
        model = SimpleNamespace(best_estimator_=pipeline(make, 0).fit(Xh, yy))
        heads[key] = to_voice_head(model, len(MODEL_FEATURES), n_classes=len(CLASSES))
        check_export(model, heads[key], Xh[:500])
    head = PhysioHead(heads)
    card = build_card(res, heads["all"].config.to_dict(), best, list(MODEL_FEATURES), HEADS)
    write_weights(args.out, head, card)
    out = HERE / "results.json"
    out.write_text(json.dumps(_public(res), indent=1) + "\n")
    Path("runs/wesad").mkdir(parents=True, exist_ok=True)
    (Path("runs/wesad") / "results.json").write_text(json.dumps(_public(res), indent=1) + "\n")
    render_readme(res, card, HERE / "README.md")
    log(f"shipped {best} to {args.out}; results in {out}")


def _public(x):
    if isinstance(x, dict):
        return {k: _public(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_public(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return round(float(x), 4)
    if isinstance(x, np.integer):
        return int(x)
    return x


if __name__ == "__main__":
    main()
