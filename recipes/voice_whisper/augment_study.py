"""Training-data augmentation of ``voice-whisper`` for recording conditions: does it buy noise robustness?

The head (``whisper+hc``, mlp, hidden 128, ``clf__alpha = 1.0``, fixed; no re-selection) is trained on
the clean RAVDESS (actors 01-18) + EmoDB files (before) or on those files plus ``--copies`` augmented
copies of every file (after; the conditions and their cache: ``augment.py`` in this folder: noise,
babble, reverberation, codecs, gain, speed, and ``vadpad``, the voice activity with digital silence
around it as ``emofuse analyze`` reads a segment). Features at the ``--window-s`` encoder window
(default 10 s, as ``train.py`` and at inference).

Validation (every figure a validation figure; official test splits withheld, never read):

(a) the joint ekman7 protocol of ``recipes/voice`` (6 folds of 3 RAVDESS actors + 1-2 EmoDB speakers):
    per fold the head is fitted on the training speakers' clean files (before) or clean + augmented
    copies (after; a test speaker's copies are never in training), and scored on the test speakers'
    clean files and on their augmented copies (noise drawn as in training: matched conditions);
(b) a validation-only head without RAVDESS actors 15-18, scored on their 240 files clean and under the
    conditions of ``recipes/robustness/voice.py`` (same seed, per-item seeds and babble bank), read
    through the shipped expert's feature path (``features_of``, the card's 10 s inference window), plus
    two codecs (cached too), and the files as ``analyze`` reads them (``vadpad 0.75``: a reading, not
    a recording condition, so outside the rule's corrupted mean). The clean-only head is that of
    ``train.py --exclude-speakers ravdess:15,16,17,18 --ship-only``: its column reproduces
    ``recipes/robustness/results/voice.md``.

Writes ``results_augment.{json,md}`` (``results_augment_c2.*`` with ``--copies 2``); with
``--write-weights`` and the rule met, the augmented head + card go to ``runs/voice_aug_heldout/weights``
(never the shipped weights). Rule, fixed before the run: joint and held-out clean UAR within 1.0 / 2.0
points of the clean-only head, mean held-out corrupted UAR +5 points.

    OMP_NUM_THREADS=1 python recipes/voice_whisper/augment_study.py --data-dir <data-dir> --write-weights
    # encoding (~3 min a copy with two processes) may be split first: --build-only --shard 0/2, 1/2
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
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import augment  # noqa: E402  (this folder)
import numpy as np  # noqa: E402
from _card import _mark_validation_only  # noqa: E402  (this folder)
from augment import BANK_ACTORS, CACHE, KINDS, WEIGHTS, aug_features, codec_roundtrip, vad_padded  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from train import HERE, REPO, SEED, feature_matrix, whisper_frames, whisper_key  # noqa: E402  (this folder)

from emofuse.data.corpora import DATA_DIR_ENV, load_corpus  # noqa: E402
from emofuse.evaluate.metrics import classification_metrics  # noqa: E402
from emofuse.experts.base import weights_dir, write_weights  # noqa: E402
from emofuse.experts.calibration import calibration_report  # noqa: E402
from emofuse.experts.voice import SAMPLE_RATE  # noqa: E402
from emofuse.media.audio import load_audio  # noqa: E402
from emofuse.robustness.experts import corrupt_items, item_seeds  # noqa: E402
from emofuse.train import speech  # noqa: E402
from emofuse.train.folds import iter_folds  # noqa: E402

SR = SAMPLE_RATE
HELD_OUT = ("15", "16", "17", "18")
#: Held-out conditions: those of recipes/robustness/voice.py (subset) and two codecs.
TEST_CONDITIONS = (("white_noise", 30), ("white_noise", 20), ("white_noise", 10), ("white_noise", 0),
                   ("babble_noise", 30), ("babble_noise", 10), ("reverb", 0.6), ("reverb", 1.0),
                   ("codec", "libopus-16"), ("codec", "libmp3lame-32"), ("vadpad", 0.75))
#: Not recording conditions: left out of the rule's mean over corrupted copies.
READING_CONDITIONS = ("vadpad 0.75",)
HP = {"clf__alpha": 1.0}
MAX_CLEAN_DROP, MAX_HELDOUT_DROP, MIN_NOISE_GAIN = 1.0, 2.0, 5.0


def test_features(corpus: object, shard: tuple[int, int]) -> dict[str, np.ndarray] | None:
    """Features of actors 15-18 clean and under every TEST_CONDITION, via the shipped expert's feature path."""
    from emofuse.experts import load_expert  # noqa: PLC0415

    test = [it for it in corpus.items if it.speaker in HELD_OUT]
    seeds = item_seeds(len(test), SEED)
    expert, items, bank, out = None, None, None, {}
    for j, (kind, level) in enumerate((("clean", None),) + TEST_CONDITIONS):
        cond = "clean" if level is None else f"{kind} {level}"
        f = CACHE / f"test-15-18-{whisper_key(10.0)}-{cond.replace(' ', '_')}.npy"
        if not f.is_file() and j % shard[1] == shard[0]:
            if expert is None:
                expert = load_expert("voice-whisper", threads=1)
                if expert.feature_set != "whisper+hc" or expert.encoder.window_frames != 1000:
                    raise SystemExit(f"shipped voice-whisper reads {expert.feature_set} at another window")
                items = [(load_audio(it.source, SR)[0], SR) for it in test]
                rng = np.random.default_rng(SEED)  # the babble bank of recipes/robustness/voice.py
                bank = []
                for actor in BANK_ACTORS:
                    pool = [it for it in corpus.items if it.speaker == actor]
                    bank += [(load_audio(pool[int(k)].source, SR)[0], SR) for k in
                             rng.choice(len(pool), size=min(4, len(pool)), replace=False)]
            if kind == "vadpad":
                waves = [(vad_padded(w, float(level)), sr) for w, sr in items]
            elif kind == "codec":
                codec, kbps = level.split("-")
                waves = [(codec_roundtrip(w, codec, float(kbps)), sr) for w, sr in items]
            else:
                ctx = {"bank": bank, "talkers": 4} if kind == "babble_noise" else {}
                waves = corrupt_items(items, kind, level, "audio", seeds, **ctx) if level is not None else items
            CACHE.mkdir(parents=True, exist_ok=True)
            np.save(f, expert.features(waves))
        if f.is_file():
            out[cond] = np.load(f)
    return out if len(out) == 1 + len(TEST_CONDITIONS) else None


