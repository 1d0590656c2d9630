"""Model card of the voice expert: the JSON card and the README tables rendered from results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emofuse._version import __version__
from emofuse.cards import replace_block
from emofuse.labels import get_label_space
from emofuse.train import speech_card as sc

EKMAN = get_label_space("ekman7")
START, END = "<!-- results:start -->", "<!-- results:end -->"
RECIPE = "python recipes/voice/train.py --data-dir <data-dir>"


def build_card(results: dict, head_cfg: dict, best: str, feature_names: Any, shared: list[str]) -> dict:
    """The JSON model card (all emofuse REQUIRED_CARD_FIELDS)."""
    j = results["joint"][best]
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
        "ekman": sc.ekman_native(),
        "calibration": sc.calibration(results["shipped"]["calibration"]),
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
        "training_data": sc.training_data(results["n"], j.get("folds"), results["seed"], RECIPE),
        "metrics": sc.protocol_metrics(results, best, shared),
        "fusion": sc.fusion_block(best),
        "why_joint": "One expert is shipped, trained on both corpora in ekman7: fusion works in ekman7, so a "
                     "native ravdess8/emodb7 expert would lose calm/boredom anyway; joint training sees 26 "
                     "speakers and two languages instead of 18 or 8, which is what matters on unseen speakers "
                     "(cross-corpus transfer from one corpus alone falls sharply, see metrics.cross_corpus), and "
                     "its per-corpus ekman7 figures stay within fold noise of single-corpus models "
                     "(metrics.ekman7_single_corpus vs metrics.joint_ekman7).",
        "intended_use": sc.INTENDED_USE,
        "out_of_scope": sc.OUT_OF_SCOPE,
        "limitations": sc.LIMITATIONS,
        "licenses": sc.licenses("recipes/voice/train.py"),
        "citation": sc.citations(),
        "emofuse_version": __version__,
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
    replace_block(path, tables(results, card), START, END, title="Voice expert")
