"""The evaluation panel: perturbation curves of the chosen methods in one pyqtgraph plot with
AOPC in the legend, the grid, perturbation, orders and seed, Max Sensitivity on request, and a
step marker that previews the perturbed model input in the main view while it is dragged."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camviewer import errors
from camviewer.engine.requests import METHOD_NAMES, EvaluateRequest
from camviewer.explain.targets import ClassIndex
from camviewer.gui.state import Preview, View, ViewerState
from camviewer.metrics.perturbation import DEFAULT_PERTURBATION, parse_perturbation
from camviewer.metrics.regions import ORDERS
from camviewer.metrics.sensitivity import SensitivitySpec

PERTURBATIONS = (str(DEFAULT_PERTURBATION), "uniform", "constant:0", "mean", "blur:4")
CURVE_COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75),
                 (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (0, 0, 0), (255, 187, 120))
ORDER_STYLES = {"morf": Qt.PenStyle.SolidLine, "lerf": Qt.PenStyle.DashLine, "random": Qt.PenStyle.DotLine}
DEFAULT_METHODS = ("gradcam", "hirescam")


class EvaluationPanel(QWidget):
    run_requested = Signal(object)  # EvaluateRequest (images filled in by the controller)
    cancel_requested = Signal()

    def __init__(self, state: ViewerState) -> None:
        super().__init__()
        self.state = state
        self.methods = {m: QCheckBox(m) for m in METHOD_NAMES}
        for name in DEFAULT_METHODS:
            self.methods[name].setChecked(True)
        self.orders = {o: QCheckBox(o) for o in ORDERS}
        self.orders["morf"].setChecked(True)
        self.grid = _spin(2, 32, 9)
        self.perturbation = QComboBox()
        self.perturbation.setEditable(True)
        self.perturbation.addItems(list(PERTURBATIONS))
        self.seed = _spin(0, 2**31 - 1, 0)
        self.sensitivity = QCheckBox("Max Sensitivity, radius")
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.0, 1.0)
        self.radius.setSingleStep(0.01)
        self.radius.setValue(0.02)
        self.samples = _spin(1, 10_000, 10)
        self.run_button = QPushButton("Run evaluation")
        self.run_button.clicked.connect(self._run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.progress = QProgressBar()
        self.plot = pg.PlotWidget(background="w")
        self.plot.setLabel("bottom", "regions perturbed k")
        self.plot.setLabel("left", "probability of the class")
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextColor=(20, 20, 20))
        self.step = pg.InfiniteLine(0, movable=True, pen=pg.mkPen((90, 90, 90), width=2))
        self.step.sigPositionChanged.connect(self._step_moved)
        self.preview_curve = QComboBox()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout()
        state.subscribe(self.redraw)
        self.redraw(state.view, frozenset({"evaluation"}))

    def _layout(self) -> None:
        choices = QGridLayout()
        for k, box in enumerate(self.methods.values()):
            choices.addWidget(box, k // 3, k % 3)
        orders = QHBoxLayout()
        for box in self.orders.values():
            orders.addWidget(box)
        sensitivity = QHBoxLayout()
        for widget in (self.sensitivity, self.radius, QLabel("samples"), self.samples):
            sensitivity.addWidget(widget)
        form = QFormLayout()
        for label, item in (("grid R x R", self.grid), ("perturbation", self.perturbation), ("seed", self.seed),
                            ("orders", orders), ("", sensitivity), ("preview curve", self.preview_curve)):
            form.addRow(label, item)
        buttons = QHBoxLayout()
        for control in (self.run_button, self.cancel_button, self.progress):
            buttons.addWidget(control)
        column = QVBoxLayout(self)
        column.addLayout(choices)
        column.addLayout(form)
        column.addLayout(buttons)
        column.addWidget(self.plot, 1)
        column.addWidget(self.summary)

    def request(self) -> EvaluateRequest:
        """The evaluation the controls describe, for the shown class (images filled in later)."""
        view = self.state.view
        methods = tuple(m for m, box in self.methods.items() if box.isChecked())
        orders = tuple(o for o, box in self.orders.items() if box.isChecked())
        target = view.result.explanations[0].target_index if view.result and view.result.explanations else view.target
        sensitivity = (SensitivitySpec(self.radius.value(), self.samples.value()),) if self.sensitivity.isChecked() else ()
        return EvaluateRequest((), methods, (ClassIndex(target if target is not None else 0),), grid=self.grid.value(),
                               perturbation=parse_perturbation(self.perturbation.currentText()), seed=self.seed.value(),
                               orders=orders, sensitivity=sensitivity)

    def _run(self) -> None:
        try:
            request = self.request()
        except errors.CamviewerError as exc:
            self.state.update(message=exc.message)
            return
        self.run_requested.emit(request)

    def _step_moved(self) -> None:
        name = self.preview_curve.currentText()
        if not name or self.state.view.evaluation is None:
            return
        method, order = name.split(" ", 1)
        step = max(0, round(self.step.value()))
        self.state.update(preview=Preview(method, order, step) if step else None)

    def redraw(self, view: View, changed: frozenset[str]) -> None:
        running = view.busy == "evaluating"
        self.run_button.setEnabled(view.result is not None and not running)
        self.cancel_button.setEnabled(running)
        if running and view.progress is not None:
            self.progress.setRange(0, view.progress[1])
            self.progress.setValue(view.progress[0])
        elif not running:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        if "evaluation" in changed:
            self._render_curves(view)

    def _render_curves(self, view: View) -> None:
        self.plot.clear()
        self.legend.clear()
        self.preview_curve.clear()
        evaluation = view.evaluation
        if evaluation is None:
            self.summary.setText("")
            return
        for k, curve in enumerate(evaluation.curves):
            pen = pg.mkPen(CURVE_COLOURS[k % len(CURVE_COLOURS)], width=2, style=ORDER_STYLES[curve.order])
            self.plot.plot(range(len(curve.values)), curve.values, pen=pen,
                           name=f"{curve.method} {curve.order}: AOPC {curve.aopc:.3f}")
            self.preview_curve.addItem(f"{curve.method} {curve.order}")
        self.plot.addItem(self.step)
        self.step.setBounds((0, max((len(c.values) - 1 for c in evaluation.curves), default=0)))
        lines = [f"{s.method}: Max Sensitivity {s.value.absolute:.4g} (relative {s.value.relative:.4g}; "
                 f"r {s.value.radius:g}, n {s.value.samples})" for s in evaluation.sensitivity]
        self.summary.setText("\n".join([*lines, *(f"warning: {w}" for w in evaluation.warnings)]))


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin
