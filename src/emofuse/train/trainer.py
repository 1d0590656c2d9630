"""One trainer for every fusion model: losses, modality dropout, early stopping, seeds.

Model selection uses the validation set only: the checkpoint kept is the epoch with the
best validation ``monitor`` metric, and training stops after ``patience`` epochs without
improvement.
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch import Tensor, nn

from emofuse.config import to_dict
from emofuse.data.dataset import FeatureDataset
from emofuse.data.spec import Batch
from emofuse.errors import ConfigError
from emofuse.evaluate.metrics import compute_metrics, monitor_mode
from emofuse.evaluate.predict import check_compatible, predict
from emofuse.models.base import FusionModel, ModelOutput


@dataclass
class TrainConfig:
    """Training settings.

    Attributes:
        epochs: Maximum number of epochs.
        batch_size: Utterances per batch (whole context groups are kept together when the
            model has a context encoder, so batches may be slightly larger or smaller).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay (not applied to biases and norms).
        patience: Epochs without validation improvement before stopping.
        monitor: Validation metric used for early stopping and model selection; ``auto`` is
            ``f1_weighted`` (classification), ``f1_macro`` (multilabel) or ``mae`` (regression).
        loss: ``auto`` (cross-entropy / BCE / L1 by task), ``ce``, ``bce``, ``l1`` or ``mse``.
        class_weights: Weight cross-entropy by inverse class frequency of the training set.
        label_smoothing: Cross-entropy label smoothing.
        modality_dropout: Per-sample probability of hiding each modality during training
            (at least one modality always stays), which teaches robustness to missing inputs.
        input_noise: Gaussian noise added to training features, in units of each feature's
            training-set standard deviation (0 disables). Regularises models whose input
            features are overconfident on their training split.
        aux_weight: Weight of the auxiliary loss on per-modality predictions, where a model has them.
        grad_clip: Max gradient norm (0 disables clipping).
        seed: Seed for Python, NumPy and torch.
        deterministic: Use deterministic torch algorithms.
        threads: torch intra-op threads (``None`` leaves torch's default).
        progress: Show a progress bar.
        mosi: Add the MOSI sentiment conventions to regression metrics.
    """

    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 10
    monitor: str = "auto"
    loss: str = "auto"
    class_weights: bool = True
    label_smoothing: float = 0.0
    modality_dropout: float = 0.0
    input_noise: float = 0.0
    aux_weight: float = 0.3
    grad_clip: float = 1.0
    seed: int = 0
    deterministic: bool = True
    threads: int | None = None
    progress: bool = True
    mosi: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch_size must be >= 1")
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ConfigError(f"modality_dropout must be in [0, 1), got {self.modality_dropout}")
        if self.loss not in ("auto", "ce", "bce", "l1", "mse"):
            raise ConfigError(f"loss must be auto, ce, bce, l1 or mse; got {self.loss!r}")


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        best_epoch: 1-based epoch whose weights were kept.
        best_metrics: Validation metrics at that epoch.
        history: One dict per epoch (train loss, validation metrics, seconds).
        monitor: The monitored metric name.
        seconds: Wall time of the whole fit.
    """

    best_epoch: int
    best_metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    monitor: str = ""
    seconds: float = 0.0


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; optionally switch torch to deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def resolve_monitor(task: str, monitor: str) -> str:
    """The metric name used for model selection."""
    if monitor != "auto":
        monitor_mode(monitor)  # unknown names raise with suggestions
        return monitor
    return {"classification": "f1_weighted", "multilabel": "f1_macro", "regression": "mae"}[task]


def modality_dropout(batch: Batch, p: float, modalities: tuple[str, ...], gen: torch.Generator) -> Batch:
    """Hide each present modality of each sample with probability ``p``, keeping at least one."""
    if p <= 0:
        return batch
    names = [m for m in modalities if m in batch.features]
    if len(names) < 2:
        return batch
    b = batch.size
    pres = torch.stack([batch.mask(m) for m in names], 1)
    drop = torch.rand(b, len(names), generator=gen) < p
    keep = pres & ~drop
    # samples that would lose everything keep one randomly chosen originally-present modality
    empty = ~keep.any(1) & pres.any(1)
    if empty.any():
        scores = torch.rand(b, len(names), generator=gen) * pres.float()
        choice = scores.argmax(1)
        keep[empty, choice[empty]] = True
    present = dict(batch.present)
    for j, m in enumerate(names):
        present[m] = keep[:, j]
    return Batch(batch.features, batch.lengths, present, batch.targets, batch.groups, batch.positions, batch.ids)


def feature_std(ds: FeatureDataset, max_rows: int = 4096) -> dict[str, Tensor]:
    """Per-feature standard deviation ``(D,)`` of each modality over (up to ``max_rows``) valid rows/steps."""
    out = {}
    for name, x in ds.features.items():
        arr = np.asarray(x[: min(len(ds), max_rows)], dtype=np.float64)
        if arr.ndim == 3:
            lens = ds.lengths[name][: len(arr)]
            valid = np.arange(arr.shape[1])[None, :] < lens[:, None]
            arr = arr[valid]
        out[name] = torch.tensor(arr.std(0) if len(arr) > 1 else np.ones(arr.shape[-1]), dtype=torch.float32)
    return out


def add_input_noise(batch: Batch, scale: float, std: dict[str, Tensor], gen: torch.Generator) -> Batch:
    """Add ``N(0, (scale * std)^2)`` noise to every feature tensor (padding stays zero-weighted by lengths)."""
    if scale <= 0:
        return batch
    feats = {m: x + scale * std[m].to(x.dtype) * torch.randn(x.shape, generator=gen) for m, x in batch.features.items()}
    return Batch(feats, batch.lengths, batch.present, batch.targets, batch.groups, batch.positions, batch.ids)


class Trainer:
    """Fit a :class:`FusionModel` on a training set, selecting on a validation set.

    Args:
        config: The training settings.
    """

    def __init__(self, config: TrainConfig | None = None) -> None:
        self.config = config or TrainConfig()

    # -- objectives -----------------------------------------------------------------
    def _loss_fn(self, model: FusionModel, train: FeatureDataset) -> nn.Module:
        cfg, task = self.config, model.spec.task
        auto = {"classification": "ce", "multilabel": "bce", "regression": "l1"}
        loss = cfg.loss if cfg.loss != "auto" else auto[task]
        if loss == "ce":
            if task != "classification":
                raise ConfigError(f"loss 'ce' needs a classification task, not {task}")
            weight = None
            if cfg.class_weights:
                counts = np.bincount(np.asarray(train.targets), minlength=model.spec.num_outputs).astype(np.float64)
                w = counts.sum() / np.maximum(counts, 1.0) / len(counts)
                weight = torch.tensor(w, dtype=torch.float32)
            return nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
        if loss == "bce":
            pos_weight = None
            if cfg.class_weights and task == "multilabel":
                y = np.asarray(train.targets, dtype=np.float64)
                pos = y.sum(0)
                pos_weight = torch.tensor(np.clip((len(y) - pos) / np.maximum(pos, 1.0), 1.0, 50.0) ** 0.5,
                                          dtype=torch.float32)
            return nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        return nn.L1Loss() if loss == "l1" else nn.MSELoss()

    @staticmethod
    def _target(out_logits: Tensor, targets: Tensor, task: str) -> Tensor:
        if task == "regression" and targets.dim() == 1:
            return targets.view(-1, 1).expand_as(out_logits) if out_logits.shape[1] == 1 else targets
        return targets

    def compute_objective(self, out: ModelOutput, batch: Batch, loss_fn: nn.Module) -> Tensor:
        """Main loss plus the auxiliary loss on per-modality predictions (over present samples)."""
        task = out.task
        y = batch.targets
        if y is None:
            raise ConfigError("training batches need targets")
        loss = loss_fn(out.logits, self._target(out.logits, y, task))
        if self.config.aux_weight > 0 and out.modality_logits:
            aux = []
            for m, lg in out.modality_logits.items():
                mask = batch.mask(m)
                if mask.any():
                    aux.append(loss_fn(lg[mask], self._target(lg[mask], y[mask], task)))
            if aux:
                loss = loss + self.config.aux_weight * torch.stack(aux).mean()
        return loss

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.dim() < 2 or "norm" in name.lower() else decay).append(p)
        return torch.optim.AdamW([{"params": decay, "weight_decay": self.config.weight_decay},
                                  {"params": no_decay, "weight_decay": 0.0}], lr=self.config.lr)

    # -- the loop ---------------------------------------------------------------------
    def evaluate(self, model: FusionModel, ds: FeatureDataset) -> dict[str, Any]:
        """Validation metrics of ``model`` on ``ds``."""
        pred = predict(model, ds, batch_size=max(self.config.batch_size, 64))
        return compute_metrics(model.spec.task, pred.logits, pred.targets, classes=list(model.spec.classes) or None,
                               mosi=self.config.mosi)

    def fit(self, model: FusionModel, train: FeatureDataset, valid: FeatureDataset,
            checkpoint_dir: str | Path | None = None, card: dict[str, Any] | None = None) -> TrainResult:
        """Train ``model`` in place, restore the best validation epoch, optionally save it.

        Args:
            model: A freshly created fusion model.
            train: Training data (must match the model's data contract).
            valid: Validation data used for early stopping and model selection.
            checkpoint_dir: Where to write ``model.safetensors`` + ``model_card.json``.
            card: Extra model-card fields (data description, label space notes, ...).
        """
        cfg = self.config
        check_compatible(model, train)
        check_compatible(model, valid)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed, cfg.deterministic)
        gen = torch.Generator().manual_seed(cfg.seed)
        monitor = resolve_monitor(model.spec.task, cfg.monitor)
        mode = monitor_mode(monitor)
        loss_fn = self._loss_fn(model, train)
        opt = self._optimizer(model)
        whole = bool(getattr(model.config, "context", False))
        std = feature_std(train) if cfg.input_noise > 0 else {}
        best_val, best_state, best_epoch, best_metrics = -math.inf, None, 0, {}
        history: list[dict[str, Any]] = []
        bad_epochs = 0
        start = time.perf_counter()
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total}"), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), disable=not cfg.progress, transient=True)
        with progress:
            bar = progress.add_task(f"train {model.registry_name}", total=cfg.epochs, info="")
            for epoch in range(1, cfg.epochs + 1):
                t0 = time.perf_counter()
                model.train()
                total, count = 0.0, 0
                for batch in train.iter_batches(cfg.batch_size, shuffle=True, seed=cfg.seed * 1000 + epoch,
                                                whole_groups=whole):
                    batch = modality_dropout(batch, cfg.modality_dropout, model.modalities, gen)
                    batch = add_input_noise(batch, cfg.input_noise, std, gen)
                    out = model(batch)
                    loss = self.compute_objective(out, batch, loss_fn)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    if cfg.grad_clip > 0:
                        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    opt.step()
                    total += float(loss.detach()) * batch.size
                    count += batch.size
                metrics = self.evaluate(model, valid)
                value = float(metrics[monitor])
                score = value if mode == "max" else -value
                if not math.isfinite(score):
                    score = -math.inf
                improved = score > best_val
                if improved:
                    best_val, best_epoch, best_metrics = score, epoch, metrics
                    best_state = copy.deepcopy(model.state_dict())
                    bad_epochs = 0
                else:
                    bad_epochs += 1
                history.append({"epoch": epoch, "train_loss": total / max(count, 1),
                                f"valid_{monitor}": value, "seconds": time.perf_counter() - t0})
                progress.update(bar, advance=1, info=f"loss {total / max(count, 1):.3f}  valid {monitor} {value:.4f}"
                                f"  best {abs(best_val):.4f}@{best_epoch}")
                if bad_epochs >= cfg.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        result = TrainResult(best_epoch, best_metrics, history, monitor, time.perf_counter() - start)
        if checkpoint_dir is not None:
            from emofuse.models.checkpoint import save_checkpoint

            save_checkpoint(model, checkpoint_dir, train=to_dict(cfg), selection={
                "monitor": monitor, "mode": mode, "best_epoch": best_epoch, "epochs_run": len(history),
                "split": "validation"}, metrics={"validation": best_metrics}, **(card or {}))
        return result