def fit(x: np.ndarray, y: np.ndarray, seed: int = SEED) -> Pipeline:
    pipe = Pipeline([("scale", StandardScaler()), ("clf", speech.CANDIDATES["mlp"][0](seed))]).set_params(**HP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return pipe.fit(x, y)


def scores(model: Pipeline, x: np.ndarray) -> np.ndarray:
    out = np.full((len(x), len(speech.EKMAN)), -1e9)
    out[:, model.classes_] = np.log(np.clip(model.predict_proba(x), 1e-12, None))
    return out


def uar(y: np.ndarray, s: np.ndarray) -> float:
    return 100 * classification_metrics(y, s, classes=list(speech.EKMAN.classes))["uar"]


def joint(tabs: list[dict], aug: list[list[np.ndarray]], conds: list[str], t0: float) -> tuple[dict, dict]:
    """(a): per-fold clean and matched-noisy UAR, before (clean) / after (clean + augmented) training."""
    folds = speech.speaker_folds(tabs)
    x, y, groups, masks, jfolds = speech.joint_table(tabs, folds)
    xa = [np.concatenate(c) for c in aug]  # per copy, rows as x
    fam = np.array([[c.split()[0] for c in cc] for cc in conds])  # (copies, N)
    res, oof = {}, {}
    for arm in ("before", "after"):
        per = {"clean": [], "noisy": [], "clean_ravdess": [], "clean_emodb": []}
        o_clean, o_noisy = np.zeros((len(y), 7)), np.zeros((len(xa), len(y), 7))
        fold_of = np.zeros(len(y), int)
        for k, _, tr, te in iter_folds(groups, jfolds):
            xt, yt = x[tr], y[tr]
            if arm == "after":  # only the training speakers' copies: a test speaker's never
                xt, yt = np.concatenate([xt] + [a[tr] for a in xa]), np.concatenate([yt] * (1 + len(xa)))
            model = fit(xt, yt)
            o_clean[te], fold_of[te] = scores(model, x[te]), k
            for c, a in enumerate(xa):
                o_noisy[c, te] = scores(model, a[te])
            per["clean"].append(uar(y[te], o_clean[te]))
            per["noisy"].append(float(np.mean([uar(y[te], o[te]) for o in o_noisy])))
            for n, m in masks.items():
                per[f"clean_{n}"].append(uar(y[te & m], o_clean[te & m]))
            print(f"[{time.time() - t0:5.0f}s] joint {arm} fold {k}: clean {per['clean'][-1]:.1f} "
                  f"noisy {per['noisy'][-1]:.1f}", flush=True)
        yy = np.tile(y, len(xa))
        flat, ff = o_noisy.reshape(-1, 7), fam.reshape(-1)
        res[arm] = {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "folds": v} for k, v in per.items()}
        res[arm]["noisy_by_condition_pooled"] = {f: uar(yy[ff == f], flat[ff == f]) for f in KINDS}
        oof[arm] = (o_clean, y, fold_of)
    res["folds"] = jfolds
    return res, oof


