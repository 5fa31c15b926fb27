"""Heatmap normalisation policies, colormaps and overlays, as pure NumPy/OpenCV functions.

A raw map becomes a display map in [0, 1] (unsigned) or [-1, 1] (signed, zero stays zero) by a
named normalisation policy; a colormap turns it into colours; the overlay blends those over the
gray image with an opacity, leaving pixels below a threshold (or outside the model's view, NaN)
untouched, or draws iso-contours instead of filling.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import cv2
import numpy as np

from camviewer.geometry import bilinear

OPENCV_MAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS, "magma": cv2.COLORMAP_MAGMA,
               "plasma": cv2.COLORMAP_PLASMA, "turbo": cv2.COLORMAP_TURBO, "jet": cv2.COLORMAP_JET, "hot": cv2.COLORMAP_HOT}
DIVERGING_ANCHORS = np.array([[59, 76, 192], [221, 221, 221], [180, 4, 38]], dtype=np.float64)  # coolwarm ends
DIVERGING = "coolwarm"
COLORMAPS: tuple[str, ...] = (*OPENCV_MAPS, DIVERGING)
DEFAULT_ALPHA = 0.45
CONTOUR_LEVELS = (0.25, 0.5, 0.75)


@dataclass(frozen=True)
class Normalisation:
    """How a raw map becomes [0, 1] (or [-1, 1] for signed maps) for display.

    ``per-image``: divide by the map's largest magnitude. ``percentile``: divide by the given
    percentile of the magnitudes, clipping above. ``fixed``: divide by ``scale``.
    """

    policy: Literal["per-image", "percentile", "fixed"] = "per-image"
    percentile: float = 99.0
    scale: float = 1.0

    def describe(self) -> str:
        if self.policy == "percentile":
            return f"percentile {self.percentile:g}"
        return f"fixed scale {self.scale:g}" if self.policy == "fixed" else "per-image maximum"


@dataclass(frozen=True)
class OverlayStyle:
    """``threshold``: display values with |v| below it stay transparent; ``contours``: outline, no fill."""

    cmap: str = "inferno"
    alpha: float = DEFAULT_ALPHA
    threshold: float = 0.0
    contours: bool = False


def for_map(style: OverlayStyle, signed: bool) -> OverlayStyle:
    """The one rule for signed maps: they take the zero-centred diverging colormap; unsigned maps keep ``style``'s."""
    return replace(style, cmap=DIVERGING) if signed else style


def scale_of(raw: np.ndarray, signed: bool, policy: Normalisation = Normalisation()) -> float:
    """The raw value that maps to 1 (0 when the map has no positive, or for signed no non-zero, value)."""
    values = raw[np.isfinite(raw)].astype(np.float64)
    magnitude = np.abs(values) if signed else np.maximum(values, 0)
    if policy.policy == "fixed":
        return policy.scale
    if magnitude.size == 0:
        return 0.0
    if policy.policy == "percentile":
        return float(np.percentile(magnitude, policy.percentile))
    return float(magnitude.max())


def normalise(raw: np.ndarray, signed: bool, policy: Normalisation = Normalisation(), scale: float | None = None) -> np.ndarray:
    """Unsigned maps to [0, 1] (negatives clipped), signed maps to [-1, 1]; ``scale`` overrides the policy
    (a shared colour scale across maps)."""
    values = raw.astype(np.float32)
    scale = scale_of(raw, signed, policy) if scale is None else scale
    if not np.isfinite(scale) or scale <= 0:
        return np.zeros_like(values)
    return np.clip(values / scale, -1.0 if signed else 0.0, 1.0)


@cache
def colormap(name: str) -> np.ndarray:
    """A (256, 3) uint8 RGB table: OpenCV's maps (perceptual ones, jet, hot), or ``coolwarm`` (diverging)."""
    if name == DIVERGING:
        t = np.linspace(0, 1, 256)
        channels = [np.interp(t, (0.0, 0.5, 1.0), DIVERGING_ANCHORS[:, c]) for c in range(3)]
        table: np.ndarray = np.rint(np.stack(channels, axis=1)).astype(np.uint8)
    elif name in OPENCV_MAPS:
        ramp = np.arange(256, dtype=np.uint8)[:, None]
        table = cv2.applyColorMap(ramp, OPENCV_MAPS[name])[:, 0, ::-1].copy()
    else:
        raise ValueError(f"unknown colormap {name!r}; known: {', '.join(COLORMAPS)}")
    table.setflags(write=False)
    return table


