"""Max-Sensitivity against captum's sensitivity_max, a literal loop, and exact zero cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from captum.metrics import sensitivity_max
from torch import nn

from camviewer.explain.layers import locate_layer
from camviewer.explain.lrp import input_bounds
from camviewer.metrics.sensitivity import Sensitivity, cam_explainer, lrp_explainer, max_sensitivity

MEAN, STD = 0.5, 0.25


def to_input(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - MEAN) / STD


def small_net(channels: int = 1, classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes),
    ).eval()


def image(channels: int, size: int, seed: int = 1) -> torch.Tensor:
    return torch.rand((channels, size, size), generator=torch.Generator().manual_seed(seed))


def pooled_tanh(inputs: torch.Tensor) -> np.ndarray:
    """A nonlinear map computed image by image in numpy, so it cannot depend on the batch."""
    batch = inputs.detach().double().numpy()
    blocks = [x.reshape(x.shape[0], 4, x.shape[1] // 4, 4, x.shape[2] // 4).mean(axis=(0, 2, 4)) for x in batch]
    return np.stack([np.tanh(3 * b) for b in blocks])


def captum_relative(explain, pixels: torch.Tensor, radius: float, samples: int, seed: int, batch_size: int) -> float:
    """captum's relative Max-Sensitivity on the same noise: the draws of the module docstring, replayed in order."""
    generator = torch.Generator().manual_seed(seed)

    def perturb(expanded: torch.Tensor) -> torch.Tensor:
        noise = [torch.empty(pixels.shape).uniform_(-radius, radius, generator=generator) for _ in range(len(expanded))]
        return expanded + torch.stack(noise)

    def explanation(inputs: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor | tuple[torch.Tensor, ...]:
        maps = torch.from_numpy(explain(to_input(inputs[0] if isinstance(inputs, tuple) else inputs)))
        return (maps,) if isinstance(inputs, tuple) else maps  # a bare tensor would inflate the score by sqrt(N)

    value = sensitivity_max(explanation, pixels[None], perturb_func=perturb, n_perturb_samples=samples,
                            max_examples_per_batch=batch_size)
    return float(value[0])


def literal_sensitivity(explain, pixels: torch.Tensor, radius: float, samples: int, seed: int) -> tuple[float, float]:
    """One sample at a time, norms by explicit sums of squares."""
    generator = torch.Generator().manual_seed(seed)
    reference = explain(to_input(pixels[None]))[0]
    norm = math.sqrt(sum(float(v) ** 2 for v in reference.ravel()))
    largest = 0.0
    for _ in range(samples):
        y = pixels + torch.empty(pixels.shape).uniform_(-radius, radius, generator=generator)
        perturbed = explain(to_input(y[None]))[0]
        largest = max(largest, math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(reference.ravel(), perturbed.ravel()))))
    return largest, largest / norm


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_grad_cam_matches_captum(batch_size: int) -> None:
    model, pixels = small_net(), image(1, 32)
    explain = cam_explainer(model, locate_layer(model, to_input(pixels[None])), "gradcam", 0)
    assert np.any(explain(to_input(pixels[None])))
    ours = max_sensitivity(explain, pixels, to_input, 0.05, 9, seed=4, batch_size=batch_size)
    assert ours.absolute > 0
    assert ours.relative == pytest.approx(captum_relative(explain, pixels, 0.05, 9, 4, batch_size), rel=1e-5)


def test_resnet18_grad_cam_matches_captum() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    pixels = image(3, 64)
    explain = cam_explainer(model, locate_layer(model, to_input(pixels[None])), "gradcam", 1)
    ours = max_sensitivity(explain, pixels, to_input, 0.02, 4, seed=0, batch_size=2)
    assert ours.relative > 0
    assert ours.relative == pytest.approx(captum_relative(explain, pixels, 0.02, 4, 0, 2), rel=1e-5)


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_batched_equals_literal_loop(batch_size: int) -> None:
    pixels = image(2, 16)
    absolute, relative = literal_sensitivity(pooled_tanh, pixels, 0.1, 10, seed=7)
    ours = max_sensitivity(pooled_tanh, pixels, to_input, 0.1, 10, seed=7, batch_size=batch_size)
    assert ours == Sensitivity(0.1, 10, pytest.approx(absolute, rel=1e-12), pytest.approx(relative, rel=1e-12))
    assert absolute > 0


def test_samples_stay_in_the_pixel_scale_ball_and_are_reproducible() -> None:
    pixels, seen = image(1, 8), []

    def record(inputs: torch.Tensor) -> np.ndarray:
        seen.append(inputs * STD + MEAN)
        return pooled_tanh(inputs)

    first = max_sensitivity(record, pixels, to_input, 0.03, 5, seed=2, batch_size=2)
    offsets = torch.cat(seen[1:]) - pixels
    assert [len(batch) for batch in seen] == [1, 2, 2, 1]
    assert offsets.abs().max() <= 0.03 + 1e-6 and offsets.abs().max() > 0.02
    assert len({float(o.sum()) for o in offsets}) == 5
    assert max_sensitivity(pooled_tanh, pixels, to_input, 0.03, 5, seed=2, batch_size=4) == first
    assert max_sensitivity(pooled_tanh, pixels, to_input, 0.03, 5, seed=3).absolute != first.absolute


def test_radius_zero_gives_zero() -> None:
    model, pixels = small_net(), image(1, 32)
    explain = cam_explainer(model, locate_layer(model, to_input(pixels[None])), "hirescam", 2)
    assert max_sensitivity(explain, pixels, to_input, 0.0, 4, seed=0, batch_size=1) == Sensitivity(0.0, 4, 0.0, 0.0)


def test_input_independent_map_gives_zero() -> None:
    fixed = np.arange(12.0).reshape(3, 4)

    def constant(inputs: torch.Tensor) -> np.ndarray:
        return np.broadcast_to(fixed, (len(inputs), 3, 4))

    assert max_sensitivity(constant, image(1, 8), to_input, 0.5, 6, seed=0) == Sensitivity(0.5, 6, 0.0, 0.0)


def test_zero_reference_map_gives_inf_or_zero_never_nan() -> None:
    pixels = image(1, 8)
    centre = to_input(pixels[None])

    def distance_to_x(inputs: torch.Tensor) -> np.ndarray:
        return (inputs - centre).abs().sum(dim=1).double().numpy()

    result = max_sensitivity(distance_to_x, pixels, to_input, 0.1, 3, seed=0)
    assert result.absolute > 0 and result.relative == math.inf
    assert max_sensitivity(distance_to_x, pixels, to_input, 0.0, 3, seed=0).relative == 0.0


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="radius"):
        max_sensitivity(pooled_tanh, image(1, 8), to_input, -0.1, 3, seed=0)
    with pytest.raises(ValueError, match="samples"):
        max_sensitivity(pooled_tanh, image(1, 8), to_input, 0.1, 0, seed=0)


def test_cam_and_lrp_explainers_run() -> None:
    model, pixels = small_net(), image(1, 32)
    hires = cam_explainer(model, locate_layer(model, to_input(pixels[None])), "hirescam", 1)
    lrp = lrp_explainer(model, "lrp-epf", 1, input_bounds((0.0, 1.0), (MEAN,), (STD,)))
    assert hires(to_input(pixels[None])).shape == (1, 16, 16)
    assert lrp(to_input(pixels[None])).shape == (1, 32, 32)
    for explain in (hires, lrp):
        result = max_sensitivity(explain, pixels, to_input, 0.05, 3, seed=1, batch_size=2)
        assert math.isfinite(result.absolute) and result.absolute > 0 and math.isfinite(result.relative)
