"""Train and validate the voice expert (``voice-ekman``) and ship it into the package.

One command, fixed seed, CPU only (about 5-10 minutes on 2 cores):

    python recipes/voice/train.py --data-dir /work/shared/data

Steps:

1. decode every RAVDESS (actors 01-18, speech) and EmoDB file at 16 kHz and cache the
   utterance statistics of :func:`emofuse.experts.voice.utterance_features` as .npy under
   ``runs/voice/features/`` (reused while the feature set is unchanged);
2. speaker-independent validation, every protocol with hyper-parameters chosen by an *inner*
   group k-fold on the training speakers of each outer fold (nested CV: the held-out
   speakers never influence their own model):
   * native, per corpus: RAVDESS 8 classes, 6 folds of 3 actors; EmoDB 7 classes,
     leave-one-speaker-out over its 8 speakers;
   * ekman7, per corpus and jointly (both corpora, 6 folds each holding out 3 RAVDESS actors
     and 1-2 EmoDB speakers);
   * cross-corpus on the 6 shared Ekman classes (no surprise): RAVDESS → EmoDB and back;
3. temperature scaling of the joint model on its out-of-fold logits (ECE before/after,
   cross-fitted: the temperature applied to a fold is fitted on the other folds);
4. fit the shipped head (joint, ekman7) on all data, write ``head.safetensors`` + ``card.json``
   to ``src/emofuse/experts/weights/voice-ekman/`` and ``results.json`` + the README tables here.

The official RAVDESS actors 19-24 are withheld; every figure is a validation figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, GroupKFold  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402
from tqdm import tqdm  # noqa: E402

import emofuse  # noqa: E402
from emofuse.corpora import load_corpus  # noqa: E402
from emofuse.evaluate.metrics import classification_metrics  # noqa: E402
from emofuse.experts.base import weights_dir, write_weights  # noqa: E402
from emofuse.experts.calibration import expected_calibration_error, fit_temperature, nll  # noqa: E402
from emofuse.experts.voice import (  # noqa: E402
    FEATURE_NAMES,
    N_FEATURES,
    SAMPLE_RATE,
    VoiceEkmanExpert,
    VoiceHead,
    VoiceHeadConfig,
    utterance_features,
)
from emofuse.labels import get_label_space, get_mapping  # noqa: E402
from emofuse.media.audio import load_audio  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=ConvergenceWarning)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXPERT = VoiceEkmanExpert.name
SEED = 0
EKMAN = get_label_space("ekman7")
SHARED = ("anger", "disgust", "fear", "happiness", "sadness", "neutral")  # Ekman classes in both corpora


# --------------------------------------------------------------------------- data + features


#: Bump when utterance_features changes (the cache key; N_FEATURES is part of it too).
FEATURES_VERSION = 1


def feature_key() -> str:
    return hashlib.sha1(f"{FEATURES_VERSION}-{N_FEATURES}-{SAMPLE_RATE}".encode()).hexdigest()[:10]


def corpus_features(name: str, root: Path, cache: Path) -> dict:
    corpus = load_corpus(root, format=name)
    ids = corpus.ids()
    f = cache / f"{name}-{feature_key()}.npy"
    if f.is_file():
        x = np.load(f)
    else:
        rows = []
        for item in tqdm(corpus, desc=f"features {name}", unit="file"):
            wave, _ = load_audio(item.source, SAMPLE_RATE)
            rows.append(utterance_features(wave))
        x = np.stack(rows)
        cache.mkdir(parents=True, exist_ok=True)
        np.save(f, x)
        (cache / f"{name}-{feature_key()}.ids.json").write_text(json.dumps(ids))
    native = get_label_space("ravdess8" if name == "ravdess" else "emodb7")
    labels = corpus.labels()
    table = get_mapping(native.name, "ekman7")
    return {"name": name, "x": x, "ids": ids, "speaker": np.array([it.speaker for it in corpus]),
            "y_native": native.encode(labels), "native": native,
            "y_ekman": EKMAN.encode([table[lab] for lab in labels])}


def ravdess_folds(speakers: np.ndarray) -> list[list[str]]:
    actors = sorted(set(speakers))
    return [actors[i:i + 3] for i in range(0, len(actors), 3)]


def emodb_folds(speakers: np.ndarray) -> list[list[str]]:
    return [[s] for s in sorted(set(speakers))]


# --------------------------------------------------------------------------- models

CANDIDATES = {
    "logreg": (lambda: LogisticRegression(max_iter=3000, class_weight="balanced"),
               {"clf__C": [0.003, 0.01, 0.03, 0.1, 0.3]}),
    "mlp": (lambda: MLPClassifier(hidden_layer_sizes=(128,), max_iter=400, random_state=SEED),
            {"clf__alpha": [0.3, 1.0, 3.0]}),
    "svm-rbf": (lambda: SVC(kernel="rbf", class_weight="balanced", gamma="scale", random_state=SEED),
                {"clf__C": [1.0, 3.0, 10.0]}),
}


def fit_model(kind: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, inner_folds: int = 4):
    """Inner group k-fold (speakers) grid search on the training speakers only; refit on all of them."""
    make, grid = CANDIDATES[kind]
    pipe = Pipeline([("scale", StandardScaler()), ("clf", make())])
    n_groups = len(set(groups))
    search = GridSearchCV(pipe, grid, scoring="balanced_accuracy", cv=GroupKFold(min(inner_folds, n_groups)),
                          n_jobs=1, refit=True)
    search.fit(x, y, groups=groups)
    return search


def scores(model, x: np.ndarray) -> np.ndarray:
    """Log-probabilities (N, C) over the classes the model saw (columns = model.classes_)."""
    clf = model.best_estimator_ if hasattr(model, "best_estimator_") else model
    if hasattr(clf, "predict_proba") and not isinstance(clf[-1], SVC):
        return np.log(np.clip(clf.predict_proba(x), 1e-12, None))
    return clf.decision_function(x)


def full_scores(model, x: np.ndarray, n_classes: int) -> np.ndarray:
    s = scores(model, x)
    out = np.full((x.shape[0], n_classes), -1e9 if s.min() > -1e8 else s.min() - 1)
    out[:, model.classes_] = s
    return out


def cv(kind: str, x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: list[list[str]], n_classes: int,
       classes: tuple[str, ...], desc: str, subsets: dict[str, np.ndarray] | None = None) -> dict:
    """Outer leave-speakers-out CV; per-fold metrics, out-of-fold scores and chosen hyper-parameters."""
    oof = np.zeros((len(y), n_classes))
    fold_of = np.full(len(y), -1)
    per_fold: dict[str, list[dict]] = {k: [] for k in (subsets or {"all": None})}
    chosen = []
    for k, held in enumerate(tqdm(folds, desc=desc, unit="fold", leave=False)):
        te = np.isin(groups, held)
        tr = ~te
        model = fit_model(kind, x[tr], y[tr], groups[tr])
        chosen.append({p: v for p, v in model.best_params_.items()})
        oof[te] = full_scores(model, x[te], n_classes)
        fold_of[te] = k
        for name, mask in (subsets or {"all": np.ones(len(y), bool)}).items():
            sel = te & mask
            if sel.any():
                m = classification_metrics(y[sel], oof[sel], classes=classes)
                per_fold[name].append({"accuracy": m["accuracy"], "uar": m["uar"], "held_out": held})
    if (fold_of < 0).any():
        raise RuntimeError("some samples were never held out")
    summary = {}
    for name, rows in per_fold.items():
        mask = (subsets or {"all": np.ones(len(y), bool)})[name]
        pooled = classification_metrics(y[mask], oof[mask], classes=classes)
        summary[name] = {
            "accuracy_mean": float(np.mean([r["accuracy"] for r in rows])),
            "accuracy_std": float(np.std([r["accuracy"] for r in rows])),
            "uar_mean": float(np.mean([r["uar"] for r in rows])),
            "uar_std": float(np.std([r["uar"] for r in rows])),
            "n_folds": len(rows),
            "pooled": {k: pooled[k] for k in ("accuracy", "uar", "per_class_recall", "confusion_matrix", "support")},
            "folds": rows,
        }
    return {"model": kind, "summary": summary, "chosen": chosen, "oof": oof, "fold_of": fold_of}


def cross_corpus(kind: str, src: dict, dst: dict) -> dict:
    """Train on all of ``src`` (shared Ekman classes), test on all of ``dst`` (same classes)."""
    shared = EKMAN.encode(SHARED)
    ms, md = np.isin(src["y_ekman"], shared), np.isin(dst["y_ekman"], shared)
    model = fit_model(kind, src["x"][ms], src["y_ekman"][ms], src["speaker"][ms])
    s = full_scores(model, dst["x"][md], len(EKMAN))[:, shared]
    remap = {int(c): i for i, c in enumerate(shared)}
    y = np.array([remap[int(v)] for v in dst["y_ekman"][md]])
    m = classification_metrics(y, s, classes=SHARED)
    return {"model": kind, "chosen": model.best_params_, "accuracy": m["accuracy"], "uar": m["uar"],
            "per_class_recall": m["per_class_recall"], "confusion_matrix": m["confusion_matrix"], "n": m["n"]}


# --------------------------------------------------------------------------- shipping


def to_head(model, n_features: int = N_FEATURES) -> tuple[VoiceHead, dict]:
    """Copy a fitted scaler + logistic regression / MLP into a :class:`VoiceHead` of ``n_features`` inputs."""
    pipe = model.best_estimator_
    scaler, clf = pipe["scale"], pipe["clf"]
    if list(clf.classes_) != list(range(len(EKMAN))):
        raise RuntimeError(f"shipped model must see all 7 classes, saw {clf.classes_}")
    hidden = clf.hidden_layer_sizes[0] if isinstance(clf, MLPClassifier) else 0
    head = VoiceHead(VoiceHeadConfig(n_features=n_features, hidden=hidden, num_labels=len(EKMAN)))
    with torch.no_grad():
        head.mean.copy_(torch.as_tensor(scaler.mean_, dtype=torch.float32))
        head.scale.copy_(torch.as_tensor(scaler.scale_, dtype=torch.float32))
        if hidden:
            head.net[0].weight.copy_(torch.as_tensor(clf.coefs_[0].T, dtype=torch.float32))
            head.net[0].bias.copy_(torch.as_tensor(clf.intercepts_[0], dtype=torch.float32))
            head.net[2].weight.copy_(torch.as_tensor(clf.coefs_[1].T, dtype=torch.float32))
            head.net[2].bias.copy_(torch.as_tensor(clf.intercepts_[1], dtype=torch.float32))
        else:
            head.net[0].weight.copy_(torch.as_tensor(clf.coef_, dtype=torch.float32))
            head.net[0].bias.copy_(torch.as_tensor(clf.intercept_, dtype=torch.float32))
    return head.eval(), head.config.to_dict()


def calibration(oof: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> dict:
    """ECE/NLL before and after temperature scaling; cross-fitted and on all OOF logits."""
    t_all = fit_temperature(oof, y)
    cf = np.zeros_like(oof)
    temps = []
    for k in np.unique(fold_of):
        te = fold_of == k
        t = fit_temperature(oof[~te], y[~te])
        temps.append(t)
        cf[te] = oof[te] / t

    def prob(z: np.ndarray) -> np.ndarray:
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    return {"temperature": t_all, "crossfit_temperatures": temps,
            "ece_before": expected_calibration_error(prob(oof), y), "ece_after": expected_calibration_error(
                prob(oof / t_all), y), "ece_after_crossfit": expected_calibration_error(prob(cf), y),
            "nll_before": nll(oof, y), "nll_after": nll(oof, y, t_all), "nll_after_crossfit": nll(cf, y)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("EMOFUSE_DATA_DIR", "/work/shared/data")))
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "voice")
    ap.add_argument("--models", default="logreg,mlp,svm-rbf", help="candidates to validate (comma-separated)")
    ap.add_argument("--out", type=Path, default=weights_dir(EXPERT))
    args = ap.parse_args(argv)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    t0 = time.time()
    cache = args.runs / "features"
    rav = corpus_features("ravdess", args.data_dir / "ravdess", cache)
    emo = corpus_features("emodb", args.data_dir / "emodb", cache)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    results: dict = {"native": {}, "ekman_single": {}, "joint": {}, "cross_corpus": {}, "seed": SEED,
                     "n": {"ravdess": len(rav["ids"]), "emodb": len(emo["ids"])}, "n_features": N_FEATURES}
    oofs = {}
    for kind in kinds:
        for c, folds in ((rav, ravdess_folds(rav["speaker"])), (emo, emodb_folds(emo["speaker"]))):
            r = cv(kind, c["x"], c["y_native"], c["speaker"], folds, len(c["native"]), c["native"].classes,
                   f"{kind} {c['name']} native")
            results["native"].setdefault(c["name"], {})[kind] = {**r["summary"]["all"], "chosen": r["chosen"]}
            r = cv(kind, c["x"], c["y_ekman"], c["speaker"], folds, len(EKMAN), EKMAN.classes,
                   f"{kind} {c['name']} ekman7")
            results["ekman_single"].setdefault(c["name"], {})[kind] = {**r["summary"]["all"], "chosen": r["chosen"]}
        # joint: both corpora, 6 folds (3 RAVDESS actors + 1-2 EmoDB speakers each)
        x = np.concatenate([rav["x"], emo["x"]])
        y = np.concatenate([rav["y_ekman"], emo["y_ekman"]])
        groups = np.concatenate([np.char.add("ravdess-", rav["speaker"]), np.char.add("emodb-", emo["speaker"])])
        is_rav = np.r_[np.ones(len(rav["ids"]), bool), np.zeros(len(emo["ids"]), bool)]
        emo_spk = sorted(set(emo["speaker"]))
        folds = [[f"ravdess-{a}" for a in g] for g in ravdess_folds(rav["speaker"])]
        for i, s in enumerate(emo_spk):
            folds[i % len(folds)].append(f"emodb-{s}")
        r = cv(kind, x, y, groups, folds, len(EKMAN), EKMAN.classes, f"{kind} joint ekman7",
               subsets={"all": np.ones(len(y), bool), "ravdess": is_rav, "emodb": ~is_rav})
        results["joint"][kind] = {**r["summary"], "chosen": r["chosen"], "folds": folds}
        if kind != "svm-rbf":
            results["joint"][kind]["calibration"] = calibration(r["oof"], y, r["fold_of"])
        oofs[kind] = r
        results["cross_corpus"][kind] = {"ravdess->emodb": cross_corpus(kind, rav, emo),
                                         "emodb->ravdess": cross_corpus(kind, emo, rav)}
        print(f"[{time.time() - t0:6.0f}s] {kind}: " + ", ".join(
            f"{c} native UAR {results['native'][c][kind]['uar_mean']:.3f}" for c in ("ravdess", "emodb"))
            + f"; joint UAR {results['joint'][kind]['all']['uar_mean']:.3f}", flush=True)

    # ship: the best exportable candidate on the joint protocol (mean fold UAR)
    shippable = [k for k in kinds if k in ("logreg", "mlp")]
    best = max(shippable, key=lambda k: results["joint"][k]["all"]["uar_mean"])
    x = np.concatenate([rav["x"], emo["x"]])
    y = np.concatenate([rav["y_ekman"], emo["y_ekman"]])
    groups = np.concatenate([np.char.add("ravdess-", rav["speaker"]), np.char.add("emodb-", emo["speaker"])])
    model = fit_model(best, x, y, groups, inner_folds=6)
    head, head_cfg = to_head(model)
    with torch.no_grad():
        ref = model.best_estimator_.predict_proba(x[:20])
        got = torch.softmax(head(torch.as_tensor(x[:20])), 1).numpy()
    if not np.allclose(ref, got, atol=1e-4):
        raise RuntimeError(f"exported head disagrees with sklearn (max diff {np.abs(ref - got).max():.2g})")
    results["shipped"] = {"model": best, "chosen": {k: v for k, v in model.best_params_.items()},
                          "calibration": results["joint"][best]["calibration"]}

    from _card import build_card, render_readme  # noqa: PLC0415

    card = build_card(results, head_cfg, best, emofuse.__version__, FEATURE_NAMES)
    write_weights(args.out, head, card)
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / "results.json").write_text(json.dumps(results, indent=1, default=float))
    (HERE / "results.json").write_text(json.dumps(strip(results), indent=1, default=float))
    render_readme(results, card, HERE / "README.md")
    # sanity: the shipped expert loads and reproduces the sklearn probabilities from files
    expert = VoiceEkmanExpert.from_dir(args.out)
    out = expert.predict([rav_path for rav_path in load_corpus(args.data_dir / "emodb", format="emodb").sources()[:3]])
    print("shipped", best, model.best_params_, "weights", args.out, "T", card["calibration"]["temperature"],
          "example", out.ekman_labels(), f"[{time.time() - t0:.0f}s]")


def strip(results: dict) -> dict:
    """results without the bulky per-fold/pooled arrays (for the committed results.json)."""
    return json.loads(json.dumps(results, default=float))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
