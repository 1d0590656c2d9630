"""Many texts in one `emofuse analyze` call: repeated --text, --text-file, stdin; models loaded once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")

import emofuse  # noqa: E402
from emofuse.analysis import AnalysisResult  # noqa: E402
from emofuse.cli import app  # noqa: E402
from emofuse.errors import DataError  # noqa: E402

HAPPY = "I am so happy for you, this is wonderful news!"
ANGRY = "This is disgusting and I hate it."
SAD = "I miss her so much, I feel so alone."


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the experts loaded from now on (a fresh process-wide cache, as in a new process)."""
    import emofuse.analysis.session as session
    import emofuse.experts
    from emofuse.analysis.paths import Resources

    monkeypatch.setattr(session, "RESOURCES", Resources())
    names: list[str] = []
    real = emofuse.experts.load_expert

    def counting(name: str, *args: object, **kw: object) -> object:
        names.append(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(emofuse.experts, "load_expert", counting)
    return names


def _invoke(*args: str, **kw: object) -> object:
    r = CliRunner().invoke(app, ["analyze", *args], **kw)
    assert r.exit_code == 0, r.output
    return r


def test_repeated_text_gives_one_row_each_and_loads_the_expert_once(loads: list[str]) -> None:
    r = _invoke("--text", HAPPY, "--text", ANGRY)
    assert loads.count("text-goemotions") == 1
    assert "2 texts" in r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith("│")]  # one table, one row per text
    assert len(rows) == 2 and "I am so happy" in rows[0] and "happiness" in rows[0]
    assert "This is disgusting" in rows[1]


def test_text_file_with_encoding_is_saved_like_a_batch(tmp_path: Path) -> None:
    f = tmp_path / "texts.txt"
    f.write_bytes(f"{HAPPY}\n\n  \n{ANGRY}\nCafé, naïve: {SAD}\n".encode("cp1252"))
    r = CliRunner().invoke(app, ["analyze", "--text-file", str(f)])
    assert r.exit_code == 2 and "--encoding cp1252" in r.output  # the fix, named
    out = tmp_path / "out"
    _invoke("--text-file", str(f), "--encoding", "cp1252", "-o", str(out), "--formats", "json,csv")
    with open(out / "summary.csv", encoding="utf-8") as fh:
        summary = list(csv.DictReader(fh))
    assert [row["text"] for row in summary] == [HAPPY, ANGRY, f"Café, naïve: {SAD}"]  # blank lines skipped
    for row in summary:
        res = AnalysisResult.read_json(Path(row["output"]) / "analysis.json")
        assert " ".join(s.text for s in res.segments) == row["text"]
        assert (Path(row["output"]) / "analysis.csv").is_file()
    assert summary[0]["dominant"] == "happiness"
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))[1]["index"] == 2


def test_stdin_one_text_per_line() -> None:
    r = _invoke("--text", "-", "--json", input=f"{HAPPY}\n\n{ANGRY}\n{SAD}\n")
    results = json.loads(r.stdout)
    assert [x["source"] for x in results] == ["<text 1>", "<text 2>", "<text 3>"]
    assert results[0]["segments"][0]["text"] == HAPPY


def test_one_text_reads_as_before() -> None:
    one = json.loads(_invoke("--text", HAPPY, "--json").stdout)
    assert one["kind"] == "text" and one["segments"][0]["text"] == HAPPY


def test_python_api() -> None:
    results = emofuse.analyze_texts([HAPPY, ANGRY])
    assert [r.source for r in results] == ["<text 1>", "<text 2>"]
    single = emofuse.analyze(text=HAPPY)
    assert results[0].segments[0].probs == single.segments[0].probs  # the same reading as one at a time
    with pytest.raises(DataError, match="single string"):
        emofuse.analyze_texts(HAPPY)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="text 2 is empty"):
        emofuse.analyze_texts([HAPPY, "  "])
