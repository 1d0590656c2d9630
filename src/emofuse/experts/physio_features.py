"""Window features of wrist physiology, computed with NeuroKit2: heart rate and HRV, EDA, temperature, motion.

Each signal is processed **once** over the stretch available (NeuroKit2's cleaning, pulse-peak
detection on BVP, high-pass phasic/tonic split and SCR peaks on EDA), then summarised over
sliding windows (:func:`window_features`, default 60 s); batch files and live buffers go the
same way. Features of a signal the recording lacks, or of a window with too little of it, are
NaN; :data:`GROUPS` says which features belong to which signal.

Per-wearer normalisation (:func:`reference_stats`, :func:`normalise`): physiology differs
between people far more than between one person's states, so features are z-scored against the
wearer's own reference — a known baseline stretch when there is one, else the recording's own
distribution (robust median / IQR), which is an estimate (a recording that is stressful
throughout looks like a normal one).

Units: heart rate in beats/min, HRV in ms, EDA in µS (slopes µS/min), SCR rate per minute,
temperature in °C (slope °C/min), acceleration magnitude in g.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from emofuse.errors import DataError
from emofuse.media.physio import Signal

__all__ = ["FEATURES", "GROUPS", "Processed", "normalise", "process", "reference_stats", "window_features"]

#: Feature names per signal group, in column order.
GROUPS: dict[str, tuple[str, ...]] = {
    "bvp": ("hr_mean", "hr_std", "hr_slope", "ibi_sdnn", "ibi_rmssd", "ibi_pnn50", "bvp_amp"),
    "eda": ("eda_mean", "eda_std", "eda_slope", "eda_range", "scl_mean", "phasic_std", "scr_rate",
            "scr_amp_mean", "scr_amp_sum"),
    "temp": ("temp_mean", "temp_std", "temp_slope"),
    "acc": ("acc_mean", "acc_std", "acc_motion"),
}
#: All feature names, column order of :func:`window_features`.
FEATURES: tuple[str, ...] = tuple(f for g in GROUPS.values() for f in g)
_MIN_BEATS = 10  # fewer valid inter-beat intervals in a window: no HRV
_IBI_RANGE = (0.33, 1.5)  # seconds: 40-180 beats/min


@dataclass
class Processed:
    """One stretch of signals after NeuroKit2's processing (times in seconds on the recording clock).

    Attributes:
        beats: ``(B,)`` pulse-peak times (BVP or ECG R-peaks).
        beat_amp: ``(B,)`` pulse amplitudes at those peaks (cleaned signal).
        eda_t: ``(E,)`` EDA sample times; ``eda``, ``tonic``, ``phasic`` the cleaned signal and its parts (µS).
        scr_t: ``(S,)`` skin-conductance-response peak times; ``scr_amp`` their amplitudes (µS).
        temp_t / temp: temperature samples (°C).
        acc_t / acc: acceleration magnitude (g).
        spans: Per signal group, the ``(start, end)`` it covers.
        valid: Per signal group, ``(times, finite)``: which samples were measured (NaN gaps are
            filled for NeuroKit2's filters, but nothing is computed from the filled stretches).
    """

    beats: np.ndarray = field(default_factory=lambda: np.zeros(0))
    beat_amp: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eda_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    eda: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tonic: np.ndarray = field(default_factory=lambda: np.zeros(0))
    phasic: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scr_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scr_amp: np.ndarray = field(default_factory=lambda: np.zeros(0))
    temp_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    temp: np.ndarray = field(default_factory=lambda: np.zeros(0))
    acc_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    acc: np.ndarray = field(default_factory=lambda: np.zeros(0))
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    valid: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _times(s: Signal) -> np.ndarray:
    return s.start + np.arange(len(s.data)) / s.rate


def _fill(x: np.ndarray) -> np.ndarray:
    """NaN gaps filled by linear interpolation (NeuroKit2's filters need finite input)."""
    x = np.asarray(x, np.float64).copy()
    bad = ~np.isfinite(x)
    if bad.any() and (~bad).sum() >= 2:
        idx = np.arange(len(x))
        x[bad] = np.interp(idx[bad], idx[~bad], x[~bad])
    return x


def process(signals: dict[str, Signal]) -> Processed:
    """Run NeuroKit2 over each signal once.

    Args:
        signals: Canonical name → :class:`~emofuse.media.physio.Signal` (``bvp`` or ``ecg``,
            ``eda``, ``temp``, ``acc``; any subset).

    Raises:
        ImportError: NeuroKit2 is not installed (``pip install 'emofuse[physio]'``).
    """
    try:
        import neurokit2 as nk
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("physiological features need NeuroKit2: pip install 'emofuse[physio]'") from err
    p = Processed()
    with warnings.catch_warnings():  # NeuroKit2 warns about 4 Hz EDA (no filtering needed there) and short stretches
        warnings.simplefilter("ignore")
        pulse = signals.get("bvp") or signals.get("ecg")
        if pulse is not None and len(pulse.data) >= 4 * pulse.rate:
            x = _fill(pulse.data)
            gaps = ~np.isfinite(np.asarray(pulse.data, np.float64))
            if pulse.name == "bvp":
                clean = nk.ppg_clean(x, sampling_rate=int(round(pulse.rate)))
                peaks = np.asarray(nk.ppg_findpeaks(clean, sampling_rate=int(round(pulse.rate)))["PPG_Peaks"], int)
            else:
                clean = nk.ecg_clean(x, sampling_rate=int(round(pulse.rate)))
                peaks = np.asarray(nk.ecg_peaks(clean, sampling_rate=int(round(pulse.rate)))[1]["ECG_R_Peaks"], int)
            peaks = peaks[~gaps[peaks]] if len(peaks) else peaks  # no beats inside filled gaps
            p.beats = pulse.start + peaks / pulse.rate
            p.beat_amp = np.asarray(clean, np.float64)[peaks] if len(peaks) else np.zeros(0)
            p.spans["bvp"] = (pulse.start, pulse.end)
            p.valid["bvp"] = (_times(pulse), ~gaps)
        eda = signals.get("eda")
        if eda is not None and len(eda.data) >= 8 * eda.rate:
            x = _fill(eda.data)
            gaps = ~np.isfinite(np.asarray(eda.data, np.float64))
            clean = np.asarray(nk.eda_clean(x, sampling_rate=int(round(eda.rate))), np.float64)
            parts = nk.eda_phasic(clean, sampling_rate=int(round(eda.rate)), method="highpass")
            phasic = np.asarray(parts["EDA_Phasic"], np.float64)
            info = nk.eda_peaks(phasic, sampling_rate=int(round(eda.rate)))[1]
            pk = np.asarray(info["SCR_Peaks"], int)
            amp = np.asarray(info["SCR_Amplitude"], np.float64)
            ok = np.isfinite(amp) & ~gaps[pk] if len(pk) else np.zeros(0, bool)
            p.scr_t, p.scr_amp = eda.start + pk[ok] / eda.rate, amp[ok]
            p.eda_t = _times(eda)
            # filled stretches were only there for the filters: nothing is measured from them
            p.eda, p.phasic = np.where(gaps, np.nan, clean), np.where(gaps, np.nan, phasic)
            p.tonic = np.where(gaps, np.nan, np.asarray(parts["EDA_Tonic"], np.float64))
            p.spans["eda"] = (eda.start, eda.end)
            p.valid["eda"] = (p.eda_t, ~gaps)
        temp = signals.get("temp")
        if temp is not None and len(temp.data):
            p.temp_t, p.temp = _times(temp), np.asarray(temp.data, np.float64)
            p.spans["temp"] = (temp.start, temp.end)
            p.valid["temp"] = (p.temp_t, np.isfinite(p.temp))
        acc = signals.get("acc")
        if acc is not None and len(acc.data):
            p.acc_t, p.acc = _times(acc), np.linalg.norm(np.asarray(acc.data, np.float64), axis=1)
            p.spans["acc"] = (acc.start, acc.end)
            p.valid["acc"] = (p.acc_t, np.isfinite(p.acc))
    return p


def _slope(t: np.ndarray, x: np.ndarray) -> float:
    """Least-squares slope per minute."""
    ok = np.isfinite(x)
    if ok.sum() < 3 or np.ptp(t[ok]) <= 0:
        return np.nan
    return float(np.polyfit(t[ok], x[ok], 1)[0] * 60.0)


def _between(t: np.ndarray, t0: float, t1: float) -> slice:
    return slice(int(np.searchsorted(t, t0, "left")), int(np.searchsorted(t, t1, "left")))


def _coverage(p: Processed, group: str, t0: float, t1: float) -> float:
    """Share of ``[t0, t1)`` covered by measured (finite) samples of the group's signal."""
    if group not in p.spans:
        return 0.0
    a, b = p.spans[group]
    span = max(0.0, min(b, t1) - max(a, t0)) / (t1 - t0)
    if span <= 0 or group not in p.valid:
        return span
    t, ok = p.valid[group]
    sl = _between(t, t0, t1)
    return span * float(ok[sl].mean()) if sl.stop > sl.start else 0.0


def window_features(p: Processed, ends: np.ndarray, window_s: float = 60.0,
                    min_coverage: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Features of the windows ``[end − window_s, end)``.

    Args:
        p: :func:`process` output.
        ends: ``(W,)`` window end times, seconds.
        window_s: Window length, seconds.
        min_coverage: A signal covering less of a window than this gives NaN features there.

    Returns:
        ``(X, coverage)``: ``(W, len(FEATURES))`` float32 features (NaN where missing) and
        ``(W, len(GROUPS))`` float32 fraction of each window each signal group covers (valid samples).
    """
    ends = np.asarray(ends, np.float64).reshape(-1)
    if window_s <= 0:
        raise DataError(f"physio window must be positive, got {window_s}")
    X = np.full((len(ends), len(FEATURES)), np.nan, np.float64)
    cov = np.zeros((len(ends), len(GROUPS)), np.float64)
    col = {f: i for i, f in enumerate(FEATURES)}
    for w, t1 in enumerate(ends):
        t0 = t1 - window_s
        for g_i, g in enumerate(GROUPS):
            cov[w, g_i] = _coverage(p, g, t0, t1)
        row = X[w]
        if cov[w, 0] >= min_coverage:
            sl = _between(p.beats, t0, t1)
            bt, amp = p.beats[sl], p.beat_amp[sl]
            ibi = np.diff(bt)
            ok = (ibi >= _IBI_RANGE[0]) & (ibi <= _IBI_RANGE[1])
            if ok.sum() >= 3:
                med = np.median(ibi[ok])
                ok &= np.abs(ibi - med) <= 0.3 * med  # missed or extra beats
            cov[w, 0] *= min(1.0, ok.sum() * float(np.median(ibi[ok])) / window_s) if ok.sum() else 0.0
            if ok.sum() >= _MIN_BEATS and cov[w, 0] >= min_coverage:
                good = ibi[ok]
                hr = 60.0 / good
                succ = ok[1:] & ok[:-1]  # successive differences only between valid neighbours
                d = np.diff(ibi)[succ]
                row[col["hr_mean"]], row[col["hr_std"]] = hr.mean(), hr.std()
                row[col["hr_slope"]] = _slope(bt[1:][ok], hr)
                row[col["ibi_sdnn"]] = good.std() * 1000.0
                row[col["ibi_rmssd"]] = np.sqrt(np.mean(d**2)) * 1000.0 if len(d) else np.nan
                row[col["ibi_pnn50"]] = np.mean(np.abs(d) > 0.05) if len(d) else np.nan
                row[col["bvp_amp"]] = np.std(amp)
        if cov[w, 1] >= min_coverage:
            sl = _between(p.eda_t, t0, t1)
            t, x = p.eda_t[sl], p.eda[sl]
            if len(x) >= 4:
                row[col["eda_mean"]], row[col["eda_std"]] = np.nanmean(x), np.nanstd(x)
                row[col["eda_slope"]], row[col["eda_range"]] = _slope(t, x), np.nanmax(x) - np.nanmin(x)
                row[col["scl_mean"]], row[col["phasic_std"]] = np.nanmean(p.tonic[sl]), np.nanstd(p.phasic[sl])
                s = _between(p.scr_t, t0, t1)
                amps = p.scr_amp[s]
                row[col["scr_rate"]] = len(amps) / (window_s / 60.0)
                row[col["scr_amp_mean"]] = amps.mean() if len(amps) else 0.0
                row[col["scr_amp_sum"]] = amps.sum()
        if cov[w, 2] >= min_coverage:
            sl = _between(p.temp_t, t0, t1)
            if sl.stop - sl.start >= 3:
                x = p.temp[sl]
                row[col["temp_mean"]], row[col["temp_std"]] = np.nanmean(x), np.nanstd(x)
                row[col["temp_slope"]] = _slope(p.temp_t[sl], x)
        if cov[w, 3] >= min_coverage:
            sl = _between(p.acc_t, t0, t1)
            if sl.stop - sl.start >= 3:
                x = p.acc[sl]
                row[col["acc_mean"]], row[col["acc_std"]] = np.nanmean(x), np.nanstd(x)
                row[col["acc_motion"]] = np.nanmean(np.abs(np.diff(x)))
    return X.astype(np.float32), cov.astype(np.float32)


def reference_stats(X: np.ndarray, robust: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature centre and scale of a wearer's reference windows ``(W, F)`` (NaN ignored).

    ``robust``: median and IQR/1.349 (a recording's own distribution, which holds every state);
    else mean and standard deviation (a known baseline stretch). Scales never fall below a small
    floor, and a feature with no finite value gets centre 0, scale 1.
    """
    X = np.asarray(X, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        if robust:
            centre = np.nanmedian(X, 0)
            q75, q25 = np.nanpercentile(X, 75, 0), np.nanpercentile(X, 25, 0)
            scale = (q75 - q25) / 1.349
        else:
            centre, scale = np.nanmean(X, 0), np.nanstd(X, 0)
    centre = np.where(np.isfinite(centre), centre, 0.0)
    floor = np.maximum(1e-3, 0.05 * np.abs(centre))
    scale = np.where(np.isfinite(scale) & (scale > floor), scale, floor)
    return centre.astype(np.float32), scale.astype(np.float32)


def normalise(X: np.ndarray, reference: tuple[np.ndarray, np.ndarray], clip: float = 6.0) -> np.ndarray:
    """``(X − centre) / scale`` clipped to ``±clip``; NaN (missing) stays NaN."""
    centre, scale = reference
    Z = (np.asarray(X, np.float64) - centre) / scale
    return np.clip(Z, -clip, clip).astype(np.float32)
