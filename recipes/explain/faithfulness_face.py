"""Faithfulness of the face expert's Grad-CAM heat-maps on FER2013 validation rows (deletion test).

For ``--n`` FER2013 ``PublicTest`` rows (the validation split; ``PrivateTest`` is never read), drawn
with a fixed seed:

1. check that the differentiable forward of :mod:`emofuse.explain.face` reproduces
   ``expert.predict(...).ekman`` (max absolute difference);
2. :func:`~emofuse.explain.face.face_deletion_curve`: occlude the hottest 8x8 cells of each crop
   (10/20/30/50 % of the 36 cells, filled with the crop's mean grey) and, as the baseline, as many
   random cells (5 draws), and record the mean drop of the predicted class's calibrated probability;
3. time one face heat-map (Grad-CAM with the flip TTA) on one torch thread;
4. write ``results/face_deletion.{json,csv,png}`` and ``results/face_examples.png`` (8 overlays).

Run::

    OMP_NUM_THREADS=1 python recipes/explain/faithfulness_face.py --data-dir /work/shared/data --n 500
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from emofuse.data.corpora import DATA_DIR_ENV, load_corpus  # noqa: E402
from emofuse.experts import load_expert  # noqa: E402
from emofuse.explain.deletion import format_deletion, plot_deletion, write_deletion_csv  # noqa: E402
from emofuse.explain.face import face_deletion_curve, face_forward, face_heatmaps, overlay_png  # noqa: E402
from emofuse.labels import get_label_space  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
EKMAN = get_label_space("ekman7").classes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV),
                   help=f"folder holding fer2013/ (default ${DATA_DIR_ENV})")
    p.add_argument("--n", type=int, default=500, help="PublicTest rows (seeded random sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-random", type=int, default=5, help="random-cell draws per crop and fraction")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def time_heatmap(expert: object, crops: np.ndarray, reps: int = 50) -> dict[str, float]:
    """Median / mean ms of one single-crop heat-map on one thread, and per crop in a batch of 64."""
    torch.set_num_threads(1)
    face_heatmaps(expert, crops[0])  # warm-up (Captum import, allocations)
    ts = []
    for i in range(reps):
        t = time.perf_counter()
        face_heatmaps(expert, crops[i % len(crops)])
        ts.append(1e3 * (time.perf_counter() - t))
    t = time.perf_counter()
    face_heatmaps(expert, crops[:64])
    batched = 1e3 * (time.perf_counter() - t) / min(64, len(crops))
    return {"single_median_ms": float(np.median(ts)), "single_mean_ms": float(np.mean(ts)),
            "batch64_per_face_ms": batched, "threads": 1, "reps": reps}


def plot_examples(crops: np.ndarray, maps: list[dict], labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, axes = plt.subplots(2, 4, figsize=(8, 5.4), dpi=120)
    for ax, crop, m, y in zip(axes.ravel(), crops, maps, labels, strict=True):
        ax.imshow(np.asarray(Image.open(io.BytesIO(overlay_png(crop, m["heatmap"], size=144)))))
        ax.set_title(f"true {y}\npred {m['target']} {m['prob']:.2f}", fontsize=8)
        ax.axis("off")
    fig.suptitle("Grad-CAM of the predicted class (flip-averaged), FER2013 PublicTest", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.data_dir is None:
        raise SystemExit(f"give --data-dir or set ${DATA_DIR_ENV}")
    t0 = time.time()
    corpus = load_corpus(Path(args.data_dir) / "fer2013", format="fer2013", usage="PublicTest")
    rng = np.random.default_rng(args.seed)
    idx = np.sort(rng.choice(len(corpus), size=min(args.n, len(corpus)), replace=False))
    corpus = corpus.subset(idx.tolist())
    crops = corpus.pixel_array()
    y = [EKMAN[i] for i in corpus.labels_as_indices()]  # fer2013 maps one-to-one, in order, onto ekman7
    print(f"{len(crops)} PublicTest rows ({time.time() - t0:.1f}s)", flush=True)

    expert = load_expert("face-fer2013", num_threads=1)
    torch.set_num_threads(1)
    out = expert.predict(crops)
    with torch.no_grad():
        parity = float(np.abs(face_forward(expert, crops).numpy() - out.ekman).max())
    accuracy = float(np.mean([p == t for p, t in zip(out.ekman_labels(), y, strict=True)]))
    timing = time_heatmap(expert, crops)
    print(f"forward parity max |diff| {parity:.2e}; accuracy {accuracy:.3f}; heat-map "
          f"{timing['single_median_ms']:.1f} ms/face single, {timing['batch64_per_face_ms']:.1f} ms/face batched",
          flush=True)

    t = time.time()
    res = face_deletion_curve(expert, crops, seed=args.seed, n_random=args.n_random)
    correct = np.asarray(out.ekman_labels()) == np.asarray(y)
    res_correct = face_deletion_curve(expert, crops[correct], seed=args.seed, n_random=args.n_random)
    print(f"deletion curves ({time.time() - t:.0f}s)")

    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "data": {"corpus": "FER2013", "usage": "PublicTest (validation)", "n": len(crops), "seed": args.seed,
                 "sample": "numpy default_rng(seed).choice over the PublicTest rows, without replacement"},
        "expert": expert.name, "method": "grad_cam (last conv block, flip-averaged, bilinear to 48x48)",
        "target": "predicted ekman class, calibrated probability", "occlusion": "8x8 cells, crop mean grey",
        "accuracy": accuracy, "forward_parity_max_abs": parity, "timing": timing,
        "deletion": res, "deletion_correct_only": res_correct,
    }
    (args.out / "face_deletion.json").write_text(json.dumps(report, indent=2) + "\n")
    curves = {"all": res, "correct": res_correct}
    write_deletion_csv(curves, args.out / "face_deletion.csv")
    plot_deletion(curves, args.out / "face_deletion.png", part="cells (Grad-CAM)",
                  xlabel="fraction of the 36 8x8 cells occluded (mean grey)",
                  title=f"Face expert deletion test, FER2013 PublicTest (n={len(crops)})")
    pick = np.linspace(0, len(crops) - 1, 8).astype(int)
    plot_examples(crops[pick], face_heatmaps(expert, crops[pick]), [y[i] for i in pick],
                  args.out / "face_examples.png")

    print(f"\nmean predicted-class probability of the full crops: {res['target_prob_full']:.3f}")
    print(format_deletion(curves))
    print(f"\nwrote {args.out}/face_deletion.{{json,csv,png}}, face_examples.png ({time.time() - t0:.0f}s)")
    return report


if __name__ == "__main__":
    main()
