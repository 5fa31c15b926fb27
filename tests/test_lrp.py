"""LRP: canonization invariance and undo, conservation, literal rules, a known answer, refusals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torchvision
from test_cams import _randomise_batchnorm
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import EpsilonPlusFlat

from camviewer import errors
from camviewer.explain.canonizers import ExactNamedMerge, _densenet_merge_pairs
from camviewer.explain.lrp import LRP_METHODS, compute_lrp, input_bounds
from camviewer.model.architectures import ARCHITECTURES

METHODS = sorted(LRP_METHODS)
BOUNDS = input_bounds((0.0, 1.0), (0.5,), (0.25,))
BOUNDS3 = input_bounds((0.0, 1.0), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


def torchvision_model(name: str, channels: int) -> nn.Module:
    model = getattr(torchvision.models, name)(weights=None, num_classes=3)
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    if channels != 3:
        first.in_channels, first.weight.data = channels, first.weight.data[:, :channels].clone()
    return _randomise_batchnorm(model)


def without_biases(model: nn.Module) -> nn.Module:
    """Zero every bias and BatchNorm shift, keeping non-trivial BatchNorm scales: LRP then conserves."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.zero_()
            module.bias.data.zero_()
        elif isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
            module.bias.data.zero_()
    return model


FAMILIES = [("vgg16_bn", 3), ("resnet34", 1), ("resnet50", 3), ("densenet121", 1), ("densenet201", 3)]


