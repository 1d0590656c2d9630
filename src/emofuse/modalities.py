"""The one modality vocabulary of emofuse, and the one place where other names are mapped to it.

Datasets, experts, analysis paths, fusion and results all name modalities with
:data:`MODALITIES`: ``"text"`` (words), ``"audio"`` (the voice: how it is said), ``"face"``
(how the person looks) and ``"physio"`` (physiological signals from wearables). Corpora and
feature files name them differently (CMU-MOSI's ``video`` features are face features; papers
say ``acoustic``, ``visual``, ``language``): readers pass such names through
:func:`canonical_modality`, so nothing downstream sees a second vocabulary. Names outside both
tables (a user's own ``"eeg"`` features in a feature dataset) are kept as they are.

:data:`DISPLAY_NAMES` are the words shown to people (column headers, report rows); they are
labels, not keys.

Example:
    >>> canonical_modality("video"), canonical_modality("acoustic"), canonical_modality("face")
    ('face', 'audio', 'face')
    >>> DISPLAY_NAMES["audio"]
    'voice'
"""

from __future__ import annotations

from emofuse.errors import UnknownNameError

__all__ = ["ALIASES", "DISPLAY_NAMES", "MODALITIES", "canonical_modality"]

#: Canonical modality names, in the order results list them.
MODALITIES: tuple[str, ...] = ("text", "audio", "face", "physio")

#: Other names corpora, feature files and papers use → the canonical name.
ALIASES: dict[str, str] = {
    "language": "text", "lexical": "text", "transcript": "text", "words": "text",
    "voice": "audio", "acoustic": "audio", "speech": "audio", "prosody": "audio",
    "video": "face", "visual": "face", "vision": "face", "facial": "face",
    "physiological": "physio", "physiology": "physio", "wearable": "physio", "biosignal": "physio",
}

#: What people read for each modality (headers, legends).
DISPLAY_NAMES: dict[str, str] = {"text": "text", "audio": "voice", "face": "face", "physio": "physio"}


def canonical_modality(name: str, *, strict: bool = False) -> str:
    """The canonical name of a modality (case-insensitive; aliases mapped).

    Args:
        name: A modality name as a corpus or user wrote it.
        strict: Refuse names that are neither canonical nor a known alias (the analysis
            pipeline and experts are strict; feature datasets may carry modalities of their own).

    Raises:
        UnknownNameError: ``strict`` and the name is unknown (close matches suggested).
    """
    key = str(name).strip().lower()
    if key in MODALITIES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    if strict:
        raise UnknownNameError("modality", str(name), MODALITIES)
    return str(name)
