"""Transcript reading: SRT, WebVTT, JSON, plain text, sniffing, encodings, validation, clipping."""

from __future__ import annotations

import json

import pytest

from emofuse.errors import DataError, EmofuseError, MissingFileError, UnknownNameError
from emofuse.media import transcript as tr
from emofuse.media.transcript import FORMATS, Cue, TranscriptError, clip_cues, read_transcript

SRT = (
    "1\r\n"
    "00:00:01,000 --> 00:00:03,500\r\n"
    "<i>I can't believe</i> you did that!   \r\n"
    "{\\an8}Seriously.\r\n"
    "\r\n"
    "\r\n"
    "2\r\n"
    "00:00:04.250 --> 00:00:06,000  \r\n"
    '<font color="#ffff00">Calm down</font>, <b>please</b>.\r\n'
    "\r\n"
    "3\r\n"
    "01:00:00,000 --> 01:00:02,125\r\n"
    "An hour in.\r\n"
)

VTT = """WEBVTT - interview excerpt
Kind: captions
Language: en

NOTE This file was produced by hand.
It spans two lines.

STYLE
::cue { color: white; }

intro
00:01.000 --> 00:03.000 align:start position:10%
<v Alice>I'm <b>so</b> happy &amp; relieved.</v>

00:00:03.500 --> 00:00:05.000
<v.loud Bob>What?!</v>

00:05.000 --> 00:07.000 line:0
<c.yellow>No speaker</c> here <00:05.500>at all.

00:07.000 --> 00:09.000
<v Alice>Hi Bob.</v>
<v Bob>Hi Alice.</v>
"""


def _write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def _triples(cues):
    return [(c.start, c.end, c.text) for c in cues]


# ------------------------------------------------------------------------------------- formats


def test_srt_with_crlf_tags_and_dot_separator(tmp_path):
    cues = read_transcript(_write(tmp_path, "clip.srt", SRT))
    assert _triples(cues) == [
        (1.0, 3.5, "I can't believe you did that! Seriously."),
        (4.25, 6.0, "Calm down, please."),
        (3600.0, 3602.125, "An hour in."),
    ]
    assert all(c.speaker is None for c in cues)


def test_srt_without_index_lines_and_with_blank_line_inside_text(tmp_path):
    text = "00:00:00,500 --> 00:00:01,000\nfirst\n\n\nstill first\n00:00:02,000 --> 00:00:03,000\nsecond\n"
    cues = read_transcript(_write(tmp_path, "a.srt", text))
    assert _triples(cues) == [(0.5, 1.0, "first still first"), (2.0, 3.0, "second")]


def test_srt_digit_text_line_is_kept(tmp_path):
    text = "1\n00:00:00,000 --> 00:00:01,000\n1984\n\n2\n00:00:01,000 --> 00:00:02,000\nyes\n"
    assert [c.text for c in read_transcript(_write(tmp_path, "a.srt", text))] == ["1984", "yes"]


def test_vtt_header_notes_ids_settings_and_voices(tmp_path):
    cues = read_transcript(_write(tmp_path, "talk.vtt", VTT))
    assert [(c.start, c.end, c.text, c.speaker) for c in cues] == [
        (1.0, 3.0, "I'm so happy & relieved.", "Alice"),
        (3.5, 5.0, "What?!", "Bob"),
        (5.0, 7.0, "No speaker here at all.", None),
        (7.0, 9.0, "Hi Bob.", "Alice"),
        (7.0, 9.0, "Hi Alice.", "Bob"),
    ]


def test_vtt_without_header_is_an_error(tmp_path):
    with pytest.raises(TranscriptError, match=r"line 1: a WebVTT file must start with 'WEBVTT'"):
        read_transcript(_write(tmp_path, "x.vtt", "00:01.000 --> 00:02.000\nhi\n"))


def test_whisper_json_segments(tmp_path):
    doc = {
        "text": " Hello there. I am fine.",
        "language": "en",
        "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 2.24, "text": " Hello there.", "tokens": [1, 2],
             "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.1, "no_speech_prob": 0.01},
            {"id": 1, "seek": 0, "start": 2.24, "end": 4.0, "text": " I am fine.", "tokens": [3],
             "speaker": "SPEAKER_01"},
            {"id": 2, "seek": 0, "start": 4.0, "end": 4.5, "text": "   "},
        ],
    }
    cues = read_transcript(_write(tmp_path, "whisper.json", json.dumps(doc)))
    assert [(c.start, c.end, c.text, c.speaker) for c in cues] == [
        (0.0, 2.24, "Hello there.", None),
        (2.24, 4.0, "I am fine.", "SPEAKER_01"),
    ]


