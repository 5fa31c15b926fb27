"""The real window, offscreen: open a sample and see it, with predictions and the top class's
overlay; switch methods without recomputing; explain another class; toggle the overlay; change
the window by preset and by drag; turn and flip; switch images rapidly; open a bad file; close
during inference; settings remembered."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import CR, EFFUSION, SAMPLES, TIMEOUT, grabbed, idle, make_viewer, shown, viewer
from PySide6.QtCore import QMimeData, QPointF, QSettings, QStandardPaths, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from camviewer.gui.app import Viewer
from camviewer.gui.image_view import linear_levels
from camviewer.gui.settings import Settings
from camviewer.io import load_image
from camviewer.io.grayscale import apply_window
from camviewer.model.build import DEFAULT_CARD

__all__ = ["viewer"]


def test_opening_a_sample_shows_it_with_predictions_and_the_top_class_overlay(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    window, main = viewer.window, viewer.window.canvas.main
    assert window.panel.predictions.item(0, 0).text() == "effusion" and float(window.panel.predictions.item(0, 1).text()) > 0.5
    assert "demo-resnet" in window.panel.model_label.text() and "DEMO MODEL" in window.panel.model_label.text()
    image = viewer.state.view.image
    assert main.base.image.shape == image.values.shape and main.heat.isVisible() and main.heat.image[..., 3].max() > 0
    assert main.heat.mapRectToParent(main.heat.boundingRect()).width() == pytest.approx(image.values.shape[1])
    pixels = grabbed(main).astype(int)  # what a person sees: a gray radiograph, coloured where the map is
    colour = np.abs(pixels[..., 0] - pixels[..., 2])
    assert pixels.mean() > 20 and (colour > 40).mean() > 0.01
    provenance = main.corners["bottom_right"].text()  # on the canvas: what made the map
    assert provenance.startswith("gradcam · layer ") and "class 3 effusion" in provenance and "demo-resnet · weights " in provenance
    assert "W " in main.corners["bottom_left"].text() and "zoom" in main.corners["bottom_left"].text()
    assert "pass</b> = HiResCAM" in window.panel.badges.text() and "HiResCAM" in window.panel.badges.toolTip()


def test_switching_cam_methods_reuses_the_one_pass(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    submitted: list[object] = []
    viewer.host.result.connect(lambda *a: submitted.append(a))
    first = viewer.window.canvas.main.heat.image.copy()
    started = time.perf_counter()
    viewer.window.panel.method.setCurrentText("gradcampp")
    assert time.perf_counter() - started < 1.0 and viewer.state.view.method == "gradcampp"
    qtbot.wait(100)
    assert not submitted and not np.array_equal(viewer.window.canvas.main.heat.image, first)


def test_an_lrp_method_is_computed_when_first_shown_and_kept(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    viewer.window.panel.method.setCurrentText("lrp-epf")
    qtbot.waitUntil(lambda: any(e.method == "lrp-epf" for e in viewer.state.view.result.explanations), timeout=TIMEOUT)
    idle(viewer, qtbot)
    assert viewer.window.canvas.main.heat.isVisible() and "conserv" in viewer.window.panel.badges.text()
    viewer.window.panel.method.setCurrentText("hirescam")
    assert viewer.state.view.busy is None  # CAMs still there


def test_clicking_a_class_explains_it(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    second = viewer.state.view.result.predictions[1]
    viewer.window.panel.predictions.cellClicked.emit(1, 0)
    qtbot.waitUntil(lambda: viewer.state.view.result is not None, timeout=TIMEOUT)
    assert {e.target_index for e in viewer.state.view.result.explanations} == {second.index}
    assert viewer.window.panel.predictions.item(1, 0).font().bold()


def test_overlay_toggle_opacity_threshold_and_contours(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    panel, main = viewer.window.panel, viewer.window.canvas.main
    qtbot.keyClick(viewer.window, Qt.Key.Key_O)
    assert not viewer.state.view.overlay_visible and not main.heat.isVisible()
    panel.overlay.setChecked(True)
    assert main.heat.isVisible()
    panel.opacity.setValue(80)
    assert viewer.state.view.style.alpha == pytest.approx(0.8) and main.heat.image[..., 3].max() == round(0.8 * 255)
    covered = (main.heat.image[..., 3] > 0).mean()
    panel.threshold.setValue(50)
    assert (main.heat.image[..., 3] > 0).mean() < covered
    panel.contours.setChecked(True)
    assert 0 < (main.heat.image[..., 3] > 0).mean() < 0.2  # outlines only
    panel.grid.setValue(4)
    assert main.grid.isVisible() and sorted(int(t.textItem.toPlainText()) for t in main._labels) == list(range(1, 17))


def test_window_presets_by_number_key_and_by_drag(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    main, image = viewer.window.canvas.main, viewer.state.view.image
    for k, preset in enumerate(image.presets[:9]):
        qtbot.keyClick(viewer.window, Qt.Key(Qt.Key.Key_1 + k))
        assert viewer.state.view.preset == k
        levels = linear_levels(preset)
        if levels is not None:  # pyqtgraph maps [low, high] linearly to black..white, as the DICOM window does
            low, high = levels
            assert tuple(main.base.levels + main._offset) == pytest.approx((low, high))
            assert float(apply_window(np.array([low, high]), preset.window)[1]) == 1.0
    panel = viewer.window.panel
    assert [panel.preset.itemText(k) for k in range(panel.preset.count())][:len(image.presets)] == [
        f"{k + 1}: {p.name}" for k, p in enumerate(image.anonymized().presets)]
    panel.preset.activated.emit(0)
    assert viewer.state.view.preset == 0
    before = viewer.state.view.window
    main.box.window_drag.emit(0.0, 0.0, True)
    main.box.window_drag.emit(200.0, -100.0, False)
    centre, width = viewer.state.view.window
    assert before is None and width > 0 and "W " in main.corners["bottom_left"].text()
    low, high = centre - width / 2, centre + width / 2
    assert tuple(main.base.levels + main._offset) == pytest.approx((low, high))
    assert panel.preset.currentText() == "custom (dragged)"


def test_rotate_flip_invert_and_reset(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, CR)
    main, (rows, cols) = viewer.window.canvas.main, viewer.state.view.image.values.shape
    lut = main.base.lut.copy()
    qtbot.keyClick(viewer.window, Qt.Key.Key_R)
    shown_rect = main.picture.mapRectToParent(main.base.mapRectToParent(main.base.boundingRect()))
    assert (shown_rect.width(), shown_rect.height()) == pytest.approx((rows, cols))
    qtbot.keyClick(viewer.window, Qt.Key.Key_I)
    assert np.array_equal(main.base.lut, lut[::-1])
    qtbot.keyClick(viewer.window, Qt.Key.Key_H)
    assert viewer.state.view.orientation.flip_h
    qtbot.keyClick(viewer.window, Qt.Key.Key_Escape)
    assert viewer.state.view.orientation.rotation == 0 and np.array_equal(main.base.lut, lut)


@pytest.mark.parametrize("name", ["phantom_nodule.dcm", "phantom_normal.dcm", "phantom_effusion.png", "chest_cr_mono1_j2k.dcm"])
def test_polarity_follows_the_photometric_interpretation(viewer: Viewer, qtbot: QtBot, name: str) -> None:
    shown(viewer, qtbot, SAMPLES / name)
    lut = viewer.window.canvas.main.base.lut
    inverted = load_image(SAMPLES / name).invert  # MONOCHROME1: low values are white
    assert (int(lut[0][0]), int(lut[-1][0])) == ((255, 0) if inverted else (0, 255))


def test_corner_text_is_anonymised_unless_asked(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, CR)
    name = viewer.state.view.image.metadata.patient_name
    corners = viewer.window.canvas.main.corners
    assert name and name not in corners["top_left"].text() and "anonymised" in corners["top_left"].text()
    qtbot.keyClick(viewer.window, Qt.Key.Key_A)
    assert name in corners["top_left"].text()


def test_rapid_image_switches_end_on_the_last_image(viewer: Viewer, qtbot: QtBot) -> None:
    samples = tuple(sorted(SAMPLES.glob("phantom_*")))
    seen: list[Path | None] = []
    viewer.state.subscribe(lambda view, changed: seen.append(view.result.path) if "result" in changed and view.result else None)
    viewer.state.open(samples)
    for k in list(range(len(samples))) * 3:
        viewer.state.show(k)
    qtbot.waitUntil(lambda: viewer.state.view.result is not None, timeout=TIMEOUT)
    qtbot.wait(300)  # a stale result arriving now must not replace it
    assert viewer.state.view.result.path == samples[-1] and set(seen) == {samples[-1]}
    assert viewer.window.panel.predictions.item(0, 0).text() == samples[-1].stem.removeprefix("phantom_")


def test_a_bad_file_gives_a_message_and_the_window_stays_usable(viewer: Viewer, qtbot: QtBot, tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 64)
    shown(viewer, qtbot, bad)
    assert viewer.window.status_label.text() == "Not a DICOM file (bad.dcm)"
    assert viewer.window.panel.predictions.rowCount() == 0 and not viewer.window.canvas.main.base.isVisible()
    shown(viewer, qtbot, EFFUSION)
    assert viewer.window.panel.predictions.rowCount() == 5 and "bad" not in viewer.window.status_label.text()


def test_dropping_a_file_opens_it(viewer: Viewer, qtbot: QtBot) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(EFFUSION))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    viewer.window.dropEvent(event)
    assert viewer.state.view.current == EFFUSION
    assert viewer.settings.recent()[0] == EFFUSION


def test_closing_during_inference_ends_within_a_second(qtbot: QtBot, tmp_path: Path) -> None:
    viewer = make_viewer(qtbot, tmp_path / "settings.ini", (EFFUSION,))
    qtbot.waitUntil(lambda: viewer.state.view.busy == "predicting and explaining", timeout=TIMEOUT)
    started = time.monotonic()
    viewer.window.close()
    assert time.monotonic() - started < 1.0


def test_settings_are_remembered_between_runs(qtbot: QtBot, tmp_path: Path) -> None:
    first = make_viewer(qtbot, tmp_path / "settings.ini")
    first.window.panel.cmap.setCurrentText("viridis")
    first.window.panel.opacity.setValue(70)
    first.window.panel.method.setCurrentText("hirescam")
    first.window.close()
    second = make_viewer(qtbot, tmp_path / "settings.ini")
    view = second.state.view
    assert (view.style.cmap, view.style.alpha, view.method) == ("viridis", pytest.approx(0.7), "hirescam")
    second.window.close()


def test_dialogs_start_in_the_users_documents_folder_then_where_the_user_was(tmp_path: Path) -> None:
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    assert settings.folder("export") == documents and documents.startswith(QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.HomeLocation))
    settings.set_folder("export", tmp_path)
    assert settings.folder("export") == str(tmp_path) and settings.folder("open") == documents


def test_measuring_a_distance_and_browsing_the_tags(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, CR)
    qtbot.keyClick(viewer.window, Qt.Key.Key_M)
    measured = viewer.window.measure.measured()
    cols = viewer.state.view.image.values.shape[1]
    assert measured is not None and measured.value == pytest.approx(0.3 * cols, rel=0.01)
    assert viewer.window.measure.label.toPlainText() == measured.text()
    qtbot.keyClick(viewer.window, Qt.Key.Key_R)  # the line stays on the same anatomy when the picture turns
    assert viewer.window.measure.measured().value == pytest.approx(measured.value)
    qtbot.keyClick(viewer.window, Qt.Key.Key_M)
    assert viewer.window.measure.measured() is None
    qtbot.keyClick(viewer.window, Qt.Key.Key_T)
    tags = viewer.window._tags
    assert tags.isVisible() and tags.tree.topLevelItemCount() > 10
    name = viewer.state.view.image.metadata.patient_name
    texts = [tags.tree.topLevelItem(k).text(3) for k in range(tags.tree.topLevelItemCount())]
    assert name not in texts  # anonymised by default
    tags.close()


def test_a_folder_opens_the_study_browser_and_a_chosen_series_is_shown(viewer: Viewer, qtbot: QtBot, tmp_path: Path) -> None:
    folder = tmp_path / "studies"
    folder.mkdir()
    for name in ("phantom_nodule.dcm", "phantom_effusion.dcm"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    with qtbot.waitSignal(viewer.window.browser.scanned, timeout=TIMEOUT):
        viewer.window.open_paths((folder,))
    assert viewer.window.studies_dock.isVisible()
    files = viewer.window.browser.catalogue.files
    viewer.window.browser.chosen.emit(files, 1)
    assert viewer.state.view.current == files[1]
    qtbot.waitUntil(lambda: viewer.state.view.result is not None, timeout=TIMEOUT)


def test_explaining_on_open_can_be_turned_off(viewer: Viewer, qtbot: QtBot) -> None:
    viewer.window.panel.auto_explain.setChecked(False)
    viewer.state.open((EFFUSION,))
    qtbot.waitUntil(lambda: viewer.state.view.image is not None and viewer.state.view.busy is None, timeout=TIMEOUT)
    qtbot.wait(200)
    assert viewer.state.view.result is None and viewer.window.canvas.main.base.isVisible()
    viewer.window.panel.explain_button.click()
    qtbot.waitUntil(lambda: viewer.state.view.result is not None, timeout=TIMEOUT)


def test_a_broken_model_card_gives_a_message_and_the_model_stays(viewer: Viewer, qtbot: QtBot, tmp_path: Path) -> None:
    card = tmp_path / "broken.json"
    card.write_text("{not json")
    model = viewer.state.view.model
    viewer.window.choose_model(card)
    assert viewer.state.view.model is model and viewer.window.status_label.text().startswith("cannot use the model card")
    shown(viewer, qtbot, EFFUSION)
    assert viewer.window.panel.predictions.rowCount() == 5


def test_with_no_path_the_bundled_samples_open_on_the_effusion_phantom() -> None:
    from camviewer.gui.app import sample_studies

    files, first = sample_studies()
    assert files[first] == EFFUSION and all(f.suffix == ".dcm" for f in files) and len(files) >= 6


def test_switching_models_explains_again_and_a_failing_model_leaves_the_current_one(viewer: Viewer, qtbot: QtBot,
                                                                                    tmp_path: Path) -> None:
    shown(viewer, qtbot, EFFUSION)
    vgg = DEFAULT_CARD.with_name("demo-vgg.json")
    viewer.window.choose_model(vgg)
    qtbot.waitUntil(lambda: viewer.state.view.model.name == "demo-vgg" and viewer.state.view.result is not None, timeout=TIMEOUT)
    assert viewer.state.view.result.explanations[0].layer != ""
    bad = tmp_path / "bad-weights.json"
    doc = json.loads(vgg.read_text())
    doc["weights"] = "missing.safetensors"
    bad.write_text(json.dumps(doc))
    viewer.window.choose_model(bad)
    idle(viewer, qtbot)
    assert viewer.state.view.model.name == "demo-vgg" and viewer.window.status_label.text() != ""
    viewer.window.panel.predictions.cellClicked.emit(1, 0)
    qtbot.waitUntil(lambda: viewer.state.view.result is not None, timeout=TIMEOUT)


def test_garbage_is_collected_only_on_the_gui_thread_while_the_window_lives(qtbot: QtBot, tmp_path: Path) -> None:
    import gc

    viewer = make_viewer(qtbot, tmp_path / "settings.ini")
    assert not gc.isenabled()  # a worker thread must never destroy a widget
    viewer.window.close()
    assert gc.isenabled()


def test_the_pixel_under_the_cursor_is_read_out(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, CR)
    main, values = viewer.window.canvas.main, viewer.state.view.image.values
    main.scene().sigMouseMoved.emit(main.picture.mapToScene(QPointF(120.5, 80.5)))
    assert viewer.window.pixel_label.text() == f"x 120, y 80: {float(values[80, 120]):g}"
    main.scene().sigMouseMoved.emit(main.picture.mapToScene(QPointF(-5, -5)))
    assert viewer.window.pixel_label.text() == ""
