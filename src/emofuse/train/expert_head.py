"""One training loop for expert heads, with hooks for what differs between experts.

Fusion models train with :class:`emofuse.train.Trainer`, which is built around the fusion
contract (:class:`~emofuse.data.spec.Batch`, a task-driven loss, modality dropout). An expert
head sees other inputs (face crops, token states, utterance statistics) and other objectives,
so the recipes hand this loop three hooks instead:

* ``forward(module, batch, gen) -> outputs``: the batch → logits step (augmentation, token
  dropout and the like happen here, drawing from ``gen``);
* ``loss(outputs, batch) -> Tensor``: the objective;
* ``score(module) -> float | dict``: the epoch-selection metric on validation data (higher is
  better; a dict is recorded whole and selected on ``config.monitor``).

The loop itself is fixed: AdamW + one-cycle learning rate stepped per batch, the epoch with
the best validation score is kept (ties keep the earlier), optional early stopping, and with a
``run_dir`` a resumable ``last.pt`` plus the best weights as ``best.safetensors`` every epoch.

Example:
    >>> import torch
    >>> from emofuse.train.expert_head import HeadTrainConfig, fit_head
    >>> x, y = torch.tensor([[-2.0], [-1.0], [1.0], [2.0]]), torch.tensor([0, 0, 1, 1])
    >>> _ = torch.manual_seed(0)
    >>> head = torch.nn.Linear(1, 2)
    >>> res = fit_head(head, lambda epoch, gen: [(x, y)], lambda m, b, g: m(b[0]),
    ...                lambda out, b: torch.nn.functional.cross_entropy(out, b[1]),
    ...                lambda m: float((m(x).argmax(1) == y).float().mean()),
    ...                HeadTrainConfig(epochs=30, lr=0.5, log_every=0), steps_per_epoch=1)
    >>> res.best_score
    1.0
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from emofuse.cards import load_weights_strict, save_weights
from emofuse.errors import ConfigError

__all__ = ["HeadTrainConfig", "HeadTrainResult", "fit_head"]


@dataclass
class HeadTrainConfig:
    """Settings of :func:`fit_head`.

    Attributes:
        epochs: Maximum number of epochs.
        lr: Peak (one-cycle) AdamW learning rate.
        weight_decay: AdamW weight decay.
        pct_start: Fraction of the steps spent warming the learning rate up.
        patience: Stop after this many epochs without improvement (``None``: never stop early).
        grad_clip: Max gradient norm (0 disables clipping).
        seed: Seed of the generator handed to the ``batches`` and ``forward`` hooks.
        monitor: Key of the selection metric when ``score`` returns a dict; also its name in
            the history records.
        log_every: Print one line per epoch when ``> 0``.
    """

    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-2
    pct_start: float = 0.1
    patience: int | None = None
    grad_clip: float = 0.0
    seed: int = 0
    monitor: str = "score"
    log_every: int = 1

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if not 0.0 < self.pct_start < 1.0:
            raise ConfigError(f"pct_start must be in (0, 1), got {self.pct_start}")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be >= 1 or None, got {self.patience}")


@dataclass
class HeadTrainResult:
    """What :func:`fit_head` returns.

    Attributes:
        best_epoch: 1-based epoch whose weights were kept.
        best_score: Its validation score.
        history: One record per epoch (train loss, validation metrics, seconds).
        seconds: Wall time of the fit (this call only, when resumed).
    """

    best_epoch: int
    best_score: float
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def _resume(run: Path, module: nn.Module, opt: torch.optim.Optimizer, sched: Any,
            gen: torch.Generator) -> tuple[int, list[dict[str, Any]], float]:
    ck = torch.load(run / "last.pt", weights_only=True)  # tensors, numbers and lists only: no unpickling
    module.load_state_dict(ck["module"])
    opt.load_state_dict(ck["opt"])
    sched.load_state_dict(ck["sched"])
    gen.set_state(ck["gen"])
    return int(ck["epoch"]), list(ck["history"]), float(ck["best"])


def fit_head(module: nn.Module, batches: Callable[[int, torch.Generator], Iterable[Any]],
             forward: Callable[[nn.Module, Any, torch.Generator], Any], loss: Callable[[Any, Any], Tensor],
             score: Callable[[nn.Module], float | dict[str, float]], config: HeadTrainConfig | None = None, *,
             steps_per_epoch: int, run_dir: str | Path | None = None, resume: bool = False,
             log: Callable[[str], None] = print) -> HeadTrainResult:
    """Train ``module`` in place and restore the epoch with the best validation score.

    Args:
        module: The head, freshly built (seed torch before building it for reproducibility).
        batches: ``batches(epoch, gen)`` → the training batches of one epoch (0-based epoch).
        forward: ``forward(module, batch, gen)`` → model outputs for ``loss``.
        loss: ``loss(outputs, batch)`` → scalar training loss.
        score: ``score(module)`` → validation score, higher is better (a dict is selected on
            ``config.monitor``); called in eval mode under ``torch.no_grad``.
        config: The loop settings.
        steps_per_epoch: Optimiser steps per epoch (sizes the one-cycle schedule).
        run_dir: Where to keep ``last.pt`` (resumable state), ``best.safetensors`` and
            ``history.json`` (optional).
        resume: Continue from ``run_dir/last.pt`` when it exists.
        log: Where the per-epoch lines go.

    Returns:
        :class:`HeadTrainResult`; ``module`` holds the best epoch's weights, in eval mode.
    """
    cfg = config or HeadTrainConfig()
    if steps_per_epoch < 1:
        raise ConfigError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    total = cfg.epochs * steps_per_epoch
    # one-cycle needs >= 2 warm-up and >= 2 annealing steps: a tiny run (a smoke test) widens the warm-up
    pct = min(max(cfg.pct_start, 2.5 / total), 1.0 - 2.5 / total) if total >= 6 else 0.5
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(total, 6), pct_start=pct)
    gen = torch.Generator().manual_seed(cfg.seed)
    run = Path(run_dir) if run_dir is not None else None
    if run is not None:
        run.mkdir(parents=True, exist_ok=True)
    start, history, best = 0, [], -math.inf
    if resume and run is not None and (run / "last.pt").is_file():
        start, history, best = _resume(run, module, opt, sched, gen)
        log(f"resumed after epoch {start}")
    best_state = None
    if start and (run / "best.safetensors").is_file():
        best_state = load_weights_strict(copy.deepcopy(module), run / "best.safetensors").state_dict()
    best_epoch = max((r["epoch"] for r in history if r[cfg.monitor] == best), default=0)
    bad, t_fit = 0, time.perf_counter()
    for epoch in range(start, cfg.epochs):
        module.train()
        t0 = time.perf_counter()
        total, seen = 0.0, 0
        for batch in batches(epoch, gen):
            value = loss(forward(module, batch, gen), batch)
            opt.zero_grad(set_to_none=True)
            value.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)
            opt.step()
            sched.step()
            total += float(value.detach())
            seen += 1
        module.eval()
        with torch.no_grad():
            got = score(module)
        metrics = dict(got) if isinstance(got, dict) else {cfg.monitor: float(got)}
        if cfg.monitor not in metrics:
            raise ConfigError(f"score returned {sorted(metrics)}, which lacks the monitored {cfg.monitor!r}")
        value_ = float(metrics[cfg.monitor])
        rec = {"epoch": epoch + 1, "train_loss": total / max(seen, 1), **metrics,
               "seconds": round(time.perf_counter() - t0, 1)}
        history.append(rec)
        if cfg.log_every > 0 and (epoch + 1) % cfg.log_every == 0:
            log(json.dumps(rec))
        if math.isfinite(value_) and value_ > best:
            best, best_epoch, bad = value_, epoch + 1, 0
            best_state = copy.deepcopy(module.state_dict())
            if run is not None:
                save_weights(module, run / "best.safetensors")
        else:
            bad += 1
        if run is not None:
            torch.save({"module": module.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "gen": gen.get_state(), "epoch": epoch + 1, "history": history, "best": best}, run / "last.pt")
            (run / "history.json").write_text(json.dumps(history, indent=1))
        if cfg.patience is not None and bad >= cfg.patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return HeadTrainResult(best_epoch, best, history, time.perf_counter() - t_fit)
