"""Explanations: how much each modality contributed to a prediction, what inside it mattered, and why, in words.

Across modalities — :func:`shapley_contributions` (a zoo model on a
:class:`~emofuse.data.spec.Batch`) and :func:`explain_dataset` (rows of a feature dataset) give
exact Shapley values over the modalities present in each sample (:class:`Contributions`;
``Σ_m φ_m = v(full) − v(∅)``); :func:`attention_maps` gives the cross-modal attention weights of
the zoo models that have them (:func:`models_with_attention`).

Within a modality — :func:`word_attributions` (integrated gradients of the text expert, word
pieces merged to words), :func:`voice_occlusion` and :func:`prosody_summary` (which stretch of an
utterance drove the voice expert, and what the voice sounded like), :func:`face_heatmaps`
(Grad-CAM on the face crop; :func:`overlay_png` draws it); each has a deletion curve
(:func:`word_deletion_curve`, :func:`voice_deletion_curve`, :func:`face_deletion_curve`) that
measures its faithfulness.

In words — :func:`rationale` turns an explanation into one or two sentences that only state
what the numbers show (:func:`rationale_statements` lists the claims with their numbers). The
analysis fusion of media results is explained by :func:`emofuse.analysis.segment_contributions`,
in the same explanation format.

This layer sits under :mod:`emofuse.analysis` and above :mod:`emofuse.train`: it reads models,
experts, data and label spaces, never the analysis.
"""

from emofuse.explain.attention import attention_maps, models_with_attention
from emofuse.explain.face import face_deletion_curve, face_heatmaps, overlay_png
from emofuse.explain.rationale import EPS, Statement, rationale, rationale_statements
from emofuse.explain.shapley import Contributions, explain_dataset, shapley_contributions, shapley_matrix
from emofuse.explain.voice import prosody_summary, voice_deletion_curve, voice_occlusion
from emofuse.explain.words import word_attributions, word_deletion_curve

__all__ = ["EPS", "Contributions", "Statement", "attention_maps", "explain_dataset", "face_deletion_curve",
           "face_heatmaps", "models_with_attention", "overlay_png", "prosody_summary", "rationale",
           "rationale_statements", "shapley_contributions", "shapley_matrix", "voice_deletion_curve",
           "voice_occlusion", "word_attributions", "word_deletion_curve"]
