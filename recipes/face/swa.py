"""Stochastic weight averaging (SWA) of a trained face-fer2013 net, then ship it like train.py does.

Izmailov et al. (2018): continue training a converged net at a constant learning rate and
average its weights once per epoch; the average sits nearer the centre of a wide optimum than
any single iterate and usually generalises better. The batch-norm statistics of the average are
recomputed over the (unaugmented) training crops. Same net, same speed at inference: only the
weights change. Measured on 3 seeds (recipes/face/README.md, "Weight averaging"): +0.57 PublicTest
points on average but worse on detected, resized faces, so the shipped net is not an average.

    python recipes/face/swa.py --data-dir ../shared/data --init src/emofuse/experts/weights/face-fer2013 \
        --run-dir runs/face_swa --out runs/face_swa/weights

Training objective and augmentation are train.py's (``objective``). After every epoch the running
average is scored on PublicTest (the validation split, no TTA); the epoch whose average scores
best is kept (``best.safetensors``, ``history.json``), and train.py's ``finalize`` writes the
weights, card (with an ``swa`` block) and ``results.json``. A checkpoint per epoch (``last.pt``,
tensors only) makes ``--resume`` continue; ``--finalize-only`` ships the best average so far
(e.g. ``--out src/emofuse/experts/weights/face-fer2013``). Every figure is a validation (PublicTest) figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from torch.optim.swa_utils import AveragedModel, update_bn  # noqa: E402
from train import finalize, objective, parse_args, predict_logits, prepare  # noqa: E402

from emofuse.cards import save_weights  # noqa: E402
from emofuse.experts.face import FaceExpert, FaceNetConfig  # noqa: E402


def swa_args(argv: list[str] | None = None) -> argparse.Namespace:
    """train.py's options (augmentation, loss, ``--out``, ``--run-dir``) plus the SWA ones."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], add_help=True)
    p.add_argument("--init", required=True, help="weight folder of the trained net to average from")
    p.add_argument("--swa-epochs", type=int, default=20, help="epochs of constant-LR training, one average each")
    p.add_argument("--swa-lr", type=float, default=1.5e-3, help="the constant AdamW learning rate")
    own, rest = p.parse_known_args(argv)
    args = parse_args(rest)
    for k, v in vars(own).items():
        setattr(args, k, v)
    return args


def main(argv: list[str] | None = None) -> None:
    args = swa_args(argv)
    run, xtr, ytr, rawva, xva, yva = prepare(args)
    init = FaceExpert.from_dir(args.init)
    net = init.net.train().to(memory_format=torch.channels_last)
    cfg = FaceNetConfig.from_dict(init.card["head"]["config"])
    trained = init.card["head"]["training"]
    args.swa = {"init": str(args.init), "init_epochs": trained.get("epochs"), "init_seed": trained.get("seed"),
                "init_publictest_accuracy": init.card["metrics"]["publictest"]["accuracy"],
                "epochs": args.swa_epochs, "lr": args.swa_lr}
    (run / "config.json").write_text(json.dumps({**vars(args), "net": cfg.to_dict()}, indent=1))
    xt, yt = torch.from_numpy(xtr)[:, None], torch.from_numpy(ytr)
    forward, loss = objective(args, xt, yt)
    opt = torch.optim.AdamW(net.parameters(), lr=args.swa_lr, weight_decay=args.weight_decay)
    avg = AveragedModel(net)
    gen = torch.Generator().manual_seed(args.seed)
    start, history, best = 0, [], -math.inf
    if args.resume and (run / "last.pt").is_file():
        ck = torch.load(run / "last.pt", weights_only=True)  # tensors and numbers only: no unpickling
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        avg.load_state_dict(ck["avg"])
        gen.set_state(ck["gen"])
        start, history, best = int(ck["epoch"]), list(ck["history"]), float(ck["best"])
        print(f"resumed after epoch {start}", flush=True)
    if start == 0:
        avg.update_parameters(net)  # the converged net itself is the first member of the average
    bn_batches = [xt[i:i + 512].contiguous(memory_format=torch.channels_last) for i in range(0, len(xt), 512)]
    for epoch in range(start, 0 if args.finalize_only else args.swa_epochs):
        t0, total, seen = time.perf_counter(), 0.0, 0
        net.train()
        for idx in torch.randperm(len(xt), generator=gen).split(args.batch_size):
            value = loss(forward(net, idx, gen), idx)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            total, seen = total + float(value.detach()), seen + 1
        avg.update_parameters(net)
        update_bn(bn_batches, avg)  # the average's own batch-norm statistics (training crops, no augmentation)
        z_avg = predict_logits(avg.module, xva, flip=False)
        z_it = predict_logits(net, xva, flip=False)
        z_flip = predict_logits(avg.module, xva, flip=True)  # logged only: selection stays on no TTA, as in train.py
        rec = {"epoch": epoch + 1, "train_loss": total / max(seen, 1),
               "val_acc": float((z_avg.argmax(1) == yva).mean()),
               "val_acc_flip": float((z_flip.argmax(1) == yva).mean()),
               "val_acc_iterate": float((z_it.argmax(1) == yva).mean()),
               "seconds": round(time.perf_counter() - t0, 1)}
        history.append(rec)
        print(json.dumps(rec), flush=True)
        if rec["val_acc"] > best:
            best = rec["val_acc"]
            save_weights(avg.module, run / "best.safetensors")
        torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "avg": avg.state_dict(),
                    "gen": gen.get_state(), "epoch": epoch + 1, "history": history, "best": best}, run / "last.pt")
        (run / "history.json").write_text(json.dumps(history, indent=1))
    args.epochs = args.swa["init_epochs"] or args.epochs  # the card's schedule is the init run's
    finalize(args, cfg, run, rawva, xva, yva, len(ytr), None)


if __name__ == "__main__":
    main()
