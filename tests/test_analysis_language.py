"""A text the text expert cannot read (not English) is analysed with a warning naming its language."""

from __future__ import annotations

import pytest

pytest.importorskip("langdetect")

import emofuse  # noqa: E402
from emofuse.analysis import AnalysisSession  # noqa: E402
from emofuse.analysis.language import detect_language, language_warning  # noqa: E402
from emofuse.media.transcript import Cue  # noqa: E402

GERMAN = ("Ich habe heute die Nachricht bekommen, wir haben gewonnen! Ich bin so glücklich darüber, "
          "dass ich es kaum glauben kann.")
FRENCH = ("J'ai appris la nouvelle aujourd'hui, nous avons gagné ! Je suis tellement heureux que je "
          "n'arrive pas à y croire.")
ENGLISH = "I just got the news, we won! I am so happy about this that I can hardly believe it."
#: Short English cues that langdetect misreads one by one or in pairs ("We won! Still talking" reads as Afrikaans).
SHORT_CUES = ["We won!", "Still talking", "Wow. Nice.", "Great job.", "Okay okay fine."]


@pytest.mark.parametrize(("text", "code", "name"), [(GERMAN, "de", "German"), (FRENCH, "fr", "French")])
def test_non_english_text_warns_with_its_language(text: str, code: str, name: str) -> None:
    note = language_warning(text, ("en",))
    assert note is not None and note.startswith(f"text looks like {name} ({code}, p=")
    assert "reads English only" in note
    res = emofuse.analyze(text=text)  # through the API: the analysis goes on, with the warning
    assert res.segments and all(s.modalities["text"].ok for s in res.segments)
    assert [w for w in res.warnings if "text looks like" in w] == [note]


def test_english_and_short_texts_do_not_warn() -> None:
    assert language_warning(ENGLISH, ("en",)) is None
    assert emofuse.analyze(text=ENGLISH).warnings == []
    assert detect_language("We won! Still talking") is None  # too short to judge
    assert language_warning(GERMAN, ()) is None  # an expert that declares no language reads any


def _transcript_warnings(lines: list[str]) -> list[str]:
    cues = [Cue(float(i), i + 1.0, x) for i, x in enumerate(lines)]
    session = AnalysisSession({"audio": False, "face": False}, has_audio=False, cues=cues, vad=False)
    return session.result(duration=float(len(lines))).warnings


def test_transcript_is_judged_as_a_whole_not_per_cue() -> None:
    # each German cue alone is too short to judge; together they clearly are German
    german = ["Ich bin traurig.", "Wir haben verloren.", "Das ist nicht gut.", "Ich gehe nach Hause."]
    assert all(detect_language(c) is None for c in german)
    warnings = _transcript_warnings(german)
    assert len(warnings) == 1 and warnings[0].startswith("text looks like German (de, p=")
    assert _transcript_warnings(SHORT_CUES) == []

