"""The window's batch dialog, offscreen: a folder with a bad file run to its report (opened), a
cancelled run continued by Start, the window usable during a run, closing the dialog or the window
during a run; and its Qt-free form (output folder, grids, perturbation, rate and time left)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from gui_helpers import EFFUSION, SAMPLES, TIMEOUT, make_viewer, shown, viewer
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot

from camviewer import errors
from camviewer.batch.config import parse_grids
from camviewer.batch.run import CHUNK_IMAGES, BatchOutcome, default_out
from camviewer.gui import worker
from camviewer.gui.app import Viewer
from camviewer.gui.batch_dialog import BatchDialog
from camviewer.gui.batch_form import BatchForm, Throughput, batch_request
from camviewer.progress import CancelToken, Progress

__all__ = ["viewer"]

IMAGES = ("phantom_cardiomegaly.png", "phantom_effusion.dcm", "phantom_nodule.dcm", "phantom_normal.png")


def image_folder(tmp_path: Path, copies: int = 1) -> Path:
    """``copies`` x the four images, and one broken DICOM file."""
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(copies):
        for name in IMAGES:
            (folder / f"{k}-{name}").write_bytes((SAMPLES / name).read_bytes())
    (folder / "broken.dcm").write_bytes(b"not a DICOM file at all " * 20)
    return folder


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the dialog asked the desktop to open."""
    urls: list[Path] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: urls.append(Path(QUrl(url).toLocalFile())) or True)
    return urls


