"""Readers of physiological recordings: WESAD npz, tables, E4 exports, EDF — and every bad-input case."""

from __future__ import annotations

import sys
import zipfile

import numpy as np
import pytest

from emofuse.errors import DataError, MissingFileError, UnknownNameError
from emofuse.media.physio_io import PHYSIO_FORMATS, read_physio, sniff_physio

pd = pytest.importorskip("pandas")


def _bvp(rate: float, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 50 * np.sin(2 * np.pi * 1.2 * t) + 5 * np.sin(2 * np.pi * 0.25 * t)


def _eda(rate: float, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return 2.0 + 0.3 * np.sin(2 * np.pi * t / 30)


def _wesad(path, seconds: float = 70.0, **over):
    fs, n = 4, int(4 * seconds)
    rng = np.random.default_rng(0)
    acc = np.tile([0.0, 0.0, 64.0], (n, 1)) + rng.normal(0, 2, (n, 3))
    label = np.repeat(np.array([0, 1, 2, 3, 4], np.int8), -(-n // 5))[:n]
    arrays = dict(subject=np.array("S7"), fs=np.array(fs), eda=_eda(fs, seconds).astype(np.float32),
                  temp=np.full(n, 33.5, np.float32), acc=acc.astype(np.float32),
                  bvp=_bvp(fs, seconds).astype(np.float32), bvp_64=_bvp(64, seconds).astype(np.float32), label=label)
    arrays.update(over)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return arrays


# --- WESAD ------------------------------------------------------------------------------------------------


def test_wesad_round_trip(tmp_path):
    path = tmp_path / "S7_wrist.npz"
    src = _wesad(path)
    assert sniff_physio(path) == "wesad"
    rec = read_physio(path)
    assert rec.subject == "S7" and rec.source == "S7_wrist.npz"
    assert {n: s.rate for n, s in rec.signals.items()} == {"bvp": 64.0, "eda": 4.0, "temp": 4.0, "acc": 4.0}
    assert rec.signals["bvp"].data.shape == (64 * 70,) and rec.signals["acc"].data.shape == (280, 3)
    np.testing.assert_allclose(rec.signals["acc"].data, src["acc"] / 64.0, rtol=1e-6)
    assert abs(np.median(np.linalg.norm(rec.signals["acc"].data, axis=1)) - 1.0) < 0.05
    np.testing.assert_allclose(rec.signals["eda"].data, src["eda"], rtol=1e-6)
    assert rec.labels is not None and rec.labels.rate == 4.0 and rec.labels.name == "label"
    np.testing.assert_array_equal(rec.labels.data, src["label"])
    assert rec.duration == 70.0 and rec.warnings == []


def test_wesad_missing_keys_are_named(tmp_path):
    path = tmp_path / "S7_wrist.npz"
    _wesad(path, temp=None, label=None)
    with pytest.raises(DataError, match="temp, label"):
        read_physio(path)


def test_npz_with_object_array_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    _wesad(path, subject=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="evil.npz.*unpickling"):
        read_physio(path)


def test_nan_stretch_warns(tmp_path):
    path = tmp_path / "S7_wrist.npz"
    eda = _eda(4, 70.0)
    eda[40:120] = np.nan
    _wesad(path, eda=eda)
    rec = read_physio(path)
    assert any("eda" in w and "missing" in w and "20.0 s" in w for w in rec.warnings), rec.warnings


# --- tables -----------------------------------------------------------------------------------------------


def _two_rate_frame(seconds: float = 70.0):
    bvp = pd.DataFrame({"time": 0.5 + np.arange(64 * int(seconds)) / 64, "PPG": _bvp(64, seconds)})
    eda = pd.DataFrame({"time": 1.0 + np.arange(4 * int(seconds)) / 4, "GSR": _eda(4, seconds)})
    df = pd.concat([bvp, eda]).sort_values("time", kind="stable").reset_index(drop=True)
    df["notes"] = "x"
    return df


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".tsv", ".parquet"])
def test_table_with_two_rates(tmp_path, suffix):
    path = tmp_path / f"wrist{suffix}"
    df = _two_rate_frame()
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    assert sniff_physio(path) == "table"
    rec = read_physio(path)
    bvp, eda = rec.signals["bvp"], rec.signals["eda"]
    assert (bvp.rate, len(bvp.data), bvp.start) == (64.0, 64 * 70, 0.5)
    assert (eda.rate, len(eda.data), eda.start) == (4.0, 4 * 70, 1.0)
    np.testing.assert_allclose(eda.data, _eda(4, 70.0), atol=1e-9)
    assert not np.isnan(bvp.data).any()
    assert len(rec.warnings) == 1 and "ignored columns 'notes'" in rec.warnings[0]


def test_table_iso_datetimes_and_acc(tmp_path):
    n = 4 * 70
    times = pd.Timestamp("2024-05-01T10:00:00Z") + pd.to_timedelta(np.arange(n) * 0.25, unit="s")
    df = pd.DataFrame({"Timestamp": times.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"), "EDA": _eda(4, 70),
                       "ax": 0.0, "ay": 0.0, "az": 1.0, "skin_temp": 33.0})
    path = tmp_path / "iso.csv"
    df.to_csv(path, index=False)
    rec = read_physio(path)
    assert rec.signals["eda"].rate == 4.0 and rec.signals["eda"].start == 0.0
    assert rec.signals["acc"].data.shape == (n, 3) and rec.signals["temp"].rate == 4.0
    assert rec.duration == 70.0 and rec.warnings == []


def test_table_custom_names(tmp_path):
    path = tmp_path / "custom.csv"
    pd.DataFrame({"clock": np.arange(280) / 4, "Cond": _eda(4, 70)}).to_csv(path, index=False)
    assert sniff_physio(path) is None  # nothing the aliases know
    rec = read_physio(path, format="table", time_column="CLOCK", columns={"cond": "eda"})
    assert rec.signals["eda"].rate == 4.0
    with pytest.raises(DataError, match="no time column"):
        read_physio(path, format="table", columns={"cond": "eda"})
    with pytest.raises(DataError, match="no physiological signal column.*'Cond'"):
        read_physio(path, format="table", time_column="clock")


def test_table_column_conflicts(tmp_path):
    path = tmp_path / "both.csv"
    pd.DataFrame({"time": np.arange(280) / 4, "eda": 2.0, "GSR": 3.0, "acc_x": 30.0, "acc_y": 1.0}).to_csv(
        path, index=False)
    with pytest.raises(DataError, match="both 'eda' and 'GSR' would be eda"):
        read_physio(path)
    with pytest.raises(DataError, match="found only acc_x, acc_y"):
        read_physio(path, columns={"gsr": "eda"})
    rec = read_physio(path, columns={"gsr": "eda", "acc_x": "temp", "acc_y": "resp"})
    np.testing.assert_allclose(rec.signals["eda"].data, 3.0)  # the caller's mapping wins
    assert any("ignored columns 'eda'" in w for w in rec.warnings)
    with pytest.raises(UnknownNameError, match="acc_x"):
        read_physio(path, columns={"acc_x": "acc"})
    with pytest.raises(DataError, match="does not have"):
        read_physio(path, columns={"skin": "eda"})


def test_non_monotonic_time_names_the_row(tmp_path):
    path = tmp_path / "back.csv"
    path.write_text("time,eda\n0,2\n0.25,2\n0.5,2\n0.4,2\n1.0,2\n")
    with pytest.raises(DataError, match="back.csv.*not monotonic.*row 4"):
        read_physio(path)


def test_duplicated_time_names_the_row(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("time,eda\n0,2\n0.25,2\n0.25,2\n0.75,2\n1.0,2\n")
    with pytest.raises(DataError, match="duplicated at row 3"):
        read_physio(path)


def test_eda_in_ohm_refused_then_converted(tmp_path):
    path = tmp_path / "ohm.csv"
    eda = _eda(4, 70)
    pd.DataFrame({"time": np.arange(280) / 4, "eda": 1e6 / eda}).to_csv(path, index=False)
    with pytest.raises(DataError, match="resistance.*units eda=ohm"):
        read_physio(path)
    rec = read_physio(path, units={"eda": "ohm"})
    np.testing.assert_allclose(rec.signals["eda"].data, eda, rtol=1e-6)
    with pytest.raises(UnknownNameError):
        read_physio(path, units={"eda": "furlongs"})
    with pytest.raises(UnknownNameError):
        read_physio(path, units={"sweat": "ohm"})


def test_temperature_in_fahrenheit_refused(tmp_path):
    path = tmp_path / "temp_f.csv"
    pd.DataFrame({"time": np.arange(280) / 4, "temperature": 91.4}).to_csv(path, index=False)
    with pytest.raises(DataError, match="°F"):
        read_physio(path)
    rec = read_physio(path, units={"temp": "f"})
    np.testing.assert_allclose(rec.signals["temp"].data, 33.0)


def test_gap_and_jitter_warn(tmp_path):
    t = np.arange(280) / 4
    keep = (t < 20) | (t >= 40)
    path = tmp_path / "gap.csv"
    pd.DataFrame({"time": t[keep], "eda": _eda(4, 70)[keep]}).to_csv(path, index=False)
    rec = read_physio(path)
    eda = rec.signals["eda"]
    assert len(eda.data) == 280 and np.isnan(eda.data[80:160]).all() and not np.isnan(eda.data[:80]).any()
    assert any("gap" in w and "20.25 s" in w for w in rec.warnings), rec.warnings
    assert any("missing" in w for w in rec.warnings)
    rng = np.random.default_rng(1)
    path2 = tmp_path / "jitter.csv"
    pd.DataFrame({"time": t + rng.uniform(-0.05, 0.05, 280), "eda": 2.0}).to_csv(path2, index=False)
    rec2 = read_physio(path2)
    assert rec2.signals["eda"].rate == 4.0 and any("jittery" in w for w in rec2.warnings)


def test_short_recording_warns(tmp_path):
    path = tmp_path / "short.csv"
    pd.DataFrame({"time": np.arange(40) / 4, "eda": 2.0}).to_csv(path, index=False)
    rec = read_physio(path)
    assert rec.duration == 10.0
    assert rec.warnings == ["short.csv: the physio expert reads 60 s windows; this recording is 10.0 s"]


# --- E4 ---------------------------------------------------------------------------------------------------


def _e4_files(seconds: float = 70.0, bvp_rate: float = 64.0) -> dict[str, str]:
    def one(start, rate, data):
        data = np.atleast_2d(np.asarray(data).T).T
        head = ",".join([f"{start:.6f}"] * data.shape[1]) + "\n" + ",".join([f"{rate:.6f}"] * data.shape[1])
        return head + "\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in data) + "\n"
    acc = np.tile([0.0, -64.0, 0.0], (int(32 * seconds), 1))
    return {"BVP.csv": one(1_600_000_010, bvp_rate, _bvp(64, seconds)),
            "EDA.csv": one(1_600_000_012, 4, _eda(4, seconds)),
            "TEMP.csv": one(1_600_000_012, 4, np.full(int(4 * seconds), 32.0)), "ACC.csv": one(1_600_000_011, 32, acc),
            "IBI.csv": "1600000010, IBI\n1.5,0.8\n", "tags.csv": "1600000030.5\n"}


def _check_e4(rec):
    assert {n: (s.rate, s.start) for n, s in rec.signals.items()} == {
        "bvp": (64.0, 0.0), "eda": (4.0, 2.0), "temp": (4.0, 2.0), "acc": (32.0, 1.0)}
    np.testing.assert_allclose(rec.signals["acc"].data[0], [0.0, -1.0, 0.0])
    assert rec.signals["eda"].data.shape == (280,) and rec.warnings == []


def test_e4_folder(tmp_path):
    folder = tmp_path / "e4_export"
    folder.mkdir()
    for name, text in _e4_files().items():
        (folder / name).write_text(text)
    assert sniff_physio(folder) == "e4"
    rec = read_physio(folder)
    assert rec.source == "e4_export"
    _check_e4(rec)


def test_e4_zip_and_subset(tmp_path):
    path = tmp_path / "e4.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in _e4_files().items():
            zf.writestr(f"A01/{name}", text)
    assert sniff_physio(path) == "e4"
    _check_e4(read_physio(path))
    only = tmp_path / "only_eda"
    only.mkdir()
    (only / "EDA.csv").write_text(_e4_files()["EDA.csv"])
    rec = read_physio(only)
    assert list(rec.signals) == ["eda"] and rec.signals["eda"].start == 0.0


def test_e4_wrong_rate_refused(tmp_path):
    folder = tmp_path / "e4_bad_rate"
    folder.mkdir()
    (folder / "BVP.csv").write_text(_e4_files(bvp_rate=4.0)["BVP.csv"])
    with pytest.raises(DataError, match="bvp: sampled at 4 Hz, below the 16 Hz"):
        read_physio(folder)


# --- EDF --------------------------------------------------------------------------------------------------


def test_edf_round_trip(tmp_path):
    edfio = pytest.importorskip("edfio")
    path = tmp_path / "rec.edf"
    eda = _eda(4, 70)
    edfio.Edf([edfio.EdfSignal(_bvp(64, 70), sampling_frequency=64, label="PPG"),
               edfio.EdfSignal(1e3 / eda, sampling_frequency=4, label="EDA", physical_dimension="kOhm"),
               edfio.EdfSignal(np.full(280, 33.0), sampling_frequency=4, label="Temp", physical_dimension="degC"),
               edfio.EdfSignal(np.zeros(70), sampling_frequency=1, label="Marker")]).write(path)
    assert sniff_physio(path) == "edf"
    rec = read_physio(path)
    assert {n: s.rate for n, s in rec.signals.items()} == {"bvp": 64.0, "eda": 4.0, "temp": 4.0}
    np.testing.assert_allclose(rec.signals["eda"].data, eda, rtol=1e-3)
    assert len(rec.signals["bvp"].data) == 64 * 70
    assert any("'Marker'" in w for w in rec.warnings) and any("'degC'" in w for w in rec.warnings)
    with pytest.raises(DataError, match="resistance"):
        read_physio(path, units={"eda": "us"})  # the caller's unit overrides the header's


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content", "fmt"), [
    ("empty.csv", b"", None),
    ("garbage.csv", bytes(range(256)) * 8, None),
    ("garbage.csv.gz", b"not gzip at all", None),
    ("garbage.parquet", b"PAR1 nope", None),
    ("garbage.edf", b"0       " + b"\x01" * 100, None),
    ("garbage.zip", b"PK\x03\x04 broken", None),
    ("garbage.npz", b"\x93NUMPY nope", None),
    ("header_only.csv", b"time,eda\n", None),
    ("words.csv", b"time,eda\n0,abc\n0.25,2\n", None),
    ("noext", b"time,eda\n0,2\n", None),
])
def test_bad_files_are_data_errors(tmp_path, name, content, fmt):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=name.replace(".", r"\.")):
        read_physio(path, format=fmt)


