"""One unit of batch work: a few images read, predicted, explained and measured, into records.

The same function runs in the driver (the window, a GPU run) or in a worker process; it needs only
a :class:`~camviewer.engine.ModelSession` and the run's :class:`~camviewer.batch.config.BatchConfig`.
Each image's noise key comes from its relative path, so its x^(k) are the same whatever chunk,
worker or resumed run it lands in. The explained target is the top-1 prediction.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from camviewer import errors
from camviewer.batch.config import BatchConfig
from camviewer.batch.records import OK, Artefacts, ImageRecord, Located, MethodRecord, Sensed, failed
from camviewer.batch.source import Entry, check_unchanged
from camviewer.batch.truth import Truth, load_mask
from camviewer.engine import DecodedImage, EvaluateRequest, EvaluationResult, ExplainRequest, ImageResult, ModelSession, run_explain
from camviewer.engine.evaluate import NOISE_STRIDE, measure_explained
from camviewer.explain.targets import TopK
from camviewer.geometry import resize
from camviewer.io import load_image
from camviewer.io.write import encode_png
from camviewer.metrics.haas import heatmap_assisted
from camviewer.metrics.localisation import localisation, mask_from_boxes
from camviewer.model.preprocess import normalise, to_pixel_scale
from camviewer.render.overlay import OverlayStyle, for_map, overlay
from camviewer.render.overlay import normalise as display_scale

THUMBNAIL_SIDE = 96
FINDING_THRESHOLD = 0.5  # a multi-label model predicts a finding at this probability and above


@dataclass(frozen=True)
class Task:
    """One image of the run and its ground truth."""

    entry: Entry
    truth: Truth | None = None


@dataclass(frozen=True, eq=False)
class Outcome:
    record: ImageRecord
    artefacts: Artefacts
    entry: Entry


def noise_key(path: str) -> int:
    """A stable key in 0..NOISE_STRIDE-1 from the image's relative path."""
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big") % NOISE_STRIDE


def decode(task: Task) -> DecodedImage | Outcome:
    """The image read, or its failed row (changed since listed, missing, unreadable, ...)."""
    entry = task.entry
    problem = check_unchanged(entry)
    if problem is None:
        try:
            return DecodedImage(load_image(entry.file), entry.file)
        except errors.InputError as exc:
            problem = exc.reason
    return failure(entry, problem, task.truth)


def failure(entry: Entry, reason: str, truth: Truth | None = None) -> Outcome:
    label = truth.label if truth is not None else None
    return Outcome(ImageRecord(entry.path, failed(reason), label=label), Artefacts(), entry)


def evaluate_tasks(tasks: Sequence[Task], decoded: Sequence[DecodedImage | Outcome], session: ModelSession,
                   config: BatchConfig, batch_size: int | None = None) -> list[Outcome]:
    """Outcomes in the tasks' order: forward passes (explanations, curves, HAAS) shared across the images."""
    readable = [(t, d) for t, d in zip(tasks, decoded) if isinstance(d, DecodedImage)]
    request = ExplainRequest(tuple(d for _, d in readable), config.methods, (TopK(1),), config.layer, batch_size=max(1, len(readable)))
    explained = list(run_explain(request, session)) if readable else []
    done: dict[int, Outcome] = {}
    for (task, _), result in zip(readable, explained):
        if result.error is not None:
            done[id(task)] = failure(task.entry, result.error.reason, task.truth)
    measured = [(t, r) for (t, _), r in zip(readable, explained) if r.error is None and _explains(config, session, t, r)]
    evaluations = _measure(config, session, measured, batch_size)
    assisted = _assisted_matches(config, session, measured)
    for k, ((task, result), per_grid) in enumerate(zip(measured, evaluations)):
        done[id(task)] = _outcome(config, session, task, result, per_grid, assisted[k])
    for (task, _), result in zip(readable, explained):
        done.setdefault(id(task), Outcome(_record(session, task, result, ()), Artefacts(), task.entry))
    return [d if isinstance(d, Outcome) else done[id(t)] for t, d in zip(tasks, decoded)]


def _explains(config: BatchConfig, session: ModelSession, task: Task, result: ImageResult) -> bool:
    """Whether the image is measured: always, or with ``only_correct`` when its prediction is right."""
    return not config.only_correct or _correct(session, task.truth, result) is True


def _measure(config: BatchConfig, session: ModelSession, measured: Sequence[tuple[Task, ImageResult]],
             batch_size: int | None) -> list[list[EvaluationResult]]:
    """Per image, its evaluation at each grid (Max Sensitivity at the first grid only: it does not depend on it)."""
    if not measured:
        return []
    keys = [noise_key(t.entry.path) for t, _ in measured]
    results = [r for _, r in measured]
    per_grid = []
    for k, grid in enumerate(config.grids):
        request = EvaluateRequest((), config.methods, (TopK(1),), config.layer, grid, config.perturbation, seed=config.seed,
                                  sensitivity=config.sensitivity if k == 0 else (), batch_size=batch_size)
        per_grid.append(measure_explained(request, session, results, keys))
    return [list(grids) for grids in zip(*per_grid)]


def _outcome(config: BatchConfig, session: ModelSession, task: Task, result: ImageResult, per_grid: list[EvaluationResult],
             assisted: dict[str, int]) -> Outcome:
    masks, warnings = _truth_mask(task, result)
    methods = []
    for e in result.explanations:
        curves = [next(c for c in evaluation.curves if c.method == e.method) for evaluation in per_grid]
        sensed = tuple(Sensed(s.value.radius, s.value.samples, s.value.absolute, s.value.relative)
                       for s in per_grid[0].sensitivity if s.method == e.method)
        located = _located(result, e.map, masks) if masks is not None else None
        methods.append(MethodRecord(e.method, tuple(c.aopc for c in curves), tuple(tuple(float(v) for v in c.values) for c in curves),
                                    sensed, assisted.get(e.method), located))
    record = _record(session, task, result, tuple(methods), per_grid[0].warnings + warnings)
    maps = {e.method: e.map.astype(np.float32) for e in result.explanations}
    thumbs = {e.method: _thumbnail(result, e.map, e.signed) for e in result.explanations}
    return Outcome(record, Artefacts(maps, thumbs), task.entry)


