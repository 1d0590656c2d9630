"""Analysing raw media end to end: segments, per-modality experts, fusion, reports.

The public names: :class:`AnalyzeConfig` (settings), :class:`AnalysisSession` (incremental
analysis: feed audio chunks and frames, get fused segments as they close — what
:func:`emofuse.analyze` runs over a decoded file), and the result classes.

Example:
    >>> from emofuse.analysis import AnalysisResult
    >>> AnalysisResult(source="x", kind="text", duration=0.0).dominant() is None
    True
"""

from __future__ import annotations

from typing import Any

from emofuse.analysis.config import AnalyzeConfig
from emofuse.analysis.result import EKMAN, MODALITY_NAMES, AnalysisResult, FaceFrame, ModalityResult, SegmentResult

__all__ = ["EKMAN", "MODALITY_NAMES", "AnalysisResult", "AnalysisSession", "AnalyzeConfig", "FaceFrame",
           "ModalityResult", "SegmentResult"]


def __getattr__(name: str) -> Any:
    # the session pulls in the experts' registry (torch): import it only when asked for
    if name == "AnalysisSession":
        from emofuse.analysis.session import AnalysisSession

        return AnalysisSession
    raise AttributeError(f"module 'emofuse.analysis' has no attribute {name!r}")
