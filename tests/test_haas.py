"""HAAS: HA images against a per-pixel loop, clipping and bounds, accuracies and a hand-computed score."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from camviewer.metrics.haas import Haas, accuracy, haas, heatmap_assisted, model_predictor


def literal_bilinear(heat: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Half-pixel centres, source coordinates clamped to the edges."""
    h, w = heat.shape
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            y = min(max((i + 0.5) * h / rows - 0.5, 0.0), h - 1.0)
            x = min(max((j + 0.5) * w / cols - 0.5, 0.0), w - 1.0)
            y0, x0 = int(math.floor(y)), int(math.floor(x))
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = y - y0, x - x0
            out[i, j] = ((1 - dy) * (1 - dx) * heat[y0, x0] + (1 - dy) * dx * heat[y0, x1]
                         + dy * (1 - dx) * heat[y1, x0] + dy * dx * heat[y1, x1])
    return out


def literal_ha(pixels: np.ndarray, lo: float, hi: float, heat: np.ndarray) -> np.ndarray:
    channels, rows, cols = pixels.shape
    up = literal_bilinear(heat, rows, cols)
    low, high = up.min(), up.max()
    out = np.zeros(pixels.shape)
    for c in range(channels):
        for i in range(rows):
            for j in range(cols):
                x = 2 * (pixels[c, i, j] - lo) / (hi - lo) - 1
                a = 0.0 if high == low else 2 * (up[i, j] - low) / (high - low) - 1
                out[c, i, j] = lo + (min(max(x * (1 + a), -1.0), 1.0) + 1) / 2 * (hi - lo)
    return out


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (-1024.0, 1024.0)])
def test_heatmap_assisted_matches_per_pixel_loop(lo: float, hi: float) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.uniform(lo, hi, size=(2, 6, 9))
    heat = rng.normal(size=(2, 4))
    np.testing.assert_allclose(heatmap_assisted(pixels, (lo, hi), heat), literal_ha(pixels, lo, hi, heat),
                               rtol=1e-6, atol=1e-6 * (hi - lo))


def test_full_resolution_map_hand_values_and_clipping() -> None:
    pixels = np.full((1, 2, 2), 0.9)  # x_norm = 0.8
    heat = np.array([[4.0, 2.0], [0.0, 1.0]])  # a_norm = [[1, 0], [-1, -0.5]]
    expected = np.array([[[1.0, 0.9], [0.5, 0.7]]])  # clip(1.6) = 1 -> hi; 0.8; 0 -> mid-grey; 0.4
    np.testing.assert_allclose(heatmap_assisted(pixels, (0.0, 1.0), heat), expected, atol=1e-12)


def test_output_stays_in_value_range() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.uniform(-1500, 1500, size=(3, 16, 16))  # partly outside the range
    out = heatmap_assisted(pixels, (-1024.0, 1024.0), rng.normal(size=(4, 4)) * 100)
    assert out.min() >= -1024.0 and out.max() <= 1024.0
    assert np.isclose(out.max(), 1024.0) and np.isclose(out.min(), -1024.0)


def test_constant_map_leaves_clipped_image() -> None:
    pixels = np.linspace(-0.5, 1.5, 2 * 5 * 5).reshape(2, 5, 5)
    for heat in (np.full((3, 3), 7.0), np.zeros((5, 5))):
        np.testing.assert_allclose(heatmap_assisted(pixels, (0.0, 1.0), heat), np.clip(pixels, 0.0, 1.0), atol=1e-12)


def test_single_label_accuracy() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    assert accuracy(logits, np.array([0, 1, 1, 2]), multilabel=False) == 0.5


def test_multilabel_accuracy_by_hand() -> None:
    logits = np.array([[2.0, -1.0, 0.0], [-3.0, 0.5, -0.1]])  # predicted [[1, 0, 1], [0, 1, 0]]
    labels = np.array([[1, 1, 1], [0, 0, 0]])  # agreements: 1, 0, 1, 1, 0, 1
    assert accuracy(logits, labels, multilabel=True) == pytest.approx(4 / 6)


def test_accuracy_refuses_mismatched_labels() -> None:
    with pytest.raises(ValueError, match="multi-label"):
        accuracy(np.zeros((2, 3)), np.zeros(2), multilabel=True)
    with pytest.raises(ValueError, match="single-label"):
        accuracy(np.zeros((2, 3)), np.zeros((2, 3)), multilabel=False)


class SumModel(nn.Module):
    """logits = [s, −s] with s = Σ pixels − 2: class 0 exactly when the 2x2 image sums above 2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.sum(dim=(1, 2, 3)) - 2.0
        return torch.stack([s, -s], dim=1)


def test_haas_by_hand_on_a_tiny_model() -> None:
    predict = model_predictor(SumModel(), lambda p: p)
    pixels = np.array([
        [[0.75, 0.75], [0.75, 0.75]],  # sum 3 -> 0; HA with the map at (0,0): [[1, .5], [.5, .5]] sum 2.5 -> 0
        [[0.2, 0.9], [0.9, 0.9]],  # sum 2.9 -> 0; HA at (0,0): [[0, .5], [.5, .5]] sum 1.5 -> 1
        [[0.1, 0.1], [0.1, 0.9]],  # sum 1.2 -> 1; HA at (1,1): [[.5, .5], [.5, 1]] sum 2.5 -> 0
        [[0.2, 0.9], [0.9, 0.9]],  # as the second image
    ], dtype=np.float32)[:, None]
    at_00, at_11 = np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 1.0]])
    heats = [at_00, at_00, at_11, at_00]
    # every label is class 0: originals right, right, wrong, right = 3/4; HA right, wrong, right, wrong = 2/4
    single = haas(predict, pixels, (0.0, 1.0), heats, np.zeros(4, dtype=int), multilabel=False)
    assert single == Haas(0.75, 0.5, pytest.approx(2 / 3))
    # multi-label with labels [1, 0]: the same decisions, each counted on both outputs
    multi = haas(predict, pixels, (0.0, 1.0), heats, np.tile([1, 0], (4, 1)), multilabel=True)
    assert multi == Haas(0.75, 0.5, pytest.approx(2 / 3))


def test_haas_refuses_zero_original_accuracy_and_missing_maps() -> None:
    predict = model_predictor(SumModel(), lambda p: p)
    pixels = np.full((2, 1, 2, 2), 0.75, dtype=np.float32)
    heats = [np.ones((2, 2)), np.ones((2, 2))]
    with pytest.raises(ValueError, match="accuracy on the original images is 0"):
        haas(predict, pixels, (0.0, 1.0), heats, np.array([1, 1]), multilabel=False)
    with pytest.raises(ValueError, match="one map per image"):
        haas(predict, pixels, (0.0, 1.0), heats[:1], np.array([0, 0]), multilabel=False)
