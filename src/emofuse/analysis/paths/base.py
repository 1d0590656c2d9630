"""The modality-path interface, the context paths are opened in, and their registry.

A **modality path** turns closed segments (:class:`~emofuse.media.segment.Segment`) into
that modality's :class:`~emofuse.analysis.result.ModalityResult` — the expert's calibrated
``ekman7`` distribution with a reliability, or the reason it is missing. Every path has the
same small interface, used identically by batch analysis (:func:`emofuse.analyze`) and live
analysis (:class:`~emofuse.analysis.session.AnalysisSession`):

* :meth:`ModalityPath.open` — given the recording's facts (:class:`PathContext`), a ready
  path, the reason this modality is missing for the whole recording, or ``None`` when the
  modality is not part of this analysis (no wearable signals given);
* :meth:`ModalityPath.feed_frame` — media that is not audio, as it arrives (video frames);
* :meth:`ModalityPath.submit` — a closed segment to read;
* :meth:`ModalityPath.ready` — the readings that can be given now (a face reading waits for
  the frames up to the segment's end; text from an untimed transcript waits for the end);
  ``ready(final=True)`` gives all of them.

A new modality is one module with one :func:`register_path`-decorated class; the session
opens every registered path, in :data:`~emofuse.modalities.MODALITIES` order.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from emofuse.analysis.config import AnalyzeConfig
from emofuse.analysis.result import ModalityResult
from emofuse.media.segment import Segment
from emofuse.modalities import MODALITIES
from emofuse.registry import Registry

__all__ = ["PATHS", "ModalityPath", "PathContext", "Resources", "list_paths", "register_path"]


class Resources:
    """Experts and models loaded once per process and shared by every analysis (memory stays flat).

    Loading is lazy: only the paths that run load theirs.
    """

    def __init__(self) -> None:
        self._experts: dict[tuple[str, int, str | None], Any] = {}
        self._other: dict[tuple[Any, ...], Any] = {}

    @staticmethod
    def threads(cfg: AnalyzeConfig) -> int:
        """Compute threads for experts and Whisper (``cfg.threads``, else all cores up to 4)."""
        return cfg.threads or min(4, os.cpu_count() or 1)

    def expert(self, name: str, cfg: AnalyzeConfig, weights: str | None = None) -> Any:
        """The registered expert ``name`` with its shipped weights or those in ``weights``.

        Threads as its ``needs`` say; one instance per (name, threads, weights) in the process.
        """
        from emofuse.experts import EXPERTS, load_expert

        needs = EXPERTS.get(name).needs
        threads = self.threads(cfg) if needs.threads else 0
        key = (name, threads, weights)
        if key not in self._experts:
            self._experts[key] = load_expert(name, weights, **({"threads": threads} if needs.threads else {}))
        return self._experts[key]

    def get(self, key: tuple[Any, ...], build: Any) -> Any:
        """A shared object (a Whisper transcriber, a face detector) built once by ``build()``."""
        if key not in self._other:
            self._other[key] = build()
        return self._other[key]


#: The process-wide resources used unless a session is given its own.
RESOURCES = Resources()


@dataclass
class PathContext:
    """What a path may know about the recording when it is opened.

    Attributes:
        config: The analysis settings.
        has_audio: The recording has an audio track.
        has_video: The recording has a video stream that will be decoded (frames will come).
        video_skipped: Why a video stream is not decoded (e.g. over the pixel limit), if so.
        mode: The segmentation in use (``"transcript"``, ``"vad"``, ``"window"``).
        timed_text: Segments come with their words (timed transcript cues).
        untimed_text: Words arrive only at the end (an untimed transcript spread over speech).
        physio: A whole physiological recording (:class:`~emofuse.media.physio.PhysioRecording`), if given.
        physio_live: Physiological signals will be fed in chunks (live).
        resources: Shared experts and models.
        shared: Per-recording objects paths share (e.g. one Whisper encoder pass per segment).
        warnings: Where a path records what the user should know.
    """

    config: AnalyzeConfig
    has_audio: bool
    has_video: bool
    mode: str
    video_skipped: str | None = None
    timed_text: bool = False
    untimed_text: bool = False
    physio: Any = None
    physio_live: bool = False
    resources: Resources = field(default_factory=lambda: RESOURCES)
    shared: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def expert(self, modality: str) -> Any:
        """The configured expert of ``modality``, loaded once per process."""
        return self.resources.expert(self.config.experts[modality], self.config,
                                     self.config.expert_weights.get(modality))


class ModalityPath(ABC):
    """One modality's reading of closed segments (see the module docstring).

    Subclasses set :attr:`modality`, implement :meth:`open` and :meth:`read`, and override
    :meth:`can_read` when a reading must wait. :attr:`timings` collects seconds per stage.
    """

    modality: ClassVar[str]
    #: Reads a segment's waveform (or its shared encoder pass): they are dropped once every such path is done.
    uses_audio: ClassVar[bool] = True
    #: Seconds of the recording's non-speech audio wanted on each side of a segment (``Segment.context``).
    context_s: float = 0.0

    def __init__(self) -> None:
        self._queue: list[Segment] = []
        self.timings: dict[str, float] = {}

    @classmethod
    @abstractmethod
    def open(cls, ctx: PathContext) -> ModalityPath | str | None:
        """A path for this recording, the reason the modality is missing for all of it, or ``None``.

        ``None``: the modality is not part of this analysis at all (nothing was given for it,
        e.g. no wearable signals), so results carry no column for it rather than a missing one.
        """

    @abstractmethod
    def read(self, segs: list[Segment]) -> list[ModalityResult]:
        """Read closed segments (a batch, in order); one result each, missing ones with their reason."""

    def can_read(self, seg: Segment) -> bool:
        """Whether ``seg`` can be read now (default: yes)."""
        return True

    def feed_frame(self, t: float, rgb: Any, scale: float = 1.0) -> None:  # noqa: B027 - optional hook
        """A sampled video frame (``(H, W, 3)`` uint8 RGB at ``t`` seconds); ignored by default."""

    def submit(self, seg: Segment) -> None:
        """Queue a closed segment."""
        self._queue.append(seg)

    def ready(self, final: bool = False) -> list[tuple[Segment, ModalityResult]]:
        """Readings that can be given now, in submission order (all of them when ``final``)."""
        now = [s for s in self._queue if final or self.can_read(s)]
        if not now:
            return []
        self._queue = [s for s in self._queue if s not in now]
        return list(zip(now, self.read(now), strict=True))

    def finish(self) -> dict[str, Any]:
        """End of the recording: extras for the result (default none)."""
        return {}

    def _time(self, key: str, t0: float) -> None:
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0


PATHS: Registry[type[ModalityPath]] = Registry("modality path")


def register_path(cls: type[ModalityPath]) -> type[ModalityPath]:
    """Class decorator: register a :class:`ModalityPath` under its modality."""
    if getattr(cls, "modality", None) not in MODALITIES:
        raise ValueError(f"path {cls.__name__}: modality must be one of {MODALITIES}")
    return PATHS.add(cls.modality, cls)


def list_paths() -> list[str]:
    """Modalities with a registered path, in :data:`~emofuse.modalities.MODALITIES` order."""
    return [m for m in MODALITIES if m in PATHS]
