"""The study browser: a folder's studies, series and images as a tree with thumbnails.

Scanning (:func:`~camviewer.gui.studies.scan_folder`) and thumbnail decoding run on the widget's
own thread pool, never on the GUI thread; workers send back only plain data and QImages (a
QPixmap is made on the GUI thread). Every result carries the generation of the folder it belongs
to, so a newer :meth:`StudyBrowser.set_folder` drops the older scan's results and cancels it.
Thumbnails are decoded when their series is first shown expanded. :meth:`StudyBrowser.shutdown`
cancels and waits for the workers; the window calls it on close.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from camviewer import errors
from camviewer.gui.studies import Catalogue, Study, scan_folder, short_reason
from camviewer.io import load_image
from camviewer.progress import CancelToken

THUMB_PX = 96
EXPAND_UP_TO = 200  # images: a smaller catalogue opens fully expanded
THUMBS_PER_JOB = 8
MAX_REASONS = 40  # lines in the skipped files' tooltip
NODE_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class _Node:
    """Where a tree item points in the catalogue: a study, one of its series, or one image of a series."""

    study: int
    series: int | None = None
    image: int | None = None


class _Relay(QObject):
    """Lives in the GUI thread; workers emit on it, so the slots run queued on the GUI thread."""

    scanned = Signal(int, object)  # generation, Catalogue or a one-line error
    thumbnail = Signal(int, object, object)  # generation, path, QImage or a one-line error


def thumbnail(path: Path, size: int = THUMB_PX) -> QImage:
    """The image at most ``size`` pixels a side, as an 8-bit QImage; safe off the GUI thread."""
    pixels = load_image(path).display()
    step = max(1, -(-max(pixels.shape[:2]) // size))
    small = np.ascontiguousarray(np.rint(np.clip(_binned(_binned(pixels, step, 0), step, 1), 0, 1) * 255).astype(np.uint8))
    height, width = small.shape[:2]
    fmt = QImage.Format.Format_RGB888 if small.ndim == 3 else QImage.Format.Format_Grayscale8
    return QImage(small.tobytes(), width, height, small.strides[0], fmt).copy()


def _binned(pixels: np.ndarray, step: int, axis: int) -> np.ndarray:
    """Means of ``step`` consecutive pixels along ``axis`` (the last block may be shorter)."""
    starts = np.arange(0, pixels.shape[axis], step)
    counts = np.diff(np.append(starts, pixels.shape[axis])).astype(np.float32)
    shape = [1] * pixels.ndim
    shape[axis] = -1
    return np.add.reduceat(pixels, starts, axis=axis) / counts.reshape(shape)


def _scan_job(folder: Path, token: CancelToken, generation: int, relay: _Relay) -> None:
    try:
        outcome: object = scan_folder(folder, token)
    except errors.Cancelled:
        return
    except errors.CamviewerError as exc:
        outcome = short_reason(exc)
    except Exception as exc:  # the browser must leave "scanning" whatever happens
        outcome = f"Internal error: {type(exc).__name__}; please report it"
    _emit(relay.scanned.emit, generation, outcome)


def _thumbnail_job(paths: tuple[Path, ...], token: CancelToken, generation: int, relay: _Relay) -> None:
    for path in paths:
        if token.cancelled:
            return
        try:
            outcome: object = thumbnail(path)
        except errors.CamviewerError as exc:
            outcome = short_reason(exc)
        except Exception as exc:  # MemoryError included: one bad file must not end the others
            outcome = f"Internal error: {type(exc).__name__}"
        _emit(relay.thumbnail.emit, generation, path, outcome)


def _emit(emit: Callable[..., object], *args: object) -> None:
    try:
        emit(*args)
    except RuntimeError:  # the widget was deleted without shutdown(); nobody is listening
        pass


class StudyBrowser(QWidget):
    """A tree of study → series → image with thumbnails and a filter; emits what the user opens."""

    chosen = Signal(object, int)  # files of the series (or study) in browse order, index of the activated file
    scanned = Signal(object)  # the Catalogue of the current folder

    def __init__(self, parent: QWidget | None = None, anonymise: bool = True, threads: int = 2) -> None:
        super().__init__(parent)
        self._anonymise = anonymise
        self._generation = 0
        self._token = CancelToken()
        self._catalogue: Catalogue | None = None
        self._items: dict[Path, QTreeWidgetItem] = {}
        self._requested: set[Path] = set()
        self._failures: dict[Path, str] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._relay = _Relay(self)
        self._relay.scanned.connect(self._on_scanned)
        self._relay.thumbnail.connect(self._on_thumbnail)
        self._build()

    def _build(self) -> None:
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.status = QLabel("No folder open")
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.tree.setExpandsOnDoubleClick(False)  # a double click opens; the arrows expand
        self.tree.itemActivated.connect(self._on_activated)
        self.tree.itemExpanded.connect(self._request_thumbnails)
        self.skipped_label = QLabel()
        self.skipped_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.filter_edit, self.status, self.tree, self.skipped_label):
            layout.addWidget(widget)

    @property
    def catalogue(self) -> Catalogue | None:
        """The current folder's catalogue; None while scanning or before a folder."""
        return self._catalogue

    @property
    def anonymise(self) -> bool:
        return self._anonymise

    def set_anonymise(self, on: bool) -> None:
        """Relabel: anonymised labels show no patient name, ID, date, description or file name."""
        self._anonymise = on
        self._relabel()

    def set_folder(self, folder: Path) -> None:
        """Scan ``folder`` in the background; any earlier scan is cancelled and its results dropped."""
        self._supersede()
        self.status.setText("scanning ...")
        self._pool.start(partial(_scan_job, Path(folder), self._token, self._generation, self._relay))

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every worker and wait for them; False if one is still busy after the timeout."""
        self._token.cancel()
        self._generation += 1
        self._pool.clear()
        return bool(self._pool.waitForDone(timeout_ms))

    def _supersede(self) -> None:
        self._token.cancel()
        self._pool.clear()
        self._generation += 1
        self._token = CancelToken()
        self._catalogue = None
        self._items.clear()
        self._requested.clear()
        self._failures.clear()
        self.tree.clear()
        self.skipped_label.hide()

    @Slot(int, object)
    def _on_scanned(self, generation: int, outcome: object) -> None:
        if generation != self._generation:
            return
        if not isinstance(outcome, Catalogue):
            self.status.setText(str(outcome))
            return
        self._catalogue = outcome
        self._fill(outcome)
        self.scanned.emit(outcome)

    def _fill(self, catalogue: Catalogue) -> None:
        images = len(catalogue.files)
        studies = len(catalogue.studies)
        more = " (stopped at the file limit)" if catalogue.truncated else ""
        self.status.setText(f"{studies} stud{'ies' if studies != 1 else 'y'}, {images} image{'s' if images != 1 else ''}{more}")
        for index, study in enumerate(catalogue.studies):
            self.tree.addTopLevelItem(self._study_item(index, study))
        self._relabel()
        if images <= EXPAND_UP_TO:
            self.tree.expandAll()  # itemExpanded requests the thumbnails

    def _study_item(self, index: int, study: Study) -> QTreeWidgetItem:
        item = _item(_Node(index))
        for s, series in enumerate(study.series):
            child = _item(_Node(index, s))
            item.addChild(child)
            for i, path in enumerate(series.files):
                leaf = _item(_Node(index, s, i))
                leaf.setSizeHint(0, QSize(THUMB_PX + 4, THUMB_PX + 4))
                child.addChild(leaf)
                self._items[path] = leaf
        return item

    def _relabel(self) -> None:
        for item in _walk(self.tree.invisibleRootItem()):
            node = item.data(0, NODE_ROLE)
            item.setText(0, self._label(node))
            if node.image is not None:
                item.setToolTip(0, self._tooltip(self._path(node)))
        self._show_skipped()
        self._apply_filter(self.filter_edit.text())

    def _label(self, node: _Node) -> str:
        assert self._catalogue is not None
        study = self._catalogue.studies[node.study]
        if node.series is None:
            return study.label(self._anonymise)
        series = study.series[node.series]
        return series.label(self._anonymise) if node.image is None else series.image_label(node.image, self._anonymise)

    def _path(self, node: _Node) -> Path:
        assert self._catalogue is not None and node.series is not None and node.image is not None
        return self._catalogue.studies[node.study].series[node.series].files[node.image]

    def _tooltip(self, path: Path) -> str:
        lines = [] if self._anonymise else [str(path)]
        if path in self._failures:
            lines.append(f"No thumbnail: {self._failures[path]}")
        return "\n".join(lines)

    def _show_skipped(self) -> None:
        skipped = self._catalogue.skipped if self._catalogue is not None else ()
        self.skipped_label.setVisible(bool(skipped))
        count = len(skipped)
        self.skipped_label.setText(f"{count} file{'s' if count != 1 else ''} could not be read")
        lines = [reason if self._anonymise else f"{path.name}: {reason}" for path, reason in skipped[:MAX_REASONS]]
        if count > MAX_REASONS:
            lines.append(f"... and {count - MAX_REASONS} more")
        self.skipped_label.setToolTip("\n".join(lines))

    @Slot(QTreeWidgetItem)
    def _request_thumbnails(self, expanded: QTreeWidgetItem) -> None:
        """Decode the thumbnails of the images this expansion shows, each once."""
        paths = [path for item in _shown_images(expanded) if (path := self._path(item.data(0, NODE_ROLE))) not in self._requested]
        self._requested.update(paths)
        for start in range(0, len(paths), THUMBS_PER_JOB):
            chunk = tuple(paths[start:start + THUMBS_PER_JOB])
            self._pool.start(partial(_thumbnail_job, chunk, self._token, self._generation, self._relay))

    @Slot(int, object, object)
    def _on_thumbnail(self, generation: int, path: Path, outcome: object) -> None:
        item = self._items.get(path)
        if generation != self._generation or item is None:
            return
        if isinstance(outcome, QImage):
            item.setIcon(0, QIcon(QPixmap.fromImage(outcome)))
        else:
            self._failures[path] = str(outcome)
            item.setToolTip(0, self._tooltip(path))

    @Slot(QTreeWidgetItem, int)
    def _on_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        node: _Node = item.data(0, NODE_ROLE)
        assert self._catalogue is not None
        study = self._catalogue.studies[node.study]
        if node.series is None:
            self.chosen.emit(study.files, 0)
        else:
            self.chosen.emit(study.series[node.series].files, node.image or 0)

    @Slot(str)
    def _apply_filter(self, text: str) -> None:
        """Show the items whose label holds ``text`` (any case), with their ancestors and descendants."""
        for item in _children(self.tree.invisibleRootItem()):
            _filter(item, text.strip().lower(), False)


def _item(node: _Node) -> QTreeWidgetItem:
    item = QTreeWidgetItem()
    item.setData(0, NODE_ROLE, node)
    return item


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for i in range(item.childCount()) if (child := item.child(i)) is not None]


def _walk(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    """Every item below ``item``, depth first."""
    return [found for child in _children(item) for found in (child, *_walk(child))]


def _shown_images(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    """The image items under ``item`` whose series and study are expanded."""
    if item.data(0, NODE_ROLE).image is not None:
        return [item]
    if not item.isExpanded():
        return []
    return [found for child in _children(item) for found in _shown_images(child)]


def _filter(item: QTreeWidgetItem, text: str, shown_by_parent: bool) -> bool:
    """Hide ``item`` unless it, an ancestor or a descendant matches; True if it stays visible."""
    matches = shown_by_parent or text in item.text(0).lower()
    below = [_filter(child, text, matches) for child in _children(item)]
    visible = matches or any(below)
    item.setHidden(not visible)
    return visible
