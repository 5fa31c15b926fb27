"""The study browser: a folder scanned into studies and series (Qt-free), then shown as a tree with
thumbnails that opens what the user activates, superseded scans, anonymised labels, clean shutdown."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import Qt, QThreadPool
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from camviewer import errors
from camviewer.gui.browser import EXPAND_UP_TO, THUMB_PX, StudyBrowser, thumbnail
from camviewer.gui.studies import Catalogue, scan_folder
from camviewer.io.write import encode_png
from camviewer.phantom.demo_data import write_demo_folder
from camviewer.progress import CancelToken

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
TIMEOUT = 20_000
PHI = ("Doe", "Jane", "MRN12345", "Chest PA", "2024", "SYNTHETIC", "SYN-", "private_name")


def dicom(path: Path, **tags: Any) -> Path:
    """A copy of the bundled normal phantom with ``tags`` set (None deletes the tag)."""
    ds = pydicom.dcmread(SAMPLES / "phantom_normal.dcm")
    ds.PatientName, ds.PatientID, ds.StudyDate, ds.StudyDescription = "Doe^Jane", "MRN12345", "20240102", "Chest PA"
    for keyword, value in tags.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def names(files: tuple[Path, ...]) -> list[str]:
    return [path.name for path in files]


@pytest.fixture
def studies_folder(tmp_path: Path) -> Path:
    """Two studies by UID: study A with two series (2 + 1 images), study B with one; names out of instance order."""
    root = tmp_path / "studies"
    dicom(root / "a" / "z1.dcm", StudyInstanceUID="1.1", SeriesInstanceUID="1.1.1", SeriesNumber=1, InstanceNumber=2)
    dicom(root / "a" / "z2.dcm", StudyInstanceUID="1.1", SeriesInstanceUID="1.1.1", SeriesNumber=1, InstanceNumber=1)
    dicom(root / "a" / "lateral.dcm", StudyInstanceUID="1.1", SeriesInstanceUID="1.1.2", SeriesNumber=2, InstanceNumber=1)
    dicom(root / "b" / "b.dcm", StudyInstanceUID="2.2", SeriesInstanceUID="2.2.1", PatientName="Roe^Rick")
    return root


def test_dicom_files_group_by_study_and_series_uid(studies_folder: Path) -> None:
    catalogue = scan_folder(studies_folder)
    assert [study.key for study in catalogue.studies] == ["uid:1.1", "uid:2.2"]
    first = catalogue.studies[0]
    assert [series.key for series in first.series] == ["uid:1.1.1", "uid:1.1.2"]
    assert names(first.series[0].files) == ["z2.dcm", "z1.dcm"]  # by InstanceNumber, not by name
    assert names(catalogue.files) == ["z2.dcm", "z1.dcm", "lateral.dcm", "b.dcm"]
    assert first.patient_name == "Doe^Jane" and catalogue.skipped == ()


def test_instances_sort_by_number_then_name(tmp_path: Path) -> None:
    for name, number in (("a.dcm", 3), ("b.dcm", 1), ("c.dcm", None), ("d.dcm", 2), ("0.dcm", None)):
        dicom(tmp_path / name, StudyInstanceUID="1.1", SeriesInstanceUID="1.1.1", InstanceNumber=number)
    (series,) = scan_folder(tmp_path).studies[0].series
    assert names(series.files) == ["b.dcm", "d.dcm", "a.dcm", "0.dcm", "c.dcm"]


def test_missing_uids_fall_back_to_patient_and_date_then_the_folder(tmp_path: Path) -> None:
    no_uid = {"StudyInstanceUID": None, "SeriesInstanceUID": None}
    dicom(tmp_path / "x" / "1.dcm", **no_uid, SeriesNumber=1)
    dicom(tmp_path / "y" / "2.dcm", **no_uid, SeriesNumber=2)  # same patient and date, other folder: same study
    anonymous = {**no_uid, "PatientID": None, "StudyDate": None}
    dicom(tmp_path / "z" / "3.dcm", **anonymous, SeriesNumber=None)
    dicom(tmp_path / "z" / "4.dcm", **anonymous, SeriesNumber=None)
    studies = scan_folder(tmp_path).studies
    assert [study.key for study in studies] == ["patient:MRN12345/20240102", f"dicom-folder:{tmp_path / 'z'}"]
    assert [series.key for series in studies[0].series] == ["number:1", "number:2"]
    assert [names(series.files) for series in studies[1].series] == [["3.dcm", "4.dcm"]]


def test_pictures_group_by_folder_then_stem_without_trailing_digits(tmp_path: Path) -> None:
    png = (SAMPLES / "phantom_normal.png").read_bytes()
    for name in ("img_002.png", "img_001.png", "img10.png", "case12_a.png", "sub/other.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(png)
    studies = scan_folder(tmp_path).studies
    assert [study.description for study in studies] == [tmp_path.name, "sub"]
    assert [(series.description, names(series.files)) for series in studies[0].series] == [
        ("case12_a", ["case12_a.png"]), ("img", ["img10.png", "img_001.png", "img_002.png"])]
    assert studies[0].series[0].modality == "PNG"


def test_the_demo_folder_keeps_dicom_studies_before_the_folders_pictures(tmp_path: Path) -> None:
    write_demo_folder(tmp_path / "demo", n=3, size=64)
    studies = scan_folder(tmp_path / "demo").studies
    assert [study.modality for study in studies] == ["DX", "DX", "DX", "PNG", "PNG"]
    assert [study.description for study in studies[3:]] == ["images", "masks"]
    assert names(studies[3].files) == ["syn-0000.png", "syn-0001.png", "syn-0002.png"]


def test_unreadable_files_are_skipped_with_a_reason_and_others_ignored(tmp_path: Path) -> None:
    good = dicom(tmp_path / "good.dcm")
    (tmp_path / "cut.dcm").write_bytes(good.read_bytes()[:300])
    (tmp_path / "junk.dcm").write_bytes(good.read_bytes()[:132] + os.urandom(400))
    (tmp_path / "garbage.png").write_bytes(os.urandom(200))
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.dcm").write_bytes(good.read_bytes())
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(tmp_path / "pipe.dcm")  # never opened, so the scan cannot block on it
    catalogue = scan_folder(tmp_path)
    assert names(catalogue.files) == ["good.dcm"]
    reasons = {path.name: reason for path, reason in catalogue.skipped}
    assert set(reasons) == {"cut.dcm", "junk.dcm", "garbage.png", "empty.jpg", "pipe.dcm"}
    assert reasons["cut.dcm"].startswith("Truncated file") and "named pipe" in reasons["pipe.dcm"]
    assert reasons["empty.jpg"].endswith("empty file") and all("\n" not in reason for reason in reasons.values())


def test_anonymised_labels_hide_names_ids_dates_and_descriptions(studies_folder: Path, tmp_path: Path) -> None:
    private = tmp_path / "studies" / "b" / "private_name_01.png"
    shutil.copy(SAMPLES / "phantom_normal.png", private)
    catalogue = scan_folder(studies_folder)
    labels = [label for study in catalogue.studies for label in _labels(study, True)]
    assert labels[0] == "Study 1 (DX, 3 images)" and "Series 2 (DX, 1 image)" in labels
    assert not [label for label in labels if any(phi in label for phi in PHI)]
    plain = " ".join(label for study in catalogue.studies for label in _labels(study, False))
    assert "Chest PA · 2024-01-02 · Doe Jane (DX, 3 images)" in plain and "private_name_01.png" in plain


def _labels(study: Any, anonymise: bool) -> list[str]:
    series_labels = [series.label(anonymise) for series in study.series]
    image_labels = [series.image_label(i, anonymise) for series in study.series for i in range(len(series.files))]
    return [study.label(anonymise), *series_labels, *image_labels]


class CancelAfter(CancelToken):
    """A token that reads as cancelled from its ``n``-th check on."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.checks, self.n = 0, n

    @property
    def cancelled(self) -> bool:
        self.checks += 1
        return self.checks >= self.n


