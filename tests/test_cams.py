"""CAM formulas against literal re-implementations, pytorch-grad-cam, and exact identities."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from camviewer.explain.cams import CAM_METHODS
from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import locate_layer


def literal(method: str, A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """One image: A, G are (K, h, w). Loops written from the papers' formulas."""
    K, h, w = A.shape
    out = np.zeros((h, w))
    if method in ("gradcam", "gradcampp", "xgradcam"):
        weights = np.zeros(K)
        for k in range(K):
            if method == "gradcam":
                weights[k] = sum(G[k, i, j] for i in range(h) for j in range(w)) / (h * w)
            elif method == "xgradcam":
                total = sum(A[k, i, j] for i in range(h) for j in range(w))
                weights[k] = sum(A[k, i, j] / (total + 1e-7) * G[k, i, j] for i in range(h) for j in range(w))
            else:
                total = sum(A[k, a, b] for a in range(h) for b in range(w))
                for i in range(h):
                    for j in range(w):
                        g = G[k, i, j]
                        denominator = 2 * g**2 + total * g**3
                        alpha = 0.0 if denominator == 0 else g**2 / denominator
                        weights[k] += alpha * max(g, 0.0)
        for i in range(h):
            for j in range(w):
                out[i, j] = max(0.0, sum(weights[k] * A[k, i, j] for k in range(K)))
        return out
    for i in range(h):
        for j in range(w):
            if method == "hirescam-signed":
                out[i, j] = sum(G[k, i, j] * A[k, i, j] for k in range(K))
            elif method == "hirescam":
                out[i, j] = max(0.0, sum(G[k, i, j] * A[k, i, j] for k in range(K)))
            elif method == "layercam":
                out[i, j] = max(0.0, sum(max(G[k, i, j], 0.0) * A[k, i, j] for k in range(K)))
            else:  # gradcam-elementwise
                out[i, j] = max(0.0, sum(max(G[k, i, j] * A[k, i, j], 0.0) for k in range(K)))
    return out


@pytest.mark.parametrize("method", sorted(CAM_METHODS))
def test_each_cam_matches_its_formula(method: str) -> None:
    rng = np.random.default_rng(3)
    A = np.maximum(rng.normal(size=(2, 6, 4, 5)), 0)
    G = rng.normal(size=(2, 6, 4, 5)) * 0.1
    G[0, 1, 2, 3] = 0.0
    ours = CAM_METHODS[method].compute(torch.tensor(A), torch.tensor(G)).numpy()
    for b in range(2):
        np.testing.assert_allclose(ours[b], literal(method, A[b], G[b]), rtol=1e-6, atol=1e-10)


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics, so post- and pre-ReLU maps differ (as in trained models)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2, generator=generator)
            module.running_var.uniform_(0.5, 1.5, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.normal_(0, 0.2, generator=generator)
    return model.eval()


def _pytorch_grad_cam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: int, cls: type) -> np.ndarray:
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with cls(model=model, target_layers=[layer]) as cam:
        return cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]


def _as_grad_cam_output(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from pytorch_grad_cam.utils.image import scale_cam_image

    per_layer = scale_cam_image(np.maximum(raw, 0)[None], (size[1], size[0]))
    return scale_cam_image(np.maximum(per_layer, 0))[0]  # grad-cam rescales again after merging layers


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("method", ["gradcam", "hirescam"])
def test_matches_pytorch_grad_cam_on_resnet(channels: int, method: str) -> None:
    from pytorch_grad_cam import GradCAM, HiResCAM

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=4)
    model.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    model = _randomise_batchnorm(model)
    x = torch.randn(1, channels, 128, 128)
    layer = locate_layer(model, x)
    assert layer.name == "layer4"
    _, results = compute_cams(model, x, [[2]], [method], layer)
    ours = _as_grad_cam_output(results[0][0].maps[method], (128, 128))
    theirs = _pytorch_grad_cam(model, model.layer4, x, 2, GradCAM if method == "gradcam" else HiResCAM)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


