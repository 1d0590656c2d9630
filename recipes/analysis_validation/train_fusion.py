"""Train fusion models of the zoo over the experts' outputs on analysed training media (b)+(c).

Reads the analyses of the *training* clips (RAVDESS actors 01-14, FER2013 Training faces, MELD
train sentences; built by ``build_composite.py --split train`` and ``build_words.py --split
train`` and analysed with ``emofuse analyze``), turns every segment into one sample (per modality
its ekman7 distribution, reliability and certainty: ``fusion_dataset(inputs="probs+quality")``),
and trains each model with the one trainer, several seeds. Early stopping uses training actors
12-14 held out of the fit; the validation clips (actors 15-18) are never seen here — they decide
between the rule and the models in ``compare_fusion.py``.

    python recipes/analysis_validation/train_fusion.py --runs runs --out runs/fusion_models
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from fusion_sets import actor_of, labelled, load_set

from emofuse.analysis.fusion import RuleFusion, card_fusion_facts, refuse
from emofuse.analysis.fusion_trained import fusion_dataset
from emofuse.analysis.scoring import read_labels, score_analyses
from emofuse.models import create_model
from emofuse.train.trainer import TrainConfig, Trainer

SETS = ("train_composite", "train_words")
EXPERTS = {"text": "text-goemotions", "audio": "voice-whisper", "face": "face-fer2013"}
EARLY_STOP_ACTORS = (12, 13, 14)
MODELS = {"late_weighted": {"hidden": 32, "dropout": 0.2}, "gated": {"hidden": 32, "dropout": 0.2},
          "early_concat": {"hidden": 32, "dropout": 0.2}}


def training_samples(runs: Path, name: str, drop_text: bool, voice_from: str | None) -> tuple[list, list, list]:
    """Results, per-segment labels (the clip's label) and actor of each analysed clip of a set."""
    results, labs, actors = [], [], []
    for res, row in labelled(runs, name, load_set(runs, name, voice_from)):
        if drop_text:  # the same clip as analysed without speech recognition
            res = refuse(res, lambda mods: (None, {}), drop=("text",))
            res.source += "#no-asr"  # its own sample ids
        results.append(res)
        labs.append([row["label"]] * len(res.segments))
        actors.append(actor_of(res.source))
    return results, labs, actors


GAMMAS = (0.0, 0.5, 1.0, 2.0)
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def tune_rule(runs: Path, voice_from: str | None) -> dict[str, Any]:
    """Pick the evidence rule's ``γ`` and ``α`` on the training clips: best mean fused UAR over
    train_composite (with and without ASR) and train_words."""
    facts = {m: card_fusion_facts(n) for m, n in EXPERTS.items()}
    priors, absent = {m: f[0] for m, f in facts.items()}, {m: f[1] for m, f in facts.items()}
    sets = [(name, load_set(runs, name, voice_from)) for name in SETS]
    views = [(n, res, d) for n, res in sets for d in ((), ("text",)) if d == () or n == "train_composite"]
    grid = []
    for g in GAMMAS:
        for a in ALPHAS:
            fz = RuleFusion("evidence", priors, absent, g, a)
            uars = [score_analyses(res, read_labels(runs / n / "labels.csv"), unit="label", fuser=fz,
                                   drop=d)["overall"]["fused"]["uar"] for n, res, d in views]
            grid.append({"certainty_power": g, "neutral_absence": a, "train_uar_mean": float(np.mean(uars)),
                         "train_uar_per_view": [round(u, 4) for u in uars]})
            print(f"evidence γ={g:g} α={a:g}: training-clip UAR {np.mean(uars):.3f} {grid[-1]['train_uar_per_view']}")
    best = max(grid, key=lambda r: r["train_uar_mean"])
    return {"best": best, "grid": grid, "views": [f"{n}{' no ASR' if d else ''}" for n, _, d in views]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs"))
    ap.add_argument("--out", type=Path, default=Path("runs/fusion_models"))
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--inputs", default="probs+quality", choices=["probs", "probs+quality"])
    ap.add_argument("--modality-dropout", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--voice-from", default=None, help="voice readings from runs/<set>/<this> (fusion_sets.py)")
    ap.add_argument("--rule-only", action="store_true", help="tune the rule, train no model")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rule = tune_rule(args.runs, args.voice_from)
    (args.out / "rule_tuning.json").write_text(json.dumps(rule, indent=2) + "\n", encoding="utf-8")
    print("rule chosen on the training clips:", rule["best"])
    if args.rule_only:
        return
    results, labs, actors = [], [], []
    for name in SETS:
        for drop in (False, True) if name == "train_composite" else (False,):
            r, lab, act = training_samples(args.runs, name, drop, args.voice_from)
            results += r
            labs += lab
            actors += act
    ds = fusion_dataset(results, labs, inputs=args.inputs, groups={"actor": actors})
    actor = np.asarray(ds.groups["actor"]).astype(int)
    stop = np.isin(actor, EARLY_STOP_ACTORS)
    fit, early = ds.subset(np.where(~stop)[0]), ds.subset(np.where(stop)[0])
    print(f"{len(ds)} segments from {len(results)} analyses: fit {len(fit)} (actors 1-11), "
          f"early stopping {len(early)} (actors {EARLY_STOP_ACTORS})")
    summary = {}
    for model_name in args.models:
        scores = []
        for seed in args.seeds:
            cfg = TrainConfig(epochs=args.epochs, batch_size=64, lr=3e-3, weight_decay=1e-3, patience=30,
                              monitor="f1_macro", class_weights=True, modality_dropout=args.modality_dropout,
                              seed=seed, progress=False, threads=1)
            model = create_model(model_name, ds.spec, **MODELS.get(model_name, {}))
            target = args.out / f"{model_name}_s{seed}"
            res = Trainer(cfg).fit(model, fit, early, checkpoint_dir=target, card={
                "inputs": args.inputs, "voice_from": args.voice_from,
                "training_data": {"sets": list(SETS), "fit_actors": "RAVDESS 01-11 + FER2013 Training + MELD train",
                                  "early_stopping_actors": list(EARLY_STOP_ACTORS),
                                  "note": "train_composite also enters with text dropped (as without ASR)"}})
            scores.append(res.best_metrics.get("f1_macro", float("nan")))
            print(f"{model_name} seed {seed}: early-stopping macro-F1 {scores[-1]:.3f} (epoch {res.best_epoch})")
        summary[model_name] = {"early_stop_f1_macro_mean": float(np.mean(scores)),
                               "early_stop_f1_macro_std": float(np.std(scores)), "seeds": args.seeds}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
