"""Model input: windowing/polarity, channels, resize policies, value range and geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dicom_factory import gradient, make_dataset, write

from camviewer import geometry
from camviewer.geometry import resize
from camviewer.io import load_image
from camviewer.model.card import InputSpec
from camviewer.model.preprocess import prepare


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


@pytest.mark.parametrize("channels", [1, 3])
def test_channels_are_made_at_model_size_with_the_same_values(tmp_path: Path, channels: int) -> None:
    """Resizing before repeating the gray channel gives what repeating then resizing gave."""
    ds = make_dataset(pixels=gradient(100, 90, bits=16))
    image = load_image(write(ds, tmp_path / "g.dcm"))
    out = prepare(image, spec(channels=channels, mean=(0.0,) * channels, std=(1.0,) * channels))
    reference = resize(np.repeat(image.display()[..., None], channels, axis=-1), (32, 32)).reshape(32, 32, channels)
    np.testing.assert_array_equal(out.tensor.numpy(), reference.transpose(2, 0, 1))


@pytest.mark.parametrize("channels", [1, 3])
def test_prepare_makes_one_source_size_array(tmp_path: Path, channels: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the [0, 1] image (4 bytes per source pixel) is made at source size: no repeated channels,
    and the window is applied in bands (made small here, so that they do not count)."""
    import tracemalloc

    monkeypatch.setattr(geometry, "BAND_PIXELS", 1 << 12)
    image = load_image(write(make_dataset(pixels=gradient(1024, 1024, bits=16)), tmp_path / "big.dcm"))
    tracemalloc.start()
    try:
        prepare(image, spec(channels=channels, mean=(0.0,) * channels, std=(1.0,) * channels))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4.6 * 1024 * 1024
