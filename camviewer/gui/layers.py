"""What the image view draws, as plain arrays (Qt-free): the heatmap as an RGBA layer placed over
the source pixels it explains (through the model input's recorded geometry), the region grid with
rank numbers, the perturbed model input of an evaluation step, and the window shown."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from camviewer.engine.evaluate import NOISE_STRIDE
from camviewer.engine.requests import EvaluateRequest
from camviewer.geometry import InputGeometry, resize
from camviewer.io.grayscale import VoiPreset, Window
from camviewer.io.image import XrayImage
from camviewer.metrics.aopc import Curve
from camviewer.metrics.perturbation import fully_perturbed
from camviewer.metrics.regions import edges, rank_regions, region_map
from camviewer.model.card import InputSpec
from camviewer.model.preprocess import ModelInput, to_pixel_scale
from camviewer.render.overlay import (
    Normalisation,
    OverlayStyle,
    contour_levels,
    draw_contours,
    for_map,
    heat_rgba,
    normalise,
    scale_of,
)

MAX_LAYER_SIDE = 1024  # a smooth layer (bilinear), without a source-size array per map
Rect = tuple[float, float, float, float]  # left, top, width, height in source pixels


@dataclass(frozen=True, eq=False)
class Layer:
    """``rgba`` (h, w, 4) uint8, stretched over ``rect`` in source pixels; ``scale``: the raw value shown as 1."""

    rgba: np.ndarray
    rect: Rect
    scale: float = 1.0


@dataclass(frozen=True)
class GridOverlay:
    """The region grid in source pixels: line segments ((x0, y0), (x1, y1)) and each region's rank label."""

    segments: tuple[tuple[tuple[float, float], tuple[float, float]], ...]
    labels: tuple[tuple[float, float, str], ...]


def _placed(plane: np.ndarray, geometry: InputGeometry) -> tuple[np.ndarray, Rect]:
    """The part of a model-input-size plane that shows the source, and the source rect it covers."""
    p, c = geometry.placed, geometry.crop
    return plane[p.top : p.top + p.height, p.left : p.left + p.width], (c.left, c.top, c.width, c.height)


def _layer_shape(rect: Rect) -> tuple[int, int]:
    scale = min(1.0, MAX_LAYER_SIDE / max(rect[2], rect[3]))
    return max(1, round(rect[3] * scale)), max(1, round(rect[2] * scale))


def heat_layer(raw: np.ndarray, signed: bool, geometry: InputGeometry, style: OverlayStyle,
               policy: Normalisation = Normalisation()) -> Layer:
    """The map normalised, resized bilinearly over the part of the model input that shows the source,
    and coloured (or outlined, in contour mode); its rect is the source region the model saw."""
    scale = scale_of(raw, signed, policy)
    on_input = resize(normalise(raw, signed, policy).astype(np.float32), geometry.input_shape)
    region, rect = _placed(on_input, geometry)
    smooth = resize(region, _layer_shape(rect))
    style = for_map(style, signed)
    return Layer(_contours(smooth, style) if style.contours else heat_rgba(smooth, style), rect, scale)


def _contours(display: np.ndarray, style: OverlayStyle) -> np.ndarray:
    rgb = np.zeros((*display.shape, 3), np.uint8)
    draw_contours(rgb, contour_levels(display), style)
    alpha = np.where(rgb.any(axis=2), round(255 * max(style.alpha, 0.5)), 0).astype(np.uint8)
    return np.concatenate([rgb, alpha[..., None]], axis=2)


def grid_overlay(raw: np.ndarray, geometry: InputGeometry, grid: int) -> GridOverlay:
    """The model-input grid of the AOPC regions, mapped onto the source, numbered by MoRF rank (1 first)."""
    rows, cols = geometry.input_shape
    p, c = geometry.placed, geometry.crop

    def to_source(y: float, x: float) -> tuple[float, float]:
        return c.left + (x - p.left) * c.width / p.width, c.top + (y - p.top) * c.height / p.height

    ys, xs = edges(rows, grid), edges(cols, grid)
    segments = [(to_source(y, xs[0]), to_source(y, xs[-1])) for y in ys]
    segments += [(to_source(ys[0], x), to_source(ys[-1], x)) for x in xs]
    ranking = rank_regions(raw, region_map((rows, cols), grid), grid, "morf")
    labels = [(*to_source((ys[r // grid] + ys[r // grid + 1]) / 2, (xs[r % grid] + xs[r % grid + 1]) / 2), str(rank + 1))
              for rank, r in enumerate(ranking)]
    return GridOverlay(tuple(segments), tuple(labels))


def step_preview(model_input: ModelInput, spec: InputSpec, request: EvaluateRequest, curve: Curve, step: int,
                 image_index: int = 0) -> Layer:
    """x^(step) of ``curve`` as the model saw it (the engine's noise field and regions), gray RGBA over the source."""
    pixels = to_pixel_scale(model_input.pixels, spec)
    perturbed = fully_perturbed(pixels, request.perturbation, request.seed * NOISE_STRIDE + image_index)
    mask = np.isin(region_map(spec.size, request.grid), curve.regions[:step])
    low, high = spec.value_range
    shown = (np.where(mask[None], perturbed, pixels).mean(axis=0) - low) / (high - low)
    region, rect = _placed(np.clip(shown, 0, 1).astype(np.float32), model_input.geometry)
    gray = np.rint(resize(region, _layer_shape(rect)) * 255).astype(np.uint8)
    return Layer(np.dstack([gray, gray, gray, np.full_like(gray, 255)]), rect)


def shown_preset(image: XrayImage, preset: int, window: tuple[float, float] | None) -> VoiPreset:
    """The preset the view applies: a dragged window (LINEAR_EXACT, any positive width), else the chosen one."""
    if window is not None:
        return VoiPreset("Custom", "user", window=Window(window[0], window[1], "LINEAR_EXACT"))
    return image.presets[min(preset, len(image.presets) - 1)]


def window_of(image: XrayImage, preset: VoiPreset) -> tuple[float, float]:
    """The (centre, width) a drag starts from: the preset's window, or the full range for a VOI LUT."""
    window = preset.window or image.full_range_preset.window
    assert window is not None
    return window.center, window.width


def dragged(start: tuple[float, float], dx: float, dy: float, value_range: tuple[float, float]) -> tuple[float, float]:
    """Window after a drag of (dx, dy) screen pixels: right widens, down raises the centre (Weasis, RadiAnt)."""
    step = max(value_range[1] - value_range[0], 1e-6) / 1000
    return start[0] + dy * step, max(start[1] + dx * step, step)
