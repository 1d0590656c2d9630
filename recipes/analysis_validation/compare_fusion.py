"""Fusion rules and trained fusion models side by side on the analysed validation media (a), (b), (c).

Every fuser re-fuses the experts' saved readings (``emofuse.analysis.fusion.refuse``), so all of
them see exactly the same per-modality outputs; "without ASR" drops the recognised words (exact
for (a) and (b), whose segments come from voice activity either way). (c) clips carry given
transcripts, so (c) is scored with its words, per kind of clip too. Unit: the labelled utterance
(a) or clip (b, c). Validation media only (actors 15-18, FER2013 PublicTest, MELD dev).

    python recipes/analysis_validation/compare_fusion.py --runs runs --models 'runs/fusion_models/*' \\
        --out recipes/analysis_validation/results

Writes ``fusion_comparison.json``, ``.csv`` and ``.md`` (the tables of the README).
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from fusion_sets import load_set

from emofuse.analysis.fusion import RuleFusion, card_fusion_facts
from emofuse.analysis.fusion_trained import TrainedFusion
from emofuse.analysis.scoring import LabelSpan, read_labels, score_analyses

#: set → (unit, views): views are (name, modalities dropped)
SETS = {"val_concat": ("segment", (("ASR", ()), ("no ASR", ("text",)))),
        "val_composite": ("label", (("ASR", ()), ("no ASR", ("text",)))),
        "val_words": ("label", (("transcript", ()),))}
EXPERTS = {"text": "text-goemotions", "audio": "voice-whisper", "face": "face-fer2013"}


def rules(tuned: Path | None = None) -> dict[str, Any]:
    facts = {m: card_fusion_facts(n) for m, n in EXPERTS.items()}
    priors = {m: f[0] for m, f in facts.items()}
    absent = {m: f[1] for m, f in facts.items()}
    out: dict[str, Any] = {"linear (before)": RuleFusion("linear", priors), "log": RuleFusion("log", priors)}
    for g in (0.0, 1.0, 2.0):
        out[f"evidence γ={g:g}"] = RuleFusion("evidence", priors, absent, g)
    out["evidence γ=1, no absent class"] = RuleFusion("evidence", priors, {}, 1.0)
    out["evidence γ=1, absence by mass only (before)"] = RuleFusion("evidence", priors, absent, 1.0, 0.0, False)
    if tuned is not None and tuned.is_file():
        best = json.loads(tuned.read_text(encoding="utf-8"))["best"]
        g, a = best["certainty_power"], best["neutral_absence"]
        out[f"evidence γ={g:g}, α={a:g} (tuned on training clips)"] = RuleFusion("evidence", priors, absent, g, a)
    return out


def kinds(labels: Path) -> dict[str, list[str]]:
    with labels.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        out[r.get("kind") or "all"].append(r["file"])
    return out


def _pct(v: dict[str, Any], key: str) -> float | None:
    return round(100 * v[key], 1) if key in v else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, default=Path("runs"))
    ap.add_argument("--models", nargs="*", default=[], help="trained fusion checkpoints (globs)")
    ap.add_argument("--out", type=Path, default=Path("recipes/analysis_validation/results"))
    ap.add_argument("--voice-from", default=None, help="voice readings from runs/<set>/<this> (fusion_sets.py)")
    ap.add_argument("--tuned", type=Path, default=None, help="rule_tuning.json of train_fusion.py")
    args = ap.parse_args()
    fusers = rules(args.tuned)
    trained: dict[str, list[Path]] = defaultdict(list)
    for pattern in args.models:
        for d in sorted(glob.glob(pattern)):
            if (Path(d) / "model.safetensors").is_file():
                trained[Path(d).name.rsplit("_s", 1)[0]].append(Path(d))
    rows: list[dict[str, Any]] = []
    for name, (unit, views) in SETS.items():
        base = args.runs / name
        if not (base / "analysis").is_dir():
            print(f"skip {name}: no {base / 'analysis'}")
            continue
        results = load_set(args.runs, name, args.voice_from)
        spans = read_labels(base / "labels.csv")
        by_kind = kinds(base / "labels.csv")
        for view, drop in views:
            entries = [(f, [fz]) for f, fz in fusers.items()]
            passthrough = fusers["evidence γ=1"]  # as shipped: one signal alone is passed through by the rule
            entries += [(f"trained {m}", [TrainedFusion(p, fallback=passthrough) for p in ps])
                        for m, ps in trained.items()]
            for fname, fzs in entries:
                kinds_ = [("all", None)] + (sorted(by_kind.items()) if len(by_kind) > 1 else [])
                for kind, files in kinds_:
                    sub: list[LabelSpan] = [s for s in spans if files is None or s.file in set(files)]
                    reps = [score_analyses(results, sub, unit=unit, fuser=fz, drop=drop) for fz in fzs]
                    o = reps[0]["overall"]
                    fused_acc = [100 * r["overall"]["fused"]["accuracy"] for r in reps]
                    fused_uar = [100 * r["overall"]["fused"]["uar"] for r in reps]
                    row = {"set": name, "view": view, "kind": kind, "fusion": fname, "n": reps[0]["n_items"],
                           "seeds": len(reps)}
                    for m in ("text", "audio", "face"):
                        if o.get(m, {}).get("n"):
                            row[f"{m}_acc"], row[f"{m}_uar"] = _pct(o[m], "accuracy"), _pct(o[m], "uar")
                    row["fused_acc"], row["fused_acc_std"] = round(float(np.mean(fused_acc)), 1), round(
                        float(np.std(fused_acc)), 1)
                    row["fused_uar"], row["fused_uar_std"] = round(float(np.mean(fused_uar)), 1), round(
                        float(np.std(fused_uar)), 1)
                    if kind == "words_only":  # does the fused label follow words the text expert read right?
                        rates = []
                        for rep in reps:
                            hit = [per["fused"].get("accuracy") == 1.0 for per in rep["by_file"].values()
                                   if per.get("text", {}).get("accuracy") == 1.0]
                            rates.append(100 * float(np.mean(hit)) if hit else float("nan"))
                        row["follows_right_words"] = round(float(np.mean(rates)), 1)
                        row["n_right_words"] = sum(per.get("text", {}).get("accuracy") == 1.0
                                                   for per in reps[0]["by_file"].values())
                    rows.append(row)
                    print(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fusion_comparison.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n",
                                                     encoding="utf-8")
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with (args.out / "fusion_comparison.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    (args.out / "fusion_comparison.md").write_text(markdown(rows), encoding="utf-8")
    print(markdown(rows))


def markdown(rows: list[dict[str, Any]]) -> str:
    """One table per set, view and kind: fusion × (text, voice, face, fused) accuracy / UAR."""
    out = []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["set"], r["view"], r["kind"])].append(r)
    for (s, view, kind), rs in groups.items():
        out.append(f"\n**{s}, {view}, {kind}** (n = {rs[0]['n']}; acc / UAR %, trained: mean ± std over seeds)\n")
        out.append("| fusion | text | voice | face | fused |\n|---|---|---|---|---|")
        for r in rs:
            def cell(m: str, r: dict[str, Any] = r) -> str:
                return f"{r[m + '_acc']} / {r[m + '_uar']}" if f"{m}_acc" in r else "—"
            std = f" (± {r['fused_acc_std']} / {r['fused_uar_std']})" if r["seeds"] > 1 else ""
            follow = (f" — follows the words on {r['follows_right_words']} % of the {r['n_right_words']} clips "
                      "whose words the text expert read right" if "follows_right_words" in r else "")
            out.append(f"| {r['fusion']} | {cell('text')} | {cell('audio')} | {cell('face')} | "
                       f"{r['fused_acc']} / {r['fused_uar']}{std}{follow} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
