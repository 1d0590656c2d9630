"""Robustness: how a model's performance falls with missing modalities, feature noise and corruptions.

Every sweep returns rows in one format (:mod:`emofuse.robustness.rows`); :mod:`.report`
renders them as a table, Markdown, CSV, JSON (with MultiBench's relative and effective
robustness per curve, :mod:`.metrics`) and PNG curves.

Example:
    >>> from emofuse.robustness import relative_robustness
    >>> relative_robustness([0, 1], [0.8, 0.6])
    0.7
"""

from __future__ import annotations

from emofuse.robustness.corpus import CorpusInputs, babble_bank, corpus_inputs
from emofuse.robustness.corrupt import CORRUPTIONS, corrupt, get_corruption, list_corruptions
from emofuse.robustness.experts import expert_sweep
from emofuse.robustness.features import (
    DEFAULT_NOISE_LEVELS,
    add_feature_noise,
    check_matches,
    feature_rows,
    feature_std,
    modality_subsets,
    noise_rows,
    subset_rows,
)
from emofuse.robustness.media import CorruptedExpert, analysis_sweep, corrupting_resources
from emofuse.robustness.metrics import effective_robustness, minmax_normalize, relative_robustness
from emofuse.robustness.report import (
    FORMATS,
    curve_measures,
    pivot_markdown,
    plot_rows,
    render,
    to_csv,
    to_json,
    to_markdown,
    to_table,
    write_report,
)
from emofuse.robustness.rows import METRICS, check_rows, make_row, summarize

__all__ = [
    "CORRUPTIONS",
    "CorpusInputs",
    "CorruptedExpert",
    "analysis_sweep",
    "babble_bank",
    "corpus_inputs",
    "corrupt",
    "corrupting_resources",
    "expert_sweep",
    "get_corruption",
    "list_corruptions",
    "DEFAULT_NOISE_LEVELS",
    "FORMATS",
    "METRICS",
    "add_feature_noise",
    "check_matches",
    "check_rows",
    "curve_measures",
    "effective_robustness",
    "feature_rows",
    "feature_std",
    "make_row",
    "minmax_normalize",
    "modality_subsets",
    "noise_rows",
    "pivot_markdown",
    "plot_rows",
    "relative_robustness",
    "render",
    "subset_rows",
    "summarize",
    "to_csv",
    "to_json",
    "to_markdown",
    "to_table",
    "write_report",
]
