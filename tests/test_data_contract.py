"""Contract tests over every registered corpus reader and feature-format reader.

Each reader needs three fixture builders here: a tiny example in its official layout (with the
items it must give), a missing path, and bad content with the one documented error type. The
cases are parametrized from the registries, so a reader registered later fails here until its
builders are added.
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emofuse.data.corpora import CORPORA, load_corpus, sniff_corpus
from emofuse.data.dataset import FeatureDataset
from emofuse.data.formats import READERS, load_dataset, sniff_format
from emofuse.errors import DataError, MissingFileError, UnknownNameError, UnsafeFileError
from emofuse.labels import get_label_space
from emofuse.modalities import MODALITIES, canonical_modality

REASON = "fixture written by this test"


@dataclass
class Case:
    """A fixture in a reader's layout and what reading it must give."""

    path: Any
    ids: list[str]
    labels: list[Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    sniffed: bool = True  # the reader is told from the layout (else it must be named)
    modalities: list[str] | None = None  # feature formats: modalities after reading


def touch(path: Path, data: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ============================================================================ corpus fixtures
def fer_csv(rows: list[tuple[int, str]]) -> str:
    px = " ".join(["7"] * 48 * 48)
    return "emotion,pixels,Usage\n" + "".join(f"{e},{px},{u}\n" for e, u in rows)


def corpus_fer2013(d: Path) -> Case:
    p = touch(d / "fer2013.csv", fer_csv([(3, "Training"), (6, "PublicTest")]).encode())
    return Case(p, ["0", "1"], ["happy", "neutral"])


def corpus_goemotions(d: Path) -> Case:
    (d / "emotions.txt").write_text("\n".join(get_label_space("goemotions28").classes) + "\n")
    p = touch(d / "train.tsv", b"so good\t17\tc1\nugh\t2,3\tc2\n")
    return Case(p, ["c1", "c2"], [("joy",), ("anger", "annoyance")])


def corpus_emodb(d: Path) -> Case:
    for name in ("03a01Wa.wav", "08b02Nc.wav"):
        touch(d / "emodb" / "wav" / name)
    return Case(d / "emodb", ["03a01Wa", "08b02Nc"], ["anger", "neutral"])


def corpus_ravdess(d: Path) -> Case:
    touch(d / "ravdess" / "Actor_01" / "03-01-05-01-01-01-01.wav")
    touch(d / "ravdess" / "Actor_02" / "03-01-01-01-02-01-02.wav")
    return Case(d / "ravdess", ["03-01-05-01-01-01-01", "03-01-01-01-02-01-02"], ["angry", "neutral"])


def corpus_audio_csv(d: Path) -> Case:
    touch(d / "a.wav")
    touch(d / "b.wav")
    p = touch(d / "list.csv", b"path,label,speaker\na.wav,happy,s1\nb.wav,sad,s2\n")
    return Case(p, ["a.wav", "b.wav"], ["happy", "sad"])


def corpus_text_table(d: Path) -> Case:
    p = touch(d / "texts.csv", b"text,label\nwhat a day,happy\noh no,sad\n")
    return Case(p, ["0", "1"], ["happy", "sad"], sniffed=False)


def corpus_folders(d: Path) -> Case:
    touch(d / "faces" / "happy" / "a.png")
    touch(d / "faces" / "sad" / "b.jpg")
    return Case(d / "faces", ["happy/a.png", "sad/b.jpg"], ["happy", "sad"])


CORPUS_FIXTURES: dict[str, Callable[[Path], Case]] = {
    "fer2013": corpus_fer2013, "goemotions": corpus_goemotions, "emodb": corpus_emodb, "ravdess": corpus_ravdess,
    "audio_csv": corpus_audio_csv, "text_table": corpus_text_table, "folders": corpus_folders,
}


def _bad_goemotions(d: Path) -> Path:
    (d / "emotions.txt").write_text("\n".join(get_label_space("goemotions28").classes) + "\n")
    return touch(d / "train.tsv", b"no tabs on this line\n")


#: Bad content per reader: (builder, options, the one documented error type).
CORPUS_BAD: dict[str, tuple[Callable[[Path], Path], dict[str, Any], type[Exception]]] = {
    "fer2013": (lambda d: touch(d / "fer2013.csv", b"label,image\n0,1 2\n"), {}, DataError),
    "goemotions": (_bad_goemotions, {}, DataError),
    "emodb": (lambda d: touch(d / "wav" / "notes.txt").parent.parent, {"strict": True}, DataError),
    "ravdess": (lambda d: touch(d / "Actor_01" / "03-01-09-01-01-01-01.wav").parent.parent, {"strict": True},
                DataError),
    "audio_csv": (lambda d: touch(d / "list.csv", b"path,label\na.wav,happy,extra\n"), {}, DataError),
    "text_table": (lambda d: touch(d / "t.csv", b"text,label\nhi,happy,extra\n"), {}, DataError),
    "folders": (lambda d: touch(d / "flat" / "x.png").parent, {}, DataError),
}


# ============================================================================ feature-format fixtures
def mosi_arrays(n: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    utt = np.array([f"v{i // 2}_{i % 2 + 1}" for i in range(n)])
    return {"utterance_id": utt, "video_id": np.array([u.rsplit("_", 1)[0] for u in utt]),
            "transcript": np.array(["words"] * n), "text": rng.normal(size=(n, 5)).astype(np.float32),
            "audio": rng.normal(size=(n, 3)).astype(np.float32), "video": rng.normal(size=(n, 4)).astype(np.float32),
            "label": np.arange(n) % 2}


def format_features(d: Path) -> Case:
    ds = FeatureDataset({"text": np.zeros((2, 3), np.float32), "video": np.ones((2, 4, 2), np.float32)},
                        np.array([0, 1]), ids=["a", "b"], label_space="sentiment2")
    return Case(ds.save(d / "saved"), ["a", "b"], [0, 1], modalities=["text", "face"])


def format_mosi_bclstm(d: Path) -> Case:
    np.savez(d / "dev.npz", **mosi_arrays())
    return Case(d / "dev.npz", ["v0_1", "v0_2", "v1_1", "v1_2"], [0, 1, 0, 1], modalities=["text", "audio", "face"])


def mmsa_split(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    return {"id": np.array([f"v{i}$_$1" for i in range(n)], dtype=object),
            "text": rng.normal(size=(n, 3, 6)).astype(np.float32),
            "audio": rng.normal(size=(n, 4, 2)).astype(np.float32),
            "vision": rng.normal(size=(n, 2, 3)).astype(np.float32),
            "regression_labels": np.linspace(-1, 1, n).astype(np.float32)}


def format_mmsa(d: Path) -> Case:
    p = touch(d / "mosi.pkl", pickle.dumps({"train": mmsa_split(3), "test": mmsa_split(2)}))
    return Case(p, ["v0$_$1", "v1$_$1", "v2$_$1"], [-1.0, 0.0, 1.0], modalities=["text", "audio", "face"],
                options={"split": "train", "allow_pickle": True, "pickle_reason": REASON})


def write_csd(path: Path, root: str, entries: dict[str, tuple[np.ndarray, np.ndarray]]) -> Path:
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        data = f.create_group(root).create_group("data")
        f[root].create_group("metadata")
        for vid, (feats, ivals) in entries.items():
            data.create_group(vid).create_dataset("features", data=feats)
            data[vid].create_dataset("intervals", data=ivals)
    return path


def format_csd(d: Path) -> Case:
    frames = (np.arange(8, dtype=np.float64)[:, None], np.stack([np.arange(8), np.arange(8) + 1.0], 1) * 0.5)
    facet = write_csd(d / "FACET.csd", "FACET", {"v1": frames})
    covarep = write_csd(d / "COVAREP.csd", "COVAREP", {"v1": frames})
    labels = write_csd(d / "labels.csd", "Opinion Segment Labels",
                       {"v1": (np.array([[1.0], [-1.0]]), np.array([[0.0, 2.0], [2.0, 4.0]]))})
    # the SDK's usual naming: 'video' for the FACET features, read as the face modality
    return Case({"audio": covarep, "video": facet}, ["v1[0]", "v1[1]"], [1.0, -1.0], options={"labels": labels},
                modalities=["audio", "face"])


FORMAT_FIXTURES: dict[str, Callable[[Path], Case]] = {
    "features": format_features, "mosi_bclstm": format_mosi_bclstm, "mmsa": format_mmsa, "csd": format_csd,
}


def _bad_features(d: Path) -> Path:
    out = d / "saved"
    touch(out / "manifest.json", json.dumps({"format": "something-else"}).encode())
    return out


def _bad_mosi(d: Path) -> Path:
    arrays = mosi_arrays()
    arrays.pop("audio")
    np.savez(d / "bad.npz", **arrays)
    return d / "bad.npz"


#: Bad content per format: (builder, options, the one documented error type).
FORMAT_BAD: dict[str, tuple[Callable[[Path], Path], dict[str, Any], type[Exception]]] = {
    "features": (_bad_features, {}, DataError),
    "mosi_bclstm": (_bad_mosi, {}, DataError),
    "mmsa": (lambda d: touch(d / "bad.pkl", pickle.dumps([1, 2, 3])),
             {"allow_pickle": True, "pickle_reason": REASON}, DataError),
    "csd": (lambda d: touch(d / "bad.csd", b"not an HDF5 file"), {"labels": "labels.csd"}, DataError),
}


# ============================================================================ helpers
def fixture_for(table: dict[str, Any], name: str, table_name: str) -> Any:
    """The builder of reader ``name``; a registered reader without one fails its contract."""
    if name not in table:
        pytest.fail(f"reader {name!r} is registered but has no fixture builder: add one to {table_name} in "
                    "tests/test_data_contract.py")
    return table[name]


# ============================================================================ corpus readers
@pytest.mark.parametrize("name", CORPORA.names())
def test_corpus_reader_reads_its_official_layout(tmp_path: Path, name: str) -> None:
    case = fixture_for(CORPUS_FIXTURES, name, "CORPUS_FIXTURES")(tmp_path)
    if case.sniffed:
        assert sniff_corpus(case.path) == name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean fixture reads without skip warnings
        corpus = load_corpus(case.path, format="auto" if case.sniffed else name, **case.options)
    assert corpus.info["format"] == name
    assert corpus.ids() == case.ids and corpus.labels() == case.labels
    assert len(corpus.labels_as_indices()) == len(case.ids)


@pytest.mark.parametrize("name", CORPORA.names())
def test_corpus_reader_missing_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(MissingFileError):
        CORPORA.get(name)(tmp_path / "missing")
    with pytest.raises(MissingFileError):
        load_corpus(tmp_path / "missing", format=name)


@pytest.mark.parametrize("name", CORPORA.names())
def test_corpus_reader_bad_content(tmp_path: Path, name: str) -> None:
    build, options, error = fixture_for(CORPUS_BAD, name, "CORPUS_BAD")
    path = build(tmp_path)
    with pytest.raises(error):
        load_corpus(path, format=name, **options)


@pytest.mark.parametrize("name", CORPORA.names())
def test_corpus_reader_rejects_unknown_options(tmp_path: Path, name: str) -> None:
    case = fixture_for(CORPUS_FIXTURES, name, "CORPUS_FIXTURES")(tmp_path)
    with pytest.raises(UnknownNameError) as err:
        load_corpus(case.path, format=name, lable_map={})
    assert err.value.suggestions[0] == "label_map"  # every reader shares the label options


def test_every_corpus_reader_has_fixtures() -> None:
    assert set(CORPUS_FIXTURES) == set(CORPUS_BAD) == set(CORPORA.names())


# ============================================================================ feature formats
@pytest.mark.parametrize("name", READERS.names())
def test_format_reads_its_layout_into_canonical_modalities(tmp_path: Path, name: str) -> None:
    case = fixture_for(FORMAT_FIXTURES, name, "FORMAT_FIXTURES")(tmp_path)
    assert sniff_format(case.path) == name
    ds = load_dataset(case.path, **case.options)
    assert ds.ids.tolist() == case.ids
    np.testing.assert_allclose(np.asarray(ds.targets, dtype=np.float64), case.labels)
    assert list(ds.features) == case.modalities
    # one vocabulary: no alias (video, vision, acoustic ...) survives reading
    assert all(canonical_modality(m) == m for m in ds.features)
    assert set(ds.features) <= set(MODALITIES)
    assert set(ds.lengths) <= set(ds.features) and set(ds.present) <= set(ds.features)


@pytest.mark.parametrize("name", READERS.names())
def test_format_missing_path(tmp_path: Path, name: str) -> None:
    options = {"labels": tmp_path / "labels.csd"} if name == "csd" else {}
    if name == "mmsa":
        options = {"allow_pickle": True, "pickle_reason": REASON}
    with pytest.raises(MissingFileError):
        READERS.get(name)(tmp_path / "missing", **options)
    with pytest.raises(MissingFileError):
        load_dataset(tmp_path / "missing", format=name)


@pytest.mark.parametrize("name", READERS.names())
def test_format_bad_content(tmp_path: Path, name: str) -> None:
    build, options, error = fixture_for(FORMAT_BAD, name, "FORMAT_BAD")
    if name == "csd":
        pytest.importorskip("h5py")
    path = build(tmp_path)
    with pytest.raises(error):
        load_dataset(path, format=name, **options)


@pytest.mark.parametrize("name", READERS.names())
def test_format_rejects_unknown_options(tmp_path: Path, name: str) -> None:
    case = fixture_for(FORMAT_FIXTURES, name, "FORMAT_FIXTURES")(tmp_path)
    with pytest.raises(UnknownNameError) as err:
        load_dataset(case.path, **case.options, chek=False)
    assert err.value.suggestions == ["check"]  # every format takes check=


def test_every_format_has_fixtures() -> None:
    assert set(FORMAT_FIXTURES) == set(FORMAT_BAD) == set(READERS.names())


def test_pickle_needs_the_opt_in(tmp_path: Path) -> None:
    case = format_mmsa(tmp_path)
    with pytest.raises(UnsafeFileError):
        load_dataset(case.path, split="train")


def test_two_names_of_one_modality_are_refused(tmp_path: Path) -> None:
    arrays = mosi_arrays()
    ds = FeatureDataset({"video": arrays["video"], "face": arrays["video"]}, arrays["label"])
    with pytest.raises(DataError, match="'face', 'video'"):
        load_dataset(ds.save(tmp_path / "both"))
