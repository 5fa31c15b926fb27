"""Region grids, rankings, perturbations and AOPC curves against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from camviewer import errors
from camviewer.metrics.aopc import CurveImage, CurveRequest, aopc, aopc_by_length, perturbation_curves
from camviewer.metrics.perturbation import Perturbation, fully_perturbed, parse_perturbation
from camviewer.metrics.regions import edges, rank_regions, region_map, region_means
from camviewer.model.card import InputSpec
from camviewer.model.predict import probabilities
from camviewer.model.preprocess import normalise
from camviewer.progress import CancelToken

SPEC = InputSpec(size=(10, 10), channels=1, mean=(0.5,), std=(0.25,))


def test_regions_follow_the_floor_definition_when_r_does_not_divide_h() -> None:
    assert edges(10, 3).tolist() == [0, 3, 6, 10]
    regions = region_map((10, 7), 3)
    for row in range(10):
        for col in range(7):
            i = next(k for k in range(3) if (k * 10) // 3 <= row < ((k + 1) * 10) // 3)
            j = next(k for k in range(3) if (k * 7) // 3 <= col < ((k + 1) * 7) // 3)
            assert regions[row, col] == i * 3 + j
    with pytest.raises(errors.UsageError):
        region_map((10, 7), 8)


def test_ranking_uses_region_means_with_ties_by_index() -> None:
    regions = region_map((4, 4), 2)
    heat = np.array([[1, 1, 5, 5], [1, 1, 5, 5], [5, 5, 0, 0], [5, 5, 0, 0]], dtype=float)
    np.testing.assert_allclose(region_means(heat, regions, 2), [1, 5, 5, 0])
    assert rank_regions(heat, regions, 2, "morf").tolist() == [1, 2, 0, 3]
    assert rank_regions(heat, regions, 2, "lerf").tolist() == [3, 0, 1, 2]
    random = rank_regions(heat, regions, 2, "random", seed=3)
    assert sorted(random.tolist()) == [0, 1, 2, 3] and random.tolist() == rank_regions(heat, regions, 2, "random", seed=3).tolist()


def test_ranking_resizes_a_low_resolution_map_bilinearly() -> None:
    regions = region_map((8, 8), 2)
    heat = np.array([[0.0, 1.0], [0.0, 0.0]])
    assert rank_regions(heat, regions, 2, "morf")[0] == 1


def test_aopc_and_aopc_by_length_match_the_formula() -> None:
    values = np.array([0.9, 0.7, 0.4, 0.5, 0.1])
    L = len(values) - 1
    assert aopc(values) == pytest.approx(sum(values[0] - values[k] for k in range(1, L + 1)) / (L + 1))
    expected = [sum(values[0] - values[k] for k in range(1, ell + 1)) / (ell + 1) for ell in range(1, L + 1)]
    np.testing.assert_allclose(aopc_by_length(values), expected)


@pytest.mark.parametrize("spec", ["constant:0", "gaussian:0.1", "uniform", "blur:1.5", "mean"])
def test_perturbations(spec: str) -> None:
    pixels = np.random.default_rng(0).uniform(0.2, 0.8, (3, 12, 12)).astype(np.float32)
    perturbation = parse_perturbation(spec)
    full = fully_perturbed(pixels, perturbation, seed=5)
    assert full.shape == pixels.shape and full.dtype == np.float32
    np.testing.assert_array_equal(full, fully_perturbed(pixels, perturbation, seed=5))
    if spec == "constant:0":
        assert not full.any()
    elif spec == "gaussian:0.1":
        assert 0.08 < float((full - pixels).std()) < 0.12
    elif spec == "uniform":
        assert full.min() >= pixels.min() and full.max() <= pixels.max()
    elif spec == "mean":
        np.testing.assert_allclose(full[:, 0, 0], pixels.mean(axis=(1, 2)), rtol=1e-6)


@pytest.mark.parametrize("bad", ["gaussian", "gaussian:-1", "constant", "mean:2", "noise:1", "blur:x", "constant:nan",
                                 "gaussian:inf", "constant:1e308", "blur:1e9", "blur:0", "uniform:"])
def test_bad_perturbations_are_refused_when_made(bad: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        parse_perturbation(bad)
    assert caught.value.option == "perturbation" and "--" not in caught.value.message


def test_a_blur_wider_than_the_model_input_is_refused() -> None:
    Perturbation("blur", 64.0).check_for((64, 48))
    with pytest.raises(errors.UsageError, match="at most 64"):
        Perturbation("blur", 65.0).check_for((64, 48))


def linear_model(weights: np.ndarray) -> nn.Module:
    """Flatten -> Linear without bias: f(x) = sum w * normalised(x)."""
    layer = nn.Linear(weights.size, 1, bias=False)
    layer.weight.data = torch.tensor(weights.reshape(1, -1), dtype=torch.float32)
    return nn.Sequential(nn.Flatten(), layer).eval()


def test_constant_zero_curve_matches_a_hand_computation() -> None:
    """4x4 input, 2x2 grid, one class, logit score: each step removes a region's weighted sum."""
    spec = InputSpec(size=(4, 4), channels=1, mean=(0.0,), std=(1.0,))
    weights = np.arange(16, dtype=np.float32).reshape(4, 4) / 10
    x = np.ones((1, 4, 4), np.float32)
    model = linear_model(weights)
    regions = region_map((4, 4), 2)
    ranking = np.array([3, 0, 2, 1])
    image = CurveImage(x, fully_perturbed(x, Perturbation("constant", 0.0), 0))
    curve = perturbation_curves(model, spec, [image], [CurveRequest(0, "m", 0, "morf", ranking)], regions, 4,
                                score="logit", batch_size=3)[0]
    region_sums = [weights[regions == r].sum() for r in range(4)]
    expected = [weights.sum()]
    for r in ranking:
        expected.append(expected[-1] - region_sums[r])
    np.testing.assert_allclose(curve.values, expected, rtol=1e-5, atol=1e-6)
    assert curve.aopc == pytest.approx(aopc(np.array(expected)), rel=1e-5)


