"""CPU latency and memory of emofuse's per-modality experts (one item at a time).

Usage::

    .venv/bin/python bench/experts_speed.py [--experts text-goemotions] [--repeats 50] [--out DIR]
        [--compare face-fer2013=runs/old_face --compare text-goemotions=runs/old_text]

``--compare NAME=DIR`` also times expert ``NAME`` loaded from another weights folder (e.g. the
previous release's, ``git show <commit>:src/emofuse/experts/weights/<name>/...``) in the same
run, right after the shipped one: a before/after comparison on the same machine and load.

What is measured, per expert and per input size:

* **load**: seconds to ``load_expert(name)`` (backbone + head), in this fresh process;
* **latency**: one item per call (batch 1), ``torch.set_num_threads(1)``, the expert's own
  ``predict`` (preprocessing, backbone, head, calibration), after warm-up; the median and
  90th percentile over ``--repeats`` calls;
* **throughput**: items per second when ``--batch`` items are passed in one call;
* **memory**: ``tracemalloc`` peak of Python-level allocations (numpy registers its arrays;
  torch's C++ tensors are not seen) over 10 further calls (not during the timed ones), and
  the process's peak resident set size (``resource.getrusage(...).ru_maxrss``) before
  loading, after loading and after the run. The RSS figures include Python, torch and every imported library.

Inputs need no data files: generated English text; pieces of the demo clip's synthesised speech;
48x48 face crops cut from the demo's public-domain photo by the project's own face path (the
face detection itself, MediaPipe, is timed per frame by ``bench/analyze_speed.py``).
Results are printed as a table and written as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from emofuse.experts import EXPERTS, list_experts, load_expert

_WORDS = ("thank you so much I really love this it made my day but honestly the last part was annoying and I "
          "was a bit confused about why they changed the ending which felt rushed and sad").split()


def _sentence(n_words: int) -> str:
    words = [_WORDS[i % len(_WORDS)] for i in range(n_words)]
    return " ".join(words).capitalize() + "."


def text_inputs() -> dict[str, Any]:
    """Generated English texts: a short message, a typical Reddit comment, a long utterance."""
    return {"short (8 words)": _sentence(8), "typical (25 words)": _sentence(25),
            "long (120 words, truncated)": _sentence(120)}


def voice_inputs() -> dict[str, Any]:
    """Pieces of the demo clip's synthesised speech at 16 kHz: 1 s, 3.5 s (a sentence), 8 s."""
    from emofuse.data.synth_media import demo_speech
    from emofuse.media.audio import resample

    wave, sr = demo_speech()
    x = resample(wave, sr, 16000)
    return {f"{s:g} s utterance": (x[int(4.8 * 16000):int((4.8 + s) * 16000)].copy(), 16000) for s in (1, 3.5, 8)}


def face_inputs() -> dict[str, Any]:
    """48x48 grey crops cut by the project's face path from the demo photo (sharp) and a blurred copy."""
    import numpy as np
    from PIL import Image, ImageFilter

    from emofuse.data.synth_media import demo_face
    from emofuse.media.face import crop_face

    img = demo_face()
    sharp = crop_face(img)
    blurred = crop_face(np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(3))))
    if sharp is None or blurred is None:
        raise SystemExit("no face found in the demo photo (is mediapipe installed?)")
    return {"48x48 crop (demo photo)": sharp.gray, "48x48 crop (blurred photo)": blurred.gray}


#: modality -> function returning {size name: one input item}.
INPUTS: dict[str, Callable[[], dict[str, Any]]] = {"text": text_inputs, "audio": voice_inputs, "face": face_inputs}


