"""MOSI (bc-LSTM features): average the predictions of checkpoints trained with different seeds.

Trains (or reuses) one checkpoint per seed from a run config (``train.yaml`` by default; each
run selects its best epoch on ``dev.npz``, the validation split), then scores on ``dev.npz``
every member alone and the **seed ensemble**: the mean of the members' class probabilities.
With ``--evaluate FILE`` (e.g. the withheld official test file, same keys as ``dev.npz``) it
also scores the ensemble on that file; nothing is selected on it.

Writes ``ensemble.json`` (members' and ensemble metrics) under ``--out``.

Run (about 2 CPU-minutes per member on one thread)::

    OMP_NUM_THREADS=1 python recipes/mosi_bclstm/ensemble.py --data-dir /work/shared/data --seeds 0-4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from emofuse.data.readers import load_dataset  # noqa: E402
from emofuse.evaluate.metrics import compute_metrics  # noqa: E402
from emofuse.evaluate.predict import predict  # noqa: E402
from emofuse.experiment import DataSection, load_run_config, load_splits, train_from_config  # noqa: E402
from emofuse.models.checkpoint import WEIGHTS, load_checkpoint  # noqa: E402

HERE = Path(__file__).resolve().parent
SUMMARY = ("accuracy", "f1_weighted", "f1_macro", "uar")


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` → ``[0, 1, 2, 3, 4]``; ``"0,3,7"`` → ``[0, 3, 7]``."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=os.environ.get("EMOFUSE_DATA", "../shared/data"),
                   help="folder holding mosi_bclstm/{train,dev}.npz")
    p.add_argument("--config", type=Path, default=HERE / "train.yaml", help="run config of every member")
    p.add_argument("--seeds", default="0-4", help="member seeds: a range 0-4 or a list 0,1,2")
    p.add_argument("--out", type=Path, default=Path("runs/mosi_bclstm/ensemble"))
    p.add_argument("--evaluate", type=Path, default=None, help="also score the ensemble on this file")
    return p.parse_args(argv)


def ensemble_metrics(probs: list[np.ndarray], targets: np.ndarray, classes: list[str]) -> dict:
    """Metrics of the mean of the members' ``(N, C)`` probabilities."""
    mean = np.mean(probs, axis=0)
    return compute_metrics("classification", np.log(np.clip(mean, 1e-12, None)), targets, classes=classes or None)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    raw = yaml.safe_load(args.config.read_text(encoding="utf-8"))
    data_dir = args.data_dir / "mosi_bclstm"
    raw["data"] = {**raw.get("data", {}), "train": str(data_dir / "train.npz"), "valid": str(data_dir / "dev.npz")}
    raw.setdefault("train", {})["progress"] = False
    _, dev = load_splits(DataSection(**raw["data"]))
    test = load_dataset(str(args.evaluate)) if args.evaluate else None
    members, dev_probs, test_probs = [], [], []
    for seed in parse_seeds(args.seeds):
        out = args.out / f"seed{seed}"
        if not (out / WEIGHTS).is_file():
            cfg = load_run_config({**raw, "train": {**raw["train"], "seed": seed}})
            train_from_config(cfg, output_dir=out)
        model, card = load_checkpoint(out)
        pred = predict(model, dev)
        classes = list(model.spec.classes)
        m = compute_metrics("classification", pred.logits, pred.targets, classes=classes or None)
        members.append({"seed": seed, "checkpoint": str(out), "best_epoch": card["selection"]["best_epoch"],
                        **{k: m[k] for k in SUMMARY}})
        dev_probs.append(pred.probs)
        if test is not None:
            test_probs.append(predict(model, test).probs)
        print(f"seed {seed}: dev accuracy {100 * m['accuracy']:.2f}", flush=True)
    accs = [r["accuracy"] for r in members]
    ens = ensemble_metrics(dev_probs, np.asarray(dev.targets), classes)
    spread = {"mean": statistics.fmean(accs), "std": statistics.stdev(accs) if len(accs) > 1 else 0.0}
    report = {"config": str(args.config), "split": "validation (dev.npz)", "members": members,
              "members_accuracy": spread, "ensemble": {k: ens[k] for k in SUMMARY}}
    if test is not None:
        t = ensemble_metrics(test_probs, np.asarray(test.targets), classes)
        report["evaluate"] = {"file": str(args.evaluate), **{k: t[k] for k in SUMMARY}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ensemble.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    ma = report["members_accuracy"]
    print(f"members: {100 * ma['mean']:.1f} ± {100 * ma['std']:.1f}   "
          f"ensemble of {len(members)}: {100 * report['ensemble']['accuracy']:.1f} (dev.npz, validation)")
    if test is not None:
        print(f"ensemble on {args.evaluate}: {100 * report['evaluate']['accuracy']:.1f}")


if __name__ == "__main__":
    main()
