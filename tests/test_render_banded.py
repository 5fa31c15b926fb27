"""Source-resolution exports in bands of rows: equal to the whole-frame computation, in bounded memory.

Tiny bands (``BAND_PIXELS`` patched down) make every band boundary show; the references are the
whole-frame computations the exports used before (one display array, one map at source size, one
blend, concatenated tiles).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from dicom_factory import make_dataset
from PIL import Image

from camviewer import geometry
from camviewer.export.dicom_sc import secondary_capture, write_secondary_capture
from camviewer.geometry import input_geometry, resize
from camviewer.io.grayscale import Lut, VoiPreset, Window, apply_polarity, apply_voi, auto_window
from camviewer.io.image import Metadata, XrayImage
from camviewer.io.write import encode_png, write_png
from camviewer.render.annotate import caption, colour_bar, side_by_side, stacked, text_scale, wrapped
from camviewer.render.exports import Caption, MapEntry, annotated, source_overlay
from camviewer.render.overlay import OverlayStyle, normalise, overlay, scale_of

POLICIES = ("stretch", "letterbox", "center-crop")
STYLES = {"fill": OverlayStyle(), "threshold": OverlayStyle("viridis", 0.6, 0.4), "contours": OverlayStyle(contours=True),
          "signed": OverlayStyle("coolwarm")}
TEXT = Caption("demo model", "0123456789abcdef", "Opacity", 0.873, "gradcam", "layer4", "2026-01-01 12:00")


@pytest.fixture
def tiny_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geometry, "BAND_PIXELS", 97)  # a few rows per band, never a whole number of them


def xray(rows: int, cols: int, invert: bool = True, seed: int = 0) -> XrayImage:
    values = np.random.default_rng(seed).uniform(0, 4095, (rows, cols)).astype(np.float32)
    presets = (VoiPreset("w", "file", window=Window(2000, 3000)), VoiPreset("s", "file", window=Window(1800, 900, "SIGMOID")))
    metadata = Metadata("dicom", rows, cols, 1, 12, "MONOCHROME1" if invert else "MONOCHROME2")
    return XrayImage(values, (0.0, 4095.0), presets, 0, invert, metadata)


def heat(signed: bool, seed: int = 1) -> np.ndarray:
    raw = np.random.default_rng(seed).random((6, 6))
    return raw - 0.4 if signed else raw


def whole_frame_annotated(image: XrayImage, g: geometry.InputGeometry, entry: MapEntry, style: OverlayStyle,
                          preset: VoiPreset | None) -> np.ndarray:
    picture = overlay(image.display(preset), g.to_source(normalise(entry.raw, entry.signed), fill=np.nan), style=style)
    scale = scale_of(entry.raw, entry.signed)
    bar = colour_bar(picture.shape[0], style.cmap, -scale if entry.signed else 0.0, scale, "per-image maximum")
    body = side_by_side([picture, bar], gap=0)
    size = text_scale(picture.shape[0])
    lines = wrapped(TEXT.lines("per-image maximum"), body.shape[1] - 20, size)
    return stacked([body, caption(body.shape[1], lines, size)], gap=0)


@pytest.mark.usefixtures("tiny_bands")
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("name", sorted(STYLES))
def test_banded_annotated_equals_the_whole_frame_picture(policy: str, name: str) -> None:
    image, signed = xray(45, 70), name == "signed"
    g = input_geometry((45, 70), (32, 32), policy)
    entry = MapEntry("g", heat(signed), signed)
    for preset in (None, image.presets[1]):
        expected = whole_frame_annotated(image, g, entry, STYLES[name], preset)
        np.testing.assert_array_equal(annotated(image, g, entry, TEXT, STYLES[name], preset=preset), expected)


@pytest.mark.usefixtures("tiny_bands")
def test_banded_source_overlay_of_display_pixels_and_of_the_image_agree() -> None:
    image = xray(40, 52, invert=False)
    g = input_geometry((40, 52), (24, 24), "letterbox")
    from_image = source_overlay(image, g, heat(False), False, OverlayStyle())
    np.testing.assert_array_equal(source_overlay(image.display(), g, heat(False), False, OverlayStyle()), from_image)
    at_source = g.to_source(normalise(heat(False), False), fill=np.nan)
    np.testing.assert_array_equal(from_image, overlay(image.display(), at_source))


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(("source", "target"), [((61, 97), (32, 32)), ((20, 14), (32, 32)), ((32, 32), (32, 32)), ((50, 9), (16, 24))])
def test_to_source_rows_are_the_rows_of_to_source(policy: str, source: tuple[int, int], target: tuple[int, int]) -> None:
    g = input_geometry(source, target, policy)
    plane = np.random.default_rng(2).random((5, 7))
    whole = g.to_source(plane, fill=np.nan)
    assert whole.shape == source and whole.dtype == np.float32
    for start, stop in [(0, source[0]), (0, 1), (3, 4), (source[0] // 3, source[0] - 2), (source[0] - 1, source[0])]:
        np.testing.assert_array_equal(g.to_source_rows(plane, start, stop, fill=np.nan), whole[start:stop])
    c, p = g.crop, g.placed  # the whole-frame resize it replaces, to float32 rounding
    on_input = resize(plane.astype(np.float32), target)[p.top : p.top + p.height, p.left : p.left + p.width]
    np.testing.assert_allclose(whole[c.top : c.top + c.height, c.left : c.left + c.width],
                               resize(on_input, (c.height, c.width)), rtol=0, atol=1e-6)


@pytest.mark.usefixtures("tiny_bands")
def test_banded_display_equals_the_whole_frame_pipeline() -> None:
    image = xray(33, 41)
    lut = VoiPreset("lut", "file", lut=Lut(100, np.arange(0, 4000, 2, dtype=np.uint16), 12))
    for preset in (*image.presets, lut, VoiPreset("e", "user", window=Window(1000, 500, "LINEAR_EXACT"))):
        expected = apply_polarity(apply_voi(image.values, preset), image.invert)
        np.testing.assert_array_equal(image.display(preset), expected)
    assert image.display().dtype == np.float32


@pytest.mark.usefixtures("tiny_bands")
def test_banded_auto_window_samples_the_same_values() -> None:
    values = np.random.default_rng(3).normal(100, 30, (2100, 1000)).astype(np.float32)
    values[::7, ::3] = np.nan
    finite = values[np.isfinite(values)]
    lo, hi = np.percentile(finite[:: finite.size // 1_000_000], (0.5, 99.5))
    window = auto_window(values)
    assert (window.center, window.width) == ((float(lo) + float(hi)) / 2, float(hi) - float(lo))
    flat = auto_window(np.full((300, 200), 5.0, np.float32))
    assert (flat.center, flat.width) == (5.0, 1.0)


@pytest.mark.usefixtures("tiny_bands")
@pytest.mark.parametrize("shape", [(13, 17), (13, 17, 3), (1, 1), (5, 1, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_written_in_bands_decodes_to_the_pixels(tmp_path: Path, shape: tuple[int, ...], dtype: type) -> None:
    pixels = np.random.default_rng(4).integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    path = Path(write_png(tmp_path / "p.png", pixels))
    assert path.read_bytes() == encode_png(pixels)
    decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded[..., ::-1] if len(shape) == 3 else decoded, pixels)
    assert np.asarray(Image.open(path)).shape[:2] == shape[:2]


def test_png_refuses_other_pixels() -> None:
    for bad in (np.zeros((4, 4), np.float32), np.zeros((4, 4, 4), np.uint8), np.zeros(4, np.uint8)):
        with pytest.raises(ValueError, match="PNG pixels"):
            encode_png(bad)


def peak_bytes_per_pixel(work: Callable[[], object], pixels: int) -> float:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / pixels
    finally:
        tracemalloc.stop()


@pytest.fixture
def small_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geometry, "BAND_PIXELS", 1 << 12)  # band temporaries: a quarter of a byte per pixel


@pytest.mark.usefixtures("small_bands")
@pytest.mark.parametrize("style", [OverlayStyle(), OverlayStyle(contours=True)])
def test_annotated_png_export_allocates_little_more_than_its_canvas(tmp_path: Path, style: OverlayStyle) -> None:
    """The canvas (overlay, colour bar, caption) is 4.3 bytes per source pixel at 1024²; a float32
    display array (4), a map at source size (4) or a float RGB copy (12) would each show."""
    image, g = xray(1024, 1024), input_geometry((1024, 1024), (64, 64), "stretch")
    entry = MapEntry("g", heat(False), False)

    def work() -> None:
        write_png(tmp_path / "a.png", annotated(image, g, entry, TEXT, style))

    assert peak_bytes_per_pixel(work, 1024 * 1024) < 5.5 + (1.5 if style.contours else 0.0)


@pytest.mark.usefixtures("small_bands")
def test_dicom_export_allocates_about_its_pixel_data(tmp_path: Path) -> None:
    """3 bytes per pixel of RGB; the pixels are neither copied into the data set nor into a buffer."""
    image, g = xray(1024, 1024), input_geometry((1024, 1024), (64, 64), "letterbox")
    source = make_dataset(pixels=np.zeros((1024, 1024), np.uint16))
    del source.PixelData

    def work() -> None:
        picture = source_overlay(image, g, heat(False), False, OverlayStyle())
        write_secondary_capture(tmp_path / "sc.dcm", secondary_capture(source, picture, method="g", description="x"))

    assert peak_bytes_per_pixel(work, 1024 * 1024) < 3.6
