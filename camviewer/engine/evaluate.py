"""``run_evaluate``: perturbation curves, AOPC and Max Sensitivity of each explanation, per image.

Images are explained and measured a batch at a time (the curves' forward passes shared across
the batch's images), so memory stays flat in the number of images. Each image's noise field and
random order come from (seed, the image's input position), so an image gets the same x^(k)
whatever else is in the run, its methods share one random order, and the random baseline
averages over many orders across images.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch

from camviewer.engine.explain import check_request, decoded_batches, explain_batch
from camviewer.engine.requests import EvaluateRequest
from camviewer.engine.results import EvaluationResult, ImageResult, SensitivityResult
from camviewer.engine.session import ModelSession
from camviewer.explain.cams import CAM_METHODS
from camviewer.metrics.aopc import Curve, CurveImage, CurveRequest, early_collapse, perturbation_curves
from camviewer.metrics.perturbation import fully_perturbed
from camviewer.metrics.regions import rank_regions, region_map
from camviewer.metrics.sensitivity import Explainer, cam_explainer, lrp_explainer, max_sensitivity
from camviewer.model.preprocess import normalise, to_pixel_scale
from camviewer.progress import CancelToken, Progress, ProgressCallback

NOISE_STRIDE = 1_000_003


def check_evaluation(request: EvaluateRequest, session: ModelSession) -> None:
    """What needs the model: targets, layer, the grid and a blur against the input size."""
    check_request(request.explanation(), session)
    region_map(session.spec.size, request.grid)
    request.perturbation.check_for(session.spec.size)


def run_evaluate(request: EvaluateRequest, session: ModelSession, progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None) -> Iterator[EvaluationResult]:
    """One EvaluationResult per input, in order; raises Cancelled between batches when ``cancel`` is set.

    What needs the model is checked now, before the first image is read (UsageError).
    """
    check_evaluation(request, session)
    return _evaluations(request, session, progress, cancel)


def _evaluations(request: EvaluateRequest, session: ModelSession, progress: ProgressCallback | None,
                 cancel: CancelToken | None) -> Iterator[EvaluationResult]:
    explanation = request.explanation()
    total = len(request.images)
    for batch in decoded_batches(explanation, session, cancel):
        explained = explain_batch(explanation, session, batch)
        for result in measure_explained(request, session, explained, progress=progress, cancel=cancel):
            yield result
            if progress is not None:
                progress(Progress(request.request_id, "images", result.explained.index + 1, total))


def measure_explained(request: EvaluateRequest, session: ModelSession, explained: Sequence[ImageResult],
                      keys: Sequence[int] | None = None, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> list[EvaluationResult]:
    """Curves and Max Sensitivity of images already explained, in their order; failed ones pass through.

    The curves' forward passes are shared across the images (fuller batches). ``keys`` are the
    images' noise keys (default: each one's input index), so a batch run can give an image the same
    x^(k) whatever run, chunk or worker it lands in; a key must be below ``NOISE_STRIDE``.
    """
    keys = [r.index for r in explained] if keys is None else list(keys)
    if any(not 0 <= k < NOISE_STRIDE for k in keys):
        raise ValueError(f"noise keys must be 0..{NOISE_STRIDE - 1}")
    measured = [(r, k) for r, k in zip(explained, keys) if r.error is None]
    spec = session.spec
    regions = region_map(spec.size, request.grid)
    images, curve_requests, owners = [], [], []
    for slot, (result, key) in enumerate(measured):
        assert result.model_input is not None
        pixels = to_pixel_scale(result.model_input.pixels, spec)
        image_seed = request.seed * NOISE_STRIDE + key
        images.append(CurveImage(pixels, fully_perturbed(pixels, request.perturbation, image_seed)))
        for e in result.explanations:
            for order in request.orders:
                curve_requests.append(CurveRequest(slot, e.method, e.target_index, order,
                                                   rank_regions(e.map, regions, request.grid, order, image_seed)))
                owners.append(slot)
    curves = perturbation_curves(session.module, spec, images, curve_requests, regions, request.length,
                                 score=request.score, multilabel=session.card.multilabel,
                                 batch_size=request.batch_size or session.forward_batch_size,
                                 incremental=request.incremental, splits=session.splits, progress=progress, cancel=cancel,
                                 request_id=request.request_id)
    per_image: list[list[Curve]] = [[] for _ in measured]
    for owner, curve in zip(owners, curves):
        per_image[owner].append(curve)
    done = {id(result): EvaluationResult(result, tuple(mine), _sensitivity(request, session, result, image),
                                         result.warnings + _collapse_warnings(request, session, mine))
            for (result, key), image, mine in zip(measured, images, per_image)}
    return [done.get(id(r), EvaluationResult(r)) for r in explained]


def _collapse_warnings(request: EvaluateRequest, session: ModelSession, curves: list[Curve]) -> tuple[str, ...]:
    """A warning per target whose random-order probability curve collapses early (:func:`early_collapse`)."""
    if request.score != "prob":
        return ()
    found = {}
    for curve in (c for c in curves if c.order == "random"):
        step = early_collapse(curve.values)
        if step is not None and curve.target_index not in found:
            found[curve.target_index] = (f"the perturbation ({request.perturbation}) collapses the model: the random-order curve "
                                         f"of {session.card.classes[curve.target_index]} falls below half its start at step "
                                         f"{step} of {request.length}; AOPC then measures the perturbation, not the explanation")
    return tuple(found.values())


def _sensitivity(request: EvaluateRequest, session: ModelSession, result: ImageResult,
                 image: CurveImage) -> tuple[SensitivityResult, ...]:
    if not request.sensitivity:
        return ()
    pixels = torch.from_numpy(image.pixels).to(session.device)
    batch = request.batch_size or session.forward_batch_size
    out = []
    for e in result.explanations:
        explain = _explainer(request, session, e.method, e.target_index)
        for spec in request.sensitivity:
            value = max_sensitivity(explain, pixels, lambda p: normalise(p, session.spec), spec.radius, spec.samples,
                                    request.seed, batch_size=batch)
            out.append(SensitivityResult(e.method, e.target_index, value))
    return tuple(out)


def _explainer(request: EvaluateRequest, session: ModelSession, method: str, target: int) -> Explainer:
    if method in CAM_METHODS:
        return cam_explainer(session.module, session.layer(request.layer), method, target)
    return lrp_explainer(session.module, method, target, session.bounds)
