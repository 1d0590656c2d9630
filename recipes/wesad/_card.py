"""Model card of ``physio-wesad`` and the README tables of the WESAD recipe."""

from __future__ import annotations

from pathlib import Path

from emofuse._version import __version__
from emofuse.cards import calibration_block, replace_block
from emofuse.experts.physio_features import FEATURES, GROUPS

START, END = "<!-- results:start -->", "<!-- results:end -->"
RECIPE = "python recipes/wesad/train.py --data-dir <data-dir>"
CLASSES = ["baseline", "stress", "amusement"]
ROUTING = {"baseline": {"neutral": 1.0}, "amusement": {"happiness": 1.0}, "stress": {"fear": 0.5, "anger": 0.5}}
SHADE = 0.4


def _ms(s: dict, k: str) -> dict:
    out = {"mean": round(s[f"{k}_mean"], 4), "fold_std": round(s[f"{k}_fold_std"], 4)}
    if s.get("seeds", 1) > 1:
        out["seed_std"] = round(s[f"{k}_seed_std"], 4)
    return out


def _view(s: dict) -> dict:
    return {"three_class": {"accuracy": _ms(s, "acc3"), "macro_f1": _ms(s, "f1_3")},
            "two_class": {"accuracy": _ms(s, "acc2"), "macro_f1": _ms(s, "f1_2")}}


