"""One Whisper encoder pass per segment, shared by speech recognition and the voice expert.

Whisper's encoder is the largest cost of analysing speech. When the voice expert reads
Whisper encoder states (it declares ``"whisper-encoder"`` in its
:class:`~emofuse.experts.base.ExpertNeeds`), the encoder runs once per segment and both the
voice path and the text path's speech recognition read the same
:class:`~emofuse.experts.whisper_features.Encoded` (kept in ``segment.cache`` until both are
done). Otherwise speech recognition gets an encoder of its own.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from emofuse.experts.whisper_features import SHARED_PASS as _KEY
from emofuse.media.segment import Segment

__all__ = ["WhisperPass", "whisper_pass"]

_PADDED = "padded-speech"  # segment.cache key of the padded wave


class WhisperPass:
    """Encodes a segment's audio once; later callers get the cached pass.

    The pass reads the segment's speech (its voice activity: a transcript cue with silence
    around the words reads like a voice-activity utterance) with ``pad_s`` of padding before
    and after it (the voice expert's :attr:`~emofuse.experts.base.Expert.pad_s`: it was trained
    on whole recorded files with room tone around the speech; the recording's own non-speech
    audio where the segment carries it, :meth:`Segment.padded_speech`, else digital silence) —
    less where the padding would push the audio into the next encoder window (:meth:`pad`);
    speech recognition reads the same padded audio, its word times shifted back by the padding.

    Args:
        encoder: A :class:`~emofuse.experts.whisper_features.WhisperEncoder`.
        pad_s: Padding added on each side, seconds.
    """

    def __init__(self, encoder: Any, pad_s: float = 0.0) -> None:
        self.encoder = encoder
        self.pad_s = float(pad_s)
        self.seconds = 0.0

    def pad(self, seg: Segment) -> float:
        """The padding used for ``seg``: ``pad_s``, less where it would push the audio into the next
        encoder window (a longer window costs the encoder and the decoder's attention twice over)."""
        audio = seg.speech_audio()[1]
        n = 0 if audio is None else len(audio)
        frames = getattr(self.encoder, "window_frames", 0)
        if not frames or self.pad_s <= 0:
            return self.pad_s
        win = frames * 160  # samples per encoder window (10 ms mel frames)
        room = (-(-max(n, 1) // win) * win - n) / 2 / 16000
        return max(0.0, min(self.pad_s, room)) if n < 30 * 16000 else 0.0

    def _padded(self, seg: Segment) -> tuple[float, np.ndarray]:
        if _PADDED not in seg.cache:  # built once per segment: encoder, voice path and explanations read it
            seg.cache[_PADDED] = seg.padded_speech(self.pad(seg))
        return seg.cache[_PADDED]

    def wave(self, seg: Segment) -> np.ndarray:
        """``(T,)`` the segment's speech with its padding (:meth:`Segment.padded_speech`: room tone
        where the segment carries its context, else digital silence), as encoded."""
        return self._padded(seg)[1]

    def start(self, seg: Segment) -> float:
        """Media time of the first sample of :meth:`wave`, seconds (may precede the segment)."""
        return self._padded(seg)[0]

    def encode(self, seg: Segment) -> Any:
        """The :class:`~emofuse.experts.whisper_features.Encoded` pass over :meth:`wave`."""
        if _KEY not in seg.cache:
            t0 = time.perf_counter()
            seg.cache[_KEY] = self.encoder.encode([self.wave(seg)])[0]
            self.seconds += time.perf_counter() - t0
        return seg.cache[_KEY]


def whisper_pass(ctx: Any) -> WhisperPass:
    """The recording's shared pass (built on first use; the voice expert's encoder when it has one)."""
    if _KEY not in ctx.shared:
        from emofuse.experts import EXPERTS

        cfg = ctx.config
        encoder, pad_s = None, 0.0
        if cfg.audio and ctx.has_audio and _KEY in EXPERTS.get(cfg.experts["audio"]).needs.shared:
            expert = ctx.expert("audio")
            encoder, pad_s = getattr(expert, "encoder", None), expert.pad_s
        if encoder is None:
            from emofuse.experts.whisper_features import WhisperEncoder

            threads = ctx.resources.threads(cfg)
            encoder = ctx.resources.get((_KEY, threads), lambda: WhisperEncoder(threads=threads))
        ctx.shared[_KEY] = WhisperPass(encoder, pad_s if encoder is not None else 0.0)
    return ctx.shared[_KEY]
