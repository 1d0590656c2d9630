"""Which language a text given to analysis is in, and a warning when its expert cannot read it.

The shipped text expert reads English only (and Whisper tiny.en only transcribes English), so a
German or French transcript would otherwise be read as if it were English, silently. The text
path (:mod:`emofuse.analysis.paths.text`) collects the words it was *given* (``--text``, a
transcript, ``emofuse.analyze(text=...)``; never the words speech recognition produced) and,
when the recording ends, judges them **as a whole** with ``langdetect`` (Google's
language-detection profiles, shipped as JSON inside the package; seeded, so deterministic).

Short texts are not judged: below :data:`MIN_WORDS` words or :data:`MIN_CHARS` letters a
character n-gram detector guesses (``"We won! Still talking"`` reads as Afrikaans), and the
detector starts from a prior of :data:`EXPECTED_PRIOR` on the languages the expert reads, so
only a clear verdict (:data:`MIN_PROB`) warns.

Example:
    >>> language_warning("I just got the news, we won! I am so happy about this!", ("en",)) is None
    True
    >>> language_warning("Wir haben gewonnen", ("en",)) is None  # too short to judge
    True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["EXPECTED_PRIOR", "LANGUAGE_NAMES", "MIN_CHARS", "MIN_PROB", "MIN_WORDS", "detect_language",
           "language_warning"]

#: Texts with fewer words than this are not judged.
MIN_WORDS = 6
#: Texts with fewer letters than this are not judged.
MIN_CHARS = 30
#: The detector's verdict must be at least this probable to warn.
MIN_PROB = 0.9
#: Prior probability (shared) of the languages the expert reads: the input is expected to be in them.
EXPECTED_PRIOR = 0.5
#: Characters judged (the start of a long transcript says enough).
MAX_CHARS = 5000

#: English names of the languages ``langdetect`` knows (its ISO 639-1 codes).
LANGUAGE_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech",
    "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "fa": "Persian", "fi": "Finnish", "fr": "French", "gu": "Gujarati", "he": "Hebrew",
    "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "kn": "Kannada", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam",
    "mr": "Marathi", "ne": "Nepali", "nl": "Dutch", "no": "Norwegian", "pa": "Punjabi", "pl": "Polish",
    "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "so": "Somali",
    "sq": "Albanian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "th": "Thai",
    "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese",
    "zh-cn": "Chinese (simplified)", "zh-tw": "Chinese (traditional)",
}


@functools.cache
def _factory() -> Any:
    """langdetect's profiles, loaded once per process (about half a second)."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.seed = 0  # the detector samples n-grams at random: seeded, the same text gets the same verdict
    return factory


def _judgeable(text: str) -> bool:
    return len(text.split()) >= MIN_WORDS and sum(ch.isalpha() for ch in text) >= MIN_CHARS


def detect_language(text: str, expected: Sequence[str] = ()) -> tuple[str, float] | None:
    """The most probable language of ``text`` and its probability, or ``None`` when it is too short to judge.

    Args:
        text: The text (its first :data:`MAX_CHARS` characters are judged).
        expected: Languages the input is expected in; they start with :data:`EXPECTED_PRIOR` of
            the prior probability between them.

    Returns:
        ``(code, probability)``, e.g. ``("de", 0.99)`` (``langdetect``'s ISO 639-1 codes).
    """
    from langdetect.lang_detect_exception import LangDetectException

    text = text[:MAX_CHARS]
    if not _judgeable(text):
        return None
    factory = _factory()
    detector = factory.create()
    langs = factory.get_lang_list()
    known = [c for c in expected if c in langs]
    if known and len(known) < len(langs):
        rest = (1.0 - EXPECTED_PRIOR) / (len(langs) - len(known))
        detector.set_prior_map({c: (EXPECTED_PRIOR / len(known) if c in known else rest) for c in langs})
    detector.append(text)
    try:
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):  # no letters the profiles know
        return None
    return str(best.lang), float(best.prob)


def language_warning(text: str, languages: Sequence[str]) -> str | None:
    """The warning for a text in a language its expert does not read, or ``None``.

    Args:
        text: The words given to the expert (a whole transcript, joined).
        languages: The languages the expert reads (its ``languages``); empty: any, no warning.
    """
    if not languages:
        return None
    found = detect_language(text, languages)
    if found is None:
        return None
    code, prob = found
    if code in languages or prob < MIN_PROB:
        return None
    reads = " and ".join(LANGUAGE_NAMES.get(c, c) for c in languages)
    return (f"text looks like {LANGUAGE_NAMES.get(code, code)} ({code}, p={prob:.2f}); the text expert reads "
            f"{reads} only: its readings are unreliable")