def build_card(res: dict, head_cfg: dict, chosen: str, model_features: list[str], heads: dict) -> dict:
    """The JSON model card (every emofuse required card field)."""
    main = res["candidates"][chosen]
    cal = res["calibration"]
    head_kind = "one-hidden-layer MLP" if head_cfg["hidden"] else "linear (logistic regression)"
    gaps = {s["subject"]: round(s["acc3"], 4) for s in main["per_subject"]}
    worst = min(gaps, key=gaps.get)
    return {
        "name": "physio-wesad",
        "modality": "physio",
        "label_space": "wesad3",
        "multilabel": False,
        "classes": CLASSES,
        "description": (f"WESAD conditions (baseline, stress, amusement) from wrist physiology: {len(FEATURES)} "
                        "NeuroKit2 window features of BVP, EDA, skin temperature and acceleration over 60 s, "
                        f"z-scored against the wearer's own recording, and a {head_kind} head."),
        "ekman": {
            "classes": ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"],
            "route": "routing",
            "routing": ROUTING,
            "how": ("a limited, documented routing, not a measurement of Ekman categories: baseline -> neutral, "
                    "amusement -> happiness, stress -> fear and anger equally (the aroused negative states it "
                    "resembles; physiology cannot tell them apart); nothing goes to disgust, sadness or surprise"),
            "arousal_valence": {"anchors": {"baseline": [-0.4, 0.0], "stress": [0.7, -0.6], "amusement": [0.4, 0.7]},
                                "how": "expected value of the condition anchors (arousal, valence) in [-1, 1]"},
        },
        "calibration": {**calibration_block(
            1.0, "out-of-fold logits of the leave-one-subject-out validation (12 folds)",
            {k: cal[k] for k in ("ece_before", "ece_after", "ece_after_crossfit", "nll_before", "nll_after",
                                 "nll_after_crossfit")},
            method="temperature scaling of the native wesad3 logits (softmax(z / T)); the ekman7 view routes "
                   "the calibrated probabilities, so its own temperature is 1"),
            "native_temperature": round(float(cal["temperature"]), 4)},
        "head": {"type": "mlp" if head_cfg["hidden"] else "logreg", "config": head_cfg, "candidate": chosen,
                 "heads": {k: {"trained_without": list(v)} for k, v in heads.items()},
                 "use": "the 'all' head when the window has EDA (BVP may be missing), else 'no_eda'",
                 "selection": "best 3-class macro-F1 of the leave-one-subject-out validation among exportable heads",
                 "training": "each head refit on all 12 subjects"},
        "backbone": {"type": "none (NeuroKit2 signal processing + window statistics)",
                     "module": "emofuse.experts.physio_features"},
        "preprocessing": {
            "window_s": res["window_s"], "hop_s_training": res["hop_s"], "features": list(FEATURES),
            "model_features": model_features,
            "groups": {g: list(v) for g, v in GROUPS.items()},
            "signals": {"bvp": ">= 16 Hz (WESAD: 64 Hz)", "eda": "µS, >= 1 Hz (WESAD: 4 Hz)", "temp": "°C",
                        "acc": "g"},
            "neurokit2": "ppg_clean + ppg_findpeaks (elgendi) on BVP; eda_clean + eda_phasic (highpass) + eda_peaks",
            "normalisation": ("per wearer: z-score against the robust centre (median) and scale (IQR / 1.349) of "
                              "all the wearer's 60 s windows (every 10 s) in the recording; clipped to ±6"),
            "missing": ("a missing signal's features are set to the wearer's reference level (0 after z-scoring); "
                        "windows without EDA are read by the no_eda head"),
            "acceleration": "not read by the heads; its variability flags motion (lower reliability)",
            "reference_full_min": 20.0,
            "motion_threshold_g": res["motion"]["threshold_g"],
        },
        "training_data": {
            "corpora": [{"name": "WESAD (wrist, Empatica E4)", "subjects": res["subjects"],
                         "labels": "60 s windows with >= 90 % of their samples in one condition, every 5 s",
                         "use": "validation (leave one subject out) and the final refit"}],
            "withheld": "the 3 other WESAD subjects (official withheld split) were never read",
        },
        "metrics": {
            "protocol": "leave one subject out over the 12 shared WESAD subjects; mean over folds (subjects), "
                        "fold_std across subjects, seed_std across 5 seeds of the head",
            "loso": _view(main),
            "loso_missing": {k: _view(v) for k, v in res["missing"].items()},
            "loso_normalisation": {k: _view(v) for k, v in res["normalisations"].items()},
            "per_subject_acc3": gaps,
            "worst_subject": {"subject": worst, "acc3": gaps[worst],
                              "gap_to_mean": round(main["acc3_mean"] - gaps[worst], 4)},
            "importance_groups": res["importance"]["groups"],
        },
        "fusion": {
            "skill": [{"metric": "loso.three_class.accuracy.mean", "chance": 0.333333, "weight": 1.0}],
            "shade": SHADE,
            "note": (f"prior = {SHADE} x (3-class LOSO accuracy - chance): the laboratory protocol (TSST, funny "
                     "videos) is not everyday life, and the Ekman view is only a routing of three conditions"),
        },
        "intended_use": ("Research and prototyping: a slow, hard-to-fake signal of arousal (stress vs calm vs "
                         "amusement) from a wrist wearable, to be fused with voice, face and words. Not a "
                         "diagnostic or clinical stress measure."),
        "limitations": [
            "12 subjects of one laboratory study (WESAD): students in Germany, mostly male (WESAD reports 12 of "
            "15 participants male); no group report by gender or age is possible with the shared files, so "
            "group gaps are unmeasured beyond the per-subject spread (metrics.per_subject_acc3).",
            "Three conditions of one protocol: stress is the Trier Social Stress Test, amusement is funny video "
            "clips, baseline is seated reading. Other stressors, exercise, heat, caffeine or illness change the "
            "same signals.",
            "Per-wearer normalisation uses the recording's own distribution: a recording that is stressful "
            "throughout, or too short (reliability falls under 20 min), has a poor reference. The validation "
            "recordings each hold all conditions, which flatters this normalisation (see "
            "metrics.loso_normalisation for a known baseline and for none).",
            "Skin temperature carries much of the 3-class skill (permutation importance; without it the LOSO "
            f"accuracy is {100 * res['missing']['without temperature']['acc3_mean']:.1f} %, see "
            "metrics.loso_missing): in WESAD it partly follows the time course of one laboratory session "
            "(conditions in a fixed order, room and wristband warming), which need not hold elsewhere.",
            "Motion: the wrist BVP is easily corrupted by movement; windows above the motion threshold are "
            "flagged, read without their BVP features (EDA carries the reading) and get a lower reliability; "
            "motion artefacts are not removed (recipes/wesad/robustness.py measures the flag on real recordings "
            "with added artefacts). Motion without acceleration data cannot be seen.",
            "The Ekman view is a routing, not a measurement (see ekman.how).",
        ],
        "licenses": {"weights": "Apache-2.0 (this project)",
                     "training_data": "WESAD, CC BY 4.0 as listed by the UCI repository; cite Schmidt et al. 2018",
                     "neurokit2": "MIT"},
        "citation": "Schmidt, Reiss, Duerichen, Marberger, Van Laerhoven. Introducing WESAD, a multimodal dataset "
                    "for wearable stress and affect detection. ICMI 2018.",
        "recipe": RECIPE,
        "emofuse_version": __version__,
    }


