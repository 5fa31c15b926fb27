"""PNG, JPEG and TIFF in 8 and 16 bits, grayscale and RGB."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from dicom_factory import gradient
from PIL import Image

from camviewer.io import load_image


def rgb_of(bits: int, rows: int = 40, columns: int = 53) -> np.ndarray:
    return np.stack([gradient(rows, columns, bits=bits, seed=k) for k in range(3)], axis=-1)


def save_png(path: Path, pixels: np.ndarray) -> Path:
    bgr = pixels[..., ::-1] if pixels.ndim == 3 else pixels
    assert cv2.imwrite(str(path), np.ascontiguousarray(bgr))
    return path


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("color", [False, True], ids=["gray", "rgb"])
@pytest.mark.parametrize("writer", ["png", "tiff"])
def test_lossless_rasters_load_exactly(tmp_path: Path, bits: int, color: bool, writer: str) -> None:
    pixels = rgb_of(bits) if color else gradient(40, 53, bits=bits)
    path = tmp_path / f"x.{writer}"
    if writer == "png":
        save_png(path, pixels)
    else:
        tifffile.imwrite(path, pixels, photometric="rgb" if color else "minisblack")
    image = load_image(path)
    np.testing.assert_array_equal(image.values, pixels.astype(np.float32))
    assert image.metadata.bits_stored == bits
    assert image.metadata.photometric_interpretation == ("RGB" if color else "MONOCHROME2")
    np.testing.assert_allclose(image.display(), pixels / ((1 << bits) - 1), atol=1e-6)
    assert image.invert is False


def test_sixteen_bit_png_odd_width_keeps_every_row(tmp_path: Path) -> None:
    """P12: a missing bytes-per-line shows up on row 1 of an odd-width 16-bit image."""
    pixels = gradient(5, 1021, bits=16)
    image = load_image(save_png(tmp_path / "odd.png", pixels))
    np.testing.assert_array_equal(image.values[1], pixels[1])


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_jpeg_loads_close_to_the_source(tmp_path: Path, mode: str) -> None:
    pixels = rgb_of(8) if mode == "RGB" else gradient(40, 53, bits=8)
    path = tmp_path / "x.jpg"
    Image.fromarray(pixels, mode).save(path, quality=95, subsampling=0)
    image = load_image(path)
    assert image.values.shape == pixels.shape
    assert np.abs(image.values - pixels).mean() < 5  # noisy test data: JPEG's error is a few levels
    assert image.metadata.format == "jpeg" and image.metadata.lossy_compression


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = gradient(30, 50, bits=8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    Image.fromarray(pixels, "L").save(path, exif=exif, quality=95)
    image = load_image(path)
    assert image.values.shape == (50, 30)
    assert np.abs(image.values - np.rot90(pixels, -1)).mean() < 3


def test_grayscale_palette_png_loads_as_gray(tmp_path: Path) -> None:
    pixels = gradient(20, 20, bits=8)
    img = Image.fromarray(pixels, "L").convert("P")
    img.putpalette([v for g in range(256) for v in (g, g, g)])
    img.save(tmp_path / "p.png")
    image = load_image(tmp_path / "p.png")
    assert image.values.ndim == 2


def test_float_tiff_uses_its_data_range(tmp_path: Path) -> None:
    pixels = np.linspace(-1.5, 2.5, 30 * 20, dtype=np.float32).reshape(30, 20)
    tifffile.imwrite(tmp_path / "f.tif", pixels)
    image = load_image(tmp_path / "f.tif")
    assert image.value_range == (-1.5, 2.5)
    np.testing.assert_allclose(image.display(), (pixels + 1.5) / 4.0, atol=1e-6)


def test_dicom_renamed_png_opens_as_dicom(tmp_path: Path) -> None:
    from dicom_factory import good_dcm

    path = good_dcm(tmp_path / "scan.png")
    assert load_image(path).metadata.format == "dicom"
