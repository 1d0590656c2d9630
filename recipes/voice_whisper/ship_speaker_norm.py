"""Fit, validate and ship the speaker-normalised head of ``voice-whisper`` (``speaker_head.safetensors``).

The head is the shipped head's configuration (features, mlp, hyper-parameters from the card)
trained on features z-scored per speaker over all of that speaker's files
(:mod:`emofuse.experts.speaker_norm`; study: ``speaker_norm_study.py``). Validation (joint
RAVDESS + EmoDB ekman7 protocol, 6 speaker folds, fixed hyper-parameters) gives its temperature
and the figures written to the card: the normalised head with statistics over all of a held-out
speaker's files, and the product's blend (plain + normalised, weight from the number of
utterances) when the statistics come from K random utterances of the speaker, or from 8 of one
emotion (a recording in one mood). Every figure is a validation figure (official tests withheld).

    python recipes/voice_whisper/ship_speaker_norm.py --data-dir <data-dir>        # shipped weights, ~4 min
    python recipes/voice_whisper/ship_speaker_norm.py --data-dir <data-dir> \\
        --exclude-speakers ravdess:15,16,17,18 --weights runs/voice_whisper_heldout/weights

Needs the feature caches of ``train.py`` (``runs/voice_whisper/features``, ``runs/voice/features``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from speaker_norm_study import fit, hyper_parameters, scores  # noqa: E402  (this folder)
from train import SEED, cached_tables, parse_exclusions  # noqa: E402

from emofuse import cards  # noqa: E402
from emofuse.data.corpora import DATA_DIR_ENV  # noqa: E402
from emofuse.evaluate.metrics import classification_metrics  # noqa: E402
from emofuse.experts.base import weights_dir  # noqa: E402
from emofuse.experts.calibration import fit_temperature  # noqa: E402
from emofuse.experts.speaker_norm import SpeakerNormConfig, SpeakerNormHead, SpeakerStats, write_speaker_norm  # noqa: E402
from emofuse.train import speech  # noqa: E402
from emofuse.train.folds import iter_folds  # noqa: E402

KS = (8, 12, 16)
LIMITATION = ("speaker normalisation (opt-in: evaluate --speaker-norm, analysis voice_speaker_norm) assumes the "
              "statistics come from several utterances of ONE person showing SEVERAL emotions: it is blended in "
              "from 8 utterances and fully from 16; statistics from utterances of a single emotion remove that "
              "emotion (about chance level at full weight), and people taking turns in one recording are mixed")


def add_limitation(card: dict) -> dict:
    """The card with the speaker-normalisation limitation listed once."""
    lim = [x for x in card.get("limitations", []) if not x.startswith("speaker normalisation (opt-in")]
    return dict(card, limitations=lim + [LIMITATION])
DRAWS = 3


def softmax(v: np.ndarray, t: float = 1.0) -> np.ndarray:
    e = np.exp((v - v.max(1, keepdims=True)) / t)
    return e / e.sum(1, keepdims=True)


def per_speaker(x: np.ndarray, groups: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Each group's rows z-scored with that group's statistics (the library's :class:`SpeakerStats`)."""
    out = np.empty_like(x, dtype=np.float32)
    for g in np.unique(groups):
        rows = groups == g
        out[rows] = SpeakerStats(x.shape[1]).update(x[rows]).normalise(x[rows], floor)
    return out