def _pct(s: dict, k: str) -> str:
    txt = f"{100 * s[f'{k}_mean']:.1f} ± {100 * s[f'{k}_fold_std']:.1f}"
    if s.get("seeds", 1) > 1:
        txt += f" (seeds ± {100 * s[f'{k}_seed_std']:.1f})"
    return txt


def tables(res: dict, card: dict) -> str:
    rows = ["| head | shipped? | 3-class acc | 3-class macro-F1 | 2-class acc | 2-class macro-F1 |",
            "|---|---|---|---|---|---|"]
    for name, c in res["candidates"].items():
        mark = "**chosen**" if name == res["chosen"] else ("exportable" if c["exportable"] else "reference only")
        figs = " | ".join(_pct(c, k) for k in ("acc3", "f1_3", "acc2", "f1_2"))
        rows.append(f"| {name} | {mark} | {figs} |")
    out = ["### Leave-one-subject-out validation (12 subjects), % (mean ± std over subjects)", "", *rows, ""]
    out += ["### The chosen head under other conditions", "",
            "| condition | 3-class acc | 3-class macro-F1 | 2-class acc | 2-class macro-F1 |", "|---|---|---|---|---|"]
    conds = {"all signals, recording normalisation (shipped)": res["candidates"][res["chosen"]],
             **{f"normalisation: {k}": v for k, v in res["normalisations"].items() if k != "recording"},
             **{f"input: {k}": v for k, v in res["missing"].items()}}
    for k, c in conds.items():
        out.append(f"| {k} | {_pct(c, 'acc3')} | {_pct(c, 'f1_3')} | {_pct(c, 'acc2')} | {_pct(c, 'f1_2')} |")
    per = res["candidates"][res["chosen"]]["per_subject"]
    out += ["", "### Per subject (chosen head, seed 0), 3-class accuracy %", "",
            "| " + " | ".join(s["subject"] for s in per) + " |", "|" + "---|" * len(per),
            "| " + " | ".join(f"{100 * s['acc3']:.0f}" for s in per) + " |", ""]
    imp = res["importance"]
    out += ["### Permutation importance (drop in held-out 3-class macro-F1 when shuffled)", "",
            "| signal group | drop |", "|---|---|", *[f"| {g} | {v:.3f} |" for g, v in imp["groups"].items()], "",
            "Top features: " + ", ".join(f"{f} {v:.3f}" for f, v in list(imp["features"].items())[:8]) + ".", ""]
    m, cal = res["motion"], res["calibration"]
    out += [f"Motion flag: acc_std > {m['threshold_g']:.3f} g ({m['rule']}); flagged share per condition: "
            + ", ".join(f"{k} {100 * v:.0f} %" for k, v in m["flagged_share"].items()) + ".", "",
            f"Calibration: T = {cal['temperature']:.2f}; ECE {cal['ece_before']:.3f} → {cal['ece_after']:.3f} "
            f"(cross-fitted {cal['ece_after_crossfit']:.3f}). Fusion prior {card['fusion']['shade']} × "
            f"(accuracy − 1/3).", ""]
    return "\n".join(out)


def render_readme(res: dict, card: dict, path: Path) -> None:
    replace_block(path, tables(res, card), START, END, title="Results")
