"""Start the window: ``run_viewer(paths, model)`` (the command line's ``camviewer [FILE|FOLDER ...]``).
With no path it opens the bundled sample studies, the effusion phantom first."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from camviewer.gui.collector import GuiThreadCollector
from camviewer.gui.controller import Controller
from camviewer.gui.jobs import LoadModel
from camviewer.gui.main_window import MainWindow
from camviewer.gui.settings import Settings
from camviewer.gui.state import ViewerState
from camviewer.gui.worker import WorkerHost
from camviewer.resources import SAMPLES

FIRST_SAMPLE = "phantom_effusion.dcm"


def sample_studies() -> tuple[tuple[Path, ...], int]:
    """The bundled DICOM samples and the index of the one shown first."""
    files = tuple(sorted(SAMPLES.glob("*.dcm")))
    names = [f.name for f in files]
    return files, names.index(FIRST_SAMPLE) if FIRST_SAMPLE in names else 0


class Viewer:
    """The window and what it runs on, built together and kept alive together."""

    def __init__(self, paths: tuple[Path, ...], model: LoadModel, store: QSettings | None = None) -> None:
        self.collector = GuiThreadCollector()  # before any thread runs Python code
        self.settings = Settings(store or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "camviewer", "camviewer"))
        self.state = ViewerState()
        self.state.update(style=self.settings.style(), method=self.settings.method())
        self.host = WorkerHost()
        self.controller = Controller(self.state, self.host, model)
        self.window = MainWindow(self.state, self.host, self.controller, self.settings, model.device)
        self.window.closed.connect(self.collector.stop)
        geometry = self.settings.geometry()
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        if paths:
            self.window.open_paths(paths)


def run_viewer(paths: tuple[Path, ...], model: LoadModel) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("camviewer")
    viewer = Viewer((), model)
    if paths:
        viewer.window.open_paths(paths)
    else:
        viewer.state.open(*sample_studies())
    if viewer.settings.geometry() is None:
        viewer.window.resize(1400, 900)
    viewer.window.show()
    return int(app.exec())
