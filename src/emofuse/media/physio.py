"""Physiological recordings from wearables: signals with their own rates on one clock, checked on the way in.

A :class:`PhysioRecording` holds named :class:`Signal` s — each a ``(N,)`` (or ``(N, 3)`` for
acceleration) array sampled at its own rate, starting at its own time on the recording clock
(seconds). Names are canonical (:data:`SIGNALS`): ``bvp`` (blood volume pulse, arbitrary
units), ``eda`` (electrodermal activity, µS), ``temp`` (skin temperature, °C), ``acc``
(acceleration, g), ``ecg`` (mV), ``resp`` (respiration, arbitrary units).

:func:`check_signal` is applied to every signal a reader returns: rates too low for what the
signal carries, implausible values that betray another unit (EDA in Ω or kΩ, temperature in
°F, acceleration in the E4's 1/64 g), NaN stretches and clipping are refused with a clear error
or reported as warnings on the recording. Readers of files live in :mod:`emofuse.media.physio_io`.

Example:
    >>> import numpy as np
    >>> rec = PhysioRecording({"eda": Signal("eda", np.full(4 * 120, 2.0), 4.0)}, source="demo")
    >>> rec.duration, sorted(rec.window(10.0, 20.0))
    (120.0, ['eda'])
    >>> rec.window(10.0, 20.0)["eda"][0].shape
    (40,)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emofuse.errors import DataError, UnknownNameError

__all__ = ["SIGNALS", "UNITS", "PhysioRecording", "Signal", "check_signal", "convert_units"]

#: Canonical signal names → (what it is, unit, lowest usable rate in Hz).
SIGNALS: dict[str, tuple[str, str, float]] = {
    "bvp": ("blood volume pulse (photoplethysmogram)", "a.u.", 16.0),
    "eda": ("electrodermal activity (skin conductance)", "µS", 1.0),
    "temp": ("skin temperature", "°C", 0.1),
    "acc": ("acceleration (x, y, z)", "g", 1.0),
    "ecg": ("electrocardiogram", "mV", 50.0),
    "resp": ("respiration", "a.u.", 4.0),
}
#: Units a reader may be told a signal is in → (signal, factor or function to the canonical unit).
UNITS: dict[str, dict[str, object]] = {
    "eda": {"us": 1.0, "µs": 1.0, "microsiemens": 1.0, "ns": 1e-3, "ms": 1e3, "siemens": 1e6,
            "ohm": "inverse:1e6", "kohm": "inverse:1e3", "mohm": "inverse:1.0"},
    "temp": {"c": 1.0, "celsius": 1.0, "f": "fahrenheit", "fahrenheit": "fahrenheit", "k": "kelvin",
             "kelvin": "kelvin"},
    "acc": {"g": 1.0, "e4": 1.0 / 64.0, "1/64g": 1.0 / 64.0, "m/s2": 1.0 / 9.80665, "mg": 1e-3},
    "bvp": {"a.u.": 1.0, "au": 1.0},
    "ecg": {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3},
    "resp": {"a.u.": 1.0, "au": 1.0, "%": 1.0},
}
#: Plausible range of each signal in its canonical unit (medians outside it betray a unit error).
_PLAUSIBLE: dict[str, tuple[float, float]] = {"eda": (0.0, 100.0), "temp": (15.0, 45.0), "acc": (0.0, 16.0)}
_NAN_WARN = 0.05  # warn when more than this fraction of a signal is NaN
_NAN_REFUSE = 0.9


@dataclass
class Signal:
    """One physiological signal.

    Attributes:
        name: Canonical name (a key of :data:`SIGNALS`).
        data: ``(N,)`` float64 samples (``(N, 3)`` for ``acc``), in the canonical unit; NaN marks gaps.
        rate: Sampling rate, Hz.
        start: Time of the first sample on the recording clock, seconds.
    """

    name: str
    data: np.ndarray
    rate: float
    start: float = 0.0

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.data) / self.rate

    @property
    def end(self) -> float:
        """Time just after the last sample, seconds."""
        return self.start + self.duration

    def slice(self, t0: float, t1: float) -> np.ndarray:
        """Samples with times in ``[t0, t1)`` (a view; empty outside the signal)."""
        i0 = int(np.clip(np.ceil((t0 - self.start) * self.rate - 1e-9), 0, len(self.data)))
        i1 = int(np.clip(np.ceil((t1 - self.start) * self.rate - 1e-9), 0, len(self.data)))
        return self.data[i0:i1]


@dataclass
class PhysioRecording:
    """Signals of one wearer on one clock, with what the checks found.

    Attributes:
        signals: Canonical name → :class:`Signal`.
        source: Where it came from (file name, for messages).
        subject: Wearer id when the file says (WESAD ``S2``).
        labels: Per-sample condition labels with their rate when the file has them (WESAD), else ``None``.
        warnings: What the checks found that the user should know (gaps, clipping, conversions).
    """

    signals: dict[str, Signal]
    source: str = "<signals>"
    subject: str | None = None
    labels: Signal | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, sig in self.signals.items():
            if name not in SIGNALS:
                raise UnknownNameError("physiological signal", name, tuple(SIGNALS))
            self.warnings.extend(check_signal(sig, self.source))

    @property
    def start(self) -> float:
        """Earliest sample time, seconds."""
        return min((s.start for s in self.signals.values()), default=0.0)

    @property
    def end(self) -> float:
        """Latest sample end time, seconds."""
        return max((s.end for s in self.signals.values()), default=0.0)

    @property
    def duration(self) -> float:
        """Seconds from the earliest to the latest sample."""
        return self.end - self.start

    def window(self, t0: float, t1: float) -> dict[str, tuple[np.ndarray, float]]:
        """Each signal's samples in ``[t0, t1)`` with its rate (signals with no sample there left out)."""
        out = {}
        for name, s in self.signals.items():
            x = s.slice(t0, t1)
            if len(x):
                out[name] = (x, s.rate)
        return out

    def shifted(self, offset: float) -> PhysioRecording:
        """The same recording with every time moved by ``offset`` seconds (to align it to a media clock)."""
        sig = {n: Signal(n, s.data, s.rate, s.start + offset) for n, s in self.signals.items()}
        lab = None if self.labels is None else Signal("label", self.labels.data, self.labels.rate,
                                                     self.labels.start + offset)
        rec = PhysioRecording.__new__(PhysioRecording)
        rec.signals, rec.source, rec.subject, rec.labels = sig, self.source, self.subject, lab
        rec.warnings = list(self.warnings)
        return rec


