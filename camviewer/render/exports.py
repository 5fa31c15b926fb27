"""Export pictures: the annotated overlay at source resolution and the comparison panel.

Source-resolution pictures are rendered band by band (:func:`~camviewer.geometry.row_bands`) into
one uint8 canvas of the final size: per band, the display values of those rows, the map mapped back
onto those rows, the blend. So besides the canvas only band-sized temporaries are made. The image
is an :class:`XrayImage` (display values computed per band, through ``preset`` or its default) or
an array of [0, 1] display pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from camviewer.geometry import InputGeometry, resize, row_bands
from camviewer.io.grayscale import VoiPreset
from camviewer.io.image import XrayImage
from camviewer.render.annotate import (
    NOT_FOR_DIAGNOSIS,
    caption,
    caption_height,
    colour_bar,
    colour_bar_width,
    side_by_side,
    stacked,
    text_scale,
    warning_lines,
    wrapped,
)
from camviewer.render.overlay import (
    Normalisation,
    OverlayStyle,
    blend,
    colourise,
    contour_levels,
    draw_contours,
    for_map,
    gray_rgb,
    normalise,
    overlay,
    scale_of,
)

Shown = XrayImage | np.ndarray


@dataclass(frozen=True)
class Caption:
    """What an exported picture states about itself (no patient data)."""

    model: str
    weights_sha256: str | None
    label: str
    probability: float
    method: str
    layer: str
    date: str
    notes: tuple[str, ...] = ()  # e.g. that the model is a demo, and how the image is outside its intended use

    def lines(self, normalisation: str) -> list[str]:
        weights = f"weights {self.weights_sha256[:12]}" if self.weights_sha256 else "weights: none"
        return [
            f"{self.model} ({weights}) | class {self.label}: p = {self.probability:.3f}",
            f"{self.method} at {self.layer} | normalisation: {normalisation} | {self.date}",
            *warning_lines(self.notes),
            NOT_FOR_DIAGNOSIS,
        ]


@dataclass(frozen=True, eq=False)
class MapEntry:
    """A map to show; maps of one ``group`` (a method: one unit of measure) may share a colour scale."""

    title: str
    raw: np.ndarray
    signed: bool
    group: str = ""


def source_overlay(image: Shown, geometry: InputGeometry, raw: np.ndarray, signed: bool, style: OverlayStyle,
                   policy: Normalisation = Normalisation(), *, preset: VoiPreset | None = None,
                   out: np.ndarray | None = None) -> np.ndarray:
    """The map mapped back onto source pixels through the recorded model-input geometry, blended over
    the image; rendered into ``out`` (rows, columns, 3) uint8 when given."""
    rows, cols = image.values.shape[:2] if isinstance(image, XrayImage) else image.shape[:2]
    canvas = np.empty((rows, cols, 3), np.uint8) if out is None else out
    display = normalise(raw, signed, policy)
    reached = np.empty((rows, cols), np.uint8) if style.contours else None
    for band in row_bands((rows, cols)):
        heat = geometry.to_source_rows(display, band.start, band.stop, fill=np.nan)
        blend(_display_rows(image, band, preset), heat, style, canvas[band])
        if reached is not None:
            reached[band] = contour_levels(heat)
    if reached is not None:
        draw_contours(canvas, reached, style)
    return canvas


def _display_rows(image: Shown, band: slice, preset: VoiPreset | None) -> np.ndarray:
    return image.display_rows(band.start, band.stop, preset) if isinstance(image, XrayImage) else image[band]


def annotated(image: Shown, geometry: InputGeometry, entry: MapEntry, text: Caption, style: OverlayStyle,
              policy: Normalisation = Normalisation(), *, preset: VoiPreset | None = None) -> np.ndarray:
    """Source-resolution overlay, colour bar with the numeric range, and a caption band, in one canvas."""
    rows, cols = image.values.shape[:2] if isinstance(image, XrayImage) else image.shape[:2]
    size = text_scale(rows)
    width = cols + colour_bar_width(rows)
    lines = wrapped(text.lines(policy.describe()), width - 20, size)
    canvas = np.empty((rows + caption_height(len(lines), size), width, 3), np.uint8)
    source_overlay(image, geometry, entry.raw, entry.signed, style, policy, preset=preset, out=canvas[:rows, :cols])
    scale = scale_of(entry.raw, entry.signed, policy)
    colour_bar(rows, style.cmap, -scale if entry.signed else 0.0, scale, policy.describe(), out=canvas[:rows, cols:])
    caption(width, lines, size, out=canvas[rows:])
    return canvas


def panel(pixels: np.ndarray, entries: Sequence[MapEntry], cmap: str = "inferno", shared_scale: bool = True,
          header: Sequence[str] = ()) -> np.ndarray:
    """Rows of [original | heatmap | overlay] (the Covid Grad-CAM note's figure), one per map, under
    a band of ``header`` lines (what the figure states about itself) when given.

    With ``shared_scale`` the maps of one group (one method, so one unit) share a scale and their
    colours compare across rows (classes); each row carries its colour bar.
    """
    shared: dict[str, float] = {}
    for e in entries:
        shared[e.group] = max(shared.get(e.group, 0.0), scale_of(e.raw, e.signed))
    original = np.rint(gray_rgb(pixels)).astype(np.uint8)
    rows = []
    for entry in entries:
        scale = shared[entry.group] if shared_scale else scale_of(entry.raw, entry.signed)
        style = for_map(OverlayStyle(cmap), entry.signed)
        display = normalise(entry.raw, entry.signed, scale=scale)
        heat = colourise(resize(display.astype(np.float32), pixels.shape[:2]), style.cmap)
        bar = colour_bar(pixels.shape[0], style.cmap, -scale if entry.signed else 0.0, scale, "shared per method" if shared_scale else "per map")
        tiles = side_by_side([original, heat, overlay(pixels, display, style=style), bar])
        rows.append(stacked([caption(tiles.shape[1], [entry.title], text_scale(pixels.shape[0]) * 1.2), tiles], gap=0))
    if header:
        width, size = max(r.shape[1] for r in rows), text_scale(pixels.shape[0])
        rows.insert(0, caption(width, wrapped(header, width - 20, size), size))
    return stacked(rows)
