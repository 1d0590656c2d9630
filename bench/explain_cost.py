"""What explanations cost: seconds per item for each explainer, and ``analyze`` with ``explain`` off vs on.

    OMP_NUM_THREADS=1 python bench/explain_cost.py [--repeats 3]

Prints a table (median over repeats, one thread) and writes ``bench/results/explain_cost.json``:

* Shapley contributions of one analysis segment (decision-level fusion, 3 modalities);
* word attributions of one sentence (integrated gradients, 32 steps, the shipped text expert);
* voice occlusion of one 3 s utterance (0.4 s windows, 0.2 s hop, ``voice-whisper``);
* a face heat-map (Grad-CAM with flip TTA, the shipped face expert), one face and per face in 64;
* the demo clip analysed with ``explain`` off and on (the off run is the default and computes
  nothing for explanations).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np


def timed(fn: Any, repeats: int) -> float:
    fn()  # warm-up: models loaded, caches filled
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    import emofuse
    from emofuse.analysis import AnalyzeConfig, ModalityResult, SegmentResult, explain_segment, make_fuser
    from emofuse.demo import demo_path
    from emofuse.experts import load_expert
    from emofuse.explain import face_heatmaps, voice_occlusion, word_attributions

    rng = np.random.default_rng(0)
    seg = SegmentResult(index=0, start=0.0, end=2.0)
    for m in ("text", "audio", "face"):
        p = rng.dirichlet(np.ones(7))
        seg.modalities[m] = ModalityResult.from_probs(p, reliability=0.8)
    fuser = make_fuser(AnalyzeConfig())
    text = load_expert("text-goemotions")
    voice = load_expert("voice-whisper", threads=1)
    face = load_expert("face-fer2013")
    t = np.arange(48000) / 16000
    wave = (0.1 * sum(np.sin(2 * np.pi * 140 * k * t * (1 + 0.1 * np.sin(t))) / k for k in range(1, 12))
            ).astype(np.float32)
    crops = rng.integers(0, 256, (64, 48, 48), dtype=np.uint8)
    rows = {
        "shapley per segment (trained fusion, 3 modalities)": timed(lambda: explain_segment(seg, fuser), args.repeats),
        "word attributions per sentence (IG, 32 steps)": timed(
            lambda: word_attributions(text, ["I can't believe you did this to me, I am so angry"]), args.repeats),
        "voice occlusion per 3 s utterance": timed(lambda: voice_occlusion(voice, wave, 16000), args.repeats),
        "face heat-map, one face": timed(lambda: face_heatmaps(face, crops[:1]), args.repeats),
        "face heat-map per face (batch of 64)": timed(lambda: face_heatmaps(face, crops), args.repeats) / 64,
    }
    clip = demo_path("demo.mp4")
    off = timed(lambda: emofuse.analyze(clip, config={"threads": 1}), args.repeats)
    on = timed(lambda: emofuse.analyze(clip, config={"threads": 1, "explain": True}), args.repeats)
    rows["demo clip analysis, explain off"] = off
    rows["demo clip analysis, explain on"] = on
    width = max(map(len, rows))
    print(f"{'explainer':<{width}}  seconds (median of {args.repeats}, 1 thread)")
    for k, v in rows.items():
        print(f"{k:<{width}}  {v:.4f}")
    out = Path(__file__).parent / "results" / "explain_cost.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"seconds": rows, "repeats": args.repeats, "threads": 1}, indent=1) + "\n")


if __name__ == "__main__":
    main()
