"""Experiments: train one model from a config, benchmark models × seeds into a table.

These are the functions behind ``emofuse train`` and ``emofuse benchmark``; the resolved
config of every run is saved next to its results.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from emofuse.config import from_dict, to_dict
from emofuse.data.dataset import FeatureDataset
from emofuse.errors import ConfigError
from emofuse.models.base import create_model, list_models, model_config
from emofuse.train.trainer import TrainConfig, Trainer, resolve_monitor, seed_everything

SYNTHETIC = "synthetic"
#: Per-model sizes used by the default (synthetic) benchmark so the whole zoo x 3 seeds runs in
#: about two minutes on 2 cores; MulT's registry default follows MMSA's layer sizes instead.
SYNTHETIC_PARAMS: dict[str, dict[str, Any]] = {"mult": {"d_model": 16, "num_heads": 4, "nlevels": 2}}


@dataclass
class ModelSection:
    """Which fusion model to build.

    Attributes:
        name: Registry name (``emofuse models list``).
        params: Config overrides of that model (validated against its config dataclass).
    """

    name: str = "early_concat"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataSection:
    """Where the data come from.

    Attributes:
        train: Training file/directory, or ``synthetic`` for the built-in generated set.
        valid: Validation file; ``None`` means the ``valid_split`` of ``train`` (multi-split
            formats such as MMSA pickles). Model selection only ever looks at this set.
        format: Reader name (``auto`` sniffs it from the path).
        train_split: Split name inside multi-split files.
        valid_split: Split name inside multi-split files.
        modalities: Keep only these modalities (``None`` keeps all).
        allow_pickle: Opt in to reading pickle files (runs code from the file: trusted sources only).
        pickle_reason: Why the pickle is trusted; required with ``allow_pickle``.
    """

    train: str = SYNTHETIC
    valid: str | None = None
    format: str = "auto"
    train_split: str = "train"
    valid_split: str = "valid"
    modalities: list[str] | None = None
    allow_pickle: bool = False
    pickle_reason: str | None = None


@dataclass
class RunConfig:
    """A full training run: model, data, trainer settings and output directory."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    train: TrainConfig = field(default_factory=TrainConfig)
    output_dir: str = "runs/train"


