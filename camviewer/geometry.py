"""Pixel grids: resampling, and where the source image lands in the model input.

One place for every resize in camviewer:

- :func:`resize` for images (area averaging when shrinking, bilinear when enlarging), used to make
  model input and to show maps over images;
- :func:`bilinear` for attribution maps scored by the metrics (float64, bilinear both ways);
- :class:`InputGeometry` records a resize policy (stretch, letterbox, centre crop), so that maps
  computed over the model input go back onto the source pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Box:
    top: int
    left: int
    height: int
    width: int


@dataclass(frozen=True)
class InputGeometry:
    """Which source region (``crop``) lands where (``placed``) in the model input."""

    source_shape: tuple[int, int]
    input_shape: tuple[int, int]
    crop: Box
    placed: Box

    def to_source(self, plane: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Map an (h, w) plane over the model input onto the source pixel grid (bilinear)."""
        on_input = resize(plane.astype(np.float32), self.input_shape)
        p, c = self.placed, self.crop
        region = resize(on_input[p.top : p.top + p.height, p.left : p.left + p.width], (c.height, c.width))
        out = np.full(self.source_shape, fill, dtype=np.float32)
        out[c.top : c.top + c.height, c.left : c.left + c.width] = region
        return out


def input_geometry(source: tuple[int, int], target: tuple[int, int], policy: str) -> InputGeometry:
    """The geometry of resizing a ``source`` (rows, columns) image to ``target`` by ``policy``:
    ``stretch``, ``letterbox`` (whole image, centred, padded) or ``center-crop`` (filled, centred)."""
    rows, cols = source
    height, width = target
    if policy == "stretch":
        return InputGeometry(source, target, Box(0, 0, rows, cols), Box(0, 0, height, width))
    if policy == "letterbox":
        scale = min(height / rows, width / cols)
        h, w = max(1, round(rows * scale)), max(1, round(cols * scale))
        return InputGeometry(source, target, Box(0, 0, rows, cols), Box((height - h) // 2, (width - w) // 2, h, w))
    if policy != "center-crop":
        raise ValueError(f"unknown resize policy {policy!r}")
    scale = max(height / rows, width / cols)
    h, w = min(rows, round(height / scale)), min(cols, round(width / scale))
    return InputGeometry(source, target, Box((rows - h) // 2, (cols - w) // 2, h, w), Box(0, 0, height, width))


def resize(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An image resized to ``shape`` (H, W): area averaging when shrinking, bilinear when enlarging;
    (H, W) or (H, W, C), the dtype kept."""
    rows, cols = plane.shape[:2]
    if (rows, cols) == tuple(shape):
        return plane.copy()
    shrinking = shape[0] < rows and shape[1] < cols
    return cv2.resize(plane, (shape[1], shape[0]), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def bilinear(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An (h, w) map resampled to ``shape`` (H, W) in float64.

    Bilinear with half-pixel centres and clamped edges (OpenCV ``INTER_LINEAR``, the same as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``); no antialiasing.
    """
    values = np.asarray(plane, dtype=np.float64)
    if values.shape == tuple(shape):
        return values.copy()
    return cv2.resize(values, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
