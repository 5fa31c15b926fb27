"""``camviewer explain --export``: annotated PNGs at source resolution, panels, DICOM Secondary Captures.

The source image is read again here, so results held in memory never carry full-resolution pixels.
File names come from the caller's stems (opaque by default); pictures carry no patient data.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from camviewer.io import load_image
from camviewer.io.write import ProtectedInputs, write_png
from camviewer.model.build import LoadedModel
from camviewer.pipeline import Explanation, ImageResult
from camviewer.render.exports import Caption, MapEntry, annotated, panel, source_overlay
from camviewer.render.overlay import OverlayStyle

Files = dict[int, dict[str, str]]


def export_files(result: ImageResult, stem: str, out: Path, exports: tuple[str, ...], style: OverlayStyle,
                 model: LoadedModel) -> Files:
    """Write the requested exports; return, per explanation, the files written for it."""
    assert result.model_input is not None
    image = load_image(result.path)
    geometry = result.model_input.geometry
    date = datetime.now().strftime("%Y-%m-%d %H:%M")
    files: Files = {k: {} for k in range(len(result.explanations))}
    for k, explanation in enumerate(result.explanations):
        entry = _entry(explanation)
        chosen = _style(style, explanation.signed)
        if "png" in exports:
            name = f"{stem}__{explanation.method}__{explanation.target_index}__annotated.png"
            picture = annotated(image, geometry, entry, _caption(result, explanation, model, date), chosen)
            files[k]["export_png"] = write_png(out / name, picture, ProtectedInputs.of([result.path]))
            del picture  # one source-size canvas at a time
        if "dicom" in exports and image.metadata.format == "dicom":
            picture = source_overlay(image, geometry, explanation.map, explanation.signed, chosen)
            files[k]["export_dicom"] = _write_dicom(result.path, out, stem, explanation, picture)
            del picture
    if "dicom" in exports and image.metadata.format != "dicom":
        print(f"camviewer: DICOM export skipped: the input is not DICOM ({result.path.name})", file=sys.stderr)
    if "panel" in exports:
        picture = panel(result.model_input.pixels, [_entry(e) for e in result.explanations], style.cmap)
        panel_file = write_png(out / f"{stem}__panel.png", picture, ProtectedInputs.of([result.path]))
        for entry_files in files.values():
            entry_files["panel_file"] = panel_file
    return files


def _entry(explanation: Explanation) -> MapEntry:
    title = f"{explanation.method} | {explanation.target_index}: {explanation.target_label}"
    return MapEntry(title, explanation.map, explanation.signed, explanation.method)


def _style(style: OverlayStyle, signed: bool) -> OverlayStyle:
    return OverlayStyle("coolwarm", style.alpha, style.threshold, style.contours) if signed else style


def _caption(result: ImageResult, explanation: Explanation, model: LoadedModel, date: str) -> Caption:
    probability = next(p.probability for p in result.predictions if p.index == explanation.target_index)
    return Caption(model.card.name, model.weights_sha256, explanation.target_label, probability, explanation.method,
                   explanation.layer, date)


def _write_dicom(source: Path, out: Path, stem: str, explanation: Explanation, picture) -> str:  # noqa: ANN001
    from camviewer.export.dicom_sc import read_source_header, secondary_capture, write_secondary_capture

    dataset = secondary_capture(read_source_header(source), picture, method=explanation.method,
                                description=f"camviewer {explanation.method} overlay")
    path = out / f"{stem}__{explanation.method}__{explanation.target_index}__overlay.dcm"
    write_secondary_capture(path, dataset, source)
    return str(path)
