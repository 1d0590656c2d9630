"""PublicTest accuracy of face-fer2013 weight folders under several sets of test-time views.

Each set averages the logits of its views (the crop, its mirror, the crop zoomed out or in
with :func:`emofuse.experts.face.zoom_out`); with several folders the logit mean of all of them
(an ensemble) is scored too. PublicTest is the validation split, so a view set chosen here is
chosen on validation data.

    python recipes/face/tta_check.py --data-dir ../shared/data src/emofuse/experts/weights/face-fer2013 \
        runs/face_s1/weights

Prints a table and writes it as JSON to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from emofuse.experts.face import FaceExpert, zoom_out

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from train import DATA_DIR_ENV, ROOT, load_split  # noqa: E402  (the recipe's own reader and cache)

FLIP = "flip"
VIEW_SETS: dict[str, list[float | str]] = {  # a float is a zoom scale (1.0 = the crop itself)
    "crop": [1.0],
    "crop+mirror": [1.0, FLIP],
    "crop+mirror+zoom0.85": [1.0, FLIP, 0.85],
    "crop+mirror+zoom0.9": [1.0, FLIP, 0.9],
    "crop+mirror+zoom0.95": [1.0, FLIP, 0.95],
    "crop+mirror+zoom0.9+zoom1.1": [1.0, FLIP, 0.9, 1.1],
}


@torch.inference_mode()
def view_logits(net: torch.nn.Module, x: torch.Tensor, bs: int = 512) -> dict[float | str, np.ndarray]:
    """Logits ``(N, 7)`` of preprocessed crops ``x`` ``(N, 1, 48, 48)`` for every view used by a set."""
    out = {}
    for v in {v for views in VIEW_SETS.values() for v in views}:
        xv = torch.flip(x, dims=(3,)) if v == FLIP else (x if v == 1.0 else zoom_out(x, float(v)))
        out[v] = torch.cat([net(xv[i:i + bs]) for i in range(0, len(xv), bs)]).double().numpy()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("weights", nargs="+", help="face-fer2013 weight folders (head.safetensors + card.json)")
    p.add_argument("--data-dir", default=None, help=f"folder holding fer2013/ (or ${DATA_DIR_ENV})")
    p.add_argument("--cache", default=str(ROOT / "runs" / "face" / "cache"), help="the recipe's split cache")
    p.add_argument("--out", default=None, help="write the table as JSON here")
    args = p.parse_args(argv)
    data = args.data_dir or os.environ.get(DATA_DIR_ENV)
    if not data:
        raise SystemExit(f"--data-dir (or ${DATA_DIR_ENV}) must name the folder holding fer2013/")
    torch.set_num_threads(1)
    _, x, y = load_split(Path(data), "PublicTest", Path(args.cache))
    xt = torch.from_numpy(x)[:, None]
    table: dict[str, dict[str, float]] = {}
    members: dict[str, list[np.ndarray]] = {k: [] for k in VIEW_SETS}
    for d in args.weights:
        logits = view_logits(FaceExpert.from_dir(d).net.eval(), xt)
        for k, views in VIEW_SETS.items():
            z = np.mean([logits[v] for v in views], 0)
            members[k].append(z)
            table.setdefault(k, {})[d] = round(100 * float((z.argmax(1) == y).mean()), 2)
    if len(args.weights) > 1:
        for k, zs in members.items():
            table[k]["ensemble"] = round(100 * float((np.mean(zs, 0).argmax(1) == y).mean()), 2)
    cols = list(next(iter(table.values())))
    print("| views | " + " | ".join(cols) + " |\n|---|" + "---|" * len(cols))
    for k, row in table.items():
        print(f"| {k} | " + " | ".join(f"{row[c]:.2f}" for c in cols) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps({"split": "FER2013 PublicTest (validation)", "accuracy_pct": table},
                                             indent=1) + "\n")


if __name__ == "__main__":
    main()
