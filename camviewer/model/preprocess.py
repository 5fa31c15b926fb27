"""Model input from an X-ray, with the geometry recorded so maps can go back onto source pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from camviewer import errors
from camviewer.geometry import InputGeometry, input_geometry, resize
from camviewer.io.image import XrayImage
from camviewer.model.card import InputSpec

LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True, eq=False)
class ModelInput:
    """``tensor`` (C, H, W) goes to the model; ``pixels`` in [0, 1] is the image as the model saw it."""

    tensor: torch.Tensor
    pixels: np.ndarray
    geometry: InputGeometry


def source_pixels(image: XrayImage, spec: InputSpec) -> np.ndarray:
    """[0, 1] polarity-corrected pixels: the default window, or the full range for DICOM if asked."""
    if image.metadata.format == "dicom" and spec.dicom == "full-range":
        return image.full_range()
    return image.display()


def _channels(unit: np.ndarray, channels: int) -> np.ndarray:
    """(h, w, channels) from a gray (h, w) or RGB (h, w, 3) model-size image."""
    if unit.ndim == 2:
        return np.repeat(unit[..., None], channels, axis=-1)
    return unit


def prepare(image: XrayImage, spec: InputSpec) -> ModelInput:
    """Window/polarity -> luminance (RGB to one channel) -> resize policy -> channels -> value range
    -> (x - mean) / std. Only the [0, 1] image (and the luminance of RGB) is made at source size."""
    unit = source_pixels(image, spec)
    if unit.ndim == 3 and spec.channels == 1:
        unit = unit @ LUMINANCE
    geometry = input_geometry(unit.shape[:2], spec.size, spec.resize)
    c, p = geometry.crop, geometry.placed
    pixels = np.zeros((*spec.size, spec.channels), dtype=np.float32)
    region = resize(unit[c.top : c.top + c.height, c.left : c.left + c.width], (p.height, p.width))
    pixels[p.top : p.top + p.height, p.left : p.left + p.width] = _channels(region, spec.channels)
    tensor = normalise(torch.from_numpy(to_pixel_scale(pixels, spec))[None], spec)[0]
    if not bool(torch.isfinite(tensor).all()):  # a model fed NaN predicts NaN, silently
        raise errors.NoFinitePixelsError("the image gives a model input that is not finite")
    shown = pixels[..., 0] if spec.channels == 1 else pixels
    return ModelInput(tensor, shown, geometry)


def to_pixel_scale(unit: np.ndarray, spec: InputSpec) -> np.ndarray:
    """[0, 1] pixels, (H, W) or (H, W, C), to the model's pixel scale ``range``, as (C, H, W) float32."""
    planes = unit[..., None] if unit.ndim == 2 else unit
    low, high = spec.value_range
    return np.ascontiguousarray((low + planes * (high - low)).transpose(2, 0, 1), dtype=np.float32)


def normalise(pixels: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """(B, C, H, W) pixel-scale values to model input: (x - mean) / std per channel."""
    mean = torch.tensor(spec.mean, dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=pixels.dtype, device=pixels.device).view(1, -1, 1, 1)
    return (pixels - mean) / std