class FlattenHead(nn.Module):
    """Conv -> ReLU -> Flatten -> Linear: HiResCAM's completeness holds exactly."""

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 6, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(6 * 8 * 8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GapHead(FlattenHead):
    """Conv -> ReLU -> GAP -> Linear: Grad-CAM and HiResCAM coincide."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))


class MaxPoolFlattenHead(FlattenHead):
    """Conv -> ReLU -> MaxPool -> Flatten -> Linear: completeness still holds exactly (demo-vgg's
    head is adaptive; 8 -> 3 windows overlap, so a maximum may feed two outputs)."""

    def __init__(self, pool: nn.Module) -> None:
        super().__init__()
        cells = pool(torch.zeros(1, 6, 8, 8)).numel()
        self.head = nn.Sequential(pool, nn.Flatten(), nn.Linear(cells, 3))


@pytest.mark.parametrize("head", [FlattenHead, lambda: MaxPoolFlattenHead(nn.MaxPool2d(2)),
                                  lambda: MaxPoolFlattenHead(nn.AdaptiveMaxPool2d(3))], ids=["flatten", "maxpool", "adaptive-maxpool"])
def test_hirescam_completeness_on_a_flatten_head(head: Callable[[], FlattenHead]) -> None:
    torch.manual_seed(1)
    model = head().eval()
    x = torch.randn(2, 1, 16, 16)
    layer = locate_layer(model, x[:1])
    logits, results = compute_cams(model, x, [[0, 2], [1]], ["hirescam-signed", "hirescam", "gradcam"], layer)
    for b, per_image in enumerate(results):
        for result in per_image:
            signed = result.maps["hirescam-signed"]
            expected = logits[b, result.target_index] - float(model.head[-1].bias[result.target_index].detach())
            assert signed.sum() == pytest.approx(expected, rel=1e-4, abs=1e-6)
            assert (signed < 0).any() and np.array_equal(result.maps["hirescam"], np.maximum(signed, 0))
            for method in ("hirescam", "hirescam-signed"):  # computed from the signed sum for both
                check = result.checks[method]["hirescam_completeness"]
                assert check["applicable"] and check["relative_residual"] < 1e-4
                assert check["map_sum"] == pytest.approx(float(signed.sum()), rel=1e-5, abs=1e-6)
            assert not result.checks["gradcam"]["gradcam_equals_hirescam"]["gradients_spatially_constant"]


class RecurrentHead(FlattenHead):
    """Conv -> ReLU -> Flatten -> GRU (returns a tuple) -> Linear: completeness does not apply."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(6 * 8 * 8, 4, batch_first=True)
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.gru(torch.flatten(self.features(x), 1)[:, None])
        return self.linear(sequence[:, 0])


def test_completeness_is_not_claimed_through_a_module_returning_a_tuple() -> None:
    torch.manual_seed(3)
    model = RecurrentHead().eval()
    x = torch.randn(1, 1, 16, 16)
    _, results = compute_cams(model, x, [[0]], ["hirescam"], locate_layer(model, x, "features"))
    assert not results[0][0].checks["hirescam"]["hirescam_completeness"]["applicable"]


def test_gradcam_equals_hirescam_on_a_gap_head() -> None:
    torch.manual_seed(2)
    model = GapHead().eval()
    x = torch.randn(1, 1, 16, 16)
    _, results = compute_cams(model, x, [[1]], ["gradcam", "hirescam"], locate_layer(model, x))
    result = results[0][0]
    equivalence = result.checks["gradcam"]["gradcam_equals_hirescam"]
    assert equivalence["gradients_spatially_constant"] and equivalence["equivalent"]
    np.testing.assert_allclose(result.maps["gradcam"], result.maps["hirescam"], atol=1e-6)
    assert result.checks["hirescam"]["hirescam_completeness"]["relative_residual"] < 1e-4


def _post_relu_reference(model: torchvision.models.DenseNet, x: torch.Tensor, target: int, copy_at_hook: bool) -> np.ndarray:
    """Grad-CAM on relu(features) with an explicit, non-in-place head (the paper's choice)."""
    features = model.features(x)
    rectified = F.relu(features).detach()
    if copy_at_hook:
        rectified = rectified.clone()  # what pytorch-grad-cam's .cpu() does on a GPU
    rectified.requires_grad_(True)
    logits = model.classifier(torch.flatten(F.adaptive_avg_pool2d(rectified, 1), 1))
    (grads,) = torch.autograd.grad(logits[0, target], rectified)
    return CAM_METHODS["gradcam"].compute(rectified.detach(), grads)[0].numpy()


def test_densenet_map_is_the_post_relu_one() -> None:
    torch.manual_seed(4)
    model = _randomise_batchnorm(torchvision.models.densenet121(weights=None, num_classes=3))
    x = torch.randn(1, 3, 96, 96)
    layer = locate_layer(model, x)
    assert layer.name == "features" and layer.rectify
    _, results = compute_cams(model, x, [[1]], ["gradcam", "hirescam"], layer)
    ours = results[0][0].maps["gradcam"]
    for copy_at_hook in (False, True):
        np.testing.assert_allclose(ours, _post_relu_reference(model, x, 1, copy_at_hook), rtol=1e-5, atol=1e-7)
    pre_relu = model.features(x).detach()
    assert not np.allclose(ours, CAM_METHODS["gradcam"].compute(pre_relu, torch.ones_like(pre_relu))[0].numpy())
    assert results[0][0].checks["gradcam"]["gradcam_equals_hirescam"]["equivalent"]


def test_model_is_unchanged_after_explaining() -> None:
    torch.manual_seed(5)
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    x = torch.randn(1, 3, 64, 64)
    before = model(x).detach()
    flags = [p.requires_grad for p in model.parameters()]
    compute_cams(model, x, [[0]], ["gradcam"], locate_layer(model, x))
    assert [p.requires_grad for p in model.parameters()] == flags
    assert not model._forward_hooks and not model.layer4._forward_hooks
    assert torch.equal(model(x).detach(), before)


def test_targets_can_be_chosen_from_the_same_pass() -> None:
    torch.manual_seed(6)
    model = GapHead().eval()
    x = torch.randn(3, 1, 16, 16)
    logits, results = compute_cams(model, x, lambda z: [(int(row.argmax()),) for row in z], ["gradcam"], locate_layer(model, x[:1]))
    assert [r[0].target_index for r in results] == [int(row.argmax()) for row in logits]


def test_batched_results_equal_single_image_results() -> None:
    torch.manual_seed(7)
    model = FlattenHead().eval()
    x = torch.randn(3, 1, 16, 16)
    layer = locate_layer(model, x[:1])
    _, batched = compute_cams(model, x, [[0], [1], [2]], ["layercam"], layer)
    for b in range(3):
        _, single = compute_cams(model, x[b : b + 1], [[b]], ["layercam"], layer)
        np.testing.assert_allclose(batched[b][0].maps["layercam"], single[0][0].maps["layercam"], rtol=1e-5, atol=1e-7)


def test_cams_work_when_called_under_no_grad() -> None:
    torch.manual_seed(8)
    model = GapHead().eval()
    x = torch.randn(1, 1, 16, 16)
    layer = locate_layer(model, x)
    expected = compute_cams(model, x, [[0]], ["gradcam"], layer)[1][0][0].maps["gradcam"]
    with torch.no_grad():
        np.testing.assert_array_equal(compute_cams(model, x, [[0]], ["gradcam"], layer)[1][0][0].maps["gradcam"], expected)
