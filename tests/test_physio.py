"""The physiological modality: NeuroKit2 window features, the physio-wesad expert, its path in the analysis."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("neurokit2")

from _physio import recording  # noqa: E402
from emofuse.analysis import AnalysisSession  # noqa: E402
from emofuse.analysis.result import EKMAN, ModalityResult  # noqa: E402
from emofuse.errors import DataError, UnknownNameError  # noqa: E402
from emofuse.experts import load_expert  # noqa: E402
from emofuse.experts.physio import GROUP_NAMES, PhysioWindow, physio_windows  # noqa: E402
from emofuse.experts.physio_features import FEATURES, normalise, process, reference_stats, window_features  # noqa: E402

COL = {f: i for i, f in enumerate(FEATURES)}


@pytest.fixture(scope="module")
def expert():
    return load_expert("physio-wesad")


# --------------------------------------------------------------------------- features


@pytest.mark.parametrize("hr", [62.0, 95.0])
def test_heart_rate_is_measured_from_the_pulse(hr: float) -> None:
    rec = recording(120, heart_rate=hr)
    X, cov = window_features(process(rec.signals), np.array([60.0, 120.0]))
    assert np.all(np.abs(X[:, COL["hr_mean"]] - hr) < 4.0), X[:, COL["hr_mean"]]
    assert np.all(cov[:, GROUP_NAMES.index("bvp")] > 0.8)


def test_more_skin_conductance_responses_give_a_higher_scr_rate() -> None:
    calm = window_features(process(recording(120, scr_number=1, seed=1).signals), np.array([120.0]), 120.0)[0]
    aroused = window_features(process(recording(120, scr_number=12, seed=1).signals), np.array([120.0]), 120.0)[0]
    assert aroused[0, COL["scr_rate"]] > calm[0, COL["scr_rate"]]


def test_temperature_slope_and_motion_are_measured() -> None:
    X, _ = window_features(process(recording(120, temp_slope=0.5, motion=0.2).signals), np.array([120.0]))
    assert X[0, COL["temp_slope"]] == pytest.approx(0.5, abs=0.05)  # °C per minute
    quiet, _ = window_features(process(recording(120, motion=0.005).signals), np.array([120.0]))
    assert X[0, COL["acc_std"]] > 10 * quiet[0, COL["acc_std"]]


def test_missing_signal_and_uncovered_window_give_nan_features() -> None:
    rec = recording(120, signals=("eda", "temp"))
    X, cov = window_features(process(rec.signals), np.array([30.0, 120.0, 400.0]))
    bvp = [COL[f] for f in ("hr_mean", "ibi_rmssd")]
    assert np.isnan(X[:, bvp]).all() and (cov[:, GROUP_NAMES.index("bvp")] == 0).all()
    assert np.isfinite(X[1, COL["eda_mean"]])
    assert np.isnan(X[2]).all()  # a window after the recording ended


def test_nan_gaps_count_as_not_measured() -> None:
    rec = recording(180)
    eda = rec.signals["eda"].data
    eda[4 * 60:4 * 110] = np.nan  # 50 s without EDA
    bvp = rec.signals["bvp"].data
    bvp[64 * 60:64 * 110] = np.nan
    X, cov = window_features(process(rec.signals), np.array([60.0, 120.0, 180.0]))
    g_eda, g_bvp = GROUP_NAMES.index("eda"), GROUP_NAMES.index("bvp")
    assert cov[0, g_eda] == pytest.approx(1.0) and cov[1, g_eda] == pytest.approx(10 / 60, abs=0.02)
    assert cov[1, g_bvp] < 0.2
    assert np.isnan(X[1, COL["eda_mean"]]) and np.isnan(X[1, COL["hr_mean"]])  # too little measured signal
    assert cov[2, g_eda] == pytest.approx(1.0) and np.isfinite(X[2, COL["eda_mean"]])


def test_reference_normalisation() -> None:
    X = np.array([[1.0, np.nan], [3.0, np.nan], [5.0, np.nan]], np.float32)
    ref = reference_stats(X, robust=False)
    Z = normalise(X, ref)
    np.testing.assert_allclose(Z[:, 0], [-1.2247, 0.0, 1.2247], atol=1e-3)
    assert np.isnan(Z[:, 1]).all() and ref[1][1] > 0  # an all-missing feature: centre 0, a positive scale


# --------------------------------------------------------------------------- the expert


def test_expert_routes_stress_to_fear_and_anger_only(expert) -> None:
    out = expert.predict(physio_windows(recording(240), [120.0, 180.0, 240.0]))
    ek = dict(zip(EKMAN, out.ekman.T, strict=True))
    assert np.all(ek["disgust"] < 0.01) and np.all(ek["sadness"] < 0.01) and np.all(ek["surprise"] < 0.01)
    p = out.probs
    np.testing.assert_allclose(ek["fear"], ek["anger"], atol=1e-4)
    np.testing.assert_allclose(ek["fear"] + ek["anger"], p[:, expert.classes.index("stress")], atol=0.02)
    np.testing.assert_allclose(out.info["p_stress"], p[:, 1], atol=1e-3)
    assert all(-1 <= a <= 1 and -1 <= v <= 1 for a, v in zip(out.info["arousal"], out.info["valence"], strict=True))


def test_one_signal_still_reads_with_lower_reliability(expert) -> None:
    full = expert.predict(physio_windows(recording(240), [240.0]))
    for keep in (("eda",), ("bvp",)):
        part = expert.predict(physio_windows(recording(240, signals=keep), [240.0]))
        assert np.isfinite(part.ekman).all()
        assert part.info["reliability"][0] < full.info["reliability"][0]
        assert part.info["signals"][0] == list(keep)


def test_motion_is_flagged_and_lowers_reliability(expert) -> None:
    still = expert.predict(physio_windows(recording(240, motion=0.005), [240.0]))
    moving = expert.predict(physio_windows(recording(240, motion=0.5), [240.0]))
    assert moving.info["motion"] == [True] and still.info["motion"] == [False]
    assert moving.info["reliability"][0] < still.info["reliability"][0]


def test_windows_are_read_against_the_wearers_reference(expert) -> None:
    rec = recording(600, heart_rate=65, scr_number=4, seed=3)
    own = physio_windows(rec, [600.0])
    other = physio_windows(recording(600, heart_rate=95, scr_number=15, seed=4), [600.0])[0]
    against_other = physio_windows(rec, [600.0], reference=(other.reference, other.reference_min))
    np.testing.assert_array_equal(own[0].features, against_other[0].features)  # same signal ...
    assert not np.allclose(expert.inputs(own), expert.inputs(against_other))  # ... read against another wearer
    assert own[0].reference_min == pytest.approx(10.0)


def test_bad_windows_are_refused(expert) -> None:
    w = physio_windows(recording(120), [120.0])[0]
    empty = PhysioWindow(np.full(len(FEATURES), np.nan, np.float32), np.zeros(len(GROUP_NAMES), np.float32),
                         w.reference, 2.0)
    for bad in ([empty], ["not a window"], [PhysioWindow(w.features[:3], w.coverage, w.reference, 2.0)]):
        with pytest.raises(DataError):
            expert.predict(bad)


# --------------------------------------------------------------------------- in the analysis


def _session(**kw) -> AnalysisSession:
    cfg = {"segmentation": "window", "window_s": 10.0, "text": False, "audio": False, "face": False,
           "fusion": "evidence"}
    return AnalysisSession(cfg, has_audio=False, vad=False, kind="physio", **kw)


def test_batch_physio_timeline_reads_segments_once_enough_signal_is_there() -> None:
    rec = recording(150)
    s = _session(physio=rec)
    s.advance(rec.end)
    res = s.result(duration=rec.end)
    assert [seg.end for seg in res.segments][-1] == pytest.approx(150.0)
    early, late = res.segments[0].modalities["physio"], res.segments[-1].modalities["physio"]
    assert not early.ok and "too little physiological signal" in early.reason
    assert late.ok and late.expert == "physio-wesad" and 0 < late.reliability <= 1
    assert late.quality["window_s"] == 60.0 and "p_stress" in late.quality
    assert res.segments[-1].label == late.label  # the only modality: the fused label is its own
    assert res.media["physio"]["bvp"]["rate_hz"] == 64.0


def test_offset_moves_the_signals_on_the_media_clock() -> None:
    rec = recording(100)
    s = AnalysisSession({"segmentation": "window", "window_s": 10.0, "text": False, "audio": False, "face": False,
                         "fusion": "evidence", "physio_offset_s": 50.0}, has_audio=False, vad=False, physio=rec)
    s.advance(150.0)
    segs = s.result(duration=150.0).segments
    ok = [seg.end for seg in segs if seg.modalities["physio"].ok]
    assert min(ok) >= 50.0 + 30.0  # half the 60 s window must be covered after the offset


def test_live_signals_fed_in_chunks_give_readings_as_the_signals_arrive() -> None:
    rec = recording(120)
    s = _session(physio_live=True)
    got = []
    for t0 in np.arange(0.0, 120.0, 2.0):
        for name, sig in rec.signals.items():
            got += s.feed_physio(name, float(t0), sig.slice(t0, t0 + 2.0), sig.rate)
    got += s.close(120.0)
    assert [g.end for g in got] == sorted(g.end for g in got)
    ok = [g for g in got if g.modalities["physio"].ok]
    assert ok and all(g.end >= 30.0 for g in ok)
    with pytest.raises(DataError):
        _session().feed_physio("eda", 0.0, np.ones(8), 4.0)  # not opened for live signals


def test_a_lagging_wearable_does_not_hold_the_other_readings_back() -> None:
    from emofuse.analysis.paths.physio import MAX_LAG_S

    s = _session(physio_live=True)
    got = s.feed_physio("eda", 0.0, np.full(4 * 40, 2.0), 4.0)  # 40 s of EDA, then the wearable goes quiet
    assert [g.end for g in got] == [10.0, 20.0, 30.0]
    got = s.advance(55.0)
    assert [g.end for g in got] == [40.0]  # [40, 50] has closed too, but waits for the signals ...
    got = s.advance(50.0 + MAX_LAG_S)
    assert [g.end for g in got] == [50.0]  # ... until the media is MAX_LAG_S past its end
    assert got[0].modalities["physio"].quality["coverage_eda"] == pytest.approx(40 / 60, abs=0.02)  # what there was


def test_live_signal_errors_are_clear() -> None:
    s = _session(physio_live=True)
    with pytest.raises(DataError, match="outside the plausible"):
        s.feed_physio("eda", 0.0, np.full(40, 250_000.0), 4.0)  # Ω, not µS
    with pytest.raises(DataError, match="below"):
        s.feed_physio("bvp", 0.0, np.zeros(40), 4.0)
    with pytest.raises(UnknownNameError):
        s.feed_physio("edaa", 0.0, np.full(40, 2.0), 4.0)
    s.feed_physio("eda", 0.0, np.full(40, 2.0), 4.0)
    with pytest.raises(DataError, match="rate changed"):
        s.feed_physio("eda", 10.0, np.full(80, 2.0), 8.0)


def test_trained_fusion_joins_physio_through_the_rule() -> None:
    from emofuse.analysis import AnalyzeConfig
    from emofuse.analysis.fusion import make_fuser

    fuser = make_fuser(AnalyzeConfig(fusion="trained"))
    p = lambda k: [0.9 if i == k else 0.1 / 6 for i in range(7)]  # noqa: E731
    mods = {"audio": ModalityResult.from_probs(p(0), reliability=1.0),
            "face": ModalityResult.from_probs(p(0), reliability=1.0),
            "physio": ModalityResult.from_probs(p(2), reliability=1.0)}
    probs, weights = fuser(mods)
    assert set(weights) == {"audio", "face", "physio"} and sum(weights.values()) == pytest.approx(1.0, abs=1e-3)
    assert 0 < weights["physio"] < 0.5
    without, _ = fuser({m: r for m, r in mods.items() if m != "physio"})
    assert probs[2] > without[2]  # the body's reading moved the fused distribution toward it


# --------------------------------------------------------------------------- evaluation on labelled files


def _wesad_file(path, rec, labels: np.ndarray, subject: str):  # noqa: ANN001, ANN202
    s = rec.signals
    np.savez(path, subject=np.array(subject), fs=np.array(4), eda=s["eda"].data.astype(np.float32),
             temp=s["temp"].data.astype(np.float32), acc=(64.0 * s["acc"].data).astype(np.float32),
             bvp=s["eda"].data.astype(np.float32), bvp_64=s["bvp"].data.astype(np.float32),
             label=labels.astype(np.int8))
    return path


def test_evaluate_reads_wesad_layout_files_and_folders(tmp_path) -> None:
    from emofuse.experts import evaluate_expert

    for k, subject in enumerate(("S90", "S91")):
        rec = recording(300, seed=10 + k)
        labels = np.repeat([0, 1, 2, 4, 3], 4 * 60)  # transient, baseline, stress, meditation, amusement minutes
        _wesad_file(tmp_path / f"{subject}_wrist.npz", rec, labels, subject)
    one = evaluate_expert("physio-wesad", tmp_path / "S90_wrist.npz")
    # 60 s windows every 5 s, >= 90 % one condition: the window ending at each minute's end, and the one after
    assert one["n"] > 0 and one["space"] == "wesad3" and one["subjects"] == ["S90"]
    assert 0 <= one["accuracy"] <= 1 and set(one["two_class"]) >= {"accuracy", "f1_macro"}
    both = evaluate_expert("physio-wesad", tmp_path, predictions=tmp_path / "pred.csv")
    assert both["subjects"] == ["S90", "S91"] and both["n"] == 2 * one["n"]
    assert set(both["by_group"]["groups"]) == {"S90", "S91"} and both["by_group"]["key"] == "subject"
    rows = (tmp_path / "pred.csv").read_text().splitlines()
    assert len(rows) == 1 + both["n"] and rows[0].startswith("id,subject,end_s,true,predicted")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no labelled recordings"):
        evaluate_expert("physio-wesad", tmp_path / "empty")


def test_cli_evaluate_takes_another_weights_folder(tmp_path) -> None:
    import shutil

    from typer.testing import CliRunner

    from emofuse.cli import app
    from emofuse.experts import weights_dir

    rec = recording(300, seed=12)
    f = _wesad_file(tmp_path / "S92_wrist.npz", rec, np.repeat([0, 1, 2, 4, 3], 4 * 60), "S92")
    mine = shutil.copytree(weights_dir("physio-wesad"), tmp_path / "retrained")
    r = CliRunner().invoke(app, ["evaluate", "physio-wesad", str(f), "--weights", str(mine), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["subjects"] == ["S92"]
    r = CliRunner().invoke(app, ["evaluate", "physio-wesad", str(f), "--weights", str(tmp_path / "none")])
    assert r.exit_code == 2 and "card.json" in r.output