def convert_units(name: str, data: np.ndarray, unit: str) -> np.ndarray:
    """``data`` of signal ``name`` given in ``unit`` → the canonical unit of :data:`SIGNALS`.

    Raises:
        UnknownNameError: A unit this signal cannot be given in.
    """
    table = UNITS.get(name, {})
    key = unit.strip().lower()
    if key not in table:
        raise UnknownNameError(f"unit of {name}", unit, tuple(table))
    how = table[key]
    x = np.asarray(data, np.float64)
    if how == "fahrenheit":
        return (x - 32.0) * 5.0 / 9.0
    if how == "kelvin":
        return x - 273.15
    if isinstance(how, str) and how.startswith("inverse:"):  # resistance → conductance (µS)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = float(how.split(":")[1]) / x
        out[~np.isfinite(out)] = np.nan
        return out
    return x * float(how)  # type: ignore[arg-type]


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    m = np.concatenate([[0], mask.astype(np.int8), [0]])
    d = np.flatnonzero(np.diff(m))
    return int((d[1::2] - d[::2]).max())


def check_signal(sig: Signal, source: str = "<signals>") -> list[str]:
    """Check one signal; return warnings, raise on what cannot be analysed.

    Raises:
        UnknownNameError: A signal name that is not in :data:`SIGNALS` (close matches suggested).
        DataError: A rate below what the signal needs (:data:`SIGNALS`), a wrong shape, a
            signal that is (almost) all NaN, or values that belong to another unit (the message
            says which, and how to declare it).
    """
    if sig.name not in SIGNALS:
        raise UnknownNameError("physiological signal", sig.name, tuple(SIGNALS))
    what, unit, min_rate = SIGNALS[sig.name]
    where = f"{source}: {sig.name}"
    if not (np.isfinite(sig.rate) and sig.rate > 0):
        raise DataError(f"{where}: sampling rate must be a positive number of Hz, got {sig.rate!r}")
    if sig.rate < min_rate:
        raise DataError(f"{where}: sampled at {sig.rate:g} Hz, below the {min_rate:g} Hz that {what} needs "
                        "(is the rate right?)")
    x = np.asarray(sig.data)
    want = 2 if sig.name == "acc" else 1
    if x.ndim != want or (want == 2 and x.shape[1] != 3):
        raise DataError(f"{where}: expected {'(N, 3)' if want == 2 else '(N,)'} samples, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(f"{where}: samples must be numbers, got {x.dtype}")
    warnings: list[str] = []
    if len(x) == 0:
        raise DataError(f"{where}: no samples")
    bad = ~np.isfinite(x) if x.ndim == 1 else ~np.isfinite(x).all(1)
    frac = float(bad.mean())
    if frac > _NAN_REFUSE:
        raise DataError(f"{where}: {frac:.0%} of the samples are missing (NaN or infinite)")
    if frac > _NAN_WARN:
        warnings.append(f"{where}: {frac:.0%} of the samples are missing (longest gap "
                        f"{_longest_run(bad) / sig.rate:.1f} s); windows there are read without it")
    good = x[~bad]
    if sig.name in _PLAUSIBLE:
        lo, hi = _PLAUSIBLE[sig.name]
        level = float(np.median(np.linalg.norm(good, axis=1) if good.ndim == 2 else good))
        if not lo <= level <= hi:
            hint = {"eda": ("EDA in Ω or kΩ (resistance) rather than µS?", "eda=ohm"),
                    "temp": ("temperature in °F or K?", "temp=f"),
                    "acc": ("acceleration in the E4's 1/64 g or in m/s²?", "acc=e4")}[sig.name]
            raise DataError(f"{where}: median {level:.4g} lies outside the plausible {lo:g}–{hi:g} {unit} — "
                            f"{hint[0]} declare the unit: units {hint[1]} (emofuse analyze --set "
                            f"physio_units.{hint[1]}; read_physio(..., units={{'{hint[1].split('=')[0]}': "
                            f"'{hint[1].split('=')[1]}'}}))")
    if good.ndim == 1 and len(good) > 10 and sig.name in ("eda", "bvp", "ecg"):
        top, bottom = good.max(), good.min()
        flat = (good == top) | (good == bottom)
        run = _longest_run(np.isfinite(x) & ((x == top) | (x == bottom))) / sig.rate if x.ndim == 1 else 0.0
        if top > bottom and flat.mean() > 0.02 and run >= 1.0:
            warnings.append(f"{where}: clipped — {flat.mean():.0%} of the samples sit at the extreme values "
                            f"{bottom:.4g}/{top:.4g} (runs up to {run:.1f} s)")
    return warnings
