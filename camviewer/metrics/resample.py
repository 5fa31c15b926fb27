"""Bilinear resampling of attribution maps onto an image grid, shared by the map-scoring metrics."""

from __future__ import annotations

import cv2
import numpy as np


def bilinear(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An (h, w) plane resampled to ``shape`` (H, W) in float64.

    Bilinear with half-pixel centres and clamped edges (OpenCV ``INTER_LINEAR``, the same as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``); no antialiasing.
    """
    values = np.asarray(plane, dtype=np.float64)
    if values.shape == tuple(shape):
        return values.copy()
    return cv2.resize(values, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
