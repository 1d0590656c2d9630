"""Validation media (a): concatenated RAVDESS utterances of one speaker, with pauses, and their labels.

Each file holds one utterance per RAVDESS emotion (8, in a seeded random order) of one actor,
separated by silent pauses, as one 16 kHz WAV. The words carry no emotion (RAVDESS's two
statements are lexically neutral), so this measures whether fusion lets the voice speak when
the words say nothing, and whether speech recognition keeps each utterance's words with it.

    python recipes/analysis_validation/build_concat.py --data-dir <data-dir> --out runs/val_concat
    emofuse analyze runs/val_concat/media -o runs/val_concat/analysis
    emofuse evaluate-analysis runs/val_concat/analysis --labels runs/val_concat/labels.csv
    python recipes/analysis_validation/build_concat.py --check runs/val_concat   # own-sentence transcripts

Actors 15-18 by default: the validation actors of the issue's protocol. Note that the shipped
voice experts were trained on actors 01-18 (all the shared RAVDESS data), so voice figures on
these files are in-sample for the voice expert; speech recognition and the text expert never
saw RAVDESS.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
from pathlib import Path

import numpy as np

from emofuse.data.corpora import load_corpus
from emofuse.labels import map_label
from emofuse.media.audio import load_audio

SR = 16000


def build(data_dir: Path, out: Path, actors: list[int], files_per_actor: int, pause_s: float, seed: int) -> None:
    corpus = load_corpus(data_dir / "ravdess", format="ravdess")
    by_actor: dict[int, dict[str, list]] = {}
    for item in corpus:
        if int(item.speaker) in actors:
            by_actor.setdefault(int(item.speaker), {}).setdefault(item.label, []).append(item)
    rng = random.Random(seed)
    (out / "media").mkdir(parents=True, exist_ok=True)
    rows, truth = [], {}
    import soundfile as sf

    for actor in actors:
        pools = {k: rng.sample(v, len(v)) for k, v in sorted(by_actor.get(actor, {}).items())}
        for f in range(files_per_actor):
            order = list(pools)
            rng.shuffle(order)
            pause = np.zeros(int(pause_s * SR), np.float32)
            parts, t, name = [pause], pause_s, f"actor{actor:02d}_{f}.wav"
            for emo in order:
                item = pools[emo][f % len(pools[emo])]
                wave, _ = load_audio(item.source, SR)
                rows.append({"file": name, "start": round(t, 3), "end": round(t + len(wave) / SR, 3),
                             "label": map_label(emo, "ravdess8", "ekman7"), "native": emo,
                             "source": Path(item.source).name})
                truth.setdefault(name, []).append(item.text)
                parts += [wave, pause]
                t += len(wave) / SR + pause_s
            sf.write(out / "media" / name, np.concatenate(parts), SR)
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["file", "start", "end", "label", "native", "source"])
        w.writeheader()
        w.writerows(rows)
    (out / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    print(f"wrote {len(truth)} files, {len(rows)} utterances to {out}")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def check(out: Path) -> None:
    """Share of labelled utterances whose overlapping ASR segment(s) hold exactly their own sentence."""
    from emofuse.analysis import AnalysisResult

    labels = list(csv.DictReader((out / "labels.csv").open(encoding="utf-8")))
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    results = {Path(p.parent.name).name: AnalysisResult.read_json(p) for p in (out / "analysis").rglob("analysis.json")}
    exact = words_ok = n = 0
    for name, sentences in truth.items():
        res = results.get(Path(name).stem) or next((r for r in results.values() if Path(r.source).name == name), None)
        if res is None:
            continue
        spans = [r for r in labels if r["file"] == name]
        for span, sentence in zip(spans, sentences, strict=True):
            s0, s1 = float(span["start"]), float(span["end"])
            segs = [s for s in res.segments if s.end > s0 and s.start < s1 and s.text]
            heard = " ".join(s.text for s in segs)
            # words of this utterance only (by time) — what leaks in from neighbours shows up here
            own = [w["word"] for s in segs for w in s.words if s0 - 0.3 <= (w["start"] + w["end"]) / 2 <= s1 + 0.3]
            n += 1
            exact += _words(heard) == _words(sentence)
            words_ok += _words(" ".join(own)) == _words(sentence)
    print(json.dumps({"utterances": n, "exact_own_sentence": round(exact / max(n, 1), 4),
                      "own_words_by_time": round(words_ok / max(n, 1), 4)}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get("EMOFUSE_DATA_DIR"))
    ap.add_argument("--out", type=Path, default=Path("runs/val_concat"))
    ap.add_argument("--actors", type=int, nargs="+", default=[15, 16, 17, 18])
    ap.add_argument("--files-per-actor", type=int, default=3)
    ap.add_argument("--pause-s", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", type=Path, default=None, help="score the transcripts of an analysed build folder")
    args = ap.parse_args()
    if args.check is not None:
        check(args.check)
        return
    if args.data_dir is None:
        ap.error("--data-dir (or $EMOFUSE_DATA_DIR) must name the folder holding ravdess/")
    build(args.data_dir, args.out, args.actors, args.files_per_actor, args.pause_s, args.seed)


if __name__ == "__main__":
    main()
