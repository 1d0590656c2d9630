"""What surrounds the speech: held-out RAVDESS files read whole vs as ``emofuse analyze`` reads them.

Each of the 240 files of actors 15-18 (validation actors; the head must be one trained without
them) is read four ways by ``voice-whisper``:

* ``file``: the whole file (speech with the recording's room tone around it, as in training);
* ``room``: every voice-activity segment of the file (the library's streaming segmenter, as in
  ``analyze``) padded with the card's ``segment_pad_s`` of the recording's own non-speech audio
  (:meth:`emofuse.media.segment.Segment.padded_speech`, ``voice_padding="room"``);
* ``silence``: the same segments padded with digital silence (``voice_padding="silence"``);
* ``unpadded``: the segments alone.

A file with several segments is scored by the duration-weighted mean of their probabilities.
Validation figures (UAR %, ekman7, calm -> neutral):

    python recipes/voice_whisper/padding_check.py --data-dir <data-dir> --weights runs/voice_whisper_heldout/weights
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from emofuse.data.corpora import DATA_DIR_ENV, load_corpus  # noqa: E402
from emofuse.evaluate.metrics import classification_metrics  # noqa: E402
from emofuse.experts import load_expert  # noqa: E402
from emofuse.media.audio import load_audio  # noqa: E402
from emofuse.media.segment import SAMPLE_RATE, Segmenter  # noqa: E402

HELD_OUT = ("15", "16", "17", "18")
WAYS = ("file", "room", "silence", "unpadded")


def readings(x: np.ndarray, pad_s: float) -> dict[str, list[tuple[np.ndarray, float]]]:
    """``way -> [(wave, weight)]`` for one file."""
    seg = Segmenter("vad", has_audio=True, context_s=pad_s)
    segs = [s for s in seg.feed_audio(0.0, x) + seg.flush(len(x) / SAMPLE_RATE) if s.source == "vad"]
    out: dict[str, list[tuple[np.ndarray, float]]] = {"file": [(x, 1.0)]}
    if not segs:  # no speech found: every way reads the file
        return {w: [(x, 1.0)] for w in WAYS}
    for s in segs:
        dur = s.end - s.start
        out.setdefault("room", []).append((s.padded_speech(pad_s)[1], dur))
        context, s.context = s.context, None
        out.setdefault("silence", []).append((s.padded_speech(pad_s)[1], dur))
        s.context = context
        out.setdefault("unpadded", []).append((s.speech_audio()[1], dur))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=os.environ.get(DATA_DIR_ENV))
    ap.add_argument("--weights", type=Path, required=True, help="a voice-whisper head trained without actors 15-18")
    args = ap.parse_args()
    expert = load_expert("voice-whisper", weights=args.weights, threads=1)
    corpus = load_corpus(args.data_dir / "ravdess", format="ravdess", label_space="ekman7")
    test = [it for it in corpus.items if it.speaker in HELD_OUT]
    classes = list(expert.ekman_classes) if hasattr(expert, "ekman_classes") else None
    probs: dict[str, list[np.ndarray]] = {w: [] for w in WAYS}
    for it in test:
        for way, items in readings(load_audio(it.source, SAMPLE_RATE)[0], expert.pad_s).items():
            out = expert.predict([(w, SAMPLE_RATE) for w, _ in items])
            wts = np.array([d for _, d in items])[:, None]
            probs[way].append((np.asarray(out.ekman) * wts).sum(0) / wts.sum())
            classes = classes or list(out.ekman_classes)
    y = np.array([classes.index(it.label) for it in test])
    res = {w: {k: round(100 * classification_metrics(y, np.log(np.stack(p) + 1e-12), classes=classes)[k], 1)
               for k in ("accuracy", "uar")} for w, p in probs.items()}
    print(json.dumps({"weights": str(args.weights), "n": len(test), "pad_s": expert.pad_s, "ways": res}, indent=1))


if __name__ == "__main__":
    main()
