"""Model-card parts shared by the voice experts trained on RAVDESS + EmoDB (``voice-ekman``, ``voice-whisper``).

The corpus description, limitations, licences, the validation-metrics block and the
calibration block are written once here; each recipe adds what is specific to its features
and head (:mod:`emofuse.cards` holds the kind-independent helpers).
"""

from __future__ import annotations

from typing import Any

from emofuse.cards import CITATIONS, LICENSES, calibration_block, mean_std
from emofuse.labels import get_label_space

__all__ = [
    "INTENDED_USE",
    "LIMITATIONS",
    "OUT_OF_SCOPE",
    "calibration",
    "citations",
    "ekman_native",
    "licenses",
    "protocol_metrics",
    "training_data",
]

EKMAN = get_label_space("ekman7")

INTENDED_USE = [
    "The voice expert of emofuse's multimodal pipeline: a calibrated ekman7 distribution per speech "
    "utterance (about 1-5 s, one speaker), fused with the text and face experts.",
    "Research baselines for speaker-independent speech emotion recognition on acted corpora.",
    "Aggregate analysis over many utterances, where single-utterance errors average out.",
]
OUT_OF_SCOPE = [
    "Decisions about individuals (hiring, health, policing, education, customer scoring) without human review.",
    "Inferring what a person actually feels: the labels are the emotions actors were asked to portray.",
    "Long recordings without segmentation: statistics over a whole multi-minute file are meaningless; "
    "segment into utterances first.",
]
LIMITATIONS = [
    "Acted speech only: RAVDESS (24 North-American actors, two fixed sentences; actors 01-18 used) and EmoDB "
    "(10 German actors, 10 sentences; 8 speakers in this copy). Natural, spontaneous emotion is subtler; expect "
    "much lower accuracy on real conversations, call-centre audio or children's speech.",
    "Languages: English and German only. Prosody-based cues transfer partly across languages, but "
    "cross-corpus figures (see metrics.cross_corpus) fall far below within-corpus ones.",
    "Clip length: EmoDB files here are cut or zero-padded to exactly 2.0 s (utterances lose their ends); "
    "RAVDESS clips are 3-4 s with silence around the speech. Silence is excluded by an energy gate, but "
    "duration-related statistics are shaped by these clip lengths.",
    "Few speakers (26 in total): per-speaker differences (pitch range, voice quality) are large and "
    "speaker-independent accuracy varies a lot between held-out speakers (see the fold std).",
    "Clean studio recordings: no noise, reverberation, music, overlapping speakers or telephone-band audio "
    "in training; robustness to them is untested.",
    "Label mapping: RAVDESS calm and EmoDB boredom are mapped to neutral; RAVDESS is the only source of "
    "surprise (EmoDB has none), so surprise is learnt from English speakers only.",
    "Class balance differs by corpus (neutral is the largest ekman7 class after mapping); training used "
    "balanced class weights where the model allowed.",
    "Biases: gender-balanced actors, but young adult, mostly white North-American (RAVDESS) and German "
    "(EmoDB) speakers; untested for other ages, accents and voice types. Hand-crafted pitch statistics "
    "are absolute (semitones re 100 Hz), so a speaker's natural pitch can shift predictions.",
    "Validation figures only: the withheld RAVDESS actors 19-24 were not used; all selection used "
    "speaker-held-out inner folds of the training speakers, and the reported outer-fold figures are "
    "therefore nearly unbiased, but they come from few speakers.",
]
PROTOCOL = ("speaker-independent nested cross-validation (outer folds: held-out speakers; inner group k-fold on the "
            "training speakers for hyper-parameters); mean +- std over outer folds")


def licenses(recipe: str) -> dict[str, Any]:
    """The ``licenses`` field; ``recipe`` is the command that retrains on other data."""
    return {
        "model": "Apache-2.0 (as emofuse); trained on the corpora below, whose terms apply to derived use",
        "training_data": {"RAVDESS": LICENSES["RAVDESS"], "EmoDB": LICENSES["EmoDB"]},
        "note": "Because RAVDESS is CC BY-NC-SA, treat these weights as for non-commercial research unless you "
                f"retrain on data you may use commercially ({recipe}).",
    }


def citations() -> list[str]:
    """References of the training corpora."""
    return [CITATIONS["RAVDESS"], CITATIONS["EmoDB"]]


