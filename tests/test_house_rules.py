"""The house rules, checked on the tree: layer contracts (import-linter), ruff and mypy clean,
small modules, Qt only in camviewer.gui."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_import_contracts_hold() -> None:
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=REPO, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def test_ruff_is_clean() -> None:
    result = run_tool("ruff", "check", "camviewer", "tests", "bench", "models")
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_mypy_is_clean() -> None:
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout[-4000:]


def test_modules_stay_small() -> None:
    long = {str(p.relative_to(REPO)): n for p in (REPO / "camviewer").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long
