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

from emofuse.experts.whisper_features import SHARED_PASS as _KEY
from emofuse.media.segment import Segment

__all__ = ["WhisperPass", "whisper_pass"]


class WhisperPass:
    """Encodes a segment's audio once; later callers get the cached pass.

    Args:
        encoder: A :class:`~emofuse.experts.whisper_features.WhisperEncoder`.
    """

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.seconds = 0.0

    def encode(self, seg: Segment) -> Any:
        """The :class:`~emofuse.experts.whisper_features.Encoded` pass over ``seg.audio``."""
        if _KEY not in seg.cache:
            t0 = time.perf_counter()
            seg.cache[_KEY] = self.encoder.encode([seg.audio])[0]
            self.seconds += time.perf_counter() - t0
        return seg.cache[_KEY]


def whisper_pass(ctx: Any) -> WhisperPass:
    """The recording's shared pass (built on first use; the voice expert's encoder when it has one)."""
    if _KEY not in ctx.shared:
        from emofuse.experts import EXPERTS

        cfg = ctx.config
        encoder = None
        if cfg.audio and ctx.has_audio and _KEY in EXPERTS.get(cfg.experts["audio"]).needs.shared:
            encoder = getattr(ctx.expert("audio"), "encoder", None)
        if encoder is None:
            from emofuse.experts.whisper_features import WhisperEncoder

            threads = ctx.resources.threads(cfg)
            encoder = ctx.resources.get((_KEY, threads), lambda: WhisperEncoder(threads=threads))
        ctx.shared[_KEY] = WhisperPass(encoder)
    return ctx.shared[_KEY]
