"""Speaker- and corpus-level feature normalisation for ``voice-whisper``: cross-corpus and joint validation.

On the cached ``whisper+hc`` features (1047 dims; ``runs/voice_whisper/features`` and
``runs/voice/features``, read with ``train.py``'s own functions), with the shipped heads' fixed
hyper-parameters (no inner re-selection), compares the features given to the head:

* ``none``: as shipped (only the head's global StandardScaler, fitted on the training rows);
* ``corpus``: each corpus z-scored with its own mean/std over all its files (transductive);
* ``speaker``: each speaker z-scored with the mean/std over all his/her files (transductive,
  as when one file holds many utterances of one person); ``speaker-mean``: centring only;
* ``speaker-kK`` / ``speaker-mean-kK``: the head trained as ``speaker`` (all utterances of the
  training speakers), but each *test* utterance normalised with the statistics of K random
  utterances of its speaker (any K, itself not excluded: a short file); 3 independent draws,
  figures averaged over draws;
* ``speaker-k8-same``: 8 utterances of the test utterance's *own emotion* (a file in one mood,
  the worst case: both corpora give every speaker every emotion, which the ``speaker`` mean
  exploits); ``speaker-neutral``: all neutral (calm, boredom) utterances of the speaker (an enrolment).

Protocols: cross-corpus on the 6 shared Ekman classes (train all of one corpus, test all of the
other, both ways) and the joint ekman7 protocol of ``recipes/voice`` (6 folds of 3 RAVDESS actors
+ 1-2 EmoDB speakers; mean ± std over folds), with per-gender UAR of the pooled out-of-fold
predictions. Every figure is a validation figure (speaker-independent CV on RAVDESS actors 01-18
and EmoDB; official test splits withheld). Writes ``results_speaker_norm.{json,md}`` here
(``--window-s 10``: ``results_speaker_norm_w10.*``, the features of the shipped 10 s head).

    python recipes/voice_whisper/speaker_norm_study.py --data-dir <data-dir>     # ~3 min, 1 thread
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from train import HERE, REPO, SEED, SHARED, cached_tables  # noqa: E402  (this folder)

from emofuse.data.corpora import DATA_DIR_ENV  # noqa: E402
from emofuse.evaluate.metrics import classification_metrics  # noqa: E402
from emofuse.train import speech  # noqa: E402
from emofuse.train.folds import iter_folds  # noqa: E402

FEATURES = "whisper+hc"
KS = (4, 8, 16)
DRAWS = 3
EMODB_MALE = {"03", "10", "11", "12", "15"}
NEUTRAL = int(speech.EKMAN.encode(["neutral"])[0])
TRAIN_MODES = ("none", "corpus", "speaker", "speaker-mean")
#: Test-side variants of each training mode (the k-utterance ones reuse the ``speaker*`` heads).
TEST_MODES = {"none": ["none"], "corpus": ["corpus"]} | {
    m: [m] + [f"{m}-k{k}" for k in KS] + [f"{m}-k8-same", f"{m}-neutral"] for m in ("speaker", "speaker-mean")}
README_TODAY = {"mlp": {"ravdess->emodb": 37.8, "emodb->ravdess": 35.0, "joint_uar": "73.2 ± 4.1"},
                "logreg": {"ravdess->emodb": 48.2, "emodb->ravdess": 33.9, "joint_uar": "72.8 ± 4.1"}}


def hyper_parameters() -> dict[str, dict]:
    """mlp: the shipped card's; logreg (not shipped): the most frequent joint outer-fold choice of results.json."""
    card = json.loads((REPO / "src/emofuse/experts/weights/voice-whisper/card.json").read_text())
    res = json.loads((HERE / "results.json").read_text())["feature_sets"][FEATURES]["joint"]["logreg"]["chosen"]
    c = Counter(d["clf__C"] for d in res).most_common(1)[0][0]
    return {"logreg": {"clf__C": c}, card["head"]["type"]: dict(card["head"]["hyper_parameters"])}


def zscore(x: np.ndarray, ref: np.ndarray, mean_only: bool, floor: np.ndarray) -> np.ndarray:
    """``x`` centred (and scaled) by the statistics of the rows ``ref``; std floored at ``floor``."""
    mu = ref.mean(0)
    return x - mu if mean_only else (x - mu) / np.maximum(ref.std(0), floor)


