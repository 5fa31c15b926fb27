"""Shared fixtures for the window tests: a Viewer on a private settings file, and waits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from camviewer.gui.app import Viewer
from camviewer.gui.image_view import ImageView
from camviewer.gui.jobs import LoadModel

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
EFFUSION = SAMPLES / "phantom_effusion.dcm"
CR = SAMPLES / "chest_cr_mono1_j2k.dcm"
TIMEOUT = 60_000


def make_viewer(qtbot: QtBot, settings: Path, paths: tuple[Path, ...] = ()) -> Viewer:
    viewer = Viewer(paths, LoadModel(), QSettings(str(settings), QSettings.Format.IniFormat))
    qtbot.addWidget(viewer.window)
    viewer.window.resize(1200, 800)
    viewer.window.show()
    return viewer


@pytest.fixture
def viewer(qtbot: QtBot, tmp_path: Path) -> Iterator[Viewer]:
    viewer = make_viewer(qtbot, tmp_path / "settings.ini")
    qtbot.waitUntil(lambda: viewer.state.view.model is not None, timeout=TIMEOUT)
    yield viewer
    viewer.window.close()


def shown(viewer: Viewer, qtbot: QtBot, path: Path) -> None:
    """Open ``path`` and wait until its predictions (or its error) arrived."""
    viewer.state.open((path,))
    qtbot.waitUntil(lambda: viewer.state.view.busy is None and (viewer.state.view.result is not None
                                                                 or viewer.state.view.message is not None), timeout=TIMEOUT)


def idle(viewer: Viewer, qtbot: QtBot) -> None:
    qtbot.waitUntil(lambda: viewer.state.view.busy is None, timeout=TIMEOUT)


def grabbed(view: ImageView) -> np.ndarray:
    """The view's pixels as a person would see them, (h, w, 3) uint8."""
    picture = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB888)
    return np.array(picture.constBits(), np.uint8).reshape(picture.height(), picture.bytesPerLine())[:, : picture.width() * 3].reshape(
        picture.height(), picture.width(), 3)
