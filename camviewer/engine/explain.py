"""``run_explain``: predictions and explanations per image, batch by batch, in input order.

CAM methods come from one shared forward/backward pass per batch; LRP runs per method. Images
are decoded a batch at a time, and a batch also ends when its decoded images reach
``DECODED_BUDGET`` bytes, so very large radiographs never pile up in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from camviewer import errors
from camviewer.engine.requests import DecodedImage, ExplainRequest, ImageSource
from camviewer.engine.results import Explanation, ImageResult, Prediction
from camviewer.engine.scope import scope_warnings
from camviewer.engine.session import ModelSession
from camviewer.explain.cams import CAM_METHODS
from camviewer.explain.engine import compute_cams
from camviewer.explain.lrp import LRP_METHODS, compute_lrp
from camviewer.explain.targets import check_targets, resolve_targets
from camviewer.io import XrayImage, load_image
from camviewer.model.predict import probabilities
from camviewer.model.preprocess import ModelInput
from camviewer.progress import CancelToken, Progress, ProgressCallback, raise_if_cancelled

LRP_LAYER = "input"
DECODED_BUDGET = 1 << 30


@dataclass(frozen=True, eq=False)
class _Decoded:
    index: int
    path: Path | None
    image: XrayImage
    model_input: ModelInput


class _Plane(NamedTuple):
    """One method's map for one image and target, before it becomes an Explanation."""

    target: int
    map: np.ndarray
    checks: dict[str, Any]
    layer: str


def source_path(source: ImageSource) -> Path | None:
    return source.path if isinstance(source, DecodedImage) else Path(source)


def check_request(request: ExplainRequest, session: ModelSession) -> None:
    """What needs the model: class names and indices, and the named target layer."""
    check_targets(request.targets, session.card.classes)
    if any(m in CAM_METHODS for m in request.methods):
        session.layer(request.layer)


def run_explain(request: ExplainRequest, session: ModelSession, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> Iterator[ImageResult]:
    """One ImageResult per input, in order; raises Cancelled between batches when ``cancel`` is set.

    What needs the model is checked now, before the first image is read (UsageError).
    """
    check_request(request, session)
    return _explain(request, session, progress, cancel)


def _explain(request: ExplainRequest, session: ModelSession, progress: ProgressCallback | None,
             cancel: CancelToken | None) -> Iterator[ImageResult]:
    total = len(request.images)
    for batch in decoded_batches(request, session, cancel):
        yield from explain_batch(request, session, batch)
        if progress is not None:
            progress(Progress(request.request_id, "images", batch[-1].index + 1, total))


def decoded_batches(request: ExplainRequest, session: ModelSession,
                    cancel: CancelToken | None) -> Iterator[list[_Decoded | ImageResult]]:
    """Inputs decoded and prepared, ``batch_size`` at a time (fewer when they are large); failures in place."""
    batch: list[_Decoded | ImageResult] = []
    held = 0
    for index, source in enumerate(request.images):
        if not batch:
            raise_if_cancelled(cancel)
        item = _decode(request, session, index, source)
        batch.append(item)
        held += item.image.values.nbytes if isinstance(item, _Decoded) else 0
        if len(batch) == request.batch_size or held >= DECODED_BUDGET:
            yield batch
            batch, held = [], 0
    if batch:
        yield batch


def _decode(request: ExplainRequest, session: ModelSession, index: int, source: ImageSource) -> _Decoded | ImageResult:
    path = source_path(source)
    try:
        image = source.image if isinstance(source, DecodedImage) else load_image(source)
        return _Decoded(index, path, image, session.prepare(image))
    except errors.InputError as exc:
        return ImageResult(request.request_id, index, path, error=exc)


def explain_batch(request: ExplainRequest, session: ModelSession, batch: Sequence[_Decoded | ImageResult]) -> list[ImageResult]:
    decoded = [item for item in batch if isinstance(item, _Decoded)]
    outcomes = iter(_run_model(request, session, [d.model_input for d in decoded]))
    results = []
    for item in batch:
        if isinstance(item, ImageResult):
            results.append(item)
            continue
        predictions, explanations = next(outcomes)
        scope = scope_warnings(session.card.intended_use, item.image)
        results.append(ImageResult(request.request_id, item.index, item.path, predictions, explanations, item.model_input,
                                   item.image, item.image.warnings, scope=scope))
    return results


def _run_model(request: ExplainRequest, session: ModelSession,
               inputs: list[ModelInput]) -> list[tuple[tuple[Prediction, ...], tuple[Explanation, ...]]]:
    """Predictions and explanations per input: CAMs from one shared pass, then LRP per method."""
    if not inputs:
        return []
    batch = torch.stack([i.tensor for i in inputs]).to(session.device)
    classes, multilabel = session.card.classes, session.card.multilabel

    def choose(logits: np.ndarray) -> list[tuple[int, ...]]:
        return [resolve_targets(request.targets, classes, row) for row in probabilities(logits, multilabel)]

    cam_methods = [m for m in request.methods if m in CAM_METHODS]
    maps: dict[str, list[list[_Plane]]] = {}
    targets: list[tuple[int, ...]]
    if cam_methods:
        layer = session.layer(request.layer)
        logits, cams = compute_cams(session.module, batch, choose, cam_methods, layer)
        maps |= {m: [[_Plane(r.target_index, r.maps[m], r.checks[m], layer.name) for r in per] for per in cams] for m in cam_methods}
        targets = [tuple(r.target_index for r in per) for per in cams]
    else:
        with torch.no_grad():
            logits = session.module(batch).float().cpu().numpy()
        targets = choose(logits)
    for method in (m for m in request.methods if m in LRP_METHODS):
        lrp = compute_lrp(session.module, batch, targets, method, session.bounds)
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