def variants(x: np.ndarray, spk: np.ndarray, y: np.ndarray, draw: int, floor: np.ndarray) -> dict[str, np.ndarray]:
    """Every normalisation of one corpus' features; the random ones with draw ``draw``."""
    out = {"none": x, "corpus": zscore(x, x, False, floor)}
    rng = np.random.default_rng([SEED, draw])
    for mean_only, name in ((False, "speaker"), (True, "speaker-mean")):
        out[name] = np.empty_like(x)
        out.update({f"{name}-{v}": np.empty_like(x) for v in [f"k{k}" for k in KS] + ["k8-same", "neutral"]})
        for s in np.unique(spk):
            rows = np.flatnonzero(spk == s)
            out[name][rows] = zscore(x[rows], x[rows], mean_only, floor)
            out[f"{name}-neutral"][rows] = zscore(x[rows], x[rows[y[rows] == NEUTRAL]], mean_only, floor)
            for r in rows:  # each test utterance: its own short file of k utterances of its speaker
                for k in KS:
                    pick = rng.choice(rows, size=min(k, len(rows)), replace=False)
                    out[f"{name}-k{k}"][r] = zscore(x[r][None], x[pick], mean_only, floor)[0]
                same = rows[y[rows] == y[r]]
                pick = rng.choice(same, size=min(8, len(same)), replace=False)
                out[f"{name}-k8-same"][r] = zscore(x[r][None], x[pick], mean_only, floor)[0]
    return out


def random_mode(t: str) -> bool:
    return "-k" in t


