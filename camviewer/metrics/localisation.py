"""Localisation of a raw map against a ground-truth mask (boxes or segmentation).

The (h, w) map a is resized bilinearly to the mask's (H, W) (â below); M is the boolean mask.

- pointing game: hit = M[argmax â], the first maximum in row-major order; False for an all-zero map.
- energy-based pointing game (Wang et al. 2020, Score-CAM): Σ_{M} â⁺ / Σ â⁺, â⁺ = max(â, 0).
- relevance mass accuracy (Arras et al. 2022, CLEVR-XAI): R_within / R_total over positive
  relevance, i.e. the same Σ_{M} â⁺ / Σ â⁺; both are 0 when Σ â⁺ = 0.
- IoU: |T ∩ M| / |T ∪ M| with T = {â >= f · max â}, f the threshold fraction; T is empty (IoU 0)
  when max â <= 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from camviewer.geometry import bilinear

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixel coordinates, end-exclusive: columns x0..x1−1, rows y0..y1−1."""


@dataclass(frozen=True)
class Localisation:
    pointing_game: bool
    energy: float
    mass_accuracy: float
    iou: float
    iou_threshold: float


def mask_from_boxes(shape: tuple[int, int], boxes: Iterable[Box]) -> np.ndarray:
    """Boolean (H, W) mask, True inside any box; boxes are clipped to the image."""
    mask = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        if x1 < x0 or y1 < y0:
            raise ValueError(f"box {(x0, y0, x1, y1)} must have x0 <= x1 and y0 <= y1")
        mask[max(int(y0), 0) : max(int(y1), 0), max(int(x0), 0) : max(int(x1), 0)] = True
    return mask


def localisation(heat: np.ndarray, mask: np.ndarray, iou_threshold: float = 0.5) -> Localisation:
    """All four scores of the module docstring for one raw map and one non-empty mask."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise ValueError("the ground-truth mask is empty: localisation is undefined")
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"the IoU threshold is a fraction of the map's maximum in (0, 1], got {iou_threshold}")
    resized = bilinear(heat, mask.shape)
    if not np.isfinite(resized).all():
        raise ValueError("the map holds NaN or infinite values")
    share = positive_share(resized, mask)
    return Localisation(pointing_hit(resized, mask), share, share, iou(thresholded(resized, iou_threshold), mask), iou_threshold)


def pointing_hit(plane: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the first maximum (row-major) lies in the mask; False for an all-zero plane."""
    if not plane.any():
        return False
    return bool(mask.flat[int(np.argmax(plane))])


def positive_share(plane: np.ndarray, mask: np.ndarray) -> float:
    """Σ_{mask} max(plane, 0) / Σ max(plane, 0); 0 when the plane has no positive value."""
    positive = np.maximum(plane, 0.0)
    total = float(positive.sum())
    return float(positive[mask].sum()) / total if total > 0 else 0.0


def thresholded(plane: np.ndarray, fraction: float) -> np.ndarray:
    """plane >= fraction · max(plane); empty when max(plane) <= 0."""
    peak = float(plane.max())
    return plane >= fraction * peak if peak > 0 else np.zeros(plane.shape, dtype=bool)


def iou(region: np.ndarray, mask: np.ndarray) -> float:
    """|region ∩ mask| / |region ∪ mask| for boolean arrays (the mask is non-empty)."""
    return float(np.logical_and(region, mask).sum()) / float(np.logical_or(region, mask).sum())
