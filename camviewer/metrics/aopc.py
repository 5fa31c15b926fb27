"""Perturbation curves (MoRF / LeRF / random) and AOPC, batched and de-duplicated.

Curve: f(x^(k)) for k = 0 .. L, where x^(k) takes the fully perturbed image P inside the first k
ranked regions and x elsewhere, and f is the target's probability (softmax, or sigmoid for
multi-label models) or its logit. AOPC = 1/(L+1) * sum_{k=1..L} [f(x^(0)) - f(x^(k))] (Samek et al.
2017); AOPC(l) is the same sum truncated at l, divided by l + 1.

Every x^(k) is identified by its image and its set of perturbed regions, so identical inputs
(x^(0), x^(L), shared prefixes of rankings) are run once, whichever method, order or target needs
them. Forward passes run in batches under ``torch.inference_mode`` in channels-last memory format.
Each x^(k) extends its parent x^(k-1) by one region, so a model with a local convolutional front
recomputes only that region's footprint there (``camviewer.metrics.incremental``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from camviewer.metrics.incremental import PrefixSplit, RegionPatch, SplitCache, paste
from camviewer.model.card import InputSpec
from camviewer.model.predict import probabilities
from camviewer.model.preprocess import normalise
from camviewer.progress import CancelToken, Progress, ProgressCallback, raise_if_cancelled

Score = Literal["prob", "logit"]


@dataclass(frozen=True, eq=False)
class CurveImage:
    """One image in pixel scale (C, H, W) and its fully perturbed version P."""

    pixels: np.ndarray
    perturbed: np.ndarray


@dataclass(frozen=True, eq=False)
class CurveRequest:
    image: int
    method: str
    target: int
    order: str
    ranking: np.ndarray


@dataclass(frozen=True, eq=False)
class Curve:
    method: str
    target_index: int
    order: str
    regions: tuple[int, ...]
    values: np.ndarray
    aopc: float
    aopc_by_length: np.ndarray


def aopc(values: np.ndarray) -> float:
    """1/(L+1) * sum_{k=1..L} [f(x^(0)) - f(x^(k))] for a curve of L + 1 values."""
    return float((values[0] - values[1:]).sum() / len(values))


def aopc_by_length(values: np.ndarray) -> np.ndarray:
    """AOPC(l) for l = 1 .. L."""
    drops = np.cumsum(values[0] - values[1:])
    return drops / np.arange(2, len(values) + 1)


def early_collapse(values: np.ndarray, fraction: float = 0.1) -> int | None:
    """The first step k <= ``fraction`` * L where the curve falls below half its start f(x^(0)), or
    None (always for curves too short to have such a step: one region of a 3x3 grid is already
    11 % of the image, and may simply hold the evidence). On a random-order curve of probabilities
    this means the perturbation itself, not the evidence removed, drives the model."""
    steps = math.floor(fraction * (len(values) - 1))
    below = np.nonzero(values[1 : steps + 1] < 0.5 * values[0])[0]
    return int(below[0]) + 1 if below.size else None


def default_batch_size(device: torch.device) -> int:
    """16 on a CPU (measured: larger batches fall out of cache on 2 cores), 64 on a GPU."""
    return 64 if device.type == "cuda" else 16


@contextmanager
def channels_last(model: nn.Module) -> Iterator[None]:
    try:
        model.to(memory_format=torch.channels_last)
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


@dataclass(frozen=True, eq=False)
class _Input:
    """One distinct x^(k): its image, its perturbed regions, and the input it extends by one region."""

    image: int
    perturbed: np.ndarray
    parent: int | None = None
    added: int | None = None


def perturbation_curves(
    model: nn.Module,
    spec: InputSpec,
    images: Sequence[CurveImage],
    requests: Sequence[CurveRequest],
    regions: np.ndarray,
    steps: int,
    *,
    score: Score = "prob",
    multilabel: bool = False,
    batch_size: int = 16,
    incremental: bool = True,
    splits: SplitCache | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    request_id: int = 0,
) -> list[Curve]:
    """One curve per request; ``regions`` is the (H, W) region-index map, ``steps`` is L.

    With ``incremental`` (the default), a model whose convolutional front can be split off
    (``camviewer.metrics.incremental``) recomputes only the changed region's footprint there;
    ``splits`` keeps the split found for this model and region map for the next call.
    """
    inputs, curve_slots = _distinct_inputs(requests, int(regions.max()) + 1, steps)
    raise_if_cancelled(cancel)
    if not inputs:
        return []
    report = None if progress is None else lambda done, total: progress(Progress(request_id, "curves", done, total))
    with channels_last(model), torch.inference_mode():
        logits = _run_inputs(model, spec, images, inputs, regions, batch_size, incremental, splits, report, cancel)
    values = logits if score == "logit" else probabilities(logits, multilabel)
    curves = []
    for request, row in zip(requests, curve_slots):
        curve = values[row, request.target].astype(np.float64)
        curves.append(Curve(request.method, request.target, request.order, tuple(int(r) for r in request.ranking[:steps]),
                            curve, aopc(curve), aopc_by_length(curve)))
    return curves


def _distinct_inputs(requests: Sequence[CurveRequest], cells: int, steps: int) -> tuple[list[_Input], list[list[int]]]:
    """Every distinct (image, perturbed set) once, parents first, and each curve's input indices."""
    slots: dict[tuple[int, bytes], int] = {}
    inputs: list[_Input] = []
    curve_slots = []
    for request in requests:
        perturbed = np.zeros(cells, dtype=bool)
        row: list[int] = []
        for k in range(steps + 1):
            added = None
            if k:
                added = int(request.ranking[k - 1])
                perturbed = perturbed.copy()
                perturbed[added] = True
            key = (request.image, perturbed.tobytes())
            if key not in slots:
                slots[key] = len(inputs)
                inputs.append(_Input(request.image, perturbed, row[-1] if row else None, added))
            row.append(slots[key])
        curve_slots.append(row)
    return inputs, curve_slots


