"""The text path: words of a segment (transcript, or Whisper tiny.en speech recognition) → text expert.

Where the words come from:

* timed transcript cues — each segment arrives with its words;
* an untimed transcript — its sentences are spread over the speech when the recording ends,
  so readings wait for the end (:meth:`TextPath.can_read`);
* speech recognition (English only), one utterance at a time, decoding the segment's shared
  Whisper encoder pass (:mod:`emofuse.analysis.paths.whisper`).

Reliability: ``min(1, words / 3) × ASR word confidence`` (1 for transcript words).

Words that were *given* (a transcript, a text) are judged as a whole when the recording ends:
a text in a language the expert does not read gets a warning (:mod:`emofuse.analysis.language`).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from emofuse.analysis.language import MAX_CHARS, language_warning
from emofuse.analysis.paths.base import ModalityPath, PathContext, register_path
from emofuse.analysis.result import ModalityResult
from emofuse.media.segment import SAMPLE_RATE, Segment

__all__ = ["MIN_ASR_S", "MIN_SPEECH_PROB", "TextPath", "text_reliability"]

#: Segments whose mean speech probability is below this get no voice reading and no ASR.
MIN_SPEECH_PROB = 0.1
#: Shortest audio sent to speech recognition, seconds.
MIN_ASR_S = 0.2
ASR_NAME = "Whisper tiny.en (English only)"


def text_reliability(text: str, asr_conf: float | None) -> float:
    """``min(1, words / 3)`` × the ASR word confidence (when the words were recognised)."""
    r = min(1.0, len(text.split()) / 3.0)
    return r * (asr_conf if asr_conf is not None else 1.0)


@register_path
class TextPath(ModalityPath):
    """Words → ``text-goemotions`` (or the configured text expert)."""

    modality = "text"

    def __init__(self, ctx: PathContext, use_asr: bool) -> None:
        super().__init__()
        self.ctx, self.use_asr = ctx, use_asr
        self.expert = ctx.expert("text")
        self.asr_used = False
        self._given: list[str] = []  # words given (not recognised), up to MAX_CHARS: their language is judged
        self._given_chars = 0

    @classmethod
    def open(cls, ctx: PathContext) -> ModalityPath | str:
        """Open unless turned off or there is no way to get words (see the module docstring)."""
        cfg = ctx.config
        if not cfg.text:
            return "text path turned off"
        if not ctx.has_audio and not ctx.timed_text:
            return "no audio track to transcribe and no transcript"
        if not ctx.timed_text and not ctx.untimed_text and not cfg.asr:
            return "speech recognition turned off and no transcript given"
        return cls(ctx, use_asr=bool(cfg.asr and ctx.has_audio and not ctx.timed_text and not ctx.untimed_text))

    def can_read(self, seg: Segment) -> bool:
        """Words of an untimed transcript are known only at the end."""
        return not (self.ctx.untimed_text and seg.text is None and not seg.filler)

    def _transcriber(self) -> Any:
        from emofuse.media.asr import Transcriber

        cfg = self.ctx.config
        threads = self.ctx.resources.threads(cfg)
        return self.ctx.resources.get(("asr", threads, cfg.asr_beam_size),
                                      lambda: Transcriber(threads=threads, beam_size=cfg.asr_beam_size))

    def _recognise(self, seg: Segment) -> ModalityResult | None:
        """Speech recognition on ``seg`` (sets its words); a missing result when there is nothing to read."""
        if seg.audio is None:
            return ModalityResult.missing("audio not decoded")
        if seg.speech_prob < MIN_SPEECH_PROB or len(seg.audio) < SAMPLE_RATE * MIN_ASR_S:
            return ModalityResult.missing("no speech in segment")
        from emofuse.analysis.paths.whisper import whisper_pass

        wp = whisper_pass(self.ctx)
        encoded = wp.encode(seg)
        t0 = time.perf_counter()
        tr = self._transcriber().transcribe(wp.start(seg), wp.wave(seg), encoded=encoded)
        self._time("asr", t0)
        # the padding is silence: keep every word inside its utterance
        tr.words = [replace(w, start=min(max(w.start, seg.start), seg.end),
                            end=min(max(w.end, w.start, seg.start), seg.end)) for w in tr.words]
        self.asr_used = True
        seg.text, seg.text_source = tr.text, "asr"
        seg.words = [w.to_dict() for w in tr.words]
        seg.asr_confidence = tr.confidence
        if not tr.text.strip():
            return ModalityResult.missing("no words recognised", asr_confidence=tr.confidence)
        return None

    def read(self, segs: list[Segment]) -> list[ModalityResult]:
        """Words of each segment → the text expert (batched); missing ones with their reason."""
        out: list[ModalityResult | None] = []
        for s in segs:
            if s.filler:
                out.append(ModalityResult.missing("no speech in segment"))
            elif s.text is not None:
                out.append(None if s.text.strip() else ModalityResult.missing("no words"))
            elif self.use_asr:
                out.append(self._recognise(s))
            else:
                out.append(ModalityResult.missing("no transcript text for this segment"))
        todo = [i for i, r in enumerate(out) if r is None]
        if todo:
            t0 = time.perf_counter()
            res = self.expert.predict([segs[i].text for i in todo])
            for j, i in enumerate(todo):
                s = segs[i]
                if s.text_source != "asr" and self._given_chars < MAX_CHARS:
                    self._given.append(s.text)
                    self._given_chars += len(s.text) + 1
                q = {"n_words": float(len(s.text.split()))}
                if s.asr_confidence is not None:
                    q["asr_confidence"] = float(s.asr_confidence)
                out[i] = ModalityResult.from_probs(res.ekman[j], reliability=text_reliability(s.text, s.asr_confidence),
                                                   expert=self.expert.name, quality=q)
            self._time("text", t0)
            if self.ctx.config.explain:
                self._explain([segs[i].text for i in todo], [out[i] for i in todo])
        return [r for r in out if r is not None]

    def _explain(self, texts: list[str], results: list[Any]) -> None:
        """Word attributions of each reading toward its own label (the ``explain`` setting)."""
        from emofuse.analysis.evidence import text_evidence

        t0 = time.perf_counter()
        for r, ev in zip(results, text_evidence(self.expert, texts, [r.label for r in results]), strict=True):
            r.evidence = ev
        self._time("explain_text", t0)

    def finish(self) -> dict[str, Any]:
        """Which speech recogniser was used (for the result's ``media.asr``); warns about a text's language."""
        # experts declare the languages they read (``languages``); one without the attribute reads any
        note = language_warning(" ".join(self._given), getattr(self.expert, "languages", ()))
        if note:
            self.ctx.warnings.append(note)
        return {"asr": ASR_NAME if self.asr_used else None}
