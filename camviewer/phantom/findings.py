"""Findings with pixel-exact masks.

A local finding (nodule, consolidation, effusion) adds attenuation to a rendered
:class:`~camviewer.phantom.anatomy.Anatomy` and returns its mask, which lies inside the lungs.
Cardiomegaly changes the anatomy itself: :func:`enlarge_heart` gives the parameters of an
enlarged heart, and the finding's mask is the rendered heart region.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from camviewer.phantom.anatomy import LUNG_AIR, Anatomy, AnatomyParams, air_fraction
from camviewer.phantom.shapes import ellipse_field, grid, smooth_noise, soften


@dataclass(frozen=True, eq=False)
class Lesion:
    """Attenuation to add (float32, zero outside ``mask``) and the lesion's boolean mask."""

    attenuation: np.ndarray
    mask: np.ndarray


def enlarge_heart(params: AnatomyParams, rng: np.random.Generator) -> AnatomyParams:
    """Cardiomegaly: a wider, lower heart reaching further to the patient's left."""
    width, height = rng.uniform(1.35, 1.55), rng.uniform(1.12, 1.25)
    x, y = params.heart_center
    shifted = (x + params.heart_axes[0] * (width - 1.0) * 0.45, y + params.heart_axes[1] * (height - 1.0) * 0.5)
    axes = (params.heart_axes[0] * width, params.heart_axes[1] * height)
    return replace(params, heart_center=shifted, heart_axes=axes)


def nodules(anatomy: Anatomy, rng: np.random.Generator) -> Lesion:
    """One to three round nodules, each wholly inside a lung; projected spheres of soft tissue."""
    size = anatomy.attenuation.shape[0]
    lungs = anatomy.regions.both_lungs
    room = cv2.distanceTransform(lungs.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.mgrid[0:size, 0:size]
    attenuation = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        radius = max(2.0, rng.uniform(0.012, 0.028) * size)
        row, col = _random_pixel(room >= min(radius * 1.3, float(room.max())), rng)
        distance = np.hypot(y - row, x - col) / radius
        sphere = np.sqrt(np.clip(1.0 - distance**2, 0.0, 1.0))
        attenuation = np.maximum(attenuation, rng.uniform(0.16, 0.26) * sphere)
    attenuation *= lungs
    return Lesion(attenuation.astype(np.float32), attenuation > 0)


def consolidation(anatomy: Anatomy, rng: np.random.Generator) -> Lesion:
    """An irregular, textured opacity in one lung: thresholded smooth noise around a centre."""
    size = anatomy.attenuation.shape[0]
    lung = anatomy.regions.lungs[int(rng.integers(0, 2))]
    row, col = _random_pixel(lung, rng)
    centre = ((col + 0.5) / size, (row + 0.5) / size)
    axes = (rng.uniform(0.06, 0.1), rng.uniform(0.07, 0.13))
    falloff = 1.0 - ellipse_field(size, centre, axes, rng.uniform(0.0, 180.0))
    outline = smooth_noise(rng, size, size / 40)
    mask = ((falloff + 0.35 * outline) > 0.2) & lung
    mask[row, col] = True
    texture = 0.75 + 0.25 * smooth_noise(rng, size, size / 200).clip(-2.0, 2.0) / 2.0
    density = rng.uniform(0.2, 0.28) * texture * soften(mask, size / 120) * air_fraction(lung)
    return Lesion((density * mask).astype(np.float32), mask)


def effusion(anatomy: Anatomy, rng: np.random.Generator) -> Lesion:
    """Pleural fluid at the base of one lung, its meniscus rising towards the chest wall.

    Fully deep fluid replaces the lung's air, so it is as dense as the soft tissue around it.
    """
    size = anatomy.attenuation.shape[0]
    index = int(rng.integers(0, 2))
    lung = anatomy.regions.lungs[index]
    rows, cols = np.nonzero(lung)
    top, bottom, medial, lateral = rows.min(), rows.max(), cols.min(), cols.max()
    if index == 1:
        medial, lateral = lateral, medial
    depth = rng.uniform(0.14, 0.3) * (bottom - top)
    y, x = grid(size)
    across = np.clip((x * size - 0.5 - medial) / (lateral - medial), 0.0, 1.0)  # 0 medial .. 1 chest wall
    level = bottom - depth - rng.uniform(0.2, 0.45) * depth * across**2
    mask = (y * size - 0.5 >= level) & lung
    mask[bottom, cols[rows == bottom][0]] = True
    rise = np.clip((y * size - 0.5 - level) / max(depth * 0.25, 1.0), 0.0, 1.0)
    fluid = rise * LUNG_AIR * rng.uniform(0.95, 1.1) * air_fraction(lung)
    return Lesion((fluid * mask).astype(np.float32), mask)


def _random_pixel(candidates: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    flat = np.flatnonzero(candidates)
    row, col = divmod(int(flat[rng.integers(0, flat.size)]), candidates.shape[1])
    return row, col
