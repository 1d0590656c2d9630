"""The analysis pipeline on raw media with one modality corrupted: does the fused label degrade gracefully?

:func:`analysis_sweep` analyses labelled recordings (:func:`emofuse.analyze`) once clean and once
per corruption level, with the corruption applied to what **one** modality's expert reads
(:class:`CorruptedExpert`): the voice expert's audio (noise, reverberation), the face expert's
48x48 crops (blur, occlusion, downscaling, JPEG), the text expert's words (word errors). Each run
is scored with :func:`emofuse.analysis.score_analyses` (``unit="label"``: one item per labelled
file or span) for the fused label *and* every single modality, so one table shows whether fusion
held up better than the modality that was corrupted.

Where the corruption acts: at the expert's input. Voice activity detection and speech
recognition still hear the clean audio (so audio noise does not also raise the word error
rate — the ``word_errors`` corruption of the text path measures that on its own), and the face
detector still sees clean frames (a crop-level corruption hits exactly the face the expert
reads). This isolates each modality's share of the damage; it is not a simulation of a noisy
recording end to end.

Rows follow :mod:`emofuse.robustness` 's row format, with ``target`` ``"analysis:fused"`` or
``"analysis:<modality>"`` and ``modality`` the corrupted one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emofuse.analysis import AnalyzeConfig, score_analyses
from emofuse.analysis.paths.base import RESOURCES, Resources
from emofuse.errors import ConfigError

__all__ = ["CorruptedExpert", "analysis_sweep", "corrupting_resources"]


class CorruptedExpert:
    """An expert whose inputs are corrupted before it reads them; everything else is the expert's.

    Args:
        expert: The expert (its ``modality`` says what its inputs are: texts, ``(wave, sr)``
            items, or ``(N, 48, 48)`` uint8 crops).
        corruption: A registered corruption (:func:`emofuse.robustness.corrupt.list_corruptions`)
            of that modality.
        level: Its severity (``None``: clean).
        seed: Seed of the first call; each further call draws a new one from it (the same
            sequence of inputs gets the same corruption).
        **context: What the corruption needs besides the input (``bank=`` for babble noise).

    The wrapper declares no shared passes: a shared encoder pass was computed on the clean
    input, so the corrupted input is encoded again.
    """

    def __init__(self, expert: Any, corruption: str, level: float | None, *, seed: int = 0, **context: Any) -> None:
        from emofuse.robustness.corrupt import CORRUPTIONS

        spec = CORRUPTIONS.get(corruption)
        modality = "audio" if expert.modality in ("audio", "voice") else expert.modality
        if spec.modality != modality:
            raise ConfigError(f"corruption {corruption!r} is for {spec.modality}, but expert {expert.name!r} "
                              f"reads {expert.modality}")
        self._expert, self._name, self._level, self._context = expert, corruption, level, context
        self._rng = np.random.default_rng(seed)
        self.needs = dataclasses.replace(expert.needs, shared=())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._expert, name)

    def _corrupt(self, x: Any, **extra: Any) -> Any:
        from emofuse.robustness.corrupt import corrupt

        seed = int(self._rng.integers(0, 2**31 - 1))
        return corrupt(self._name, x, self._level, seed=seed, **self._context, **extra)

    def predict(self, inputs: Any, *, shared: dict[str, list[Any]] | None = None) -> Any:
        """The expert's prediction on the corrupted ``inputs`` (``shared`` passes are ignored)."""
        m = self._expert.modality
        if m == "text":
            items = [inputs] if isinstance(inputs, str) else list(inputs)
            inputs = [self._corrupt(t) for t in items]
        elif m == "face":
            crops = np.asarray(inputs)
            crops = crops[None] if crops.ndim == 2 else crops
            inputs = np.stack([self._corrupt(c) for c in crops])
        else:
            inputs = [(self._corrupt(np.asarray(w, np.float32), sample_rate=int(sr)), sr) for w, sr in inputs]
        return self._expert.predict(inputs)

    def __call__(self, inputs: Any) -> Any:
        """Same as :meth:`predict`."""
        return self.predict(inputs)