def ekman_native() -> dict[str, Any]:
    """The ``ekman`` field of an expert whose native space is ``ekman7``."""
    return {"classes": list(EKMAN.classes), "route": "native",
            "how": "the native space is ekman7: the Ekman view is the same classifier, temperature-scaled"}


def calibration(cal: dict[str, Any]) -> dict[str, Any]:
    """The ``calibration`` field from :func:`emofuse.experts.calibration.calibration_report` figures."""
    return calibration_block(
        cal["temperature"], "out-of-fold logits of the joint speaker-independent cross-validation (6 folds)",
        {k: cal[k] for k in ("ece_before", "ece_after", "ece_after_crossfit", "nll_before", "nll_after",
                             "nll_after_crossfit")})


def protocol_metrics(res: dict[str, Any], kind: str, shared: list[str], note: str = "") -> dict[str, Any]:
    """The validation-metrics block of candidate ``kind`` from :func:`emofuse.train.speech.run_protocol` results."""
    j = res["joint"][kind]
    return {
        "protocol": PROTOCOL + note,
        "joint_ekman7": {c: {"accuracy": mean_std(j[c], "accuracy"), "uar": mean_std(j[c], "uar"),
                             "n_folds": j[c]["n_folds"]} for c in ("all", "ravdess", "emodb")},
        "native": {c: {k: {"accuracy": mean_std(v, "accuracy"), "uar": mean_std(v, "uar"), "n_folds": v["n_folds"]}
                       for k, v in r.items()} for c, r in res["native"].items()},
        "ekman7_single_corpus": {c: {k: {"accuracy": mean_std(v, "accuracy"), "uar": mean_std(v, "uar")}
                                     for k, v in r.items()} for c, r in res["ekman_single"].items()},
        "cross_corpus": {k: {d: {"accuracy": round(float(v["accuracy"]), 4), "uar": round(float(v["uar"]), 4),
                                 "n": v["n"], "classes": list(shared)}
                             for d, v in r.items()} for k, r in res["cross_corpus"].items()},
        "joint_per_class_recall_pooled": {k: round(float(v), 4)
                                          for k, v in j["all"]["pooled"]["per_class_recall"].items()},
    }


def training_data(n: dict[str, int], joint_folds: Any, seed: int, recipe: str) -> dict[str, Any]:
    """The ``training_data`` field (``n``: utterances per corpus)."""
    return {
        "corpora": [
            {"name": "RAVDESS speech", "speakers": "actors 01-18 (19-24 withheld)", "n": n["ravdess"],
             "format": "mono 16 kHz FLAC", "native_space": "ravdess8", "mapping": "calm -> neutral"},
            {"name": "EmoDB", "speakers": "8 of 10 speakers", "n": n["emodb"],
             "format": "mono 22.05 kHz WAV cut/padded to 2.0 s, resampled to 16 kHz",
             "native_space": "emodb7", "mapping": "boredom -> neutral"},
        ],
        "label_space": "ekman7 (joint)",
        "splits": {"ravdess": "6 folds of 3 consecutive actors (01-03, 04-06, ...)",
                   "emodb": "leave-one-speaker-out (8 folds); in the joint protocol 1-2 EmoDB speakers "
                            "join each RAVDESS fold",
                   "joint_folds": joint_folds},
        "seed": seed,
        "recipe": recipe,
    }


def fusion_block(kind: str) -> dict[str, Any]:
    """The card's ``fusion`` block of a speech expert whose shipped head is ``kind``.

    Its fusion prior (:func:`emofuse.experts.base.card_prior`) is the mean of the held-out-speaker
    skill (joint ekman7 UAR above chance) and the cross-corpus skill (UAR above chance on the six
    shared classes, both directions), shaded by 0.89 because everyday speech is not acted.
    """
    return {
        "skill": [{"metric": "joint_ekman7.all.uar.mean", "chance": round(1 / 7, 6), "weight": 0.5},
                  {"metric": f"cross_corpus.{kind}.ravdess->emodb.uar", "chance": round(1 / 6, 6), "weight": 0.25},
                  {"metric": f"cross_corpus.{kind}.emodb->ravdess.uar", "chance": round(1 / 6, 6), "weight": 0.25}],
        "shade": 0.89,
        "note": "prior = mean of the held-out-speaker skill and the cross-corpus skill (UAR above chance), shaded "
                "by 0.89 because everyday speech is not acted",
    }
