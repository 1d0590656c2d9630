"""Readers of physiological recordings: WESAD wrist ``.npz``, CSV/TSV/Parquet tables, Empatica E4 exports, EDF/BDF.

:func:`read_physio` turns a file (or an E4 folder) into a :class:`~emofuse.media.physio.PhysioRecording`:
canonical signal names (``bvp``, ``eda`` in µS, ``temp`` in °C, ``acc`` in g, ``ecg`` in mV, ``resp``),
each at its own rate and start (seconds) on one clock, every signal checked by
:func:`~emofuse.media.physio.check_signal` on the way in. Formats (:data:`PHYSIO_FORMATS`):

* ``wesad`` — the WESAD wrist layout (keys ``subject``, ``fs``, ``eda``, ``temp``, ``acc`` in 1/64 g,
  ``bvp_64`` at 64 Hz, ``label``), read with ``allow_pickle=False`` (object arrays are refused);
* ``table`` — ``.csv``, ``.csv.gz``, ``.tsv``, ``.parquet`` with a time column (seconds, or ISO
  datetimes counted from the first row) and one column per signal; each signal may have its own rate
  (its rows are the rows where its column is filled) and is put on a regular grid, gaps as NaN;
* ``e4`` — an Empatica E4 export folder or ``.zip`` (``BVP.csv``, ``EDA.csv``, ``TEMP.csv``,
  ``ACC.csv``; any subset); ``IBI.csv``, ``HR.csv`` and ``tags.csv`` (event marks) are not read;
* ``edf`` — EDF/EDF+/BDF through ``edfio`` (``pip install edfio``), header units converted where known.

Bad input is answered with one error: :class:`~emofuse.errors.MissingFileError` for a path that does not
exist, :class:`~emofuse.errors.DataError` (naming the file and what is wrong) for anything unreadable,
too large, implausible or mislabelled, :class:`~emofuse.errors.UnknownNameError` for an unknown format,
signal or unit name.

Example:
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wrist.csv"
    >>> rows = "".join(f"{t:g},{2 + np.sin(t) / 10:.4f}\\n" for t in np.arange(0, 120, 0.25))
    >>> _ = path.write_text("time,EDA\\n" + rows)
    >>> sniff_physio(path)
    'table'
    >>> rec = read_physio(path)
    >>> rec.signals["eda"].rate, rec.duration, rec.warnings
    (4.0, 120.0, [])
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from emofuse.errors import DataError, MissingFileError, UnknownNameError
from emofuse.media.physio import SIGNALS, UNITS, PhysioRecording, Signal, convert_units

__all__ = ["PHYSIO_FORMATS", "SHORT_RECORDING_S", "read_physio", "sniff_physio"]

#: Format names :func:`read_physio` accepts.
PHYSIO_FORMATS: tuple[str, ...] = ("wesad", "table", "e4", "edf")
#: Recordings shorter than this (seconds) load with a warning: the physio expert reads 60 s windows.
SHORT_RECORDING_S = 60.0
_TIME_NAMES = ("time", "t", "timestamp", "seconds", "time_s")
_AXES = ("acc_x", "acc_y", "acc_z")
#: Column / channel names (lower case) → canonical signal or acceleration axis.
_ALIASES = {"bvp": "bvp", "ppg": "bvp", "eda": "eda", "gsr": "eda", "temp": "temp", "temperature": "temp",
            "skin_temp": "temp", "ecg": "ecg", "resp": "resp", "respiration": "resp",
            "acc_x": "acc_x", "acc_y": "acc_y", "acc_z": "acc_z", "ax": "acc_x", "ay": "acc_y", "az": "acc_z"}
_E4_FILES = {"BVP.CSV": "bvp", "EDA.CSV": "eda", "TEMP.CSV": "temp", "ACC.CSV": "acc"}
_TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet")
_WESAD_KEYS = ("fs", "eda", "temp", "acc", "bvp_64", "label")
_TABLES_HINT = "pip install 'emofuse[tables]'"


def read_physio(path: str | Path, *, format: str | None = None, units: dict[str, str] | None = None,
                time_column: str | None = None, columns: dict[str, str] | None = None,
                max_bytes: int = 2 * 2**30) -> PhysioRecording:
    """Read a physiological recording into canonical signals on one clock.

    Args:
        path: The file (an E4 export may also be a folder).
        format: One of :data:`PHYSIO_FORMATS`; ``None`` tells it from the content (:func:`sniff_physio`),
            then from the file name.
        units: Signal → unit the file holds it in (a key of :data:`~emofuse.media.physio.UNITS`, e.g.
            ``{"eda": "ohm", "temp": "f"}``); converted to the canonical unit before the checks. It
            overrides what the format implies (the E4's 1/64 g) or an EDF header says.
        time_column: Table time column; by default the first of ``time``, ``t``, ``timestamp``,
            ``seconds``, ``time_s`` (any case).
        columns: Table column (or EDF channel label) → canonical name (``"eda"``, ``"acc_x"``, ...), for
            names the built-in aliases do not know; matched exactly, then ignoring case.
        max_bytes: Largest input accepted, bytes (a folder or zip: its total, uncompressed).

    Returns:
        The recording; ``source`` is the file name, ``warnings`` list gaps, jitter, ignored columns,
        missing samples, clipping and a recording shorter than :data:`SHORT_RECORDING_S` seconds.

    Raises:
        MissingFileError: ``path`` does not exist.
        DataError: An empty, corrupt, too large or unrecognised file, a missing key/column, times that
            go backwards or repeat, or signals that fail :func:`~emofuse.media.physio.check_signal`.
        UnknownNameError: An unknown format, signal or unit name.
        ImportError: Parquet without pyarrow/pandas, tables without pandas, EDF without edfio (with the
            ``pip install`` hint).
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"physiological recording not found: {p}")
    fmt = format.strip().lower() if format is not None else (sniff_physio(p) or _by_name(p))
    if fmt is None:
        raise DataError(f"{p.name}: cannot tell what kind of physiological recording this is; pass format= "
                        f"(one of {', '.join(PHYSIO_FORMATS)})")
    if fmt not in PHYSIO_FORMATS:
        raise UnknownNameError("physiological recording format", fmt, PHYSIO_FORMATS)
    if p.is_dir() and fmt != "e4":
        raise DataError(f"{p.name}: is a folder; only an E4 export (format 'e4') can be a folder")
    size = sum(f.stat().st_size for f in p.iterdir() if f.is_file()) if p.is_dir() else p.stat().st_size
    if not p.is_dir() and size == 0:
        raise DataError(f"{p.name}: empty file (0 bytes)")
    if size > max_bytes:
        raise DataError(f"{p.name}: {size} bytes, over the {max_bytes}-byte limit (pass max_bytes= to raise it)")
    for name in units or {}:
        if name not in SIGNALS:
            raise UnknownNameError("physiological signal", name, tuple(SIGNALS))
    labels, subject = None, None
    if fmt == "wesad":
        signals, native, notes, subject, labels = _read_wesad(p)
    else:
        signals, native, notes = (_read_table(p, time_column, columns) if fmt == "table" else
                                  _read_e4(p, max_bytes) if fmt == "e4" else _read_edf(p, columns))
    for name, unit in {**native, **(units or {})}.items():
        if name in signals:
            s = signals[name]
            signals[name] = Signal(name, convert_units(name, s.data, unit), s.rate, s.start)
        elif name in (units or {}):
            notes.append(f"{p.name}: units given for {name}, which the file does not have")
    rec = PhysioRecording(signals, source=p.name, subject=subject, labels=labels)
    rec.warnings[:0] = notes
    if rec.duration < SHORT_RECORDING_S:
        rec.warnings.append(f"{p.name}: the physio expert reads {SHORT_RECORDING_S:.0f} s windows; "
                            f"this recording is {rec.duration:.1f} s")
    return rec


