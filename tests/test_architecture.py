"""Structure guards: the layer rules of docs/ARCHITECTURE.md (import-linter contracts) and module sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "emofuse"
#: Modules over ~500 lines are split (one concern per module); a little slack for docstrings.
MAX_LINES = 520


def test_import_contracts_hold() -> None:
    pytest.importorskip("importlinter")
    exe = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(exe), "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_contracts_catch_a_forbidden_import(tmp_path: Path) -> None:
    """The layer contract is not vacuous: a fake upward import breaks it."""
    pytest.importorskip("grimp")
    import grimp

    graph = grimp.build_graph("emofuse")
    graph.add_import(importer="emofuse.media.stream", imported="emofuse.analysis.session")
    chains = graph.find_shortest_chain(importer="emofuse.media", imported="emofuse.analysis", as_packages=True)
    assert chains is not None


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them): {big}"
