"""Registered architectures, all built with ``weights=None`` (nothing is downloaded).

Each entry builds an ``nn.Module`` for N classes, a channel count and an input size, and names
its default target layer (``None``: located automatically).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

import torch
from torch import nn
from torchvision import models

Builder = Callable[[int, int, tuple[int, int]], nn.Module]


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Builder
    target_layer: str | None
    description: str


def _first_conv_channels(conv: nn.Conv2d, channels: int) -> nn.Conv2d:
    """The same convolution taking ``channels`` inputs (1-channel X-ray models)."""
    if channels == conv.in_channels:
        return conv
    square = cast(tuple[int, int], conv.kernel_size), cast(tuple[int, int], conv.stride)
    padding = cast(tuple[int, int] | str, conv.padding)  # torch types them as tuples of any length
    return nn.Conv2d(channels, conv.out_channels, square[0], square[1], padding, bias=conv.bias is not None)


def _resnet(factory: Callable[..., models.ResNet]) -> Builder:
    def build(classes: int, channels: int, size: tuple[int, int]) -> nn.Module:
        model = factory(weights=None, num_classes=classes)
        model.conv1 = _first_conv_channels(model.conv1, channels)
        return model

    return build


def _densenet(factory: Callable[..., models.DenseNet]) -> Builder:
    def build(classes: int, channels: int, size: tuple[int, int]) -> nn.Module:
        model = factory(weights=None, num_classes=classes)
        model.features.conv0 = _first_conv_channels(model.features.conv0, channels)
        return model

    return build


def _vgg(factory: Callable[..., models.VGG]) -> Builder:
    def build(classes: int, channels: int, size: tuple[int, int]) -> nn.Module:
        model = factory(weights=None, num_classes=classes)
        model.features[0] = _first_conv_channels(model.features[0], channels)
        return model

    return build


class FeaturesHead(nn.Module):
    """A backbone ``features`` (ending in its ReLU or pooling) and a ``head`` of modules."""

    def __init__(self, features: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _feature_shape(features: nn.Module, channels: int, size: tuple[int, int]) -> torch.Size:
    with torch.no_grad():
        return features.eval()(torch.zeros(1, channels, *size)).shape[1:]


def _backbone(name: str, channels: int) -> nn.Module:
    """Convolutional backbones whose output is the last post-ReLU feature map."""
    if name == "vgg16":
        features = models.vgg16(weights=None).features
        features[0] = _first_conv_channels(features[0], channels)
        return features
    if name == "vgg19":
        features = models.vgg19(weights=None).features
        features[0] = _first_conv_channels(features[0], channels)
        return features
    if name in ("densenet121", "densenet201"):
        features = getattr(models, name)(weights=None).features
        features.conv0 = _first_conv_channels(features.conv0, channels)
        return nn.Sequential(features, nn.ReLU())
    resnet = getattr(models, name)(weights=None)
    resnet.conv1 = _first_conv_channels(resnet.conv1, channels)
    return nn.Sequential(*list(resnet.children())[:-2])


def _transfer_head(backbone: str) -> Builder:
    """The AOPC study: backbone -> max-pool (4) -> flatten -> dense 64 (ReLU) -> dense N."""

    def build(classes: int, channels: int, size: tuple[int, int]) -> nn.Module:
        features = _backbone(backbone, channels)
        c, h, w = _feature_shape(features, channels, size)
        pooled = (h // 4) * (w // 4)
        if pooled == 0:
            raise ValueError(f"input {size[0]}x{size[1]} is too small for {backbone}'s 4x4 max-pool head")
        head = nn.Sequential(nn.MaxPool2d(4), nn.Flatten(), nn.Linear(c * pooled, 64), nn.ReLU(), nn.Linear(64, classes))
        return FeaturesHead(features, head)

    return build


def _flatten_head(backbone: str) -> Builder:
    """The HiResCAM study: backbone -> flatten -> class scores (HiResCAM is provably faithful)."""

    def build(classes: int, channels: int, size: tuple[int, int]) -> nn.Module:
        features = _backbone(backbone, channels)
        c, h, w = _feature_shape(features, channels, size)
        return FeaturesHead(features, nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, classes)))

    return build


DEMO_VGG_GRID = 3


def _demo_vgg(classes: int, channels: int, size: tuple[int, int]) -> nn.Module:
    """Four conv blocks (3x3 conv, batch norm, ReLU), max-pools between them -> max-pool to a 3x3
    grid -> flatten -> class scores (a weight per grid cell; any input size). ``features`` ends at
    the last ReLU (stride 8); HiResCAM is faithful there (a max-pool is positively homogeneous),
    Grad-CAM is not."""
    layers: list[nn.Module] = []
    widths = (channels, 16, 32, 48, 64)
    for block, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
        if block:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    head = [nn.AdaptiveMaxPool2d(DEMO_VGG_GRID), nn.Flatten(), nn.Linear(widths[-1] * DEMO_VGG_GRID**2, classes)]
    return FeaturesHead(nn.Sequential(*layers), nn.Sequential(*head))


def _demo_resnet(classes: int, channels: int, size: tuple[int, int]) -> nn.Module:
    """A small ResNet (torchvision BasicBlocks) -> global average pool -> class scores: Grad-CAM
    equals HiResCAM at ``features``, whose stride is 8.

    Every downsampling covers each input pixel equally often: a 4x4 stem convolution with stride 2,
    then non-overlapping 2x2 average pools between stride-1 blocks. A 5x5 or 3x3 convolution with
    stride 2 covers even pixels more often than odd ones, and LRP's rules, which share relevance out
    over each window, then paint that coverage as a checkerboard."""
    from torchvision.models.resnet import BasicBlock

    def block(c_in: int, c_out: int) -> nn.Module:
        return BasicBlock(c_in, c_out, downsample=nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)))

    stem = [nn.Conv2d(channels, 16, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    features = nn.Sequential(*stem, nn.AvgPool2d(2), block(16, 32), nn.AvgPool2d(2), block(32, 48), block(48, 64))
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))
    return FeaturesHead(features, head)


def _registry() -> Mapping[str, Architecture]:
    entries = [
        Architecture("vgg16-transfer", _transfer_head("vgg16"), "features", "VGG16 + max-pool/flatten/dense 64/dense N (AOPC study)"),
        Architecture("densenet201-transfer", _transfer_head("densenet201"), "features",
                     "DenseNet201 + max-pool/flatten/dense 64/dense N (AOPC study)"),
        Architecture("resnet34-flatten", _flatten_head("resnet34"), "features", "ResNet34, Conv -> Flatten -> class scores (HiResCAM study)"),
        Architecture("resnet50-flatten", _flatten_head("resnet50"), "features", "ResNet50, Conv -> Flatten -> class scores (HiResCAM study)"),
        Architecture("vgg19-flatten", _flatten_head("vgg19"), "features", "VGG19, Conv -> Flatten -> class scores (HiResCAM study)"),
        Architecture("densenet121-chexpert", _densenet(models.densenet121), None,
                     "DenseNet-121, multi-label findings with sigmoid outputs (LRP study)"),
        Architecture("demo-vgg", _demo_vgg, "features", "small VGG-style demo model: conv/max-pool -> flatten -> scores"),
        Architecture("demo-resnet", _demo_resnet, "features", "small ResNet-style demo model: blocks -> GAP -> scores"),
        Architecture("resnet18", _resnet(models.resnet18), None, "torchvision ResNet-18, N-class head"),
        Architecture("resnet34", _resnet(models.resnet34), None, "torchvision ResNet-34, N-class head"),
        Architecture("resnet50", _resnet(models.resnet50), None, "torchvision ResNet-50, N-class head"),
        Architecture("densenet121", _densenet(models.densenet121), None, "torchvision DenseNet-121, N-class head"),
        Architecture("densenet201", _densenet(models.densenet201), None, "torchvision DenseNet-201, N-class head"),
        Architecture("vgg16", _vgg(models.vgg16), None, "torchvision VGG16, N-class head"),
        Architecture("vgg19", _vgg(models.vgg19), None, "torchvision VGG19, N-class head"),
    ]
    return MappingProxyType({entry.name: entry for entry in entries})


ARCHITECTURES: Mapping[str, Architecture] = _registry()
