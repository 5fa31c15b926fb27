"""Canonizers that make VGG, ResNet and DenseNet explainable by Zennit's LRP rules.

- BatchNorm directly after a convolution is merged into it, exactly: the emptied BatchNorm also
  gets ``eps = 0``, so it computes the identity and the model's outputs do not move.
- ResNet: Zennit's residual ``Sum`` module, so a rule can see the addition.
- DenseNet: the pairs that really follow each other are merged by name (``conv0 -> norm0`` and each
  dense layer's ``conv1 -> norm2``). Merging by leaf order would pair layer i's ``conv2`` with layer
  i+1's ``norm1``, whose input is a concatenation (pitfall P4). The remaining BatchNorm -> ReLU
  pairs in front of a convolution are element-wise and pass relevance through unchanged (Zennit's
  ``Pass``). For positive BatchNorm scales this equals the published merge-to-the-right with a
  thresholded ReLU. The functional final ReLU and pooling become modules, so rules can see them.

Every canonizer is undone when the Zennit composite's context ends.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import DenseNet
from torchvision.models.densenet import _DenseLayer
from torchvision.models.resnet import BasicBlock, Bottleneck
from zennit.canonizers import AttributeCanonizer, Canonizer, NamedMergeBatchNorm, SequentialMergeBatchNorm
from zennit.torchvision import ResNetBasicBlockCanonizer, ResNetBottleneckCanonizer


class _ExactMerge:
    """Mixin for Zennit's BatchNorm merges: zero the emptied BatchNorm's eps, restore it on removal."""

    batch_norm: nn.BatchNorm2d

    def register(self, linears: Any, batch_norm: nn.BatchNorm2d) -> None:
        self._eps = batch_norm.eps
        super().register(linears, batch_norm)  # type: ignore[misc]
        batch_norm.eps = 0.0

    def remove(self) -> None:
        super().remove()  # type: ignore[misc]
        self.batch_norm.eps = self._eps


class ExactSequentialMerge(_ExactMerge, SequentialMergeBatchNorm):
    """Merge every BatchNorm that directly follows a linear layer in leaf order."""


class ExactNamedMerge(_ExactMerge, NamedMergeBatchNorm):
    """Merge the named (linear layers, BatchNorm) pairs."""


def _densenet_forward(self: DenseNet, x: torch.Tensor) -> torch.Tensor:
    features = self.canonizer_relu(self.features(x))
    return self.classifier(torch.flatten(self.canonizer_pool(features), 1))


def _densenet_attributes(_name: str, module: nn.Module) -> dict[str, Any] | None:
    if isinstance(module, DenseNet):
        return {
            "forward": _densenet_forward.__get__(module),
            "canonizer_relu": nn.ReLU(),
            "canonizer_pool": nn.AdaptiveAvgPool2d(1),
        }
    return None


def _densenet_merge_pairs(model: nn.Module) -> list[tuple[tuple[str, ...], str]]:
    pairs: list[tuple[tuple[str, ...], str]] = []
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(module, _DenseLayer):
            pairs.append(((f"{prefix}conv1",), f"{prefix}norm2"))
        elif isinstance(getattr(module, "conv0", None), nn.Conv2d) and isinstance(getattr(module, "norm0", None), nn.BatchNorm2d):
            pairs.append(((f"{prefix}conv0",), f"{prefix}norm0"))
    return pairs


def family(model: nn.Module) -> str:
    """'densenet', 'resnet' or 'sequential', from the building blocks the model contains."""
    modules = list(model.modules())
    if any(isinstance(m, _DenseLayer) for m in modules):
        return "densenet"
    if any(isinstance(m, (BasicBlock, Bottleneck)) for m in modules):
        return "resnet"
    return "sequential"


def canonizers_for(model: nn.Module) -> list[Canonizer]:
    """Fresh canonizer instances for this model's family."""
    kind = family(model)
    if kind == "densenet":
        return [ExactNamedMerge(_densenet_merge_pairs(model)), AttributeCanonizer(_densenet_attributes)]
    if kind == "resnet":
        return [ExactSequentialMerge(), ResNetBottleneckCanonizer(), ResNetBasicBlockCanonizer()]
    return [ExactSequentialMerge()]