def naive_curve(model: nn.Module, spec: InputSpec, image: CurveImage, regions: np.ndarray, ranking: np.ndarray,
                target: int, steps: int) -> np.ndarray:
    """One input at a time, no batching, no de-duplication."""
    values = []
    for k in range(steps + 1):
        mask = np.isin(regions, ranking[:k])
        x = np.where(mask[None], image.perturbed, image.pixels)
        with torch.no_grad():
            logits = model(normalise(torch.from_numpy(x)[None], spec)).numpy()
        values.append(probabilities(logits, False)[0, target])
    return np.array(values)


def conv_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).eval()


def test_batched_curves_equal_the_naive_loop_with_the_same_noise() -> None:
    model = conv_model()
    rng = np.random.default_rng(1)
    images = []
    for k in range(2):
        x = rng.uniform(0, 1, (1, 10, 10)).astype(np.float32)
        images.append(CurveImage(x, fully_perturbed(x, Perturbation("gaussian", 0.1), seed=k)))
    regions = region_map((10, 10), 3)
    heats = [rng.normal(size=(5, 5)) for _ in range(2)]
    requests = [CurveRequest(b, f"m{m}", m, order, rank_regions(heats[m], regions, 3, order, seed=0))
                for b in range(2) for m in range(2) for order in ("morf", "lerf", "random")]
    for batch_size in (1, 5, 64):
        curves = perturbation_curves(model, SPEC, images, requests, regions, 9, batch_size=batch_size)
        for request, curve in zip(requests, curves):
            expected = naive_curve(model, SPEC, images[request.image], regions, request.ranking, request.target, 9)
            np.testing.assert_allclose(curve.values, expected, rtol=1e-5, atol=1e-7)


def test_identical_inputs_run_once_and_cancel_stops() -> None:
    model = conv_model()
    calls = []
    model.register_forward_hook(lambda _m, inputs, _o: calls.append(inputs[0].shape[0]))
    x = np.zeros((1, 10, 10), np.float32)
    image = CurveImage(x, np.ones_like(x))
    regions = region_map((10, 10), 3)
    ranking = np.arange(9)
    same = [CurveRequest(0, m, t, "morf", ranking) for m in ("a", "b") for t in (0, 1)]
    perturbation_curves(model, SPEC, [image], same, regions, 9, batch_size=4, incremental=False)
    assert sum(calls) == 10  # k = 0..9, shared by both methods and both targets
    token = CancelToken()
    token.cancel()
    with pytest.raises(errors.Cancelled):
        perturbation_curves(model, SPEC, [image], same, regions, 9, cancel=token)


def test_morf_drops_faster_than_lerf_on_a_known_model() -> None:
    """Only the top-left quarter carries weight; a map that says so makes MoRF fall first."""
    spec = InputSpec(size=(8, 8), channels=1, mean=(0.0,), std=(1.0,))
    weights = np.zeros((8, 8), np.float32)
    weights[:4, :4] = 1.0
    model = linear_model(weights)
    x = np.ones((1, 8, 8), np.float32)
    image = CurveImage(x, fully_perturbed(x, Perturbation("constant", 0.0), 0))
    regions = region_map((8, 8), 4)
    requests = [CurveRequest(0, "m", 0, order, rank_regions(weights, regions, 4, order)) for order in ("morf", "lerf")]
    morf, lerf = perturbation_curves(model, spec, [image], requests, regions, 16, score="logit")
    assert morf.aopc > lerf.aopc
    assert np.all(morf.values <= lerf.values + 1e-6)


def test_model_memory_format_is_restored() -> None:
    model = conv_model()
    x = np.zeros((1, 10, 10), np.float32)
    perturbation_curves(model, SPEC, [CurveImage(x, x)], [CurveRequest(0, "m", 0, "morf", np.arange(9))], region_map((10, 10), 3), 9)
    assert all(p.is_contiguous() for p in model.parameters())


def test_an_early_collapse_of_the_curve_is_found() -> None:
    from camviewer.metrics.aopc import early_collapse

    assert early_collapse(np.array([0.9] + [0.8] * 20)) is None
    assert early_collapse(np.array([0.9, 0.8, 0.4] + [0.1] * 18)) == 2  # within the first 10 % (2 of 20 steps)
    assert early_collapse(np.array([0.9, 0.8, 0.8, 0.4] + [0.1] * 17)) is None  # too late to count
    assert early_collapse(np.array([0.9] + [0.1] * 9)) is None  # L = 9: no step within the first 10 %
    assert early_collapse(np.array([0.9] + [0.1] * 10)) == 1
