"""Voice through ``emofuse analyze`` vs the voice expert on the same utterances as whole files.

For the clips of (b) (and the utterances of (c)), the voice expert is scored (``emofuse.experts.
evaluate_expert``, what ``emofuse evaluate`` runs) on each clip's original RAVDESS file
(``voice_files.csv``), and compared with the voice reading of the same clip inside ``analyze``
(unit: the clip). ``--weights`` reads both with another head (e.g. the one trained without the
validation actors) — then ``--analysis`` must name analyses made with that head.

    python recipes/analysis_validation/voice_parity.py --set runs/val_composite \\
        --weights runs/voice_whisper_heldout/weights --analysis analysis_voice_heldout
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emofuse.analysis.scoring import read_labels, score_analyses
from emofuse.experts import evaluate_expert


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, required=True, help="a built set (runs/val_composite)")
    ap.add_argument("--weights", type=Path, default=None, help="voice-whisper weights (default: shipped)")
    ap.add_argument("--analysis", default="analysis", help="analyses of the set made with those weights")
    args = ap.parse_args()
    files = evaluate_expert("voice-whisper", args.set / "voice_files.csv", weights=args.weights,
                            label_space="ekman7", id_column="clip")  # an utterance may serve several clips
    # the clip's voice label (for (c) the voice may carry another emotion than the clip's label)
    import csv

    rows = list(csv.DictReader((args.set / "voice_files.csv").open(encoding="utf-8")))
    spans = [s for s in read_labels(args.set / "labels.csv")]
    voice_label = {r["clip"]: r["label"] for r in rows}
    spans = [type(s)(s.file, voice_label[s.file], s.start, s.end) for s in spans if s.file in voice_label]
    inside = score_analyses([args.set / args.analysis], spans, unit="label")["overall"]["audio"]
    out = {"n": files["n"], "files_accuracy": round(100 * files["accuracy"], 1),
           "files_uar": round(100 * files["uar"], 1),
           "analyze_accuracy": round(100 * inside["accuracy"], 1), "analyze_uar": round(100 * inside["uar"], 1),
           "weights": str(args.weights or "shipped")}
    out["gap_accuracy"] = round(out["analyze_accuracy"] - out["files_accuracy"], 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