def condition_uars(model: Pipeline, test: dict, y: np.ndarray) -> dict[str, float]:
    out = {c: uar(y, scores(model, v)) for c, v in test.items()}
    return out | {"mean_corrupted": float(np.mean([v for c, v in out.items()
                                                   if not c.startswith("clean") and c not in READING_CONDITIONS]))}


def heldout(tabs: list[dict], aug: list[list[np.ndarray]], test: dict, y_test: np.ndarray, t0: float
            ) -> tuple[dict, dict]:
    """(b): heads without actors 15-18 scored on their files clean and under each condition."""
    rav, emo = tabs
    keep = [~np.isin(rav["speaker"], HELD_OUT), np.ones(len(emo["ids"]), bool)]
    x = np.concatenate([t["x"][k] for t, k in zip(tabs, keep, strict=True)])
    y = np.concatenate([t["y_ekman"][k] for t, k in zip(tabs, keep, strict=True)])
    xa = [np.concatenate([a[i][keep[i]] for i in range(2)]) for a in aug]
    res, models = {}, {}
    for arm in ("before", "after"):
        xt, yt = (x, y) if arm == "before" else (np.concatenate([x, *xa]), np.concatenate([y] * (1 + len(xa))))
        models[arm] = fit(xt, yt)
        # seed 0 (the shipped MLP seed) decides; seeds 1-4 show how much the 240 files move with initialisation
        runs = [condition_uars(m, test, y_test) for m in [models[arm]] + [fit(xt, yt, s) for s in range(1, 5)]]
        res[arm] = runs[0]
        res[f"{arm}_seeds"] = {c: {"mean": float(np.mean([r[c] for r in runs])),
                                   "std": float(np.std([r[c] for r in runs]))} for c in runs[0]}
        print(f"[{time.time() - t0:5.0f}s] held-out {arm}: " + ", ".join(
            f"{c} {v:.1f} ({res[f'{arm}_seeds'][c]['mean']:.1f})" for c, v in res[arm].items()), flush=True)
    res["n_train"] = {"before": int(len(y)), "after": int(len(y) * (1 + len(xa)))}
    return res, models


def write_head(model: Pipeline, results: dict, oof: tuple, out: Path, x_check: np.ndarray) -> dict:
    """Validation-only weights: head + a copy of the shipped card marked validation-only and augmented."""
    if out.resolve() == weights_dir("voice-whisper").resolve():
        raise SystemExit("refusing to write the shipped voice-whisper weights")
    fitted = SimpleNamespace(best_estimator_=model)  # what to_voice_head / check_export read
    head = speech.to_voice_head(fitted, x_check.shape[1])
    speech.check_export(fitted, head, x_check[:20])
    card = json.loads((weights_dir("voice-whisper") / "card.json").read_text())
    card.pop("speaker_norm", None)  # no speaker-normalised head is written here
    _mark_validation_only(card, {"ravdess": list(HELD_OUT)}, [])
    card["training_data"]["splits"] = {"note": "no cross-validation of this head itself: see metrics.augment_study "
                                       "(joint 6-fold protocol with all 18 actors; held-out actors 15-18)"}
    cal = calibration_report(*oof)
    card["calibration"].update(temperature=round(float(cal["temperature"]), 4), fitted_on=(
        "out-of-fold clean logits of the augmented head in the joint 6-fold protocol with all 18 actors "
        "(augment_study.py (a); the validation actors' folds included: an approximation)"))
    card["calibration"].update({k: round(float(v), 4) for k, v in cal.items() if k in card["calibration"]
                                and k != "temperature" and isinstance(v, float)})
    card["head"]["config"] = head.config.to_dict()
    card["head"]["selection"] = "fixed to the shipped card's configuration (clf__alpha = 1.0), not re-selected"
    card["training_data"]["augmentation"] = {
        "copies": results["copies"], "recipe": results["command"], "conditions": dict(zip(KINDS, WEIGHTS, strict=True)),
        "description": " ".join(augment.__doc__.split("\n\n")[1:3])}
    card["metrics"] = {"validation_only": True, "augment_study": {k: results[k] for k in ("joint", "heldout")}}
    write_weights(out, head, card)
    return card