def test_json_list_with_string_times_sorted_by_start(tmp_path):
    doc = [
        {"start": "00:00:05.500", "end": "00:00:07.000", "text": "later", "speaker": "Bob"},
        {"start": "00:01.000", "end": "00:02.000", "text": "earlier"},
        {"start": "3", "end": 4, "text": "numeric string"},
    ]
    cues = read_transcript(_write(tmp_path, "cues.json", json.dumps(doc)))
    assert [(c.start, c.end, c.text, c.speaker) for c in cues] == [
        (1.0, 2.0, "earlier", None),
        (3.0, 4.0, "numeric string", None),
        (5.5, 7.0, "later", "Bob"),
    ]


def test_json_object_with_cues_list():
    data = json.dumps({"cues": [{"start": 1, "end": 2, "text": "hi"}]}).encode()
    assert _triples(read_transcript(data)) == [(1.0, 2.0, "hi")]


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"results": []}, r"without 'segments' or 'cues'"),
        ({"segments": {"a": 1}}, r"'segments' must be a list"),
        ([{"start": 1, "text": "x"}], r"cue 1 \(\[0\]\): missing 'end'"),
        ({"segments": [{"start": 0, "end": 1, "text": "a"}, {"start": 3, "end": 2, "text": "b"}]},
         r"cue 2 \(segments\[1\]\): the cue ends before it starts"),
        ([{"start": -1, "end": 2, "text": "x"}], r"'start' is negative"),
        ([{"start": "soon", "end": 2, "text": "x"}], r"'start' must be a number of seconds"),
        ([{"start": True, "end": 2, "text": "x"}], r"'start' must be a number of seconds"),
        ("just a string", r"expected a list"),
    ],
)
def test_json_bad_shapes(doc, match):
    with pytest.raises(TranscriptError, match=match):
        read_transcript(json.dumps(doc).encode(), format="json")


def test_invalid_json_names_line_and_column(tmp_path):
    with pytest.raises(TranscriptError, match=r"bad\.json: not valid JSON \(line 2, column"):
        read_transcript(_write(tmp_path, "bad.json", '[\n{"start": 1,,}]'))


def test_plain_text_gives_untimed_cues(tmp_path):
    cues = read_transcript(_write(tmp_path, "notes.txt", "  I am   so angry.\n\n\nWhy would you say that?\r\n"))
    assert cues == [Cue(None, None, "I am so angry."), Cue(None, None, "Why would you say that?")]


# ------------------------------------------------------------------------------------ sniffing


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (VTT.encode(), [1.0, 3.5, 5.0, 7.0, 7.0]),
        (SRT.encode(), [1.0, 4.25, 3600.0]),
        (b"\n00:00:01,000 --> 00:00:02,000\nno index\n", [1.0]),
        (b'  [{"start": 2, "end": 3, "text": "j"}]', [2.0]),
        (b"hello -> there\nsecond line", [None, None]),
    ],
)
def test_format_is_sniffed_from_bytes(data, expected):
    assert [c.start for c in read_transcript(data)] == expected


def test_unknown_suffix_is_sniffed_and_suffix_beats_content(tmp_path):
    assert read_transcript(_write(tmp_path, "subs.sub", SRT))[0].start == 1.0
    # a .txt file is plain text even when it looks like SRT
    cues = read_transcript(_write(tmp_path, "subs.txt", SRT))
    assert all(c.start is None for c in cues) and cues[0].text == "1"


def test_explicit_format_wins_and_is_case_insensitive(tmp_path):
    path = _write(tmp_path, "subs.txt", SRT)
    assert read_transcript(path, format="SRT")[0].start == 1.0


def test_unknown_format_name():
    with pytest.raises(UnknownNameError, match=r"Unknown transcript format 'webvtt'.*Did you mean: vtt") as info:
        read_transcript(SRT.encode(), format="webvtt")
    assert set(FORMATS) == {"srt", "vtt", "json", "txt"}
    assert info.value.kind == "transcript format"


# ----------------------------------------------------------------------------------- encodings


def test_utf8_bom(tmp_path):
    path = _write(tmp_path, "bom.srt", b"\xef\xbb\xbf" + "1\n00:00:01,000 --> 00:00:02,000\nÇa va ?\n".encode())
    assert _triples(read_transcript(path)) == [(1.0, 2.0, "Ça va ?")]


def test_utf8_bom_vtt_is_sniffed():
    data = b"\xef\xbb\xbfWEBVTT\n\n00:01.000 --> 00:02.000\n<v Zo\xc3\xab>Hall\xc3\xb6\n"
    assert [(c.text, c.speaker) for c in read_transcript(data)] == [("Hallö", "Zoë")]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(tmp_path, codec):
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    path = _write(tmp_path, "win.srt", bom + SRT.encode(codec))
    assert [c.text for c in read_transcript(path)][1] == "Calm down, please."


