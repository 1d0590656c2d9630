"""Within-modality evidence for a segment's readings (the analysis's ``explain`` setting).

Each modality path calls one function here after its expert has read a segment, and stores the
result in :attr:`~emofuse.analysis.result.ModalityResult.evidence`. The evidence explains the
modality's *own* label (its ``target``), not the fused one: what the text expert read it from,
which stretch of the voice and which face frames weighed most.

* :func:`text_evidence` — integrated-gradients word attributions
  (:func:`emofuse.explain.words.word_attributions`): every word with its score and the top ones;
* :func:`voice_evidence` — occlusion over time (:func:`emofuse.explain.voice.voice_occlusion`)
  in media seconds, and the prosodic summary of the speech
  (:func:`emofuse.explain.voice.prosody_summary`);
* :func:`face_evidence` — the segment's strongest frames (reliability × probability of the
  label) with their Grad-CAM grids (:func:`emofuse.explain.face.face_heatmaps`), and heat-map
  overlays as PNG ``data:`` URIs only when face pictures may be kept (``thumbnails``).

An expert the explainer cannot open (another architecture) gives ``{"reason": ...}`` instead of
failing the analysis. Everything is numbers and words: JSON-ready.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from emofuse.analysis.faces import face_reliability
from emofuse.analysis.result import EKMAN, FaceFrame
from emofuse.errors import ConfigError, DataError

__all__ = ["MAX_FRAMES", "TOP_WORDS", "face_evidence", "text_evidence", "voice_evidence"]

#: Words listed as the strongest evidence of a text reading.
TOP_WORDS = 3
#: Face frames explained per segment.
MAX_FRAMES = 3
_R = 4  # decimals kept


def _r(x: Any) -> float:
    return round(float(x), _R)


def _unsupported(kind: str, expert: Any, err: Exception) -> dict[str, Any]:
    return {"reason": f"no {kind} for expert {getattr(expert, 'name', type(expert).__name__)!r}: {err}"}


def text_evidence(expert: Any, texts: list[str], labels: list[str]) -> list[dict[str, Any]]:
    """Word attributions of each text toward its reading's label.

    Returns:
        One dict per text: ``method``, ``target``, ``prob``, ``words`` (``[{"word", "start",
        "end", "score"}]`` in text order; ``start``/``end`` are character offsets), ``top``
        (up to :data:`TOP_WORDS` words with a positive score, strongest first) and
        ``truncated``; or ``{"reason": ...}`` when the expert has no word attributions.
    """
    from emofuse.explain.words import word_attributions

    try:
        found = word_attributions(expert, texts, targets=labels)
    except (AttributeError, TypeError, ConfigError, DataError) as err:
        return [_unsupported("word attributions", expert, err) for _ in texts]
    out = []
    for e in found:
        words = [{"word": w["word"], "start": int(w["start"]), "end": int(w["end"]), "score": _r(w["score"])}
                 for w in e["words"]]
        top = sorted((w for w in words if w["score"] > 0), key=lambda w: -w["score"])[:TOP_WORDS]
        out.append({"method": e["method"], "target": e["target"], "prob": _r(e["prob"]), "words": words,
                    "top": [w["word"] for w in top], "truncated": bool(e.get("truncated", False))})
    return out


def voice_evidence(expert: Any, wave: np.ndarray, sample_rate: int, t0: float, speech: tuple[float, float],
                   label: str) -> dict[str, Any]:
    """Which stretch of a segment's speech drove the voice reading, and what the voice sounded like.

    Args:
        expert: The voice expert (``predict([(wave, sr)])``).
        wave: ``(T,)`` what the expert read (the speech with its silence padding).
        sample_rate: Rate of ``wave``, Hz.
        t0: Media time of ``wave``'s first sample, seconds.
        speech: ``(start, end)`` media seconds of the speech inside ``wave`` (stretches outside
            it are padding and are not reported).
        label: The voice reading's label (the class explained).

    Returns:
        ``method``, ``target``, ``prob``, ``window_s``, ``stretches`` (``[{"start", "end",
        "drop"}]`` in media seconds, time order; ``drop`` = probability of ``label`` lost when
        the stretch is silenced), ``top`` (the stretch of largest drop) and ``prosody`` (see
        :func:`emofuse.explain.voice.prosody_summary`); or ``{"reason": ...}``.
    """
    from emofuse.explain.voice import prosody_summary, voice_occlusion

    try:
        lo, hi = speech
        occ = voice_occlusion(expert, wave, sample_rate, target=label, span=(lo - t0, hi - t0))
    except (AttributeError, TypeError, ConfigError, DataError) as err:
        return _unsupported("voice occlusion", expert, err)
    stretches = [{"start": _r(t0 + s["start"]), "end": _r(t0 + s["end"]), "drop": _r(s["drop"])}
                 for s in occ["stretches"] if t0 + s["end"] > lo and t0 + s["start"] < hi]
    top = max(stretches, key=lambda s: s["drop"]) if stretches else None
    i0, i1 = int(round((lo - t0) * sample_rate)), int(round((hi - t0) * sample_rate))
    speech_wave = np.asarray(wave[max(0, i0):max(i0 + 1, i1)], np.float32)
    try:
        prosody = {k: (None if v is None else _r(v)) for k, v in prosody_summary(speech_wave, sample_rate).items()}
    except DataError as err:
        prosody = {"reason": str(err)}
    return {"method": occ["method"], "target": occ["target"], "prob": _r(occ["prob"]),
            "window_s": float(occ["window_s"]), "stretches": stretches, "top": top, "prosody": prosody}


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def face_evidence(expert: Any, frames: list[FaceFrame], crops: dict[float, np.ndarray], label: str, *,
                  images: bool = False) -> tuple[dict[str, Any], list[str] | None]:
    """The strongest face frames of a segment and where on the face the expert looked.

    Args:
        expert: The face expert.
        frames: The segment's timeline frames.
        crops: ``{t: (48, 48) uint8}`` main-face crops kept by the tracker.
        label: The face reading's label (the class explained).
        images: Also return heat-map overlays (PNG ``data:`` URIs; face pixels).

    Returns:
        ``(evidence, images)``: ``method``, ``target``, ``frames`` (up to :data:`MAX_FRAMES`,
        strongest first: ``t``, ``prob`` of ``label`` on that frame, ``weight`` (its
        reliability × prob), ``grid`` (6x6 mean heat, rows top to bottom) and ``peak``
        (``[row, col]`` crop pixels)); ``images`` is ``None`` unless asked for.
    """
    from emofuse.explain.face import face_heatmaps, overlay_png

    k = EKMAN.index(label)
    cand = [f for f in frames if f.probs is not None and f.t in crops]
    weight = {f.t: face_reliability(f.score, f.face_px, f.blur) * f.probs[k] for f in cand}
    best = sorted(cand, key=lambda f: -weight[f.t])[:MAX_FRAMES]
    if not best:
        return {"reason": "the segment's face crops were not kept"}, None
    stack = np.stack([crops[f.t] for f in best])
    try:
        maps = face_heatmaps(expert, stack, targets=[label] * len(best))
    except (AttributeError, TypeError, ConfigError, DataError) as err:
        return _unsupported("face heat-maps", expert, err), None
    shown = [{"t": f.t, "prob": _r(m["prob"]), "weight": _r(weight[f.t]),
              "grid": [[_r(v) for v in row] for row in m["grid"]], "peak": [int(v) for v in m["peak"]]}
             for f, m in zip(best, maps, strict=True)]
    pics = [_png_uri(overlay_png(c, m["heatmap"])) for c, m in zip(stack, maps, strict=True)] if images else None
    return {"method": maps[0]["method"], "target": label, "frames": shown}, pics
