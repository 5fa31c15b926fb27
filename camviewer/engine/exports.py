"""The files written for one explained image: overlays, raw maps, annotated PNGs, panels, DICOM
Secondary Captures. The service writes (atomically, never over an input) and returns what it
wrote and its warnings; it prints nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from camviewer.engine.naming import OutputNames
from camviewer.engine.results import EvaluationResult, Explanation, ImageResult
from camviewer.engine.scope import DEMO_NOTE
from camviewer.engine.session import ModelSession
from camviewer.export.dicom_sc import secondary_capture, write_secondary_capture
from camviewer.io.write import ProtectedInputs, atomic_write_bytes, write_png
from camviewer.render.annotate import NOT_FOR_DIAGNOSIS, warning_lines
from camviewer.render.exports import Caption, MapEntry, annotated, panel
from camviewer.render.overlay import OverlayStyle, for_map, normalise, overlay
from camviewer.render.plot import curve_plot, probability_axis

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
    keep_identity: bool = False  # Secondary Captures keep the source's patient and study (for one's own PACS)


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
        capture = "dicom" in options.exports and is_dicom
        if "png" in options.exports or capture:
            picture = _annotated(result, explanation, options, session, date)  # drawn once for the PNG and the SC
            if "png" in options.exports:
                written["png"] = write_png(options.folder / names.annotated(*_args(result, explanation)), picture, protected)
            if capture:
                written["dicom"] = _secondary_capture(result, names, explanation, picture, session, options, protected)
            del picture  # one source-size canvas at a time
        files.append(written)
    panel_file = _panel(result, names, options, session, protected) if "panel" in options.exports else None
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


def notes(result: ImageResult, session: ModelSession) -> tuple[str, ...]:
    """What every picture of this result must say besides its map: a demo model, and out-of-scope use."""
    return ((DEMO_NOTE,) if session.card.intended_use.demo else ()) + result.scope


def _annotated(result: ImageResult, e: Explanation, options: OutputOptions, session: ModelSession, date: str) -> np.ndarray:
    """The annotated picture at source resolution: overlay, colour bar, caption with every note."""
    assert result.model_input is not None and result.image is not None
    caption = Caption(session.card.name, session.model.weights_sha256, e.target_label, result.probability(e.target_index),
                      e.method, e.layer, date, notes(result, session))
    return annotated(result.image, result.model_input.geometry, _entry(e), caption, for_map(options.style, e.signed))


def _secondary_capture(result: ImageResult, names: OutputNames, e: Explanation, picture: np.ndarray, session: ModelSession,
                       options: OutputOptions, protected: ProtectedInputs) -> str:
    """The annotated picture as a DICOM Secondary Capture: what the PNG shows, a PACS shows."""
    assert result.image is not None and result.image.header is not None
    dataset = secondary_capture(result.image.header, picture, method=e.method,
                                description=f"camviewer {e.method} {e.target_label}"[:64], keep_identity=options.keep_identity,
                                comments="; ".join((NOT_FOR_DIAGNOSIS, *notes(result, session))))
    path = options.folder / names.secondary_capture(*_args(result, e))
    write_secondary_capture(path, dataset, protected)
    return str(path)


def _panel(result: ImageResult, names: OutputNames, options: OutputOptions, session: ModelSession,
           protected: ProtectedInputs) -> str:
    assert result.model_input is not None
    header = (f"{session.card.name} | model input {result.model_input.pixels.shape[1]} x {result.model_input.pixels.shape[0]}",
              *warning_lines(notes(result, session)), NOT_FOR_DIAGNOSIS)
    picture = panel(result.model_input.pixels, [_entry(e) for e in result.explanations], options.style.cmap, header=header)
    return write_png(options.folder / names.panel(result.index), picture, protected)


def write_curve_plots(result: EvaluationResult, names: OutputNames, folder: Path, score: str, classes: Sequence[str],
                      protected: ProtectedInputs) -> list[str]:
    """One PNG of the curves per target of an evaluated image; returns the files written."""
    index = result.explained.index
    written = []
    for target in dict.fromkeys(c.target_index for c in result.curves):
        label = classes[target]
        series = [(f"{c.method} {c.order} ({label}): AOPC {c.aopc:.3f}", c.values) for c in result.curves if c.target_index == target]
        title = f"{names.stems[index]}: perturbation curves of {label} (class {target})"
        picture = curve_plot(series, title, "probability" if score == "prob" else "logit",
                             probability_axis() if score == "prob" else None)
        written.append(write_png(folder / names.curves(index, target, label), picture, protected))
    return written
