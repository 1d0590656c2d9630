"""The physiological path: wearable signals on the media clock → the physio expert, one reading per segment.

Physiology answers slowly (heart rate and skin conductance take seconds to tens of seconds to
follow a change of state), so a segment is read over the expert's window *ending at the
segment's end* (60 s for ``physio-wesad``), not over the segment alone: a 3 s utterance gets
the wearer's state over the minute up to its end. A segment is read when the signals cover at
least half of that window (BVP or EDA); otherwise its physio reading is missing with the
reason, so short recordings and the first half minute give none.

Signals arrive whole (a file given to ``emofuse analyze --physio``, aligned with
``physio_offset_s``: the media time of the signals' time 0) or in chunks (:meth:`PhysioPath.feed`,
live). Batch recordings are processed by NeuroKit2 once; live buffers over their last
:data:`LIVE_KEEP_S` seconds at each reading. The wearer's reference (per-wearer normalisation)
is the whole recording's, or the live buffer's so far — with a lower reliability while it is
short (the expert's card). Reliability: the expert's (coverage × reference quality × motion).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from emofuse.analysis.paths.base import ModalityPath, PathContext, register_path
from emofuse.analysis.result import ModalityResult
from emofuse.errors import DataError
from emofuse.media.physio import PhysioRecording, Signal, check_signal
from emofuse.media.segment import Segment

__all__ = ["LIVE_KEEP_S", "MAX_LAG_S", "PhysioPath"]

#: Seconds of live signal kept (and used for the wearer's reference).
LIVE_KEEP_S = 30 * 60.0
#: Live: how far (s) the media may run ahead of the signals before a segment is read without waiting for them.
MAX_LAG_S = 10.0
_MIN_COVER = 0.5


@register_path
class PhysioPath(ModalityPath):
    """Wearable signals → ``physio-wesad`` (or the configured physio expert)."""

    modality = "physio"
    uses_audio = False

    def __init__(self, ctx: PathContext, recording: PhysioRecording | None) -> None:
        super().__init__()
        self.ctx = ctx
        self.expert = ctx.expert("physio")
        self.live = recording is None
        self.rec = recording or PhysioRecording({}, source="<live>")
        self._processed: Any = None
        self._reference: Any = None
        self._horizon = -np.inf if self.live else float(self.rec.end)

    @classmethod
    def open(cls, ctx: PathContext) -> ModalityPath | str | None:
        """Open when signals were given (or will be fed live) and the path is on; ``None`` without signals."""
        if ctx.physio is None and not ctx.physio_live:
            return None  # no wearable: no physio column at all
        if not ctx.config.physio:
            return "physio path turned off"
        rec = ctx.physio
        if rec is not None:
            ctx.warnings.extend(rec.warnings)
            if ctx.config.physio_offset_s:
                rec = rec.shifted(float(ctx.config.physio_offset_s))
        return cls(ctx, rec)

    # ------------------------------------------------------------------ live input

    def feed(self, name: str, start: float, samples: np.ndarray, rate: float) -> None:
        """Append a chunk of one signal (live): ``samples`` at ``rate`` Hz from ``start`` s (media clock).

        A chunk that does not continue the signal where it ended (a gap or an overlap) starts
        it again at ``start``, after the gap is filled with NaN (gaps up to 10 minutes).

        Raises:
            DataError: A bad signal (unknown name, rate, unit, shape; see :func:`~emofuse.media.physio.check_signal`).
        """
        x = np.asarray(samples, np.float64)
        chunk = Signal(name, x, float(rate), float(start))
        check_signal(chunk, "live signal")
        old = self.rec.signals.get(name)
        if old is not None:
            if abs(old.rate - chunk.rate) > 1e-6:
                raise DataError(f"live signal {name}: rate changed from {old.rate:g} to {chunk.rate:g} Hz")
            gap = int(round((chunk.start - old.end) * old.rate))
            if 0 <= gap <= 600 * old.rate:
                fill = np.full((gap, *x.shape[1:]), np.nan)
                x = np.concatenate([old.data, fill, x])
                chunk = Signal(name, x, old.rate, old.start)
        keep = int(LIVE_KEEP_S * chunk.rate)
        if len(chunk.data) > keep:
            cut = len(chunk.data) - keep
            chunk = Signal(name, chunk.data[cut:], chunk.rate, chunk.start + cut / chunk.rate)
        self.rec.signals[name] = chunk
        self._horizon = max(self._horizon, chunk.end)

    # ------------------------------------------------------------------ reading

    def can_read(self, seg: Segment) -> bool:
        """A live segment waits until the signals reach its end — at most :data:`MAX_LAG_S` behind the media.

        A wearable stream that lags or stops never holds the other modalities' readings back for long.
        """
        if not self.live or self._horizon >= seg.end:
            return True
        return float(self.ctx.shared.get("media_end", -np.inf)) >= seg.end + MAX_LAG_S

    def _state(self) -> tuple[Any, Any]:
        from emofuse.experts.physio import recording_reference
        from emofuse.experts.physio_features import process

        if self.live or self._processed is None:
            t0 = time.perf_counter()
            self._processed = process(self.rec.signals)
            self._reference = recording_reference(self.rec, window_s=self.expert.window_s, processed=self._processed)
            self._time("physio_features", t0)
        return self._processed, self._reference

    def read(self, segs: list[Segment]) -> list[ModalityResult]:
        """One physio reading per segment (over the window ending at the segment's end)."""
        from emofuse.experts.physio import GROUP_NAMES, PhysioWindow
        from emofuse.experts.physio_features import window_features

        if not self.rec.signals:
            return [ModalityResult.missing("no physiological signal received") for _ in segs]
        proc, ref = self._state()
        w = self.expert.window_s
        ends = np.asarray([s.end for s in segs], np.float64)
        X, cov = window_features(proc, ends, w)
        out: list[ModalityResult] = []
        main = [GROUP_NAMES.index("bvp"), GROUP_NAMES.index("eda")]
        ok = [i for i in range(len(segs)) if cov[i, main].max() >= _MIN_COVER and np.isfinite(X[i]).any()]
        pred = None
        if ok:
            t0 = time.perf_counter()
            pred = self.expert.predict([PhysioWindow(X[i], cov[i], ref[0], float(ref[1]), float(ends[i])) for i in ok])
            self._time("physio", t0)
        row = {i: k for k, i in enumerate(ok)}
        for i in range(len(segs)):
            if i not in row:
                have = float(cov[i, main].max()) * w
                out.append(ModalityResult.missing(
                    f"too little physiological signal before this segment ({have:.0f} s of the {w:.0f} s window; "
                    f"needs {w * _MIN_COVER:.0f} s of BVP or EDA)"))
                continue
            k = row[i]
            info = pred.info
            quality = {"coverage_bvp": float(cov[i, GROUP_NAMES.index("bvp")]),
                       "coverage_eda": float(cov[i, GROUP_NAMES.index("eda")]),
                       "motion": float(info["motion"][k]), "p_stress": float(info["p_stress"][k]),
                       "arousal": float(info["arousal"][k]), "valence": float(info["valence"][k]),
                       "reference_min": float(ref[1]), "window_s": w}
            native = {c: float(v) for c, v in zip(pred.classes, pred.probs[k], strict=True)}
            out.append(ModalityResult.from_probs(pred.ekman[k], reliability=float(info["reliability"][k]),
                                                 expert=pred.expert, quality=quality, native=native))
        return out

    def finish(self) -> dict[str, Any]:
        """The recording's signals (rate, start on the media clock, duration), for the result's media facts."""
        return {"signals": {n: {"rate_hz": s.rate, "start_s": round(s.start, 3), "duration_s": round(s.duration, 3)}
                            for n, s in self.rec.signals.items()}}
