"""Model input: windowing/polarity, channels, resize policies, value range and geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from camviewer.io import load_image
from camviewer.model.card import InputSpec
from camviewer.model.preprocess import prepare
from dicom_factory import gradient, make_dataset, write


def spec(**changes: object) -> InputSpec:
    base = dict(size=(32, 32), channels=1, mean=(0.0,), std=(1.0,))
    return InputSpec(**{**base, **changes})  # type: ignore[arg-type]


def test_model_sees_the_polarity_corrected_window(tmp_path: Path) -> None:
    pixels = gradient(32, 32, bits=12)
    ds = make_dataset(pixels=pixels, bits_stored=12, photometric="MONOCHROME1", WindowCenter=2048, WindowWidth=4096)
    image = load_image(write(ds, tmp_path / "m1.dcm"))
    model_input = prepare(image, spec())
    np.testing.assert_allclose(model_input.tensor[0].numpy(), image.display(), atol=1e-6)
    full = prepare(image, spec(dicom="full-range"))
    np.testing.assert_allclose(full.tensor[0].numpy(), 1 - pixels / 4095, atol=1e-6)


def test_value_range_mean_std_and_channels(tmp_path: Path) -> None:
    ds = make_dataset(pixels=gradient(32, 32, bits=8), bits_stored=8)
    image = load_image(write(ds, tmp_path / "g.dcm"))
    unit = image.display()
    out = prepare(image, spec(channels=3, mean=(0.1, 0.2, 0.3), std=(2.0, 2.0, 2.0), value_range=(-1024.0, 1024.0)))
    expected = (-1024 + unit * 2048 - np.array([0.1, 0.2, 0.3])[:, None, None]) / 2.0
    np.testing.assert_allclose(out.tensor.numpy(), expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("policy", ["stretch", "letterbox", "center-crop"])
def test_geometry_maps_model_input_back_onto_source_pixels(tmp_path: Path, policy: str) -> None:
    ds = make_dataset(pixels=gradient(40, 80, bits=16))
    image = load_image(write(ds, tmp_path / "wide.dcm"))
    out = prepare(image, spec(size=(20, 20), resize=policy))
    g = out.geometry
    assert g.source_shape == (40, 80) and g.input_shape == (20, 20)
    ones = np.ones((5, 5), np.float32)
    back = g.to_source(ones)
    covered = {"stretch": (0, 80), "letterbox": (0, 80), "center-crop": (20, 60)}[policy]
    np.testing.assert_array_equal(back[:, covered[0]:covered[1]], 1.0)
    assert back.sum() == (covered[1] - covered[0]) * 40
    if policy == "letterbox":
        assert (g.placed.top, g.placed.height) == (5, 10)
        assert np.all(out.pixels[:5] == 0) and np.all(out.pixels[15:] == 0)


def test_rgb_source_becomes_one_luminance_channel(tmp_path: Path) -> None:
    from PIL import Image

    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "red.png")
    out = prepare(load_image(tmp_path / "red.png"), spec())
    np.testing.assert_allclose(out.tensor.numpy(), 0.299, atol=1e-6)
