"""Label spaces as data: named, ordered classes plus mappings between spaces.

A :class:`LabelSpace` is a name and an ordered tuple of class names. Mappings are total
dictionaries from every class of a source space to a class of a target space (or ``None``
where a class has no counterpart, e.g. sentiment → Ekman is not defined).

Example:
    >>> space = get_label_space("ekman7")
    >>> space.classes[:3]
    ('anger', 'disgust', 'fear')
    >>> map_label("calm", "ravdess8", "ekman7")
    'neutral'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from emofuse.errors import DataError, UnknownNameError
from emofuse.registry import Registry


@dataclass(frozen=True)
class LabelSpace:
    """An ordered set of class names.

    Attributes:
        name: Registry name ("ekman7").
        classes: Class names in index order.
        description: One line saying where the space comes from.
    """

    name: str
    classes: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"label space {self.name!r} has duplicate classes")

    def __len__(self) -> int:
        return len(self.classes)

    def index(self, label: str) -> int:
        """Index of class ``label``; unknown labels raise :class:`UnknownNameError`."""
        try:
            return self.classes.index(label)
        except ValueError:
            raise UnknownNameError(f"label in space {self.name!r}", label, self.classes) from None

    def encode(self, labels: Iterable[str]) -> np.ndarray:
        """Class names → int64 indices, shape ``(N,)``."""
        return np.asarray([self.index(lab) for lab in labels], dtype=np.int64)

    def decode(self, indices: Iterable[int]) -> list[str]:
        """Indices → class names; indices outside ``[0, len)`` raise :class:`DataError`."""
        out = []
        for i in indices:
            if not 0 <= int(i) < len(self.classes):
                raise DataError(f"label index {i} outside label space {self.name!r} (0..{len(self) - 1})")
            out.append(self.classes[int(i)])
        return out

    def check_indices(self, y: np.ndarray) -> None:
        """Raise :class:`DataError` if any integer label lies outside the space."""
        y = np.asarray(y)
        if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
            bad = np.unique(y[(y < 0) | (y >= len(self.classes))])[:5].tolist()
            raise DataError(
                f"labels {bad} lie outside label space {self.name!r} with {len(self)} classes "
                f"(valid indices 0..{len(self) - 1}: {', '.join(self.classes)})"
            )


LABEL_SPACES: Registry[LabelSpace] = Registry("label space")
MAPPINGS: dict[tuple[str, str], dict[str, str | None]] = {}


def _space(name: str, classes: Sequence[str], description: str) -> LabelSpace:
    return LABEL_SPACES.add(name, LabelSpace(name, tuple(classes), description))


_space("ekman7", ["anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral"],
       "Ekman's six basic emotions plus neutral; emofuse's common space for fusion")
_space("fer2013", ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"],
       "FER2013 challenge labels 0-6")
_space("goemotions28", [
    "admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
    "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
    "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
    "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral",
], "GoEmotions 27 emotions + neutral (Demszky et al. 2020), id order of emotions.txt")
_space("meld7", ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"],
       "MELD utterance emotions")
_space("emodb7", ["anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral"],
       "Berlin EmoDB emotions (letters W L E A F T N)")
_space("ravdess8", ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"],
       "RAVDESS emotions, codes 01-08")
_space("sentiment2", ["negative", "positive"], "binary sentiment (e.g. CMU-MOSI with non-neutral labels)")
_space("sentiment3", ["negative", "neutral", "positive"], "three-way sentiment (MELD, SST-3)")
_space("wesad3", ["baseline", "stress", "amusement"],
       "WESAD affective conditions (Schmidt et al. 2018): rest, the Trier Social Stress Test, funny videos")
_space("stress2", ["no_stress", "stress"],
       "stress vs no stress (WESAD's 2-class view: baseline and amusement vs stress)")


def get_label_space(name: str) -> LabelSpace:
    """Look up a registered label space by name (close matches on a typo)."""
    return LABEL_SPACES.get(name)


def add_mapping(source: str, target: str, table: dict[str, str | None]) -> None:
    """Register a total mapping ``source`` → ``target`` (every source class must appear)."""
    src, dst = get_label_space(source), get_label_space(target)
    missing = set(src.classes) - set(table)
    extra = set(table) - set(src.classes)
    bad_targets = {v for v in table.values() if v is not None and v not in dst.classes}
    if missing or extra or bad_targets:
        raise ValueError(f"mapping {source}->{target}: missing {missing}, extra {extra}, bad {bad_targets}")
    MAPPINGS[(source, target)] = dict(table)


_E = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
add_mapping("fer2013", "ekman7", dict(zip(LABEL_SPACES.get("fer2013").classes, _E, strict=True)))
add_mapping("meld7", "ekman7", {"neutral": "neutral", "surprise": "surprise", "fear": "fear",
                                "sadness": "sadness", "joy": "happiness", "disgust": "disgust",
                                "anger": "anger"})
# EmoDB boredom is a low-arousal, non-basic state: nearest Ekman class is neutral.
add_mapping("emodb7", "ekman7", {"anger": "anger", "boredom": "neutral", "disgust": "disgust",
                                 "fear": "fear", "happiness": "happiness", "sadness": "sadness",
                                 "neutral": "neutral"})
# RAVDESS calm is acted as a relaxed neutral; it maps to neutral.
add_mapping("ravdess8", "ekman7", {"neutral": "neutral", "calm": "neutral", "happy": "happiness",
                                   "sad": "sadness", "angry": "anger", "fearful": "fear",
                                   "disgust": "disgust", "surprised": "surprise"})
# GoEmotions' own Ekman grouping (ekman_mapping.json of the official repository).
_GO_EKMAN = {
    "anger": ["anger", "annoyance", "disapproval"],
    "disgust": ["disgust"],
    "fear": ["fear", "nervousness"],
    "happiness": ["joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
                  "relief", "pride", "admiration", "desire", "caring"],
    "sadness": ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
    "surprise": ["surprise", "realization", "confusion", "curiosity"],
    "neutral": ["neutral"],
}
add_mapping("goemotions28", "ekman7", {g: e for e, gs in _GO_EKMAN.items() for g in gs})
add_mapping("ekman7", "sentiment3", {"anger": "negative", "disgust": "negative", "fear": "negative",
                                     "happiness": "positive", "sadness": "negative",
                                     "surprise": None, "neutral": "neutral"})
# WESAD conditions have no Ekman counterpart: the physio expert routes them itself (see its card).
add_mapping("wesad3", "stress2", {"baseline": "no_stress", "stress": "stress", "amusement": "no_stress"})
add_mapping("sentiment3", "sentiment2", {"negative": "negative", "neutral": None, "positive": "positive"})
add_mapping("meld7", "sentiment3", {"neutral": "neutral", "surprise": None, "fear": "negative",
                                    "sadness": "negative", "joy": "positive", "disgust": "negative",
                                    "anger": "negative"})


def list_label_spaces() -> list[str]:
    """Names of all registered label spaces."""
    return LABEL_SPACES.names()


def get_mapping(source: str, target: str) -> dict[str, str | None]:
    """The class-name mapping ``source`` → ``target``, composed through ekman7 if needed."""
    if source == target:
        return {c: c for c in get_label_space(source).classes}
    if (source, target) in MAPPINGS:
        return dict(MAPPINGS[(source, target)])
    for mid in ("ekman7", "sentiment3"):
        if (source, mid) in MAPPINGS and (mid, target) in MAPPINGS:
            first, second = MAPPINGS[(source, mid)], MAPPINGS[(mid, target)]
            return {k: (second[v] if v is not None else None) for k, v in first.items()}
    get_label_space(source), get_label_space(target)  # unknown names raise with suggestions
    raise DataError(f"no mapping from label space {source!r} to {target!r}; known: {sorted(MAPPINGS)}")


def map_label(label: str, source: str, target: str) -> str | None:
    """Map one class name between spaces (``None`` when it has no counterpart)."""
    get_label_space(source).index(label)
    return get_mapping(source, target)[label]


def mapping_matrix(source: str, target: str) -> np.ndarray:
    """Mapping as a ``(len(source), len(target))`` 0/1 matrix: ``probs_src @ M`` gives target probabilities.

    Rows of classes with no counterpart are all zero, so mapped probabilities may sum to
    less than one; renormalise if the use needs a distribution.
    """
    src, dst = get_label_space(source), get_label_space(target)
    table = get_mapping(source, target)
    mat = np.zeros((len(src), len(dst)), dtype=np.float32)
    for i, c in enumerate(src.classes):
        if table[c] is not None:
            mat[i, dst.index(table[c])] = 1.0
    return mat
