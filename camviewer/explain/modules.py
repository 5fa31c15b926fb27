"""Module categories that the explanation engines reason about, each defined once."""

from __future__ import annotations

from torch import nn
from zennit.layer import Sum

POOLING: tuple[type[nn.Module], ...] = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)
"""Never chosen as a target layer automatically: CAMs explain feature maps, not their pooling."""

HOMOGENEOUS_PASS_THROUGH: tuple[type[nn.Module], ...] = (
    nn.Flatten, nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveMaxPool2d, nn.Dropout, nn.Identity,
)
"""Positively homogeneous, piecewise-linear modules: with one Linear after them, the score minus the
bias is exactly sum(A * dS/dA) (Euler), which is HiResCAM's completeness. Max pools qualify: the
gradient goes to each window's maximum, whose value is the pooled output."""

LRP_SUPPORTED_LEAVES: tuple[type[nn.Module], ...] = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softplus,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d,
    nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Identity, Sum,
)
"""Leaf modules that Zennit's composites (after camviewer's canonizers) have a rule for."""
