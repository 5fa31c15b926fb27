"""Incremental forward passes for perturbation curves: recompute only what a changed region reaches.

x^(k) differs from x^(k-1) in one region. The convolutional front of a CNN is local: each activation
pixel depends on a bounded window of input pixels, the same window shifted by the stride. So, at a cut
through the network's graph, the activation of x^(k) equals that of x^(k-1) except in the footprint
of the changed region, and that footprint can be computed exactly from a crop of x^(k) around it.
Only the layers after the cut run on the whole activation.

The cut is found, not declared: the model is traced with ``torch.fx``; a cut is a node whose value is
the only one crossing it; the window comes from a NaN probe (one NaN input pixel marks every
activation pixel that depends on it); the cut with the fewest estimated FLOPs per step wins, and
only when it saves at least a fifth. Before use, the split is checked numerically against the
whole model, so a model that is not translation-equivariant (or cannot be traced) simply runs whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn

MIN_SAVING = 0.2
CHECK_RTOL = 1e-4


@dataclass(frozen=True)
class Box:
    """Half-open rows [top, bottom) and columns [left, right)."""

    top: int
    bottom: int
    left: int
    right: int

    def scaled(self, factor: int) -> Box:
        return Box(self.top * factor, self.bottom * factor, self.left * factor, self.right * factor)

    def shifted(self, rows: int, cols: int) -> Box:
        return Box(self.top - rows, self.bottom - rows, self.left - cols, self.right - cols)

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor[..., self.top : self.bottom, self.left : self.right]


@dataclass(frozen=True)
class RegionPatch:
    """Where a changed region's activation footprint lies, and the input crop that computes it."""

    footprint: Box
    crop: Box


@dataclass(frozen=True)
class Window:
    """Input offsets [low, high] (pixels, inclusive) that activation pixel o reads, relative to o * stride."""

    low: int
    high: int


@dataclass(frozen=True)
class Geometry:
    """A local value's stride (input pixels per activation pixel), its windows along rows and columns, and its shape."""

    stride: int
    rows: Window
    cols: Window
    activation_shape: tuple[int, int]

    def patches(self, regions: np.ndarray) -> list[RegionPatch]:
        """One patch per region index; every crop has the same size, so patches batch together."""
        boxes = [_bounds(regions == index) for index in range(int(regions.max()) + 1)]
        height, width = self.activation_shape
        rows = _axis_patches([(b.top, b.bottom) for b in boxes], self.rows, self.stride, height)
        cols = _axis_patches([(b.left, b.right) for b in boxes], self.cols, self.stride, width)
        return [RegionPatch(Box(*r[0], *c[0]), Box(*r[1], *c[1])) for r, c in zip(rows, cols)]


