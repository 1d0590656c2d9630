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
           "ModalityResult", "SegmentResult", "analyze_batch", "analyze_texts", "check_formats", "explain_segment",
           "make_fuser", "print_scores", "print_table", "refuse", "score_analyses", "segment_at",
           "segment_contributions", "text_summary"]

# public names whose modules pull in heavy dependencies (experts, torch, rich, matplotlib):
# imported only when asked for
_LAZY = {"AnalysisSession": "emofuse.analysis.session", "analyze_batch": "emofuse.analysis.batch",
         "check_formats": "emofuse.analysis.writers", "print_table": "emofuse.analysis.table",
         "print_scores": "emofuse.analysis.scoring", "score_analyses": "emofuse.analysis.scoring",
         "analyze_texts": "emofuse.analysis.texts", "text_summary": "emofuse.analysis.texts",
         "make_fuser": "emofuse.analysis.fusion", "refuse": "emofuse.analysis.fusion",
         **dict.fromkeys(("explain_segment", "segment_at", "segment_contributions"), "emofuse.analysis.explain")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emofuse.analysis' has no attribute {name!r}")
