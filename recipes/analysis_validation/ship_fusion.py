"""Ship a trained fusion checkpoint as the package's default (``fusion="trained"``) with its model card.

Copies ``model.safetensors`` into ``src/emofuse/analysis/weights/fusion-media/`` and writes
``model_card.json``: the checkpoint's own card (architecture, training settings, early-stopping
figures on training actors 12-14) plus the validation-media figures of ``compare_fusion.py``
(actors 15-18, FER2013 PublicTest, MELD dev; voice read by the head trained without them),
intended use, limits and licences.

    python recipes/analysis_validation/ship_fusion.py --checkpoint runs/fusion_models_heldout/early_concat_s3 \\
        --comparison runs/cmp_ship/fusion_comparison.json
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from emofuse.cards import read_card, write_card

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "src" / "emofuse" / "analysis" / "weights" / "fusion-media"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--comparison", type=Path, required=True, help="fusion_comparison.json of compare_fusion.py")
    ap.add_argument("--out", type=Path, default=TARGET)
    args = ap.parse_args()
    card = read_card(args.checkpoint, kind="fusion")
    rows = json.loads(args.comparison.read_text(encoding="utf-8"))
    name = f"trained {card['model']}"
    val = {f"{r['set']} / {r['view']} / {r['kind']}": {k: v for k, v in r.items() if k not in ("set", "view", "kind",
                                                                                           "fusion", "seeds")}
           for r in rows if r["fusion"] == name}
    rule = {f"{r['set']} / {r['view']} / {r['kind']}": {"fused_acc": r["fused_acc"], "fused_uar": r["fused_uar"]}
            for r in rows if r["fusion"] == "evidence γ=1"}
    card["metrics"] = {
        "early_stopping": {**card["metrics"]["validation"],
                           "split": "training clips of RAVDESS actors 12-14 (held out of the fit; epoch selection)"},
        "validation_media": val,
        "evidence_rule_on_the_same_media": rule,
        "validation_note": ("recipes/analysis_validation: (a) concatenated utterances of actors 15-18 (unit: "
                            "utterance), (b) an utterance over a same-emotion FER2013 PublicTest face, (c) MELD dev "
                            "sentences given as transcripts, agreeing or disagreeing with voice and face; voice read "
                            "by the voice-whisper head trained without actors 15-18; percentages"),
    }
    card.update({
        "name": "fusion-media",
        "description": ("Decision-level fusion of the text, voice and face experts' ekman7 distributions plus "
                        "their reliability and certainty (9 values per modality, presence mask), an early_concat "
                        "MLP from the emofuse zoo. Used by `emofuse analyze` when two or more signals are "
                        "present; a single signal is passed through by the evidence rule."),
        "intended_use": "Combining emofuse's own experts inside `emofuse analyze` on speech with a visible face.",
        "out_of_scope": ["Other experts than text-goemotions, voice-whisper and face-fer2013 (their output "
                         "distributions are what it learned)", "Decisions about people"],
        "limitations": [
            "Trained on synthetic composites of acted speech (RAVDESS actors 01-11), posed face photos "
            "(FER2013 Training) and TV-sitcom sentences (MELD train): it learned how the experts err on these "
            "corpora, not on conversational media.",
            "The voice readings it was trained on come from a head that had seen those actors (in-sample, more "
            "confident than on new speakers); on new speakers it may trust the voice too much.",
            "When the words carry an emotion that voice and face do not show, it follows voice and face "
            "(words_only clips: it follows words the text expert read right on few clips); use "
            "`--fusion evidence` to weigh the words more.",
            "Seed-to-seed spread is several points (5 seeds, see metrics); one seed is shipped, chosen on the "
            "early-stopping split, not on the validation media.",
            "No per-group figures: the validation media have 4 speakers (2 female, 2 male).",
        ],
        "licenses": {"weights": "same as emofuse", "training_data": "RAVDESS CC BY-NC-SA 4.0 (non-commercial), "
                     "FER2013 (research use), MELD GPL-3.0: the weights are derived from them"},
        "command": ("python recipes/analysis_validation/train_fusion.py --voice-from analysis_voice_heldout; "
                    "compare_fusion.py; ship_fusion.py (recipes/analysis_validation/README.md)"),
    })
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.checkpoint / "model.safetensors", args.out / "model.safetensors")
    (args.out / "model.safetensors").chmod(0o644)
    write_card(args.out, card, kind="fusion")
    print(f"shipped {args.checkpoint} -> {args.out}")


if __name__ == "__main__":
    main()
