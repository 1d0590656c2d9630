"""Analysing raw media end to end: segments, per-modality experts, fusion, reports.

Example:
    >>> from emofuse.analysis import AnalysisResult
    >>> AnalysisResult(source="x", kind="text", duration=0.0).dominant() is None
    True
"""

from __future__ import annotations

from emofuse.analysis.result import EKMAN, MODALITY_NAMES, AnalysisResult, FaceFrame, ModalityResult, SegmentResult

__all__ = ["EKMAN", "MODALITY_NAMES", "AnalysisResult", "FaceFrame", "ModalityResult", "SegmentResult"]
