"""``camviewer explain``: run the pipeline, write overlays and raw maps, report as text or JSON."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from camviewer import errors
from camviewer.explain_exports import export_files
from camviewer.io.write import ProtectedInputs, atomic_write_bytes, safe_name, write_png
from camviewer.model.build import LoadedModel, load_model
from camviewer.pipeline import ExplainRequest, Explanation, ImageResult, run_explain
from camviewer.render.overlay import COLORMAPS, OverlayStyle, normalise, overlay

EXIT_OK, EXIT_FAILED = 0, 1


EXPORTS = ("png", "panel", "dicom")


@dataclass(frozen=True)
class OutputOptions:
    out: Path
    save_maps: bool
    exports: tuple[str, ...]
    style: OverlayStyle
    model: LoadedModel


def explain_images(args: argparse.Namespace) -> int:
    exports = _exports(args.export)
    if (args.save_maps or exports) and args.out is None:
        raise errors.UsageError("--save-maps and --export need --out DIR")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    request = ExplainRequest(tuple(args.images), methods, args.target, args.layer, args.batch_size)
    if args.out is not None:
        _prepare_out(args.out, request.images)
    style = _style(args)
    model = load_model(args.model, trust_code=args.trust_code, device=args.device)
    stems = _output_stems(request.images, args.names_from_input)
    options = OutputOptions(args.out, args.save_maps, exports, style, model) if args.out else None
    documents, failed = [], 0
    for index, result in enumerate(run_explain(request, model)):
        failed += result.error is not None
        files = _write_outputs(result, stems[index], options) if options and result.error is None else {}
        documents.append(_image_document(result, files))
    if args.json:
        print(json.dumps({"model": model_document(model), "images": documents}, indent=2))
    else:
        print(_format_text(documents))
    return EXIT_FAILED if failed else EXIT_OK


def _exports(text: str | None) -> tuple[str, ...]:
    chosen = tuple(e.strip() for e in (text or "").split(",") if e.strip())
    unknown = [e for e in chosen if e not in EXPORTS]
    if unknown:
        raise errors.UsageError(f"--export takes {', '.join(EXPORTS)}")
    return chosen


def _style(args: argparse.Namespace) -> OverlayStyle:
    if args.colormap not in COLORMAPS:
        raise errors.UsageError(f"--colormap takes {', '.join(COLORMAPS)}")
    if not (0.0 <= args.opacity <= 1.0 and 0.0 <= args.threshold < 1.0):
        raise errors.UsageError("--opacity must be 0..1 and --threshold 0..1 (exclusive)")
    return OverlayStyle(args.colormap, args.opacity, args.threshold, args.contours)


def _prepare_out(out: Path, images: tuple[Path, ...]) -> None:
    if out.exists() and not out.is_dir():
        raise errors.OutputError("--out must be a folder", out)
    ProtectedInputs.of(images).check(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.OutputError("cannot create the output folder", out) from exc


def _output_stems(images: tuple[Path, ...], from_input: bool) -> list[str]:
    """Opaque stems (image0001 ...) unless asked: input names may hold patient names.
    Never derived from DICOM values."""
    if not from_input:
        return [f"image{k + 1:04d}" for k in range(len(images))]
    stems = [safe_name(p.stem) for p in images]
    repeated = {s for s, n in Counter(stems).items() if n > 1}
    return [f"{k + 1:04d}_{s}" if s in repeated else s for k, s in enumerate(stems)]


def _file_name(stem: str, explanation: Explanation, suffix: str) -> str:
    label = safe_name(explanation.target_label, "class")
    return f"{stem}__{explanation.method}__{explanation.target_index}-{label}{suffix}"


def _write_outputs(result: ImageResult, stem: str, options: OutputOptions) -> dict[int, dict[str, str]]:
    assert result.model_input is not None
    files: dict[int, dict[str, str]] = {}
    for k, explanation in enumerate(result.explanations):
        style = replace(options.style, cmap="coolwarm") if explanation.signed else options.style
        picture = overlay(result.model_input.pixels, normalise(explanation.map, explanation.signed), style=style)
        files[k] = {"overlay_file": write_png(options.out / _file_name(stem, explanation, ".png"), picture, ProtectedInputs.of([result.path]))}
        if options.save_maps:
            map_path = options.out / _file_name(stem, explanation, ".npy")
            buffer = io.BytesIO()
            np.save(buffer, explanation.map.astype(np.float32))
            atomic_write_bytes(map_path, buffer.getvalue())
            files[k]["map_file"] = str(map_path)
    if options.exports:
        exported = export_files(result, stem, options.out, options.exports, options.style, options.model)
        for k, written in exported.items():
            files[k].update(written)
    return files


def _image_document(result: ImageResult, files: dict[int, dict[str, str]]) -> dict[str, Any]:
    if result.error is not None:
        return error_document(result)
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
                "map_file": files.get(k, {}).get("map_file"),
                "overlay_file": files.get(k, {}).get("overlay_file"),
                **{key: value for key, value in files.get(k, {}).items() if key.startswith(("export_", "panel_"))},
                "checks": e.checks,
            }
            for k, e in enumerate(result.explanations)
        ],
        "warnings": list(result.warnings),
    }


def error_document(result: ImageResult) -> dict[str, Any]:
    """The JSON entry of an image that could not be read; the reason is printed to stderr too."""
    assert result.error is not None
    print(f"camviewer: {result.error.message}", file=sys.stderr)
    return {"path": str(result.path), "error": result.error.message, "reason": result.error.reason}


def prediction_documents(result: ImageResult) -> list[dict[str, Any]]:
    return [{"index": p.index, "label": p.label, "logit": p.logit, "probability": p.probability} for p in result.predictions]


def model_document(model: LoadedModel) -> dict[str, Any]:
    card = model.card
    return {
        "name": card.name,
        "card": str(card.path),
        "architecture": card.architecture,
        "factory": card.factory,
        "classes": list(card.classes),
        "multilabel": card.multilabel,
        "device": str(model.device),
        "weights_sha256": model.weights_sha256,
        "notes": list(model.notes),
    }


def _format_text(documents: list[dict[str, Any]]) -> str:
    lines = []
    for doc in documents:
        if "error" in doc:
            lines.append(f"{doc['path']}: failed ({doc['reason']})")
            continue
        top = ", ".join(f"{p['label']} {p['probability']:.3f}" for p in doc["predictions"][:3])
        lines.append(f"{doc['path']}: {top}")
        for e in doc["explanations"]:
            written = e["overlay_file"] or "(no --out)"
            lines.append(f"  {e['method']:<20} {e['target_label']:<20} {written}")
    return "\n".join(lines)
