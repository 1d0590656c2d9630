"""emofuse: multimodal emotion recognition from text, voice and face.

The public API is small; everything else is reached through subpackages.

Example:
    >>> import emofuse
    >>> "mult" in emofuse.list_models()
    True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emofuse._version import __version__
from emofuse.models.base import create_model, list_models


def load_dataset(path: str | Path, **kwargs: Any) -> Any:
    """Read a feature dataset (see :func:`emofuse.data.readers.load_dataset`)."""
    from emofuse.data.readers import load_dataset as _load

    return _load(path, **kwargs)


def load_model(checkpoint: str | Path) -> Any:
    """Load a trained fusion model from a checkpoint directory (eval mode, strict)."""
    from emofuse.models.checkpoint import load_checkpoint

    return load_checkpoint(checkpoint)[0]


def evaluate(checkpoint: str | Path, data: str | Path, *, return_predictions: bool = False,
             batch_size: int = 64, **reader_kwargs: Any) -> Any:
    """Metrics of a checkpoint on a dataset file (accepts the official test files unchanged).

    Returns:
        The metrics dict (with ``classes``), or ``(metrics, Predictions)`` if ``return_predictions``.
    """
    from emofuse.evaluate.metrics import compute_metrics
    from emofuse.evaluate.predict import predict
    from emofuse.models.checkpoint import load_checkpoint

    model, card = load_checkpoint(checkpoint)
    reader_kwargs = {k: v for k, v in reader_kwargs.items() if v is not None}
    ds = load_dataset(data, **reader_kwargs)
    pred = predict(model, ds, batch_size=batch_size)
    mosi = bool(card.get("train", {}).get("mosi", False))
    classes = list(model.spec.classes) or None
    metrics = compute_metrics(model.spec.task, pred.logits, pred.targets, classes=classes, mosi=mosi)
    metrics = {"model": card["model"], "n": len(ds), **metrics}
    if classes:
        metrics["classes"] = classes
    return (metrics, pred) if return_predictions else metrics


def analyze(source: str | Path | None = None, *, text: str | None = None, **kwargs: Any) -> Any:
    """Analyse a video, audio or text file (or a ``text`` string): emotions per segment, fused.

    See :func:`emofuse.analysis.pipeline.analyze` for the options (``transcript=``,
    ``config=``, any :class:`~emofuse.analysis.pipeline.AnalyzeConfig` field as a keyword).

    Returns:
        An :class:`~emofuse.analysis.result.AnalysisResult` (``.to_pandas()``, ``.save(dir)``).
    """
    from emofuse.analysis.pipeline import analyze as _analyze
    from emofuse.analysis.pipeline import analyze_text
    from emofuse.errors import ConfigError

    if (source is None) == (text is None):
        raise ConfigError("analyze: give either a file path or text=")
    if text is not None:
        resources = kwargs.pop("resources", None)
        return analyze_text(text, config=kwargs.pop("config", None) or kwargs or None, resources=resources)
    return _analyze(source, **kwargs)


def analyze_texts(texts: list[str], **kwargs: Any) -> Any:
    """Analyse many texts in one call (the experts loaded once): one result per text.

    See :func:`emofuse.analysis.texts.analyze_texts` (``config=``, ``out_dir=``, ``formats=``).

    Returns:
        A list of :class:`~emofuse.analysis.result.AnalysisResult`, one per text, in order.
    """
    from emofuse.analysis.texts import analyze_texts as _analyze_texts

    return _analyze_texts(texts, **kwargs)


__all__ = ["__version__", "analyze", "analyze_texts", "create_model", "evaluate", "list_models", "load_dataset",
           "load_model"]
