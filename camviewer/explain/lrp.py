"""Layer-wise Relevance Propagation through Zennit's composites, with canonization checks.

Relevance starts at the chosen target's logit (for multi-label models the finding's logit, not a
probability), so a conserving rule set gives input relevance that sums to that logit, minus what
biases absorb. Maps are signed, at the model input's resolution, summed over channels.
Canonization must leave the model's outputs unchanged; models with modules no LRP rule covers
are refused with the module's name, never explained with a silent wrong map.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import Canonizer
from zennit.composites import EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlusFlat
from zennit.core import Composite

from camviewer import errors
from camviewer.explain.canonizers import canonizers_for, family
from camviewer.explain.modules import LRP_SUPPORTED_LEAVES

MAX_OUTPUT_CHANGE = 1e-5
Bounds = tuple[torch.Tensor, torch.Tensor]
CompositeFactory = Callable[[list[Canonizer], Bounds], Composite]


@dataclass(frozen=True)
class LrpMethod:
    name: str
    label: str
    reference: str
    composite: CompositeFactory


def _epsilon_plus_flat(canonizers: list[Canonizer], _bounds: Bounds) -> Composite:
    return EpsilonPlusFlat(canonizers=canonizers)


def _epsilon_gamma_box(canonizers: list[Canonizer], bounds: Bounds) -> Composite:
    low, high = bounds
    return EpsilonGammaBox(low=low, high=high, canonizers=canonizers)


def _epsilon_alpha2_beta1_flat(canonizers: list[Canonizer], _bounds: Bounds) -> Composite:
    return EpsilonAlpha2Beta1Flat(canonizers=canonizers)


LRP_METHODS: Mapping[str, LrpMethod] = MappingProxyType(
    {
        m.name: m
        for m in (
            LrpMethod("lrp-epf", "LRP ε/z+/flat", "Zennit EpsilonPlusFlat: flat first layer, z+ convolutions, ε dense", _epsilon_plus_flat),
            LrpMethod("lrp-egb", "LRP ε/γ/box", "Zennit EpsilonGammaBox: zB first layer (input range), γ=0.25 convolutions, ε dense",
                      _epsilon_gamma_box),
            LrpMethod("lrp-eab", "LRP ε/α2β1/flat", "Zennit EpsilonAlpha2Beta1Flat: flat first layer, α=2 β=1 convolutions, ε dense",
                      _epsilon_alpha2_beta1_flat),
        )
    }
)


@dataclass(frozen=True, eq=False)
class LrpResult:
    target_index: int
    score: float
    map: np.ndarray
    checks: dict[str, dict[str, Any]]


def input_bounds(value_range: tuple[float, float], mean: Sequence[float], std: Sequence[float]) -> Bounds:
    """The lowest and highest normalised input values, per channel, for the zB rule."""
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (value_range[0] - mean_t) / std_t, (value_range[1] - mean_t) / std_t


def check_supported(model: nn.Module) -> None:
    """Refuse models holding a module no LRP rule here covers, naming the first such module."""
    for name, module in model.named_modules():
        if not list(module.children()) and not isinstance(module, LRP_SUPPORTED_LEAVES):
            raise errors.ExplainError(f"LRP cannot handle module {name!r} ({type(module).__name__}); use a CAM method")


def compute_lrp(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: Sequence[Sequence[int]],
    method: str,
    bounds: Bounds,
) -> list[list[LrpResult]]:
    """Per image, one LrpResult per target, in order: (H, W) maps and conservation checks."""
    if method not in LRP_METHODS:
        raise errors.ExplainError(f"unknown LRP method {method!r}; known: {', '.join(LRP_METHODS)}")
    check_supported(model)
    with torch.no_grad():
        reference = model(inputs).float()
    low, high = (b.to(inputs.device) for b in bounds)
    results: list[list[LrpResult]] = [[] for _ in targets]
    for round_index in range(max((len(t) for t in targets), default=0)):
        batch = [b for b, chosen in enumerate(targets) if round_index < len(chosen)]
        classes = [targets[b][round_index] for b in batch]
        selector = torch.zeros_like(reference)
        selector[batch, classes] = 1.0
        composite = LRP_METHODS[method].composite(canonizers_for(model), (low, high))
        output, relevance = _attribute(model, inputs, composite, selector)
        change = _output_change(output.float(), reference)
        maps = relevance.sum(dim=1).float().cpu().numpy()
        for b, cls in zip(batch, classes):
            score = float(reference[b, cls])
            checks = {"lrp_conservation": _conservation(score, float(maps[b].sum())),
                      "canonization": {"family": family(model), "relative_output_change": change}}
            results[b].append(LrpResult(cls, score, maps[b], checks))
    return results


def _attribute(model: nn.Module, inputs: torch.Tensor, composite: Composite, selector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zennit's modified gradient, seeded with the target logits; canonizers undone on exit."""
    try:
        with Gradient(model=model, composite=composite) as attributor:
            output, relevance = attributor(inputs, lambda out: selector * out.detach())
    except RuntimeError as exc:  # a canonizer merged layers whose shapes do not fit
        raise errors.ExplainError(f"LRP canonization failed for this model: {str(exc).splitlines()[0][:120]}") from exc
    return output.detach(), relevance.detach()


def _output_change(output: torch.Tensor, reference: torch.Tensor) -> float:
    change = float((output - reference).abs().max() / reference.abs().max().clamp_min(1e-12))
    if change > MAX_OUTPUT_CHANGE:
        raise errors.ExplainError(f"LRP canonization changed the model's outputs (relative change {change:.1e}); refused")
    return change


def _conservation(score: float, relevance_sum: float) -> dict[str, Any]:
    absolute = relevance_sum - score
    return {
        "score": score,
        "relevance_sum": relevance_sum,
        "absolute_difference": absolute,
        "relative_difference": abs(absolute) / max(abs(score), 1e-12),
    }
