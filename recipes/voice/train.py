"""Train and validate the voice expert (``voice-ekman``) and ship it into the package.

One command, fixed seed, CPU only (about 5-10 minutes on 2 cores):

    python recipes/voice/train.py --data-dir <data-dir>     # or set EMOFUSE_DATA_DIR

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

The protocol itself (folds, candidates, nested CV, export) is library code shared with
``recipes/voice_whisper``: :mod:`emofuse.train.folds`, :mod:`emofuse.train.speech`. A smoke
run: ``--limit 4 --models logreg --runs /tmp/voice-smoke --out /tmp/voice-smoke/head --no-readme``.

The official RAVDESS actors 19-24 are withheld; every figure is a validation figure.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _card import build_card, render_readme  # noqa: E402  (this recipe's folder, first on sys.path)
from tqdm import tqdm  # noqa: E402

from emofuse.data.corpora import DATA_DIR_ENV, load_corpus  # noqa: E402
from emofuse.experts.base import weights_dir, write_weights  # noqa: E402
from emofuse.experts.voice import (  # noqa: E402
    FEATURE_NAMES,
    N_FEATURES,
    VoiceEkmanExpert,
)
from emofuse.train import speech  # noqa: E402

torch.set_num_threads(1)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EXPERT = VoiceEkmanExpert.name
SEED = 0
SHARED = list(speech.SHARED_EKMAN)


def corpus_table(name: str, root: Path, cache: Path, limit: int | None = None) -> dict:
    """The corpus table (hand-crafted utterance statistics, cached under ``cache``)."""
    return speech.handcrafted_table(name, speech.per_speaker(load_corpus(root, format=name), limit), cache,
                                    progress=lambda xs: tqdm(xs, desc=f"features {name}", unit="file"))


def main(argv: list[str] | None = None) -> None:
    """Run the recipe (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV),
                    help=f"folder holding ravdess/ and emodb/ (default ${DATA_DIR_ENV})")
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "voice")
    ap.add_argument("--models", default="logreg,mlp,svm-rbf", help="candidates to validate (comma-separated)")
    ap.add_argument("--out", type=Path, default=weights_dir(EXPERT))
    ap.add_argument("--limit", type=int, default=None, help="files per speaker (smoke runs; never ship these)")
    ap.add_argument("--no-readme", action="store_true", help="leave results.json and README.md here untouched")
    args = ap.parse_args(argv)
    if args.data_dir is None:
        ap.error(f"--data-dir (or ${DATA_DIR_ENV}) must name the folder holding ravdess/ and emodb/")
    if args.limit and args.out.resolve() == weights_dir(EXPERT).resolve():
        ap.error("--limit runs must not overwrite the shipped weights: pass --out")
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    t0 = time.time()
    cache = args.runs / "features"
    rav = corpus_table("ravdess", args.data_dir / "ravdess", cache, args.limit)
    emo = corpus_table("emodb", args.data_dir / "emodb", cache, args.limit)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    folds = speech.speaker_folds([rav, emo])
    res, _ = speech.run_protocol([rav, emo], folds, kinds, SHARED, seed=SEED,
                                 log=lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True))
    results: dict = {**res, "seed": SEED, "n": {"ravdess": len(rav["ids"]), "emodb": len(emo["ids"])}}

    # ship: the best exportable candidate on the joint protocol (mean fold UAR)
    shippable = [k for k in kinds if k in speech.EXPORTABLE]
    if not shippable:
        ap.error(f"--models must include one of {speech.EXPORTABLE} to ship a head")
    best = max(shippable, key=lambda k: results["joint"][k]["all"]["uar_mean"])
    x, y, groups, _, _ = speech.joint_table([rav, emo], folds)
    model = speech.fit_search(best, x, y, groups, inner_folds=6, seed=SEED)
    head = speech.to_voice_head(model, N_FEATURES)
    speech.check_export(model, head, x[:20])
    results["shipped"] = {"model": best, "chosen": dict(model.best_params_),
                          "calibration": results["joint"][best]["calibration"]}

    card = build_card(results, head.config.to_dict(), best, FEATURE_NAMES, SHARED)
    write_weights(args.out, head, card)
    args.runs.mkdir(parents=True, exist_ok=True)
    (args.runs / "results.json").write_text(json.dumps(results, indent=1, default=float))
    if not args.no_readme:
        (HERE / "results.json").write_text(json.dumps(results, indent=1, default=float))
        render_readme(json.loads(json.dumps(results, default=float)), card, HERE / "README.md")
    # sanity: the shipped expert loads from files and predicts
    expert = VoiceEkmanExpert.from_dir(args.out)
    out = expert.predict(load_corpus(args.data_dir / "emodb", format="emodb").sources()[:3])
    print("shipped", best, model.best_params_, "weights", args.out, "T", card["calibration"]["temperature"],
          "example", out.ekman_labels(), f"[{time.time() - t0:.0f}s]")


if __name__ == "__main__":
    main()