def _run_inputs(
    model: nn.Module,
    spec: InputSpec,
    images: Sequence[CurveImage],
    inputs: list[_Input],
    regions: np.ndarray,
    batch_size: int,
    incremental: bool,
    splits: SplitCache | None,
    report: Callable[[int, int], None] | None,
    cancel: CancelToken | None,
) -> np.ndarray:
    """Logits of every distinct x^(k), batch by batch; raises Cancelled between batches."""
    device = next(model.parameters()).device

    def prepared(batch: list[_Input]) -> torch.Tensor:
        pixels = np.stack([_compose(images[item.image], item.perturbed[regions]) for item in batch])
        return normalise(torch.from_numpy(pixels).to(device), spec).contiguous(memory_format=torch.channels_last)

    split = None
    if incremental:
        split = (splits or SplitCache()).get(model, prepared(inputs[:1]), regions)
    forward = _Incremental(split, regions, inputs) if split is not None else None
    out = []
    for start in range(0, len(inputs), batch_size):
        raise_if_cancelled(cancel)
        batch = inputs[start : start + batch_size]
        logits = model(prepared(batch)) if forward is None else forward(prepared(batch), batch, start)
        out.append(logits.float().cpu().numpy())
        if report is not None:
            report(start + len(batch), len(inputs))
    return np.concatenate(out)


class _Incremental:
    """Runs batches of inputs through a split model, reusing each input's parent activation.

    Inputs come parents first; an activation is kept until the last input extending it has run.
    """

    def __init__(self, split: PrefixSplit, regions: np.ndarray, inputs: list[_Input]) -> None:
        self.split = split
        self.patches = split.geometry.patches(regions)
        self.activations: dict[int, torch.Tensor] = {}
        self.children = Counter(item.parent for item in inputs if item.parent is not None)

    def __call__(self, x: torch.Tensor, batch: list[_Input], start: int) -> torch.Tensor:
        computed = self._prefix_outputs(x, batch)
        activations = []
        for offset, (item, value) in enumerate(zip(batch, computed)):
            if item.parent is not None:
                value = paste(self._take(item.parent), value, self._patch(item))
            if self.children[start + offset]:
                self.activations[start + offset] = value
            activations.append(value)
        return self.split.suffix(torch.stack(activations).contiguous(memory_format=torch.channels_last))

    def _prefix_outputs(self, x: torch.Tensor, batch: list[_Input]) -> list[torch.Tensor]:
        """The whole prefix for inputs without a parent; the crop's prefix for the others."""
        whole = [k for k, item in enumerate(batch) if item.parent is None]
        cropped = [k for k, item in enumerate(batch) if item.parent is not None]
        outputs: dict[int, torch.Tensor] = {}
        if whole:
            for k, value in zip(whole, self.split.prefix(x[whole])):
                outputs[k] = value
        if cropped:
            stride = self.split.geometry.stride
            crops = torch.stack([self._patch(batch[k]).crop.scaled(stride).take(x[k]) for k in cropped])
            for k, value in zip(cropped, self.split.prefix(crops.contiguous(memory_format=torch.channels_last))):
                outputs[k] = value
        return [outputs[k] for k in range(len(batch))]

    def _patch(self, item: _Input) -> RegionPatch:
        """The footprint of the region that ``item`` adds to its parent."""
        if item.added is None:
            raise ValueError("only an input that extends a parent adds a region")
        return self.patches[item.added]

    def _take(self, parent: int) -> torch.Tensor:
        """The parent's activation, forgotten once its last child has it."""
        self.children[parent] -= 1
        return self.activations[parent] if self.children[parent] else self.activations.pop(parent)


def _compose(image: CurveImage, mask: np.ndarray) -> np.ndarray:
    """x^(k): P where the pixel's region is perturbed, x elsewhere."""
    return np.where(mask[None], image.perturbed, image.pixels)