class _Corrupting(Resources):
    """Resources that hand out ``base`` 's experts, the one of ``modality`` wrapped by ``wrap``."""

    def __init__(self, base: Resources, modality: str, wrap: Callable[[Any], Any]) -> None:
        super().__init__()
        self._base, self._modality, self._wrap = base, modality, wrap

    def expert(self, name: str, cfg: AnalyzeConfig, weights: str | None = None) -> Any:
        e = self._base.expert(name, cfg, weights)
        m = "audio" if e.modality in ("audio", "voice") else e.modality
        return self._wrap(e) if m == self._modality else e

    def get(self, key: tuple[Any, ...], build: Any) -> Any:
        return self._base.get(key, build)


def corrupting_resources(modality: str, corruption: str, level: float | None, *, seed: int = 0,
                         base: Resources | None = None, **context: Any) -> Resources:
    """Resources for :func:`emofuse.analyze` (``resources=``) whose ``modality`` expert reads corrupted input."""
    return _Corrupting(base or RESOURCES, modality,
                       lambda e: CorruptedExpert(e, corruption, level, seed=seed, **context))


def _rows(report: dict[str, Any], modality: str, corruption: str, level: float | None, condition: str,
          seed: int) -> list[dict[str, Any]]:
    out = []
    for m, met in report["overall"].items():
        if not met.get("n"):
            continue
        out.append({"target": f"analysis:{m}", "kind": corruption, "modality": modality, "condition": condition,
                    "level": level, "n": int(met["n"]), "coverage": float(met.get("coverage", 1.0)),
                    "accuracy": float(met["accuracy"]), "uar": float(met["uar"]),
                    "f1_macro": float(met["f1_macro"]), "seed": seed})
    return out


def analysis_sweep(files: Sequence[str | Path], labels: str | Path,
                   conditions: Sequence[tuple[str, str, Sequence[float]]], *,
                   config: AnalyzeConfig | dict[str, Any] | None = None, seed: int = 0,
                   context: dict[str, dict[str, Any]] | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Fused and per-modality figures of the analysis, clean and with each modality corrupted in turn.

    Args:
        files: Media files (their labels are in ``labels``).
        labels: A labels CSV (``file,label`` or ``file,start,end,label``; see
            :func:`emofuse.analysis.score_analyses`).
        conditions: ``(modality, corruption, levels)`` triples, e.g.
            ``[("audio", "white_noise", [20, 10, 0]), ("face", "blur", [2, 4])]``.
        config: Analysis settings (the same for every run).
        seed: Corruption seed.
        context: Extra arguments per corruption name (``{"babble_noise": {"bank": [...]}}``).
        progress: Show a progress bar.

    Returns:
        Rows (one per run and scored output): the clean run has ``kind="clean"`` and
        ``level=None``.
    """
    import emofuse

    cfg = config if isinstance(config, AnalyzeConfig) else AnalyzeConfig.from_dict(config)
    runs: list[tuple[str | None, str, float | None]] = [(None, "clean", None)]
    runs += [(m, c, float(lv)) for m, c, levels in conditions for lv in levels]
    from rich.console import Console
    from rich.progress import Progress

    out: list[dict[str, Any]] = []
    with Progress(console=Console(stderr=True), disable=not progress, transient=True) as bar:  # stdout stays data
        task = bar.add_task("analysis robustness", total=len(runs) * len(files))
        for modality, corruption, level in runs:
            res = []
            for f in files:
                resources = (RESOURCES if modality is None else
                             corrupting_resources(modality, corruption, level, seed=seed,
                                                  **(context or {}).get(corruption, {})))
                res.append(emofuse.analyze(f, config=cfg, resources=resources))
                bar.advance(task)
            report = score_analyses(res, labels, unit="label")
            cond = "clean" if modality is None else f"{modality} {corruption} {level:g}"
            out += _rows(report, modality or "none", corruption, level, cond, seed)
    return out
