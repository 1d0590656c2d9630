"""Robustness of the voice expert to noise and reverberation on held-out RAVDESS actors (validation).

``voice-whisper`` with the head trained **without** RAVDESS actors 15–18
(``runs/voice_whisper_heldout/weights``) is scored on those actors' 240 speech utterances
(RAVDESS emotion → ekman7 as the corpus reader maps it: calm → neutral), clean and under

* ``white_noise`` at 30, 20, 10, 5, 0 dB SNR (w.r.t. each utterance's active power);
* ``babble_noise`` at the same SNRs: 4 talkers drawn per utterance from a bank of 56 utterances
  of actors 01–14 (4 per actor, fixed seed; other people than the ones scored);
* ``reverb`` with RT60 0.3, 0.6, 1.0 s (synthetic exponential-decay impulse responses).

Actors 19–24 (the withheld part of RAVDESS) are never read. Writes ``results/voice.{csv,json,md,png}``.

Run (about 15 min on one CPU thread)::

    OMP_NUM_THREADS=1 python recipes/robustness/voice.py --data-dir /work/shared/data > voice.log 2>&1
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import parse_args, write_results  # noqa: E402

from emofuse.data.corpora import load_corpus  # noqa: E402
from emofuse.experts import load_expert  # noqa: E402
from emofuse.media.audio import load_audio  # noqa: E402
from emofuse.robustness.experts import expert_sweep  # noqa: E402

HELD_OUT = ("15", "16", "17", "18")
BANK_ACTORS = tuple(f"{i:02d}" for i in range(1, 15))
SNRS = (30, 20, 10, 5, 0)
RT60S = (0.3, 0.6, 1.0)
ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv, extra=[
        ("--weights", {"default": str(ROOT / "runs/voice_whisper_heldout/weights"),
                       "help": "voice-whisper head trained without actors 15-18"}),
        ("--bank-per-actor", {"type": int, "default": 4})])
    t0 = time.time()
    corpus = load_corpus(Path(args.data_dir) / "ravdess", format="ravdess", label_space="ekman7")
    test = [it for it in corpus.items if it.speaker in HELD_OUT]
    if args.limit:
        test = test[: args.limit]
    items = [(load_audio(it.source, 16000)[0], 16000) for it in test]
    labels = [it.label for it in test]
    rng = np.random.default_rng(args.seed)
    bank = []
    for actor in BANK_ACTORS:
        pool = [it for it in corpus.items if it.speaker == actor]
        for k in rng.choice(len(pool), size=min(args.bank_per_actor, len(pool)), replace=False):
            bank.append((load_audio(pool[int(k)].source, 16000)[0], 16000))
    print(f"{len(items)} utterances of actors {','.join(HELD_OUT)}; babble bank {len(bank)} utterances "
          f"({time.time() - t0:.1f}s)", flush=True)

    expert = load_expert("voice-whisper", weights=args.weights, threads=1)
    rows = []
    for kind, levels, ctx in (("white_noise", SNRS, {}), ("babble_noise", SNRS, {"bank": bank, "talkers": 4}),
                              ("reverb", RT60S, {})):
        t = time.time()
        rows += expert_sweep(expert, items, labels, kind, levels, seed=args.seed, batch_size=16,
                             progress=not args.no_progress, **ctx)
        print(f"{kind}: " + ", ".join(f"{r['condition']} acc {r['accuracy']:.3f} uar {r['uar']:.3f}"
                                      for r in rows if r["kind"] == kind) + f" ({time.time() - t:.0f}s)", flush=True)
    meta = {"expert": "voice-whisper", "weights": os.path.relpath(args.weights, ROOT), "corpus": "RAVDESS speech",
            "actors": list(HELD_OUT), "n": len(items), "babble_bank": f"{len(bank)} utterances of actors 01-14",
            "babble_talkers": 4, "seed": args.seed, "seconds": round(time.time() - t0, 1)}
    write_results(rows, "voice", "voice-whisper (head without actors 15-18) on RAVDESS actors 15-18", meta, args.out)
    print(f"done in {time.time() - t0:.0f}s -> {args.out}/voice.*", flush=True)


if __name__ == "__main__":
    main()
