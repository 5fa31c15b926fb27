"""Incremental perturbation curves: the split model and patched activations against whole forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from camviewer.metrics.aopc import CurveImage, CurveRequest, perturbation_curves
from camviewer.metrics.incremental import Geometry, Window, find_split, paste
from camviewer.metrics.perturbation import Perturbation, fully_perturbed
from camviewer.metrics.regions import rank_regions, region_map
from camviewer.model.architectures import ARCHITECTURES
from camviewer.model.card import InputSpec

SPEC = InputSpec(size=(64, 64), channels=1, mean=(0.5,), std=(0.25,))


def randomise_batch_norm(model: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
    return model.eval()


def local_model() -> nn.Module:
    """Full-resolution convolutions (worth splitting off), then a flatten head."""
    torch.manual_seed(0)
    return randomise_batch_norm(nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(8 * 8 * 8, 3)))


class PositionalBias(nn.Module):
    """Adds a different value at every position: not translation-equivariant, so patches cannot be reused."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.bias = nn.Parameter(torch.randn(1, 8, 64, 64))
        self.rest = local_model()[3:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rest(torch.relu(self.conv(x) + self.bias))


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = local_model()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) if float(x.sum()) > -1e9 else -self.body(x)


def images_and_requests(grid: int, size: int, channels: int = 1) -> tuple[list[CurveImage], list[CurveRequest], np.ndarray]:
    rng = np.random.default_rng(3)
    regions = region_map((size, size), grid)
    images, requests = [], []
    for b, perturbation in enumerate((Perturbation("gaussian", 0.1), Perturbation("uniform"))):
        x = rng.uniform(0, 1, (channels, size, size)).astype(np.float32)
        images.append(CurveImage(x, fully_perturbed(x, perturbation, seed=b)))
        heat = rng.normal(size=(7, 7))
        requests += [CurveRequest(b, "m", t, order, rank_regions(heat, regions, grid, order, seed=b))
                     for t in (0, 1) for order in ("morf", "lerf", "random")]
    return images, requests, regions


def example(images: list[CurveImage], spec: InputSpec) -> torch.Tensor:
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    return (torch.from_numpy(images[0].pixels)[None] - mean) / std


def test_split_reproduces_the_model_and_patches_reproduce_the_prefix() -> None:
    model = local_model()
    images, _, regions = images_and_requests(8, 64)
    x = example(images, SPEC)
    split = find_split(model, x, regions)
    assert split is not None
    with torch.no_grad():
        torch.testing.assert_close(split.suffix(split.prefix(x)), model(x))
        base = split.prefix(x)
        for index, patch in enumerate(split.geometry.patches(regions)):
            changed = torch.where(torch.from_numpy(regions == index), torch.randn(x.shape), x)
            crop = patch.crop.scaled(split.geometry.stride).take(changed)
            torch.testing.assert_close(paste(base, split.prefix(crop), patch), split.prefix(changed), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("geometry", [Geometry(2, Window(-5, 6), Window(-3, 4), (32, 32)),
                                      Geometry(4, Window(-9, 12), Window(-9, 12), (15, 15)),
                                      Geometry(1, Window(-2, 2), Window(0, 3), (20, 20))])
def test_patches_hold_every_affected_pixel_and_its_window(geometry: Geometry) -> None:
    """Literal check of the definitions: pixel o reads input [o*s + low, o*s + high] on each axis."""
    height, width = geometry.activation_shape
    s = geometry.stride
    regions = region_map((height * s, width * s), 7)
    patches = geometry.patches(regions)
    assert len({(p.crop.bottom - p.crop.top, p.crop.right - p.crop.left) for p in patches}) == 1
    for index, patch in enumerate(patches):
        rows, cols = np.nonzero(regions == index)
        affected_rows = [o for o in range(height) if o * s + geometry.rows.low <= rows.max() and o * s + geometry.rows.high >= rows.min()]
        affected_cols = [o for o in range(width) if o * s + geometry.cols.low <= cols.max() and o * s + geometry.cols.high >= cols.min()]
        f, c = patch.footprint, patch.crop
        assert f.top <= affected_rows[0] and f.bottom > affected_rows[-1]
        assert f.left <= affected_cols[0] and f.right > affected_cols[-1]
        assert c.top == 0 or c.top * s <= f.top * s + geometry.rows.low
        assert c.left == 0 or c.left * s <= f.left * s + geometry.cols.low
        assert c.bottom == height or c.bottom * s > (f.bottom - 1) * s + geometry.rows.high
        assert c.right == width or c.right * s > (f.right - 1) * s + geometry.cols.high
        assert 0 <= c.top and c.bottom <= height and 0 <= c.left and c.right <= width


@pytest.mark.parametrize("batch_size", [3, 64])
def test_incremental_curves_equal_whole_forward_passes(batch_size: int) -> None:
    model = local_model()
    images, requests, regions = images_and_requests(8, 64)
    requests = requests[::2]
    assert find_split(model, example(images, SPEC), regions) is not None
    fast = perturbation_curves(model, SPEC, images, requests, regions, 64, batch_size=batch_size)
    whole = perturbation_curves(model, SPEC, images, requests, regions, 64, batch_size=batch_size, incremental=False)
    for a, b in zip(fast, whole):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["demo-resnet", "demo-vgg"])
def test_incremental_curves_on_the_demo_architectures(name: str) -> None:
    torch.manual_seed(0)
    model = randomise_batch_norm(ARCHITECTURES[name].build(3, 1, (128, 128)))
    spec = InputSpec(size=(128, 128), channels=1, mean=(0.5,), std=(0.25,))
    images, requests, regions = images_and_requests(9, 128)
    assert find_split(model, example(images, spec), regions) is not None
    fast = perturbation_curves(model, spec, images, requests[:3], regions, 81)
    whole = perturbation_curves(model, spec, images, requests[:3], regions, 81, incremental=False)
    for a, b in zip(fast, whole):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-6)


def test_distinct_inputs_still_run_once() -> None:
    model = local_model()
    calls = []
    model[-1].register_forward_hook(lambda _m, inputs, _o: calls.append(inputs[0].shape[0]))
    images, _, regions = images_and_requests(8, 64)
    ranking = np.arange(64)
    same = [CurveRequest(0, m, t, "morf", ranking) for m in ("a", "b") for t in (0, 1)]
    find_split(model, example(images, SPEC), regions)
    checks = sum(calls)
    perturbation_curves(model, SPEC, images, same, regions, 64, batch_size=16)
    assert sum(calls) - 2 * checks == 65  # k = 0..64, shared by both methods and both targets


@pytest.mark.parametrize("model", [PositionalBias, Untraceable])
def test_models_that_cannot_be_split_run_whole(model: type[nn.Module]) -> None:
    torch.manual_seed(0)
    module = model().eval()
    images, requests, regions = images_and_requests(8, 64)
    assert find_split(module, example(images, SPEC), regions) is None
    curves = perturbation_curves(module, SPEC, images, requests[:2], regions, 10)
    with torch.no_grad():
        first = torch.softmax(module(example(images, SPEC)), 1)[0, requests[0].target]
    assert curves[0].values[0] == pytest.approx(float(first), rel=1e-5)
