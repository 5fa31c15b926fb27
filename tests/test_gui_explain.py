"""The window's research tools, offscreen: an AOPC evaluation whose curves match the engine's,
cancelling a long one, the step preview, compare mode, the three exports, the model selector's
trust prompt, and the command line's window start and headless fallback."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from gui_helpers import EFFUSION, TIMEOUT, idle, shown, viewer
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from camviewer.cli import viewer as viewer_cli
from camviewer.cli.parser import opens_viewer
from camviewer.cli.viewer import has_display
from camviewer.engine import DecodedImage, ModelSession, run_evaluate
from camviewer.gui.app import Viewer
from camviewer.gui.evaluation import EvaluationPanel
from camviewer.gui.layers import step_preview
from camviewer.model.build import DEFAULT_CARD, load_model
from camviewer.model.card import card_hash

__all__ = ["viewer"]
REPO = Path(__file__).resolve().parents[1]


def evaluated(viewer: Viewer, qtbot: QtBot, grid: int = 3) -> None:
    shown(viewer, qtbot, EFFUSION)
    panel = viewer.window.evaluation
    panel.grid.setValue(grid)
    panel.orders["random"].setChecked(True)
    panel.run_button.click()
    qtbot.waitUntil(lambda: viewer.state.view.evaluation is not None, timeout=TIMEOUT)


def test_an_aopc_evaluation_plots_the_engines_curves(viewer: Viewer, qtbot: QtBot) -> None:
    evaluated(viewer, qtbot)
    view = viewer.state.view
    request = view.evaluated_with
    assert request is not None and request.grid == 3 and request.orders == ("morf", "random")
    expected = next(run_evaluate(request, ModelSession(load_model(None))))  # the same engine, run directly
    assert [(c.method, c.order) for c in view.evaluation.curves] == [(c.method, c.order) for c in expected.curves]
    for got, want in zip(view.evaluation.curves, expected.curves):
        assert got.aopc == pytest.approx(want.aopc, abs=1e-5) and np.allclose(got.values, want.values, atol=1e-5)
    plotted = viewer.window.evaluation.plot.getPlotItem().listDataItems()
    assert len(plotted) == 4 and all(len(item.getData()[0]) == 10 for item in plotted)
    labels = [label.text for _, label in viewer.window.evaluation.legend.items]
    assert any(f"AOPC {view.evaluation.curves[0].aopc:.3f}" in text for text in labels)


def test_dragging_the_step_previews_the_perturbed_input(viewer: Viewer, qtbot: QtBot) -> None:
    evaluated(viewer, qtbot)
    panel, main, view = viewer.window.evaluation, viewer.window.canvas.main, viewer.state.view
    panel.step.setValue(4)
    preview = viewer.state.view.preview
    assert preview is not None and preview.step == 4 and main.preview.isVisible() and not main.heat.isVisible()
    curve = next(c for c in view.evaluation.curves if (c.method, c.order) == (preview.method, preview.order))
    expected = step_preview(view.evaluation.explained.model_input, view.model.spec, view.evaluated_with, curve, 4)
    assert np.array_equal(main.preview.image, expected.rgba)
    untouched = step_preview(view.evaluation.explained.model_input, view.model.spec, view.evaluated_with, curve, 0)
    assert not np.array_equal(expected.rgba, untouched.rgba)
    panel.step.setValue(0)
    assert viewer.state.view.preview is None and not main.preview.isVisible() and main.heat.isVisible()


def long_evaluation_running(viewer: Viewer, qtbot: QtBot) -> EvaluationPanel:
    """A 16 x 16 grid, three orders, started and reporting progress."""
    shown(viewer, qtbot, EFFUSION)
    panel = viewer.window.evaluation
    panel.grid.setValue(16)
    for order in ("lerf", "random"):
        panel.orders[order].setChecked(True)
    panel.run_button.click()
    qtbot.waitUntil(lambda: viewer.state.view.progress is not None, timeout=TIMEOUT)
    return panel


def test_a_long_evaluation_can_be_cancelled(viewer: Viewer, qtbot: QtBot) -> None:
    panel = long_evaluation_running(viewer, qtbot)
    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    idle(viewer, qtbot)
    assert viewer.state.view.evaluation is None and viewer.window.status_label.text() == "cancelled"
    assert panel.run_button.isEnabled()


def test_compare_mode_shows_methods_side_by_side_linked(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    qtbot.keyClick(viewer.window, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: {e.method for e in viewer.state.view.result.explanations} >= set(viewer.state.view.compare),
                    timeout=TIMEOUT)
    idle(viewer, qtbot)
    views = viewer.window.canvas.shown_views(viewer.state.view)
    assert len(views) == 4 and all(v.isVisible() and v.heat.isVisible() for v in views)
    maps = {m: v.heat.image for m, v in zip(viewer.state.view.compare, views)}
    assert list(maps) == ["gradcam", "hirescam", "gradcampp", "lrp-epf"]
    assert np.array_equal(maps["gradcam"], maps["hirescam"])  # the identity on demo-resnet's GAP head
    assert len({m.tobytes() for m in maps.values()}) == 3
    views[2].box.scaleBy((0.5, 0.5))
    views[2].box.sigRangeChangedManually.emit([True, True])  # what the wheel and a pan drag emit
    assert np.allclose(views[0].box.viewRange(), views[2].box.viewRange())
    assert np.allclose(views[3].box.viewRange(), views[2].box.viewRange())
    views[0].box.window_drag.emit(0.0, 0.0, True)
    views[0].box.window_drag.emit(150.0, 0.0, False)
    assert all(tuple(v.base.levels) == tuple(views[0].base.levels) for v in views)


@pytest.mark.parametrize("kind", ["png", "panel", "dicom"])
def test_each_export_writes_its_file(viewer: Viewer, qtbot: QtBot, tmp_path: Path, kind: str) -> None:
    shown(viewer, qtbot, EFFUSION)
    with qtbot.waitSignal(viewer.controller.exported, timeout=TIMEOUT) as signal:
        viewer.window.export_to(kind, tmp_path / "out")
    files = [Path(f) for f in signal.args[0].files]
    wanted = {"png": "__annotated.png", "panel": "__panel.png", "dicom": "__annotated.dcm"}[kind]
    assert any(f.name.endswith(wanted) and f.is_file() for f in files)
    assert all(f.name.startswith("image0001") for f in files)  # anonymised: no input names
    if kind == "dicom":
        dataset = pydicom.dcmread(next(f for f in files if f.suffix == ".dcm"))
        assert dataset.PatientIdentityRemoved == "YES" and dataset.SOPClassUID.name.endswith("Secondary Capture Image Storage")
    assert "wrote" in viewer.window.status_label.text()


def test_a_card_that_runs_code_is_loaded_only_when_trusted(viewer: Viewer, qtbot: QtBot, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    card = tmp_path / "custom.json"
    doc = json.loads(DEFAULT_CARD.read_text())
    architecture = doc.pop("architecture")
    doc["factory"] = "factory:build"
    shutil.copy(DEFAULT_CARD.with_name(doc["weights"]), tmp_path / doc["weights"])
    card.write_text(json.dumps(doc))
    size = tuple(doc["input"]["size"])
    (tmp_path / "factory.py").write_text("from camviewer.model.architectures import ARCHITECTURES\n\n\ndef build():\n"
                                         f"    return ARCHITECTURES[{architecture!r}].build({len(doc['classes'])}, 1, {size!r})\n")
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No)
    viewer.window.choose_model(card)
    assert len(asked) == 1 and "Python code" in asked[0] and viewer.state.view.model is not None  # refused: old model stays
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    viewer.window.choose_model(card)
    assert viewer.settings.trusted(card_hash(card))
    viewer.window.choose_model(card)
    assert len(asked) == 2  # remembered per card hash


def test_the_command_line_opens_the_viewer_for_paths_and_keeps_its_sub_commands() -> None:
    assert opens_viewer([]) and opens_viewer(["scan.dcm"]) and opens_viewer(["--model", "card.json", "scan.dcm"])
    assert not any(opens_viewer([c]) for c in ("info", "explain", "evaluate", "convert", "demo-data", "batch", "--help", "--version",
                                                "--self-test"))


def test_a_bundle_without_a_display_writes_into_the_home_not_beside_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(viewer_cli, "frozen", lambda: True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    assert viewer_cli.headless(argparse.Namespace(paths=[EFFUSION], model=None, device=None, trust_code=False), "no display") == 0
    assert [p.name[:10] for p in (tmp_path / "home").iterdir()] == ["camviewer-"] and sorted(tmp_path.iterdir()) == [tmp_path / "home"]
    capsys.readouterr()


def test_without_a_display_the_viewer_explains_headless(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")} | {"QT_QPA_PLATFORM": "offscreen"}
    image = tmp_path / "scan.dcm"
    shutil.copy(EFFUSION, image)
    done = subprocess.run([sys.executable, "-m", "camviewer", str(image)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    first = done.stderr.splitlines()[0]
    assert first.startswith("camviewer: no display; explaining 1 file(s) headless into camviewer-")
    folder = next(tmp_path.glob("camviewer-*"))
    assert {p.name for p in folder.iterdir()} >= {"image0001__panel.png", "image0001__gradcam__3-effusion__annotated.png"}
    assert image.read_bytes() == EFFUSION.read_bytes()


def test_display_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not has_display()
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    assert has_display() or sys.platform not in ("linux",)
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert not has_display() or sys.platform in ("win32", "darwin")


def test_the_decoded_image_is_shared_with_the_engine(viewer: Viewer, qtbot: QtBot) -> None:
    shown(viewer, qtbot, EFFUSION)
    request = viewer.window.evaluation.request()
    assert request.images == () and isinstance(DecodedImage(viewer.state.view.image, EFFUSION), DecodedImage)
    assert viewer.state.view.result.image is viewer.state.view.image  # decoded once, on the worker


def test_switching_images_stops_a_running_evaluation(viewer: Viewer, qtbot: QtBot) -> None:
    long_evaluation_running(viewer, qtbot)
    cancelled: list[str] = []
    viewer.host.cancelled.connect(lambda view, request_id: cancelled.append(view))
    other = EFFUSION.with_name("phantom_nodule.dcm")
    viewer.state.open((other,))
    qtbot.waitUntil(lambda: viewer.state.view.result is not None, timeout=TIMEOUT)
    assert viewer.state.view.result.path == other and viewer.state.view.evaluation is None
    assert cancelled == ["evaluation"] and viewer.window.status_label.text() != "cancelled"
