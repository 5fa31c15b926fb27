"""``camviewer --self-test``: every check printed and exit 0 on a whole installation; exit 1 with
one line naming what is missing or broken otherwise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from camviewer.cli import main, selftest
from camviewer.model import build
from camviewer.resources import DEFAULT_CARD


def test_a_whole_installation_passes_and_says_what_it_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--self-test"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:-1]] == ["ok"] * 4 and out[-1] == "self-test passed: 4 checks"
    assert "predicted effusion" in out[3] and "hirescam complete" in out[3] and "gradcam = HiResCAM" in out[3]
    assert "verified" in out[2] and "PySide6" in out[4]


def test_a_missing_sample_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(selftest, "DEFAULT_SAMPLE", tmp_path / "phantom_effusion.dcm")
    assert main(["--self-test"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("camviewer: Self-test failed:") and "phantom_effusion.dcm is missing" in err


def test_broken_weights_are_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    card = tmp_path / DEFAULT_CARD.name
    shutil.copy(DEFAULT_CARD, card)
    weights = json.loads(card.read_text())["weights"]
    data = bytearray((DEFAULT_CARD.parent / weights).read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / weights).write_bytes(bytes(data))
    monkeypatch.setattr(selftest, "DEFAULT_CARD", card)
    monkeypatch.setattr(build, "DEFAULT_CARD", card)
    assert main(["--self-test"]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Self-test failed: the default model:" in err
    assert "ok   bundled files" in out and "self-test passed" not in out


def test_a_missing_toolkit_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    real = selftest.importlib.import_module

    def no_qt(name: str) -> object:
        if name.startswith("PySide6"):
            raise ImportError("libEGL.so.1: cannot open shared object file")
        return real(name)

    monkeypatch.setattr(selftest.importlib, "import_module", no_qt)
    assert main(["--self-test"]) == 1
    err = capsys.readouterr().err
    assert err == "camviewer: Self-test failed: the window's toolkit does not load (libEGL.so.1: cannot open shared object file)\n"
