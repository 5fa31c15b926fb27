"""The image view: pyqtgraph ImageItems for the radiograph, its heatmap layer and an evaluation
step preview, the region grid, and corner text.

Linear windows are drawn by pyqtgraph's levels and a 256-entry gray LUT over the modality values
(kept as uint16 when they are integers, so a window change is one table lookup; no per-frame
downsampling, which costs more than it saves); SIGMOID windows and VOI LUTs go through the
display pipeline of :mod:`camviewer.io`. MONOCHROME1 (and the user's invert) flips the LUT.
Left drag sets the window (:attr:`ImageView.window_drag`), the wheel zooms around the cursor,
right or middle drag pans.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseDragEvent
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QResizeEvent, QTransform
from PySide6.QtWidgets import QLabel, QWidget

from camviewer.gui.layers import GridOverlay, Layer
from camviewer.gui.measure import orientation_matrix
from camviewer.gui.state import Orientation
from camviewer.io.grayscale import VoiPreset
from camviewer.io.image import XrayImage

GRAY = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
CORNER_STYLE = "color: #f0f0f0; background: rgba(0, 0, 0, 110); padding: 2px 4px; font-size: 11px;"
GRID_PEN = pg.mkPen((255, 255, 255, 150), width=1)


def linear_levels(preset: VoiPreset) -> tuple[float, float] | None:
    """The modality values that map to black and white under a LINEAR or LINEAR_EXACT window (PS3.3
    C.11.2.1.2), or None when the preset needs the display pipeline."""
    window = preset.window
    if window is None or window.function == "SIGMOID":
        return None
    if window.function == "LINEAR_EXACT":
        return window.center - window.width / 2, window.center + window.width / 2
    half = (window.width - 1) / 2
    return window.center - 0.5 - half, window.center - 0.5 + half


def level_data(values: np.ndarray) -> tuple[np.ndarray, float]:
    """Gray values for pyqtgraph and the offset subtracted: uint16 when they are integers spanning
    at most 65536 values (a LUT lookup per window), float32 otherwise."""
    low, high = float(values.min()), float(values.max())
    if high - low <= 65535 and np.array_equal(values, np.round(values)):
        return (values - low).astype(np.uint16), low
    return values, 0.0


class DragBox(pg.ViewBox):
    """A view box where left drag is window/level and right or middle drag pans."""

    window_drag = Signal(float, float, bool)  # dx, dy since the drag began, whether it just began

    def mouseDragEvent(self, ev: MouseDragEvent, axis: int | None = None) -> None:  # noqa: N802 - Qt's name
        ev.accept()
        if ev.button() == Qt.MouseButton.LeftButton:
            moved = ev.pos() - ev.buttonDownPos()
            self.window_drag.emit(moved.x(), moved.y(), ev.isStart())
            return
        inverse, _ = self.childGroup.transform().inverted()
        shift = inverse.map(ev.lastPos() - ev.pos()) - inverse.map(QPointF(0, 0))
        self.translateBy(x=shift.x(), y=shift.y())
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])


class ImageView(pg.GraphicsLayoutWidget):
    """One radiograph, aspect locked, y down, with its layers and corner text."""

    window_drag = Signal(float, float, bool)
    hovered = Signal(str)  # the source pixel under the cursor and its value ("" outside the image)

    def __init__(self) -> None:
        self.corners: dict[str, QLabel] = {}
        super().__init__()
        self.box = DragBox(lockAspect=True, invertY=True, enableMenu=False)
        self.addItem(self.box)
        self.box.window_drag.connect(self.window_drag)
        self.picture = pg.ItemGroup()  # base, preview, heat and grid, turned together
        self.box.addItem(self.picture)
        self.base = pg.ImageItem(axisOrder="row-major")
        self.preview = pg.ImageItem(axisOrder="row-major")
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.grid = pg.PlotCurveItem(pen=GRID_PEN, connect="pairs")
        for z, item in enumerate((self.base, self.preview, self.heat, self.grid)):
            item.setZValue(z)
            item.setParentItem(self.picture)
        self._labels: list[pg.TextItem] = []
        self.corners = {name: _corner_label(self) for name in ("top_left", "top_right", "bottom_left", "bottom_right")}
        self._shown: XrayImage | None = None
        self._offset = 0.0
        self._linear = False
        self.base.hide()
        self.scene().sigMouseMoved.connect(self._hover)

    @property
    def shown(self) -> XrayImage | None:
        return self._shown

    def show_image(self, image: XrayImage, preset: VoiPreset, invert: bool) -> None:
        """Draw ``image`` under ``preset``; a new image fits the view, a new window keeps zoom and pan."""
        levels = None if image.is_color else linear_levels(preset)
        flip = invert != (image.invert and levels is not None)
        if levels is None:
            self.base.setImage(image.display(preset), levels=(0.0, 1.0), lut=None if image.is_color else _gray(flip))
        else:
            if image is not self._shown or not self._linear:
                data, self._offset = level_data(image.values)
                self.base.setImage(data, autoLevels=False)
            self.base.setLookupTable(_gray(flip))
            self.base.setLevels((levels[0] - self._offset, levels[1] - self._offset))
        self._linear = levels is not None
        self.base.show()
        if image is not self._shown:
            self._shown = image
            self.fit()

    def set_orientation(self, orientation: Orientation) -> None:
        if self._shown is not None:
            rows, cols = self._shown.values.shape[:2]
            o = orientation
            self.picture.setTransform(QTransform(*orientation_matrix(o.rotation, o.flip_h, o.flip_v, cols, rows)))
            self.fit()

    def fit(self) -> None:
        """The whole picture in view."""
        self.box.autoRange(items=[self.base], padding=0.0)
        self.box.updateMatrix()

    def one_to_one(self) -> None:
        """One source pixel per screen pixel, around the view's centre."""
        centre = self.box.viewRect().center()
        width, height = self.box.width(), self.box.height()
        self.box.setRange(QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height), padding=0.0)

    def zoom(self) -> float:
        """Screen pixels per source pixel."""
        span = self.box.viewRect().width()
        return self.box.width() / span if span > 0 else 1.0

    def show_layer(self, layer: Layer | None, item: pg.ImageItem | None = None) -> None:
        target = item or self.heat
        if layer is None:
            target.hide()
            return
        target.setImage(layer.rgba, levels=(0, 255))
        target.setRect(QRectF(*layer.rect))
        target.show()

    def show_grid(self, overlay: GridOverlay | None) -> None:
        for label in self._labels:
            self.scene().removeItem(label)
        self._labels = []
        if overlay is None:
            self.grid.hide()
            return
        points = np.array([p for segment in overlay.segments for p in segment], dtype=float)
        self.grid.setData(points[:, 0], points[:, 1])
        self.grid.show()
        for x, y, text in overlay.labels:
            label = pg.TextItem(text, color=(255, 255, 255), anchor=(0.5, 0.5))
            label.setParentItem(self.picture)
            label.setPos(x, y)
            label.setZValue(4)
            self._labels.append(label)

    def _hover(self, scene_pos: QPointF) -> None:
        if self._shown is None:
            return
        point = self.picture.mapFromScene(scene_pos)
        x, y = int(np.floor(point.x())), int(np.floor(point.y()))
        values = self._shown.values
        if not (0 <= y < values.shape[0] and 0 <= x < values.shape[1]):
            self.hovered.emit("")
            return
        value = values[y, x]
        shown = " ".join(f"{v:g}" for v in value) if values.ndim == 3 else f"{float(value):g}"
        self.hovered.emit(f"x {x}, y {y}: {shown}")

    def show_nothing(self) -> None:
        for item in (self.base, self.preview, self.heat):
            item.hide()
        self.show_grid(None)
        self._shown = None
        for label in self.corners.values():
            label.setText("")
            label.hide()

    def set_corners(self, texts: dict[str, str]) -> None:
        for name, label in self.corners.items():
            label.setText(texts.get(name, ""))
            label.setVisible(bool(label.text()))
            label.adjustSize()
        self._place_corners()

    def resizeEvent(self, ev: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(ev)
        self._place_corners()

    def _place_corners(self) -> None:
        margin, w, h = 6, self.width(), self.height()
        for name, label in self.corners.items():
            x = margin if name.endswith("left") else w - label.width() - margin
            y = margin if name.startswith("top") else h - label.height() - margin
            label.move(max(0, x), max(0, y))


def _gray(inverted: bool) -> np.ndarray:
    return GRAY[::-1] if inverted else GRAY


def _corner_label(parent: QWidget) -> QLabel:
    label = QLabel(parent)
    label.setStyleSheet(CORNER_STYLE)
    label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    label.hide()
    return label
