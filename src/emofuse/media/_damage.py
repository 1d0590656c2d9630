"""Damaged stretches met while decoding (:func:`~emofuse.media.stream.stream_media`): where, and what was lost.

A packet that does not decode is skipped and decoding goes on; the streams' timestamps then say
what was lost: an audio frame that starts later than the previous one ended is audio lost
(:data:`AUDIO_GAP_S`), a pause between video frames near damage is video frames lost
(:data:`VIDEO_GAP_PERIODS`). Frame threading delays video frames behind the packets, so "near"
is judged on media time, not on packet order.

Example:
    >>> d = Damage(None, 0.0)
    >>> d.lost_audio(2.6, 3.2)
    >>> d.video_pause(2.5, 4.3, 0.1)
    >>> [m for m, _, _ in d.events()]
    ['decoding skipped 0.6 s of damaged audio at 2.6–3.2 s (filled with silence)', 'decoding skipped 17 damaged video frames at 2.6–4.3 s']
"""  # noqa: E501

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AUDIO_GAP_S", "VIDEO_GAP_PERIODS", "Damage"]

#: A jump of audio timestamps longer than this (seconds) is audio lost (filled with silence, reported).
AUDIO_GAP_S = 0.05
#: After damage, a pause between decoded video frames longer than this many frame periods is frames lost.
VIDEO_GAP_PERIODS = 1.5
#: A pause between video frames is put down to damage seen within this many seconds of it.
NEAR_S = 1.0
#: Stretches named in a message (the rest are counted).
SHOWN = 5

#: An event: (message, time of the first stretch, (start, end) seconds of each stretch).
Event = tuple[str, float, tuple[tuple[float, float], ...]]


@dataclass
class _Skipped:
    """The stretches of one stream lost to damage, merged, and how much was lost."""

    what: str  # "audio" or "video"
    spans: list[tuple[float, float]] = field(default_factory=list)
    amount: float = 0.0  # seconds of audio, or video frames
    failed: int = 0  # packets that did not decode
    failed_t: float | None = None  # time of the first of them

    def add(self, t0: float, t1: float, amount: float) -> None:
        if self.spans and t0 <= self.spans[-1][1] + 0.5:
            self.spans[-1] = (self.spans[-1][0], max(self.spans[-1][1], t1))
        else:
            self.spans.append((t0, t1))
        self.amount += amount

    def event(self) -> Event | None:
        if not self.spans:
            if not self.failed:
                return None
            t = round(self.failed_t or 0.0, 3)
            return (f"decoding skipped {self.failed} damaged {self.what} packet{'s' if self.failed > 1 else ''} "
                    f"from {t:.1f} s", t, ((t, t),))
        lost = (f"{self.amount:.1f} s of damaged audio" if self.what == "audio"
                else f"{int(self.amount)} damaged video frame{'s' if self.amount != 1 else ''}")
        where = ", ".join(f"{a:.1f}–{b:.1f} s" for a, b in self.spans[:SHOWN])
        if len(self.spans) > SHOWN:
            where += f" and {len(self.spans) - SHOWN} more"
        where = f"at {where}" if len(self.spans) == 1 else f"in {len(self.spans)} stretches: {where}"
        fill = " (filled with silence)" if self.what == "audio" else ""
        spans = tuple((round(a, 3), round(b, 3)) for a, b in self.spans)
        return f"decoding skipped {lost} {where}{fill}", spans[0][0], spans


class Damage:
    """Where damage was seen while decoding one file, and what each stream lost to it.

    Args:
        av: The PyAV module (its error classes are caught).
        c_t0: The container's start time, seconds (media times are measured from it).
    """

    def __init__(self, av: Any, c_t0: float) -> None:
        self.av, self.c_t0 = av, c_t0
        # media times of corrupt packets, packets that did not decode and audio timestamp jumps (merged)
        self.marks: list[tuple[float, float]] = []
        self.lost = {"audio": _Skipped("audio"), "video": _Skipped("video")}

    def _mark(self, t0: float, t1: float) -> None:
        if self.marks and t0 <= self.marks[-1][1] + NEAR_S:
            self.marks[-1] = (min(self.marks[-1][0], t0), max(self.marks[-1][1], t1))
        else:
            self.marks.append((t0, t1))

    def decode(self, packet: Any) -> list[Any]:
        """The packet's frames; a packet that does not decode is skipped (counted) and decoding goes on."""
        pt = None
        if packet.pts is not None and packet.time_base is not None:
            pt = max(0.0, float(packet.pts * packet.time_base) - self.c_t0)
        if packet.is_corrupt and pt is not None:
            self._mark(pt, pt)
        try:
            return packet.decode()
        except (self.av.error.FFmpegError, ValueError):
            rec = self.lost[packet.stream.type]
            rec.failed += 1
            if pt is not None:
                self._mark(pt, pt)
                rec.failed_t = pt if rec.failed_t is None else rec.failed_t
            return []

    def lost_audio(self, t0: float, t1: float) -> None:
        """Audio timestamps jumped from ``t0`` to ``t1`` seconds."""
        self._mark(t0, t1)
        self.lost["audio"].add(t0, t1, t1 - t0)

    def video_pause(self, last: float, t: float, period: float) -> None:
        """The video frame after the one at ``last`` came at ``t`` seconds: frames lost if damage was near."""
        if period <= 0 or t - last <= VIDEO_GAP_PERIODS * period:
            return
        for a, b in reversed(self.marks):
            if b < last - NEAR_S:
                return
            if a <= t + NEAR_S:
                self.lost["video"].add(last + period, t, max(1, round((t - last) / period) - 1))
                return

    def events(self) -> list[Event]:
        """What each stream lost: one ``(message, t, spans)`` per stream that lost something."""
        return [ev for rec in self.lost.values() if (ev := rec.event()) is not None]
