"""The voice path: a segment's audio (its first 30 s) → the voice expert.

Segments without speech (mean speech probability under
:data:`~emofuse.analysis.paths.text.MIN_SPEECH_PROB`, or filler windows between utterances)
get no reading. When the expert reads Whisper encoder states, it reuses the segment's shared
encoder pass (:mod:`emofuse.analysis.paths.whisper`). The expert reads the segment with the
padding its card asks for (``preprocessing.segment_pad_s``), as in the files it was trained
on: the recording's own room tone around the speech (``voice_padding="room"``, the default;
:meth:`~emofuse.media.segment.Segment.padded_speech`) or digital silence. Reliability: speech
probability × ``min(1, duration / 1 s)`` × an SNR factor (:func:`snr_factor` of the blind SNR
estimate the expert reports for the wave it read), so that a noisy voice does not outvote a
clear face (validation curves in ``recipes/robustness/results/voice.md``).

With ``voice_speaker_norm`` on, the path keeps running speaker statistics of the recording's
utterances (features only, no audio) and the expert blends in its speaker-normalised reading
(:meth:`~emofuse.experts.voice_whisper.VoiceWhisperExpert.predict_speaker`); each reading's
quality says with what weight (``speaker_norm_weight``) and over how many utterances.
"""

from __future__ import annotations

import time
from typing import Any

from emofuse.analysis.paths.base import ModalityPath, PathContext, register_path
from emofuse.analysis.paths.text import MIN_SPEECH_PROB
from emofuse.analysis.result import ModalityResult
from emofuse.errors import ConfigError, DataError
from emofuse.experts.whisper_features import SHARED_PASS
from emofuse.media.segment import SAMPLE_RATE, Segment

__all__ = ["SNR_FULL_DB", "SNR_ZERO_DB", "VoicePath", "snr_factor"]

#: Estimated SNR (dB) from which the voice reading counts fully.
SNR_FULL_DB = 20.0
#: Estimated SNR (dB) at and below which it keeps only the floor weight.
SNR_ZERO_DB = 0.0
_SNR_FLOOR = 0.05  # a drowned voice still says a little; never exactly zero


def snr_factor(snr_db: float | None) -> float:
    """Reliability factor in ``[0.05, 1]`` of an estimated SNR: linear from 0 dB to 20 dB; 1 when unknown."""
    if snr_db is None:
        return 1.0
    x = (float(snr_db) - SNR_ZERO_DB) / (SNR_FULL_DB - SNR_ZERO_DB)
    return float(min(1.0, max(_SNR_FLOOR, x)))


@register_path
class VoicePath(ModalityPath):
    """Speech → ``voice-whisper`` (or the configured voice expert)."""

    modality = "audio"
    #: The recording's running speaker statistics (``voice_speaker_norm``), else ``None``.
    stats: Any = None

    def __init__(self, ctx: PathContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.expert = ctx.expert("audio")
        self.share = SHARED_PASS in self.expert.needs.shared
        self.stats = None
        if ctx.config.voice_padding == "room":  # the segmenter keeps the room tone around each utterance
            self.context_s = self.expert.pad_s
        if ctx.config.voice_speaker_norm:
            if getattr(self.expert, "speaker_norm", None) is None:
                raise ConfigError(f"voice_speaker_norm: voice expert {self.expert.name!r} (these weights) ships no "
                                  "speaker-normalised head")
            self.stats = self.expert.speaker_stats()

    @classmethod
    def open(cls, ctx: PathContext) -> ModalityPath | str:
        """Open unless the recording has no audio or the path is turned off."""
        if not ctx.has_audio:
            return "no audio track"
        if not ctx.config.audio:
            return "voice path turned off"
        return cls(ctx)

    def _one(self, s: Segment) -> ModalityResult:
        if s.filler:
            return ModalityResult.missing("no speech in segment", speech_prob=s.speech_prob)
        if s.audio is None:
            return ModalityResult.missing("audio not decoded for this segment")
        if s.speech_prob < MIN_SPEECH_PROB:
            return ModalityResult.missing("no speech in segment", speech_prob=s.speech_prob)
        try:
            t_speech, speech = s.speech_audio()
            if speech is None:
                return ModalityResult.missing("audio not decoded for this segment")
            if self.share:  # the shared pass's padded audio: what the expert was trained on
                from emofuse.analysis.paths.whisper import whisper_pass

                wp = whisper_pass(self.ctx)
                shared, wave, t_wave = {SHARED_PASS: [wp.encode(s)]}, wp.wave(s), wp.start(s)
            else:
                shared = None
                t_wave, wave = s.padded_speech(self.expert.pad_s)
            t0 = time.perf_counter()
            if self.stats is not None:
                out = self.expert.predict_speaker([(wave, SAMPLE_RATE)], self.stats, shared=shared)
            else:
                out = self.expert.predict([(wave, SAMPLE_RATE)], shared=shared)
            self._time("voice", t0)
        except DataError as err:
            return ModalityResult.missing(f"voice unreadable: {err}", speech_prob=s.speech_prob)
        dur = len(s.audio) / SAMPLE_RATE
        quality = {"speech_prob": s.speech_prob, "duration_s": dur}
        # only experts that measure them report them (never a made-up 0)
        for key in ("voiced_fraction", "snr_db", "speaker_norm_weight", "speaker_utterances"):
            if key in out.info:
                quality[key] = float(out.info[key][0])
        reliability = s.speech_prob * min(1.0, dur / 1.0) * snr_factor(quality.get("snr_db"))
        res = ModalityResult.from_probs(out.ekman[0], reliability=reliability, expert=out.expert, quality=quality)
        if self.ctx.config.explain:  # the audio is dropped once read: explain it now
            from emofuse.analysis.evidence import voice_evidence

            t0 = time.perf_counter()
            res.evidence = voice_evidence(self.expert, wave, SAMPLE_RATE, t_wave,
                                          (t_speech, t_speech + len(speech) / SAMPLE_RATE), res.label)
            self._time("explain_voice", t0)
        return res

    def read(self, segs: list[Segment]) -> list[ModalityResult]:
        """One voice reading per segment."""
        return [self._one(s) for s in segs]
