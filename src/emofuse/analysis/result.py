"""The result of analysing one media file: one row per segment, plus a per-frame face timeline.

:class:`AnalysisResult` is what :func:`emofuse.analyze` returns and what ``emofuse analyze``
writes. Everything in it is plain data (floats, strings, lists, dicts), so it round-trips
through JSON exactly (:meth:`AnalysisResult.to_dict` / :meth:`AnalysisResult.from_dict`).

Per segment (:class:`SegmentResult`):

* ``start``/``end`` in seconds from the start of the media, the ``text`` spoken in it and where
  the text came from (``"transcript"``, ``"asr"`` or ``"input"``);
* one :class:`ModalityResult` per modality (``"text"``, ``"audio"``, ``"face"`` from media; any
  name of :data:`emofuse.modalities.MODALITIES`, e.g. ``"physio"``, may be added): either
  ``status == "ok"`` with a calibrated ``ekman7`` distribution, the arg-max label, its
  probability (``confidence``) and a ``reliability`` in ``[0, 1]`` built from the modality's
  quality signals (kept in ``quality``), or ``status == "missing"`` with the ``reason``;
* the fused ``ekman7`` distribution, label and confidence, and the fusion ``weights`` given to
  each modality (they sum to 1 over the modalities that were present).

The files a result is written to (JSON, CSV, Parquet, HTML, PNG) are made by the writers
registered in :mod:`emofuse.analysis.writers`; :meth:`AnalysisResult.save` looks them up by
name. This module depends on nothing above it (no report or plotting code).

Example:
    >>> seg = SegmentResult(index=0, start=0.0, end=1.5, text="hi", text_source="input")
    >>> seg.modalities["text"] = ModalityResult.missing("no words")
    >>> res = AnalysisResult(source="x.txt", kind="text", duration=1.5, segments=[seg])
    >>> AnalysisResult.from_dict(res.to_dict()) == res
    True
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from emofuse.errors import DataError
from emofuse.labels import get_label_space
from emofuse.modalities import MODALITIES

__all__ = [
    "EKMAN",
    "MODALITY_NAMES",
    "AnalysisResult",
    "FaceFrame",
    "ModalityResult",
    "SegmentResult",
]

#: Classes of the common emotion space every result is expressed in (``ekman7``).
EKMAN: tuple[str, ...] = get_label_space("ekman7").classes
#: Modalities the media pipeline analyses, in display order (physio has no media path; a result
#: may still carry it, see :meth:`AnalysisResult.modality_names`).
MODALITY_NAMES: tuple[str, ...] = ("text", "audio", "face")
RESULT_FORMAT = "emofuse-analysis"
RESULT_FORMAT_VERSION = 1


def __getattr__(name: str) -> Any:
    # OUTPUT_FORMATS, still importable from here, is the writers registry's names, read when asked
    # for (so a writer registered later is included); a module-level import of the registry here
    # would point upward
    if name == "OUTPUT_FORMATS":
        from emofuse.analysis.writers import output_formats

        return output_formats()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


@dataclass
class ModalityResult:
    """What one modality says about one segment.

    Attributes:
        status: ``"ok"`` or ``"missing"``.
        reason: Why the modality is missing (``None`` when ``ok``), e.g. ``"no face detected in 12
            sampled frames"``, ``"no audio track"``, ``"no words"``.
        probs: Calibrated ``ekman7`` distribution ``{class: probability}`` (``None`` when missing).
        label: Most probable class.
        confidence: Its probability, in ``[0, 1]``.
        reliability: How much this modality can be trusted on this segment, in ``[0, 1]``,
            from its quality signals; the fusion weight is proportional to it.
        quality: The raw quality signals (e.g. ``speech_prob``, ``asr_logprob``, ``face_score``,
            ``face_px``, ``blur``, ``n_frames``).
        expert: Registry name of the expert that produced ``probs``.
        native: The expert's own reading where its classes are not Ekman's (the physio expert's
            ``{"baseline": p, "stress": p, "amusement": p}``); ``probs`` is then a documented
            routing of it, and views show the native label. ``None`` for Ekman-space experts.
        thumbnail: A small JPEG of the main face as a ``data:`` URI (face path, only with the
            ``thumbnails`` setting). Face pixels stay in memory for the HTML report: they are
            never written to the JSON, CSV or Parquet outputs and take no part in comparisons.
        evidence: What within the modality drove its own label, when the analysis ran with
            ``explain`` on (``None`` otherwise): the text path's word attributions
            (:func:`emofuse.explain.word_attributions`), the voice path's strongest stretch and
            prosodic summary (:func:`emofuse.explain.voice_occlusion`), the face path's strongest
            frames with their heat-map grids (:func:`emofuse.explain.face_heatmaps`). Numbers
            only (JSON-ready); the ``target`` it explains is the modality's own label.
        evidence_images: Heat-map overlays of :attr:`evidence`'s strongest face frames as PNG
            ``data:`` URIs, for the HTML report; only with both ``explain`` and ``thumbnails``
            on (face pixels), never in the data outputs.
    """

    status: str = "missing"
    reason: str | None = None
    probs: dict[str, float] | None = None
    label: str | None = None
    confidence: float | None = None
    reliability: float = 0.0
    quality: dict[str, float] = field(default_factory=dict)
    expert: str | None = None
    native: dict[str, float] | None = None
    thumbnail: str | None = field(default=None, compare=False, repr=False)
    evidence: dict[str, Any] | None = None
    evidence_images: list[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def missing(cls, reason: str, **quality: float) -> ModalityResult:
        """A missing modality with its reason (and any quality signals measured anyway)."""
        return cls(status="missing", reason=str(reason), quality={k: float(v) for k, v in quality.items()})

    @classmethod
    def from_probs(cls, probs: Any, *, reliability: float, expert: str | None = None,
                   quality: dict[str, float] | None = None, native: dict[str, float] | None = None) -> ModalityResult:
        """An ``ok`` modality from a ``(7,)`` ekman7 probability vector.

        Raises:
            DataError: The vector is not 7 finite non-negative numbers summing to ~1.
        """
        p = [float(v) for v in probs]
        if len(p) != len(EKMAN) or not all(math.isfinite(v) and v >= 0 for v in p) or abs(sum(p) - 1) > 1e-3:
            raise DataError(f"expected a distribution over the {len(EKMAN)} ekman7 classes, got {p}")
        top = max(range(len(p)), key=p.__getitem__)
        return cls(status="ok", probs={c: _round(v) for c, v in zip(EKMAN, p, strict=True)}, label=EKMAN[top],
                   confidence=_round(p[top]), reliability=_round(min(1.0, max(0.0, reliability))) or 0.0,
                   quality={k: _round(v) for k, v in (quality or {}).items()}, expert=expert,
                   native=None if native is None else {k: _round(v) for k, v in native.items()})

    @property
    def shown(self) -> tuple[str | None, float | None]:
        """``(label, confidence)`` as people read it: the native class where the expert has its own space."""
        if self.native:
            top = max(self.native, key=self.native.__getitem__)
            return top, self.native[top]
        return self.label, self.confidence

    @property
    def ok(self) -> bool:
        """Whether the modality has a prediction for the segment."""
        return self.status == "ok"

    def vector(self) -> list[float] | None:
        """The distribution as a list in :data:`EKMAN` order (``None`` when missing)."""
        return None if self.probs is None else [float(self.probs[c]) for c in EKMAN]


@dataclass
class SegmentResult:
    """One analysed segment (an utterance, a transcript cue or a fixed window).

    Attributes:
        index: 0-based position in the result.
        start: Start time in seconds.
        end: End time in seconds.
        text: Words spoken in the segment (``""`` when none are known).
        text_source: ``"transcript"``, ``"asr"``, ``"input"`` or ``None``.
        source: How the segment was found: ``"transcript"``, ``"vad"``, ``"window"`` or ``"text"``.
        modalities: ``{modality: ModalityResult}`` (``text``, ``audio`` and ``face`` from media).
        probs: Fused ``ekman7`` distribution (``None`` when every modality is missing).
        label: Fused label.
        confidence: Probability of the fused label.
        weights: Fusion weight of each present modality (sums to 1).
        words: Word timings from ASR as ``[{"word", "start", "end", "prob"}]`` (may be empty).
        contributions: Shapley contribution of each present modality to the fused label and
            every class (:func:`emofuse.analysis.explain.segment_contributions`); ``None`` unless
            the analysis ran with ``explain`` on.
        rationale: One or two sentences made from ``contributions`` (``None`` likewise).
    """

    index: int
    start: float
    end: float
    text: str = ""
    text_source: str | None = None
    source: str = "window"
    modalities: dict[str, ModalityResult] = field(default_factory=dict)
    probs: dict[str, float] | None = None
    label: str | None = None
    confidence: float | None = None
    weights: dict[str, float] = field(default_factory=dict)
    words: list[dict[str, Any]] = field(default_factory=list)
    contributions: dict[str, Any] | None = None
    rationale: str | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start

    def missing(self) -> dict[str, str]:
        """``{modality: reason}`` of the modalities without a prediction."""
        return {m: (r.reason or "missing") for m, r in self.modalities.items() if not r.ok}


@dataclass
class FaceFrame:
    """The main face on one sampled video frame (for the timeline).

    Attributes:
        t: Frame time in seconds.
        probs: ``ekman7`` distribution in :data:`EKMAN` order, or ``None`` when no face was found.
        score: Detection score; ``face_px``: face size in pixels; ``blur``: Laplacian variance.
        n_faces: Faces detected on the frame; ``track``: id of the main face's track.
    """

    t: float
    probs: list[float] | None = None
    score: float = 0.0
    face_px: float = 0.0
    blur: float = 0.0
    n_faces: int = 0
    track: int | None = None


@dataclass
class AnalysisResult:
    """Everything :func:`emofuse.analyze` found in one input.

    Attributes:
        source: The input path (or ``"<text>"`` for a string).
        kind: ``"video"``, ``"audio"`` or ``"text"``.
        duration: Media duration in seconds (0 for text).
        segments: One :class:`SegmentResult` per segment, in time order.
        media: What the container holds (streams, codecs, frame rate, size, sample rate).
        modalities: ``{modality: reason}`` for modalities absent from the whole input
            (e.g. ``{"face": "no video stream"}``).
        faces: Face tracks found (``id``, ``first``/``last`` time, ``n_frames``, ``main``).
        frames: Per sampled video frame, the main face's distribution (the face timeline).
        warnings: Problems met and worked around (e.g. transcript cues past the end).
        config: The settings used (resolved :class:`~emofuse.analysis.pipeline.AnalyzeConfig`).
        timings: Seconds spent per stage, plus ``total`` and ``realtime_factor``.
        version: emofuse version that produced the result.
    """

    source: str
    kind: str
    duration: float
    segments: list[SegmentResult] = field(default_factory=list)
    media: dict[str, Any] = field(default_factory=dict)
    modalities: dict[str, str] = field(default_factory=dict)
    faces: list[dict[str, Any]] = field(default_factory=list)
    frames: list[FaceFrame] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    version: str = ""
    classes: tuple[str, ...] = EKMAN

    # ----------------------------------------------------------------- plain data

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``.json`` output), with a format tag."""
        d = asdict(self)
        for seg in d["segments"]:  # face pixels never leave memory through the data outputs
            for r in seg["modalities"].values():
                r.pop("thumbnail", None)
                r.pop("evidence_images", None)
                if r.get("evidence") is None:
                    r.pop("evidence", None)
            for k in ("contributions", "rationale"):  # explanations only when asked for (explain)
                if seg[k] is None:
                    del seg[k]
        d["classes"] = list(self.classes)
        return {"format": RESULT_FORMAT, "format_version": RESULT_FORMAT_VERSION, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnalysisResult:
        """Inverse of :meth:`to_dict`.

        Raises:
            DataError: Not an emofuse analysis result.
        """
        if d.get("format") != RESULT_FORMAT:
            raise DataError(f"not an emofuse analysis result (format={d.get('format')!r})")
        d = {k: v for k, v in d.items() if k not in ("format", "format_version")}
        segs = []
        for s in d.pop("segments", []):
            s = dict(s)
            s["modalities"] = {m: ModalityResult(**r) for m, r in s.get("modalities", {}).items()}
            segs.append(SegmentResult(**s))
        frames = [FaceFrame(**f) for f in d.pop("frames", [])]
        d["classes"] = tuple(d.get("classes", EKMAN))
        known = {f.name for f in fields(cls)}
        return cls(segments=segs, frames=frames, **{k: v for k, v in d.items() if k in known})

    def to_json(self, path: str | Path | None = None, indent: int | None = 2) -> str:
        """The result as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    @classmethod
    def read_json(cls, path: str | Path) -> AnalysisResult:
        """Read a result written by :meth:`to_json`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    # ----------------------------------------------------------------- tables

    def modality_names(self) -> tuple[str, ...]:
        """The modalities this result speaks of, in :data:`~emofuse.modalities.MODALITIES` order.

        A modality counts when a segment has a result or a fusion weight for it, or when it is
        missing for the whole input; names outside the vocabulary follow in first-seen order. A
        result naming none (no segments) lists :data:`MODALITY_NAMES`. Every table column, report
        row and timeline panel comes from this list.

        Example:
            >>> seg = SegmentResult(index=0, start=0.0, end=1.0)
            >>> seg.modalities["physio"] = ModalityResult.missing("no sensor")
            >>> AnalysisResult(source="x", kind="video", duration=1.0, segments=[seg],
            ...                modalities={"face": "no video stream"}).modality_names()
            ('face', 'physio')
        """
        seen: dict[str, None] = dict.fromkeys(self.modalities)
        for s in self.segments:
            seen.update(dict.fromkeys(s.modalities))
            seen.update(dict.fromkeys(s.weights))
        if not seen:
            return MODALITY_NAMES
        return tuple([m for m in MODALITIES if m in seen] + [m for m in seen if m not in MODALITIES])

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per segment (the CSV/Parquet/pandas columns).

        Columns: ``index, start, end, text, text_source, source, label, confidence``, the fused
        probabilities ``p_<class>``, then per modality ``<m>_label``, ``<m>_confidence``,
        ``<m>_weight``, ``<m>_reliability``, ``<m>_missing`` (the reason, empty when present) and
        ``<m>_p_<class>``, for each of :meth:`modality_names`.
        """
        mods = self.modality_names()
        out = []
        for s in self.segments:
            row: dict[str, Any] = {"index": s.index, "start": round(s.start, 3), "end": round(s.end, 3),
                                   "text": s.text, "text_source": s.text_source or "", "source": s.source,
                                   "label": s.label or "", "confidence": s.confidence}
            for c in self.classes:
                row[f"p_{c}"] = None if s.probs is None else s.probs.get(c)
            for m in mods:
                r = s.modalities.get(m) or ModalityResult.missing("not analysed")
                row[f"{m}_label"] = r.label or ""
                row[f"{m}_confidence"] = r.confidence
                row[f"{m}_weight"] = s.weights.get(m, 0.0)
                row[f"{m}_reliability"] = r.reliability
                row[f"{m}_missing"] = "" if r.ok else (r.reason or "missing")
                for c in self.classes:
                    row[f"{m}_p_{c}"] = None if r.probs is None else r.probs.get(c)
            out.append(row)
        return out

    def to_pandas(self) -> Any:
        """A :class:`pandas.DataFrame` with one row per segment (see :meth:`rows`)."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - pandas is part of the analyze extra
            raise ImportError("to_pandas needs pandas: pip install 'emofuse[tables]'") from err
        rows = self.rows()
        return pd.DataFrame(rows, columns=list(rows[0]) if rows else self._columns())

    def _columns(self) -> list[str]:
        probe = AnalysisResult(source="", kind=self.kind, duration=0.0, modalities=dict.fromkeys(
            self.modality_names(), ""), segments=[SegmentResult(index=0, start=0.0, end=0.0)])
        return list(probe.rows()[0])

    def to_csv(self, path: str | Path) -> None:
        """Write :meth:`rows` as CSV (UTF-8, header row)."""
        rows = self.rows()
        cols = list(rows[0]) if rows else self._columns()
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)

    def to_parquet(self, path: str | Path) -> None:
        """Write :meth:`rows` as Parquet (needs pyarrow)."""
        self.to_pandas().to_parquet(path, index=False)

    # ----------------------------------------------------------------- summaries

    def dominant(self) -> str | None:
        """The fused label holding the most segment time (``None`` without predictions)."""
        total: dict[str, float] = {}
        for s in self.segments:
            if s.label:
                total[s.label] = total.get(s.label, 0.0) + max(s.duration, 1e-3)
        return max(total, key=total.__getitem__) if total else None

    def save(self, out_dir: str | Path, formats: tuple[str, ...] | list[str] | None = None,
             stem: str = "analysis") -> dict[str, Path]:
        """Write the result to ``out_dir/<stem><suffix>`` with each named writer; returns the paths.

        Args:
            out_dir: Output folder (created when missing).
            formats: Names of writers registered in :mod:`emofuse.analysis.writers`
                (``json``, ``csv``, ``parquet``, ``html``, ``png``, ...); ``None``: all of them.
            stem: File name without the suffix.

        Returns:
            ``{format: path}`` in the order written.

        Raises:
            UnknownNameError: An unknown format name (close matches suggested); nothing is written.
            ImportError: A writer's optional dependency is missing (with the install command);
                nothing is written.
        """
        from emofuse.analysis.writers import check_formats

        writers = check_formats(formats)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        return {w.name: w(self, out / f"{stem}{w.suffix}") for w in writers}
