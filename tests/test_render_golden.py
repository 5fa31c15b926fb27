"""Golden images for every overlay style, back-mapping alignment, and what exports must not leak.

Goldens live in tests/golden/ and were inspected by eye when written. Tolerance: every channel of
every pixel within 2 levels of the golden (OpenCV's anti-aliased text and lines may differ by a level
between builds). Regenerate after a deliberate change with ``UPDATE_GOLDEN=1 pytest tests/test_render_golden.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import FAKE_PHI, good_dcm
from PIL import Image

from camviewer.cli import main
from camviewer.geometry import input_geometry
from camviewer.render.annotate import colour_bar, region_grid
from camviewer.render.exports import Caption, MapEntry, annotated, panel, source_overlay
from camviewer.render.overlay import OverlayStyle, normalise, overlay

GOLDEN = Path(__file__).parent / "golden"
ROWS, COLS = 48, 64


def pixels() -> np.ndarray:
    y, x = np.mgrid[0:ROWS, 0:COLS]
    return (0.2 + 0.6 * x / (COLS - 1) * (0.5 + 0.5 * y / (ROWS - 1))).astype(np.float32)


def heat(signed: bool = False) -> np.ndarray:
    y, x = np.mgrid[0:6, 0:8]
    bump = np.exp(-((y - 2) ** 2 + (x - 5) ** 2) / 4.0)
    return (bump - 0.5 * np.exp(-((y - 4) ** 2 + (x - 1) ** 2) / 3.0)) if signed else bump


def caption_text() -> Caption:
    return Caption("demo model", "0123456789abcdef", "Opacity", 0.873, "gradcam", "layer4", "2026-01-01 12:00")


def geometry_for(policy: str) -> object:
    return input_geometry((ROWS, COLS), (32, 32), policy)


STYLES: dict[str, Callable[[], np.ndarray]] = {
    "inferno": lambda: overlay(pixels(), normalise(heat(), False)),
    "viridis": lambda: overlay(pixels(), normalise(heat(), False), style=OverlayStyle("viridis", 0.6)),
    "jet": lambda: overlay(pixels(), normalise(heat(), False), style=OverlayStyle("jet")),
    "hot": lambda: overlay(pixels(), normalise(heat(), False), style=OverlayStyle("hot")),
    "threshold": lambda: overlay(pixels(), normalise(heat(), False), style=OverlayStyle(threshold=0.4)),
    "contours": lambda: overlay(pixels(), normalise(heat(), False), style=OverlayStyle(contours=True)),
    "signed": lambda: overlay(pixels(), normalise(heat(True), True), style=OverlayStyle("coolwarm")),
    "grid": lambda: region_grid(overlay(pixels(), normalise(heat(), False)), 4, [6, 7, 2, 3, 10, 11, 5, 1, 0, 4, 8, 9, 12, 13, 14, 15]),
    "colour-bar": lambda: colour_bar(120, "coolwarm", -0.5, 0.5, "per-image maximum"),
    "letterbox": lambda: source_overlay(pixels(), geometry_for("letterbox"), heat(), False, OverlayStyle()),
    "center-crop": lambda: source_overlay(pixels(), geometry_for("center-crop"), heat(), False, OverlayStyle()),
    "annotated": lambda: annotated(pixels(), geometry_for("stretch"), MapEntry("g", heat(), False), caption_text(), OverlayStyle()),
    "panel": lambda: panel(pixels(), [MapEntry("gradcam | 0: a", heat(), False, "gradcam"),
                                      MapEntry("gradcam | 1: b", 0.5 * heat(), False, "gradcam"),
                                      MapEntry("lrp | 0: a", heat(True), True, "lrp")]),
}


@pytest.mark.parametrize("name", sorted(STYLES))
def test_golden_images(name: str) -> None:
    picture = STYLES[name]()
    path = GOLDEN / f"{name}.png"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        Image.fromarray(picture).save(path)
    golden = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape == golden.shape
    assert np.abs(picture.astype(int) - golden).max() <= 2


@pytest.mark.parametrize("policy", ["stretch", "letterbox", "center-crop"])
def test_back_mapped_heatmap_lines_up_with_the_model_input(policy: str) -> None:
    """A hot spot at model-input pixel (r, c) lands on the source pixel that the model saw there."""
    geometry = input_geometry((60, 100), (32, 32), policy)
    spot = np.zeros((32, 32), np.float32)
    row, col = 16, 12 if policy == "center-crop" else 16
    spot[row, col] = 1.0
    back = geometry.to_source(spot, fill=np.nan)
    c, p = geometry.crop, geometry.placed
    expected_row = c.top + (row - p.top + 0.5) * c.height / p.height - 0.5
    expected_col = c.left + (col - p.left + 0.5) * c.width / p.width - 0.5
    peak = np.unravel_index(np.nanargmax(back), back.shape)
    assert abs(peak[0] - expected_row) <= 2 and abs(peak[1] - expected_col) <= 2
    if policy == "center-crop":
        assert np.isnan(back[:, : c.left]).all() and np.isnan(back[:, c.left + c.width :]).all()
        picture = source_overlay(np.full((60, 100), 0.5, np.float32), geometry, spot, False, OverlayStyle())
        assert (picture[:, : c.left] == 128).all()  # outside the model's view the image is untouched


def test_below_threshold_stays_transparent_not_black() -> None:
    display = normalise(heat(), False)
    picture = overlay(pixels(), display, style=OverlayStyle(threshold=0.4))
    resized = np.asarray(Image.fromarray(display.astype(np.float32)).resize((COLS, ROWS), Image.BILINEAR))
    base = np.rint(pixels() * 255)
    cold = resized < 0.3
    assert cold.any() and (picture[cold] == base[cold][:, None]).all()


def test_exports_keep_patient_data_out_of_names_and_bytes(tmp_path: Path, model_card: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "Doe^Jane MRN12345"
    folder.mkdir()
    source = good_dcm(folder / "Doe_Jane_MRN12345.dcm", WindowCenter=30000, WindowWidth=40000)
    out = tmp_path / "out"
    code = main(["explain", str(source), "--model", str(model_card), "--methods", "gradcam,hirescam",
                 "--out", str(out), "--export", "png,panel,dicom", "--json"])
    assert code == 0
    explanation = json.loads(capsys.readouterr().out)["images"][0]["explanations"][0]
    assert {"export_png", "export_dicom", "panel_file"} <= set(explanation)
    identifying = ("PatientName", "PatientID", "StudyDate", "StudyDescription")
    secrets = [FAKE_PHI[key].encode() for key in identifying] + [b"Doe", b"Jane"]
    for path in out.iterdir():
        assert not any(s.decode() in path.name for s in secrets)
        data = path.read_bytes()
        assert not any(s in data for s in secrets), path.name
    dicom_file = Path(explanation["export_dicom"])
    import pydicom

    exported = pydicom.dcmread(dicom_file)
    assert exported.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and exported.BurnedInAnnotation == "YES"
    annotated_png = np.asarray(Image.open(explanation["export_png"]).convert("RGB"))
    np.testing.assert_array_equal(exported.pixel_array, annotated_png)  # the SC is the annotated picture


def test_export_options_are_checked(tmp_path: Path, model_card: Path) -> None:
    source = good_dcm(tmp_path / "g.dcm")
    assert main(["explain", str(source), "--model", str(model_card), "--export", "png"]) == 2
    assert main(["explain", str(source), "--model", str(model_card), "--out", str(tmp_path / "o"), "--export", "gif"]) == 2
    assert main(["explain", str(source), "--model", str(model_card), "--colormap", "rainbow"]) == 2


def test_dicom_export_of_a_png_is_skipped_with_a_message(tmp_path: Path, model_card: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    Image.fromarray((pixels() * 255).astype(np.uint8)).save(tmp_path / "x.png")
    assert main(["explain", str(tmp_path / "x.png"), "--model", str(model_card), "--out", str(tmp_path / "o"),
                 "--export", "dicom"]) == 0
    assert "warning: DICOM export skipped: the input is not DICOM" in capsys.readouterr().out
    assert not list((tmp_path / "o").glob("*.dcm"))


def test_an_export_never_replaces_an_input(tmp_path: Path, model_card: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    source = out / "image0001__panel.png"
    Image.fromarray((pixels() * 255).astype(np.uint8)).save(source)
    before = source.read_bytes()
    assert main(["explain", str(source), "--model", str(model_card), "--out", str(out), "--export", "panel"]) == 1
    assert source.read_bytes() == before
