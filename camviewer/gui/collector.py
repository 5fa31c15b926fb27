"""Python's cyclic garbage collector, run only on the GUI thread while the window lives.

A Qt widget caught in a reference cycle is destroyed by whichever thread the collector happens to
run on. On the engine worker (or a thumbnail thread) that deadlocks Qt against the interpreter
lock, as measured here in the tests (pyqtgraph ships the same remedy). So automatic collection is
off while the window is open, and a timer collects on the GUI thread instead; :meth:`stop`
collects once more and turns automatic collection back on.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

COLLECT_EVERY_MS = 1000


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._collect)
        self._timer.start(COLLECT_EVERY_MS)

    def _collect(self) -> None:
        gc.collect()

    def stop(self) -> None:
        """Collect now (on this, the GUI thread) and hand collection back to the interpreter."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
