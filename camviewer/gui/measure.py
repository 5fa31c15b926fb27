"""Distances and the display orientation's geometry (Qt-free).

Points are (x, y) = (column, row) in source pixels. DICOM's Pixel Spacing (and Imager / Nominal
Scanned Pixel Spacing) is (row spacing, column spacing) = (dy, dx) in mm: the spacing between rows
scales vertical steps, the spacing between columns horizontal ones.

An orientation matrix is ``(m11, m12, m21, m22, dx, dy)`` in Qt's convention (``QTransform(*m)``):
x' = m11·x + m21·y + dx, y' = m12·x + m22·y + dy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Point = tuple[float, float]
Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
NO_SPACING = "no pixel spacing"
DEFAULT_SOURCE = "Pixel Spacing"  # named when a spacing comes without its source


@dataclass(frozen=True)
class Distance:
    """A length in mm (``source`` names the spacing attribute used) or in pixels (``source`` says why)."""

    value: float
    unit: Literal["mm", "pixels"]
    source: str

    def text(self) -> str:
        """E.g. "42.3 mm (Imager Pixel Spacing (at detector))" or "120 px (no pixel spacing)"."""
        if self.unit == "mm":
            return f"{self.value:.1f} mm ({self.source})"
        return f"{self.value:.0f} px ({self.source})"


def distance(p0: Point, p1: Point, pixel_spacing_mm: tuple[float, float] | None, spacing_source: str | None) -> Distance:
    """The length from ``p0`` to ``p1``; in mm with ``pixel_spacing_mm`` = (row spacing, column spacing)
    as in :attr:`camviewer.io.image.Metadata.pixel_spacing_mm`, else in pixels."""
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    if pixel_spacing_mm is None:
        return Distance(math.hypot(dx, dy), "pixels", NO_SPACING)
    row_mm, column_mm = pixel_spacing_mm
    if not all(math.isfinite(v) and v > 0 for v in pixel_spacing_mm):
        raise ValueError("pixel spacing must be finite and positive")
    return Distance(math.hypot(dx * column_mm, dy * row_mm), "mm", spacing_source or DEFAULT_SOURCE)


def orientation_matrix(rotation_quarters: int, flip_h: bool, flip_v: bool, width: int, height: int) -> Matrix:
    """Source pixels to the display: turned clockwise ``rotation_quarters`` times, then flipped left-right
    (``flip_h``) and top-bottom (``flip_v``) on screen; the displayed image spans [0, W'] x [0, H']."""
    m, w, h = IDENTITY, float(width), float(height)
    for _ in range(rotation_quarters % 4):
        m, w, h = _then(m, (0.0, 1.0, -1.0, 0.0, h, 0.0)), h, w  # (x, y) -> (h - y, x)
    if flip_h:
        m = _then(m, (-1.0, 0.0, 0.0, 1.0, w, 0.0))
    if flip_v:
        m = _then(m, (1.0, 0.0, 0.0, -1.0, 0.0, h))
    return m


def to_display(matrix: Matrix, point: Point) -> Point:
    """``point`` (source pixels) mapped by ``matrix``."""
    m11, m12, m21, m22, dx, dy = matrix
    x, y = point
    return m11 * x + m21 * y + dx, m12 * x + m22 * y + dy


def to_source(matrix: Matrix, point: Point) -> Point:
    """``point`` (display coordinates) mapped back to source pixels: the inverse of :func:`to_display`."""
    m11, m12, m21, m22, dx, dy = matrix
    det = m11 * m22 - m12 * m21
    if det == 0:
        raise ValueError("orientation matrix is singular")
    u, v = point[0] - dx, point[1] - dy
    return (m22 * u - m21 * v) / det, (m11 * v - m12 * u) / det


def _then(a: Matrix, b: Matrix) -> Matrix:
    """``a`` followed by ``b`` (Qt's ``a * b``)."""
    a11, a12, a21, a22, adx, ady = a
    b11, b12, b21, b22, bdx, bdy = b
    return (a11 * b11 + a12 * b21, a11 * b12 + a12 * b22, a21 * b11 + a22 * b21, a21 * b12 + a22 * b22,
            adx * b11 + ady * b21 + bdx, adx * b12 + ady * b22 + bdy)
