"""``emofuse robustness expert NAME CORPUS`` and ``emofuse evaluate`` on generated corpora in user layouts.

Audio lists with absolute paths, class folders of 48x48 face crops and a labelled text table;
the clean row of a sweep is the expert's plain evaluation, and bad requests get one clear line.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from emofuse.cli import app

sf = pytest.importorskip("soundfile")

pytestmark = pytest.mark.integration


def _voice(f0: float, seed: int, sr: int = 16000, seconds: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * t * 2.0)) ** 2
    return (0.2 * wave * envelope + 0.003 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def audio_list(tmp_path_factory):
    """A path,label,speaker,utt CSV whose paths are absolute, in another folder than the list."""
    root = tmp_path_factory.mktemp("audio")
    (root / "clips").mkdir()
    rows = []
    for i, (label, f0, spk) in enumerate([("anger", 230, "s1"), ("sadness", 110, "s1"), ("happiness", 260, "s2"),
                                          ("neutral", 130, "s2"), ("anger", 240, "s3"), ("sadness", 105, "s3")]):
        path = root / "clips" / f"u{i}.wav"
        sf.write(path, _voice(f0, i), 16000)
        rows.append([str(path.resolve()), label, spk, f"utt-{i}"])
    lists = root / "lists"
    lists.mkdir()
    with open(lists / "test.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["path", "label", "speaker", "utt"], *rows])
    bank = root / "bank"
    bank.mkdir()
    for j in range(3):
        sf.write(bank / f"other{j}.flac", _voice(150 + 40 * j, 10 + j, seconds=2.0), 16000)
    return lists / "test.csv", bank


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory):
    """FER-style class folders of 48x48 grey crops (the layout FER2013 image dumps use)."""
    from PIL import Image

    from emofuse.data.synth_media import demo_face

    root = tmp_path_factory.mktemp("faces")
    face = Image.fromarray(demo_face()).convert("L")
    for c in ("happy", "neutral", "sad"):
        (root / c).mkdir()
    for k, (c, angle) in enumerate([("happy", 0), ("happy", 8), ("neutral", -8), ("sad", 4), ("sad", -4)]):
        face.rotate(angle).resize((48, 48)).save(root / c / f"{k}.png")
    return root


@pytest.fixture(scope="module")
def text_table(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "texts.csv"
    rows = [("I am so happy and grateful today", "happiness"), ("this makes me furious", "anger"),
            ("so sad and lonely tonight", "sadness"), ("what a wonderful surprise, thank you", "happiness"),
            ("I hate this, it is disgusting", "disgust"), ("the meeting is at noon", "neutral")]
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([("text", "label"), *rows])
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, [*args])


def test_evaluate_reads_an_audio_list_with_absolute_paths_and_an_id_column(audio_list, tmp_path):
    listing, _ = audio_list
    r = invoke("evaluate", "voice-ekman", str(listing), "--label-space", "ekman7", "--json",
               "--predictions", str(tmp_path / "p.csv"))
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n"] == 6
    ids = [row["id"] for row in csv.DictReader(open(tmp_path / "p.csv"))]
    assert ids[0].endswith("clips/u0.wav") and ids[0].startswith("/")  # the id is the path as written
    r = invoke("evaluate", "voice-ekman", str(listing), "--label-space", "ekman7", "--id-column", "utt",
               "--by", "speaker", "--json", "--predictions", str(tmp_path / "q.csv"))
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc["by_group"]["groups"]) == {"s1", "s2", "s3"}
    assert [row["id"] for row in csv.DictReader(open(tmp_path / "q.csv"))] == [f"utt-{i}" for i in range(6)]
    r = invoke("evaluate", "voice-ekman", str(listing), "--label-space", "ekman7", "--id-column", "utterance")
    assert r.exit_code != 0 and "utt" in r.output  # an unknown column is named with the close match


def test_sweep_clean_row_is_the_plain_evaluation_text(text_table):
    ev = invoke("evaluate", "text-goemotions", str(text_table), "--format", "text_table", "--label-space", "ekman7",
                "--json")
    assert ev.exit_code == 0, ev.output
    r = invoke("robustness", "expert", "text-goemotions", str(text_table), "--data-format", "text_table",
               "--label-space", "ekman7",
               "--levels", "0.5,1", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [x["condition"] for x in rows] == ["clean", "word errors WER 0.5", "word errors WER 1"]
    assert rows[0]["accuracy"] == pytest.approx(json.loads(ev.stdout)["accuracy"])
    assert all(x["n"] == 6 and x["target"] == "text-goemotions" for x in rows)
    assert rows[2]["accuracy"] < rows[0]["accuracy"]  # every word replaced: the keywords are gone


def test_sweep_face_crop_folder_is_deterministic_and_writes_reports(face_folder, tmp_path):
    args = ("robustness", "expert", "face-fer2013", str(face_folder), "--label-space", "fer2013",
            "-c", "blur,occlusion", "--format", "csv")
    a, b = invoke(*args), invoke(*args, "--out", str(tmp_path / "rep"))
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert a.stdout == b.stdout
    rows = list(csv.DictReader(a.stdout.splitlines()))
    assert {r["kind"] for r in rows} == {"blur", "occlusion"} and all(r["n"] == "5" for r in rows)
    assert sorted({p.name for p in (tmp_path / "rep").iterdir()}) == [
        "robustness.csv", "robustness.json", "robustness.md", "robustness.png"]
    meta = json.loads((tmp_path / "rep" / "robustness.json").read_text())["meta"]
    assert meta["n"] == 5 and meta["corruptions"] == ["blur", "occlusion"]


def test_sweep_voice_with_a_babble_bank_and_absolute_paths(audio_list):
    listing, bank = audio_list
    r = invoke("robustness", "expert", "voice-ekman", str(listing), "--label-space", "ekman7", "-c", "babble_noise",
               "--levels", "20",
               "--bank", str(bank), "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert [x["condition"] for x in rows] == ["clean", "babble noise 20 dB SNR"] and rows[1]["n"] == 6
    # every speaker of the list is scored and no file is left: babble by name needs a bank
    r = invoke("robustness", "expert", "voice-ekman", str(listing), "--label-space", "ekman7", "-c", "babble_noise")
    assert r.exit_code == 2 and "--bank" in r.output


def test_babble_bank_prefers_other_speakers(audio_list):
    from emofuse.experts import load_expert
    from emofuse.robustness import babble_bank, corpus_inputs

    listing, _ = audio_list
    inputs = corpus_inputs(load_expert("voice-ekman"), listing, limit=2, seed=3, label_space="ekman7")
    assert len(inputs.labels) == 2
    scored = set(inputs.speakers)
    bank = babble_bank(inputs, size=10)
    others = [p for p, s in zip(inputs.sources, inputs.source_speakers, strict=True) if s not in scored]
    assert len(bank) == len(others) > 0  # only the speakers that are not scored


@pytest.mark.parametrize(("args", "message"), [
    (("-c", "blur,occlusion", "--levels", "1"), "one --corruption"),
    (("-c", "white_noise",), "for audio input"),
    (("-c", "blurr",), "blur"),
    (("--levels", "x", "-c", "blur"), "'x' is not a number"),
])
def test_bad_requests_are_one_clear_line(face_folder, args, message):
    r = invoke("robustness", "expert", "face-fer2013", str(face_folder), "--label-space", "fer2013", *args)
    assert r.exit_code == 2 and message in r.output, r.output
    assert "Traceback" not in r.output
