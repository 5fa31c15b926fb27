"""The explanation pipeline shared by the CLI, batch runs and the GUI worker.

``run_explain`` is a generator: it yields one :class:`ImageResult` per input, in order,
reports :class:`Progress` through a callback and stops early when the :class:`CancelToken`
is set. Requests and results are frozen dataclasses holding plain data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from camviewer import errors
from camviewer.explain.cams import CAM_METHODS
from camviewer.explain.engine import compute_cams
from camviewer.explain.layers import TargetLayer, locate_layer
from camviewer.explain.targets import resolve_targets
from camviewer.io import load_image
from camviewer.model.build import LoadedModel
from camviewer.model.predict import probabilities
from camviewer.model.preprocess import ModelInput, prepare


@dataclass(frozen=True)
class ExplainRequest:
    images: tuple[Path, ...]
    methods: tuple[str, ...] = ("gradcam",)
    targets: str = "top1"
    layer: str | None = None
    batch_size: int = 8
    request_id: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in CAM_METHODS]
        if unknown:
            raise errors.UsageError(f"unknown method {unknown[0]!r}; available: {', '.join(CAM_METHODS)}")
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


@dataclass(frozen=True)
class Progress:
    request_id: int
    done: int
    total: int


class CancelToken:
    """Set from any thread; the pipeline checks it between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def run_explain(
    request: ExplainRequest,
    model: LoadedModel,
    progress: Callable[[Progress], None] | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[ImageResult]:
    """Predict and explain every image of the request, batch by batch."""
    layer = _layer(model, request.layer)
    total, done = len(request.images), 0
    for start in range(0, total, request.batch_size):
        if cancel is not None and cancel.cancelled:
            return
        chunk = request.images[start : start + request.batch_size]
        yield from _explain_chunk(request, model, layer, chunk)
        done += len(chunk)
        if progress is not None:
            progress(Progress(request.request_id, done, total))


def _layer(model: LoadedModel, name: str | None) -> TargetLayer:
    spec = model.card.input
    example = torch.zeros(1, spec.channels, *spec.size, device=model.device)
    return locate_layer(model.module, example, name or model.default_layer)


def _explain_chunk(request: ExplainRequest, model: LoadedModel, layer: TargetLayer, paths: Sequence[Path]) -> Iterator[ImageResult]:
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
    request: ExplainRequest, model: LoadedModel, layer: TargetLayer, inputs: list[ModelInput]
) -> list[tuple[tuple[Prediction, ...], tuple[Explanation, ...]]]:
    if not inputs:
        return []
    batch = torch.stack([i.tensor for i in inputs]).to(model.device)
    classes = model.card.classes

    def choose(logits: np.ndarray) -> list[tuple[int, ...]]:
        return [resolve_targets(request.targets, classes, row) for row in probabilities(logits, model.card.multilabel)]

    logits, cams = compute_cams(model.module, batch, choose, request.methods, layer)
    probs = probabilities(logits, model.card.multilabel)
    out = []
    for b, per_target in enumerate(cams):
        predictions = tuple(
            Prediction(int(i), classes[i], float(logits[b, i]), float(probs[b, i])) for i in np.argsort(-probs[b], kind="stable")
        )
        explanations = tuple(
            Explanation(m, r.target_index, classes[r.target_index], layer.name, r.maps[m], CAM_METHODS[m].signed, r.checks[m])
            for r in per_target
            for m in request.methods
        )
        out.append((predictions, explanations))
    return out
