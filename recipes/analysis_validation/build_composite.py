"""Validation media (b): a RAVDESS utterance over a FER2013 face of the same emotion, on a moving background.

Each clip: one utterance of a RAVDESS actor (0.5 s of silence around it) over a FER2013 face of
the same ekman7 emotion (RAVDESS calm → neutral) pasted on the project's drifting background at
one of several sizes; the audio is coded as AAC (MP4), Opus (WebM) or MP3 (Matroska) in turn.
One label per file. The words are RAVDESS's two lexically neutral statements, recognised by
speech recognition.

    python recipes/analysis_validation/build_composite.py --data-dir <data-dir> --split val --out runs/val_composite
    emofuse analyze runs/val_composite/media -o runs/val_composite/analysis
    emofuse evaluate-analysis runs/val_composite/analysis --labels runs/val_composite/labels.csv --unit label

``--split val`` (default): actors 15-18 and FER2013 PublicTest; ``--split train``: actors 01-14
and FER2013 Training (the clips a trained fusion learns from). The shipped voice experts were
trained on actors 01-18, so voice readings are in-sample for the voice expert on both splits;
the face expert selected its epoch and temperature on PublicTest.
"""

from __future__ import annotations

import random
from pathlib import Path

from media_sets import load_sources, parse_split_args, split_parser, write_clip, write_labels, write_voice_list


def build(data_dir: Path, out: Path, split: str, actors: list[int] | None, per_emotion: int, seed: int) -> None:
    rng = random.Random(seed)
    src = load_sources(data_dir, split, actors)
    (out / "media").mkdir(parents=True, exist_ok=True)
    rows = []
    for n, ((actor, emo), items) in enumerate(sorted(src.speech.items())):
        for k, item in enumerate(rng.sample(items, min(per_emotion, len(items)))):
            face = rng.choice(src.faces[emo])
            path, start, end, size = write_clip(out / "media" / f"actor{actor:02d}_{emo}_{k}", n * per_emotion + k,
                                                item, face, rng)
            rows.append({"file": path.name, "label": emo, "start": start, "end": end, "face_scale": size,
                         "audio_codec": path.suffix, "source": Path(item.source).name})
    write_labels(out / "labels.csv", rows)
    write_voice_list(out, rows, data_dir)
    print(f"wrote {len(rows)} clips to {out}")


def main() -> None:
    ap = split_parser(__doc__, "composite")
    ap.add_argument("--per-emotion", type=int, default=2, help="clips per actor and emotion")
    args = parse_split_args(ap, "composite", "ravdess/ and fer2013/")
    build(args.data_dir, args.out, args.split, args.actors, args.per_emotion, args.seed)


if __name__ == "__main__":
    main()
