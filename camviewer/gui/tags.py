"""The DICOM tag browser (T): the image's header as a tree (tag, keyword, VR, value), sequences
nested by item, with a live filter. Rows come from :mod:`camviewer.gui.tag_rows`; with anonymise on,
identifying values are already hidden there, so neither the tree nor the filter sees them."""

from __future__ import annotations

from pydicom.dataset import Dataset
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from camviewer.gui.tag_rows import TagRow, tag_rows

COLUMNS = ("Tag", "Keyword", "VR", "Value")
NO_HEADER = "This file has no DICOM header (it is not a DICOM file)."
ANONYMISED_NOTE = "Anonymise is on: identifying values are hidden."
ROW_ROLE = Qt.ItemDataRole.UserRole


class TagBrowser(QDialog):
    """A non-modal dialog listing ``dataset``'s elements; ``dataset`` None shows that there is no header."""

    def __init__(self, dataset: Dataset | None, anonymise: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DICOM tags")
        self.resize(900, 650)
        self.search = QLineEdit(placeholderText="Filter by tag, keyword or value")
        self.search.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        if anonymise and dataset is not None:
            layout.addWidget(QLabel(ANONYMISED_NOTE))
        layout.addWidget(self.tree)
        if dataset is None:
            self._show_no_header()
        else:
            self.tree.addTopLevelItems([_item(row) for row in tag_rows(dataset, anonymise)])
            for column in range(len(COLUMNS) - 1):
                self.tree.resizeColumnToContents(column)
        self.search.textChanged.connect(self._filter)

    def _show_no_header(self) -> None:
        item = QTreeWidgetItem([NO_HEADER])
        self.tree.addTopLevelItem(item)
        item.setFirstColumnSpanned(True)
        self.search.setEnabled(False)

    def _filter(self, text: str) -> None:
        for item in _children(self.tree.invisibleRootItem()):
            _apply_filter(item, text, parent_matched=False)


def _item(row: TagRow) -> QTreeWidgetItem:
    item = QTreeWidgetItem([row.tag, row.keyword, row.vr, row.value])
    item.setData(0, ROW_ROLE, row)
    item.setToolTip(3, row.value)
    item.addChildren([_item(child) for child in row.children])
    return item


def _apply_filter(item: QTreeWidgetItem, text: str, parent_matched: bool) -> bool:
    """Show the item when it, an ancestor or a descendant matches; open it when a descendant does."""
    row: TagRow = item.data(0, ROW_ROLE)
    matched = parent_matched or row.matches(text)
    below = any([_apply_filter(child, text, matched) for child in _children(item)])
    item.setHidden(not (matched or below))
    if below and not matched:
        item.setExpanded(True)
    return matched or below


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for k in range(item.childCount()) if (child := item.child(k)) is not None]
