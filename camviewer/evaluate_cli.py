"""``camviewer evaluate``: perturbation curves, AOPC and Max Sensitivity for each explanation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from camviewer import errors
from camviewer.explain.cams import CAM_METHODS
from camviewer.explain_cli import error_document, model_document, prediction_documents
from camviewer.explain.layers import locate_layer
from camviewer.explain.lrp import input_bounds
from camviewer.io.write import write_png
from camviewer.metrics.aopc import Curve, CurveImage, CurveRequest, default_batch_size, perturbation_curves
from camviewer.metrics.perturbation import Perturbation, fully_perturbed, parse_perturbation
from camviewer.metrics.regions import ORDERS, rank_regions, region_map
from camviewer.metrics.sensitivity import cam_explainer, lrp_explainer, max_sensitivity
from camviewer.model.build import LoadedModel, load_model
from camviewer.model.preprocess import normalise, to_pixel_scale
from camviewer.pipeline import ExplainRequest, ImageResult, run_explain
from camviewer.render.plot import curve_plot

EXIT_OK, EXIT_FAILED = 0, 1


def evaluate_images(args: argparse.Namespace) -> int:
    perturbation = parse_perturbation(args.perturb)
    orders = _orders(args.order)
    sensitivities = [_sensitivity_spec(text) for text in args.sensitivity]
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    model = load_model(args.model, trust_code=args.trust_code, device=args.device)
    spec = model.card.input
    regions = region_map(spec.size, args.grid)
    steps = _steps(args.steps, args.grid)
    results = list(run_explain(ExplainRequest(tuple(args.images), methods, args.target, args.layer), model))
    usable = [r for r in results if r.error is None]
    images = [_curve_image(r, model, perturbation, args.seed, k) for k, r in enumerate(usable)]
    requests = [
        CurveRequest(k, e.method, e.target_index, order, rank_regions(e.map, regions, args.grid, order, args.seed))
        for k, result in enumerate(usable)
        for e in result.explanations
        for order in orders
    ]
    batch = args.batch_size or default_batch_size(model.device)
    curves = perturbation_curves(model.module, spec, images, requests, regions, steps, score=args.score,
                                 multilabel=model.card.multilabel, batch_size=batch, incremental=not args.whole_model)
    per_image = [[c for c, q in zip(curves, requests) if q.image == k] for k in range(len(usable))]
    documents, failed = [], 0
    usable_index = 0
    for result in results:
        if result.error is not None:
            failed += 1
            documents.append(error_document(result))
            continue
        sens = _sensitivity(result, model, images[usable_index], sensitivities, args, batch)
        documents.append(_image_document(result, per_image[usable_index], args.grid, perturbation, sens))
        if args.plots is not None:
            _write_plots(args.plots, f"image{usable_index + 1:04d}", result, per_image[usable_index], args.score)
        usable_index += 1
    if args.json:
        print(json.dumps({"model": model_document(model), "images": documents}, indent=2))
    else:
        print(_format_text(documents))
    return EXIT_FAILED if failed else EXIT_OK


def _orders(text: str) -> tuple[str, ...]:
    orders = tuple(o.strip() for o in text.split(",") if o.strip())
    unknown = [o for o in orders if o not in ORDERS]
    if unknown or not orders:
        raise errors.UsageError(f"--order takes {', '.join(ORDERS)}")
    return orders


def _steps(steps: int | None, grid: int) -> int:
    if steps is None:
        return grid * grid
    if not 1 <= steps <= grid * grid:
        raise errors.UsageError(f"--steps must be 1..{grid * grid}")
    return steps


def _sensitivity_spec(text: str) -> tuple[float, int]:
    try:
        radius, samples = text.split(",")
        spec = float(radius), int(samples)
    except ValueError as exc:
        raise errors.UsageError("--sensitivity takes RADIUS,SAMPLES, e.g. 0.05,20") from exc
    if not (spec[0] >= 0 and spec[1] >= 1):
        raise errors.UsageError("--sensitivity needs a radius >= 0 and at least 1 sample")
    return spec


def _curve_image(result: ImageResult, model: LoadedModel, perturbation: Perturbation, seed: int, index: int) -> CurveImage:
    """The image in pixel scale, and its noise field drawn from (seed, image position)."""
    assert result.model_input is not None
    pixels = to_pixel_scale(result.model_input.pixels, model.card.input)
    return CurveImage(pixels, fully_perturbed(pixels, perturbation, seed * 1_000_003 + index))


def _sensitivity(result: ImageResult, model: LoadedModel, image: CurveImage, specs: list[tuple[float, int]],
                 args: argparse.Namespace, batch: int) -> list[dict[str, Any]]:
    if not specs:
        return []
    spec = model.card.input
    layer = None
    out = []
    pixels = torch.from_numpy(image.pixels).to(model.device)
    for e in result.explanations:
        if e.method in CAM_METHODS:
            if layer is None:
                example = torch.zeros(1, spec.channels, *spec.size, device=model.device)
                layer = locate_layer(model.module, example, args.layer or model.default_layer)
            explain = cam_explainer(model.module, layer, e.method, e.target_index)
        else:
            bounds = input_bounds(spec.value_range, spec.mean, spec.std)
            explain = lrp_explainer(model.module, e.method, e.target_index, bounds)
        for radius, samples in specs:
            s = max_sensitivity(explain, pixels, lambda p: normalise(p, spec), radius, samples, args.seed, batch_size=batch)
            out.append({"method": e.method, "target_index": e.target_index, "radius": radius, "samples": samples,
                        "absolute": s.absolute, "relative": s.relative})
    return out


def _image_document(result: ImageResult, curves: list[Curve], grid: int, perturbation: Perturbation,
                    sensitivity: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "path": str(result.path),
        "predictions": prediction_documents(result),
        "curves": [
            {"method": c.method, "target_index": c.target_index, "order": c.order, "grid": grid,
             "perturbation": str(perturbation), "regions": list(c.regions), "curve": c.values.tolist(),
             "aopc": c.aopc, "aopc_by_length": c.aopc_by_length.tolist()}
            for c in curves
        ],
        "sensitivity": sensitivity,
        "warnings": list(result.warnings),
    }


def _write_plots(folder: Path, stem: str, result: ImageResult, curves: list[Curve], score: str) -> None:
    """One PNG per target, named from an opaque stem (input names may hold patient names)."""
    folder.mkdir(parents=True, exist_ok=True)
    for target in dict.fromkeys(c.target_index for c in curves):
        series = [(f"{c.method} {c.order} AOPC {c.aopc:.3f}", c.values) for c in curves if c.target_index == target]
        picture = curve_plot(series, f"{stem}: target {target}", "probability" if score == "prob" else "logit")
        write_png(folder / f"{stem}__curves__{target}.png", picture)


def _format_text(documents: list[dict[str, Any]]) -> str:
    lines = []
    for doc in documents:
        if "error" in doc:
            lines.append(f"{doc['path']}: failed ({doc['reason']})")
            continue
        lines.append(doc["path"])
        lines += [f"  {c['method']:<20} target {c['target_index']:<3} {c['order']:<7} AOPC {c['aopc']:.4f}" for c in doc["curves"]]
        lines += [f"  {s['method']:<20} target {s['target_index']:<3} max-sensitivity r={s['radius']:g} n={s['samples']}: "
                  f"{s['absolute']:.4g} (relative {s['relative']:.4g})" for s in doc["sensitivity"]]
    return "\n".join(lines)