def sniff_physio(path: str | Path) -> str | None:
    """The format of a physiological recording at ``path`` (a :data:`PHYSIO_FORMATS` name), else ``None``.

    Looks at the content, cheaply and without raising: an ``.npz`` whose keys include ``fs`` and ``eda``
    or ``bvp_64`` (``wesad``); a table whose header has a column the aliases know, such as ``eda`` or
    ``bvp`` (``table``; a table with only custom names needs ``format="table"``); a folder or ``.zip``
    holding ``BVP.csv``/``EDA.csv``/``TEMP.csv``/``ACC.csv`` (``e4``); an ``.edf``/``.bdf`` with an
    EDF or BDF header (``edf``). Anything else (a video, a missing or unreadable file) gives ``None``.
    """
    p = Path(path)
    name = p.name.lower()
    try:
        if p.is_dir():
            return "e4" if any(f.name.upper() in _E4_FILES for f in p.iterdir() if f.is_file()) else None
        if not p.is_file():
            return None
        if name.endswith(".zip"):
            with zipfile.ZipFile(p) as zf:
                return "e4" if any(PurePosixPath(n).name.upper() in _E4_FILES for n in zf.namelist()) else None
        if name.endswith(".npz"):
            with np.load(p, allow_pickle=False) as z:
                keys = set(z.files)
            return "wesad" if "fs" in keys and keys & {"eda", "bvp_64"} else None
        if name.endswith((".edf", ".bdf")):
            with p.open("rb") as f:
                head = f.read(8)
            return "edf" if head in (b"0       ", b"\xffBIOSEMI") else None
        if name.endswith(_TABLE_SUFFIXES):
            return "table" if any(_canon(c) for c in _table_header(p)) else None
    except Exception:  # sniffing never raises; read_physio says what is wrong
        return None
    return None


def _by_name(p: Path) -> str | None:
    name = p.name.lower()
    suffixes = {".zip": "e4", ".npz": "wesad", ".edf": "edf", ".bdf": "edf", **dict.fromkeys(_TABLE_SUFFIXES, "table")}
    return "e4" if p.is_dir() else next((f for s, f in suffixes.items() if name.endswith(s)), None)


def _canon(name: str) -> str | None:
    return _ALIASES.get(str(name).strip().lower())


def _assign(names: list[str], columns: dict[str, str] | None, src: str) -> tuple[dict[str, str], list[str]]:
    """Column/channel names → {canonical signal or axis: name}, and the names left unknown."""
    user: dict[str, str] = {}
    lower = {n.lower(): n for n in names}
    for key, target in (columns or {}).items():
        found = key if key in names else lower.get(key.lower())
        if found is None:
            raise DataError(f"{src}: columns= names {key!r}, which the file does not have "
                            f"(it has: {_listing(names)})")
        canon = _canon(target)
        if canon is None:  # 'acc' too: its columns map to acc_x, acc_y, acc_z
            raise UnknownNameError("physiological signal", target, (*(s for s in SIGNALS if s != "acc"), *_AXES))
        if canon in user.values():
            raise DataError(f"{src}: columns= maps two names to {canon}")
        user[found] = canon
    out = {canon: n for n, canon in user.items()}  # the caller's mapping wins over the aliases
    unknown = []
    for n in (n for n in names if n not in user):
        canon = _canon(n)
        if canon is None or canon in user.values():
            unknown.append(n)
        elif canon in out:
            raise DataError(f"{src}: both {out[canon]!r} and {n!r} would be {canon}; choose one with columns=")
        else:
            out[canon] = n
    axes = [a for a in _AXES if a in out]
    if axes and len(axes) < 3:
        raise DataError(f"{src}: acceleration needs acc_x, acc_y and acc_z; found only {', '.join(axes)}")
    return out, unknown