def blended_oof(x: np.ndarray, y: np.ndarray, groups: np.ndarray, te: np.ndarray, plain: np.ndarray,
                norm_model: object, t_plain: float, t_norm: float, cfg: SpeakerNormConfig, floor: np.ndarray,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Calibrated blended distributions of the test rows ``te`` for each statistics variant."""
    out = {f"k{k}": np.zeros((len(y), 7)) for k in KS} | {"k8-same": np.zeros((len(y), 7))}
    for r in np.flatnonzero(te):
        rows = np.flatnonzero(groups == groups[r])
        picks = {f"k{k}": np.r_[r, rng.choice(rows[rows != r], k - 1, replace=False)] for k in KS}
        same = rows[(y[rows] == y[r]) & (rows != r)]
        picks["k8-same"] = np.r_[r, rng.choice(same, min(7, len(same)), replace=False)]
        for name, pick in picks.items():
            w = cfg.weight(len(pick))
            z = SpeakerStats(x.shape[1]).update(x[pick]).normalise(x[r][None], floor)
            pn = softmax(scores(norm_model, z, 7), t_norm)[0]
            out[name][r] = (1 - w) * softmax(plain[r][None], t_plain)[0] + w * pn
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV))
    ap.add_argument("--weights", type=Path, default=weights_dir("voice-whisper"),
                    help="voice-whisper weights folder to add the head to (default the shipped one)")
    ap.add_argument("--exclude-speakers", nargs="+", metavar="CORPUS:IDS", default=None)
    ap.add_argument("--window-s", type=float, default=None,
                    help="encoder window of the cached features, s (default the card's train_window_s, else 30)")
    args = ap.parse_args()
    t0 = time.time()
    card = json.loads((args.weights / "card.json").read_text())
    kind = card["head"]["type"]
    hp = hyper_parameters()[kind]
    excluded = parse_exclusions(args.exclude_speakers)
    window = args.window_s or float(card["preprocessing"].get("train_window_s", 30.0))
    tabs = list(cached_tables(args.data_dir, card["preprocessing"]["features"], window, excluded).values())
    x, y, groups, masks, jfolds = speech.joint_table(tabs, speech.speaker_folds(tabs))
    floor = 1e-3 * x.std(0) + 1e-8  # as in the study: guards near-constant dimensions of a few utterances
    z = per_speaker(x, groups, floor)
    classes = list(speech.EKMAN.classes)
    oof_plain, oof_norm = np.zeros((len(y), 7)), np.zeros((len(y), 7))
    models = []
    for _, _held, tr, te in iter_folds(groups, jfolds):
        mp, mn = fit(kind, hp, x[tr], y[tr]), fit(kind, hp, z[tr], y[tr])
        oof_plain[te], oof_norm[te] = scores(mp, x[te], 7), scores(mn, z[te], 7)
        models.append((te, mn))
    print(f"[{time.time() - t0:.0f}s] out-of-fold readings of {len(y)} files", flush=True)
    t_plain, t_norm = fit_temperature(oof_plain, y), fit_temperature(oof_norm, y)
    cfg = SpeakerNormConfig(temperature=round(float(t_norm), 4))
    figures = {"plain": classification_metrics(y, oof_plain, classes=classes),
               "speaker_all_files": classification_metrics(y, oof_norm, classes=classes)}
    draws: dict[str, list] = {}
    for d in range(DRAWS):
        rng = np.random.default_rng([SEED, d])
        acc = {}
        for te, mn in models:
            for name, p in blended_oof(x, y, groups, te, oof_plain, mn, t_plain, t_norm, cfg, floor, rng).items():
                acc[name] = acc.get(name, 0) + p
        for name, p in acc.items():
            draws.setdefault(name, []).append(classification_metrics(y, np.log(np.clip(p, 1e-12, None)),
                                                                     classes=classes))
    table = {k: {"accuracy": 100 * v["accuracy"], "uar": 100 * v["uar"]} for k, v in figures.items()}
    for name, ms in draws.items():
        table[f"blend-{name}"] = {"accuracy": float(np.mean([100 * m["accuracy"] for m in ms])),
                                  "uar": float(np.mean([100 * m["uar"] for m in ms])),
                                  "uar_std_over_draws": float(np.std([100 * m["uar"] for m in ms]))}
    for k, v in table.items():
        print(f"  {k:22s} acc {v['accuracy']:.1f}  UAR {v['uar']:.1f}", flush=True)

    final = fit(kind, hp, z, y)
    head = speech.to_voice_head(SimpleNamespace(best_estimator_=final), x.shape[1])
    module = SpeakerNormHead(head.config)
    module.head.load_state_dict(head.state_dict())
    with torch.no_grad():
        module.floor.copy_(torch.as_tensor(floor, dtype=torch.float32))
    speech.check_export(SimpleNamespace(best_estimator_=final), module.head, z[:20])
    validation = {"protocol": "joint RAVDESS + EmoDB ekman7, 6 speaker folds, fixed hyper-parameters "
                              f"{hp}; validation figures (official tests withheld)",
                  "excluded_speakers": excluded, "n_files": int(len(y)), "temperature_plain_oof": float(t_plain),
                  "percent": table,
                  "variants": {"speaker_all_files": "normalised head, statistics over all files of the speaker",
                               "blend-kK": "the product's blend, statistics from K random files of the speaker "
                                           f"(itself included; mean of {DRAWS} draws)",
                               "blend-k8-same": "statistics from 8 files of the same emotion (one mood)"}}
    card["speaker_norm"] = write_speaker_norm(args.weights, module.eval(), cfg, {
        "features": card["preprocessing"]["features"], "hyper_parameters": hp, "validation": validation,
        "train_window_s": window,
        "command": "python recipes/voice_whisper/ship_speaker_norm.py --data-dir <data-dir>" + (
            " --exclude-speakers " + " ".join(args.exclude_speakers) if args.exclude_speakers else "")})
    cards.write_card(args.weights, add_limitation(card), kind="expert")
    print(f"wrote {args.weights} (temperature {cfg.temperature}) [{time.time() - t0:.0f}s]")


if __name__ == "__main__":
    main()
