"""Max-Sensitivity of an explanation (Yeh et al. 2019), absolute and relative, on raw maps.

Definition. For an image x in the model input's *pixel scale* (before mean/std normalisation),
a raw explanation Φ for one fixed target class, a radius r and n samples:

    absolute = max_{i=1..n} ||Φ(x) − Φ(y_i)||₂,   y_i = x + δ_i,   δ_i ~ U([−r, r]^(C·H·W))
    relative = absolute / ||Φ(x)||₂

||·||₂ is the Frobenius norm over the unnormalised map at its native resolution (no ReLU,
min-max or resize is applied), accumulated in float64. y_i is not clipped to the pixel range.
If ||Φ(x)||₂ = 0, relative is inf when absolute > 0 and 0 otherwise (never NaN).

Noise. δ_i is the i-th draw of ``torch.empty((C, H, W)).uniform_(-r, r, generator=g)`` (float32,
on the CPU) with ``g = torch.Generator().manual_seed(seed)``: reproducible and the same on every
device. Φ(x) is explained alone (the map a single-image view shows, whatever ``batch_size``);
the y_i are explained in order, ``batch_size`` at a time.

Captum's ``sensitivity_max`` reports ``relative``; vggls/medical_xai reports ``absolute``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from camviewer import errors
from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import TargetLayer
from camviewer.explain.lrp import Bounds, compute_lrp
from camviewer.metrics.perturbation import MAX_VALUE

Explainer = Callable[[torch.Tensor], np.ndarray]
"""Normalised inputs (B, C, H, W) -> raw maps (B, h, w) for one fixed target class."""
ToInput = Callable[[torch.Tensor], torch.Tensor]
"""Pixel-scale batch (B, C, H, W) -> normalised model input (B, C, H, W)."""


MAX_SAMPLES = 10_000
MAX_RADIUS = MAX_VALUE  # pixel scale: far beyond any model's range, still finite after normalisation


@dataclass(frozen=True)
class SensitivitySpec:
    """Radius r (pixel scale, finite, >= 0) and number of samples n (1 .. 10000)."""

    radius: float
    samples: int

    def __post_init__(self) -> None:
        if not 0 <= self.radius <= MAX_RADIUS:
            raise errors.UsageError(f"the radius must be 0..{MAX_RADIUS:g}", option="sensitivity")
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise errors.UsageError(f"the number of samples must be 1..{MAX_SAMPLES}", option="sensitivity")


@dataclass(frozen=True)
class Sensitivity:
    radius: float
    samples: int
    absolute: float
    relative: float


def max_sensitivity(
    explain: Explainer,
    pixels: torch.Tensor,
    to_input: ToInput,
    radius: float,
    samples: int,
    seed: int,
    batch_size: int = 8,
) -> Sensitivity:
    """Max-Sensitivity of ``explain`` at the (C, H, W) pixel-scale image ``pixels`` (module docstring)."""
    if radius < 0 or samples < 1 or batch_size < 1:
        raise ValueError(f"need radius >= 0, samples >= 1 and batch_size >= 1 (got {radius}, {samples}, {batch_size})")
    reference = np.asarray(explain(to_input(pixels[None])), dtype=np.float64)[0]
    largest = 0.0
    for noise in noise_batches(tuple(pixels.shape), radius, samples, seed, batch_size):
        perturbed = pixels[None] + noise.to(device=pixels.device, dtype=pixels.dtype)
        maps = np.asarray(explain(to_input(perturbed)), dtype=np.float64)
        largest = max(largest, *(frobenius(reference - m) for m in maps))
    return Sensitivity(radius, samples, largest, relative_to(largest, frobenius(reference)))


def noise_batches(shape: tuple[int, ...], radius: float, samples: int, seed: int, batch_size: int) -> Iterator[torch.Tensor]:
    """The δ_i of the module docstring, drawn one sample at a time, yielded as CPU batches of ``batch_size``."""
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, samples, batch_size):
        count = min(batch_size, samples - start)
        yield torch.stack([torch.empty(shape).uniform_(-radius, radius, generator=generator) for _ in range(count)])


def frobenius(plane: np.ndarray) -> float:
    """sqrt(Σ plane²) in float64."""
    return float(np.sqrt(np.sum(np.square(plane, dtype=np.float64))))


def relative_to(absolute: float, norm: float) -> float:
    """absolute / norm; for norm 0: inf if absolute > 0, else 0."""
    if norm > 0:
        return absolute / norm
    return float("inf") if absolute > 0 else 0.0


def cam_explainer(model: nn.Module, layer: TargetLayer, method: str, target: int) -> Explainer:
    """Raw (h, w) maps of one CAM method at ``layer`` for class ``target``, via ``compute_cams``."""

    def explain(inputs: torch.Tensor) -> np.ndarray:
        with torch.enable_grad():  # compute_cams takes the target score's gradient outside its own enable_grad
            _, results = compute_cams(model, inputs, [[target]] * len(inputs), [method], layer)
        return np.stack([per_image[0].maps[method] for per_image in results])

    return explain


def lrp_explainer(model: nn.Module, method: str, target: int, bounds: Bounds) -> Explainer:
    """Raw (H, W) LRP maps (summed over channels) for class ``target``, via ``compute_lrp``."""

    def explain(inputs: torch.Tensor) -> np.ndarray:
        with torch.enable_grad():  # zennit needs a graph; captum's sensitivity_max calls explainers under no_grad
            results = compute_lrp(model, inputs, [[target]] * len(inputs), method, bounds)
        return np.stack([per_image[0].map for per_image in results])

    return explain