def test_utf16_without_bom_is_refused_with_a_hint(tmp_path):
    path = _write(tmp_path, "nobom.srt", SRT.encode("utf-16-le"))
    with pytest.raises(TranscriptError, match=r'NUL characters.*encoding="utf-16-le"'):
        read_transcript(path)
    assert read_transcript(path, encoding="utf-16-le")[0].start == 1.0


def test_cp1252_fails_with_offset_and_works_with_encoding(tmp_path):
    text = "1\n00:00:01,000 --> 00:00:02,000\nCafé – naïve\n"
    data = text.encode("cp1252")
    offset = data.index(b"\xe9")
    path = _write(tmp_path, "latin.srt", data)
    with pytest.raises(TranscriptError) as info:
        read_transcript(path)
    message = str(info.value)
    assert "latin.srt" in message
    assert f"byte offset {offset}" in message
    assert "0xE9" in message
    assert 'encoding="cp1252"' in message
    assert isinstance(info.value, DataError) and isinstance(info.value, EmofuseError)
    assert _triples(read_transcript(path, encoding="cp1252")) == [(1.0, 2.0, "Café – naïve")]


def test_offset_counts_the_utf8_bom():
    data = b"\xef\xbb\xbfab\x96"
    with pytest.raises(TranscriptError, match=r"byte 0x96 at byte offset 5"):
        read_transcript(data)


def test_wrong_explicit_encoding_and_unknown_encoding():
    with pytest.raises(TranscriptError, match=r"cannot be decoded as 'ascii'.*byte offset 2"):
        read_transcript(b"ab\xe9", encoding="ascii")
    with pytest.raises(TranscriptError, match=r"unknown text encoding 'klingon'"):
        read_transcript(b"abc", encoding="klingon")


# ---------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:01 --> soon\nx\n", 6),
        ("1\n00:00:01,000 -> 00:00:02,000\nhi\n", 2),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n00:00:03,000 => 00:00:04,000\nx\n", 5),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:03,000 to 00:00:04,000\nx\n", 6),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:03,000 -->\nx\n", 6),
        ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:61:00,000 --> 01:02:00,000\nx\n", 6),
        ("1\n-00:00:01,000 --> 00:00:02,000\nhi\n", 2),
    ],
)
def test_malformed_srt_timing_names_the_line(tmp_path, text, line):
    with pytest.raises(TranscriptError, match=rf"bad\.srt, line {line}: malformed timing line"):
        read_transcript(_write(tmp_path, "bad.srt", text))


def test_malformed_vtt_timing_names_the_line():
    data = b"WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 --> 00:0x.000\nbad\n"
    with pytest.raises(TranscriptError, match=r"transcript bytes, line 6: malformed timing line.*HH:MM:SS\.mmm"):
        read_transcript(data)


def test_vtt_wrong_arrow_after_identifier_names_the_line():
    data = b"WEBVTT\n\ncue-1\n00:01.000 -> 00:02.000\nhi\n"
    with pytest.raises(TranscriptError, match=r"line 4: malformed timing line '00:01.000 -> 00:02.000'"):
        read_transcript(data)


def test_time_like_text_inside_a_cue_is_text():
    data = b"1\n00:00:01,000 --> 00:00:02,000\nWe meet\n10:30 - 11:00 works\n"
    assert [c.text for c in read_transcript(data)] == ["We meet 10:30 - 11:00 works"]


def test_end_before_start_names_the_line(tmp_path):
    text = "1\r\n00:00:01,000 --> 00:00:02,000\r\nok\r\n\r\n2\r\n00:00:05,000 --> 00:00:04,000\r\nbackwards\r\n"
    with pytest.raises(TranscriptError, match=r"back\.srt, line 6: the cue ends before it starts"):
        read_transcript(_write(tmp_path, "back.srt", text))


def test_text_before_first_cue_is_an_error(tmp_path):
    with pytest.raises(TranscriptError, match=r"line 1: expected a cue number or a timing line"):
        read_transcript(_write(tmp_path, "junk.srt", "hello\n00:00:01,000 --> 00:00:02,000\nx\n\nmore\n"), format="srt")


def test_empty_text_cues_are_dropped_and_overlaps_kept():
    data = (b"1\n00:00:01,000 --> 00:00:04,000\n<i></i>\n\n2\n00:00:02,000 --> 00:00:05,000\nA\n\n"
            b"3\n00:00:03,000 --> 00:00:04,000\nB\n")
    assert _triples(read_transcript(data)) == [(2.0, 5.0, "A"), (3.0, 4.0, "B")]