def _rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def bench_expert(name: str, repeats: int, warmup: int, batch: int, weights: Path | None = None,
                 label: str = "shipped") -> dict[str, Any]:
    """Load one expert (its shipped weights, or ``weights``) and time it on every input size of its modality."""
    modality = EXPERTS.get(name).modality
    if modality not in INPUTS:
        raise SystemExit(f"no input generator for modality {modality!r}; add one to INPUTS")
    gc.collect()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    expert = load_expert(name, weights) if weights else load_expert(name)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    rows = []
    for size, item in INPUTS[modality]().items():
        for _ in range(warmup):
            expert.predict([item])
        gc.collect()
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            expert.predict([item])
            times.append(time.perf_counter() - t)
        # memory in a separate pass: tracemalloc slows every allocation down
        tracemalloc.start()
        for _ in range(min(repeats, 10)):
            expert.predict([item])
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        items = [item] * batch
        expert.predict(items)
        t = time.perf_counter()
        n_rounds = max(1, repeats // 10)
        for _ in range(n_rounds):
            expert.predict(items)
        thr = batch * n_rounds / (time.perf_counter() - t)
        times.sort()
        rows.append({
            "input": size,
            "median_ms": 1e3 * statistics.median(times),
            "p90_ms": 1e3 * times[min(len(times) - 1, int(0.9 * len(times)))],
            "min_ms": 1e3 * times[0],
            "items_per_s_batched": thr,
            "tracemalloc_peak_kb": peak / 1024,
        })
    head_params = sum(p.numel() for p in expert.head.parameters()) if hasattr(expert, "head") else None
    return {"expert": name, "weights": label, "modality": modality, "load_s": load_s, "rss_before_load_mb": rss0,
            "rss_after_load_mb": rss_loaded, "rss_peak_mb": _rss_mb(), "head_parameters": head_params,
            "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experts", default=",".join(n for n in list_experts() if EXPERTS.get(n).modality in INPUTS),
                    help="comma-separated expert names (default: every expert whose modality has inputs here)")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32, help="items per call for the throughput column")
    ap.add_argument("--out", type=Path, default=Path("runs/bench"))
    ap.add_argument("--compare", action="append", default=[], metavar="NAME=DIR",
                    help="also time expert NAME from weights folder DIR (e.g. the previous release's)")
    args = ap.parse_args()
    compare: dict[str, Path] = {}
    for spec in args.compare:
        name, sep, folder = spec.partition("=")
        if not sep or not (Path(folder) / "card.json").is_file():
            raise SystemExit(f"--compare wants NAME=DIR with DIR/card.json, got {spec!r}")
        compare[name] = Path(folder)
    torch.set_num_threads(1)
    results = []
    for n in [n for n in args.experts.split(",") if n]:
        results.append(bench_expert(n, args.repeats, args.warmup, args.batch))
        if n in compare:
            results.append(bench_expert(n, args.repeats, args.warmup, args.batch, compare[n], str(compare[n])))

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"expert CPU latency, batch 1, 1 thread, median of {args.repeats}")
    for col in ("expert", "input", "median ms", "p90 ms", f"items/s (batch {args.batch})",
                "tracemalloc peak KB", "load s", "max RSS MB (before/loaded/peak)"):
        table.add_column(col, justify="left" if col in ("expert", "input") else "right")
    for r in results:
        for i, row in enumerate(r["rows"]):
            table.add_row((r["expert"] + ("" if r["weights"] == "shipped" else f" ({r['weights']})")) if i == 0 else "",
                          row["input"], f"{row['median_ms']:.2f}",
                          f"{row['p90_ms']:.2f}", f"{row['items_per_s_batched']:.0f}",
                          f"{row['tracemalloc_peak_kb']:.0f}", f"{r['load_s']:.2f}" if i == 0 else "",
                          f"{r['rss_before_load_mb']:.0f}/{r['rss_after_load_mb']:.0f}/{r['rss_peak_mb']:.0f}"
                          if i == 0 else "")
    Console(width=max(Console().width, 150)).print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"settings": {"repeats": args.repeats, "warmup": args.warmup, "batch": args.batch, "threads": 1},
           "machine": {"python": platform.python_version(), "torch": torch.__version__,
                       "processor": platform.processor() or platform.machine()},
           "results": results}
    path = args.out / "experts_speed.json"
    path.write_text(json.dumps(doc, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
