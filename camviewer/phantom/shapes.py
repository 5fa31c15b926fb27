"""Shapes rasterised at full resolution from normalised coordinates (0..1 across the image).

A point (x, y) = (0.5, 0.5) is the image centre; pixel (row i, column j) has its centre at
((j + 0.5) / size, (i + 0.5) / size).
"""

from __future__ import annotations

import cv2
import numpy as np

SUBPIXEL_BITS = 4
WIDE_BLUR_SIGMA = 4.0  # blurs at least twice this wide run on a reduced image


def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised pixel-centre coordinates as broadcastable (y column, x row) vectors."""
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size
    return centres[:, None], centres[None, :]


def blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur as float32 (edges replicated); sigma 0 returns a float32 copy.

    Wide blurs run on a reduced copy, then are enlarged again, to stay fast at 2048 pixels.
    """
    image = image.astype(np.float32)
    if sigma_px <= 0:
        return image
    factor = int(sigma_px // WIDE_BLUR_SIGMA) if sigma_px >= 2 * WIDE_BLUR_SIGMA else 1
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), sigma_px, borderType=cv2.BORDER_REPLICATE)
    height, width = image.shape
    small = cv2.resize(image, (-(-width // factor), -(-height // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma_px / factor, borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def soften(mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """A boolean mask as a float32 image in [0, 1] with Gaussian-softened edges."""
    return blur(mask.astype(np.float32), sigma_px)


def rounded(mask: np.ndarray, sigma_px: float) -> np.ndarray:
    """A boolean mask with its corners rounded (blurred, then thresholded at one half)."""
    return soften(mask, sigma_px) > 0.5


def _pixel_points(points: np.ndarray, size: int) -> np.ndarray:
    scaled = (np.asarray(points, dtype=np.float64) * size - 0.5) * (1 << SUBPIXEL_BITS)
    return np.rint(scaled).astype(np.int32).reshape(-1, 1, 2)


def polygon_mask(size: int, points: np.ndarray) -> np.ndarray:
    """Inside of the closed polygon through normalised (x, y) ``points``."""
    canvas = np.zeros((size, size), np.uint8)
    cv2.fillPoly(canvas, [_pixel_points(points, size)], 1, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    return canvas.astype(bool)


def curves_mask(size: int, paths: list[np.ndarray], thickness: float) -> np.ndarray:
    """Thick open polylines through normalised (x, y) points; thickness in image widths."""
    canvas = np.zeros((size, size), np.uint8)
    width = max(1, round(thickness * size))
    points = [_pixel_points(path, size) for path in paths]
    cv2.polylines(canvas, points, False, 1, width, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    return canvas.astype(bool)


Point = tuple[float, float]


def ellipse_field(size: int, center: Point, axes: Point, angle_deg: float = 0.0) -> np.ndarray:
    """Normalised elliptic radius: < 1 inside the (rotated) ellipse, 1 on its edge."""
    y, x = grid(size)
    theta = np.deg2rad(angle_deg)
    dx, dy = x - center[0], y - center[1]
    along = dx * np.cos(theta) + dy * np.sin(theta)
    across = -dx * np.sin(theta) + dy * np.cos(theta)
    return np.sqrt((along / axes[0]) ** 2 + (across / axes[1]) ** 2).astype(np.float32)


def ellipse_mask(size: int, center: Point, axes: Point, angle_deg: float = 0.0) -> np.ndarray:
    """Inside of a rotated ellipse (angle in degrees, clockwise on screen since y points down)."""
    return ellipse_field(size, center, axes, angle_deg) <= 1.0


def smooth_noise(rng: np.random.Generator, size: int, sigma_px: float) -> np.ndarray:
    """Gaussian-smoothed white noise rescaled to zero mean and unit standard deviation."""
    field = blur(rng.standard_normal((size, size), dtype=np.float32), sigma_px)
    return (field - field.mean()) / max(float(field.std()), 1e-6)
