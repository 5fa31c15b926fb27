"""The batch dialog (File → Batch evaluate a folder, Ctrl+B): a folder predicted, explained and
measured into its reports by :func:`~camviewer.batch.run.run_batch`, the engine of ``camviewer batch``.

It runs on a :class:`~camviewer.gui.worker.WorkerHost` of its own (a second worker thread, which
loads its own copy of the window's model), so the window stays free for viewing and explaining
during a long run. Cancel stops between chunks: the journal and the (incomplete) reports are
written, and Start with the same fields continues the run. Closing the dialog cancels the run and
waits for it to stop; a complete run opens its HTML report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from camviewer import errors
from camviewer.batch.executor import ModelLoad
from camviewer.batch.run import MAX_WORKERS, BatchOutcome, default_out
from camviewer.engine.requests import METHOD_NAMES
from camviewer.gui.batch_form import BatchForm, Throughput, batch_request
from camviewer.gui.evaluation import PERTURBATIONS
from camviewer.gui.jobs import RunBatch
from camviewer.gui.settings import Settings
from camviewer.gui.worker import WorkerHost

LABELS_FILTER = "CSV files (*.csv);;All files (*)"
STOP_WAIT_MS = 300_000  # a close waits for the chunks in progress and the reports
VIEW = "batch"


class BatchDialog(QDialog):
    """Non-modal; ``model`` gives the window's current model (None while none is loaded)."""

    outcome = Signal(object)  # BatchOutcome of a run that ended, complete or cancelled

    def __init__(self, settings: Settings, model: Callable[[], ModelLoad | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch evaluate a folder")
        self.setMinimumWidth(620)
        self._settings, self._model = settings, model
        self._host: WorkerHost | None = None
        self._running = False
        self._report: Path | None = None
        self._throughput = Throughput()
        self._auto_out = ""  # the output folder last filled in from the input folder
        self.folder, self.labels, self.out = QLineEdit(), QLineEdit(), QLineEdit()
        self.labels.setPlaceholderText("optional: a CSV of each image's true class")
        self.out.setToolTip("results.csv, summary.json, report.html and maps.zip go here; the same folder again continues a run")
        self.folder.editingFinished.connect(self._folder_chosen)
        self.methods = QListWidget()
        self.methods.setFlow(QListWidget.Flow.LeftToRight)
        self.methods.setWrapping(True)
        self.methods.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.methods.setSpacing(4)
        self.methods.setFixedHeight(72)
        for name in METHOD_NAMES:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name == "gradcam" else Qt.CheckState.Unchecked)
            self.methods.addItem(item)
        self.grids = QLineEdit("9")
        self.grids.setToolTip("R for R x R regions; several, comma separated (e.g. 4,8,11,14): the first is the headline grid")
        self.perturbation = QComboBox()
        self.perturbation.setEditable(True)
        self.perturbation.addItems(list(PERTURBATIONS))
        self.seed = _spin(0, 2**31 - 1)
        self.workers = _spin(0, MAX_WORKERS)
        self.workers.setSpecialValueText("automatic")
        self.workers.setToolTip("automatic: a process per CPU core on a CPU (at most 8), this process on a GPU")
        self.start_button = _button("Start", self.start)
        self.start_button.setDefault(True)
        self.cancel_button = _button("Cancel", self.cancel)
        self.report_button = _button("Open report", self.open_report)
        self.report_button.setEnabled(False)
        self.progress = QProgressBar()
        self.rate = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout()
        self._set_running(False)

    def _layout(self) -> None:
        self.fields = QWidget()
        form = QFormLayout(self.fields)
        form.setContentsMargins(0, 0, 0, 0)
        for label, item in (("Folder of images", _row(self.folder, _button("Browse...", self._browse_folder))),
                            ("Labels CSV", _row(self.labels, _button("Browse...", self._browse_labels))),
                            ("Output folder", _row(self.out, _button("Browse...", self._browse_out))),
                            ("Methods", self.methods), ("Grids (R x R)", self.grids), ("Perturbation", self.perturbation),
                            ("Seed", self.seed), ("Worker processes", self.workers)):
            form.addRow(label, item)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, self.report_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.addWidget(self.fields)
        column.addLayout(buttons)
        for widget in (self.progress, self.rate, self.status):
            column.addWidget(widget)

    def form(self) -> BatchForm:
        """The fields' values."""
        items = [self.methods.item(k) for k in range(self.methods.count())]
        methods = tuple(i.text() for i in items if i.checkState() == Qt.CheckState.Checked)
        return BatchForm(self.folder.text(), self.out.text(), self.labels.text(), methods, self.grids.text(),
                         self.perturbation.currentText(), self.seed.value(), self.workers.value())

    def start(self) -> None:
        """Start the run the fields describe (the same fields again continue a cancelled run)."""
        if self._running:
            return
        model = self._model()
        if model is None:
            self.status.setText("No model is loaded yet: wait for the window's model")
            return
        try:
            request = batch_request(self.form())
        except errors.UsageError as exc:
            self.status.setText(exc.message)
            self._field(exc.option).setFocus()
            return
        if self._host is None:
            self._host = self._new_host()
        self._settings.set_folder(VIEW, request.folder)
        self._throughput = Throughput()
        self._host.submit(VIEW, RunBatch(request, model))
        self._set_running(True)
        self.progress.setRange(0, 0)
        self.rate.setText("loading the model ...")
        self.status.setText(f"running: {request.folder} → {request.out}")

    def cancel(self) -> None:
        """Stop after the chunks in progress; the journal and incomplete reports are written."""
        if self._host is not None and self._running:
            self._host.cancel(VIEW)
            self.cancel_button.setEnabled(False)
            self.status.setText("cancelling: the images in progress finish first ...")

    def open_report(self) -> None:
        if self._report is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._report)))

    def shutdown(self) -> None:
        """Cancel the run, wait for it to stop and end the dialog's worker thread (a later Start makes another)."""
        if self._host is None or not self._host.shutdown(STOP_WAIT_MS):
            return
        self._host.blockSignals(True)  # what the stopped run sent is not shown any more
        self._host.deleteLater()
        self._host = None
        if self._running:
            self._set_running(False)
            self.status.setText("Cancelled when the dialog was closed; Start again to continue")

    def reject(self) -> None:  # Esc and closing the dialog: the run is cancelled first
        self.shutdown()
        super().reject()

    def _new_host(self) -> WorkerHost:
        host = WorkerHost(self)
        host.result.connect(self._on_result)
        host.failure.connect(self._on_failure)
        host.cancelled.connect(self._on_cancelled)
        host.progress.connect(self._on_progress)
        return host

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.fields.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if not running and self.progress.maximum() == 0:
            self.progress.setRange(0, 1)  # no busy indicator after a run that never reported
            self.rate.setText("")

    def _field(self, option: str | None) -> QWidget:
        fields: dict[str | None, QWidget] = {"folder": self.folder, "out": self.out, "labels": self.labels, "methods": self.methods,
                                             "grid": self.grids, "perturbation": self.perturbation}
        return fields.get(option, self.start_button)

    @Slot(str, int, object)
    def _on_result(self, view: str, request_id: int, payload: object) -> None:
        assert isinstance(payload, BatchOutcome)
        self._set_running(False)
        self._report = payload.reports.report
        self.report_button.setEnabled(True)
        if payload.complete:
            self.status.setText(f"{payload.rows} rows: {payload.ok} ok, {payload.failed} failed ({payload.computed} computed now, "
                                f"{payload.resumed} from before); reports in {payload.out}")
            self.open_report()
        else:
            self.status.setText(f"Cancelled after {payload.rows} rows; Start again to continue")
        self.outcome.emit(payload)

    @Slot(str, int, str, str)
    def _on_failure(self, view: str, request_id: int, reason: str, message: str) -> None:
        self._set_running(False)
        self.status.setText(message)

    @Slot(str, int)
    def _on_cancelled(self, view: str, request_id: int) -> None:
        self._set_running(False)
        self.status.setText("Cancelled; Start again to continue")

    @Slot(str, int, str, int, int)
    def _on_progress(self, view: str, request_id: int, stage: str, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.rate.setText(self._throughput.text(done, total, time.monotonic()))

    def _folder_chosen(self) -> None:
        text = self.folder.text().strip()
        if text and self.out.text().strip() in ("", self._auto_out):
            self._auto_out = str(default_out(Path(text)))
            self.out.setText(self._auto_out)

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images", self.folder.text() or self._settings.folder(VIEW))
        if folder:
            self.folder.setText(folder)
            self._folder_chosen()

    def _browse_labels(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Labels CSV", self.labels.text() or self.folder.text(), LABELS_FILTER)
        if name:
            self.labels.setText(name)

    def _browse_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.out.text() or self.folder.text())
        if folder:
            self.out.setText(folder)


def _spin(low: int, high: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    return spin


def _button(text: str, slot: Callable[[], object]) -> QPushButton:
    button = QPushButton(text)
    button.setAutoDefault(False)
    button.clicked.connect(slot)
    return button


def _row(edit: QLineEdit, browse: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row