def _listing(names: list[str], n: int = 12) -> str:
    shown = ", ".join(repr(str(x)[:40]) for x in names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def _read_wesad(p: Path) -> tuple[dict[str, Signal], dict[str, str], list[str], str | None, Signal]:
    if not zipfile.is_zipfile(p):
        raise DataError(f"{p.name}: not an .npz archive, or a truncated one (no zip directory at its end)")
    try:
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in _WESAD_KEYS if k not in z.files]
            if missing:
                raise DataError(f"{p.name}: WESAD layout needs the keys {', '.join(missing)} "
                                f"(it has: {', '.join(z.files) or 'none'})")
            a = {k: z[k] for k in (*_WESAD_KEYS, *(["subject"] if "subject" in z.files else []))}
        fs = float(a["fs"])
        subject = str(a["subject"].item()) if "subject" in a else None
    except DataError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DataError(f"{p.name}: holds object arrays that only unpickling can read; refused "
                            "(save plain numeric and string arrays)") from e
        raise DataError(f"{p.name}: unreadable .npz: {e}") from e
    except Exception as e:  # corrupt archives fail in many ways (zip, zlib, header)
        raise DataError(f"{p.name}: corrupt or truncated .npz: {type(e).__name__}: {e}") from e
    label = np.asarray(a["label"])
    if label.ndim != 1 or not np.issubdtype(label.dtype, np.integer):
        raise DataError(f"{p.name}: label must be (N,) integers, got {label.dtype} {label.shape}")
    signals = {"bvp": Signal("bvp", np.asarray(a["bvp_64"], np.float64), 64.0)}
    for k in ("eda", "temp", "acc"):
        signals[k] = Signal(k, np.asarray(a[k], np.float64), fs)
    return signals, {"acc": "e4"}, [], subject, Signal("label", label, fs)


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError(f"reading physiological tables needs pandas: {_TABLES_HINT}") from e
    return pd


def _table_header(p: Path) -> list[str]:
    name = p.name.lower()
    if name.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            return ["eda"]  # cannot look inside; trust the suffix
        return list(pq.read_schema(p).names)
    with (gzip.open(p, "rb") if name.endswith(".gz") else p.open("rb")) as f:
        line = f.readline(65536).decode("utf-8-sig").strip()
    return [c.strip().strip('"') for c in line.split("\t" if ".tsv" in name else ",")]


def _load_frame(p: Path) -> Any:
    pd = _pandas()
    name = p.name.lower()
    try:
        if name.endswith(".parquet"):
            df = pd.read_parquet(p)
        else:
            with (gzip.open(p, "rb") if name.endswith(".gz") else p.open("rb")) as f:
                if b"\0" in f.read(4096):
                    raise DataError(f"{p.name}: binary content, not a text table")
            df = pd.read_csv(p, sep="\t" if ".tsv" in name else ",")
    except ImportError as e:
        raise ImportError(f"reading Parquet needs pyarrow: {_TABLES_HINT}") from e
    except DataError:
        raise
    except Exception as e:  # pandas/pyarrow/gzip raise many types for bad files
        raise DataError(f"{p.name}: cannot read it as a table: {type(e).__name__}: {e}") from e
    if len(df) == 0:
        raise DataError(f"{p.name}: the table has no rows")
    return df