def test_a_cancelled_scan_stops_and_raises(studies_folder: Path) -> None:
    token = CancelAfter(2)
    with pytest.raises(errors.Cancelled):
        scan_folder(studies_folder, token)
    assert token.checks == 2


def test_the_limit_and_a_missing_folder(studies_folder: Path) -> None:
    catalogue = scan_folder(studies_folder, limit=2)
    assert catalogue.truncated and len(catalogue.files) == 2
    with pytest.raises(errors.FileMissingError):
        scan_folder(studies_folder / "nothing")


def test_thumbnails_are_small_gray_images() -> None:
    image = thumbnail(SAMPLES / "chest_cr_mono1_j2k.dcm")
    assert not image.isNull() and max(image.width(), image.height()) <= THUMB_PX and image.isGrayscale()


@pytest.fixture
def browser(qtbot: QtBot) -> Iterator[StudyBrowser]:
    host = QWidget()  # a top-level widget without a layout: the offscreen platform warns when size hints propagate
    qtbot.addWidget(host)
    widget = StudyBrowser(host)
    widget.setGeometry(0, 0, 400, 800)
    host.resize(400, 800)
    host.show()
    yield widget
    assert widget.shutdown()


def scanned(browser: StudyBrowser, qtbot: QtBot, folder: Path) -> Catalogue:
    with qtbot.waitSignal(browser.scanned, timeout=TIMEOUT) as blocker:
        browser.set_folder(folder)
        assert browser.status.text() == "scanning ..."
    catalogue: Catalogue = blocker.args[0]
    return catalogue


