"""Explanations: how much each modality contributed to a prediction, and why, in words.

:func:`shapley_contributions` (a zoo model on a :class:`~emofuse.data.spec.Batch`) and
:func:`explain_dataset` (rows of a feature dataset) give exact Shapley values over the
modalities present in each sample (:class:`Contributions`; ``Σ_m φ_m = v(full) − v(∅)``);
:func:`rationale` turns an explanation into one or two sentences that only state what the
numbers show (:func:`rationale_statements` lists the claims with their numbers). The analysis
fusion of media results is explained by :func:`emofuse.analysis.segment_contributions`, in the
same explanation format.

This layer sits under :mod:`emofuse.analysis` and above :mod:`emofuse.train`: it reads models,
data and label spaces, never the analysis.
"""

from emofuse.explain.rationale import EPS, Statement, rationale, rationale_statements
from emofuse.explain.shapley import Contributions, explain_dataset, shapley_contributions, shapley_matrix

__all__ = ["EPS", "Contributions", "Statement", "explain_dataset", "rationale", "rationale_statements",
           "shapley_contributions", "shapley_matrix"]
