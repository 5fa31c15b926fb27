"""Heatmap normalisation policies, colormaps and the overlay blend, as pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import cv2
import numpy as np

PERCEPTUAL = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS, "magma": cv2.COLORMAP_MAGMA,
              "plasma": cv2.COLORMAP_PLASMA, "turbo": cv2.COLORMAP_TURBO}
DIVERGING_ANCHORS = np.array([[59, 76, 192], [221, 221, 221], [180, 4, 38]], dtype=np.float64)  # coolwarm ends
DEFAULT_ALPHA = 0.45


@dataclass(frozen=True)
class Normalisation:
    """How a raw map becomes [0, 1] (or [-1, 1] for signed maps) for display.

    ``per-image``: divide by the map's largest magnitude. ``percentile``: divide by the given
    percentile of the magnitudes, clipping above. ``fixed``: divide by ``scale``.
    """

    policy: Literal["per-image", "percentile", "fixed"] = "per-image"
    percentile: float = 99.0
    scale: float = 1.0


def normalise(raw: np.ndarray, signed: bool, policy: Normalisation = Normalisation()) -> np.ndarray:
    """Unsigned maps to [0, 1] (negatives clipped), signed maps to [-1, 1] keeping zero at zero."""
    values = raw.astype(np.float32)
    magnitude = np.abs(values) if signed else np.maximum(values, 0)
    if policy.policy == "fixed":
        scale = policy.scale
    elif policy.policy == "percentile":
        scale = float(np.percentile(magnitude, policy.percentile))
    else:
        scale = float(magnitude.max())
    if not np.isfinite(scale) or scale <= 0:
        return np.zeros_like(values)
    return np.clip(values / scale, -1.0 if signed else 0.0, 1.0)


@cache
def colormap(name: str) -> np.ndarray:
    """A (256, 3) uint8 RGB table: OpenCV's perceptual maps, or ``coolwarm`` (diverging)."""
    if name == "coolwarm":
        t = np.linspace(0, 1, 256)
        channels = [np.interp(t, (0.0, 0.5, 1.0), DIVERGING_ANCHORS[:, c]) for c in range(3)]
        table = np.rint(np.stack(channels, axis=1)).astype(np.uint8)
    else:
        ramp = np.arange(256, dtype=np.uint8)[:, None]
        table = cv2.applyColorMap(ramp, PERCEPTUAL[name])[:, 0, ::-1].copy()
    table.setflags(write=False)
    return table


def overlay(pixels: np.ndarray, heat: np.ndarray, alpha: float = DEFAULT_ALPHA, cmap: str = "inferno") -> np.ndarray:
    """Blend a normalised map (resized bilinearly to the image) over [0, 1] pixels -> uint8 RGB.

    ``heat`` in [0, 1] indexes ``cmap``; in [-1, 1] (signed) use ``cmap='coolwarm'``.
    """
    rows, cols = pixels.shape[:2]
    resized = cv2.resize(heat.astype(np.float32), (cols, rows), interpolation=cv2.INTER_LINEAR)
    index = np.rint(((resized + 1) / 2 if cmap == "coolwarm" else resized).clip(0, 1) * 255).astype(np.uint8)
    colour = colormap(cmap)[index].astype(np.float32)
    base = pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=-1)
    blended = (1 - alpha) * base.clip(0, 1) * 255 + alpha * colour
    return np.rint(blended).clip(0, 255).astype(np.uint8)
