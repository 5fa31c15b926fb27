"""Export pictures: the annotated overlay at source resolution and the comparison panel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from camviewer.geometry import InputGeometry, resize
from camviewer.render.annotate import NOT_FOR_DIAGNOSIS, caption, colour_bar, side_by_side, stacked, text_scale
from camviewer.render.overlay import Normalisation, OverlayStyle, colourise, gray_rgb, normalise, overlay, scale_of


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

    def lines(self, normalisation: str) -> list[str]:
        weights = f"weights {self.weights_sha256[:12]}" if self.weights_sha256 else "weights: none"
        return [
            f"{self.model} ({weights}) | class {self.label}: p = {self.probability:.3f}",
            f"{self.method} at {self.layer} | normalisation: {normalisation} | {self.date}",
            NOT_FOR_DIAGNOSIS,
        ]


@dataclass(frozen=True, eq=False)
class MapEntry:
    """A map to show; maps of one ``group`` (a method: one unit of measure) may share a colour scale."""

    title: str
    raw: np.ndarray
    signed: bool
    group: str = ""


def style_for(signed: bool, cmap: str = "inferno", **options: float | bool) -> OverlayStyle:
    """The diverging map for signed maps, the chosen map otherwise."""
    return OverlayStyle(cmap="coolwarm" if signed else cmap, **options)  # type: ignore[arg-type]


def source_overlay(display: np.ndarray, geometry: InputGeometry, raw: np.ndarray, signed: bool,
                   style: OverlayStyle, policy: Normalisation = Normalisation()) -> np.ndarray:
    """The map mapped back onto source pixels through the recorded model-input geometry, blended."""
    at_source = geometry.to_source(normalise(raw, signed, policy), fill=np.nan)
    return overlay(display, at_source, style=style)


def annotated(display: np.ndarray, geometry: InputGeometry, entry: MapEntry, text: Caption, style: OverlayStyle,
              policy: Normalisation = Normalisation()) -> np.ndarray:
    """Source-resolution overlay, colour bar with the numeric range, and a caption band."""
    picture = source_overlay(display, geometry, entry.raw, entry.signed, style, policy)
    scale = scale_of(entry.raw, entry.signed, policy)
    bar = colour_bar(picture.shape[0], style.cmap, -scale if entry.signed else 0.0, scale, policy.describe())
    body = side_by_side([picture, bar], gap=0)
    return stacked([body, caption(body.shape[1], text.lines(policy.describe()), text_scale(picture.shape[0]))], gap=0)


def panel(pixels: np.ndarray, entries: Sequence[MapEntry], cmap: str = "inferno", shared_scale: bool = True) -> np.ndarray:
    """Rows of [original | heatmap | overlay] (the Covid Grad-CAM note's figure), one per map.

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
        style = style_for(entry.signed, cmap)
        display = normalise(entry.raw, entry.signed, scale=scale)
        heat = colourise(resize(display.astype(np.float32), pixels.shape[:2]), style.cmap)
        bar = colour_bar(pixels.shape[0], style.cmap, -scale if entry.signed else 0.0, scale, "shared per method" if shared_scale else "per map")
        tiles = side_by_side([original, heat, overlay(pixels, display, style=style), bar])
        rows.append(stacked([caption(tiles.shape[1], [entry.title], text_scale(pixels.shape[0]) * 1.2), tiles], gap=0))
    return stacked(rows)
