"""Line plots of perturbation curves as RGB arrays (OpenCV drawing, no plotting library)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194)]
WIDTH, HEIGHT, MARGIN = 720, 440, 60


def curve_plot(series: Sequence[tuple[str, np.ndarray]], title: str, y_label: str) -> np.ndarray:
    """One line per (label, values) over k = 0 .. L, with axes, ticks and a legend."""
    canvas = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    values = np.concatenate([v for _, v in series]) if series else np.zeros(1)
    low, high = float(values.min()), float(values.max())
    high = high if high > low else low + 1.0
    steps = max(len(v) for _, v in series) - 1 if series else 1
    x_of = lambda k: int(MARGIN + k / max(steps, 1) * (WIDTH - 2 * MARGIN))  # noqa: E731
    y_of = lambda v: int(HEIGHT - MARGIN - (v - low) / (high - low) * (HEIGHT - 2 * MARGIN))  # noqa: E731
    _axes(canvas, low, high, steps, x_of, y_of, title, y_label)
    for n, (label, curve) in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = np.array([[x_of(k), y_of(v)] for k, v in enumerate(curve)], np.int32)
        cv2.polylines(canvas, [points], False, colour, 2, cv2.LINE_AA)
        cv2.putText(canvas, label, (WIDTH - MARGIN - 230, MARGIN + 18 * n), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    return canvas


def _axes(canvas: np.ndarray, low: float, high: float, steps: int, x_of, y_of, title: str, y_label: str) -> None:  # noqa: ANN001
    black, grey = (0, 0, 0), (200, 200, 200)
    cv2.line(canvas, (MARGIN, HEIGHT - MARGIN), (WIDTH - MARGIN, HEIGHT - MARGIN), black, 1)
    cv2.line(canvas, (MARGIN, MARGIN), (MARGIN, HEIGHT - MARGIN), black, 1)
    for t in np.linspace(low, high, 5):
        cv2.line(canvas, (MARGIN, y_of(t)), (WIDTH - MARGIN, y_of(t)), grey, 1)
        cv2.putText(canvas, f"{t:.3g}", (4, y_of(t) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, black, 1, cv2.LINE_AA)
    for k in np.unique(np.linspace(0, steps, min(steps, 8) + 1).round().astype(int)):
        cv2.putText(canvas, str(k), (x_of(k) - 6, HEIGHT - MARGIN + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4, black, 1, cv2.LINE_AA)
    cv2.putText(canvas, title, (MARGIN, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.55, black, 1, cv2.LINE_AA)
    cv2.putText(canvas, f"{y_label} vs regions perturbed (k)", (MARGIN, HEIGHT - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv2.LINE_AA)