def test_truncated_npz(tmp_path):
    path = tmp_path / "S7_wrist.npz"
    _wesad(path)
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.npz.*truncated"):
        read_physio(tmp_path / "cut.npz")


def test_npz_with_a_corrupt_member(tmp_path):
    path = tmp_path / "S7_wrist.npz"
    _wesad(path)
    data = bytearray(path.read_bytes())
    data[200:4000] = b"\x00" * 3800
    (tmp_path / "bad.npz").write_bytes(bytes(data))
    with pytest.raises(DataError, match="bad.npz"):
        read_physio(tmp_path / "bad.npz")


def test_e4_file_with_garbage(tmp_path):
    folder = tmp_path / "e4_garbage"
    folder.mkdir()
    (folder / "EDA.csv").write_text("hello,world\nthis is not\nan export\n")
    with pytest.raises(DataError, match="EDA.csv"):
        read_physio(folder)
    (folder / "EDA.csv").write_text("1600000000\n4\n")
    with pytest.raises(DataError, match="start-time row, a rate row and samples"):
        read_physio(folder)


def test_missing_unknown_and_too_big(tmp_path):
    with pytest.raises(MissingFileError):
        read_physio(tmp_path / "nope.csv")
    path = tmp_path / "short.csv"
    path.write_text("time,eda\n0,2\n0.25,2\n0.5,2\n")
    with pytest.raises(UnknownNameError, match="Did you mean: wesad"):
        read_physio(path, format="wesd")
    with pytest.raises(DataError, match="over the 10-byte limit"):
        read_physio(path, max_bytes=10)
    assert PHYSIO_FORMATS == ("wesad", "table", "e4", "edf")


def test_missing_optional_dependencies_give_hints(tmp_path, monkeypatch):
    path = tmp_path / "short.csv"
    path.write_text("time,eda\n0,2\n0.25,2\n0.5,2\n")
    edf = tmp_path / "x.edf"
    edf.write_bytes(b"0       " + b" " * 248)
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "edfio", None)
    with pytest.raises(ImportError, match=r"emofuse\[tables\]"):
        read_physio(path)
    with pytest.raises(ImportError, match="pip install edfio"):
        read_physio(edf)


def test_sniff_rejects_what_is_not_physio(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    other = tmp_path / "scores.csv"
    other.write_text("speaker,valence\nA,0.3\n")
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0001.jpg").write_bytes(b"\xff\xd8")
    npz = tmp_path / "weights.npz"
    np.savez(npz, w=np.zeros(3))
    bad_edf = tmp_path / "bad.edf"
    bad_edf.write_bytes(b"hello")
    for p in (video, other, folder, npz, bad_edf, tmp_path / "missing.csv", tmp_path / "garbage.zip"):
        assert sniff_physio(p) is None, p
