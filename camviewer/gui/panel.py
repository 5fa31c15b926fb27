"""The side panel: model and device, predictions, method, overlay controls, colour bar, sanity
badges and provenance. It only mirrors :class:`ViewerState`; user actions update the state."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from camviewer.engine.requests import METHOD_NAMES
from camviewer.engine.results import Explanation
from camviewer.gui.badges import badges
from camviewer.gui.state import MAX_COMPARED, View, ViewerState
from camviewer.render.overlay import DIVERGING, OPENCV_MAPS, Normalisation, colormap, scale_of

NORMALISATIONS = {"per-image maximum": Normalisation(), "99th percentile": Normalisation("percentile", 99.0)}
DEFAULT_COMPARED = ("gradcam", "hirescam", "gradcampp", "lrp-epf")
MAP_FACTS = frozenset({"model", "result", "method", "style", "normalisation"})
VERDICT_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "n/a": "#757575"}


class ColourBar(QWidget):
    """The colormap, low at the bottom, with the raw values at its ends and middle."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumSize(72, 120)
        self._cmap, self._low, self._high = "inferno", 0.0, 1.0

    def set_scale(self, cmap: str, low: float, high: float) -> None:
        self._cmap, self._low, self._high = cmap, low, high
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        table = np.ascontiguousarray(np.repeat(colormap(self._cmap)[::-1, None, :], 16, axis=1))
        picture = QImage(table.data, 16, 256, 48, QImage.Format.Format_RGB888)
        painter = QPainter(self)
        height = self.height() - 12
        painter.drawPixmap(0, 6, 16, height, QPixmap.fromImage(picture))
        painter.setPen(QColor(self.palette().windowText().color()))
        for fraction in (0.0, 0.5, 1.0):
            value = self._high - fraction * (self._high - self._low)
            painter.drawText(22, int(6 + fraction * height) + 5, f"{value:.3g}")
        painter.end()


