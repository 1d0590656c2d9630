"""Head training and dev evaluation for the GoEmotions text expert (recipe internals)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from _data import EKMAN, GO2EK, SPACE
from _features import FeatureCache
from scipy.special import expit, log_softmax
from torch import Tensor, nn

from emofuse.evaluate.metrics import classification_metrics, multilabel_metrics, tune_thresholds
from emofuse.experts.base import map_to_ekman
from emofuse.experts.calibration import calibration_report
from emofuse.experts.text import TextHead, TextHeadConfig
from emofuse.train import seed_everything
from emofuse.train.expert_head import HeadTrainConfig, fit_head
from emofuse.train.folds import random_folds


class Feats:
    """One split's cached features held in memory, with padded batch gathering."""

    def __init__(self, cache: FeatureCache, layers: tuple[int, ...], need_tokens: bool = True) -> None:
        self.n = int(cache.meta["n"])
        self.offsets = torch.from_numpy(cache.offsets)
        self.lengths = self.offsets[1:] - self.offsets[:-1]
        self.sentence = torch.from_numpy(np.ascontiguousarray(cache.sentence))
        self.y = torch.from_numpy(cache.labels.astype(np.float32))
        ek = (self.y @ torch.from_numpy(GO2EK) > 0).float()
        self.y_ek_multi = ek
        self.y_ek_soft = ek / ek.sum(1, keepdim=True)
        self.layers = layers
        if need_tokens:
            parts = [np.asarray(cache.tokens(k)) for k in layers]
            flat = np.stack(parts, axis=1) if len(parts) > 1 else parts[0][:, None, :]
            zero = np.zeros((1,) + flat.shape[1:], dtype=np.float16)
            self.flat = torch.from_numpy(np.concatenate([flat, zero], axis=0))  # (T_total + 1, L, D)
        else:
            self.flat = None

    def batch(self, idx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(tokens (B, L, T, D) float32, mask (B, T) bool, sentence (B, D))."""
        if self.flat is None:
            b = len(idx)
            return torch.zeros(b, 1, 1, 384), torch.ones(b, 1, dtype=torch.bool), self.sentence[idx]
        lens = self.lengths[idx]
        t = int(lens.max())
        ar = torch.arange(t)
        mask = ar[None, :] < lens[:, None]
        pos = self.offsets[idx][:, None] + ar[None, :]
        pos = torch.where(mask, pos, torch.full_like(pos, self.flat.shape[0] - 1))
        x = self.flat[pos].float().permute(0, 2, 1, 3)  # (B, T, L, D) -> (B, L, T, D)
        return x, mask, self.sentence[idx]


def bucket_batches(lengths: Tensor, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """Shuffled batches of similar length (sort within chunks of 50 batches)."""
    perm = torch.randperm(len(lengths), generator=gen)
    chunk = batch_size * 50
    batches = []
    for s in range(0, len(perm), chunk):
        part = perm[s:s + chunk]
        part = part[torch.argsort(lengths[part], stable=True)]
        batches += list(part.split(batch_size))
    order = torch.randperm(len(batches), generator=gen)
    return [batches[i] for i in order]


@torch.inference_mode()
def predict(head: TextHead, feats: Feats, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray | None]:
    """Dev logits: (N, 28) and (N, 7) or None."""
    head.eval()
    order = torch.argsort(feats.lengths, stable=True)
    z = np.zeros((feats.n, 28), dtype=np.float64)
    zek = np.zeros((feats.n, 7), dtype=np.float64) if head.out_ekman is not None else None
    for idx in order.split(batch_size):
        a, b = head(*feats.batch(idx))
        z[idx.numpy()] = a.double().numpy()
        if zek is not None:
            zek[idx.numpy()] = b.double().numpy()
    return z, zek


def macro_f1_tuned(y: np.ndarray, p: np.ndarray) -> float:
    th = tune_thresholds(y, p)
    return multilabel_metrics(y, p, thresholds=th)["f1_macro"]


def crossfit(y: np.ndarray, p: np.ndarray, seed: int = 0) -> float:
    """Macro-F1 with thresholds tuned on one half of dev and applied to the other (2-fold mean)."""
    half = random_folds(len(y), 2, seed)
    out = []
    for k in (0, 1):
        tr, te = half != k, half == k
        th = tune_thresholds(y[tr], p[tr])
        out.append(multilabel_metrics(y[te], p[te], thresholds=th)["f1_macro"])
    return float(np.mean(out))


def noisy_or_groups(p28: np.ndarray) -> np.ndarray:
    """(N, 7) probability that at least one label of each Ekman group is present."""
    return 1.0 - np.exp(np.log1p(-np.clip(p28, 0, 1 - 1e-7)) @ GO2EK.astype(np.float64))


def ekman_view(y_single: np.ndarray, ek_logits: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """Single-label Ekman metrics on the dev samples whose gold labels fall in one group."""
    sel = y_single >= 0
    z, y = ek_logits[sel], y_single[sel]
    m = classification_metrics(y, z, classes=EKMAN.classes)
    # cross-fitted temperature: fitted on one half of dev, applied to the other
    cal = calibration_report(z, y, folds=random_folds(len(y), 2, seed))
    return {"n_single": int(sel.sum()), "accuracy": m["accuracy"], "f1_macro": m["f1_macro"],
            **{k: cal[k] for k in ("temperature", "nll_before", "nll_after", "ece_before", "ece_after",
                                   "ece_after_crossfit")},
            "per_class_recall": m["per_class_recall"]}


def evaluate(y: np.ndarray, z28: np.ndarray, zek: np.ndarray | None, y_single: np.ndarray,
             y_ek_multi: np.ndarray) -> dict[str, Any]:
    """Every dev figure of one trained head."""
    p = expit(z28)
    th = tune_thresholds(y, p)
    at05 = multilabel_metrics(y, p, thresholds=0.5, classes=SPACE.classes)
    tuned = multilabel_metrics(y, p, thresholds=th, classes=SPACE.classes)
    g = noisy_or_groups(p)
    thg = tune_thresholds(y_ek_multi, g)
    ekm = multilabel_metrics(y_ek_multi, g, thresholds=thg, classes=EKMAN.classes)
    out: dict[str, Any] = {
        "f1_macro_05": at05["f1_macro"],
        "f1_micro_05": at05["f1_micro"],
        "f1_macro_tuned": tuned["f1_macro"],
        "f1_micro_tuned": tuned["f1_micro"],
        "f1_macro_crossfit": crossfit(y, p),
        "exact_match_tuned": tuned["exact_match"],
        "per_class_f1_tuned": tuned["per_class_f1"],
        "thresholds": th.tolist(),
        "ekman_multilabel_f1_macro_tuned": ekm["f1_macro"],
        "ekman_multilabel_f1_micro_tuned": ekm["f1_micro"],
        "ekman_multilabel_thresholds": thg.tolist(),
        "ekman_mapped": ekman_view(y_single, map_to_ekman(p, "goemotions28")),
    }
    if zek is not None:
        out["ekman_head"] = ekman_view(y_single, log_softmax(zek, axis=1))
    return out


@dataclass
class TrainSettings:
    epochs: int = 20
    patience: int = 4
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 1e-2
    ekman_weight: float = 0.5
    token_dropout: float = 0.1


def train_head(cfg: TextHeadConfig, train: Feats, dev: Feats, seed: int, s: TrainSettings,
               log: Any = print) -> tuple[TextHead, dict[str, Any]]:
    """Train one head through the library's head loop; keep the epoch with the best dev macro-F1 (tuned)."""
    seed_everything(seed, deterministic=False)
    head = TextHead(cfg)
    bce = nn.BCEWithLogitsLoss()
    y_dev = dev.y.numpy().astype(np.int64)

    def forward(m: TextHead, idx: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor | None]:
        x, mask, sent = train.batch(idx)
        if s.token_dropout > 0 and cfg.pooling == "attention":
            keep = torch.rand(mask.shape, generator=gen) > s.token_dropout
            keep[:, 0] = True  # never drop every token
            mask = mask & keep
        return m(x, mask, sent)

    def loss(out: tuple[Tensor, Tensor | None], idx: Tensor) -> Tensor:
        z, zek = out
        value = bce(z, train.y[idx])
        if zek is not None:
            value = value + s.ekman_weight * -(train.y_ek_soft[idx] * torch.log_softmax(zek, 1)).sum(1).mean()
        return value

    def score(m: TextHead) -> float:
        return macro_f1_tuned(y_dev, expit(predict(m, dev)[0]))

    hcfg = HeadTrainConfig(epochs=s.epochs, lr=s.lr, weight_decay=s.weight_decay, pct_start=0.1, patience=s.patience,
                           seed=seed, monitor="dev_f1_macro_tuned")
    res = fit_head(head, lambda epoch, gen: bucket_batches(train.lengths, s.batch_size, gen), forward, loss, score,
                   hcfg, steps_per_epoch=math.ceil(train.n / s.batch_size), log=log)
    return head, {"history": res.history, "best_epoch": res.best_epoch, "train_seconds": round(res.seconds, 1)}
