"""Faithfulness of the voice expert's occlusion maps on RAVDESS validation speakers (deletion test).

For ``--n`` RAVDESS utterances of actors 15-18 (the speakers the ``runs/voice_whisper_heldout``
head was validated on and never trained on), drawn with a fixed seed:

1. :func:`~emofuse.explain.voice.voice_deletion_curve`: cut each utterance into 0.2 s cells, score
   each cell by the mean occlusion drop (0.4 s windows, 0.2 s hop) of the windows over it, silence
   the top-scored cells (10/20/30/50 % of the cells) and, as the baseline, as many random cells (5
   draws by default); record the mean drop of the predicted Ekman class's calibrated probability; also on the
   correctly classified utterances;
2. time one occlusion map (all windows in one batched ``predict``) and one prosody summary;
3. write ``results/voice_deletion.{json,csv,png}``.

The files are read as they are (mono 16 kHz FLAC with their leading/trailing silence).

Run::

    OMP_NUM_THREADS=1 python recipes/explain/faithfulness_voice.py --data-dir /work/shared/data \\
        --weights runs/voice_whisper_heldout/weights --n 80
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from emofuse.experts import load_expert  # noqa: E402
from emofuse.explain.deletion import combine_deletion, format_deletion, plot_deletion, write_deletion_csv  # noqa: E402
from emofuse.explain.voice import prosody_summary, voice_deletion_curve, voice_occlusion  # noqa: E402
from emofuse.labels import get_label_space, map_label  # noqa: E402
from emofuse.media.audio import load_audio  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ACTORS = (15, 16, 17, 18)
RAVDESS = get_label_space("ravdess8").classes  # file code EE = index + 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=os.environ.get("EMOFUSE_DATA_DIR"),
                   help="folder holding ravdess/ (default $EMOFUSE_DATA_DIR)")
    p.add_argument("--weights", type=Path, default=Path("runs/voice_whisper_heldout/weights"),
                   help="voice-whisper head trained without actors 15-18")
    p.add_argument("--n", type=int, default=80, help="utterances (seeded random sample)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-random", type=int, default=5, help="random-cell draws per utterance and fraction")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def read_items(folder: Path) -> tuple[list[Path], list[str]]:
    """RAVDESS files of the validation actors and their Ekman class (calm → neutral)."""
    files = sorted(f for a in ACTORS for f in (folder / f"Actor_{a:02d}").glob("03-01-*.flac"))
    labels = [map_label(RAVDESS[int(f.name.split("-")[2]) - 1], "ravdess8", "ekman7") for f in files]
    return files, labels


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.data_dir is None:
        raise SystemExit("give --data-dir or set $EMOFUSE_DATA_DIR")
    t0 = time.time()
    files, labels = read_items(Path(args.data_dir) / "ravdess")
    rng = np.random.default_rng(args.seed)
    idx = np.sort(rng.choice(len(files), size=min(args.n, len(files)), replace=False))
    files, labels = [files[i] for i in idx], [labels[i] for i in idx]
    items = [(load_audio(f, 16000)[0], 16000) for f in files]
    print(f"{len(items)} utterances of actors {ACTORS}", flush=True)

    expert = load_expert("voice-whisper", weights=args.weights, threads=1)
    torch.set_num_threads(1)
    pred = expert.predict(items).ekman_labels()
    correct = np.asarray(pred) == np.asarray(labels)

    t = time.perf_counter()
    occ = [voice_occlusion(expert, w, sr) for w, sr in items[:3]]
    occ_s = (time.perf_counter() - t) / len(occ)
    t = time.perf_counter()
    pros = [prosody_summary(w, sr) for w, sr in items[:3]]
    pros_ms = 1e3 * (time.perf_counter() - t) / len(pros)
    dur = float(np.mean([len(w) / sr for w, sr in items]))
    timing = {"occlusion_s_per_utterance": occ_s, "windows_per_utterance": float(np.mean([len(o["stretches"])
                                                                                       for o in occ])),
              "prosody_ms_per_utterance": pros_ms, "mean_duration_s": dur, "threads": 1, "reps": len(occ)}
    print(f"accuracy {correct.mean():.3f}; occlusion {occ_s:.2f} s/utterance ({timing['windows_per_utterance']:.0f} "
          f"windows, {dur:.1f} s audio); prosody {pros_ms:.0f} ms", flush=True)

    t = time.time()
    # one curve per utterance, aggregated here: the "correct" subset reuses the same silenced copies
    # instead of paying for a second pass (each utterance costs ~30 Whisper encodes)
    per = []
    for i, it in enumerate(items):
        per.append(voice_deletion_curve(expert, [it], seed=args.seed + i, n_random=args.n_random))
        if (i + 1) % 10 == 0:
            print(f"  {i + 1}/{len(items)} ({time.time() - t:.0f}s)", flush=True)
    res = combine_deletion(per)
    res_c = combine_deletion([r for r, c in zip(per, correct, strict=True) if c])
    print(f"deletion curves ({time.time() - t:.0f}s)", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    examples = [{"file": files[i].name, "true": labels[i], "target": o["target"], "prob": round(o["prob"], 4),
                 "top": {k: round(v, 3) for k, v in o["top"].items()},
                 "prosody": {k: None if v is None else round(v, 3) for k, v in p.items()}}
                for i, (o, p) in enumerate(zip(occ, pros, strict=True))]
    report = {
        "data": {"corpus": "RAVDESS speech", "actors": list(ACTORS), "role": "validation speakers of the head",
                 "n": len(items), "seed": args.seed},
        "expert": expert.name, "weights": str(args.weights),
        "method": "occlusion over time: 0.4 s windows, 0.2 s hop, set to zero; cells of 0.2 s scored by the "
                  "mean drop of the windows over them",
        "target": "predicted ekman class, calibrated probability", "accuracy_ekman": float(correct.mean()),
        "timing": timing, "deletion_all": res, "deletion_correct_only": res_c, "examples": examples,
    }
    (args.out / "voice_deletion.json").write_text(json.dumps(report, indent=2) + "\n")
    curves = {"all": res, "correct": res_c}
    write_deletion_csv(curves, args.out / "voice_deletion.csv")
    plot_deletion(curves, args.out / "voice_deletion.png", part="stretches (occlusion)",
                  xlabel="fraction of the 0.2 s cells silenced",
                  title="Voice expert (whisper, held-out head) deletion test, RAVDESS actors 15-18")

    print(f"\nmean predicted-class probability of the full utterances: {res['target_prob_full']:.3f}; "
          f"{res['mean_cells']:.1f} cells per utterance")
    print(format_deletion(curves))
    print(f"\nwrote {args.out}/voice_deletion.{{json,csv,png}} ({time.time() - t0:.0f}s)")
    return report


if __name__ == "__main__":
    main()
