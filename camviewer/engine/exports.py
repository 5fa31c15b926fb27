"""The files written for one explained image: overlays, raw maps, annotated PNGs, panels, DICOM
Secondary Captures. The service writes (atomically, never over an input) and returns what it
wrote and its warnings; it prints nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from camviewer.engine.naming import OutputNames
from camviewer.engine.results import EvaluationResult, Explanation, ImageResult
from camviewer.engine.session import ModelSession
from camviewer.export.dicom_sc import secondary_capture, write_secondary_capture
from camviewer.io.write import ProtectedInputs, atomic_write_bytes, write_png
from camviewer.render.exports import Caption, MapEntry, annotated, panel, source_overlay
from camviewer.render.overlay import OverlayStyle, for_map, normalise, overlay
from camviewer.render.plot import curve_plot

EXPORTS: tuple[str, ...] = ("png", "panel", "dicom")
NOT_DICOM = "DICOM export skipped: the input is not DICOM"


@dataclass(frozen=True)
class OutputOptions:
    """What to write into ``folder`` for each image: the overlay at model resolution (always), raw
    maps, and ``exports`` from :data:`EXPORTS`."""

    folder: Path
    save_maps: bool = False
    exports: tuple[str, ...] = ()
    style: OverlayStyle = field(default_factory=OverlayStyle)


@dataclass(frozen=True)
class WrittenFiles:
    """Per explanation (in result order), the files written for it by kind
    ("overlay", "map", "png", "dicom"); the image's panel; and what was skipped, as warnings."""

    explanations: tuple[Mapping[str, str], ...]
    panel: str | None = None
    warnings: tuple[str, ...] = ()


def write_outputs(result: ImageResult, names: OutputNames, options: OutputOptions, session: ModelSession,
                  protected: ProtectedInputs) -> WrittenFiles:
    """Write every requested file for ``result`` (an image that was explained)."""
    assert result.model_input is not None and result.image is not None
    date = datetime.now().strftime("%Y-%m-%d %H:%M")
    is_dicom = result.image.header is not None
    files = []
    for explanation in result.explanations:
        written = {"overlay": _overlay(result, names, explanation, options, protected)}
        if options.save_maps:
            written["map"] = _raw_map(result, names, explanation, options, protected)
        if "png" in options.exports:
            written["png"] = _annotated(result, names, explanation, options, session, date, protected)
        if "dicom" in options.exports and is_dicom:
            written["dicom"] = _secondary_capture(result, names, explanation, options, protected)
        files.append(written)
    panel_file = _panel(result, names, options, protected) if "panel" in options.exports else None
    warnings = (NOT_DICOM,) if "dicom" in options.exports and not is_dicom else ()
    return WrittenFiles(tuple(files), panel_file, warnings)


def _args(result: ImageResult, e: Explanation) -> tuple[int, str, int, str]:
    return result.index, e.method, e.target_index, e.target_label


def _overlay(result: ImageResult, names: OutputNames, e: Explanation, options: OutputOptions,
             protected: ProtectedInputs) -> str:
    assert result.model_input is not None
    picture = overlay(result.model_input.pixels, normalise(e.map, e.signed), style=for_map(options.style, e.signed))
    return write_png(options.folder / names.overlay(*_args(result, e)), picture, protected)


def _raw_map(result: ImageResult, names: OutputNames, e: Explanation, options: OutputOptions,
             protected: ProtectedInputs) -> str:
    path = options.folder / names.raw_map(*_args(result, e))
    buffer = io.BytesIO()
    np.save(buffer, e.map.astype(np.float32))
    atomic_write_bytes(path, buffer.getvalue(), protected)
    return str(path)


def _entry(e: Explanation) -> MapEntry:
    return MapEntry(f"{e.method} | {e.target_index}: {e.target_label}", e.map, e.signed, e.method)


def _annotated(result: ImageResult, names: OutputNames, e: Explanation, options: OutputOptions, session: ModelSession,
               date: str, protected: ProtectedInputs) -> str:
    assert result.model_input is not None and result.image is not None
    caption = Caption(session.card.name, session.model.weights_sha256, e.target_label, result.probability(e.target_index),
                      e.method, e.layer, date)
    picture = annotated(result.image, result.model_input.geometry, _entry(e), caption, for_map(options.style, e.signed))
    return write_png(options.folder / names.annotated(*_args(result, e)), picture, protected)


def _secondary_capture(result: ImageResult, names: OutputNames, e: Explanation, options: OutputOptions,
                       protected: ProtectedInputs) -> str:
    assert result.model_input is not None and result.image is not None and result.image.header is not None
    picture = source_overlay(result.image, result.model_input.geometry, e.map, e.signed, for_map(options.style, e.signed))
    dataset = secondary_capture(result.image.header, picture, method=e.method,
                                description=f"camviewer {e.method} overlay")
    path = options.folder / names.secondary_capture(*_args(result, e))
    write_secondary_capture(path, dataset, protected)
    return str(path)


def _panel(result: ImageResult, names: OutputNames, options: OutputOptions, protected: ProtectedInputs) -> str:
    assert result.model_input is not None
    picture = panel(result.model_input.pixels, [_entry(e) for e in result.explanations], options.style.cmap)
    return write_png(options.folder / names.panel(result.index), picture, protected)


def write_curve_plots(result: EvaluationResult, names: OutputNames, folder: Path, score: str,
                      protected: ProtectedInputs) -> list[str]:
    """One PNG of the curves per target of an evaluated image; returns the files written."""
    index = result.explained.index
    written = []
    for target in dict.fromkeys(c.target_index for c in result.curves):
        series = [(f"{c.method} {c.order} AOPC {c.aopc:.3f}", c.values) for c in result.curves if c.target_index == target]
        picture = curve_plot(series, f"{names.stems[index]}: target {target}", "probability" if score == "prob" else "logit")
        written.append(write_png(folder / names.curves(index, target), picture, protected))
    return written
