"""Model card of the voice expert: the JSON card and the README tables rendered from results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emofuse.labels import get_label_space

EKMAN = get_label_space("ekman7")
START, END = "<!-- results:start -->", "<!-- results:end -->"

INTENDED_USE = [
    "The voice expert of emofuse's multimodal pipeline: a calibrated ekman7 distribution per speech "
    "utterance (about 1-5 s, one speaker), fused with the text and face experts.",
    "Research baselines for speaker-independent speech emotion recognition on acted corpora.",
    "Aggregate analysis over many utterances, where single-utterance errors average out.",
]
OUT_OF_SCOPE = [
    "Decisions about individuals (hiring, health, policing, education, customer scoring) without human review.",
    "Inferring what a person actually feels: the labels are the emotions actors were asked to portray.",
    "Long recordings without segmentation: statistics over a whole multi-minute file are meaningless; "
    "segment into utterances first.",
]
LIMITATIONS = [
    "Acted speech only: RAVDESS (24 North-American actors, two fixed sentences; actors 01-18 used) and EmoDB "
    "(10 German actors, 10 sentences; 8 speakers in this copy). Natural, spontaneous emotion is subtler; expect "
    "much lower accuracy on real conversations, call-centre audio or children's speech.",
    "Languages: English and German only. Prosody-based cues transfer partly across languages, but "
    "cross-corpus figures (see metrics.cross_corpus) fall far below within-corpus ones.",
    "Clip length: EmoDB files here are cut or zero-padded to exactly 2.0 s (utterances lose their ends); "
    "RAVDESS clips are 3-4 s with silence around the speech. Silence is excluded by an energy gate, but "
    "duration-related statistics are shaped by these clip lengths.",
    "Few speakers (26 in total): per-speaker differences (pitch range, voice quality) are large and "
    "speaker-independent accuracy varies a lot between held-out speakers (see the fold std).",
    "Clean studio recordings: no noise, reverberation, music, overlapping speakers or telephone-band audio "
    "in training; robustness to them is untested.",
    "Label mapping: RAVDESS calm and EmoDB boredom are mapped to neutral; RAVDESS is the only source of "
    "surprise (EmoDB has none), so surprise is learnt from English speakers only.",
    "Class balance differs by corpus (neutral is the largest ekman7 class after mapping); training used "
    "balanced class weights where the model allowed.",
    "Biases: gender-balanced actors, but young adult, mostly white North-American (RAVDESS) and German "
    "(EmoDB) speakers; untested for other ages, accents and voice types. Hand-crafted pitch statistics "
    "are absolute (semitones re 100 Hz), so a speaker's natural pitch can shift predictions.",
    "Validation figures only: the withheld RAVDESS actors 19-24 were not used; all selection used "
    "speaker-held-out inner folds of the training speakers, and the reported outer-fold figures are "
    "therefore nearly unbiased, but they come from few speakers.",
]
LICENSES = {
    "model": "Apache-2.0 (as emofuse); trained on the corpora below, whose terms apply to derived use",
    "training_data": {
        "RAVDESS": "CC BY-NC-SA 4.0 (Livingstone & Russo 2018) - non-commercial, share-alike",
        "EmoDB": "free for research use (Burkhardt et al. 2005)",
    },
    "note": "Because RAVDESS is CC BY-NC-SA, treat these weights as for non-commercial research unless you "
            "retrain on data you may use commercially (recipes/voice/train.py).",
}
CITATIONS = [
    "Livingstone, S. R., Russo, F. A. (2018). The Ryerson Audio-Visual Database of Emotional Speech and Song "
    "(RAVDESS). PLoS ONE 13(5).",
    "Burkhardt, F., Paeschke, A., Rolfes, M., Sendlmeier, W., Weiss, B. (2005). A Database of German "
    "Emotional Speech. Interspeech 2005.",
]


def _r(v: float) -> float:
    return round(float(v), 4)


def _ms(d: dict, key: str) -> dict[str, float]:
    return {"mean": _r(d[f"{key}_mean"]), "std": _r(d[f"{key}_std"])}


def build_card(results: dict, head_cfg: dict, best: str, version: str, feature_names: Any) -> dict:
    """The JSON model card (all emofuse REQUIRED_CARD_FIELDS)."""
    j = results["joint"][best]
    cal = results["shipped"]["calibration"]
    metrics: dict[str, Any] = {
        "protocol": "speaker-independent nested cross-validation (outer folds: held-out speakers; inner group "
                    "k-fold on the training speakers for hyper-parameters); mean +- std over outer folds",
        "joint_ekman7": {c: {"accuracy": _ms(j[c], "accuracy"), "uar": _ms(j[c], "uar"), "n_folds": j[c]["n_folds"]}
                         for c in ("all", "ravdess", "emodb")},
        "native": {c: {k: {"accuracy": _ms(v, "accuracy"), "uar": _ms(v, "uar"), "n_folds": v["n_folds"]}
                       for k, v in r.items()} for c, r in results["native"].items()},
        "ekman7_single_corpus": {c: {k: {"accuracy": _ms(v, "accuracy"), "uar": _ms(v, "uar")}
                                     for k, v in r.items()} for c, r in results["ekman_single"].items()},
        "cross_corpus": {k: {d: {"accuracy": _r(v["accuracy"]), "uar": _r(v["uar"]), "n": v["n"],
                                 "classes": list(get_label_space("ekman7").classes[:5]) + ["neutral"]}
                             for d, v in r.items()} for k, r in results["cross_corpus"].items()},
        "joint_per_class_recall_pooled": {k: _r(v) for k, v in j["all"]["pooled"]["per_class_recall"].items()},
    }
    return {
        "name": "voice-ekman",
        "modality": "audio",
        "label_space": "ekman7",
        "multilabel": False,
        "classes": list(EKMAN.classes),
        "description": "Ekman 6 + neutral from a speech utterance: 279 acoustic utterance statistics (log-mel, "
                       "MFCC + deltas, spectral shape, pitch and energy contours) and a "
                       f"{'linear (logistic regression)' if not head_cfg['hidden'] else 'one-hidden-layer MLP'} "
                       "head trained jointly on RAVDESS and EmoDB.",
        "ekman": {"classes": list(EKMAN.classes), "route": "native",
                  "how": "the native space is ekman7: the Ekman view is the same classifier, temperature-scaled"},
        "calibration": {
            "method": "temperature scaling of the ekman7 logits (softmax(z / T))",
            "temperature": _r(cal["temperature"]),
            "fitted_on": "out-of-fold logits of the joint speaker-independent cross-validation (6 folds)",
            "ece_n_bins": 15,
            "ece_before": _r(cal["ece_before"]),
            "ece_after": _r(cal["ece_after"]),
            "ece_after_crossfit": _r(cal["ece_after_crossfit"]),
            "nll_before": _r(cal["nll_before"]),
            "nll_after": _r(cal["nll_after"]),
            "nll_after_crossfit": _r(cal["nll_after_crossfit"]),
        },
        "head": {"type": best, "config": head_cfg, "hyper_parameters": results["shipped"]["chosen"],
                 "selection": "model family by mean outer-fold UAR of the joint protocol among exportable "
                              "candidates (logreg, mlp); hyper-parameters by a 6-fold group (speaker) CV on all "
                              "training speakers"},
        "backbone": {"type": "none (hand-crafted acoustic features, numpy/scipy)",
                     "module": "emofuse.experts.voice.utterance_features"},
        "preprocessing": {
            "sample_rate": 16000, "mono": True, "decoder": "soundfile (PyAV fallback), soxr resampling",
            "level_normalisation": "divide by the RMS of the loudest 10% of 25 ms frames",
            "frames": {"window_ms": 25, "hop_ms": 10, "n_fft": 512, "n_mels": 64, "fmin_hz": 50, "fmax_hz": 8000,
                       "n_mfcc": 20, "active_gate_db": 40, "pitch": "YIN-style CMND, 60-450 Hz, 50 ms window"},
            "n_features": len(feature_names),
            "min_duration_s": 0.25,
            "recommended_duration_s": "1-5 (one utterance)",
        },
        "training_data": {
            "corpora": [
                {"name": "RAVDESS speech", "speakers": "actors 01-18 (19-24 withheld)", "n": results["n"]["ravdess"],
                 "format": "mono 16 kHz FLAC", "native_space": "ravdess8", "mapping": "calm -> neutral"},
                {"name": "EmoDB", "speakers": "8 of 10 speakers", "n": results["n"]["emodb"],
                 "format": "mono 22.05 kHz WAV cut/padded to 2.0 s, resampled to 16 kHz",
                 "native_space": "emodb7", "mapping": "boredom -> neutral"},
            ],
            "label_space": "ekman7 (joint)",
            "splits": {"ravdess": "6 folds of 3 consecutive actors (01-03, 04-06, ...)",
                       "emodb": "leave-one-speaker-out (8 folds); in the joint protocol 1-2 EmoDB speakers "
                                "join each RAVDESS fold",
                       "joint_folds": j.get("folds")},
            "seed": results["seed"],
            "recipe": "python recipes/voice/train.py --data-dir /work/shared/data",
        },
        "metrics": metrics,
        "why_joint": "One expert is shipped, trained on both corpora in ekman7: fusion works in ekman7, so a "
                     "native ravdess8/emodb7 expert would lose calm/boredom anyway; joint training sees 26 "
                     "speakers and two languages instead of 18 or 8, which is what matters on unseen speakers "
                     "(cross-corpus transfer from one corpus alone falls sharply, see metrics.cross_corpus), and "
                     "its per-corpus ekman7 figures stay within fold noise of single-corpus models "
                     "(metrics.ekman7_single_corpus vs metrics.joint_ekman7).",
        "intended_use": INTENDED_USE,
        "out_of_scope": OUT_OF_SCOPE,
        "limitations": LIMITATIONS,
        "licenses": LICENSES,
        "citation": CITATIONS,
        "emofuse_version": version,
    }


def _fmt(d: dict, key: str) -> str:
    return f"{100 * d[f'{key}_mean']:.1f} ± {100 * d[f'{key}_std']:.1f}"


def tables(results: dict, card: dict) -> str:
    """Markdown tables of the validation results."""
    kinds = list(results["joint"])
    lines = ["### Native label spaces (speaker-independent, nested CV; % mean ± std over outer folds)", "",
             "| model | RAVDESS 8-class acc | RAVDESS UAR | EmoDB 7-class acc | EmoDB UAR |", "|---|---|---|---|---|"]
    for k in kinds:
        r, e = results["native"]["ravdess"][k], results["native"]["emodb"][k]
        lines.append(f"| {k} | {_fmt(r, 'accuracy')} | {_fmt(r, 'uar')} | {_fmt(e, 'accuracy')} | {_fmt(e, 'uar')} |")
    lines += ["", "### ekman7: single-corpus models vs the joint model (single: the native folds above; joint: 6 folds "
              "of 3 RAVDESS actors + 1-2 EmoDB speakers)", "",
              "| model | RAVDESS alone acc / UAR | EmoDB alone acc / UAR | joint → RAVDESS acc / UAR | "
              "joint → EmoDB acc / UAR | joint, all UAR |", "|---|---|---|---|---|---|"]
    for k in kinds:
        sr, se, j = results["ekman_single"]["ravdess"][k], results["ekman_single"]["emodb"][k], results["joint"][k]
        lines.append(f"| {k} | {_fmt(sr, 'accuracy')} / {_fmt(sr, 'uar')} | {_fmt(se, 'accuracy')} / "
                     f"{_fmt(se, 'uar')} | {_fmt(j['ravdess'], 'accuracy')} / {_fmt(j['ravdess'], 'uar')} | "
                     f"{_fmt(j['emodb'], 'accuracy')} / {_fmt(j['emodb'], 'uar')} | {_fmt(j['all'], 'uar')} |")
    lines += ["", "### Cross-corpus (train on all of one corpus, test on all of the other; 6 shared Ekman classes: "
              "anger, disgust, fear, happiness, sadness, neutral)", "",
              "| model | RAVDESS → EmoDB acc | UAR | EmoDB → RAVDESS acc | UAR |", "|---|---|---|---|---|"]
    for k in kinds:
        a, b = results["cross_corpus"][k]["ravdess->emodb"], results["cross_corpus"][k]["emodb->ravdess"]
        lines.append(f"| {k} | {100 * a['accuracy']:.1f} | {100 * a['uar']:.1f} | {100 * b['accuracy']:.1f} | "
                     f"{100 * b['uar']:.1f} |")
    cal = card["calibration"]
    best = card["head"]["type"]
    pcr = card["metrics"]["joint_per_class_recall_pooled"]
    lines += ["", f"### Shipped model: `{best}` {card['head']['hyper_parameters']}, joint ekman7", "",
              "Per-class recall (joint protocol, pooled out-of-fold): "
              + ", ".join(f"{c} {100 * v:.1f}" for c, v in pcr.items()) + ".", "",
              f"Calibration (15-bin top-label ECE on out-of-fold joint predictions): before {cal['ece_before']:.3f}, "
              f"after temperature T = {cal['temperature']:.3f}: {cal['ece_after']:.3f} "
              f"(cross-fitted, T fitted on the other folds: {cal['ece_after_crossfit']:.3f}); "
              f"NLL {cal['nll_before']:.3f} → {cal['nll_after']:.3f}."]
    return "\n".join(lines)


def render_readme(results: dict, card: dict, path: Path) -> None:
    """Replace the results block of the README (or append it)."""
    block = f"{START}\n{tables(results, card)}\n{END}"
    text = path.read_text(encoding="utf-8") if path.is_file() else f"# Voice expert\n\n{START}\n{END}\n"
    if START in text and END in text:
        text = text[:text.index(START)] + block + text[text.index(END) + len(END):]
    else:
        text += "\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