def test_cues_sorted_by_start_stably():
    data = (b"00:00:05,000 --> 00:00:06,000\nlate\n\n00:00:01,000 --> 00:00:02,000\nfirst\n\n"
            b"00:00:01,000 --> 00:00:03,000\nsecond\n")
    assert [c.text for c in read_transcript(data)] == ["first", "second", "late"]


def test_empty_file_and_transcript_without_cues(tmp_path):
    with pytest.raises(TranscriptError, match=r"empty\.srt: the transcript is empty \(0 bytes\)"):
        read_transcript(_write(tmp_path, "empty.srt", b""))
    with pytest.raises(TranscriptError, match=r"empty"):
        read_transcript(b"")
    with pytest.raises(TranscriptError, match=r"blank\.txt: the transcript has no cues"):
        read_transcript(_write(tmp_path, "blank.txt", "\n  \n\t\n"))
    with pytest.raises(TranscriptError, match=r"has no cues"):
        read_transcript(_write(tmp_path, "notes.vtt", "WEBVTT\n\nNOTE nothing here\n"))
    with pytest.raises(TranscriptError, match=r"has no cues"):
        read_transcript(b'{"segments": []}')


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MissingFileError, match=r"transcript file not found"):
        read_transcript(tmp_path / "nope.srt")
    with pytest.raises(MissingFileError, match=r"pass it as bytes"):
        read_transcript("1\n00:00:01,000 --> 00:00:02,000\nhi\n")
    with pytest.raises(TranscriptError, match=r"got a folder"):
        read_transcript(tmp_path)


def test_size_guard(tmp_path, monkeypatch):
    path = _write(tmp_path, "big.srt", SRT)
    monkeypatch.setattr(tr, "MAX_TRANSCRIPT_BYTES", 64)
    with pytest.raises(TranscriptError, match=r"big\.srt: the transcript is .* bytes, over the limit of 64 bytes"):
        read_transcript(path)
    with pytest.raises(TranscriptError, match=r"over the limit"):
        read_transcript(SRT.encode())
    assert read_transcript(b"short line")[0].text == "short line"


def test_size_is_checked_before_reading(tmp_path, monkeypatch):
    path = _write(tmp_path, "big.srt", SRT)
    monkeypatch.setattr(tr, "MAX_TRANSCRIPT_BYTES", 64)

    def no_read(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(type(path), "open", no_read)
    with pytest.raises(TranscriptError, match=r"over the limit"):
        read_transcript(path)


def test_cue_validates_itself():
    with pytest.raises(TranscriptError, match=r"ends before it starts"):
        Cue(2.0, 1.0, "x")
    with pytest.raises(TranscriptError, match=r"finite time >= 0"):
        Cue(-1.0, 1.0, "x")
    with pytest.raises(TranscriptError, match=r"without a start"):
        Cue(None, 1.0, "x")


# ------------------------------------------------------------------------------------ clipping


def test_clip_cues_drops_cuts_and_warns():
    cues = [Cue(0.0, 5.0, "a"), Cue(10.0, 14.0, "b"), Cue(11.0, 13.0, "c"),
            Cue(12.0, 13.0, "d"), Cue(13.0, 15.0, "e"), Cue(20.0, 21.0, "f")]
    kept, warnings = clip_cues(cues, 12.0)
    assert _triples(kept) == [(0.0, 5.0, "a"), (10.0, 12.0, "b"), (11.0, 12.0, "c")]
    assert warnings == [
        "3 transcript cues start after the end of the media (12.0 s) and were dropped",
        "2 cues run past the end of the media and were cut at 12.0 s",
    ]
    assert cues[1].end == 14.0  # input untouched


def test_clip_cues_singular_wording_and_nothing_to_do():
    kept, warnings = clip_cues([Cue(0.0, 1.0, "a"), Cue(1.0, 3.0, "b"), Cue(4.0, 5.0, "c")], 2.5)
    assert [c.end for c in kept] == [1.0, 2.5]
    assert warnings == [
        "1 transcript cue starts after the end of the media (2.5 s) and was dropped",
        "1 cue runs past the end of the media and was cut at 2.5 s",
    ]
    cues = [Cue(0.0, 1.0, "a")]
    assert clip_cues(cues, 1.0) == (cues, [])


def test_clip_cues_all_dropped_and_untimed_kept():
    kept, warnings = clip_cues([Cue(30.0, 31.0, "a")], 10.0)
    assert kept == [] and len(warnings) == 2 and "belongs to it" in warnings[1]
    untimed = [Cue(None, None, "x"), Cue(None, None, "y")]
    assert clip_cues(untimed, 0.5) == (untimed, [])


def test_clip_cues_bad_duration():
    with pytest.raises(DataError, match=r"media duration"):
        clip_cues([], float("nan"))
    with pytest.raises(DataError, match=r"media duration"):
        clip_cues([], -1.0)