def load_run_config(data: dict[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig` from a mapping, rejecting unknown keys at every level."""
    cfg = from_dict(RunConfig, data)
    model_config(cfg.model.name, cfg.model.params)  # validates the name and its params now
    return cfg


def _read(path: str, data: DataSection, split: str | None) -> FeatureDataset:
    from emofuse.data.readers import load_dataset

    kwargs: dict[str, Any] = {"format": data.format}
    if data.allow_pickle:
        kwargs.update(allow_pickle=True, pickle_reason=data.pickle_reason)
    try:
        return load_dataset(path, split=split, **kwargs)
    except TypeError:  # single-split readers take no split argument
        return load_dataset(path, **kwargs)


def is_multi_split(path: str, fmt: str = "auto") -> bool:
    """Whether ``path`` holds several splits in one file (MMSA pickles do)."""
    return fmt == "mmsa" or (fmt == "auto" and Path(path).suffix.lower() in (".pkl", ".pickle"))


def load_splits(data: DataSection, seed: int = 0) -> tuple[FeatureDataset, FeatureDataset]:
    """Training and validation sets described by ``data``."""
    if data.train == SYNTHETIC:
        from emofuse.data.synthetic import synthetic_splits

        splits = synthetic_splits(seed=0)
        train, valid = splits["train"], splits["valid"]
    else:
        multi = is_multi_split(data.train, data.format)
        train = _read(data.train, data, data.train_split if multi else None)
        if data.valid is not None:
            valid = _read(data.valid, data, data.valid_split if is_multi_split(data.valid, data.format) else None)
        elif multi:
            valid = _read(data.train, data, data.valid_split)
        else:
            raise ConfigError("data.valid is required: name a validation file (model selection never uses "
                              "the training data, and emofuse does not carve a split silently)")
    if data.modalities:
        train, valid = train.select_modalities(data.modalities), valid.select_modalities(data.modalities)
    return train, valid


def train_from_config(cfg: RunConfig, *, output_dir: str | Path | None = None) -> dict[str, Any]:
    """Train the configured model; writes ``config.yaml``, ``history.json`` and the checkpoint.

    Returns:
        ``{"output_dir", "best_epoch", "monitor", "validation": metrics}``.
    """
    out = Path(output_dir or cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
    train, valid = load_splits(cfg.data)
    seed_everything(cfg.train.seed, cfg.train.deterministic)  # the initial weights depend on the seed too
    model = create_model(cfg.model.name, train.spec, **cfg.model.params)
    result = Trainer(cfg.train).fit(model, train, valid, checkpoint_dir=out, card={
        "data": {"train": cfg.data.train, "valid": cfg.data.valid or f"{cfg.data.train}:{cfg.data.valid_split}",
                 "train_size": len(train), "valid_size": len(valid)},
    })
    (out / "history.json").write_text(json.dumps(result.history, indent=2), encoding="utf-8")
    return {"output_dir": str(out), "best_epoch": result.best_epoch, "monitor": result.monitor,
            "validation": result.best_metrics}


def without_modality(ds: FeatureDataset, modality: str) -> FeatureDataset:
    """A copy of ``ds`` in which ``modality`` is missing for every sample."""
    sub = ds.subset(np.arange(len(ds)))
    sub.present = dict(sub.present)
    sub.present[modality] = np.zeros(len(ds), dtype=bool)
    return sub


SUMMARY_METRICS = {
    "classification": ("accuracy", "f1_weighted", "f1_macro", "uar"),
    "multilabel": ("f1_macro", "f1_micro"),
    "regression": ("mae", "pearson", "ccc"),
}


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    if not vals:
        return float("nan"), float("nan")
    return float(statistics.fmean(vals)), float(statistics.stdev(vals)) if len(vals) > 1 else 0.0


def benchmark(
    models: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    data: DataSection | None = None,
    train: TrainConfig | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    common: dict[str, Any] | None = None,
    contexts: Sequence[bool] = (False,),
    robustness: bool = True,
    output_dir: str | Path | None = None,
    on_result: Any = None,
) -> dict[str, Any]:
    """Train every model × context setting × seed; summarise validation metrics as mean ± std.

    Args:
        models: Registry names (default: the whole zoo).
        seeds: Training seeds.
        data: Data section (default: the built-in synthetic set).
        train: Trainer settings (``seed`` is replaced by each seed).
        params: Per-model config overrides, keyed by model name.
        common: Config overrides applied to every model (e.g. ``{"hidden": 64}``).
        contexts: Which context-encoder settings to run (``(False, True)`` runs both).
        robustness: Also score each run with each modality removed.
        output_dir: Where to write ``results.json``, ``results.csv``, ``results.md`` and ``config.yaml``.
        on_result: Optional callback ``(row: dict) -> None`` after each run (progress display).

    Returns:
        ``{"runs": [...], "summary": [...], "monitor": str, "modalities": [...]}``.
    """
    data = data or DataSection()
    train_cfg = train or TrainConfig(epochs=30, patience=8, progress=False)
    models = list(models or list_models())
    for name in models:  # every config that will run, checked before any training
        for ctx in contexts:
            model_config(name, {**(common or {}), **(params or {}).get(name, {}), "context": bool(ctx)})
    train_ds, valid_ds = load_splits(data)
    monitor = resolve_monitor(train_ds.task, train_cfg.monitor)
    runs: list[dict[str, Any]] = []
    for name in models:
        for ctx in contexts:
            for seed in seeds:
                cfg = replace(train_cfg, seed=int(seed))
                overrides = {**(common or {}), **(params or {}).get(name, {}), "context": bool(ctx)}
                seed_everything(int(seed), cfg.deterministic)
                model = create_model(name, train_ds.spec, **overrides)
                result = Trainer(cfg).fit(model, train_ds, valid_ds)
                row: dict[str, Any] = {"model": name, "context": bool(ctx), "seed": int(seed),
                                       "best_epoch": result.best_epoch, "seconds": round(result.seconds, 2),
                                       "params": sum(p.numel() for p in model.parameters())}
                for k in SUMMARY_METRICS[train_ds.task]:
                    row[k] = result.best_metrics.get(k)
                if robustness and len(train_ds.features) > 1:
                    trainer = Trainer(cfg)
                    for m in train_ds.features:
                        row[f"without_{m}"] = trainer.evaluate(model, without_modality(valid_ds, m))[monitor]
                runs.append(row)
                if on_result is not None:
                    on_result(row)
    keys = [k for k in runs[0] if k not in ("model", "context", "seed", "best_epoch", "params")] if runs else []
    summary = []
    for name in models:
        for ctx in contexts:
            rows = [r for r in runs if r["model"] == name and r["context"] == ctx]
            entry: dict[str, Any] = {"model": name, "context": ctx, "seeds": len(rows), "params": rows[0]["params"]}
            for k in keys:
                mean, std = _mean_std([r[k] for r in rows])
                entry[k] = {"mean": mean, "std": std}
            summary.append(entry)
    report = {"monitor": monitor, "split": "validation", "data": to_dict(data), "train": to_dict(train_cfg),
              "modalities": list(train_ds.features), "runs": runs, "summary": summary}
    if output_dir is not None:
        write_benchmark(report, output_dir)
    return report


def summary_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and ``mean ± std`` cells of a benchmark summary (metrics in %, except errors)."""
    summary = report["summary"]
    if not summary:
        return [], []
    metric_keys = [k for k in summary[0] if isinstance(summary[0][k], dict) and k != "seconds"]
    short = {"accuracy": "acc", "f1_weighted": "F1-w", "f1_macro": "F1-m", "f1_micro": "F1-µ", "uar": "UAR",
             "pearson": "r", "ccc": "CCC"}
    header = ["model", "context", "params",
              *[short.get(k, k.replace("without_", "no ")) for k in metric_keys], "s/run"]
    rows = []
    for e in summary:
        cells = [e["model"], "on" if e["context"] else "off", f"{e['params']:,}"]
        for k in metric_keys:
            m, s = e[k]["mean"], e[k]["std"]
            if k == "seconds":
                cells.append(f"{m:.1f} ± {s:.1f}")
            elif k in ("mae", "mse") or k.endswith(("_mae", "_mse")):
                cells.append(f"{m:.3f} ± {s:.3f}")
            else:
                cells.append(f"{100 * m:.1f} ± {100 * s:.1f}")
        cells.append(f"{e['seconds']['mean']:.1f}" if "seconds" in e else "")
        rows.append(cells)
    return header, rows


def write_benchmark(report: dict[str, Any], output_dir: str | Path) -> Path:
    """Write ``results.json`` (everything), ``results.csv`` (one row per run) and ``results.md``."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    runs = report["runs"]
    if runs:
        with open(out / "results.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(runs[0]))
            writer.writeheader()
            writer.writerows(runs)
    header, rows = summary_rows(report)
    lines = [f"Validation {report['monitor']} and other metrics, mean ± std over seeds "
             f"(metrics in %, errors raw; `no X` = {report['monitor']} with modality X removed; "
             "s/run = training seconds).", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    (out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "config.yaml").write_text(yaml.safe_dump({"data": report["data"], "train": report["train"]},
                                                     sort_keys=False), encoding="utf-8")
    return out
