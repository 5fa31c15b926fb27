"""Region grids and region rankings for perturbation curves.

An R x R grid over an H x W model input: region (i, j) covers rows floor(iH/R) .. floor((i+1)H/R) - 1
and columns floor(jW/R) .. floor((j+1)W/R) - 1; its index is i*R + j. Regions are ranked by the mean
of the heatmap resized bilinearly to H x W: descending for MoRF, ascending for LeRF, ties broken by
the lower index; ``random`` is a seeded permutation (the baseline curve).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from camviewer import errors
from camviewer.geometry import bilinear

Order = Literal["morf", "lerf", "random"]
ORDERS: tuple[Order, ...] = ("morf", "lerf", "random")
MAX_SEED = 2**32 - 1  # seeds of the random order and the noise fields


def edges(size: int, grid: int) -> np.ndarray:
    """The R + 1 region boundaries floor(i * size / R) along one axis."""
    return np.array([(i * size) // grid for i in range(grid + 1)])


def region_map(shape: tuple[int, int], grid: int) -> np.ndarray:
    """(H, W) int array holding each pixel's region index i*R + j."""
    height, width = shape
    if not 2 <= grid <= min(height, width):
        raise errors.UsageError(f"the grid must be 2..{min(height, width)} for a {height}x{width} model input", option="grid")
    rows = np.searchsorted(edges(height, grid), np.arange(height), side="right") - 1
    cols = np.searchsorted(edges(width, grid), np.arange(width), side="right") - 1
    return rows[:, None] * grid + cols[None, :]


def region_means(heat: np.ndarray, regions: np.ndarray, grid: int) -> np.ndarray:
    """Mean of the heatmap, resized bilinearly to the regions' shape, in each region."""
    resized = bilinear(heat, regions.shape)
    sums = np.bincount(regions.ravel(), weights=resized.ravel(), minlength=grid * grid)
    counts = np.bincount(regions.ravel(), minlength=grid * grid)
    return sums / counts


def rank_regions(heat: np.ndarray, regions: np.ndarray, grid: int, order: Order, seed: int = 0) -> np.ndarray:
    """Region indices, first perturbed first."""
    index = np.arange(grid * grid)
    if order == "random":
        return np.random.default_rng(seed).permutation(grid * grid)
    means = region_means(heat, regions, grid)
    key = -means if order == "morf" else means
    return np.lexsort((index, key))