@pytest.mark.parametrize(("name", "channels"), FAMILIES)
def test_canonization_keeps_outputs_and_is_undone(name: str, channels: int) -> None:
    torch.manual_seed(0)
    model = torchvision_model(name, channels)
    x = torch.randn(2, channels, 64, 64)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    eps = [m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    before = model(x).detach()
    for method in METHODS:
        result = compute_lrp(model, x, [[0], [2]], method, BOUNDS3 if channels == 3 else BOUNDS)
        assert result[0][0].checks["canonization"]["relative_output_change"] <= 1e-5
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert eps == [m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all("forward" not in vars(m) and not hasattr(m, "canonizer_sum") for m in model.modules())
    assert torch.equal(model(x).detach(), before)


@pytest.mark.parametrize(("name", "channels"), FAMILIES)
def test_relevance_is_conserved_without_biases(name: str, channels: int) -> None:
    """With biases zeroed nothing can absorb relevance: Σ R equals the target logit."""
    torch.manual_seed(1)
    model = without_biases(torchvision_model(name, channels))
    x = torch.randn(1, channels, 64, 64)
    for method in METHODS:
        check = compute_lrp(model, x, [[1]], method, BOUNDS3 if channels == 3 else BOUNDS)[0][0].checks["lrp_conservation"]
        assert check["relative_difference"] < 1e-4, (method, check)


def test_densenet_needs_its_pooling_canonizer() -> None:
    """Control: merging BatchNorms alone leaves the functional pooling to the plain gradient."""
    torch.manual_seed(2)
    model = without_biases(torchvision_model("densenet121", 3))
    x = torch.randn(1, 3, 64, 64)
    logit = float(model(x)[0, 0].detach())
    composite = EpsilonPlusFlat(canonizers=[ExactNamedMerge(_densenet_merge_pairs(model))])
    with Gradient(model=model, composite=composite) as attributor:
        _, relevance = attributor(x, lambda out: torch.eye(3)[[0]] * out.detach())
    assert abs(float(relevance.sum()) - logit) / abs(logit) > 0.01


@pytest.mark.parametrize("architecture", ["densenet201-transfer", "resnet34-flatten", "vgg19-flatten"])
def test_registered_study_models_are_explainable(architecture: str) -> None:
    torch.manual_seed(3)
    size = (288, 288) if architecture.endswith("transfer") else (64, 64)
    model = without_biases(_randomise_batchnorm(ARCHITECTURES[architecture].build(4, 1, size)))
    x = torch.randn(1, 1, *size)
    check = compute_lrp(model, x, [[2]], "lrp-epf", BOUNDS)[0][0].checks["lrp_conservation"]
    assert check["relative_difference"] < 1e-4


# --- literal rules on a small network ----------------------------------------------------------

STABILIZER = 1e-6


def stab(d: float) -> float:
    return d + STABILIZER * (1.0 if d >= 0 else -1.0)


def connections(layer: nn.Module, in_shape: tuple[int, ...]) -> tuple[list[tuple[tuple, tuple, float]], dict[tuple, float], tuple]:
    """Every (output index, input index, weight) of a conv (stride 1, no padding) or linear layer."""
    w = layer.weight.detach().double().numpy()
    b = layer.bias.detach().double().numpy()
    if isinstance(layer, nn.Linear):
        out_shape = (w.shape[0],)
        conns = [((j,), (i,), w[j, i]) for j in range(w.shape[0]) for i in range(w.shape[1])]
        return conns, {(j,): b[j] for j in range(w.shape[0])}, out_shape
    c_out, c_in, k, _ = w.shape
    h, wd = in_shape[1] - k + 1, in_shape[2] - k + 1
    conns = [((o, y, x), (c, y + dy, x + dx), w[o, c, dy, dx])
             for o, y, x, c, dy, dx in itertools.product(range(c_out), range(h), range(wd), range(c_in), range(k), range(k))]
    return conns, {(o, y, x): b[o] for o, y, x in itertools.product(range(c_out), range(h), range(wd))}, (c_out, h, wd)


def literal_forward(conns: list, bias: dict, x: dict) -> dict:
    out = dict(bias)
    for j, i, w in conns:
        out[j] += x[i] * w
    return out


def literal_rule(rule: str, conns: list, bias: dict, x: dict, relevance: dict, low: float = 0.0, high: float = 0.0) -> dict:
    """One layer's relevance by the rule's formula, one connection at a time."""
    pos, neg = (lambda v: max(v, 0.0)), (lambda v: min(v, 0.0))
    r_in = {i: 0.0 for _, i, _ in conns}
    if rule == "flat":
        fan_in = {j: 0 for j in bias}
        for j, _, _ in conns:
            fan_in[j] += 1
        for j, i, _ in conns:
            r_in[i] += relevance[j] / stab(fan_in[j])
        return r_in
    if rule == "gamma":
        return literal_gamma(conns, bias, x, relevance, 0.25)
    terms = {
        "epsilon": [(lambda xi, w: xi * w, lambda b: b, 1.0)],
        "zplus": [(lambda xi, w: pos(xi) * pos(w) + neg(xi) * neg(w), pos, 1.0)],
        "alphabeta": [(lambda xi, w: pos(xi) * pos(w) + neg(xi) * neg(w), pos, 2.0),
                      (lambda xi, w: pos(xi) * neg(w) + neg(xi) * pos(w), neg, -1.0)],
        "zbox": [(lambda xi, w, i=None: xi * w, lambda b: b - pos(b) - neg(b), 1.0)],
    }[rule]
    for contribution, bias_part, weight in terms:
        if rule == "zbox":
            contribution = lambda xi, w: xi * w - low * pos(w) - high * neg(w)  # noqa: E731
        denominator = {j: bias_part(b) for j, b in bias.items()}
        for j, i, w in conns:
            denominator[j] += contribution(x[i], w)
        for j, i, w in conns:
            r_in[i] += weight * contribution(x[i], w) / stab(denominator[j]) * relevance[j]
    return r_in


def literal_gamma(conns: list, bias: dict, x: dict, relevance: dict, gamma: float) -> dict:
    """Zennit's generalised γ rule: positive outputs share over (w + γw⁺) for x⁺ and (w + γw⁻) for x⁻."""
    pos, neg = (lambda v: max(v, 0.0)), (lambda v: min(v, 0.0))
    out = literal_forward(conns, bias, x)
    up = {j: b + gamma * pos(b) for j, b in bias.items()}
    down = {j: b + gamma * neg(b) for j, b in bias.items()}
    for j, i, w in conns:
        up[j] += pos(x[i]) * (w + gamma * pos(w)) + neg(x[i]) * (w + gamma * neg(w))
        down[j] += pos(x[i]) * (w + gamma * neg(w)) + neg(x[i]) * (w + gamma * pos(w))
    r_in = {i: 0.0 for _, i, _ in conns}
    for j, i, w in conns:
        if out[j] > 0:
            r_in[i] += (pos(x[i]) * (w + gamma * pos(w)) + neg(x[i]) * (w + gamma * neg(w))) / stab(up[j]) * relevance[j]
        elif out[j] < 0:
            r_in[i] += (pos(x[i]) * (w + gamma * neg(w)) + neg(x[i]) * (w + gamma * pos(w))) / stab(down[j]) * relevance[j]
    return r_in


RULES = {"lrp-epf": ("flat", "zplus"), "lrp-egb": ("zbox", "gamma"), "lrp-eab": ("flat", "alphabeta")}


@pytest.mark.parametrize("method", METHODS)
def test_rules_match_their_literal_formulas(method: str) -> None:
    torch.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Conv2d(2, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)).double()
    for parameter in model.parameters():
        parameter.data.normal_(0, 0.6)
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    low, high = -2.0, 2.0
    ours = compute_lrp(model.float(), x.float(), [[1]], method, (torch.tensor(low), torch.tensor(high)))[0][0].map
    first_rule, conv_rule = RULES[method]
    acts = {(0, y, xx): float(x[0, 0, y, xx]) for y in range(4) for xx in range(4)}
    layers, inputs = [], []
    shape: tuple[int, ...] = (1, 4, 4)
    for layer in (model[0], model[2]):
        conns, bias, shape_out = connections(layer, shape)
        layers.append((conns, bias))
        inputs.append(acts)
        acts = {j: max(v, 0.0) for j, v in literal_forward(conns, bias, acts).items()}
        shape = shape_out
    flat = {(k,): acts[(c, y, xx)] for k, (c, y, xx) in enumerate(itertools.product(range(2), range(2), range(2)))}
    dense, dense_bias, _ = connections(model[5], (8,))
    logits = literal_forward(dense, dense_bias, flat)
    relevance = literal_rule("epsilon", dense, dense_bias, flat, {j: (logits[j] if j == (1,) else 0.0) for j in logits})
    relevance = {(c, y, xx): relevance[(k,)] for k, (c, y, xx) in enumerate(itertools.product(range(2), range(2), range(2)))}
    relevance = literal_rule(conv_rule, *layers[1], inputs[1], relevance)
    relevance = literal_rule(first_rule, *layers[0], inputs[0], relevance, low=low, high=high)
    expected = np.array([[relevance[(0, y, xx)] for xx in range(4)] for y in range(4)])
    np.testing.assert_allclose(ours, expected, rtol=2e-4, atol=1e-6)


# --- a known answer, batches, refusals -----------------------------------------------------------

def test_relevance_lands_on_the_only_informative_region() -> None:
    """Only a 4x4 patch reaches the classifier; two 3x3 convolutions can spread it by 2 pixels."""
    torch.manual_seed(5)
    features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1), nn.ReLU())
    head = nn.Linear(6 * 16 * 16, 2)
    mask = torch.zeros(6, 16, 16)
    mask[:, 6:10, 6:10] = 1
    head.weight.data *= mask.flatten()
    model = nn.Sequential(features, nn.Flatten(), head).eval()
    x = torch.rand(1, 1, 16, 16) * 4 - 2
    for method in METHODS:
        plane = np.abs(compute_lrp(model, x, [[0]], method, (torch.tensor(-2.0), torch.tensor(2.0)))[0][0].map)
        assert plane[4:12, 4:12].sum() >= 0.999 * plane.sum(), method
        assert plane[6:10, 6:10].sum() > 0.25 * plane.sum(), method  # denser than uniform over the dilated patch


