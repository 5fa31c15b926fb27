"""HAAS, the Heatmap Assisted Accuracy Score (Draelos & Carin, the HiResCAM study).

For an image x in pixel scale with value range [lo, hi] and a raw map a:

    x_norm = 2 (x − lo) / (hi − lo) − 1                      (linear, [lo, hi] -> [−1, 1])
    a_norm = 2 (â − min â) / (max â − min â) − 1,  â = a resized bilinearly to (H, W);
             a_norm = 0 when â is constant
    HA(x, a) = clip(x_norm · (1 + a_norm), −1, 1)            (a_norm broadcast over channels)

HA is mapped back to [lo, hi] by the inverse of the x_norm map, so the model sees it through its
usual normalisation. HAAS = accuracy(HA images) / accuracy(original images).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from camviewer.geometry import bilinear

Predictor = Callable[[np.ndarray], np.ndarray]
"""Pixel-scale batch (N, C, H, W) -> logits (N, K)."""


@dataclass(frozen=True)
class Haas:
    accuracy_original: float
    accuracy_assisted: float
    haas: float


def heatmap_assisted(pixels: np.ndarray, value_range: tuple[float, float], heat: np.ndarray) -> np.ndarray:
    """HA(x, a) for one (C, H, W) pixel-scale image, returned in the pixel scale [lo, hi] (float64)."""
    lo, hi = value_range
    if not hi > lo:
        raise ValueError(f"value range must have hi > lo, got {value_range}")
    x_norm = 2.0 * (np.asarray(pixels, dtype=np.float64) - lo) / (hi - lo) - 1.0
    assisted = np.clip(x_norm * (1.0 + min_max_signed(bilinear(heat, x_norm.shape[1:]))), -1.0, 1.0)
    return lo + (assisted + 1.0) / 2.0 * (hi - lo)


def min_max_signed(plane: np.ndarray) -> np.ndarray:
    """plane scaled linearly so its minimum is −1 and its maximum 1; zeros for a constant plane."""
    low, high = float(plane.min()), float(plane.max())
    if high == low:
        return np.zeros_like(plane, dtype=np.float64)
    return 2.0 * (plane - low) / (high - low) - 1.0


def accuracy(logits: np.ndarray, labels: np.ndarray, multilabel: bool) -> float:
    """Single-label: mean over images of [argmax_k logit == label], labels (N,) class indices.

    Multi-label: mean over all N·K image-label pairs of [(sigmoid(logit) >= 0.5) == label],
    labels an (N, K) array of 0/1 (sigmoid(l) >= 0.5 exactly when l >= 0).
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    if multilabel:
        if labels.shape != logits.shape:
            raise ValueError(f"multi-label labels must have the logits' shape {logits.shape}, got {labels.shape}")
        return float(np.mean((logits >= 0) == labels.astype(bool)))
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"single-label labels must be ({len(logits)},) class indices, got shape {labels.shape}")
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def haas(
    predict: Predictor,
    pixels_batch: np.ndarray,
    value_range: tuple[float, float],
    heats: Sequence[np.ndarray],
    labels: np.ndarray,
    multilabel: bool,
) -> Haas:
    """Accuracy on the originals and on their HA images (one raw map per image), and their ratio."""
    if len(heats) != len(pixels_batch):
        raise ValueError(f"need one map per image: {len(heats)} maps for {len(pixels_batch)} images")
    assisted = np.stack([heatmap_assisted(x, value_range, a) for x, a in zip(pixels_batch, heats)])
    original = accuracy(predict(pixels_batch), labels, multilabel)
    if original == 0:
        raise ValueError("HAAS is undefined: the model's accuracy on the original images is 0")
    helped = accuracy(predict(assisted.astype(pixels_batch.dtype)), labels, multilabel)
    return Haas(original, helped, helped / original)


def model_predictor(model: nn.Module, to_input: Callable[[torch.Tensor], torch.Tensor]) -> Predictor:
    """predict(pixels (N, C, H, W) numpy) = model(to_input(pixels)) as numpy logits; ``to_input`` picks the device."""

    def predict(pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(to_input(torch.from_numpy(np.ascontiguousarray(pixels)))).float().cpu().numpy()

    return predict
