"""The JSON documents and text lines of ``explain`` and ``evaluate``, built from engine results."""

from __future__ import annotations

from typing import Any

from camviewer.engine import EvaluationResult, ImageResult, WrittenFiles
from camviewer.engine.requests import EvaluateRequest
from camviewer.engine.scope import DEMO_NOTE
from camviewer.model.build import LoadedModel

FILE_KEYS = {"overlay": "overlay_file", "map": "map_file", "png": "export_png", "dicom": "export_dicom"}


def model_document(model: LoadedModel) -> dict[str, Any]:
    card, use = model.card, model.card.intended_use
    return {
        "name": card.name,
        "card": str(card.path),
        "architecture": card.architecture,
        "factory": card.factory,
        "classes": list(card.classes),
        "multilabel": card.multilabel,
        "device": str(model.device),
        "weights_sha256": model.weights_sha256,
        "intended_use": {"summary": use.summary, "training_data": use.training_data, "demo": use.demo,
                         "modalities": list(use.modalities), "body_parts": list(use.body_parts), "views": list(use.views)},
        "notes": [*((DEMO_NOTE,) if use.demo else ()), *model.notes],
    }


def model_lines(head: dict[str, Any]) -> list[str]:
    """The run's first lines: the model, what it is for, and its notes (a demo model says so)."""
    model = head["model"]
    return [f"model {model['name']}: for {model['intended_use']['summary']}", *(f"note: {n}" for n in model["notes"])]


def error_document(result: ImageResult) -> dict[str, Any]:
    assert result.error is not None
    return {"path": str(result.path), "error": result.error.message, "reason": result.error.reason}


def prediction_documents(result: ImageResult) -> list[dict[str, Any]]:
    return [{"index": p.index, "label": p.label, "logit": p.logit, "probability": p.probability} for p in result.predictions]


def explain_document(result: ImageResult, written: WrittenFiles | None) -> dict[str, Any]:
    if result.error is not None:
        return error_document(result)
    files = written.explanations if written else [{} for _ in result.explanations]
    return {
        "path": str(result.path),
        "predictions": prediction_documents(result),
        "explanations": [
            {
                "method": e.method,
                "target_index": e.target_index,
                "target_label": e.target_label,
                "layer": e.layer,
                "map_shape": list(e.map.shape),
                "overlay_file": None,
                "map_file": None,
                **{FILE_KEYS[kind]: path for kind, path in kinds.items()},
                **({"panel_file": written.panel} if written and written.panel else {}),
                "checks": e.checks,
            }
            for e, kinds in zip(result.explanations, files)
        ],
        "warnings": [*result.scope, *result.warnings, *(written.warnings if written else ())],
    }


def explain_lines(document: dict[str, Any]) -> list[str]:
    if "error" in document:
        return [f"{document['path']}: failed ({document['reason']})"]
    lines = [f"{document['path']}: {top_predictions(document)}"]
    for e in document["explanations"]:
        paths = [e[key] for key in FILE_KEYS.values() if e.get(key)]
        lines.append(f"  {e['method']:<20} {e['target_label']:<20} {paths[0] if paths else '(no --out)'}")
        lines += [f"  {'':<41} {path}" for path in paths[1:]]
    panels = dict.fromkeys(e["panel_file"] for e in document["explanations"] if e.get("panel_file"))
    lines += [f"  {'panel':<41} {path}" for path in panels]
    return lines + [f"  warning: {w}" for w in document["warnings"]]


def top_predictions(document: dict[str, Any]) -> str:
    return ", ".join(f"{p['label']} {p['probability']:.3f}" for p in document["predictions"][:3])


def evaluate_document(result: EvaluationResult, request: EvaluateRequest, plots: list[str]) -> dict[str, Any]:
    if result.error is not None:
        return error_document(result.explained)
    return {
        "path": str(result.explained.path),
        "predictions": prediction_documents(result.explained),
        "curves": [
            {"method": c.method, "target_index": c.target_index, "order": c.order, "grid": request.grid,
             "perturbation": str(request.perturbation), "regions": list(c.regions), "curve": c.values.tolist(),
             "aopc": c.aopc, "aopc_by_length": c.aopc_by_length.tolist()}
            for c in result.curves
        ],
        "sensitivity": [
            {"method": s.method, "target_index": s.target_index, "radius": s.value.radius, "samples": s.value.samples,
             "absolute": s.value.absolute, "relative": s.value.relative}
            for s in result.sensitivity
        ],
        "plot_files": plots,
        "warnings": [*result.explained.scope, *result.warnings],
    }


def evaluate_lines(document: dict[str, Any]) -> list[str]:
    if "error" in document:
        return [f"{document['path']}: failed ({document['reason']})"]
    lines = [f"{document['path']}: {top_predictions(document)}"]
    lines += [f"  {c['method']:<20} target {c['target_index']:<3} {c['order']:<7} AOPC {c['aopc']:.4f}" for c in document["curves"]]
    lines += [f"  {s['method']:<20} target {s['target_index']:<3} max-sensitivity r={s['radius']:g} n={s['samples']}: "
              f"{s['absolute']:.4g} (relative {s['relative']:.4g})" for s in document["sensitivity"]]
    lines += [f"  {'plot':<20} {path}" for path in document["plot_files"]]
    return lines + [f"  warning: {w}" for w in document["warnings"]]
