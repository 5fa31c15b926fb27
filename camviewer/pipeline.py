"""The explanation pipeline shared by the CLI, batch runs and the GUI worker.

``run_explain`` is a generator: it yields one :class:`ImageResult` per input, in order,
reports :class:`Progress` through a callback and stops early when the :class:`CancelToken`
is set. Requests and results are frozen dataclasses holding plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from camviewer import errors
from camviewer.explain.cams import CAM_METHODS
from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import TargetLayer, locate_layer
from camviewer.explain.lrp import LRP_METHODS, compute_lrp, input_bounds
from camviewer.explain.targets import resolve_targets
from camviewer.io import load_image
from camviewer.model.build import LoadedModel
from camviewer.model.predict import probabilities
from camviewer.model.preprocess import ModelInput, prepare
from camviewer.progress import CancelToken, Progress, raise_if_cancelled


METHOD_NAMES: tuple[str, ...] = (*CAM_METHODS, *LRP_METHODS)
LRP_LAYER = "input"


@dataclass(frozen=True)
class ExplainRequest:
    images: tuple[Path, ...]
    methods: tuple[str, ...] = ("gradcam",)
    targets: str = "top1"
    layer: str | None = None
    batch_size: int = 8
    request_id: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHOD_NAMES]
        if unknown:
            raise errors.UsageError(f"unknown method {unknown[0]!r}; available: {', '.join(METHOD_NAMES)}")
        if not self.methods:
            raise errors.UsageError("no method requested")
        if self.batch_size < 1:
            raise errors.UsageError("batch size must be at least 1")


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    logit: float
    probability: float


@dataclass(frozen=True, eq=False)
class Explanation:
    method: str
    target_index: int
    target_label: str
    layer: str
    map: np.ndarray
    signed: bool
    checks: dict[str, Any]


@dataclass(frozen=True, eq=False)
class ImageResult:
    request_id: int
    path: Path
    predictions: tuple[Prediction, ...] = ()
    explanations: tuple[Explanation, ...] = ()
    model_input: ModelInput | None = None
    warnings: tuple[str, ...] = ()
    error: errors.CamviewerError | None = None


class _Plane(NamedTuple):
    """One method's map for one image and target, before it becomes an Explanation."""

    target: int
    map: np.ndarray
    checks: dict[str, Any]
    layer: str


def run_explain(
    request: ExplainRequest,
    model: LoadedModel,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ImageResult]:
    """Predict and explain every image of the request, batch by batch."""
    uses_cams = any(m in CAM_METHODS for m in request.methods)
    layer = _layer(model, request.layer) if uses_cams else None
    total, done = len(request.images), 0
    for start in range(0, total, request.batch_size):
        raise_if_cancelled(cancel)
        chunk = request.images[start : start + request.batch_size]
        yield from _explain_chunk(request, model, layer, chunk)
        done += len(chunk)
        if progress is not None:
            progress(Progress(request.request_id, "images", done, total))


def _layer(model: LoadedModel, name: str | None) -> TargetLayer:
    spec = model.card.input
    example = torch.zeros(1, spec.channels, *spec.size, device=model.device)
    return locate_layer(model.module, example, name or model.default_layer)


def _explain_chunk(
    request: ExplainRequest, model: LoadedModel, layer: TargetLayer | None, paths: Sequence[Path]
) -> Iterator[ImageResult]:
    prepared: dict[int, tuple[ModelInput, tuple[str, ...]]] = {}
    failures: dict[int, errors.CamviewerError] = {}
    for k, path in enumerate(paths):
        try:
            image = load_image(path)
            prepared[k] = (prepare(image, model.card.input), image.warnings)
        except errors.InputError as exc:
            failures[k] = exc
    outcomes = _run_model(request, model, layer, [prepared[k][0] for k in sorted(prepared)])
    ordered = iter(outcomes)
    for k, path in enumerate(paths):
        if k in failures:
            yield ImageResult(request.request_id, Path(path), error=failures[k])
            continue
        predictions, explanations = next(ordered)
        model_input, warnings = prepared[k]
        yield ImageResult(request.request_id, Path(path), predictions, explanations, model_input, warnings)


def _run_model(
    request: ExplainRequest, model: LoadedModel, layer: TargetLayer | None, inputs: list[ModelInput]
) -> list[tuple[tuple[Prediction, ...], tuple[Explanation, ...]]]:
    """Predictions and explanations per input: CAMs from one shared pass, then LRP per method."""
    if not inputs:
        return []
    batch = torch.stack([i.tensor for i in inputs]).to(model.device)
    classes, multilabel = model.card.classes, model.card.multilabel

    def choose(logits: np.ndarray) -> list[tuple[int, ...]]:
        return [resolve_targets(request.targets, classes, row) for row in probabilities(logits, multilabel)]

    cam_methods = [m for m in request.methods if m in CAM_METHODS]
    maps: dict[str, list[list[_Plane]]] = {}
    if layer is not None:
        logits, cams = compute_cams(model.module, batch, choose, cam_methods, layer)
        maps |= {m: [[_Plane(r.target_index, r.maps[m], r.checks[m], layer.name) for r in per] for per in cams] for m in cam_methods}
        targets = [[r.target_index for r in per] for per in cams]
    else:
        with torch.no_grad():
            logits = model.module(batch).float().cpu().numpy()
        targets = choose(logits)
    spec = model.card.input
    for method in (m for m in request.methods if m in LRP_METHODS):
        lrp = compute_lrp(model.module, batch, targets, method, input_bounds(spec.value_range, spec.mean, spec.std))
        maps[method] = [[_Plane(r.target_index, r.map, r.checks, LRP_LAYER) for r in per] for per in lrp]
    probs = probabilities(logits, multilabel)
    return [(_predictions(logits[b], probs[b], classes), _explanations(request.methods, maps, b, classes)) for b in range(len(inputs))]


def _predictions(logits: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> tuple[Prediction, ...]:
    order = np.argsort(-probs, kind="stable")
    return tuple(Prediction(int(i), classes[i], float(logits[i]), float(probs[i])) for i in order)


def _explanations(methods: Sequence[str], maps: dict[str, list[list[_Plane]]], b: int, classes: Sequence[str]) -> tuple[Explanation, ...]:
    """Per target, the methods in the order asked."""
    out = []
    for r in range(len(maps[methods[0]][b])):
        for method in methods:
            p = maps[method][b][r]
            signed = CAM_METHODS[method].signed if method in CAM_METHODS else True
            out.append(Explanation(method, p.target, classes[p.target], p.layer, p.map, signed, p.checks))
    return tuple(out)
