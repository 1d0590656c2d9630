"""Robustness of the text expert to word errors (ASR-like) on GoEmotions dev (validation).

``text-goemotions`` (the shipped expert) is scored on the GoEmotions ``dev`` items whose labels
fall in one Ekman group (the single-label ``ekman7`` view, as ``emofuse evaluate
text-goemotions`` scores it: 4,946 of 5,426), clean (= WER 0) and with ``word_errors`` at WER 0.1, 0.2,
0.3, 0.5: seeded substitutions (60 %), deletions (20 %) and insertions (20 %) at distinct words,
substitutes and insertions drawn from a built-in list of common English words. The achieved WER
(word-level edit distance over all reference words) is recorded next to each level.

Writes ``results/text.{csv,json,md,png}``.

Run::

    OMP_NUM_THREADS=1 python recipes/robustness/text.py --data-dir /work/shared/data > text.log 2>&1
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import parse_args, write_results  # noqa: E402

from emofuse.data.corpora import load_corpus  # noqa: E402
from emofuse.experts import load_expert  # noqa: E402
from emofuse.robustness.corrupt import word_error_rate  # noqa: E402
from emofuse.robustness.experts import corrupt_items, expert_sweep, item_seeds  # noqa: E402

#: WER 0 is the clean row (``level=None``: ``word_errors`` at 0 is the identity, tested), not scored twice
WERS = (0.1, 0.2, 0.3, 0.5)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    t0 = time.time()
    torch.set_num_threads(1)
    corpus = load_corpus(Path(args.data_dir) / "goemotions" / "dev.tsv", format="goemotions", view="ekman7")
    single = [it for it in corpus.items if len(set(it.label)) == 1]
    if args.limit:
        keep = np.random.default_rng(args.seed).choice(len(single), min(args.limit, len(single)), replace=False)
        single = [single[i] for i in sorted(keep.tolist())]
    texts, labels = [it.text for it in single], [it.label[0] for it in single]
    print(f"{len(texts)} single-label dev items of {len(corpus)} ({time.time() - t0:.1f}s)", flush=True)
    expert = load_expert("text-goemotions")
    rows = expert_sweep(expert, texts, labels, "word_errors", WERS, seed=args.seed, batch_size=64,
                        progress=not args.no_progress)
    # the WER actually reached, pooled over the corpus (the same per-item seeds as the sweep)
    seeds = item_seeds(len(texts), args.seed)
    n_words = sum(len(t.split()) for t in texts)
    for r in rows:
        noisy = corrupt_items(texts, "word_errors", r["level"], "text", seeds)
        errors = sum(word_error_rate(t, h) * len(t.split()) for t, h in zip(texts, noisy, strict=True) if t.split())
        r["achieved_wer"] = round(errors / n_words, 4)
        print(f"{r['condition']}: achieved WER {r['achieved_wer']:.3f} acc {r['accuracy']:.3f} "
              f"F1-m {r['f1_macro']:.3f}", flush=True)
    meta = {"expert": "text-goemotions", "corpus": "GoEmotions dev, single-label ekman7 view", "n": len(texts),
            "words": n_words, "seed": args.seed, "seconds": round(time.time() - t0, 1)}
    write_results(rows, "text", "text-goemotions on GoEmotions dev (single-label ekman7)", meta, args.out)
    print(f"done in {time.time() - t0:.0f}s -> {args.out}/text.*", flush=True)


if __name__ == "__main__":
    main()