def _record(session: ModelSession, task: Task, result: ImageResult, methods: tuple[MethodRecord, ...],
            warnings: tuple[str, ...] | None = None) -> ImageRecord:
    top = result.predictions[0]
    truth = task.truth
    matches = _matches(session, truth, result)
    label_count = None if truth is None or truth.indices is None else (len(session.card.classes) if session.card.multilabel else 1)
    return ImageRecord(task.entry.path, OK, top.index, top.label, top.probability, truth.label if truth else None,
                       _correct(session, truth, result), matches, label_count, methods,
                       (result.warnings if warnings is None else warnings) + result.scope, _findings(session, result))


def _probabilities(session: ModelSession, result: ImageResult) -> np.ndarray:
    out = np.zeros(len(session.card.classes))
    for p in result.predictions:
        out[p.index] = p.probability
    return out


def _found(probabilities: np.ndarray) -> np.ndarray:
    """Which findings a multi-label model predicts: probability >= FINDING_THRESHOLD."""
    return probabilities >= FINDING_THRESHOLD


def _findings(session: ModelSession, result: ImageResult) -> tuple[str, ...] | None:
    """A multi-label model's predicted label set (None for single-label)."""
    if not session.card.multilabel:
        return None
    return tuple(session.card.classes[k] for k in np.nonzero(_found(_probabilities(session, result)))[0])


def _correct(session: ModelSession, truth: Truth | None, result: ImageResult) -> bool | None:
    """Single-label: top-1 equals the label; multi-label: the findings with probability >= 0.5 equal the labels."""
    if truth is None or truth.indices is None:
        return None
    if session.card.multilabel:
        return {int(k) for k in np.nonzero(_found(_probabilities(session, result)))[0]} == set(truth.indices)
    return result.predictions[0].index in truth.indices


def _matches(session: ModelSession, truth: Truth | None, result: ImageResult, probabilities: np.ndarray | None = None) -> int | None:
    """Labels right: 0 or 1 (single-label), or the findings whose [p >= 0.5] equals the label (multi-label)."""
    if truth is None or truth.indices is None:
        return None
    probs = _probabilities(session, result) if probabilities is None else probabilities
    if session.card.multilabel:
        wanted = np.zeros(len(probs), dtype=bool)
        wanted[list(truth.indices)] = True
        return int(np.sum(_found(probs) == wanted))
    return int(int(np.argmax(probs)) in truth.indices)


def _assisted_matches(config: BatchConfig, session: ModelSession, measured: Sequence[tuple[Task, ImageResult]]) -> list[dict[str, int]]:
    """HAAS: per image and method, the labels right on the heatmap-assisted image HA(x, a)."""
    out: list[dict[str, int]] = [{} for _ in measured]
    chosen = [(k, t, r, e) for k, (t, r) in enumerate(measured) if config.haas and t.truth and t.truth.indices is not None
              for e in r.explanations]
    if not chosen:
        return out
    spec = session.spec
    assisted = np.stack([heatmap_assisted(to_pixel_scale(r.model_input.pixels, spec), spec.value_range, e.map)  # type: ignore[union-attr]
                         for _, _, r, e in chosen]).astype(np.float32)
    with torch.inference_mode():
        logits = torch.cat([session.module(normalise(torch.from_numpy(part).to(session.device), spec)).float().cpu()
                            for part in np.array_split(assisted, math.ceil(len(assisted) / session.forward_batch_size))])
    scores = torch.sigmoid(logits) if session.card.multilabel else torch.softmax(logits, dim=1)
    for (k, task, result, e), probs in zip(chosen, scores.numpy()):
        out[k][e.method] = _matches(session, task.truth, result, probs) or 0
    return out


def _truth_mask(task: Task, result: ImageResult) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """The image's ground-truth mask at source size (from a mask file or boxes), or a warning why not."""
    truth = task.truth
    if truth is None or result.image is None or (truth.mask is None and not truth.boxes):
        return None, ()
    shape = result.image.values.shape[:2]
    if truth.mask is not None:
        try:
            return load_mask(truth.mask, shape), ()
        except errors.InputError as exc:
            return None, (f"no localisation: {exc.message}",)
    mask = mask_from_boxes(shape, truth.boxes)
    return (mask, ()) if mask.any() else (None, ("no localisation: the boxes lie outside the image",))


def _located(result: ImageResult, raw: np.ndarray, mask: np.ndarray) -> Located | None:
    assert result.model_input is not None
    on_source = result.model_input.geometry.to_source(raw)
    if not np.isfinite(on_source).all():
        return None
    found = localisation(on_source, mask)
    return Located(found.pointing_game, found.energy, found.iou)


def _thumbnail(result: ImageResult, raw: np.ndarray, signed: bool) -> bytes:
    """A small PNG of the map over the image as the model saw it."""
    assert result.model_input is not None
    pixels = result.model_input.pixels
    rows, cols = pixels.shape[:2]
    scale = min(1.0, THUMBNAIL_SIDE / max(rows, cols))
    small = resize(pixels, (max(1, round(rows * scale)), max(1, round(cols * scale))))
    return encode_png(overlay(small, display_scale(raw, signed), style=for_map(OverlayStyle(), signed)))
