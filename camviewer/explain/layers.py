"""Choosing the target layer: automatic (the last spatial feature map) or a module by name.

A probe forward pass records every module's output. The automatic choice is the last module
to finish, in execution order, that runs once, outputs a 4-D map larger than 1x1 and is not a
pooling layer (ResNet: ``layer4``; DenseNet: ``features``; VGG: ``features``). When that
output is later rectified *in place* by a functional ReLU (torchvision DenseNet's
``F.relu(features, inplace=True)``), the layer is marked ``rectify``: camviewer explains
``relu(output)`` as a tensor of its own (pitfall P1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn

from camviewer import errors
from camviewer.explain.modules import POOLING


@dataclass(frozen=True)
class TargetLayer:
    name: str
    module: nn.Module = field(repr=False)
    rectify: bool
    shape: tuple[int, int, int]


@dataclass
class _Record:
    name: str
    module: nn.Module
    output: torch.Tensor
    version: int


def _spatial(output: object) -> bool:
    return isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[2] * output.shape[3] > 1


def locate_layer(model: nn.Module, example: torch.Tensor, name: str | None = None) -> TargetLayer:
    """The named module (must output a spatial map) or the automatic choice."""
    modules = dict(model.named_modules())
    if name is not None and name not in modules:
        raise errors.ExplainError(f"no module named {name!r} in the model")
    watched = {name: modules[name]} if name else {n: m for n, m in modules.items() if n}
    records = _probe(model, example, watched)
    calls = Counter(r.name for r in records)
    if name is not None:
        chosen = [r for r in records if r.name == name]
        if not chosen or not _spatial(chosen[-1].output):
            raise errors.ExplainError(f"module {name!r} does not output a spatial feature map (N, C, H, W)")
        if calls[name] > 1:
            raise errors.ExplainError(f"module {name!r} runs {calls[name]} times per forward pass; choose another layer")
        record = chosen[-1]
    else:
        candidates = [
            r for r in records if _spatial(r.output) and not isinstance(r.module, POOLING) and calls[r.name] == 1
        ]
        if not candidates:
            raise errors.ExplainError("the model has no spatial feature map to explain; name a layer")
        record = candidates[-1]
    rectified_in_place = record.output._version != record.version and bool((record.output >= 0).all())
    c, h, w = record.output.shape[1:]
    return TargetLayer(record.name, record.module, rectified_in_place, (int(c), int(h), int(w)))


def _probe(model: nn.Module, example: torch.Tensor, watched: dict[str, nn.Module]) -> list[_Record]:
    records: list[_Record] = []
    handles = []

    def recorder(layer_name: str):  # noqa: ANN202 - a hook factory
        def hook(module: nn.Module, _inputs: object, output: object) -> None:
            if isinstance(output, torch.Tensor):
                records.append(_Record(layer_name, module, output, output._version))

        return hook

    try:
        for layer_name, module in watched.items():
            handles.append(module.register_forward_hook(recorder(layer_name)))
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    return records
