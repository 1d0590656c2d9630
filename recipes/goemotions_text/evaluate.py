"""Evaluate the shipped text expert on a GoEmotions TSV (dev, or the withheld official test file).

    python recipes/goemotions_text/evaluate.py --file ../shared/data/goemotions/dev.tsv
    python recipes/goemotions_text/evaluate.py --file path/to/test.tsv --json runs/goemotions_text/test.json

Runs the expert exactly as users do (``load_expert("text-goemotions").predict(texts)``: raw
text → MiniLM → head → thresholds and temperature from the card) and scores it with the
**shipped** thresholds and temperature; nothing is tuned on the evaluated file. On dev this
reproduces the card's dev figures (a parity check of the cached-feature training path); on
test it gives the honest held-out figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _data import EKMAN, GO2EK, SPACE, read_split  # noqa: E402
from _train import noisy_or_groups  # noqa: E402

from emofuse.evaluate.metrics import classification_metrics, multilabel_metrics  # noqa: E402
from emofuse.experts import load_expert  # noqa: E402
from emofuse.experts.calibration import expected_calibration_error  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description="Score the text expert on a GoEmotions TSV.")
    ap.add_argument("--file", type=Path, required=True, help="official-layout TSV (text, label ids, id)")
    ap.add_argument("--weights", type=Path, default=None, help="weights dir (default: the packaged one)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", type=Path, default=None, help="also write the metrics here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    split = read_split(args.file)
    expert = load_expert("text-goemotions", weights=args.weights, batch_size=args.batch_size)
    card = expert.card
    t0 = time.perf_counter()
    out = expert.predict(split.texts)
    secs = time.perf_counter() - t0
    y = split.labels.astype(np.int64)
    ml = multilabel_metrics(y, out.probs, thresholds=expert.thresholds, classes=SPACE.classes)
    ml05 = multilabel_metrics(y, out.probs, thresholds=0.5)
    single = split.ekman_single
    sel = single >= 0
    ek = classification_metrics(single[sel], out.ekman[sel], classes=EKMAN.classes)
    ek_multi = (split.labels.astype(np.float32) @ GO2EK > 0).astype(np.int64)
    thg = card["ekman"].get("multilabel_thresholds")
    g = noisy_or_groups(out.probs.astype(np.float64))
    res = {
        "file": str(args.file), "n": len(split), "expert": expert.name,
        "f1_macro_shipped_thresholds": ml["f1_macro"], "f1_micro_shipped_thresholds": ml["f1_micro"],
        "f1_macro_05": ml05["f1_macro"], "f1_micro_05": ml05["f1_micro"],
        "ekman_n_single": int(sel.sum()), "ekman_accuracy": ek["accuracy"], "ekman_f1_macro": ek["f1_macro"],
        "ekman_ece": expected_calibration_error(out.ekman[sel].astype(np.float64), single[sel]),
        "per_class_f1": ml["per_class_f1"],
        "seconds": round(secs, 1), "ms_per_text": round(1e3 * secs / len(split), 2),
    }
    if thg is not None:
        th = np.asarray([thg[c] for c in EKMAN.classes])
        res["ekman_multilabel_f1_macro_shipped_thresholds"] = multilabel_metrics(ek_multi, g, thresholds=th)["f1_macro"]
    for k, v in res.items():
        if k != "per_class_f1":
            print(f"{k:45s} {v:.4f}" if isinstance(v, float) else f"{k:45s} {v}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
