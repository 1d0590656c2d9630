"""Train the GoEmotions text expert (``text-goemotions``) and ship its head into the package.

One command, fixed seeds, CPU only:

    python recipes/goemotions_text/train.py --data-dir <data-dir>/goemotions

Steps: (1) encode train/dev with the frozen all-MiniLM-L6-v2 once and cache the features as
.npy under ``runs/goemotions_text/features`` (reused by later runs); (2) train every candidate
head with every seed, keeping the epoch with the best dev macro-F1; (3) select the candidate
with the best mean dev macro-F1 (28 labels, per-label thresholds tuned on dev); (4) choose the
Ekman route (mapped from the 28 probabilities, or the jointly trained 7-way head) on dev
Ekman macro-F1; tune thresholds and fit the temperature of the shipped (first-seed) head on
dev; (5) write ``head.safetensors`` + ``card.json`` to
``src/emofuse/experts/weights/text-goemotions/`` and the rendered card into this folder's
README. Every figure is a dev (validation) figure; the official test split is not used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent

from _card import build_card, render_card, update_readme  # noqa: E402
from _data import read_split  # noqa: E402
from _features import build_cache  # noqa: E402
from _train import Feats, TrainSettings, evaluate, predict, train_head  # noqa: E402

from emofuse.data.corpora import DATA_DIR_ENV  # noqa: E402
from emofuse.experts.base import write_weights  # noqa: E402
from emofuse.experts.text import TextHead, TextHeadConfig  # noqa: E402

REPO = HERE.parent.parent
EXPERT = "text-goemotions"

#: Candidate heads compared on dev (name → head config).
CANDIDATES: dict[str, TextHeadConfig] = {
    # (a) MLP on the mean-pooled sentence embedding
    "mean-mlp": TextHeadConfig(pooling="mean", hidden=512, dropout=0.3),
    # (b) attention pooling over the last layer's token states (+ the sentence embedding)
    "attn": TextHeadConfig(pooling="attention", layers=(6,), dropout=0.3),
    # (b') the same over a learned mix of the top four layers
    "attn-mix": TextHeadConfig(pooling="attention", layers=(3, 4, 5, 6), dropout=0.3),
    # (b') with a second, jointly trained 7-way Ekman output (decides the Ekman route)
    "attn-mix+ekman": TextHeadConfig(pooling="attention", layers=(3, 4, 5, 6), dropout=0.3, ekman_head=True),
}
SCALARS = ("f1_macro_tuned", "f1_macro_05", "f1_micro_tuned", "f1_micro_05", "f1_macro_crossfit",
           "ekman_multilabel_f1_macro_tuned")


def summary(res: dict) -> dict[str, float]:
    """Flat scalar view of one evaluation (both Ekman routes)."""
    out = {k: res[k] for k in SCALARS}
    for route in ("ekman_mapped", "ekman_head"):
        if route in res:
            for k in ("accuracy", "f1_macro", "ece_before", "ece_after", "temperature"):
                out[f"{route}.{k}"] = res[route][k]
    return out


def mean_std(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = rows[0].keys()
    return {k: {"mean": float(np.mean([r[k] for r in rows])), "std": float(np.std([r[k] for r in rows], ddof=1))
                if len(rows) > 1 else 0.0} for k in keys}


def strip_ekman_head(head: TextHead) -> TextHead:
    """Same head without the 7-way output (when the mapped Ekman route wins)."""
    cfg = TextHeadConfig.from_dict({**head.config.to_dict(), "ekman_head": False})
    new = TextHead(cfg)
    state = {k: v for k, v in head.state_dict().items() if not k.startswith("out_ekman.")}
    new.load_state_dict(state, strict=True)
    return new.eval()


def rebuild_card(args: argparse.Namespace, train_split: object, dev_split: object) -> None:
    """Re-render the card of the shipped head from the saved results (weights unchanged)."""
    from _features import FeatureCache, cache_key
    from _train import TrainSettings as Settings

    from emofuse.experts._minilm import MAX_TOKENS
    from emofuse.experts.base import read_card, read_weights

    saved = json.loads((args.out / "results.json").read_text())
    old = read_card(args.export_dir)
    head = TextHead(TextHeadConfig.from_dict(old["head"]["config"]))
    read_weights(args.export_dir, head)
    best, results = saved["selected"], saved["candidates"]
    caches = {s.name: FeatureCache(args.out / "features" / f"{s.name}-{cache_key(s, MAX_TOKENS)}")
              for s in (dev_split, train_split)}
    card = build_card(expert=EXPERT, head=head, best=best, route=saved["ekman_route"], results=results,
                      shipped=results[best]["runs"][0]["dev"], seeds=old["training"]["seeds"],
                      settings=Settings(**saved["settings"]), splits=(train_split, dev_split), caches=caches,
                      threads=int(old["training"]["hardware"].rsplit("=", 1)[1]),
                      total_seconds=old["training"]["recipe_seconds"])
    card["created"] = old["created"]
    write_weights(args.export_dir, head, card)
    update_readme(HERE / "README.md", render_card(card))
    print(f"rebuilt {args.export_dir / 'card.json'} and the README card")


def main() -> None:
    ap = argparse.ArgumentParser(description="Train and ship the GoEmotions text expert.")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get(DATA_DIR_ENV, ".")) / "goemotions",
                    help=f"folder with train.tsv and dev.tsv (official layout; default ${DATA_DIR_ENV}/goemotions)")
    ap.add_argument("--out", type=Path, default=Path("runs/goemotions_text"), help="feature cache and run logs")
    ap.add_argument("--candidates", default=",".join(CANDIDATES), help=f"subset of {list(CANDIDATES)}")
    ap.add_argument("--seeds", default="0,1,2", help="head-training seeds; the first one is shipped")
    ap.add_argument("--epochs", type=int, default=TrainSettings.epochs)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--export-dir", type=Path, default=REPO / "src/emofuse/experts/weights" / EXPERT)
    ap.add_argument("--no-export", action="store_true", help="train and report only")
    ap.add_argument("--limit", type=int, default=None, help="first N comments of each split (smoke runs; no export)")
    ap.add_argument("--card-only", action="store_true",
                    help="rebuild card.json and the README card from runs/.../results.json and the shipped head "
                         "(after editing the card text; no training)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = args.candidates.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        ap.error(f"unknown candidates {unknown}; known: {list(CANDIDATES)}")
    settings = TrainSettings(epochs=args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    train_split = read_split(args.data_dir / "train.tsv", "train")
    dev_split = read_split(args.data_dir / "dev.tsv", "dev")
    if args.limit:
        args.no_export = True
        train_split, dev_split = (dataclasses.replace(sp, texts=sp.texts[:args.limit], labels=sp.labels[:args.limit],
                                                      ids=sp.ids[:args.limit], sha1=f"{sp.sha1}-first{args.limit}")
                                  for sp in (train_split, dev_split))
    if args.card_only:
        rebuild_card(args, train_split, dev_split)
        return
    layers = tuple(sorted({k for n in names for k in CANDIDATES[n].layers}))
    t0 = time.perf_counter()
    caches = {s.name: build_cache(s, args.out / "features", layers=layers) for s in (dev_split, train_split)}
    embed_s = {n: c.meta["seconds"] for n, c in caches.items()}
    print(f"features ready in {time.perf_counter() - t0:.1f}s (encoding times when built: {embed_s})")

    y_dev = dev_split.labels.astype(np.int64)
    y_single, y_ek_multi = dev_split.ekman_single, dev_split.ekman_multi
    results: dict[str, dict] = {}
    shipped_heads: dict[str, TextHead] = {}
    for name in names:
        cfg = CANDIDATES[name]
        need_tokens = cfg.pooling == "attention"
        train_f = Feats(caches["train"], cfg.layers, need_tokens)
        dev_f = Feats(caches["dev"], cfg.layers, need_tokens)
        runs = []
        for seed in seeds:
            print(f"[{name}] seed {seed}")
            head, info = train_head(cfg, train_f, dev_f, seed, settings)
            z, zek = predict(head, dev_f)
            res = evaluate(y_dev, z, zek, y_single, y_ek_multi)
            runs.append({"seed": seed, **info, "dev": res})
            print(f"[{name}] seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in summary(res).items()))
            if seed == seeds[0]:
                shipped_heads[name] = head
        results[name] = {"config": cfg.to_dict(), "parameters": sum(p.numel() for p in TextHead(cfg).parameters()),
                         "runs": runs, "dev_mean_std": mean_std([summary(r["dev"]) for r in runs])}
        del train_f, dev_f

    best = max(names, key=lambda n: results[n]["dev_mean_std"]["f1_macro_tuned"]["mean"])
    ms = results[best]["dev_mean_std"]
    # the Ekman view: a trained 7-way output only if it beats mapping the 28 probabilities on dev
    route = "mapped"
    if "ekman_head.f1_macro" in ms and ms["ekman_head.f1_macro"]["mean"] > ms["ekman_mapped.f1_macro"]["mean"]:
        route = "head"
    print(f"selected {best} (dev macro-F1 tuned {ms['f1_macro_tuned']['mean']:.4f}); Ekman route: {route}")

    head = shipped_heads[best]
    if route == "mapped":
        head = strip_ekman_head(head)
    shipped = results[best]["runs"][0]["dev"]
    # results.json belongs to the shipped head (--card-only reads it); a --no-export run writes beside it
    res_file = args.out / ("results-no-export.json" if args.no_export else "results.json")
    res_file.write_text(json.dumps({"selected": best, "ekman_route": route, "settings": vars(settings),
                                    "candidates": results}, indent=2))
    card = build_card(expert=EXPERT, head=head, best=best, route=route, results=results, shipped=shipped,
                      seeds=seeds, settings=settings, splits=(train_split, dev_split), caches=caches,
                      threads=args.threads, total_seconds=time.perf_counter() - t_start)
    if args.no_export:
        print(render_card(card))
        return
    write_weights(args.export_dir, head, card)
    update_readme(HERE / "README.md", render_card(card))
    size = sum(f.stat().st_size for f in args.export_dir.iterdir())
    print(f"wrote {args.export_dir} ({size / 1e6:.2f} MB) and {HERE / 'README.md'}")


if __name__ == "__main__":
    main()
