"""Validation media (c): clips whose words carry the emotion, and clips whose signals disagree.

Each clip is a RAVDESS utterance over a FER2013 face (as in ``build_composite.py``) plus a
transcript (``transcripts/<clip>.srt``, one cue over the speech) holding a MELD sentence of a
chosen emotion, given to ``emofuse analyze`` in place of speech recognition. Kinds:

* ``words``: words, voice and face all carry the label emotion X;
* ``words_only``: the words carry X (not neutral), voice and face are neutral — does the fused
  label follow the words when they carry the emotion?
* ``disagree_text`` / ``disagree_voice`` / ``disagree_face``: that signal carries another
  emotion Y, the other two carry X; the label is X (the majority).

    python recipes/analysis_validation/build_words.py --data-dir <data-dir> --split val --out runs/val_words
    emofuse analyze runs/val_words/media --transcript runs/val_words/transcripts -o runs/val_words/analysis
    emofuse evaluate-analysis runs/val_words/analysis --labels runs/val_words/labels.csv --unit label

``--split val``: actors 15-18, FER2013 PublicTest, MELD dev, every kind for every emotion
(34 clips per actor); ``--split train``: actors 01-14, FER2013 Training, MELD train, one
disagreement kind per emotion (20 clips per actor). The text expert never saw MELD; the voice
expert was trained on actors 01-18 (voice readings are in-sample).
"""

from __future__ import annotations

import random
from pathlib import Path

from media_sets import (
    load_sources,
    parse_split_args,
    split_parser,
    write_clip,
    write_labels,
    write_srt,
    write_voice_list,
)

from emofuse.labels import get_label_space

KINDS = ("words", "words_only", "disagree_text", "disagree_voice", "disagree_face")


def _plan(emotions: list[str], split: str, rng: random.Random) -> list[tuple[str, str, dict[str, str]]]:
    """``(kind, label, {text, voice, face: emotion})`` for one actor."""
    plan = []
    for x in emotions:
        others = [e for e in emotions if e != x]
        kinds = ["words"] + (["words_only"] if x != "neutral" else [])
        disagree = ["disagree_text", "disagree_voice", "disagree_face"]
        kinds += disagree if split == "val" else [rng.choice(disagree)]
        for kind in kinds:
            src = {"text": x, "voice": x, "face": x}
            if kind == "words_only":
                src.update(voice="neutral", face="neutral")
            elif kind.startswith("disagree_"):
                m = kind.split("_", 1)[1]
                # neutral words are absence of evidence, not disagreement
                src[m] = rng.choice([e for e in others if m != "text" or e != "neutral"])
            plan.append((kind, x, src))
    return plan


def build(data_dir: Path, out: Path, split: str, actors: list[int] | None, seed: int) -> None:
    rng = random.Random(seed)
    src = load_sources(data_dir, split, actors, texts=True)
    emotions = list(get_label_space("ekman7").classes)
    (out / "media").mkdir(parents=True, exist_ok=True)
    (out / "transcripts").mkdir(exist_ok=True)
    rows, n = [], 0
    for actor in src.actors:
        for kind, label, what in _plan(emotions, split, rng):
            item = rng.choice(src.speech[(actor, what["voice"])])
            text = rng.choice(src.sentences[what["text"]])
            stem = f"actor{actor:02d}_{kind}_{label}_{n}"
            path, start, end, size = write_clip(out / "media" / stem, n, item, rng.choice(src.faces[what["face"]]), rng)
            write_srt(out / "transcripts" / f"{stem}.srt", start, end, text)
            rows.append({"file": path.name, "label": label, "start": start, "end": end, "kind": kind,
                         "text_emotion": what["text"], "voice_emotion": what["voice"], "face_emotion": what["face"],
                         "face_scale": size, "audio_codec": path.suffix, "source": Path(item.source).name,
                         "text": text})
            n += 1
    write_labels(out / "labels.csv", rows)
    write_voice_list(out, rows, data_dir)
    print(f"wrote {len(rows)} clips to {out}")


def main() -> None:
    args = parse_split_args(split_parser(__doc__, "words"), "words", "ravdess/, fer2013/ and meld/")
    build(args.data_dir, args.out, args.split, args.actors, args.seed)


if __name__ == "__main__":
    main()
