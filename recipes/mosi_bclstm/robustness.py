"""MOSI (bc-LSTM features): validation accuracy for every modality subset and under feature noise.

Trains zoo models on ``train.npz`` **with and without modality dropout** (3 seeds each; the
other settings are ``benchmark.yaml``'s: hidden 32, dropout 0.3, AdamW 1e-3, weight decay 0.01,
input noise 0.5 σ, ≤ 40 epochs, patience 15, context encoder off), selects each run's best epoch on
``dev.npz`` only, and scores the selected model on ``dev.npz`` (the validation split: every
figure here is a validation figure, the withheld test videos are never read):

1. for each of the 7 non-empty subsets of text / audio / face (the bc-LSTM ``video`` features),
   the others marked missing (:func:`emofuse.robustness.subset_rows`);
2. under Gaussian noise on one modality's features, σ = 0, 0.25, 0.5, 1, 2 feature stds
   (:func:`emofuse.robustness.noise_rows`, noise seed 0), with MultiBench's relative robustness and
   effective robustness against late fusion (``late_average`` trained the same way).

Writes ``results/robustness_subsets.{md,csv,json,png}`` and ``results/robustness_noise.{md,csv,json,png}``.

Run (about 4 CPU-minutes on one thread)::

    OMP_NUM_THREADS=1 python recipes/mosi_bclstm/robustness.py --data-dir /work/shared/data
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import yaml  # noqa: E402

from emofuse.experiment import DataSection, load_splits  # noqa: E402
from emofuse.models import create_model  # noqa: E402
from emofuse.robustness import (  # noqa: E402
    DEFAULT_NOISE_LEVELS,
    curve_measures,
    noise_rows,
    pivot_markdown,
    subset_rows,
    to_markdown,
    write_report,
)
from emofuse.train.trainer import TrainConfig, Trainer, seed_everything  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = ("early_concat", "late_average", "lmf", "tfn", "gated")
BASELINE = "late_average"  # MultiBench's reference for effective robustness is late fusion


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=os.environ.get("EMOFUSE_DATA", "../shared/data"),
                   help="folder holding mosi_bclstm/{train,dev}.npz")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo models")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--modality-dropout", type=float, default=0.5, help="the 'with' setting (the other is 0)")
    p.add_argument("--epochs", type=int, default=None, help="override benchmark.yaml (quick checks)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p.parse_args(argv)


def _label(model: str, mdrop: float) -> str:
    return f"{model} (mdrop {mdrop:g})" if mdrop > 0 else model


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    bench = yaml.safe_load((HERE / "benchmark.yaml").read_text(encoding="utf-8"))
    common, train_cfg = bench["common"], TrainConfig(**{**bench["train"], "progress": False})
    if args.epochs is not None:
        train_cfg = replace(train_cfg, epochs=args.epochs)
    data = DataSection(train=str(args.data_dir / "mosi_bclstm" / "train.npz"),
                       valid=str(args.data_dir / "mosi_bclstm" / "dev.npz"))
    train, dev = load_splits(data)
    subsets, noise = [], []
    for name in args.models.split(","):
        for mdrop in (0.0, args.modality_dropout):
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                cfg = replace(train_cfg, seed=seed, modality_dropout=mdrop)
                seed_everything(seed, cfg.deterministic)
                model = create_model(name, train.spec, **common)
                fit = Trainer(cfg).fit(model, train, dev)  # best epoch on dev accuracy; weights restored
                label = _label(name, mdrop)
                subsets += subset_rows(model, dev, target=label, seed=seed)
                noise += noise_rows(model, dev, DEFAULT_NOISE_LEVELS, target=label, seed=0, model_seed=seed)
                print(f"{label:28s} seed {seed}: dev acc {fit.best_metrics['accuracy']:.3f} (epoch {fit.best_epoch}, "
                      f"{time.perf_counter() - t0:.1f} s)", flush=True)
    meta = {"split": "validation (dev.npz)", "train": str(data.train), "valid": str(data.valid),
            "models": args.models.split(","), "seeds": args.seeds, "modality_dropout": [0.0, args.modality_dropout],
            "train_config": {**bench["train"], **({"epochs": args.epochs} if args.epochs else {})},
            "model_params": common, "noise_seed": 0}
    head = ("Validation (dev.npz, 231 utterances) accuracy in %, mean ± std over "
            f"{args.seeds} training seeds; each column keeps only the named modalities (the others "
            "marked missing). `(mdrop 0.5)` = trained with modality dropout 0.5.")
    paths = write_report(subsets, args.out, stem="robustness_subsets", title="MOSI validation: modality subsets",
                         meta=meta)
    paths["markdown"].write_text(pivot_markdown(subsets, title=head) + "\n" + pivot_markdown(
        subsets, metric="f1_macro", title="Macro F1 (%), same runs.") + "\n## All metrics\n\n"
        + to_markdown(subsets), encoding="utf-8")
    npaths = write_report(noise, args.out, stem="robustness_noise", baseline=BASELINE,
                          title="MOSI validation: Gaussian feature noise", meta=meta)
    lines = ["Validation (dev.npz) accuracy under Gaussian noise on one modality's features (σ in feature "
             f"stds), mean over {args.seeds} seeds. RR = relative robustness (area under the accuracy curve, "
             f"levels rescaled to [0, 1]); ER = effective robustness against {BASELINE} (Σ over levels of the "
             "accuracy drop beyond the baseline's, after equalising clean accuracy; > 0 degrades more slowly).", "",
             "| target | noisy modality | clean | σ=2 | RR | ER |", "|---|---|---|---|---|---|"]
    for c in curve_measures(noise, baseline=BASELINE):
        er = "—" if c["effective_robustness"] is None else f"{100 * c['effective_robustness']:+.1f}"
        lines.append(f"| {c['target']} | {c['modality']} | {100 * c['clean']:.1f} | {100 * c['values'][-1]:.1f} | "
                     f"{100 * c['relative_robustness']:.1f} | {er} |")
    npaths["markdown"].write_text("\n".join(lines) + "\n\n## All metrics\n\n" + to_markdown(noise), encoding="utf-8")
    print(pivot_markdown(subsets, title=head))
    print("\n".join(lines))
    print("wrote", *[str(p) for p in (*paths.values(), *npaths.values())])


if __name__ == "__main__":
    main()
