"""Robustness of the face expert to blur, occlusion, low resolution and JPEG on FER2013 PublicTest (validation).

``face-fer2013`` (the shipped expert) is scored on all 3,589 FER2013 ``PublicTest`` crops
(the validation split; ``PrivateTest`` is never read), FER2013 labels mapped one-to-one onto
ekman7, clean and under each face corruption at its default levels:

* ``blur``: Gaussian σ = 1, 2, 3, 4 px (on the 48x48 crop);
* ``occlusion``: one random black block over 10, 25, 40, 60 % of the crop's area (aspect 1:2..2:1);
* ``downscale``: factor 2, 3, 4, 6 (shrunk to 24..8 px, then enlarged back);
* ``jpeg``: PIL quality 50, 20, 10, 5.

Writes ``results/face.{csv,json,md,png}``.

Run (a few minutes on one CPU thread)::

    OMP_NUM_THREADS=1 python recipes/robustness/face.py --data-dir /work/shared/data > face.log 2>&1
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
from emofuse.labels import get_label_space  # noqa: E402
from emofuse.robustness.corrupt import list_corruptions  # noqa: E402
from emofuse.robustness.experts import expert_sweep  # noqa: E402

EKMAN = get_label_space("ekman7").classes


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    t0 = time.time()
    torch.set_num_threads(1)
    corpus = load_corpus(Path(args.data_dir) / "fer2013", format="fer2013", usage="PublicTest")
    if args.limit:  # rows are grouped by label: a smoke run takes a seeded random subset
        keep = np.random.default_rng(args.seed).choice(len(corpus), min(args.limit, len(corpus)), replace=False)
        corpus = corpus.subset(sorted(keep.tolist()))
    crops = corpus.pixel_array()
    labels = [EKMAN[i] for i in corpus.labels_as_indices()]  # fer2013 maps one-to-one, in order, onto ekman7
    print(f"{len(crops)} PublicTest crops ({time.time() - t0:.1f}s)", flush=True)
    expert = load_expert("face-fer2013", num_threads=1)
    rows = []
    for kind in list_corruptions("face"):  # blur, downscale, jpeg, occlusion
        t = time.time()
        rows += expert_sweep(expert, crops, labels, kind, seed=args.seed, batch_size=256,
                             progress=not args.no_progress)
        print(f"{kind}: " + ", ".join(f"{r['condition']} acc {r['accuracy']:.3f}" for r in rows if r["kind"] == kind)
              + f" ({time.time() - t:.0f}s)", flush=True)
    meta = {"expert": "face-fer2013", "corpus": "FER2013 PublicTest", "n": len(crops), "seed": args.seed,
            "seconds": round(time.time() - t0, 1)}
    write_results(rows, "face", "face-fer2013 on FER2013 PublicTest", meta, args.out)
    print(f"done in {time.time() - t0:.0f}s -> {args.out}/face.*", flush=True)


if __name__ == "__main__":
    main()