def colour_index(display: np.ndarray, cmap: str) -> np.ndarray:
    """Table indices 0..255: [0, 1] directly, or [-1, 1] centred for the diverging map."""
    unit = (display + 1) / 2 if cmap == DIVERGING else display
    return np.rint(np.nan_to_num(unit).clip(0, 1) * 255).astype(np.uint8)


def colourise(display: np.ndarray, cmap: str) -> np.ndarray:
    """The display map as an RGB uint8 image."""
    return colormap(cmap)[colour_index(display, cmap)]


def gray_levels(pixels: np.ndarray) -> np.ndarray:
    """[0, 1] gray (H, W) or RGB (H, W, 3) pixels as float32 0..255, shaped (H, W, 1) or (H, W, 3)."""
    planes = pixels if pixels.ndim == 3 else pixels[..., None]
    return planes.clip(0, 1).astype(np.float32) * 255


def gray_rgb(pixels: np.ndarray) -> np.ndarray:
    """[0, 1] gray (H, W) or RGB (H, W, 3) pixels as float RGB in 0..255 (a read-only view for gray)."""
    return np.broadcast_to(gray_levels(pixels), (*pixels.shape[:2], 3))


def overlay(pixels: np.ndarray, heat: np.ndarray, alpha: float = DEFAULT_ALPHA, cmap: str = "inferno",
            style: OverlayStyle | None = None) -> np.ndarray:
    """Blend a display map (resized bilinearly to the image; NaN = not covered) over the pixels -> uint8 RGB."""
    style = style or OverlayStyle(cmap=cmap, alpha=alpha)
    rows, cols = pixels.shape[:2]
    resized = bilinear(heat, (rows, cols), np.float32)
    out = np.empty((rows, cols, 3), np.uint8)
    blend(pixels, resized, style, out)
    if style.contours:
        draw_contours(out, contour_levels(resized), style)
    return out


def blend(pixels: np.ndarray, display: np.ndarray, style: OverlayStyle, out: np.ndarray) -> None:
    """Write into ``out`` (uint8 RGB) the display map (NaN = not covered) blended over pixels of its
    size; with ``style.contours`` only the gray pixels (:func:`draw_contours` adds the lines)."""
    base = gray_levels(pixels)
    out[...] = np.rint(base)
    if style.contours:
        return
    shown = shown_where(display, style.threshold)
    mixed = np.multiply(colourise(display, style.cmap), style.alpha, dtype=np.float64)
    mixed += np.multiply(base, 1.0 - style.alpha, dtype=np.float64)  # (1 - a) gray + a colour, in float64
    np.copyto(out, np.rint(mixed), casting="unsafe", where=shown[..., None])


def shown_where(display: np.ndarray, threshold: float) -> np.ndarray:
    """Where a display map is drawn: covered (not NaN) and at least ``threshold`` in magnitude."""
    return np.isfinite(display) & (np.abs(np.nan_to_num(display)) >= threshold)


def heat_rgba(display: np.ndarray, style: OverlayStyle) -> np.ndarray:
    """The display map as a uint8 RGBA layer for a viewer: its colour, at the style's opacity where
    shown (:func:`shown_where`), transparent elsewhere. The viewer blends it over the image."""
    out = np.empty((*display.shape, 4), np.uint8)
    out[..., :3] = colourise(display, style.cmap)
    out[..., 3] = np.where(shown_where(display, style.threshold), round(style.alpha * 255), 0)
    return out


def contour_levels(display: np.ndarray) -> np.ndarray:
    """How many of the :data:`CONTOUR_LEVELS` each display value's magnitude reaches, as uint8."""
    magnitude = np.abs(np.nan_to_num(display))
    reached = np.zeros(display.shape, np.uint8)
    for level in CONTOUR_LEVELS:
        reached += magnitude >= level
    return reached


def draw_contours(canvas: np.ndarray, reached: np.ndarray, style: OverlayStyle) -> None:
    """Iso-lines at the fixed display levels (from :func:`contour_levels`), coloured by the colormap,
    2 px wide, drawn on the uint8 RGB canvas."""
    mask = np.empty(reached.shape, np.uint8)
    for n, level in enumerate(CONTOUR_LEVELS):
        if level < style.threshold:
            continue
        np.greater(reached, n, out=mask)
        outlines, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        colour = tuple(int(c) for c in colormap(style.cmap)[colour_index(np.array(level), style.cmap)])
        cv2.drawContours(canvas, outlines, -1, colour, 2, cv2.LINE_AA)
