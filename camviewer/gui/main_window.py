"""The main window: the canvas, the explain panel, the evaluation panel and the study browser as
docks, menus and keys (Weasis / RadiAnt conventions), drag and drop, recent files, exports, the
model selector with its trust prompt, progress with Cancel, the batch dialog. Widgets mirror
:class:`ViewerState`; the controller talks to the worker; nothing here decodes a file or runs a model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QWidget,
)

from camviewer import errors
from camviewer.batch.executor import ModelLoad
from camviewer.engine import OutputOptions
from camviewer.gui.batch_dialog import BatchDialog
from camviewer.gui.browser import StudyBrowser
from camviewer.gui.canvas import Canvas
from camviewer.gui.controller import Controller
from camviewer.gui.evaluation import EvaluationPanel
from camviewer.gui.jobs import LoadModel
from camviewer.gui.measure_tool import MeasureTool
from camviewer.gui.panel import ExplainPanel
from camviewer.gui.settings import Settings
from camviewer.gui.state import Orientation, View, ViewerState
from camviewer.gui.tags import TagBrowser
from camviewer.gui.worker import WorkerHost
from camviewer.model.card import card_hash, load_card
from camviewer.resources import DEFAULT_CARD

SHUTDOWN_MS = 5000
IMAGE_FILTER = "Radiographs (*.dcm *.dicom *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)"
EXPORTS = {"png": "Annotated PNG", "panel": "Side-by-side panel", "dicom": "DICOM Secondary Capture"}


class MainWindow(QMainWindow):
    closed = Signal()  # after the worker and the browser's threads have stopped

    def __init__(self, state: ViewerState, host: WorkerHost, controller: Controller, settings: Settings, device: str | None) -> None:
        super().__init__()
        self.state, self._host, self.controller, self.settings, self._device = state, host, controller, settings, device
        self.setWindowTitle("camviewer - research use only, not for diagnosis")
        self.setAcceptDrops(True)
        self.canvas = Canvas(state)
        self.setCentralWidget(self.canvas)
        self.panel = ExplainPanel(state)
        self.panel.explain_requested.connect(controller.explain)
        self.evaluation = EvaluationPanel(state)
        self.evaluation.run_requested.connect(controller.evaluate)
        self.evaluation.cancel_requested.connect(controller.cancel)
        self.browser = StudyBrowser()
        self.browser.chosen.connect(lambda files, index: self.open_paths(tuple(files), index))
        self.measure = MeasureTool(self.canvas.main, state)
        self.batch_dialog: BatchDialog | None = None
        self._docks()
        self._status()
        self._menus()
        self._model_selector()
        state.subscribe(self._render)
        self._render(state.view, frozenset({"busy"}))

    def _docks(self) -> None:
        right, left = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.LeftDockWidgetArea
        self.explain_dock = self._dock("Explain", self.panel, right)
        self.evaluation_dock = self._dock("Evaluation", self.evaluation, right)
        self.studies_dock = self._dock("Studies", self.browser, left)
        self.tabifyDockWidget(self.explain_dock, self.evaluation_dock)
        self.explain_dock.raise_()
        self.studies_dock.hide()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title)
        dock.setObjectName(title.lower())
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _status(self) -> None:
        self.pixel_label = QLabel()
        self.pixel_label.setToolTip("the source pixel under the cursor and its value (after the Modality LUT)")
        self.canvas.main.hovered.connect(self.pixel_label.setText)
        self.statusBar().addWidget(self.pixel_label)
        self.status_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.controller.cancel)
        for widget in (self.status_label, self.progress, self.cancel_button):
            self.statusBar().addPermanentWidget(widget)

    def _menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        _add(file, self, "&Open files...", QKeySequence.StandardKey.Open, self._open_dialog)
        _add(file, self, "Open &folder...", "Ctrl+Shift+O", self._open_folder_dialog)
        self.recent_menu = file.addMenu("&Recent files")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        for kind, text in EXPORTS.items():
            _add(file, self, f"Export {text}...", None, partial(self._export_dialog, kind))
        file.addSeparator()
        _add(file, self, "&Batch evaluate a folder...", "Ctrl+B", self._show_batch)
        file.addSeparator()
        _add(file, self, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        view = self.menuBar().addMenu("&View")
        update = self.state.update
        for text, keys, slot in (
            ("Overlay on/off", "O", lambda: update(overlay_visible=not self.state.view.overlay_visible)),
            ("Fit", "F", self._fit), ("1:1", "Z", self._one_to_one),
            ("Invert", "I", lambda: self._orient(invert=not self.state.view.orientation.invert)),
            ("Rotate 90°", "R", lambda: update(orientation=self.state.view.orientation.rotated())),
            ("Flip horizontally", "H", lambda: self._orient(flip_h=not self.state.view.orientation.flip_h)),
            ("Flip vertically", "V", lambda: self._orient(flip_v=not self.state.view.orientation.flip_v)),
            ("Reset view", "Esc", self._reset), ("Compare methods", "C", self._toggle_compare),
            ("Next image", "PgDown", lambda: self.state.step(1)), ("Previous image", "PgUp", lambda: self.state.step(-1)),
            ("DICOM tags...", "T", self._show_tags), ("Measure distance", "M", self.measure.toggle),
            ("Anonymise", "A", lambda: update(anonymise=not self.state.view.anonymise)),
        ):
            _add(view, self, text, keys, slot)
        for k in range(1, 10):
            _add(view if k == 1 else None, self, "Window preset 1..9" if k == 1 else "", str(k), partial(self._preset, k - 1))
        view.addSeparator()
        view.addAction(self.studies_dock.toggleViewAction())
        view.addAction(self.explain_dock.toggleViewAction())
        view.addAction(self.evaluation_dock.toggleViewAction())

    def _model_selector(self) -> None:
        self.model_box = QComboBox()
        self.model_box.setMinimumWidth(180)
        for card in sorted(DEFAULT_CARD.parent.glob("*.json")):
            self.model_box.addItem(card.stem, str(card))
        self.model_box.addItem("Add a model card...", "")
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(str(DEFAULT_CARD))))
        self.model_box.activated.connect(self._model_chosen)
        bar = self.addToolBar("Model")
        bar.setObjectName("model-toolbar")
        bar.addWidget(QLabel(" Model: "))
        bar.addWidget(self.model_box)

    def open_paths(self, paths: tuple[Path, ...], index: int = 0) -> None:
        """Show ``paths`` (a folder opens the study browser)."""
        if len(paths) == 1 and paths[0].is_dir():
            self.browser.set_folder(paths[0])
            self.studies_dock.show()
            self.settings.set_folder("open", paths[0])
            return
        if paths:
            self.settings.add_recent(paths[:1])
            self.state.open(paths, index)

    def export_to(self, kind: str, folder: Path) -> None:
        view = self.state.view
        self.controller.export(OutputOptions(folder, exports=(kind,), style=view.style, keep_identity=not view.anonymise))

    def choose_model(self, card: Path) -> None:
        """Load ``card``, asking first (once per card hash) when it runs Python code."""
        try:
            runs_code, digest = load_card(card).runs_user_code, card_hash(card)
        except (errors.CamviewerError, OSError) as exc:
            self.state.update(message=f"cannot use the model card: {getattr(exc, 'message', exc)}")
            return
        trusted = not runs_code or self.settings.trusted(digest)
        if not trusted and self._ask_trust(card, digest):
            self.settings.trust(digest)
            trusted = True
        if trusted:
            self.controller.load(LoadModel(card, self._device, trust_code=runs_code))

    def _ask_trust(self, card: Path, digest: str) -> bool:
        answer = QMessageBox.question(self, "Run the model card's code?",
                                      f"{card.name} builds its model with Python code from {card.parent}.\n"
                                      f"Running it can do anything your account can. Trust this card (SHA-256 {digest[:16]}...)?")
        return answer == QMessageBox.StandardButton.Yes

    def _model_chosen(self, index: int) -> None:
        data = self.model_box.itemData(index)
        if data:
            self.choose_model(Path(data))
            return
        name, _ = QFileDialog.getOpenFileName(self, "Add a model card", "", "Model cards (*.json)")
        if name:
            self.model_box.insertItem(self.model_box.count() - 1, Path(name).stem, name)
            self.model_box.setCurrentIndex(self.model_box.count() - 2)
            self.choose_model(Path(name))

    def _open_dialog(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Open radiographs", self.settings.folder("open"), IMAGE_FILTER)
        if names:
            self.settings.set_folder("open", Path(names[0]).parent)
            self.open_paths(tuple(Path(n) for n in names))

    def _open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of studies", self.settings.folder("open"))
        if folder:
            self.open_paths((Path(folder),))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent():
            _add(self.recent_menu, self, str(path), None, partial(self.open_paths, (path,)))

    def _export_dialog(self, kind: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Export {EXPORTS[kind]} to", self.settings.folder("export"))
        if folder:
            self.settings.set_folder("export", Path(folder))
            self.export_to(kind, Path(folder))

    def _orient(self, **changes: bool) -> None:
        self.state.update(orientation=replace(self.state.view.orientation, **changes))

    def _fit(self) -> None:
        self.canvas.main.fit()
        self.canvas.follow(self.canvas.main)

    def _one_to_one(self) -> None:
        self.canvas.main.one_to_one()
        self.canvas.follow(self.canvas.main)

    def _reset(self) -> None:
        self.state.update(orientation=Orientation(), window=None, preview=None)
        self._fit()

    def _preset(self, index: int) -> None:
        image = self.state.view.image
        if image is not None and index < len(image.presets):
            self.state.update(preset=index, window=None)

    def _toggle_compare(self) -> None:
        self.panel.compare.setChecked(not self.state.view.compare)

    def _show_tags(self) -> None:
        image = self.state.view.image
        if image is not None:
            self._tags = TagBrowser(image.header, self.state.view.anonymise, self)
            self._tags.show()

    def _show_batch(self) -> None:
        if self.batch_dialog is None:
            self.batch_dialog = BatchDialog(self.settings, self._batch_model, self)
        if self.batch_dialog.isVisible():
            self.batch_dialog.raise_()
        self.batch_dialog.show()

    def _batch_model(self) -> ModelLoad | None:
        """The model shown, loaded the same way by the batch run's own worker."""
        info = self.state.view.model
        return None if info is None else ModelLoad(info.card, info.trust_code, info.device)

    def _render(self, view: View, changed: frozenset[str]) -> None:
        self.status_label.setText(view.message or (f"{view.busy} ..." if view.busy else _title(view)))
        busy = view.busy is not None
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy and view.progress is not None:
            self.progress.setRange(0, view.progress[1])
            self.progress.setValue(view.progress[0])
        else:
            self.progress.setRange(0, 0 if busy else 1)
            self.progress.setValue(0)
        if "anonymise" in changed:
            self.browser.set_anonymise(view.anonymise)
        if changed & {"method", "style"}:
            self.settings.set_method(view.method)
            self.settings.set_style(view.style)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = tuple(Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile())
        self.open_paths(paths)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.settings.set_geometry(self.saveGeometry())
        self.browser.shutdown()
        if self.batch_dialog is not None:
            self.batch_dialog.shutdown()
        self._host.shutdown(SHUTDOWN_MS)
        super().closeEvent(event)
        self.closed.emit()


def _title(view: View) -> str:
    if view.current is None:
        return "open a radiograph (Ctrl+O) or drop one here"
    name = "image" if view.anonymise else view.current.name
    return f"{name} ({(view.index or 0) + 1} of {len(view.images)})"


def _add(menu: QMenu | None, parent: QWidget, text: str, keys: QKeySequence | QKeySequence.StandardKey | str | None,
         slot: Callable[[], object]) -> QAction:
    action = QAction(text, parent)
    if keys is not None:
        action.setShortcut(QKeySequence(keys))
    action.triggered.connect(slot)
    parent.addAction(action)
    if menu is not None:
        menu.addAction(action)
    return action