def _axis_patches(spans: list[tuple[int, int]], window: Window, stride: int, size: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per span [start, end) of input pixels: the activation pixels whose window meets it (the footprint),
    and an equal-length run of activation pixels, inside [0, size), holding every footprint pixel's window."""
    footprints = [(max(-((window.high - start) // stride), 0), min((end - 1 - window.low) // stride + 1, size))
                  for start, end in spans]
    needed = [(first + window.low // stride, last - 1 + window.high // stride + 1) for first, last in footprints]
    length = min(size, max(end - start for start, end in needed))
    crops = [min(max(start, 0), size - length) for start, _ in needed]
    return [(footprint, (crop, crop + length)) for footprint, crop in zip(footprints, crops)]


@dataclass(frozen=True, eq=False)
class PrefixSplit:
    """model(x) == suffix(prefix(x)), with a local prefix of the given geometry."""

    prefix: nn.Module
    suffix: nn.Module
    geometry: Geometry


class SplitCache:
    """Splits found for one model, by region map: finding one traces the model and probes it, which
    is worth doing once per model and grid, not once per image (a session keeps one cache)."""

    def __init__(self) -> None:
        self._splits: dict[bytes, PrefixSplit | None] = {}

    def get(self, model: nn.Module, example: torch.Tensor, regions: np.ndarray) -> PrefixSplit | None:
        key = hashlib.sha256(repr((regions.shape, tuple(example.shape))).encode() + regions.tobytes()).digest()
        if key not in self._splits:
            self._splits[key] = find_split(model, example, regions)
        return self._splits[key]


def find_split(model: nn.Module, example: torch.Tensor, regions: np.ndarray) -> PrefixSplit | None:
    """The cheapest verified split of an eval-mode model for this region map, or None to run it whole.

    ``example`` is one normalised input (1, C, H, W) on the model's device.
    """
    try:
        graph_module = fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - fx raises many types on untraceable code; such models run whole
        return None
    flops, supports, probe = _profile(graph_module, example)
    total = sum(flops.values())
    cuts = _single_cuts(graph_module)
    best: tuple[float, fx.Node, Geometry] | None = None
    done = 0.0
    for node in graph_module.graph.nodes:
        done += flops.get(node.name, 0)
        geometry = _geometry(supports.get(node.name), probe, example.shape[-2:]) if node in cuts else None
        if geometry is None:
            continue
        cost = _cost(geometry, regions, done, total)
        if cost <= (1 - MIN_SAVING) * total and (best is None or cost < best[0]):
            best = (cost, node, geometry)
    if best is None:
        return None
    _, node, geometry = best
    split = PrefixSplit(_prefix(graph_module, node), _suffix(graph_module, node), geometry)
    try:
        return split if _verified(split, model, example, regions) else None
    except (RuntimeError, ValueError):  # e.g. a layer tied to the full input size, refusing a crop
        return None


def _geometry(support: np.ndarray | None, probe: tuple[int, int], size: torch.Size) -> Geometry | None:
    """Stride and windows of a local value, from the pixels one probed input pixel reaches.

    Pixel o depends on input offsets D = [d0, d1] relative to o * stride, so the probe at c reaches rows
    f0 = ceil((c - d1) / s) .. f1 = floor((c - d0) / s); hence D lies within [c - (f1 + 1)s + 1, c - (f0 - 1)s - 1].
    """
    if support is None:
        return None
    height, width = support.shape
    stride = size[0] // height
    if stride < 1 or size[0] != stride * height or size[1] != stride * width:
        return None
    rows, cols = np.nonzero(support.any(axis=1))[0], np.nonzero(support.any(axis=0))[0]
    if not len(rows) or rows[0] == 0 or cols[0] == 0 or rows[-1] == height - 1 or cols[-1] == width - 1:
        return None  # no dependence on the input, or a window as large as the image: nothing to save

    def window(centre: int, reached: np.ndarray) -> Window:
        return Window(int(centre - (reached[-1] + 1) * stride + 1), int(centre - (reached[0] - 1) * stride - 1))

    return Geometry(stride, window(probe[0], rows), window(probe[1], cols), (height, width))


def _single_cuts(graph_module: fx.GraphModule) -> set[fx.Node]:
    """Nodes whose value is the only one computed at or before them that is used after them."""
    nodes = list(graph_module.graph.nodes)
    position = {n: k for k, n in enumerate(nodes)}
    last_use = [max((position[u] for u in n.users), default=k) if n.op != "get_attr" else k for k, n in enumerate(nodes)]
    cuts, reach_before = set(), -1
    for k, node in enumerate(nodes):
        if node.op not in ("placeholder", "output", "get_attr") and reach_before <= k < last_use[k]:
            cuts.add(node)
        reach_before = max(reach_before, last_use[k])
    return cuts


def _profile(graph_module: fx.GraphModule, example: torch.Tensor) -> tuple[dict[str, int], dict[str, np.ndarray], tuple[int, int]]:
    """One pass that estimates every node's FLOPs and marks, for 4-D values, the pixels one NaN input pixel reaches."""
    probe = (example.shape[-2] // 2, example.shape[-1] // 2)
    poisoned = example.clone()
    poisoned[..., probe[0], probe[1]] = float("nan")
    profiler = _Profiler(graph_module)
    with torch.no_grad():
        profiler.run(poisoned)
    return profiler.flops, profiler.supports, probe


class _Profiler(fx.Interpreter):
    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.flops: dict[str, int] = {}
        self.supports: dict[str, np.ndarray] = {}

    def run_node(self, n: fx.Node) -> object:
        result = super().run_node(n)
        self.flops[n.name] = _flops(self.fetch_attr(str(n.target)), result) if n.op == "call_module" else 0
        if isinstance(result, torch.Tensor) and result.ndim == 4 and result.is_floating_point():
            self.supports[n.name] = torch.isnan(result).any(dim=1)[0].cpu().numpy()
        return result


def _flops(module: nn.Module, output: object) -> int:
    """Multiply-adds x 2 of convolutions and linear layers, which dominate a CNN's cost; other layers count 0."""
    if isinstance(module, (nn.Conv2d, nn.Linear)) and isinstance(output, torch.Tensor):
        return 2 * output.numel() * module.weight[0].numel()
    return 0


def _prefix(graph_module: fx.GraphModule, node: fx.Node) -> fx.GraphModule:
    graph = fx.Graph()
    copies: dict[fx.Node, fx.Node] = {}
    graph.graph_copy(graph_module.graph, copies)
    graph.output(copies[node])
    return _pruned(fx.GraphModule(graph_module, graph))


def _suffix(graph_module: fx.GraphModule, node: fx.Node) -> fx.GraphModule:
    graph = fx.Graph()
    copies: dict[fx.Node, fx.Node] = {}
    graph.output(graph.graph_copy(graph_module.graph, copies))
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    with graph.inserting_before(inputs[0]):
        activation = graph.placeholder("activation")
    copies[node].replace_all_uses_with(activation)
    return _pruned(fx.GraphModule(graph_module, graph), inputs)


def _pruned(module: fx.GraphModule, unused_inputs: Sequence[fx.Node] = ()) -> fx.GraphModule:
    """Drops nodes the output does not need (and the given placeholders, then unused), and recompiles."""
    module.graph.eliminate_dead_code()
    for node in unused_inputs:
        module.graph.erase_node(node)
    module.recompile()
    return module


def _cost(geometry: Geometry, regions: np.ndarray, prefix_flops: float, total: float) -> float:
    """Estimated FLOPs of one curve step: the prefix on a crop plus the suffix on the whole activation."""
    crop = geometry.patches(regions)[0].crop
    height, width = geometry.activation_shape
    share = (crop.bottom - crop.top) * (crop.right - crop.left) / (height * width)
    return prefix_flops * share + (total - prefix_flops)


def _verified(split: PrefixSplit, model: nn.Module, example: torch.Tensor, regions: np.ndarray) -> bool:
    """The split reproduces the model, and patching reproduces the prefix for the centre region."""
    generator = torch.Generator().manual_seed(0)
    patches = split.geometry.patches(regions)
    with torch.no_grad():
        base = split.prefix(example)
        if not _close(split.suffix(base.clone()), model(example)):  # the suffix may work in place
            return False
        index = int(regions[regions.shape[0] // 2, regions.shape[1] // 2])
        mask = torch.from_numpy(regions == index).to(example.device)
        changed = torch.where(mask, torch.randn(example.shape, generator=generator).to(example.device), example)
        crop = patches[index].crop.scaled(split.geometry.stride).take(changed)
        return _close(paste(base, split.prefix(crop), patches[index]), split.prefix(changed))


def paste(activation: torch.Tensor, computed: torch.Tensor, patch: RegionPatch) -> torch.Tensor:
    """A copy of ``activation`` with the patch's footprint taken from ``computed`` (the crop's prefix)."""
    result = activation.clone()
    footprint = patch.footprint
    source = footprint.shifted(patch.crop.top, patch.crop.left)
    result[..., footprint.top : footprint.bottom, footprint.left : footprint.right] = source.take(computed)
    return result


def _close(actual: torch.Tensor, expected: torch.Tensor) -> bool:
    scale = float(expected.abs().max()) or 1.0
    return bool(torch.allclose(actual, expected, rtol=CHECK_RTOL, atol=CHECK_RTOL * scale))


def _bounds(mask: np.ndarray) -> Box:
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return Box(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