def test_batches_and_several_targets_equal_single_calls() -> None:
    torch.manual_seed(6)
    model = torchvision_model("resnet34", 1)
    x = torch.randn(2, 1, 64, 64)
    batched = compute_lrp(model, x, [[0, 2], [1]], "lrp-epf", BOUNDS)
    assert [[r.target_index for r in per] for per in batched] == [[0, 2], [1]]
    single = compute_lrp(model, x[1:], [[1]], "lrp-epf", BOUNDS)
    np.testing.assert_allclose(batched[1][0].map, single[0][0].map, rtol=1e-4, atol=1e-6)
    assert batched[0][0].map.shape == (64, 64)


def test_unsupported_modules_are_refused_by_name() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.GroupNorm(1, 2), nn.Flatten(), nn.LazyLinear(2))
    with pytest.raises(errors.ExplainError, match=r"'1' \(GroupNorm\)"):
        compute_lrp(model, torch.randn(1, 1, 8, 8), [[0]], "lrp-epf", BOUNDS)


class MisleadingOrder(nn.Module):
    """A BatchNorm that follows a convolution in leaf order but normalises another branch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)  # registered right after conv, applied to other's output
        self.other = nn.Conv2d(1, 4, 1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 8 * 8, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)) + self.norm(self.other(x)))


def test_a_canonization_that_would_change_outputs_is_refused() -> None:
    torch.manual_seed(7)
    model = _randomise_batchnorm(MisleadingOrder())
    x = torch.randn(1, 1, 8, 8)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(errors.ExplainError, match="changed the model's outputs|canonization failed"):
        compute_lrp(model, x, [[0]], "lrp-epf", BOUNDS)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