def fmt(res: dict, key: str) -> str:
    return f"{res[key]['mean']:.1f} ± {res[key]['std']:.1f}"


def render(r: dict) -> str:
    j, h = r["joint"], r["heldout"]
    lines = ["# voice-whisper: augmentation for recording conditions (validation figures)", "",
             "Validation figures only (speaker-independent CV on RAVDESS actors 01-18 + EmoDB; official test splits "
             f"withheld). Head: `whisper+hc`, mlp 128, {HP} fixed; *before* = trained on clean files, *after* = "
             f"clean + {r['copies']} augmented cop{'y' if r['copies'] == 1 else 'ies'} of every training file "
             f"(condition mix {dict(zip(KINDS, WEIGHTS, strict=True))}). Command: `{r['command']}`.", "",
             "## (a) Joint ekman7 protocol, 6 folds (UAR %, mean ± std over folds)", "",
             "Noisy = the test speakers' own augmented copies (conditions drawn as in training: matched).", "",
             "| test files | before | after |", "|---|---|---|"]
    for key, name in (("clean", "clean, all"), ("clean_ravdess", "clean, RAVDESS"), ("clean_emodb", "clean, EmoDB"),
                      ("noisy", "augmented copies")):
        lines.append(f"| {name} | {fmt(j['before'], key)} | {fmt(j['after'], key)} |")
    lines += ["", "Copies by condition (pooled UAR %):", "", "| condition | before | after |", "|---|---|---|"]
    lines += [f"| {f} | {j['before']['noisy_by_condition_pooled'][f]:.1f} | "
              f"{j['after']['noisy_by_condition_pooled'][f]:.1f} |" for f in KINDS]
    lines += ["", "## (b) Validation-only head without RAVDESS actors 15-18, scored on their 240 files (UAR %)", "",
              "Conditions as `recipes/robustness/voice.py` (same seeds and babble bank, 4 talkers of actors "
              "01-14), features through the shipped expert's path (10 s inference window); `codec` = PyAV round "
              f"trip. Training rows: {h['n_train']['before']} before, {h['n_train']['after']} after. Seed 0 (the "
              "shipped head's MLP seed) decides; seeds 0-4 (mean ± std over MLP initialisations) show the spread.", "",
              "| condition | before | after | Δ | before, seeds 0-4 | after, seeds 0-4 | Δ, seeds 0-4 |",
              "|---|---|---|---|---|---|---|"]
    sb, sa = h["before_seeds"], h["after_seeds"]
    lines += [f"| {c} | {h['before'][c]:.1f} | {h['after'][c]:.1f} | {h['after'][c] - h['before'][c]:+.1f} | "
              f"{sb[c]['mean']:.1f} ± {sb[c]['std']:.1f} | {sa[c]['mean']:.1f} ± {sa[c]['std']:.1f} | "
              f"{sa[c]['mean'] - sb[c]['mean']:+.1f} |" for c in h["before"]]
    d = r["decision"]
    lines += ["", "## Decision", "", f"Rule (fixed before the run): {d['rule']}.",
              f"Joint clean Δ {d['joint_clean_delta']:+.1f}, held-out clean Δ {d['heldout_clean_delta']:+.1f}, "
              f"mean corrupted Δ {d['heldout_noise_gain']:+.1f} → **{'met' if d['met'] else 'not met'}**"
              + (f"; validation-only head written to `{d['weights']}`." if d.get("weights") else "."),
              "", "Shipped weights (`src/emofuse/experts/weights/voice-whisper`) untouched.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV))
    ap.add_argument("--copies", type=int, default=1, choices=(1, 2), help="augmented copies of every file")
    ap.add_argument("--window-s", type=float, default=10.0,
                    help="Whisper encoder window of the training features, s (train.py's default: 10, as at inference)")
    ap.add_argument("--shard", default="0/1", help="i/n: encode only every n-th chunk from i (parallel processes)")
    ap.add_argument("--build-only", action="store_true", help="fill the feature caches, then stop")
    ap.add_argument("--write-weights", type=Path, nargs="?", const=REPO / "runs" / "voice_aug_heldout" / "weights",
                    default=None, help="write the augmented validation-only head if the rule is met")
    args = ap.parse_args()
    shard = tuple(int(v) for v in args.shard.split("/"))
    t0 = time.time()
    corpora = {n: load_corpus(args.data_dir / n, format=n) for n in ("ravdess", "emodb")}
    aug = [[aug_features(n, c, k, shard, args.window_s) for n, c in corpora.items()] for k in range(args.copies)]
    test = test_features(load_corpus(args.data_dir / "ravdess", format="ravdess", label_space="ekman7"), shard)
    print(f"[{time.time() - t0:5.0f}s] caches built (shard {args.shard})", flush=True)
    if args.build_only:
        return
    if test is None or any(a is None for cc in aug for a in cc):
        raise SystemExit("feature caches incomplete (another shard still running?)")
    tabs = []  # clean features of every file, from train.py's caches
    for n, c in corpora.items():
        t = speech.handcrafted_table(n, c, REPO / "runs" / "voice" / "features")
        frames, _ = whisper_frames(n, c, REPO / "runs" / "voice_whisper" / "features", 1, 8, args.window_s)
        tabs.append(dict(t, x=feature_matrix("whisper+hc", frames, t["x"])))
    conds = [[c for _, cc in a for c in cc] for a in aug]
    aug_x = [[x for x, _ in a] for a in aug]
    rav_ek = load_corpus(args.data_dir / "ravdess", format="ravdess", label_space="ekman7")
    y_test = speech.EKMAN.encode([it.label for it in rav_ek.items if it.speaker in HELD_OUT])
    results: dict = {"command": "OMP_NUM_THREADS=1 python recipes/voice_whisper/augment_study.py --data-dir <data-dir>"
                                + (f" --copies {args.copies}" if args.copies != 1 else "")
                                + (f" --window-s {args.window_s:g}" if args.window_s != 10.0 else "")
                                + (" --write-weights" if args.write_weights else ""),
                     "validation": "speaker-independent CV on RAVDESS actors 01-18 + EmoDB; official tests withheld",
                     "seed": SEED, "copies": args.copies, "window_s": args.window_s, "features": "whisper+hc",
                     "model": "mlp", "hp": HP,
                     "units": "UAR percent", "condition_mix": dict(zip(KINDS, WEIGHTS, strict=True)),
                     "drawn": {f: sum(c.split()[0] == f for cc in conds for c in cc) for f in KINDS}}
    results["joint"], oof = joint(tabs, aug_x, conds, t0)
    results["heldout"], models = heldout(tabs, aug_x, test, y_test, t0)
    jb, ja, hb, ha = results["joint"]["before"], results["joint"]["after"], *(
        results["heldout"][a] for a in ("before", "after"))
    dec = {"joint_clean_delta": ja["clean"]["mean"] - jb["clean"]["mean"],
           "heldout_clean_delta": ha["clean"] - hb["clean"],
           "heldout_noise_gain": ha["mean_corrupted"] - hb["mean_corrupted"],
           "rule": f"joint clean UAR drop <= {MAX_CLEAN_DROP}, held-out clean drop <= {MAX_HELDOUT_DROP}, "
                   f"mean held-out corrupted UAR gain >= {MIN_NOISE_GAIN} points"}
    dec["met"] = bool(dec["joint_clean_delta"] >= -MAX_CLEAN_DROP and dec["heldout_clean_delta"] >= -MAX_HELDOUT_DROP
                      and dec["heldout_noise_gain"] >= MIN_NOISE_GAIN)
    results["decision"] = dec
    if dec["met"] and args.write_weights:
        write_head(models["after"], results, oof["after"], args.write_weights, test["clean"])
        dec["weights"] = os.path.relpath(args.write_weights, REPO)
    results["elapsed_s"] = time.time() - t0
    stem = "results_augment" + (f"_c{args.copies}" if args.copies != 1 else "")
    (HERE / f"{stem}.json").write_text(json.dumps(results, indent=1, default=float))
    (HERE / f"{stem}.md").write_text(render(results))
    print(f"done [{time.time() - t0:.0f}s]: {dec}", flush=True)


if __name__ == "__main__":
    main()
