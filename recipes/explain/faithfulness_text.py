"""Faithfulness of the text expert's word attributions on GoEmotions dev comments (deletion test).

For ``--n`` GoEmotions ``dev`` comments with exactly one label that is not ``neutral`` and at least
three words (so there is something to delete and something left), drawn with a fixed seed:

1. check that the differentiable forward of :mod:`emofuse.explain.words` reproduces
   ``expert.predict(...).ekman`` (max absolute difference);
2. :func:`~emofuse.explain.words.word_deletion_curve`: delete each comment's top-scored words
   (10/20/30/50 % of its words, only words with a positive score, always keeping one) and, as the
   baseline, as many random words (5 draws); record the mean drop of the predicted Ekman class's
   calibrated probability, re-predicted by the expert; also on the correctly classified comments;
3. time one word attribution (32 integration steps) on one torch thread, single and batched;
4. write ``results/text_deletion.{json,csv,png}``.

Run::

    OMP_NUM_THREADS=1 python recipes/explain/faithfulness_text.py --data-dir /work/shared/data --n 300
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from emofuse.experts import load_expert  # noqa: E402
from emofuse.explain.deletion import format_deletion, plot_deletion, write_deletion_csv  # noqa: E402
from emofuse.explain.words import text_forward, word_attributions, word_deletion_curve  # noqa: E402
from emofuse.labels import map_label  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=os.environ.get("EMOFUSE_DATA_DIR"),
                   help="folder holding goemotions/ (default $EMOFUSE_DATA_DIR)")
    p.add_argument("--n", type=int, default=300, help="dev comments (seeded random sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-random", type=int, default=5, help="random-word draws per text and fraction")
    p.add_argument("--n-steps", type=int, default=32, help="integration steps")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def read_dev(folder: Path) -> tuple[list[str], list[str]]:
    """Single-label, non-neutral dev comments of at least 3 words and their Ekman class."""
    names = (folder / "emotions.txt").read_text().split()
    texts, labels = [], []
    for line in (folder / "dev.tsv").read_text(encoding="utf-8").splitlines():
        text, ids, _ = line.split("\t")
        ids = ids.split(",")
        if len(ids) != 1 or names[int(ids[0])] == "neutral" or len(text.split()) < 3:
            continue
        texts.append(text)
        labels.append(map_label(names[int(ids[0])], "goemotions28", "ekman7"))
    return texts, labels


def time_attribution(expert: object, texts: list[str], n_steps: int, reps: int = 20) -> dict[str, float]:
    """Median / mean ms of one single-text attribution on one thread, and per text in a batch of 8."""
    torch.set_num_threads(1)
    word_attributions(expert, texts[:1], n_steps=n_steps)  # warm-up
    ts = []
    for i in range(reps):
        t = time.perf_counter()
        word_attributions(expert, [texts[i % len(texts)]], n_steps=n_steps)
        ts.append(1e3 * (time.perf_counter() - t))
    t = time.perf_counter()
    word_attributions(expert, texts[:32], n_steps=n_steps)
    batched = 1e3 * (time.perf_counter() - t) / min(32, len(texts))
    words = float(np.mean([len(x.split()) for x in texts[:reps]]))
    return {"single_median_ms": float(np.median(ts)), "single_mean_ms": float(np.mean(ts)),
            "batch8_per_text_ms": batched, "mean_words": words, "n_steps": n_steps, "threads": 1, "reps": reps}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.data_dir is None:
        raise SystemExit("give --data-dir or set $EMOFUSE_DATA_DIR")
    t0 = time.time()
    texts, labels = read_dev(Path(args.data_dir) / "goemotions")
    rng = np.random.default_rng(args.seed)
    idx = np.sort(rng.choice(len(texts), size=min(args.n, len(texts)), replace=False))
    pool = len(texts)
    texts, labels = [texts[i] for i in idx], [labels[i] for i in idx]
    print(f"{len(texts)} of {pool} eligible dev comments", flush=True)

    expert = load_expert("text-goemotions")
    torch.set_num_threads(1)
    out = expert.predict(texts)
    with torch.no_grad():
        parity = float(np.abs(text_forward(expert, texts).numpy() - out.ekman).max())
    pred = out.ekman_labels()
    correct = np.asarray(pred) == np.asarray(labels)
    timing = time_attribution(expert, texts, args.n_steps)
    print(f"forward parity max |diff| {parity:.2e}; Ekman accuracy {correct.mean():.3f}; attribution "
          f"{timing['single_median_ms']:.0f} ms/text single, {timing['batch8_per_text_ms']:.0f} ms/text batched "
          f"({timing['mean_words']:.1f} words)", flush=True)

    t = time.time()
    att = word_attributions(expert, texts, n_steps=args.n_steps)
    deltas = np.abs([a["delta"] for a in att])
    gaps = np.abs([a["prob"] - a["base_prob"] for a in att])
    res = word_deletion_curve(expert, texts, seed=args.seed, n_random=args.n_random, n_steps=args.n_steps)
    res_c = word_deletion_curve(expert, [x for x, c in zip(texts, correct, strict=True) if c], seed=args.seed,
                                n_random=args.n_random, n_steps=args.n_steps)
    print(f"attributions and deletion curves ({time.time() - t:.0f}s)", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    examples = [{"text": texts[i], "true": labels[i], "target": att[i]["target"], "prob": round(att[i]["prob"], 4),
                 "top": [w["word"] for w in sorted(att[i]["words"], key=lambda w: -w["score"])[:3]]}
                for i in range(min(10, len(texts)))]
    report = {
        "data": {"corpus": "GoEmotions", "split": "dev (validation)", "n": len(texts), "eligible": pool,
                 "filter": "exactly one label, not neutral, >= 3 whitespace words", "seed": args.seed},
        "expert": expert.name, "method": "integrated gradients on the MiniLM word embeddings, [PAD] baseline "
                                         "with [CLS]/[SEP] kept, word pieces summed into words",
        "target": "predicted ekman class, calibrated probability", "deletion": "words removed from the text",
        "accuracy_ekman": float(correct.mean()), "forward_parity_max_abs": parity, "timing": timing,
        "completeness": {"median_abs_delta": float(np.median(deltas)),
                         "p95_abs_delta": float(np.percentile(deltas, 95)),
                         "median_abs_prob_minus_base": float(np.median(gaps))},
        "deletion_all": res, "deletion_correct_only": res_c, "examples": examples,
    }
    (args.out / "text_deletion.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    curves = {"all": res, "correct": res_c}
    write_deletion_csv(curves, args.out / "text_deletion.csv")
    plot_deletion(curves, args.out / "text_deletion.png", part="words (IG)", xlabel="fraction of the words deleted",
                  title="Text expert deletion test, GoEmotions dev (single-label, non-neutral)")

    print(f"\nmean predicted-class probability of the full texts: {res['target_prob_full']:.3f}; "
          f"completeness |delta| median {np.median(deltas):.4f}")
    print(format_deletion(curves))
    print(f"\nwrote {args.out}/text_deletion.{{json,csv,png}} ({time.time() - t0:.0f}s)")
    return report


if __name__ == "__main__":
    main()
