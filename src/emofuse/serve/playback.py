"""A recording played into the live analysis as if it were live (``emofuse live --realtime FILE``).

The file is decoded in 0.25 s audio chunks and frames at ``fps`` (:func:`~emofuse.media.stream.stream_media`),
paced by the media's own clock (``speed`` times faster when asked), and fed to a
:class:`~emofuse.serve.rolling.LiveAnalysis` — the object a ``/live`` WebSocket connection drives —
so what comes out is what a live client would receive: each segment as it closes and a rolling
estimate every ``interval`` seconds of media, each with the time it took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from emofuse.analysis import AnalyzeConfig
from emofuse.serve.rolling import LiveAnalysis, segment_dict

__all__ = ["replay"]


def replay(path: str | Path, config: AnalyzeConfig, *, speed: float = 1.0, interval: float = 0.5,
           resources: Any = None) -> Iterator[tuple[str, dict[str, Any], float]]:
    """Play ``path`` into a live analysis; yield ``(kind, message, seconds)`` as a live client would get them.

    ``kind`` is ``"segment"`` (a closed segment, as ``/live`` sends it), ``"rolling"`` (the
    rolling estimate) or, last, ``"end"`` (``{"result": AnalysisResult}``); ``seconds`` is the
    processing time of that answer.

    Raises:
        MissingFileError / DataError: The file cannot be read (from the probe).
        ConfigError: ``speed`` or ``interval`` not positive.
    """
    from emofuse.errors import ConfigError
    from emofuse.media.stream import AudioChunk, VideoSample, probe, stream_media

    if not (speed > 0 and interval > 0):
        raise ConfigError("live: speed and interval must be positive")
    info = probe(path, max_bytes=config.max_bytes, max_pixels=config.max_pixels)
    video = bool(info.has_video and not info.skip_video)
    live = LiveAnalysis(config, audio=info.has_audio, video=video, physio=False, resources=resources,
                        max_duration_s=max(float(info.duration), 1.0) + 60.0)
    t0, next_roll = time.perf_counter(), interval
    for item in stream_media(info, audio=info.has_audio, video=video, sample_rate=16000, chunk_s=0.25,
                             fps=config.fps, max_side=config.max_side):
        if isinstance(item, AudioChunk):
            t_media = item.start + len(item.samples) / 16000
        elif isinstance(item, VideoSample):
            t_media = item.t
        else:
            continue  # damage skipped / stream broken: the live analysis carries on with what comes
        time.sleep(max(0.0, t0 + t_media / speed - time.perf_counter()))  # the media's own pace
        tick = time.perf_counter()
        done = (live.feed_audio(item.samples.astype("<f4").tobytes(), "f32") if isinstance(item, AudioChunk)
                else live.feed_rgb(item.t, item.rgb, item.scale))
        for seg in done:
            yield "segment", segment_dict(seg), time.perf_counter() - tick
        if t_media >= next_roll:
            tick = time.perf_counter()
            est = live.rolling()
            if est is not None:
                yield "rolling", est, time.perf_counter() - tick
            next_roll = t_media + interval
    tick = time.perf_counter()
    out, result = live.close()
    for seg in out:
        yield "segment", segment_dict(seg), time.perf_counter() - tick
    yield "end", {"result": result}, time.perf_counter() - tick
