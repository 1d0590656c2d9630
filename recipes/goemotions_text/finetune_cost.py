"""Measure what fine-tuning all-MiniLM-L6-v2 on GoEmotions would cost on this CPU.

    python recipes/goemotions_text/finetune_cost.py --data-dir ../shared/data/goemotions [--threads 1]

Times ``--steps`` full training steps (forward, backward and AdamW update of the whole encoder
plus a 28-way linear head, batch ``--batch-size`` of random training comments padded per batch)
after two warm-up steps, and extrapolates to one epoch over train.tsv. Also times the frozen
forward pass alone for comparison. Nothing is trained or saved.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _data import read_split  # noqa: E402

from emofuse.experts._minilm import MAX_TOKENS, MiniLMEncoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    split = read_split(args.data_dir / "train.tsv", "train")
    rng = np.random.default_rng(0)
    enc = MiniLMEncoder()
    model, tok = enc.model, enc.tokenizer
    model.train().requires_grad_(True)
    head = torch.nn.Linear(384, 28)
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=2e-5)
    y_all = torch.from_numpy(split.labels.astype(np.float32))

    def batch() -> tuple[dict, torch.Tensor]:
        idx = rng.choice(len(split), args.batch_size, replace=False)
        e = tok([split.texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                return_tensors="pt")
        return e, y_all[idx]

    def step() -> float:
        e, y = batch()
        t = time.perf_counter()
        h = model(**e).last_hidden_state
        m = e["attention_mask"].unsqueeze(-1).float()
        z = head((h * m).sum(1) / m.sum(1))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - t

    for _ in range(2):
        step()
    train_times = [step() for _ in range(args.steps)]
    model.eval()
    fwd = []
    with torch.inference_mode():
        for _ in range(args.steps):
            e, _ = batch()
            t = time.perf_counter()
            model(**e)
            fwd.append(time.perf_counter() - t)
    steps_per_epoch = int(np.ceil(len(split) / args.batch_size))
    out = {
        "threads": args.threads, "batch_size": args.batch_size, "steps_timed": args.steps,
        "train_step_s_median": float(np.median(train_times)),
        "frozen_forward_s_median": float(np.median(fwd)),
        "steps_per_epoch": steps_per_epoch,
        "finetune_epoch_minutes": float(np.median(train_times)) * steps_per_epoch / 60,
        "note": "random batches (unsorted lengths); typical fine-tuning needs 3-5 epochs plus dev evaluation",
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
