"""Line plots of perturbation curves as RGB arrays (OpenCV drawing, no plotting library).

Probabilities are drawn on a fixed 0..1 axis (so curves compare across plots), logits on a range
rounded out to even ticks. Each series has its own colour, dash pattern and marker shape, and its
markers sit at staggered steps, so identical curves stay distinguishable; the legend repeats both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194)]
DASHES = (None, (14, 6), (4, 4), (10, 4, 2, 4))  # None: solid; else on/off lengths in pixels
MARKERS = ("circle", "square", "triangle", "diamond", "cross")
WIDTH, HEIGHT, MARGIN, LEGEND_ROW = 760, 460, 64, 20
FONT, BLACK, GREY = cv2.FONT_HERSHEY_SIMPLEX, (0, 0, 0), (205, 205, 205)


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    ticks: tuple[float, ...]


def probability_axis() -> Axis:
    return Axis(0.0, 1.0, (0.0, 0.25, 0.5, 0.75, 1.0))


def even_axis(values: np.ndarray, count: int = 5) -> Axis:
    """A range covering the finite ``values``, rounded out to about ``count`` ticks of 1, 2 or 5 x 10^n."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    step = nice_step(high - low, count - 1)
    first, last = math.floor(low / step), math.ceil(high / step)
    ticks = tuple(k * step for k in range(first, last + 1))
    return Axis(ticks[0], ticks[-1], ticks)


def nice_step(span: float, intervals: int) -> float:
    """The smallest 1, 2 or 5 x 10^n that splits ``span`` into at most ``intervals`` parts."""
    raw = span / intervals
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def curve_plot(series: Sequence[tuple[str, np.ndarray]], title: str, y_label: str, axis: Axis | None = None) -> np.ndarray:
    """One line per (label, values) over k = 0 .. L, with axes, even ticks and a legend."""
    legend_height = LEGEND_ROW * len(series)
    height = HEIGHT + legend_height
    canvas = np.full((height, WIDTH, 3), 255, np.uint8)
    axis = axis or even_axis(np.concatenate([v for _, v in series]) if series else np.zeros(1))
    steps = max((len(v) for _, v in series), default=2) - 1
    bottom = HEIGHT - MARGIN

    def x_of(k: float) -> int:
        return int(round(MARGIN + k / max(steps, 1) * (WIDTH - 2 * MARGIN)))

    def y_of(v: float) -> int:
        return int(round(bottom - (v - axis.low) / (axis.high - axis.low) * (bottom - MARGIN)))

    _axes(canvas, axis, steps, x_of, y_of, title, y_label)
    for n, (label, curve) in enumerate(series):
        colour, dash, marker = PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)], MARKERS[n % len(MARKERS)]
        points = [(x_of(k), y_of(float(np.clip(v, axis.low, axis.high)))) for k, v in enumerate(curve) if np.isfinite(v)]
        _line(canvas, points, colour, dash)
        spacing = max(1, len(points) // 10)
        for point in points[(n * spacing) // max(len(series), 1) % spacing :: spacing]:
            _marker(canvas, point, colour, marker)
        y = HEIGHT + LEGEND_ROW * n + 4
        _line(canvas, [(MARGIN, y), (MARGIN + 44, y)], colour, dash)
        _marker(canvas, (MARGIN + 22, y), colour, marker)
        cv2.putText(canvas, label, (MARGIN + 56, y + 5), FONT, 0.45, BLACK, 1, cv2.LINE_AA)
    return canvas


def _axes(canvas: np.ndarray, axis: Axis, steps: int, x_of: Callable[[float], int], y_of: Callable[[float], int],
          title: str, y_label: str) -> None:
    bottom = HEIGHT - MARGIN
    for tick in axis.ticks:
        cv2.line(canvas, (MARGIN, y_of(tick)), (WIDTH - MARGIN, y_of(tick)), GREY, 1)
        cv2.putText(canvas, f"{tick:g}", (6, y_of(tick) + 4), FONT, 0.4, BLACK, 1, cv2.LINE_AA)
    cv2.line(canvas, (MARGIN, bottom), (WIDTH - MARGIN, bottom), BLACK, 1)
    cv2.line(canvas, (MARGIN, MARGIN), (MARGIN, bottom), BLACK, 1)
    for k in range(0, steps + 1, max(1, int(nice_step(max(steps, 1), 8)))):
        cv2.line(canvas, (x_of(k), bottom), (x_of(k), bottom + 4), BLACK, 1)
        cv2.putText(canvas, str(k), (x_of(k) - 6, bottom + 18), FONT, 0.4, BLACK, 1, cv2.LINE_AA)
    cv2.putText(canvas, title, (MARGIN, 32), FONT, 0.55, BLACK, 1, cv2.LINE_AA)
    cv2.putText(canvas, f"{y_label} vs regions perturbed (k)", (MARGIN, bottom + 40), FONT, 0.45, BLACK, 1, cv2.LINE_AA)


def _line(canvas: np.ndarray, points: Sequence[tuple[int, int]], colour: tuple[int, int, int], dash: tuple[int, ...] | None) -> None:
    """A polyline, solid or dashed (the pattern continues across vertices)."""
    if dash is None:
        cv2.polylines(canvas, [np.array(points, np.int32)], False, colour, 2, cv2.LINE_AA)
        return
    period, travelled = sum(dash), 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        length = math.hypot(x1 - x0, y1 - y0)
        for offset in np.arange(0.0, length, 1.0):
            phase, position = (travelled + offset) % period, 0
            on = False
            for k, part in enumerate(dash):
                if phase < position + part:
                    on = k % 2 == 0
                    break
                position += part
            if on:
                t = offset / length
                cv2.circle(canvas, (int(round(x0 + t * (x1 - x0))), int(round(y0 + t * (y1 - y0)))), 1, colour, -1, cv2.LINE_AA)
        travelled += length


def _marker(canvas: np.ndarray, centre: tuple[int, int], colour: tuple[int, int, int], shape: str) -> None:
    x, y, r = centre[0], centre[1], 4
    if shape == "circle":
        cv2.circle(canvas, (x, y), r, colour, 2, cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(canvas, (x - r, y - r), (x + r, y + r), colour, 2, cv2.LINE_AA)
    elif shape == "cross":
        cv2.line(canvas, (x - r, y - r), (x + r, y + r), colour, 2, cv2.LINE_AA)
        cv2.line(canvas, (x - r, y + r), (x + r, y - r), colour, 2, cv2.LINE_AA)
    else:
        corners = [(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)] if shape == "triangle" else \
                  [(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)]
        cv2.polylines(canvas, [np.array(corners, np.int32)], True, colour, 2, cv2.LINE_AA)