def test_the_tree_fills_and_thumbnails_arrive(browser: StudyBrowser, qtbot: QtBot, studies_folder: Path) -> None:
    catalogue = scanned(browser, qtbot, studies_folder)
    tree = browser.tree
    assert tree.topLevelItemCount() == 2 and browser.catalogue is catalogue
    assert browser.status.text() == "2 studies, 4 images" and not browser.skipped_label.isVisible()
    images = [tree.topLevelItem(0).child(0).child(i) for i in range(2)] + [tree.topLevelItem(1).child(0).child(0)]
    qtbot.waitUntil(lambda: all(not item.icon(0).isNull() for item in images), timeout=TIMEOUT)
    assert [item.text(0) for item in images] == ["Image 1", "Image 2", "Image 1"]  # anonymised by default


def test_activating_an_image_or_a_series_emits_its_files(browser: StudyBrowser, qtbot: QtBot, studies_folder: Path) -> None:
    scanned(browser, qtbot, studies_folder)
    series = browser.tree.topLevelItem(0).child(0)
    image = series.child(1)
    browser.tree.scrollToItem(image)
    where = browser.tree.visualItemRect(image).center()
    with qtbot.waitSignal(browser.chosen, timeout=TIMEOUT) as blocker:  # a double click starts with a click
        qtbot.mouseClick(browser.tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
        qtbot.mouseDClick(browser.tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert names(blocker.args[0]) == ["z2.dcm", "z1.dcm"] and blocker.args[1] == 1
    browser.tree.setCurrentItem(series)
    with qtbot.waitSignal(browser.chosen, timeout=TIMEOUT) as blocker:
        qtbot.keyClick(browser.tree, Qt.Key.Key_Return)
    assert names(blocker.args[0]) == ["z2.dcm", "z1.dcm"] and blocker.args[1] == 0


def test_anonymise_switches_the_labels(browser: StudyBrowser, qtbot: QtBot, studies_folder: Path) -> None:
    scanned(browser, qtbot, studies_folder)
    study = browser.tree.topLevelItem(0)
    assert study.text(0) == "Study 1 (DX, 3 images)" and browser.anonymise
    browser.set_anonymise(False)
    assert "Doe Jane" in study.text(0) and study.child(0).child(0).text(0) == "z2.dcm"
    assert str(studies_folder) in study.child(0).child(0).toolTip(0)
    browser.set_anonymise(True)
    assert "Doe" not in study.text(0) and study.child(0).child(0).toolTip(0) == ""


def test_the_filter_hides_what_does_not_match(browser: StudyBrowser, qtbot: QtBot, studies_folder: Path) -> None:
    scanned(browser, qtbot, studies_folder)
    browser.filter_edit.setText("study 2")
    first, second = browser.tree.topLevelItem(0), browser.tree.topLevelItem(1)
    assert first.isHidden() and not second.isHidden() and not second.child(0).child(0).isHidden()
    browser.set_anonymise(False)
    browser.filter_edit.setText("LATERAL")
    assert not first.isHidden() and first.child(0).isHidden() and not first.child(1).child(0).isHidden()
    assert second.isHidden()


def test_skipped_files_show_as_one_line_and_bad_thumbnails_say_why(browser: StudyBrowser, qtbot: QtBot, tmp_path: Path) -> None:
    dicom(tmp_path / "good.dcm")
    (tmp_path / "cut.png").write_bytes((SAMPLES / "phantom_normal.png").read_bytes()[:200])  # in the tree, cannot decode
    (tmp_path / "a.dcm").write_bytes(b"nonsense")
    (tmp_path / "b.tif").write_bytes(b"")
    scanned(browser, qtbot, tmp_path)
    label = browser.skipped_label
    assert label.isVisible() and label.text() == "2 files could not be read"
    assert "a.dcm" not in label.toolTip() and "Not a supported image" in label.toolTip()
    browser.set_anonymise(False)
    assert "a.dcm: Not a supported image" in label.toolTip()
    broken = browser.tree.topLevelItem(1).child(0).child(0)
    qtbot.waitUntil(lambda: "No thumbnail" in broken.toolTip(0), timeout=TIMEOUT)
    assert broken.icon(0).isNull()


def test_a_large_folder_decodes_thumbnails_only_for_what_is_expanded(browser: StudyBrowser, qtbot: QtBot, tmp_path: Path) -> None:
    tiny = encode_png(np.full((8, 8), 128, np.uint8))
    for i in range(EXPAND_UP_TO + 1):
        (tmp_path / f"img_{i:03d}.png").write_bytes(tiny)
    scanned(browser, qtbot, tmp_path)
    series = browser.tree.topLevelItem(0).child(0)
    qtbot.wait(200)
    assert not series.isExpanded() and series.child(0).icon(0).isNull()
    browser.tree.expandItem(browser.tree.topLevelItem(0))
    browser.tree.expandItem(series)
    qtbot.waitUntil(lambda: all(not series.child(i).icon(0).isNull() for i in range(series.childCount())), timeout=TIMEOUT)


def test_a_newer_folder_supersedes_the_older_scan(browser: StudyBrowser, qtbot: QtBot, studies_folder: Path, tmp_path: Path) -> None:
    write_demo_folder(tmp_path / "demo", n=6, size=64)
    results: list[Catalogue] = []
    browser.scanned.connect(results.append)
    browser.set_folder(tmp_path / "demo")
    catalogue = scanned(browser, qtbot, studies_folder)
    qtbot.wait(300)  # the older scan, had it finished, would have arrived by now
    assert results == [catalogue] and browser.tree.topLevelItemCount() == 2


def test_a_missing_folder_shows_why(browser: StudyBrowser, qtbot: QtBot, tmp_path: Path) -> None:
    browser.set_folder(tmp_path / "gone")
    qtbot.waitUntil(lambda: browser.status.text().startswith("File not found"), timeout=TIMEOUT)
    assert browser.catalogue is None and browser.tree.topLevelItemCount() == 0


def test_shutdown_cancels_and_leaves_no_running_threads(qtbot: QtBot, tmp_path: Path) -> None:
    write_demo_folder(tmp_path / "demo", n=12, size=256)
    widget = StudyBrowser()
    qtbot.addWidget(widget)
    scanned(widget, qtbot, tmp_path / "demo")  # thumbnails are now decoding
    widget.set_folder(tmp_path / "demo")
    assert widget.shutdown()
    pool = widget.findChild(QThreadPool)
    assert pool is not None and pool.activeThreadCount() == 0
    qtbot.wait(100)
    assert widget.tree.topLevelItemCount() == 0  # the rescan's result, if any, is dropped
