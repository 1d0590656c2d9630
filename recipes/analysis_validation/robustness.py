"""The fused analysis on composited validation clips with each modality corrupted in turn (issue 12).

Clips (b) of this folder: a RAVDESS utterance of actors 15-18 over a FER2013 PublicTest face of
the same emotion (validation data only). The voice expert is the head trained without actors
15-18 (``recipes/voice_whisper/train.py --exclude-speakers ravdess:15,16,17,18``), so no modality
is in-sample. Each run corrupts what one expert reads (:mod:`emofuse.robustness.media`): audio
noise (white; babble made of actors 01-14's utterances) and reverberation for the voice, blur,
occlusion and JPEG for the face crops, word errors for the recognised words.

    python recipes/analysis_validation/build_composite.py --data-dir <data-dir> --split val --out runs/val_composite
    python recipes/analysis_validation/robustness.py --data-dir <data-dir> --clips runs/val_composite \\
        --voice-weights runs/voice_whisper_heldout/weights --out recipes/analysis_validation/results

Writes ``robustness_analysis.{json,csv,md,png}``: accuracy and UAR of the fused label and of each
modality per condition (validation figures, one run: the corruptions are seeded).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

from emofuse.media.audio import load_audio
from emofuse.robustness.media import analysis_sweep

CONDITIONS = [
    ("audio", "white_noise", [20.0, 10.0, 5.0, 0.0]),
    ("audio", "babble_noise", [10.0, 0.0]),
    ("audio", "reverb", [0.6, 1.2]),
    ("face", "blur", [2.0, 4.0]),
    ("face", "occlusion", [0.3, 0.5]),
    ("face", "jpeg", [10.0]),
    ("text", "word_errors", [0.3]),
]


def babble_bank(data_dir: Path, n: int, seed: int) -> list:
    """``n`` utterances of RAVDESS actors 01-14 (never the validation actors) at 16 kHz."""
    files = sorted(p for a in range(1, 15) for p in (data_dir / "ravdess" / f"Actor_{a:02d}").glob("*.*"))
    return [load_audio(p, 16000)[0] for p in random.Random(seed).sample(files, n)]


def markdown(rows: list[dict]) -> str:
    conds = list(dict.fromkeys(r["condition"] for r in rows))
    targets = ["analysis:fused", "analysis:audio", "analysis:face", "analysis:text"]
    get = {(r["condition"], r["target"]): r for r in rows}
    lines = ["| condition | " + " | ".join(t.split(":")[1] + " acc / UAR %" for t in targets) + " |",
             "|---|" + "---|" * len(targets)]
    for c in conds:
        cells = []
        for t in targets:
            r = get.get((c, t))
            cells.append("—" if r is None else f"{100 * r['accuracy']:.1f} / {100 * r['uar']:.1f}")
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clean = {r["target"]: r["uar"] for r in rows if r["kind"] == "clean"}
    kinds = list(dict.fromkeys((r["modality"], r["kind"]) for r in rows if r["kind"] != "clean"))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.0 * len(kinds), 3.0), sharey=True)
    for ax, (m, k) in zip(axes, kinds, strict=True):
        for t, style in (("analysis:fused", "k-o"), (f"analysis:{m}", "r--s")):
            pts = sorted((r["level"], r["uar"]) for r in rows if r["kind"] == k and r["target"] == t)
            xs = ["clean", *[f"{lv:g}" for lv, _ in pts]]
            ax.plot(xs, [clean.get(t, float("nan")), *[u for _, u in pts]], style,
                    label="fused" if t == "analysis:fused" else f"{m} alone")
        ax.set_title(f"{m}: {k}", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("UAR (validation)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--clips", type=Path, default=Path("runs/val_composite"))
    ap.add_argument("--voice-weights", default="runs/voice_whisper_heldout/weights")
    ap.add_argument("--out", type=Path, default=Path("recipes/analysis_validation/results"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    files = sorted(p for p in (args.clips / "media").iterdir() if p.is_file())
    cfg = {"expert_weights": {"audio": args.voice_weights}, "threads": 1}
    ctx = {"babble_noise": {"bank": babble_bank(args.data_dir, 24, args.seed)}}
    rows = analysis_sweep(files, args.clips / "labels.csv", CONDITIONS, config=cfg, seed=args.seed, context=ctx)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / "robustness_analysis"
    stem.with_suffix(".json").write_text(json.dumps({"clips": str(args.clips), "n_files": len(files),
                                                     "voice_weights": args.voice_weights, "rows": rows}, indent=1))
    with stem.with_suffix(".csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    md = markdown(rows)
    stem.with_suffix(".md").write_text(f"Composited validation clips (n = {len(files)}; unit: clip). "
                                       "Validation figures.\n\n" + md)
    plot(rows, stem.with_suffix(".png"))
    print(md)


if __name__ == "__main__":
    main()