class ExplainPanel(QWidget):
    explain_requested = Signal()

    def __init__(self, state: ViewerState) -> None:
        super().__init__()
        self.state = state
        self.model_label = QLabel("loading the model ...")
        self.model_label.setWordWrap(True)
        self.auto_explain = QCheckBox("explain on open")
        self.auto_explain.toggled.connect(lambda on: state.update(explain_on_open=on))
        self.explain_button = QPushButton("Explain")
        self.explain_button.clicked.connect(self.explain_requested)
        self.predictions = _predictions_table()
        self.predictions.cellClicked.connect(self._explain_row)
        self.method = QComboBox()
        self.method.addItems(list(METHOD_NAMES))
        self.method.currentTextChanged.connect(lambda name: state.update(method=name))
        self.overlay = QCheckBox("overlay (O)")
        self.overlay.toggled.connect(lambda on: state.update(overlay_visible=on))
        self.opacity = _slider(0, 100)
        self.opacity.valueChanged.connect(lambda v: self._style(alpha=v / 100))
        self.threshold = _slider(0, 95)
        self.threshold.valueChanged.connect(lambda v: self._style(threshold=v / 100))
        self.cmap = QComboBox()
        self.cmap.addItems(list(OPENCV_MAPS))
        self.cmap.currentTextChanged.connect(lambda name: self._style(cmap=name))
        self.contours = QCheckBox("contours")
        self.contours.toggled.connect(lambda on: self._style(contours=on))
        self.normalisation = QComboBox()
        self.normalisation.addItems(list(NORMALISATIONS))
        self.normalisation.currentTextChanged.connect(lambda name: state.update(normalisation=NORMALISATIONS[name]))
        self.grid = QSpinBox()
        self.grid.setRange(0, 16)
        self.grid.setSpecialValueText("off")
        self.grid.valueChanged.connect(lambda n: state.update(grid=n or None))
        self.preset = QComboBox()
        self.preset.setToolTip("window presets: keys 1..9; left drag sets a window of your own")
        self.preset.activated.connect(self._choose_preset)
        self.compare = QCheckBox("compare side by side (C)")
        self.compare.toggled.connect(self._set_compare)
        self.compared = QListWidget()
        for name in METHOD_NAMES:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in DEFAULT_COMPARED else Qt.CheckState.Unchecked)
            self.compared.addItem(item)
        self.compared.setMaximumHeight(90)
        self.compared.itemChanged.connect(lambda _: self._set_compare(bool(self.state.view.compare)))
        self.colour_bar = ColourBar()
        self.badges = QLabel()
        self.badges.setWordWrap(True)
        self.badges.setTextFormat(Qt.TextFormat.RichText)
        self._layout()
        state.subscribe(self.redraw)
        self.redraw(state.view, frozenset({"model", "result"}))

    def _layout(self) -> None:
        explain_row = QHBoxLayout()
        explain_row.addWidget(self.auto_explain)
        explain_row.addWidget(self.explain_button)
        form = QFormLayout()
        for label, widget in (("window", self.preset), ("colormap", self.cmap), ("opacity", self.opacity), ("threshold", self.threshold),
                              ("scale", self.normalisation), ("grid", self.grid)):
            form.addRow(label, widget)
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.colour_bar)
        bar_row.addWidget(self.badges, 3)
        column = QVBoxLayout(self)
        for item in (self.model_label, explain_row, self.predictions, _row("method", self.method), self.overlay,
                     self.contours, form, bar_row, self.compare, self.compared):
            column.addLayout(item) if isinstance(item, (QHBoxLayout, QFormLayout)) else column.addWidget(item)
        column.addStretch(1)

    def _style(self, **changes: Any) -> None:
        self.state.update(style=replace(self.state.view.style, **changes))

    def compared_methods(self) -> tuple[str, ...]:
        """The methods ticked for compare mode, at most four."""
        items = (self.compared.item(k) for k in range(self.compared.count()))
        return tuple(i.text() for i in items if i.checkState() == Qt.CheckState.Checked)[:MAX_COMPARED]

    def _set_compare(self, on: bool) -> None:
        methods = self.compared_methods() if on else ()
        if on and len(methods) < 2:
            self.state.update(compare=(), message="tick two to four methods to compare")
            return
        self.state.update(compare=methods)

    def _explain_row(self, row: int, column: int) -> None:
        result = self.state.view.result
        if result is not None and row < len(result.predictions):
            self.state.explain_class(result.predictions[row].index)

    def redraw(self, view: View, changed: frozenset[str]) -> None:
        if "model" in changed:
            self.model_label.setText(_model_text(view))
        if "result" in changed:
            self._render_predictions(view)
        if changed & {"image", "anonymise", "preset", "window"}:
            self._render_presets(view)
        blockers = [QSignalBlocker(w) for w in (self.method, self.overlay, self.opacity, self.threshold, self.cmap,
                                               self.contours, self.grid, self.auto_explain, self.normalisation, self.compare)]
        self.method.setCurrentText(view.method)
        self.overlay.setChecked(view.overlay_visible)
        self.opacity.setValue(round(view.style.alpha * 100))
        self.threshold.setValue(round(view.style.threshold * 100))
        self.cmap.setCurrentText(view.style.cmap)
        self.contours.setChecked(view.style.contours)
        self.grid.setValue(view.grid or 0)
        self.auto_explain.setChecked(view.explain_on_open)
        self.compare.setChecked(bool(view.compare))
        self.normalisation.setCurrentText(next(k for k, v in NORMALISATIONS.items() if v == view.normalisation))
        del blockers
        self.explain_button.setEnabled(view.model is not None and view.image is not None and view.busy is None)
        if changed & MAP_FACTS:  # not on every window/level frame
            self._render_map_facts(view, shown_explanation(view))

    def _choose_preset(self, index: int) -> None:
        image = self.state.view.image
        if image is not None and index < len(image.presets):
            self.state.update(preset=index, window=None)

    def _render_presets(self, view: View) -> None:
        image = view.image.anonymized() if view.image is not None and view.anonymise else view.image
        names = [f"{k + 1}: {p.name}" for k, p in enumerate(image.presets)] if image is not None else []
        with QSignalBlocker(self.preset):
            if [self.preset.itemText(k) for k in range(self.preset.count())] != names + ["custom (dragged)"] * bool(names):
                self.preset.clear()
                self.preset.addItems(names + ["custom (dragged)"] * bool(names))
            self.preset.setCurrentIndex(len(names) if view.window is not None else min(view.preset, len(names) - 1))

    def _render_predictions(self, view: View) -> None:
        predictions = view.result.predictions if view.result is not None else ()
        explained = {e.target_index for e in view.result.explanations} if view.result is not None else set()
        self.predictions.setRowCount(len(predictions))
        for row, p in enumerate(predictions):
            for column, text in enumerate((p.label, f"{p.probability:.3f}")):
                item = QTableWidgetItem(text)
                if p.index in explained:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.predictions.setItem(row, column, item)

    def _render_map_facts(self, view: View, explanation: Explanation | None) -> None:
        if explanation is None or view.model is None:
            self.badges.setText("")
            return
        scale = scale_of(explanation.map, explanation.signed, view.normalisation)
        cmap = DIVERGING if explanation.signed else view.style.cmap
        self.colour_bar.set_scale(cmap, -scale if explanation.signed else 0.0, scale)
        shown = badges(explanation)
        self.badges.setText("<br>".join(f"<b style='color:{VERDICT_COLOURS[b.verdict]}'>{b.verdict}</b> {b.name}: {b.numbers}"
                                        for b in shown))
        self.badges.setToolTip("\n\n".join(f"{b.name} ({b.verdict}): {b.explanation}" for b in shown))


def shown_explanation(view: View, method: str | None = None) -> Explanation | None:
    """The shown result's map of ``method`` (the chosen one by default), if computed."""
    result = view.result
    wanted = method or view.method
    return next((e for e in result.explanations if e.method == wanted), None) if result is not None else None


def _model_text(view: View) -> str:
    model = view.model
    if model is None:
        return "loading the model ..."
    text = f"<b>{model.name}</b> on {model.device}"
    if model.demo:
        text += "<br><span style='color:#c62828'>DEMO MODEL: trained on synthetic phantoms only</span>"
    return text


def _predictions_table() -> QTableWidget:
    table = QTableWidget(0, 2)
    table.setHorizontalHeaderLabels(["class", "probability"])
    table.setToolTip("click a class to explain it")
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setMinimumHeight(150)
    return table


def _slider(low: int, high: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(low, high)
    return slider


def _row(label: str, widget: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(QLabel(label))
    row.addWidget(widget, 1)
    return row


