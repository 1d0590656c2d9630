"""Raw-corpus readers: tiny fixtures written in each corpus' official on-disk layout."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from emofuse.data.corpora import (
    CORPORA,
    DATA_DIR_ENV,
    Corpus,
    CorpusItem,
    list_corpora,
    load_corpus,
    read_fer2013,
    read_goemotions,
    sniff_corpus,
)
from emofuse.errors import ConfigError, DataError, MissingFileError, UnknownNameError
from emofuse.labels import get_label_space

GO28 = get_label_space("goemotions28").classes
# the official data/ekman_mapping.json of google-research/goemotions ("joy", no "neutral")
GO_EKMAN = {
    "anger": ["anger", "annoyance", "disapproval"], "disgust": ["disgust"], "fear": ["fear", "nervousness"],
    "joy": ["joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism", "relief", "pride",
            "admiration", "desire", "caring"],
    "sadness": ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
    "surprise": ["surprise", "realization", "confusion", "curiosity"],
}


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


# ---------------------------------------------------------------------------- FER2013
FER_ROWS = [(0, "Training"), (3, "Training"), (6, "Training"), (2, "PublicTest"), (5, "PublicTest"),
            (1, "PrivateTest"), (4, "PrivateTest")]


def fer_pixels(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, 48, 48), dtype=np.uint8)


def fer_text(rows: list[tuple[int, str]] = FER_ROWS, pixels: np.ndarray | None = None,
             newline: str = "\n") -> str:
    pix = fer_pixels(len(rows)) if pixels is None else pixels
    lines = ["emotion,pixels,Usage"]
    lines += [f"{e},{' '.join(map(str, pix[i].ravel().tolist()))},{u}" for i, (e, u) in enumerate(rows)]
    return newline.join(lines) + newline


def write_fer(path: Path, text: str, *, gz: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_fer2013_plain_gzip_and_sniffed_gzip_read_alike(tmp_path):
    text = fer_text()
    plain = read_fer2013(write_fer(tmp_path / "fer2013.csv", text))
    gz = read_fer2013(write_fer(tmp_path / "fer2013.csv.gz", text, gz=True))
    # gzip told from the magic bytes, not the name; Windows line ends are fine
    disguised = read_fer2013(write_fer(tmp_path / "renamed.csv", fer_text(newline="\r\n"), gz=True))
    expected = fer_pixels(len(FER_ROWS))
    classes = get_label_space("fer2013").classes
    for corpus in (plain, gz, disguised):
        assert corpus.name == "fer2013" and corpus.label_space == "fer2013" and corpus.modality == "face"
        assert len(corpus) == 7 and corpus.ids() == [str(i) for i in range(7)]
        assert corpus.labels() == [classes[e] for e, _ in FER_ROWS]
        assert corpus.labels_as_indices().tolist() == [e for e, _ in FER_ROWS]
        assert corpus[0].pixels.dtype == np.uint8 and corpus[0].pixels.shape == (48, 48)
        np.testing.assert_array_equal(corpus.pixel_array(), expected)
        assert corpus.class_counts() == dict.fromkeys(classes, 1)


def test_fer2013_usage_filter(tmp_path):
    path = write_fer(tmp_path / "fer2013.csv.gz", fer_text(), gz=True)
    train = read_fer2013(path, usage="Training")
    assert len(train) == 3 and {it.meta["usage"] for it in train} == {"Training"}
    tests = load_corpus(path, usage=["PublicTest", "PrivateTest"])
    assert tests.ids() == ["3", "4", "5", "6"]  # ids are data rows of the whole file
    np.testing.assert_array_equal(tests.pixel_array(), fer_pixels(7)[3:])
    assert len(read_fer2013(path, usage=None)) == 7
    with pytest.raises(UnknownNameError) as err:
        read_fer2013(path, usage="Trainig")
    assert "Training" in err.value.suggestions
    only_train = write_fer(tmp_path / "train_only.csv", fer_text(FER_ROWS[:3]))
    with pytest.raises(DataError, match="no rows with Usage"):
        read_fer2013(only_train, usage="PrivateTest")


@pytest.mark.parametrize(("edit", "match"), [
    (lambda px: px.rsplit(" ", 1)[0], "line 3: 2303 pixel values"),
    (lambda px: px + " 7", "line 3: 2305 pixel values"),
    (lambda px: px.replace("1", "x", 1), "line 3: value"),
    (lambda px: "256" + px[px.index(" "):], "line 3: pixel values must lie in 0..255"),
])
def test_fer2013_bad_pixel_rows_are_named(tmp_path, edit, match):
    lines = fer_text().splitlines()
    emo, px, use = lines[2].split(",")
    lines[2] = f"{emo},{edit(px)},{use}"
    with pytest.raises(DataError, match=match):
        read_fer2013(write_fer(tmp_path / "bad.csv", "\n".join(lines)))


@pytest.mark.parametrize(("row", "match"), [("7,{px},Training", "emotion '7'"), ("0,{px},Train", "Usage 'Train'"),
                                            ("0,{px}", "2 fields")])
def test_fer2013_bad_fields_are_named(tmp_path, row, match):
    px = " ".join(["0"] * 2304)
    text = fer_text(FER_ROWS[:2]) + row.format(px=px) + "\n"
    with pytest.raises(DataError, match=f"line 4: .*{match}"):
        read_fer2013(write_fer(tmp_path / "bad.csv", text))
    with pytest.raises(DataError, match="lacks the columns"):
        read_fer2013(write_fer(tmp_path / "nohead.csv", "label,image\n0,1 2\n"))


def test_fer2013_relabel_to_ekman(tmp_path):
    path = write_fer(tmp_path / "fer2013.csv", fer_text())
    ekman = read_fer2013(path, label_space="ekman7")
    assert ekman.label_space == "ekman7" and ekman.classes == get_label_space("ekman7").classes
    assert ekman.labels()[:3] == ["anger", "happiness", "neutral"]
    assert ekman.labels() == read_fer2013(path).to_label_space("ekman7").labels()


# ---------------------------------------------------------------------------- GoEmotions
GO_LINES = [
    ('I "love" this, it\'s great!', "18,17", "c1"),      # love + joy (ids in any order)
    ("so annoying, why", "3,2", "c2"),                  # annoyance + anger -> ekman anger once
    ("ok", "27", "c3"),                                 # neutral
    ("wait what?\u2028really", "26,6", "c4"),           # surprise + confusion; \u2028 is no line break
    ("ugh gross", "11", "c5"),                          # disgust
]


def write_goemotions(root: Path, lines: list[tuple[str, str, str]] = GO_LINES, *, split: str = "train",
                     mapping: dict | None = GO_EKMAN) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "emotions.txt").write_text("\n".join(GO28) + "\n", encoding="utf-8")
    if mapping is not None:
        (root / "ekman_mapping.json").write_text(json.dumps(mapping), encoding="utf-8")
    tsv = root / f"{split}.tsv"
    tsv.write_text("".join(f"{t}\t{ids}\t{cid}\n" for t, ids, cid in lines), encoding="utf-8")
    return tsv


def test_goemotions_28_labels_multilabel(tmp_path):
    corpus = read_goemotions(write_goemotions(tmp_path / "data"))
    assert corpus.label_space == "goemotions28" and corpus.multilabel and corpus.modality == "text"
    assert corpus.ids() == ["c1", "c2", "c3", "c4", "c5"]
    assert corpus[0].text == 'I "love" this, it\'s great!' and corpus[3].text == "wait what?\u2028really"
    assert corpus.labels() == [("joy", "love"), ("anger", "annoyance"), ("neutral",), ("confusion", "surprise"),
                               ("disgust",)]
    y = corpus.labels_as_indices()
    assert y.shape == (5, 28) and y.dtype == np.float32 and y.sum(axis=1).tolist() == [2, 2, 1, 2, 1]
    assert y[0, GO28.index("love")] == 1 and y[0, GO28.index("joy")] == 1
    counts = corpus.class_counts()
    assert list(counts) == list(GO28) and counts["anger"] == 1 and counts["pride"] == 0


@pytest.mark.parametrize("mapping", ["file", "builtin"])
def test_goemotions_ekman_view(tmp_path, mapping):
    tsv = write_goemotions(tmp_path / "data", mapping=GO_EKMAN if mapping == "file" else None)
    corpus = read_goemotions(tsv, view="ekman7")
    assert corpus.label_space == "ekman7" and corpus.multilabel
    assert corpus.labels() == [("happiness",), ("anger",), ("neutral",), ("surprise",), ("disgust",)]
    assert corpus.info["ekman_mapping"] == (str(tsv.parent / "ekman_mapping.json") if mapping == "file"
                                            else "emofuse.labels")
    assert corpus.class_counts() == {"anger": 1, "disgust": 1, "fear": 0, "happiness": 1, "sadness": 0,
                                     "surprise": 1, "neutral": 1}


def test_goemotions_ekman_mapping_file_is_used_and_checked(tmp_path):
    tsv = write_goemotions(tmp_path / "data")
    moved = {**GO_EKMAN, "anger": ["anger", "disapproval"], "sadness": [*GO_EKMAN["sadness"], "annoyance"]}
    custom = tmp_path / "custom.json"
    custom.write_text(json.dumps(moved))
    assert read_goemotions(tsv, view="ekman7", ekman_mapping=custom)[1].label == ("anger", "sadness")
    custom.write_text(json.dumps({**GO_EKMAN, "anger": ["anger", "anoyance", "disapproval"]}))
    with pytest.raises(DataError, match="'anoyance' is not a label of emotions.txt; did you mean 'annoyance'"):
        read_goemotions(tsv, view="ekman7", ekman_mapping=custom)
    custom.write_text(json.dumps({k: v for k, v in GO_EKMAN.items() if k != "fear"}))
    with pytest.raises(DataError, match="have no Ekman group"):
        read_goemotions(tsv, view="ekman7", ekman_mapping=custom)
    with pytest.raises(UnknownNameError, match="ekman7"):
        read_goemotions(tsv, view="ekman")
    with pytest.raises(ConfigError):
        read_goemotions(tsv, view="ekman7", label_map={"joy": "happiness"})


def test_goemotions_folder_splits_and_bad_lines(tmp_path):
    root = tmp_path / "data"
    write_goemotions(root)
    write_goemotions(root, GO_LINES[:2], split="dev")
    assert sniff_corpus(root) == "goemotions" and sniff_corpus(root / "dev.tsv") == "goemotions"
    assert len(load_corpus(root, split="dev")) == 2
    assert load_corpus(root, split="train").info["split"] == "train"
    with pytest.raises(DataError, match="choose one with split="):
        load_corpus(root)
    with pytest.raises(UnknownNameError) as err:
        load_corpus(root, split="trian")
    assert err.value.suggestions == ["train"]
    bad = write_goemotions(tmp_path / "bad", [*GO_LINES[:2], ("oops", "3,28", "c9")])
    with pytest.raises(DataError, match="line 3: label ids '3,28' must lie in 0..27"):
        read_goemotions(bad)
    (tmp_path / "bad" / "train.tsv").write_text("no tabs here\n")
    with pytest.raises(DataError, match="line 1: expected text<TAB>label ids<TAB>comment id"):
        read_goemotions(tmp_path / "bad" / "train.tsv")
    (tmp_path / "bad" / "emotions.txt").unlink()
    with pytest.raises(MissingFileError, match="emotions.txt"):
        read_goemotions(tmp_path / "bad" / "train.tsv")


# ---------------------------------------------------------------------------- EmoDB
EMODB = {"03a01Wa.wav": "anger", "03a02Fc.wav": "happiness", "08b01Nd.wav": "neutral", "08b03Tb.wav": "sadness",
         "16a05La.wav": "boredom", "16b10Ea.wav": "disgust", "09a07Aa.wav": "fear"}


def write_emodb(root: Path, extra: tuple[str, ...] = ()) -> Path:
    for name in (*EMODB, *extra):
        touch(root / "wav" / name)
    return root


def test_emodb_names_speakers_and_labels(tmp_path):
    root = write_emodb(tmp_path / "emodb")
    corpus = load_corpus(root)
    assert corpus.name == "emodb" and corpus.label_space == "emodb7" and corpus.modality == "audio"
    assert len(corpus) == 7 and corpus.ids() == sorted(Path(n).stem for n in EMODB)
    assert {it.source.name: it.label for it in corpus} == EMODB
    assert corpus.speakers() == ["03", "08", "09", "16"]
    first = corpus[0]
    assert (first.speaker, first.text, first.meta["text_code"], first.meta["version"]) == ("03", "a01", "a01", "a")
    assert first.meta["gender"] == "male" and corpus.filter(speakers=["08"])[0].meta["gender"] == "female"
    assert corpus.class_counts() == dict.fromkeys(get_label_space("emodb7").classes, 1)
    assert load_corpus(root / "wav").ids() == corpus.ids()  # the wav/ folder itself works too
    ekman = load_corpus(root, label_space="ekman7")
    assert {it.id: it.label for it in ekman}["16a05La"] == "neutral"  # boredom -> neutral


def test_emodb_skips_or_rejects_other_files(tmp_path):
    root = write_emodb(tmp_path / "emodb", extra=("notes.txt", "03a01Xa.wav", ".DS_Store"))
    with pytest.warns(UserWarning, match="skipped 2 of 9 files"):
        corpus = load_corpus(root)
    assert len(corpus) == 7 and corpus.info["skipped"] == 2
    with pytest.raises(DataError, match="2 of 9 files are not named like SSTTTEv.wav"):
        load_corpus(root, strict=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        load_corpus(tmp_path / "empty", format="emodb")


# ---------------------------------------------------------------------------- RAVDESS
RAVDESS = [
    "Actor_01/03-01-05-02-01-01-01.wav",   # speech, angry, strong
    "Actor_01/03-01-01-01-02-02-01.flac",  # speech, neutral
    "Actor_01/03-01-08-01-01-01-01.m4a",   # speech, surprised
    "Actor_01/03-02-03-01-01-01-01.ogg",   # song, happy
    "Actor_02/03-01-03-01-01-01-02.mp3",   # speech, happy
    "Actor_02/03-01-04-02-02-01-02.wav",   # speech, sad
    "Actor_02/01-01-06-01-01-01-02.mp4",   # audio-video, fearful
    "Actor_02/02-01-07-01-01-01-02.mp4",   # video only, disgust
]


def write_ravdess(root: Path, extra: tuple[str, ...] = ()) -> Path:
    for rel in (*RAVDESS, *extra):
        touch(root / rel)
    return root


def test_ravdess_defaults_keep_audio_only_speech(tmp_path):
    root = write_ravdess(tmp_path / "ravdess")
    assert sniff_corpus(root) == "ravdess"
    corpus = load_corpus(root)
    assert corpus.name == "ravdess" and corpus.label_space == "ravdess8" and corpus.modality == "audio"
    assert corpus.ids() == ["03-01-01-01-02-02-01", "03-01-05-02-01-01-01", "03-01-08-01-01-01-01",
                            "03-01-03-01-01-01-02", "03-01-04-02-02-01-02"]
    assert corpus.labels() == ["neutral", "angry", "surprised", "happy", "sad"]
    assert {it.source.suffix for it in corpus} == {".wav", ".flac", ".m4a", ".mp3"}
    assert corpus.info["excluded"] == {"modality=audio_video": 1, "modality=video": 1, "vocal_channel=song": 1}
    assert corpus.speakers() == ["01", "02"] and corpus.groups("gender").tolist() == ["male"] * 3 + ["female"] * 2
    angry = corpus[1]
    assert angry.meta["intensity"] == "strong" and angry.meta["statement"] == "01" and angry.meta["repetition"] == 1
    assert angry.text == "Kids are talking by the door." and corpus[0].text == "Dogs are sitting by the door."


def test_ravdess_options_include_song_and_video(tmp_path):
    root = write_ravdess(tmp_path / "ravdess")
    assert len(load_corpus(root, vocal_channels="all")) == 6
    everything = load_corpus(root, modalities="all", vocal_channels=["speech", "song"])
    assert len(everything) == 8 and everything.modality == "audiovisual" and everything.info["excluded"] == {}
    video = load_corpus(root, modalities=("audio_video", "video"))
    assert video.labels() == ["fearful", "disgust"]
    with pytest.raises(UnknownNameError, match="audio_video"):
        load_corpus(root, modalities="audio-video")
    with pytest.raises(DataError, match="excluded by the filters"):
        load_corpus(root / "Actor_02", modalities="video", vocal_channels="song")


def test_ravdess_malformed_names(tmp_path):
    root = write_ravdess(tmp_path / "ravdess",
                         extra=("Actor_01/03-01-05-02-01-01-02.wav",    # actor 02 in Actor_01
                                "Actor_01/03-01-09-01-01-01-01.wav",    # emotion 09
                                "Actor_01/README.txt"))
    with pytest.warns(UserWarning, match="skipped 3 of 11 files"):
        assert len(load_corpus(root)) == 5
    with pytest.raises(DataError, match="3 of 11 files"):
        load_corpus(root, strict=True)


# ---------------------------------------------------------------------------- generic: audio_csv
def test_audio_csv_resolves_paths_and_reports_missing_files(tmp_path):
    touch(tmp_path / "set" / "clips" / "a.wav")
    touch(tmp_path / "set" / "clips" / "b.flac")
    elsewhere = touch(tmp_path / "other" / "c.wav")
    table = tmp_path / "set" / "list.csv"
    table.write_text(f"path,label,speaker,gender\nclips/a.wav,happy,s1,f\nclips/b.flac,sad,s2,m\n"
                     f"{elsewhere},happy,s1,f\n")
    corpus = load_corpus(table)  # sniffed from the path column
    assert corpus.info["format"] == "audio_csv" and corpus.name == "list" and corpus.modality == "audio"
    assert corpus.sources() == [tmp_path / "set" / "clips" / "a.wav", tmp_path / "set" / "clips" / "b.flac",
                                elsewhere]
    assert corpus.classes == ("happy", "sad") and corpus.label_space is None
    assert corpus.speakers() == ["s1", "s2"] and corpus[1].meta == {"gender": "m"}
    assert corpus.ids()[:2] == ["clips/a.wav", "clips/b.flac"]
    table.write_text("path,label\nclips/a.wav,happy\nclips/gone.wav,sad\nclips/lost.wav,sad\n")
    with pytest.raises(MissingFileError, match=r"2 of 3 .*'clips/gone.wav', 'clips/lost.wav'"):
        load_corpus(table)
    assert len(load_corpus(table, check_files=False)) == 3


def test_audio_csv_custom_columns_and_label_map(tmp_path):
    touch(tmp_path / "x.wav")
    touch(tmp_path / "y.wav")
    table = tmp_path / "meta.tsv"
    table.write_text("file\temotion\tspk\nx.wav\tjoyful\tA\ny.wav\tmad\tB\n")
    corpus = load_corpus(table, format="audio_csv", path_column="file", label_column="emotion",
                         speaker_column="spk", label_map={"joyful": "happiness", "mad": "anger"},
                         label_space="ekman7")
    assert corpus.labels() == ["happiness", "anger"] and corpus.label_space == "ekman7"
    assert corpus.speakers() == ["A", "B"]
    with pytest.raises(UnknownNameError) as err:
        load_corpus(table, format="audio_csv", path_column="flie", label_column="emotion")
    assert err.value.suggestions == ["file"]
    with pytest.raises(DataError, match=r"'mad' \(1 item\)"):
        load_corpus(table, format="audio_csv", path_column="file", label_column="emotion",
                    label_map={"joyful": "happiness"}, label_space="ekman7")


# ---------------------------------------------------------------------------- generic: text_table
def write_texts(path: Path) -> Path:
    path.write_text("id\tsentence\temotion\tsource\n"
                    "t1\tWhat a day, really!\thappy\tweb\n"
                    "t2\tI'm furious\tmad\tweb\n"
                    "t3\tfine\tmeh\tchat\n"
                    "t4\thm?\tconfused\tchat\n"
                    "t5\tyay\tglad\tweb\n", encoding="utf-8")
    return path


def test_text_table_sniffs_tab_and_maps_labels_from_json(tmp_path):
    table = write_texts(tmp_path / "texts.txt")  # no .tsv suffix: the tab is sniffed from the header
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"happy": "happiness", "glad": "happiness", "mad": "anger", "meh": None,
                                   "confused": "surprise"}))
    corpus = load_corpus(table, format="text_table", text_column="sentence", label_column="emotion",
                         id_column="id", label_map=mapping, label_space="ekman7")
    assert corpus.ids() == ["t1", "t2", "t4", "t5"] and corpus.info["unmapped"] == {"meh": 1}
    assert corpus.texts()[0] == "What a day, really!" and corpus[0].meta == {"source": "web"}
    assert corpus.labels() == ["happiness", "anger", "surprise", "happiness"]
    assert corpus.class_counts()["happiness"] == 2


def test_text_table_unknown_labels_error_or_drop(tmp_path):
    table = write_texts(tmp_path / "texts.tsv")
    grouped = tmp_path / "map.yaml"  # {class: [raw, ...]} like GoEmotions' ekman_mapping.json
    grouped.write_text("happiness: [happy, glad]\nanger: [mad]\n")
    opts = {"format": "text_table", "text_column": "sentence", "label_column": "emotion", "label_map": grouped}
    with pytest.raises(DataError, match=r"2 label names are not in the label_map: 'meh' \(1 item\), 'confused'"):
        load_corpus(table, **opts)
    dropped = load_corpus(table, unknown="drop", **opts)
    assert len(dropped) == 3 and dropped.info["unknown"] == {"confused": 1, "meh": 1}
    assert dropped.classes == ("happiness", "anger") and dropped.label_space is None
    with pytest.raises(UnknownNameError):
        load_corpus(table, unknown="ignore", **opts)
    with pytest.raises(DataError, match="'hapiness'; did you mean 'happiness'"):
        load_corpus(table, **{**opts, "label_map": {"happy": "hapiness"}}, label_space="ekman7")
    # label_space without a map: the raw names themselves must be classes
    with pytest.raises(DataError, match=r"'happy' \(1 item; did you mean 'happiness'"):
        load_corpus(table, format="text_table", text_column="sentence", label_column="emotion",
                    label_space="ekman7")


def test_text_table_csv_quotes_multilabel_and_empty_labels(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text('text,labels,speaker\n"Well, ok",joy|surprise,Ann\n"no",,Bob\nsure,joy,\n')
    with pytest.raises(DataError, match=r"1 rows have an empty label \(lines \[3\]\)"):
        load_corpus(table, format="text_table", label_column="labels", label_sep="|")
    corpus = load_corpus(table, format="text_table", label_column="labels", label_sep="|", speaker_column="speaker",
                         unknown="drop")
    assert corpus.multilabel and corpus.labels() == [("joy", "surprise"), ("joy",)]
    assert corpus.texts() == ["Well, ok", "sure"] and corpus.info["empty_labels"] == 1
    assert [it.speaker for it in corpus] == ["Ann", None]
    assert corpus.labels_as_indices().tolist() == [[1, 1], [1, 0]]
    with pytest.raises(DataError, match="cannot tell which corpus"):
        load_corpus(table)  # a plain table needs format="text_table"


# ---------------------------------------------------------------------------- generic: folders
def test_folders_of_images(tmp_path):
    root = tmp_path / "faces"
    for rel in ("happy/a.png", "happy/sub/b.JPG", "sad/c.png", "sad/readme.md", "notes.png"):
        touch(root / rel)
    (root / "angry").mkdir()
    corpus = load_corpus(root)
    assert corpus.info["format"] == "folders" and corpus.name == "faces" and corpus.modality == "image"
    assert corpus.classes == ("angry", "happy", "sad") and corpus.class_counts() == {"angry": 0, "happy": 2, "sad": 1}
    assert corpus.ids() == ["happy/a.png", "happy/sub/b.JPG", "sad/c.png"]
    assert corpus.info["root_files_ignored"] == 1
    assert len(load_corpus(root, recursive=False)) == 2
    mapped = load_corpus(root, label_map={"happy": "happiness", "sad": "sadness", "angry": "anger"},
                         label_space="ekman7")
    assert mapped.labels() == ["happiness", "happiness", "sadness"] and mapped.label_space == "ekman7"
    with pytest.raises(DataError, match=r"'happy' \(2 items; did you mean 'happiness'\?\), 'sad'"):
        load_corpus(root, label_space="ekman7")
    assert len(load_corpus(root, label_map={"happy": "happiness"}, unknown="drop")) == 2


def test_folders_of_audio_and_errors(tmp_path):
    root = tmp_path / "speech"
    touch(root / "calm" / "1.wav")
    touch(root / "angry" / "2.flac")
    corpus = load_corpus(root, format="folders")
    assert corpus.modality == "audio" and corpus.labels() == ["angry", "calm"]
    assert load_corpus(root, label_space="ravdess8").classes == get_label_space("ravdess8").classes
    (tmp_path / "flat").mkdir()
    touch(tmp_path / "flat" / "x.png")
    with pytest.raises(DataError, match="no class sub-folders"):
        load_corpus(tmp_path / "flat", format="folders")


# ---------------------------------------------------------------------------- Corpus and load_corpus
def test_corpus_helpers():
    items = [CorpusItem("a", "happy", speaker="s1", meta={"gender": "f"}),
             CorpusItem("b", "sad", speaker="s2", meta={"gender": "m"}),
             CorpusItem("c", "happy", speaker="s2", meta={"gender": "m"})]
    corpus = Corpus("toy", ("sad", "happy", "angry"), items)
    assert corpus.labels_as_indices().tolist() == [1, 0, 1]
    assert corpus.class_counts() == {"sad": 1, "happy": 2, "angry": 0}
    assert corpus.filter(labels=["happy"]).ids() == ["a", "c"]
    assert corpus.filter(exclude_speakers=["s1"]).ids() == ["b", "c"]
    assert corpus.filter(lambda it: it.id != "c", speakers=["s2"]).ids() == ["b"]
    assert corpus.subset([2, 0]).ids() == ["c", "a"]
    assert corpus.groups().tolist() == ["s1", "s2", "s2"] and corpus.groups("gender").tolist() == ["f", "m", "m"]
    assert "items=3" in repr(corpus)
    with pytest.raises(UnknownNameError):
        corpus.filter(labels=["hapy"])
    with pytest.raises(DataError, match="no label space"):
        corpus.to_label_space("ekman7")
    with pytest.raises(DataError, match="duplicate item ids"):
        Corpus("toy", ("happy",), [CorpusItem("a", "happy"), CorpusItem("a", "happy")])
    with pytest.raises(DataError, match="has label 'joy'"):
        Corpus("toy", ("happy",), [CorpusItem("a", "joy")])
    with pytest.raises(DataError, match="are not those of label space"):
        Corpus("toy", ("happy",), [CorpusItem("a", "happy")], label_space="ekman7")
    with pytest.raises(DataError, match="no text"):
        corpus.texts()


def test_registry_and_load_corpus_errors(tmp_path, monkeypatch):
    assert list_corpora() == sorted(["fer2013", "goemotions", "emodb", "ravdess", "audio_csv", "text_table",
                                     "folders"]) == CORPORA.names()
    (tmp_path / "fer2013").mkdir()
    write_fer(tmp_path / "fer2013" / "fer2013.csv.gz", fer_text(), gz=True)
    write_emodb(tmp_path / "emodb")
    assert len(load_corpus("fer2013", data_dir=tmp_path, usage="Training")) == 3
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert len(load_corpus("emodb")) == 7
    monkeypatch.delenv(DATA_DIR_ENV)
    with pytest.raises(MissingFileError, match=DATA_DIR_ENV):
        load_corpus("emodb")
    with pytest.raises(UnknownNameError) as err:
        load_corpus("fer2031")
    assert err.value.suggestions == ["fer2013"]
    with pytest.raises(MissingFileError):
        load_corpus(tmp_path / "nowhere.csv")
    with pytest.raises(MissingFileError, match="nor is 'xyz' a corpus name"):
        load_corpus("xyz")
    with pytest.raises(UnknownNameError) as err:
        load_corpus(tmp_path / "emodb", stirct=True)
    assert err.value.suggestions == ["strict"]
    with pytest.raises(UnknownNameError):
        load_corpus(tmp_path / "emodb", format="emodbb")
    (tmp_path / "void").mkdir()
    with pytest.raises(DataError, match="cannot tell which corpus folder"):
        load_corpus(tmp_path / "void")
