"""Per-modality emotion experts: each predicts from one modality alone.

An expert maps raw input of its modality (text now; voice and face later) to probabilities
over its native label space and to a calibrated ``ekman7`` distribution for fusion. Experts
are registered by name and ship their trained weights as package data.

Example:
    >>> from emofuse.experts import EXPERTS, list_experts
    >>> list_experts(modality="text")
    ['text-goemotions']
    >>> EXPERTS.get("text-goemotions").label_space
    'goemotions28'
"""

from __future__ import annotations

from typing import Any

from emofuse.experts import face as _face  # noqa: F401  (registers the face expert)
from emofuse.experts import physio as _physio  # noqa: F401  (registers physio-wesad; NeuroKit2 loads on use)
from emofuse.experts import text as _text  # noqa: F401  (registers the text expert)
from emofuse.experts import voice as _voice  # noqa: F401  (registers the voice expert)
from emofuse.experts import voice_whisper as _voice_whisper  # noqa: F401  (registers voice-whisper; loads no model)
from emofuse.experts.base import (
    EXPERTS,
    MODALITIES,
    Expert,
    ExpertNeeds,
    ExpertOutput,
    list_experts,
    load_expert,
    read_card,
    register_expert,
    weights_dir,
)

__all__ = ["EXPERTS", "MODALITIES", "Expert", "ExpertNeeds", "ExpertOutput", "evaluate_expert", "list_experts",
           "load_expert", "read_card", "register_expert", "weights_dir"]


def __getattr__(name: str) -> Any:
    # evaluation reads corpora: import it only when asked for
    if name == "evaluate_expert":
        from emofuse.experts.evaluate import evaluate_expert

        return evaluate_expert
    raise AttributeError(f"module 'emofuse.experts' has no attribute {name!r}")