def fit(kind: str, hp: dict, x: np.ndarray, y: np.ndarray) -> Pipeline:
    pipe = Pipeline([("scale", StandardScaler()), ("clf", speech.CANDIDATES[kind][0](SEED))]).set_params(**hp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return pipe.fit(x, y)


def scores(model: Pipeline, x: np.ndarray, n: int) -> np.ndarray:
    out = np.full((len(x), n), -1e9)
    out[:, model.classes_] = np.log(np.clip(model.predict_proba(x), 1e-12, None))
    return out


def metrics(y: np.ndarray, s: np.ndarray, classes: list[str]) -> dict[str, float]:
    m = classification_metrics(y, s, classes=classes)
    return {"accuracy": 100 * m["accuracy"], "uar": 100 * m["uar"]}


def mean_over_draws(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} | (
        {"uar_draw_std": float(np.std([r["uar"] for r in rows]))} if len(rows) > 1 else {})


def cross_corpus(kind: str, hp: dict, tabs: dict, xs: list[dict]) -> dict:
    idx = speech.EKMAN.encode(SHARED)
    remap = {int(c): i for i, c in enumerate(idx)}
    out: dict = {t: {} for m in TRAIN_MODES for t in TEST_MODES[m]}
    for a, b in (("ravdess", "emodb"), ("emodb", "ravdess")):
        ma, mb = np.isin(tabs[a]["y_ekman"], idx), np.isin(tabs[b]["y_ekman"], idx)
        yb = np.array([remap[int(v)] for v in tabs[b]["y_ekman"][mb]])
        for mode in TRAIN_MODES:
            model = fit(kind, hp, xs[0][a][mode][ma], tabs[a]["y_ekman"][ma])
            for t in TEST_MODES[mode]:
                rows = [metrics(yb, scores(model, xd[b][t][mb], len(speech.EKMAN))[:, idx], SHARED)
                        for xd in (xs if random_mode(t) else xs[:1])]
                out[t][f"{a}->{b}"] = mean_over_draws(rows)
    return out


def joint(kind: str, hp: dict, tabs: dict, xs: list[dict], gender: np.ndarray) -> tuple[dict, list]:
    """Joint ekman7 protocol: per-fold summaries and per-gender pooled out-of-fold UAR of every mode."""
    names = ("ravdess", "emodb")
    folds = speech.speaker_folds([tabs[n] for n in names])
    _, y, groups, masks, jfolds = speech.joint_table([tabs[n] for n in names], folds)
    cat = [{m: np.concatenate([xd[n][m] for n in names]) for m in xd["ravdess"]} for xd in xs]
    classes = list(speech.EKMAN.classes)
    corpus = np.where(masks["ravdess"], "ravdess", "emodb")
    group_masks = [(g, gender == g) for g in ("male", "female")] + [
        (f"{c}-{g}", (gender == g) & (corpus == c)) for c in names for g in ("male", "female")]
    subsets = {"all": np.ones(len(y), bool), **masks}
    res: dict = {}
    for mode in TRAIN_MODES:
        per = {t: {s: [] for s in subsets} for t in TEST_MODES[mode]}
        oof = {t: [np.zeros((len(y), len(classes))) for _ in (xs if random_mode(t) else xs[:1])] for t in per}
        for _, held, tr, te in iter_folds(groups, jfolds):
            model = fit(kind, hp, cat[0][mode][tr], y[tr])
            for t in per:
                for d, o in enumerate(oof[t]):
                    o[te] = scores(model, cat[d][t][te], len(classes))
                for s, m in subsets.items():
                    sel = te & m
                    if sel.any():
                        row = mean_over_draws([metrics(y[sel], o[sel], classes) for o in oof[t]])
                        per[t][s].append(row | {"held_out": held})
        for t in per:
            res[t] = {s: {f"{k}_{f.__name__}": float(f([r[k] for r in rows]))
                          for k in ("accuracy", "uar") for f in (np.mean, np.std)} | {"folds": rows}
                      for s, rows in per[t].items()}
            gu = {name: mean_over_draws([metrics(y[sel], o[sel], classes) for o in oof[t]])
                  for name, sel in group_masks}
            u = {g: v["uar"] for g, v in gu.items()}
            res[t]["gender"] = {"groups": gu, "gap_male_female": abs(u["male"] - u["female"]),
                                "worst_gender": min(("male", "female"), key=u.get),
                                "gap_4_groups": max(u.values()) - min(u.values()), "worst_group": min(u, key=u.get)}
    return res, jfolds


def render(results: dict) -> str:
    lines = ["# voice-whisper: speaker / corpus normalisation (validation figures)", "",
             "Validation figures: speaker-independent CV on the shared corpora (RAVDESS actors 01-18, EmoDB; "
             f"official test splits withheld); features `{FEATURES}`, heads with fixed hyper-parameters "
             f"{results['hyper_parameters']} (no inner re-selection, so `none` differs slightly from the README's "
             "nested figures). Cross-corpus: 6 shared Ekman classes, train on all of one corpus, test on all of the "
             "other. Joint: ekman7, 6 folds, mean ± std over folds. Test-side variants of the `speaker*` heads: "
             f"`-kK` statistics from K random utterances of the speaker (mean of {DRAWS} draws), `-k8-same` from 8 "
             "utterances of the same emotion (worst case), `-neutral` from the speaker's neutral utterances. "
             "Caveat: in both corpora every speaker utters every emotion in near-equal numbers, so the `speaker` "
             "and `-kK` statistics average over a balanced emotion mix; `-k8-same` shows what a file in one mood "
             "does. Command: `" + results["command"] + "`.", ""]
    for kind, r in results["models"].items():
        t = README_TODAY[kind]
        lines += [f"## {kind}", "", f"README today (nested CV): RAVDESS → EmoDB UAR {t['ravdess->emodb']}, "
                  f"EmoDB → RAVDESS {t['emodb->ravdess']}, joint UAR {t['joint_uar']}.", "",
                  "| normalisation | RAV→EmoDB acc | UAR | EmoDB→RAV acc | UAR | mean cc UAR | joint acc | joint UAR "
                  "| joint→RAV UAR | joint→EmoDB UAR | UAR male | UAR female | gap M/F | worst of 4 (gap) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for mode, cc in r["cross_corpus"].items():
            a, b, j = cc["ravdess->emodb"], cc["emodb->ravdess"], r["joint"][mode]
            g = j["gender"]
            lines.append(
                f"| {mode} | {a['accuracy']:.1f} | {a['uar']:.1f} | {b['accuracy']:.1f} | {b['uar']:.1f} | "
                f"{(a['uar'] + b['uar']) / 2:.1f} | {j['all']['accuracy_mean']:.1f} ± {j['all']['accuracy_std']:.1f} | "
                f"{j['all']['uar_mean']:.1f} ± {j['all']['uar_std']:.1f} | {j['ravdess']['uar_mean']:.1f} | "
                f"{j['emodb']['uar_mean']:.1f} | {g['groups']['male']['uar']:.1f} | "
                f"{g['groups']['female']['uar']:.1f} | {g['gap_male_female']:.1f} | "
                f"{g['worst_group']} {g['groups'][g['worst_group']]['uar']:.1f} ({g['gap_4_groups']:.1f}) |")
        lines += ["", "Per-gender UAR, pooled joint out-of-fold predictions (RAVDESS odd actors male; EmoDB "
                  "03,10,11,12,15 male):", "", "| normalisation | " + " | ".join(
                      r["joint"]["none"]["gender"]["groups"]) + " |", "|---|" + "---|" * 6]
        for mode in ("none", "speaker", "speaker-k8", "speaker-neutral", "corpus"):
            gg = r["joint"][mode]["gender"]["groups"]
            lines.append(f"| {mode} | " + " | ".join(f"{v['uar']:.1f}" for v in gg.values()) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV))
    ap.add_argument("--models", default="logreg,mlp")
    ap.add_argument("--window-s", type=float, default=30.0,
                    help="encoder window of the cached features, s (30: the committed study; 10: the shipped "
                         "head's, written to results_speaker_norm_w10.*)")
    args = ap.parse_args()
    stem = "results_speaker_norm" + ("" if args.window_s == 30.0 else f"_w{args.window_s:g}")
    t0 = time.time()
    hps = hyper_parameters()
    tabs, xs = cached_tables(args.data_dir, FEATURES, args.window_s), [{} for _ in range(DRAWS)]
    # std floor: 1e-3 of the pooled std (guards near-constant dimensions in a few utterances)
    floor = 1e-3 * np.concatenate([t["x"] for t in tabs.values()]).std(0) + 1e-8
    for name, t in tabs.items():
        for d in range(DRAWS):
            xs[d][name] = variants(t["x"], t["speaker"], t["y_ekman"], d, floor)
    gender = np.concatenate([np.where(tabs["ravdess"]["speaker"].astype(int) % 2 == 1, "male", "female"),
                             np.where(np.isin(tabs["emodb"]["speaker"], list(EMODB_MALE)), "male", "female")])
    print(f"[{time.time() - t0:.0f}s] features {[t['x'].shape for t in tabs.values()]}", flush=True)
    results: dict = {"command": "python recipes/voice_whisper/speaker_norm_study.py --data-dir <data-dir>",
                     "features": FEATURES, "seed": SEED, "ks": KS, "draws": DRAWS, "units": "percent",
                     "validation": "speaker-independent CV on RAVDESS actors 01-18 + EmoDB (official tests withheld)",
                     "hyper_parameters": {}, "readme_today": README_TODAY, "models": {}}
    for kind in [k.strip() for k in args.models.split(",")]:
        hp = hps[kind]
        results["hyper_parameters"][kind] = hp
        cc = cross_corpus(kind, hp, tabs, xs)
        print(f"[{time.time() - t0:.0f}s] {kind} cross-corpus done", flush=True)
        jt, results["joint_folds"] = joint(kind, hp, tabs, xs, gender)
        results["models"][kind] = {"cross_corpus": cc, "joint": jt}
        for mode in cc:
            print(f"  {kind} {mode:22s} R->E {cc[mode]['ravdess->emodb']['uar']:.1f}  "
                  f"E->R {cc[mode]['emodb->ravdess']['uar']:.1f}  joint {jt[mode]['all']['uar_mean']:.1f}"
                  f" ± {jt[mode]['all']['uar_std']:.1f}  gap {jt[mode]['gender']['gap_male_female']:.1f}", flush=True)
        results["elapsed_s"] = time.time() - t0
        results["window_s"] = args.window_s
        (HERE / f"{stem}.json").write_text(json.dumps(results, indent=1, default=float))
        (HERE / f"{stem}.md").write_text(render(results))
    print(f"done [{time.time() - t0:.0f}s]")


if __name__ == "__main__":
    main()
