"""Pixel grids: resampling, and where the source image lands in the model input.

One place for every resize in camviewer:

- :func:`resize` for images (area averaging when shrinking, bilinear when enlarging), used to make
  model input and to show maps over model-size images;
- :func:`bilinear` for attribution maps scored by the metrics (float64, bilinear both ways);
- :class:`InputGeometry` records a resize policy (stretch, letterbox, centre crop), so that maps
  computed over the model input go back onto the source pixels, whole or a band of rows at a time;
- :func:`row_bands` splits a large array into bands of rows, so that full-resolution work needs
  only band-sized temporaries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

BAND_PIXELS = 1 << 19  # elements per band of rows (about 2 MiB of float32)


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
        """Map an (h, w) plane over the model input onto the source pixel grid (bilinear), float32;
        source pixels the model did not see take ``fill``."""
        return self.to_source_rows(plane, 0, self.source_shape[0], fill)

    def to_source_rows(self, plane: np.ndarray, start: int, stop: int, fill: float = 0.0) -> np.ndarray:
        """Rows ``start:stop`` of :meth:`to_source`, computed from the plane rows they need only."""
        on_input = resize(plane.astype(np.float32), self.input_shape)
        p, c = self.placed, self.crop
        region = on_input[p.top : p.top + p.height, p.left : p.left + p.width]
        out = np.full((stop - start, self.source_shape[1]), fill, dtype=np.float32)
        top, bottom = max(start, c.top), min(stop, c.top + c.height)
        if top < bottom:
            rows = _resampled_rows(region, (c.height, c.width), top - c.top, bottom - c.top)
            out[top - start : bottom - start, c.left : c.left + c.width] = rows
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
    if plane.shape[:2] == tuple(shape):
        return plane.copy()
    interpolation = cv2.INTER_AREA if _shrinks(plane.shape[:2], shape) else cv2.INTER_LINEAR
    return cv2.resize(plane, (shape[1], shape[0]), interpolation=interpolation)


def _shrinks(source: tuple[int, ...], shape: tuple[int, int]) -> bool:
    return shape[0] < source[0] and shape[1] < source[1]


def _resampled_rows(plane: np.ndarray, shape: tuple[int, int], start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of an (h, w) float32 plane resampled to ``shape`` (H, W), as :func:`resize`
    samples it: area averaging when shrinking (the whole plane, which is then smaller than the model
    input), else bilinear with half-pixel centres and clamped edges, in float64, row by row."""
    if _shrinks(plane.shape, shape):
        return resize(plane, shape)[start:stop]
    low, high, weight = _linear_taps(plane.shape[0], shape[0])
    low, high, weight = low[start:stop], high[start:stop], weight[start:stop, None]
    first = int(low[0])
    needed = plane[first : int(high[-1]) + 1].astype(np.float64)
    left, right, across = _linear_taps(plane.shape[1], shape[1])
    columns = needed[:, left] * (1.0 - across) + needed[:, right] * across
    return (columns[low - first] * (1.0 - weight) + columns[high - first] * weight).astype(np.float32)


def _linear_taps(size: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``target`` output positions: the two input indices and the weight of the second."""
    position = np.clip((np.arange(target) + 0.5) * (size / target) - 0.5, 0.0, size - 1.0)
    low = position.astype(np.intp)
    return low, np.minimum(low + 1, size - 1), position - low


def row_bands(shape: tuple[int, ...]) -> Iterator[slice]:
    """Slices of consecutive rows (first axis) that cover an array of ``shape``, each of about
    :data:`BAND_PIXELS` elements and at least one row."""
    per_row = max(1, int(np.prod(shape[1:])))
    step = max(1, BAND_PIXELS // per_row)
    for start in range(0, shape[0], step):
        yield slice(start, min(shape[0], start + step))


def bilinear(plane: np.ndarray, shape: tuple[int, int], dtype: type[np.floating] = np.float64) -> np.ndarray:
    """An (h, w) map resampled to ``shape`` (H, W), computed in ``dtype`` (float64 for the metrics,
    float32 for display maps).

    Bilinear with half-pixel centres and clamped edges (OpenCV ``INTER_LINEAR``, the same as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``); no antialiasing.
    """
    values = np.asarray(plane, dtype=dtype)
    if values.shape == tuple(shape):
        return values.copy()
    return cv2.resize(values, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
