"""The distance tool (M): a line with two handles on the main view and its length, in mm from
the file's pixel spacing (its source named) or in pixels when the file has none. The line lives
in source pixels, so it follows rotation, flips, zoom and pan."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF

from camviewer.gui.image_view import ImageView
from camviewer.gui.measure import Distance, distance
from camviewer.gui.state import View, ViewerState


class MeasureTool:
    def __init__(self, view: ImageView, state: ViewerState) -> None:
        self._view, self._state = view, state
        self.line: pg.LineSegmentROI | None = None
        self.label = pg.TextItem(color=(255, 235, 59), anchor=(0, 1), fill=(0, 0, 0, 140))
        self.label.setZValue(6)
        state.subscribe(self._on_change)

    def toggle(self) -> None:
        if self.line is not None:
            self._remove()
            return
        image = self._state.view.image
        if image is None:
            return
        rows, cols = image.values.shape[:2]
        self.line = pg.LineSegmentROI([(cols * 0.35, rows * 0.5), (cols * 0.65, rows * 0.5)], pen=pg.mkPen((255, 235, 59), width=2))
        self.line.setZValue(5)
        self.line.setParentItem(self._view.picture)
        self.label.setParentItem(self._view.picture)
        self.line.sigRegionChanged.connect(self._measure)
        self._measure()

    def measured(self) -> Distance | None:
        """The line's length, or None when no line is drawn."""
        image = self._state.view.image
        if self.line is None or image is None:
            return None
        (a, b) = (self._view.picture.mapFromScene(p) for _, p in self.line.getSceneHandlePositions())
        meta = image.metadata
        return distance((a.x(), a.y()), (b.x(), b.y()), meta.pixel_spacing_mm, meta.pixel_spacing_source)

    def _measure(self) -> None:
        measured = self.measured()
        if measured is None or self.line is None:
            return
        self.label.setText(measured.text())
        end = self._view.picture.mapFromScene(self.line.getSceneHandlePositions()[1][1])
        self.label.setPos(QPointF(end.x(), end.y()))

    def _remove(self) -> None:
        if self.line is not None:
            self.line.setParentItem(None)
            scene = self.line.scene()
            if scene is not None:
                scene.removeItem(self.line)
            self.line = None
        self.label.setParentItem(None)
        if self.label.scene() is not None:
            self.label.scene().removeItem(self.label)

    def _on_change(self, view: View, changed: frozenset[str]) -> None:
        if "image" in changed:
            self._remove()
