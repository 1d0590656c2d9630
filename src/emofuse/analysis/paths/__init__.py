"""Modality paths: one per modality, each turning closed segments into that modality's reading.

Example:
    >>> from emofuse.analysis.paths import list_paths
    >>> list_paths()
    ['text', 'audio', 'face', 'physio']
"""

from __future__ import annotations

from emofuse.analysis.paths import face as _face  # noqa: F401  (registers the face path)
from emofuse.analysis.paths import physio as _physio  # noqa: F401  (registers the physio path)
from emofuse.analysis.paths import text as _text  # noqa: F401  (registers the text path)
from emofuse.analysis.paths import voice as _voice  # noqa: F401  (registers the voice path)
from emofuse.analysis.paths.base import PATHS, ModalityPath, PathContext, Resources, list_paths, register_path

__all__ = ["PATHS", "ModalityPath", "PathContext", "Resources", "list_paths", "register_path"]
