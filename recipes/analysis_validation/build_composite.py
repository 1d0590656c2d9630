"""Validation media (b): a RAVDESS utterance over a FER2013 face of the same emotion, on a moving background.

Each clip: one utterance of a RAVDESS actor (0.5 s of silence around it) as AAC audio in an
MP4, and a FER2013 PublicTest face of the same ekman7 emotion (RAVDESS calm → neutral) pasted
over the project's drifting background at one of several sizes. One label per file.

    python recipes/analysis_validation/build_composite.py --data-dir <data-dir> --out runs/val_composite
    emofuse analyze runs/val_composite/media -o runs/val_composite/analysis
    emofuse evaluate-analysis runs/val_composite/analysis --labels runs/val_composite/labels.csv --unit label

Defaults: actors 15-18 and FER2013 PublicTest (the validation halves of the issue's protocol).
The shipped voice experts were trained on actors 01-18, so voice figures are in-sample for the
voice expert; the face expert selected its epoch and temperature on PublicTest.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
from pathlib import Path

import numpy as np

from emofuse.data.corpora import load_corpus
from emofuse.data.synth_media import write_video
from emofuse.labels import map_label
from emofuse.media.audio import load_audio

SR = 16000
SIZES = (0.35, 0.5, 0.7)  # pasted face height / frame height


def _face_rgb(pixels: np.ndarray, side: int = 192) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(np.asarray(pixels, np.uint8)).resize((side, side), Image.BICUBIC).convert("RGB")
    return np.asarray(img)


def build(data_dir: Path, out: Path, actors: list[int], per_emotion: int, seed: int) -> None:
    rng = random.Random(seed)
    faces: dict[str, list[np.ndarray]] = {}
    for item in load_corpus(data_dir / "fer2013", format="fer2013", usage="PublicTest"):
        faces.setdefault(map_label(item.label, "fer2013", "ekman7"), []).append(item.pixels)
    speech: dict[tuple[int, str], list] = {}
    for item in load_corpus(data_dir / "ravdess", format="ravdess"):
        if int(item.speaker) in actors:
            speech.setdefault((int(item.speaker), map_label(item.label, "ravdess8", "ekman7")), []).append(item)
    (out / "media").mkdir(parents=True, exist_ok=True)
    rows = []
    for (actor, emo), items in sorted(speech.items()):
        for k, item in enumerate(rng.sample(items, min(per_emotion, len(items)))):
            wave, _ = load_audio(item.source, SR)
            pad = np.zeros(SR // 2, np.float32)
            audio = np.concatenate([pad, wave, pad])
            name = f"actor{actor:02d}_{emo}_{k}.mp4"
            size = SIZES[(actor + k) % len(SIZES)]
            write_video(out / "media" / name, duration_s=len(audio) / SR, width=640, height=360, fps=15.0,
                        audio=(audio, SR), face=_face_rgb(rng.choice(faces[emo])), face_scale=size,
                        seed=rng.randrange(1 << 30))
            rows.append({"file": name, "label": emo, "face_scale": size, "source": Path(item.source).name})
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "label", "face_scale", "source"])
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} clips to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get("EMOFUSE_DATA_DIR"))
    ap.add_argument("--out", type=Path, default=Path("runs/val_composite"))
    ap.add_argument("--actors", type=int, nargs="+", default=[15, 16, 17, 18])
    ap.add_argument("--per-emotion", type=int, default=2, help="clips per actor and emotion")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.data_dir is None:
        ap.error("--data-dir (or $EMOFUSE_DATA_DIR) must name the folder holding ravdess/ and fer2013/")
    build(args.data_dir, args.out, args.actors, args.per_emotion, args.seed)


if __name__ == "__main__":
    main()