def _seconds(pd: Any, col: Any, src: str, tcol: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        t = col.to_numpy(np.float64)
    else:
        try:
            dt = pd.to_datetime(col, utc=True, format="ISO8601")
        except (ValueError, TypeError) as e:
            raise DataError(f"{src}: time column {tcol!r} holds neither seconds nor ISO datetimes ({e})") from e
        t = (dt - dt.iloc[0]).dt.total_seconds().to_numpy(np.float64)  # NaT → NaN, refused below
    bad = np.flatnonzero(~np.isfinite(t))
    if len(bad):
        raise DataError(f"{src}: time column {tcol!r} is empty or not a number at row {bad[0] + 1}")
    back = np.flatnonzero(np.diff(t) < 0)
    if len(back):
        i = back[0] + 1
        raise DataError(f"{src}: times are not monotonic — row {i + 1} ({t[i]:g} s) comes after "
                        f"row {i} ({t[i - 1]:g} s)")
    return t


def _read_table(p: Path, time_column: str | None, columns: dict[str, str] | None
                ) -> tuple[dict[str, Signal], dict[str, str], list[str]]:
    pd = _pandas()
    df = _load_frame(p)
    names = [str(c) for c in df.columns]
    df.columns = names
    if time_column is not None:
        tcol = time_column if time_column in names else {n.lower(): n for n in names}.get(time_column.lower())
        if tcol is None:
            raise DataError(f"{p.name}: no time column {time_column!r} (columns: {_listing(names)})")
    else:
        tcol = next((n for n in names if n.strip().lower() in _TIME_NAMES), None)
        if tcol is None:
            raise DataError(f"{p.name}: no time column (looked for {', '.join(_TIME_NAMES)}; pass time_column=); "
                            f"columns: {_listing(names)}")
    mapping, unknown = _assign([n for n in names if n != tcol], columns, p.name)
    if not mapping:
        raise DataError(f"{p.name}: no physiological signal column among {_listing(names)} "
                        f"(known: {', '.join(sorted(_ALIASES))}; or map yours with columns=)")
    notes = [f"{p.name}: ignored columns {_listing(unknown)} (not a known signal; map them with columns=)"] \
        if unknown else []
    t = _seconds(pd, df[tcol], p.name, tcol)
    values = {}
    for canon, col in mapping.items():
        v = pd.to_numeric(df[col], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(df[col].notna().to_numpy() & np.isnan(v))
        if len(bad):
            raise DataError(f"{p.name}: column {col!r} is not a number at row {bad[0] + 1}: {df[col].iloc[bad[0]]!r}")
        values[canon] = v
    if "acc_x" in values:
        values["acc"] = np.stack([values.pop(a) for a in _AXES], axis=1)
    signals = {}
    for name, v in values.items():
        rows = np.flatnonzero(np.isfinite(v).any(1) if v.ndim == 2 else np.isfinite(v))
        signals[name], more = _regular(name, t[rows], v[rows], rows, f"{p.name}: {name}")
        notes.extend(more)
    return signals, {}, notes


def _regular(name: str, t: np.ndarray, v: np.ndarray, rows: np.ndarray, where: str) -> tuple[Signal, list[str]]:
    """Samples at times ``t`` (s) → a :class:`Signal` on a regular grid at the rate their median step implies."""
    if len(t) < 2:
        raise DataError(f"{where}: {len(t)} sample(s); at least two are needed to tell the sampling rate")
    steps = np.diff(t)
    dup = np.flatnonzero(steps <= 0)
    if len(dup):
        raise DataError(f"{where}: time {t[dup[0] + 1]:g} s is duplicated at row {rows[dup[0] + 1] + 1}")
    med = float(np.median(steps))
    regular = steps[steps < 1.5 * med]
    rate = 1.0 / float(regular.mean())
    if round(rate) > 0 and abs(rate - round(rate)) <= 0.005 * rate:
        rate = float(round(rate))  # timestamps printed with few decimals: 63.9 Hz is 64 Hz
    notes = []
    if regular.std() > 0.1 * med:
        notes.append(f"{where}: jittery timestamps (step {med * 1e3:.1f} ± {regular.std() * 1e3:.1f} ms); "
                     f"put on a regular {rate:g} Hz grid")
    idx = np.rint((t - t[0]) * rate).astype(np.int64)
    if idx[-1] + 1 > 20 * len(t) + 1000:
        raise DataError(f"{where}: gaps in the time column would stretch {len(t)} samples over {idx[-1] + 1}; "
                        "are the times in seconds?")
    data = np.full((int(idx[-1]) + 1, *v.shape[1:]), np.nan)
    data[idx] = v
    gaps = np.flatnonzero(steps >= 1.5 * med)
    if len(gaps):
        g = gaps[np.argmax(steps[gaps])]
        notes.append(f"{where}: {len(gaps)} gap(s) in the samples, longest {steps[g]:.2f} s after {t[g]:g} s; "
                     "filled with NaN")
    return Signal(name, data, rate, float(t[0])), notes


def _read_e4(p: Path, max_bytes: int) -> tuple[dict[str, Signal], dict[str, str], list[str]]:
    texts: dict[str, str] = {}
    try:
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.is_file() and f.name.upper() in _E4_FILES:
                    texts[f.name] = f.read_text(encoding="utf-8")
        else:
            with zipfile.ZipFile(p) as zf:
                members = [i for i in zf.infolist() if PurePosixPath(i.filename).name.upper() in _E4_FILES]
                if sum(i.file_size for i in members) > max_bytes:
                    raise DataError(f"{p.name}: unpacks to over the {max_bytes}-byte limit")
                for i in members:
                    texts.setdefault(PurePosixPath(i.filename).name, zf.read(i).decode("utf-8"))
    except DataError:
        raise
    except Exception as e:  # bad zip, bad encoding, unreadable file
        raise DataError(f"{p.name}: cannot read the E4 export: {type(e).__name__}: {e}") from e
    if not texts:
        raise DataError(f"{p.name}: no E4 signal file (BVP.csv, EDA.csv, TEMP.csv, ACC.csv) in it")
    parsed = {}
    for fname, text in texts.items():
        name, where = _E4_FILES[fname.upper()], f"{p.name}/{fname}"
        try:
            arr = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=np.float64)
        except ValueError as e:
            raise DataError(f"{where}: not an E4 signal file (numbers separated by commas): {e}") from e
        if arr.shape[0] < 3:
            raise DataError(f"{where}: needs a start-time row, a rate row and samples; has {arr.shape[0]} row(s)")
        if name == "acc" and arr.shape[1] != 3:
            raise DataError(f"{where}: expected 3 columns (x, y, z), got {arr.shape[1]}")
        parsed[name] = (arr[0, 0], arr[1, 0], arr[2:] if name == "acc" else arr[2:, 0])
    t0 = min(start for start, _, _ in parsed.values())
    signals = {n: Signal(n, data, float(rate), float(start - t0)) for n, (start, rate, data) in parsed.items()}
    return signals, {"acc": "e4"}, []


def _read_edf(p: Path, columns: dict[str, str] | None) -> tuple[dict[str, Signal], dict[str, str], list[str]]:
    try:
        import edfio
    except ImportError as e:
        raise ImportError("reading EDF/BDF needs edfio: pip install edfio") from e
    try:
        edf = edfio.read_bdf(p) if p.suffix.lower() == ".bdf" else edfio.read_edf(p)
        chans = [(s.label.strip(), np.asarray(s.data, np.float64), float(s.sampling_frequency),
                  s.physical_dimension.strip()) for s in edf.signals]
    except Exception as e:  # edfio raises many types for bad headers and short files
        raise DataError(f"{p.name}: cannot read it as EDF/BDF: {type(e).__name__}: {e}") from e
    by_label = {c[0]: c for c in chans}
    if len(by_label) < len(chans):
        raise DataError(f"{p.name}: repeated channel labels {_listing([c[0] for c in chans])}")
    mapping, unknown = _assign(list(by_label), columns, p.name)
    if not mapping:
        raise DataError(f"{p.name}: no physiological signal channel among {_listing(list(by_label))}")
    notes = [f"{p.name}: ignored channels {_listing(unknown)} (not a known signal; map them with columns=)"] \
        if unknown else []
    signals, native = {}, {}
    if "acc_x" in mapping:
        axes = [by_label[mapping.pop(a)] for a in _AXES]
        if len({(len(c[1]), c[2]) for c in axes}) > 1:
            raise DataError(f"{p.name}: acc_x, acc_y and acc_z differ in rate or length")
        mapping["acc"] = axes[0][0]
        by_label[axes[0][0]] = (axes[0][0], np.stack([c[1] for c in axes], 1), axes[0][2], axes[0][3])
    for name, label in mapping.items():
        _, data, rate, dim = by_label[label]
        signals[name] = Signal(name, data, rate)
        if dim.lower() in UNITS[name]:
            native[name] = dim
        elif dim:
            notes.append(f"{p.name}: {name}: header unit {dim!r} not recognised; read as {SIGNALS[name][1]}")
    return signals, native, notes