class Gate:
    """Holds the first batch run after its first chunk (in its worker thread) until it is cancelled."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held = threading.Event()
        real = worker.run_batch

        def run(request, model, session, progress, cancel: CancelToken) -> BatchOutcome:  # type: ignore[no-untyped-def]
            def report(update: Progress) -> None:
                progress(update)
                if update.done > 0 and not self.held.is_set():
                    self.held.set()
                    deadline = time.monotonic() + 30
                    while not cancel.cancelled and time.monotonic() < deadline:
                        time.sleep(0.01)

            return real(request, model, session, report, cancel)

        monkeypatch.setattr(worker, "run_batch", run)


def batch_dialog(viewer: Viewer, qtbot: QtBot, folder: Path) -> BatchDialog:
    """The dialog opened with Ctrl+B, filled in for a quick run in this process."""
    qtbot.keyClick(viewer.window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    dialog = viewer.window.batch_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.folder.setText(str(folder))
    dialog.folder.editingFinished.emit()
    dialog.grids.setText("3")
    dialog.workers.setValue(1)
    return dialog


def finished(dialog: BatchDialog, qtbot: QtBot, start: bool = True) -> BatchOutcome:
    with qtbot.waitSignal(dialog.outcome, timeout=TIMEOUT) as blocker:
        if start:
            dialog.start_button.click()
    outcome = blocker.args[0]
    assert isinstance(outcome, BatchOutcome)
    return outcome


def test_a_folder_runs_to_its_report_which_opens(viewer: Viewer, qtbot: QtBot, tmp_path: Path, opened: list[Path]) -> None:
    folder = image_folder(tmp_path)
    dialog = batch_dialog(viewer, qtbot, folder)
    assert Path(dialog.out.text()) == tmp_path.resolve() / "in-camviewer"
    assert dialog.form().methods == ("gradcam",)
    outcome = finished(dialog, qtbot)
    assert outcome.complete and (outcome.rows, outcome.ok, outcome.failed, outcome.resumed) == (5, 4, 1, 0)
    assert opened == [outcome.reports.report] and outcome.reports.report.is_file()
    assert "broken.dcm,failed:" in outcome.reports.results.read_text()
    assert dialog.report_button.isEnabled() and dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    assert dialog.status.text().startswith("5 rows: 4 ok, 1 failed") and dialog.rate.text().startswith("5 of 5")
    assert dialog.progress.value() == dialog.progress.maximum() == 5
    dialog.report_button.click()
    assert opened == [outcome.reports.report] * 2


def test_a_cancelled_run_continues_with_start_and_the_window_stays_usable(viewer: Viewer, qtbot: QtBot, tmp_path: Path,
                                                                          opened: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(monkeypatch)
    dialog = batch_dialog(viewer, qtbot, image_folder(tmp_path, copies=3))
    dialog.start_button.click()
    qtbot.waitUntil(gate.held.is_set, timeout=TIMEOUT)
    shown(viewer, qtbot, EFFUSION)  # the window's own worker is free while the batch runs
    assert viewer.window.panel.predictions.item(0, 0).text() == "effusion" and viewer.window.canvas.main.heat.isVisible()
    assert dialog.cancel_button.isEnabled() and not dialog.start_button.isEnabled() and not dialog.fields.isEnabled()
    qtbot.waitUntil(lambda: dialog.rate.text().startswith(f"{CHUNK_IMAGES} of 13"), timeout=TIMEOUT)
    with qtbot.waitSignal(dialog.outcome, timeout=TIMEOUT) as blocker:
        dialog.cancel_button.click()
    cancelled = blocker.args[0]
    assert not cancelled.complete and cancelled.rows == CHUNK_IMAGES and not opened
    assert dialog.status.text() == f"Cancelled after {CHUNK_IMAGES} rows; Start again to continue" and dialog.start_button.isEnabled()
    outcome = finished(dialog, qtbot)
    done = (outcome.rows, outcome.resumed, outcome.computed, outcome.failed)
    assert outcome.complete and done == (13, CHUNK_IMAGES, 13 - CHUNK_IMAGES, 1)
    assert opened == [outcome.reports.report]


def test_closing_the_dialog_during_a_run_cancels_it_and_waits(viewer: Viewer, qtbot: QtBot, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(monkeypatch)
    dialog = batch_dialog(viewer, qtbot, image_folder(tmp_path, copies=2))
    dialog.start_button.click()
    qtbot.waitUntil(gate.held.is_set, timeout=TIMEOUT)
    dialog.close()
    assert not dialog.isVisible() and dialog.start_button.isEnabled()
    assert dialog.status.text() == "Cancelled when the dialog was closed; Start again to continue"
    assert (Path(dialog.out.text()) / "report.html").is_file()  # the run ended: its incomplete reports are written


def test_closing_the_window_during_a_run_stops_the_dialog_s_worker(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = Gate(monkeypatch)
    viewer = make_viewer(qtbot, tmp_path / "settings.ini")
    qtbot.waitUntil(lambda: viewer.state.view.model is not None, timeout=TIMEOUT)
    dialog = batch_dialog(viewer, qtbot, image_folder(tmp_path, copies=2))
    dialog.start_button.click()
    qtbot.waitUntil(gate.held.is_set, timeout=TIMEOUT)
    viewer.window.close()
    assert dialog.start_button.isEnabled() and "Cancelled" in dialog.status.text()


def test_a_bad_field_says_so_and_the_dialog_stays_usable(viewer: Viewer, qtbot: QtBot, tmp_path: Path) -> None:
    dialog = batch_dialog(viewer, qtbot, image_folder(tmp_path))
    dialog.perturbation.setCurrentText("gaussian:lots")
    dialog.start_button.click()
    assert dialog.status.text() == "Invalid option: 'gaussian:lots': 'lots' is not a number" and dialog.start_button.isEnabled()
    dialog.perturbation.setCurrentText("blur:5")
    dialog.out.setText(str(tmp_path / "in" / "out"))  # inside the folder: refused by the engine, in one line
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.start_button.isEnabled(), timeout=TIMEOUT)
    assert dialog.status.text() == "Invalid option: the output folder must be outside the input folder (out)"
    assert not (tmp_path / "in" / "out").exists() and dialog.fields.isEnabled()


def test_the_output_folder_is_a_sibling_of_the_input_folder(tmp_path: Path) -> None:
    assert default_out(tmp_path / "scans") == tmp_path.resolve() / "scans-camviewer"
    assert default_out(tmp_path / "scans" / ".." / "scans") == tmp_path.resolve() / "scans-camviewer"


def test_the_form_makes_the_batch_request(tmp_path: Path) -> None:
    form = BatchForm(str(tmp_path), str(tmp_path / "out"), "", ("gradcam", "hirescam"), "4,8, 11 14", "uniform", 7, 0)
    request = batch_request(form)
    assert request.grids == (4, 8, 11, 14) and request.methods == ("gradcam", "hirescam") and str(request.perturbation) == "uniform"
    assert request.seed == 7 and request.workers is None and request.labels is None and request.folder == tmp_path
    assert batch_request(BatchForm(str(tmp_path), "o", labels=" truth.csv ", workers=2)).labels == Path("truth.csv")
    assert parse_grids("9") == (9,)


@pytest.mark.parametrize(("change", "message"), [
    ({"perturbation": "gaussian:x"}, "Invalid option: 'gaussian:x': 'x' is not a number"),
    ({"perturbation": "noise"}, "Invalid option: 'noise': use constant:V, gaussian:SIGMA, uniform, blur:SIGMA or mean"),
    ({"grids": "4,eight"}, "Invalid option: grid 'eight' is not a whole number"),
    ({"grids": "4,4"}, "Invalid option: a grid is listed twice"),
    ({"grids": ""}, "Invalid option: give a grid, e.g. 9 or 4,8,11,14"),
    ({"methods": ()}, "Invalid option: tick at least one method"),
    ({"folder": " "}, "Invalid option: choose the folder of images"),
])
def test_a_bad_form_is_refused_with_a_clear_message(tmp_path: Path, change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"folder": str(tmp_path), "out": str(tmp_path / "out"), **change}
    with pytest.raises(errors.UsageError) as caught:
        batch_request(BatchForm(**fields))  # type: ignore[arg-type]
    assert caught.value.message == message


def test_the_rate_and_time_left_come_from_this_run_s_updates() -> None:
    throughput = Throughput()
    assert throughput.text(40, 100, 10.0) == "40 of 100"  # a resumed run: its first update is the start
    assert throughput.text(40, 100, 12.0) == "40 of 100"
    assert throughput.text(60, 100, 20.0) == "60 of 100, 2.00 images/s, ETA 0:20"
    assert Throughput().text(0, 10_000, 0.0) == "0 of 10000"
    slow = Throughput()
    slow.text(0, 10_000, 0.0)
    assert slow.text(1, 10_000, 1.0).endswith("ETA 2:46:39")
