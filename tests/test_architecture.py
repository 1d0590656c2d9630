"""Structure guards: the layer rules of docs/ARCHITECTURE.md (import-linter contracts) and module sizes."""

from __future__ import annotations

import os
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
    proc = subprocess.run([str(exe), str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_contracts_catch_forbidden_imports(tmp_path: Path) -> None:
    """The contracts are not vacuous: a copy of the package with an upward import and a CLI
    import of a private module breaks exactly those contracts."""
    pytest.importorskip("importlinter")
    import shutil

    pkg = tmp_path / "src" / "emofuse"
    shutil.copytree(SRC, pkg, ignore=shutil.ignore_patterns("weights", "__pycache__", "*.mp4", "*.jpg"))
    with (pkg / "media" / "vad.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom emofuse.analysis import session as _upward  # noqa\n")
    with (pkg / "cli.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom emofuse.analysis.pipeline import analyze as _private  # noqa\n")
    exe = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    proc = subprocess.run([str(exe), str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env=env)
    assert proc.returncode != 0
    assert "emofuse.media.vad -> emofuse.analysis.session" in proc.stdout
    assert "emofuse.cli -> emofuse.analysis.pipeline" in proc.stdout


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines (split them): {big}"
