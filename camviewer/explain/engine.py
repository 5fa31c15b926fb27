"""One forward pass and one backward pass per target give every gradient CAM at once.

The target layer's output is replaced, during the forward pass, by a tensor camviewer owns
(``relu(output)`` when the model rectifies it in place). Parameters are frozen for the pass, so
the backward pass runs from the target score to that tensor only, never down to the input.
Hooks are removed and parameters restored in ``finally``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from camviewer import errors
from camviewer.explain.cams import CAM_METHODS, grad_cam_linear, hires_cam_signed
from camviewer.explain.layers import TargetLayer
from camviewer.explain.modules import HOMOGENEOUS_PASS_THROUGH


@dataclass(frozen=True, eq=False)
class CamResult:
    """Maps (h, w) for one image and one target, keyed by method name, with sanity checks."""

    target_index: int
    score: float
    maps: dict[str, np.ndarray]
    checks: dict[str, dict[str, Any]]


@dataclass
class _Capture:
    activations: torch.Tensor | None = None
    routed: torch.Tensor | None = None
    calls: int = 0
    after: list[nn.Module] = field(default_factory=list)
    outputs: dict[int, torch.Tensor] = field(default_factory=dict)


@contextmanager
def _captured(model: nn.Module, layer: TargetLayer) -> Iterator[_Capture]:
    """Route the layer's output through an owned tensor; record leaf modules that run after it."""
    capture = _Capture()

    def own(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        capture.calls += 1
        base = output.detach()
        owned = torch.relu(base) if layer.rectify else base.clone()
        capture.activations = owned
        capture.routed = owned.clone().requires_grad_(True).clone()  # non-leaf: in-place ops are allowed
        capture.after.clear()
        return capture.routed

    def follow(module: nn.Module, _inputs: object, output: object) -> None:
        if capture.calls:
            capture.after.append(module)  # also those returning tuples (a GRU): the head check must see them
            if isinstance(output, torch.Tensor):
                capture.outputs[id(module)] = output

    handles = [layer.module.register_forward_hook(own)]
    handles += [m.register_forward_hook(follow) for m in model.modules() if not list(m.children()) and m is not layer.module]
    try:
        yield capture
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _frozen_parameters(model: nn.Module) -> Iterator[None]:
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for parameter, _ in flags:
            parameter.requires_grad_(False)
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


TargetChooser = Callable[[np.ndarray], Sequence[Sequence[int]]]


@torch.enable_grad()  # also when a metric calls it under no_grad
def compute_cams(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: Sequence[Sequence[int]] | TargetChooser,
    methods: Sequence[str],
    layer: TargetLayer,
) -> tuple[np.ndarray, list[list[CamResult]]]:
    """Logits (B, N) and, per image, one CamResult per target, in order.

    ``targets`` lists class indices per image, or chooses them from the logits of this same
    forward pass (for top-k), so that no second forward pass is needed.
    """
    unknown = [m for m in methods if m not in CAM_METHODS]
    if unknown:
        raise errors.ExplainError(f"unknown CAM method {unknown[0]!r}; known: {', '.join(CAM_METHODS)}")
    with _frozen_parameters(model), _captured(model, layer) as capture:
        logits = model(inputs)
    if capture.calls != 1 or capture.routed is None or capture.activations is None:
        raise errors.ExplainError(f"layer {layer.name!r} ran {capture.calls} times in one forward pass; choose another layer")
    linear = _linear_head(capture, logits)
    logits_np = logits.detach().float().cpu().numpy()
    if callable(targets):
        targets = targets(logits_np)
    results: list[list[CamResult]] = [[] for _ in targets]
    rounds = max((len(t) for t in targets), default=0)
    for round_index in range(rounds):
        batch = [b for b, chosen in enumerate(targets) if round_index < len(chosen)]
        classes = [targets[b][round_index] for b in batch]
        score = logits[batch, classes].sum()
        (grads,) = torch.autograd.grad(score, capture.routed, retain_graph=round_index < rounds - 1)
        _collect(results, batch, classes, logits, capture.activations, grads, methods, linear)
    return logits_np, results


def _collect(
    results: list[list[CamResult]],
    batch: list[int],
    classes: list[int],
    logits: torch.Tensor,
    acts: torch.Tensor,
    grads: torch.Tensor,
    methods: Sequence[str],
    linear: nn.Linear | None,
) -> None:
    a, g = acts[batch], grads[batch]
    maps = {m: CAM_METHODS[m].compute(a, g).detach().float().cpu().numpy() for m in methods}
    hires = hires_cam_signed(a, g).detach().double().cpu().numpy()
    gradcam = grad_cam_linear(a, g).detach().double().cpu().numpy()
    spread = (g.amax(dim=(2, 3)) - g.amin(dim=(2, 3))).abs().amax(dim=1).cpu().numpy()
    grad_scale = g.abs().flatten(1).amax(dim=1).cpu().numpy()
    for row, (b, cls) in enumerate(zip(batch, classes)):
        score = float(logits[b, cls].detach())
        shared = {
            "hirescam_completeness": _completeness(score, cls, hires[row], linear),
            "gradcam_equals_hirescam": _equivalence(gradcam[row], hires[row], spread[row], grad_scale[row]),
            "model_output": {"constant": bool(np.ptp(logits[b].detach().cpu().numpy()) <= 1e-6), "zero_gradient": bool(grad_scale[row] == 0)},
        }
        checks = {m: {**shared, "map": map_flags(maps[m][row])} for m in methods}
        results[b].append(CamResult(cls, score, {m: maps[m][row] for m in methods}, checks))


def _linear_head(capture: _Capture, logits: torch.Tensor) -> nn.Linear | None:
    """The Linear layer when everything after the target layer is Flatten/AvgPool/MaxPool -> one Linear."""
    modules = capture.after
    if not modules or not isinstance(modules[-1], nn.Linear):
        return None
    if not all(isinstance(m, HOMOGENEOUS_PASS_THROUGH) for m in modules[:-1]):
        return None
    return modules[-1] if capture.outputs.get(id(modules[-1])) is logits else None


def _completeness(score: float, cls: int, hires: np.ndarray, linear: nn.Linear | None) -> dict[str, Any]:
    if linear is None:
        return {"applicable": False, "reason": "the head after the target layer is not Flatten/AvgPool/MaxPool -> Linear"}
    bias = float(linear.bias[cls].detach()) if linear.bias is not None else 0.0
    total = float(hires.sum())
    residual = score - bias - total
    return {
        "applicable": True,
        "score": score,
        "bias": bias,
        "map_sum": total,
        "residual": residual,
        "relative_residual": abs(residual) / max(abs(score - bias), 1e-12),
    }


def _equivalence(gradcam: np.ndarray, hires: np.ndarray, spread: float, scale: float) -> dict[str, Any]:
    """Grad-CAM equals HiResCAM exactly when each channel's gradient is constant over space (GAP heads)."""
    difference = float(np.abs(gradcam - hires).max() / max(np.abs(hires).max(), 1e-12))
    constant = bool(spread <= 1e-6 * max(scale, 1e-30))
    return {"gradients_spatially_constant": constant, "relative_difference": difference, "equivalent": constant and difference <= 1e-4}


def map_flags(plane: np.ndarray) -> dict[str, bool]:
    return {"all_zero": bool(not np.any(plane)), "constant": bool(np.ptp(plane) <= 1e-12 * max(np.abs(plane).max(), 1e-30))}
