"""Distance maths (spacing order, units, text) and the display orientation's affine map, checked against Qt's convention."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pydicom
import pytest

from camviewer.gui.measure import Distance, distance, orientation_matrix, to_display, to_source
from camviewer.io import load_image

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
W, H = 7, 3
ORIENTATIONS = list(itertools.product(range(4), (False, True), (False, True)))


def test_anisotropic_spacing_is_row_then_column() -> None:
    spacing = (0.2, 0.1)  # (row spacing dy, column spacing dx) in mm
    vertical = distance((5, 10), (5, 110), spacing, "Pixel Spacing")
    horizontal = distance((5, 10), (105, 10), spacing, "Pixel Spacing")
    assert (vertical.value, vertical.unit, vertical.source) == (pytest.approx(20.0), "mm", "Pixel Spacing")
    assert horizontal.value == pytest.approx(10.0)
    assert distance((0, 0), (30, 40), spacing, "Pixel Spacing").value == pytest.approx(math.hypot(3.0, 8.0))


def test_no_spacing_gives_pixels() -> None:
    measured = distance((1.0, 2.0), (4.0, 6.0), None, None)
    assert measured == Distance(5.0, "pixels", "no pixel spacing")
    assert measured.text() == "5 px (no pixel spacing)"


def test_text_formats_mm_and_pixels() -> None:
    assert Distance(42.34, "mm", "Imager Pixel Spacing").text() == "42.3 mm (Imager Pixel Spacing)"
    assert Distance(120.4, "pixels", "no pixel spacing").text() == "120 px (no pixel spacing)"
    assert distance((0, 0), (10, 0), (0.5, 0.5), None).source == "Pixel Spacing"


@pytest.mark.parametrize("spacing", [(0.0, 0.1), (0.1, float("nan")), (-1.0, 1.0)])
def test_invalid_spacing_is_refused(spacing: tuple[float, float]) -> None:
    with pytest.raises(ValueError):
        distance((0, 0), (1, 1), spacing, "Pixel Spacing")


def test_sample_without_spacing_measures_pixels(sample_chest: Path) -> None:
    meta = load_image(sample_chest).metadata
    assert distance((0, 0), (0, 120), meta.pixel_spacing_mm, meta.pixel_spacing_source).text() == "120 px (no pixel spacing)"


def test_file_spacing_order_and_source_name(tmp_path: Path) -> None:
    """Imager Pixel Spacing 0.2\\0.1 read from a file: 100 rows down is 20 mm, 100 columns across 10 mm."""
    ds = pydicom.dcmread(SAMPLES / "phantom_normal.dcm")
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = [0.2, 0.1]
    ds.save_as(tmp_path / "imager.dcm", enforce_file_format=True)
    meta = load_image(tmp_path / "imager.dcm").metadata
    assert meta.pixel_spacing_mm is not None
    down = distance((0, 0), (0, 100), meta.pixel_spacing_mm, meta.pixel_spacing_source)
    across = distance((0, 0), (100, 0), meta.pixel_spacing_mm, meta.pixel_spacing_source)
    assert (down.value, across.value) == (pytest.approx(20.0), pytest.approx(10.0))
    assert down.text() == "20.0 mm (Imager Pixel Spacing (at detector))"


@pytest.mark.parametrize(("quarters", "flip_h", "flip_v"), ORIENTATIONS)
def test_corners_stay_in_the_positive_quadrant(quarters: int, flip_h: bool, flip_v: bool) -> None:
    matrix = orientation_matrix(quarters, flip_h, flip_v, W, H)
    shown_w, shown_h = (H, W) if quarters % 2 else (W, H)
    corners = {to_display(matrix, corner) for corner in ((0, 0), (W, 0), (0, H), (W, H))}
    assert {(round(x, 9) + 0.0, round(y, 9) + 0.0) for x, y in corners} == {(0, 0), (shown_w, 0), (0, shown_h), (shown_w, shown_h)}


@pytest.mark.parametrize(("quarters", "flip_h", "flip_v"), ORIENTATIONS)
def test_to_source_inverts(quarters: int, flip_h: bool, flip_v: bool) -> None:
    matrix = orientation_matrix(quarters, flip_h, flip_v, W, H)
    for point in ((0.0, 0.0), (2.5, 1.25), (W, H), (-3.0, 11.0)):
        assert to_source(matrix, to_display(matrix, point)) == pytest.approx(point)


def test_rotation_is_clockwise_and_flips_are_on_screen() -> None:
    top_left = (0.0, 0.0)
    assert to_display(orientation_matrix(1, False, False, W, H), top_left) == (H, 0)  # top-left goes to the top right
    assert to_display(orientation_matrix(3, False, False, W, H), top_left) == (0, W)
    assert to_display(orientation_matrix(1, True, False, W, H), top_left) == (0, 0)  # then mirrored left-right on screen
    assert to_display(orientation_matrix(1, False, True, W, H), top_left) == (H, W)
    assert to_display(orientation_matrix(0, True, True, W, H), (1.0, 1.0)) == (W - 1, H - 1)


def test_four_quarters_is_identity_and_negative_turns_wrap() -> None:
    assert orientation_matrix(4, False, False, W, H) == orientation_matrix(0, False, False, W, H) == (1, 0, 0, 1, 0, 0)
    assert orientation_matrix(-1, True, False, W, H) == orientation_matrix(3, True, False, W, H)


@pytest.mark.parametrize(("quarters", "flip_h", "flip_v"), ORIENTATIONS)
def test_matrix_follows_qt_convention(quarters: int, flip_h: bool, flip_v: bool) -> None:
    """The window builds ``QTransform(*matrix)``: it must map points as :func:`to_display` does."""
    from PySide6.QtGui import QTransform

    matrix = orientation_matrix(quarters, flip_h, flip_v, W, H)
    mapped = QTransform(*matrix).map(2.5, 1.0)
    assert mapped == pytest.approx(to_display(matrix, (2.5, 1.0)))


def test_singular_matrix_is_refused() -> None:
    with pytest.raises(ValueError):
        to_source((0, 0, 0, 0, 1, 1), (1, 1))
