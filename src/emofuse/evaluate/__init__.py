"""Evaluation: metrics for every task and which direction each metric should be monitored in."""

from emofuse.evaluate.metrics import (
    DEFAULT_THRESHOLD_GRID,
    MONITOR_MODES,
    classification_metrics,
    compute_metrics,
    monitor_mode,
    mosi_metrics,
    multilabel_metrics,
    regression_metrics,
    tune_thresholds,
)

__all__ = [
    "DEFAULT_THRESHOLD_GRID",
    "MONITOR_MODES",
    "classification_metrics",
    "compute_metrics",
    "monitor_mode",
    "mosi_metrics",
    "multilabel_metrics",
    "regression_metrics",
    "tune_thresholds",
]
