"""Annotations drawn on RGB images: colour bar, caption band, region grid with ranks, panels."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from camviewer.render.overlay import DIVERGING, colourise

FONT = cv2.FONT_HERSHEY_SIMPLEX
BLACK, WHITE = (0, 0, 0), (255, 255, 255)
NOT_FOR_DIAGNOSIS = "Not for diagnostic use"


def _text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float, colour: tuple[int, int, int] = BLACK) -> None:
    cv2.putText(canvas, text, origin, FONT, scale, colour, max(1, int(round(scale * 2))), cv2.LINE_AA)


def text_scale(height: int) -> float:
    """A font scale readable on an image of this height (about 1/60 of it)."""
    return max(0.35, height / 1400)


def colour_bar_width(height: int) -> int:
    """The width of :func:`colour_bar` for this height."""
    return int(160 * text_scale(height) / 0.5)


def colour_bar(height: int, cmap: str, low: float, high: float, label: str, out: np.ndarray | None = None) -> np.ndarray:
    """A vertical bar, ``high`` at the top, with numeric ticks and the normalisation ``label``; drawn
    into ``out`` (height, :func:`colour_bar_width`, 3) uint8 when given."""
    scale, width = text_scale(height), colour_bar_width(height)
    bar = np.empty((height, width, 3), np.uint8) if out is None else out
    bar[...] = 255
    label_room = int(34 * scale / 0.5)  # below the bar: the lowest tick's digits, then the label
    top, left = int(0.08 * height), int(0.1 * width)
    bottom = max(top + 1, min(int(0.92 * height), height - label_room))
    ramp = np.linspace(1, -1 if cmap == DIVERGING else 0, bottom - top)[:, None]
    bar[top:bottom, left : left + width // 6] = colourise(ramp, cmap)
    for fraction in (0.0, 0.5, 1.0):
        y = int(top + fraction * (bottom - top - 1))
        value = high + fraction * (low - high)
        _text(bar, f"{value:.3g}", (left + width // 6 + 6, y + int(8 * scale / 0.5)), scale)
    _text(bar, label, (left, bottom + int(28 * scale / 0.5)), scale * 0.8)
    return bar


def warning_lines(notes: Sequence[str]) -> list[str]:
    """Caption lines for what a picture must warn of (a demo model, out-of-scope use)."""
    return [f"WARNING: {note}" for note in notes]


def wrapped(lines: Sequence[str], width: int, scale: float) -> list[str]:
    """The lines broken so that each fits in ``width`` pixels at this scale: at " | " separators
    first, then at spaces (a word longer than the width stays whole)."""
    out: list[str] = []
    for line in lines:
        out += _fill(line.split(" | "), " | ", width, scale, lambda part: _fill(part.split(" "), " ", width, scale, lambda w: [w]))
    return out


def _fill(parts: Sequence[str], joiner: str, width: int, scale: float, split: Callable[[str], list[str]]) -> list[str]:
    """Parts joined greedily into lines that fit; a part too wide on its own is ``split`` further."""
    out: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current}{joiner}{part}" if current else part
        if _width(candidate, scale) <= width:
            current = candidate
            continue
        if current:
            out.append(current)
        pieces = split(part) if _width(part, scale) > width else [part]
        out += pieces[:-1]
        current = pieces[-1]
    return out + [current]


def _width(text: str, scale: float) -> int:
    (width, _), _ = cv2.getTextSize(text, FONT, scale, max(1, int(round(scale * 2))))
    return int(width)


def caption_height(lines: int, scale: float) -> int:
    """The height of a :func:`caption` band of this many lines."""
    step = int(34 * scale / 0.5)
    return step * lines + step // 2


def caption(width: int, lines: Sequence[str], scale: float, out: np.ndarray | None = None) -> np.ndarray:
    """A white band holding one text line per entry; drawn into ``out`` (:func:`caption_height`,
    width, 3) uint8 when given."""
    step = int(34 * scale / 0.5)
    band = np.empty((caption_height(len(lines), scale), width, 3), np.uint8) if out is None else out
    band[...] = 255
    for n, line in enumerate(lines):
        _text(band, line, (10, step * (n + 1) - step // 4), scale)
    return band


def region_grid(rgb: np.ndarray, grid: int, ranking: Sequence[int]) -> np.ndarray:
    """Grid lines of an R x R region grid with each region's rank (1 = perturbed first) in it."""
    canvas = np.ascontiguousarray(rgb.copy())
    rows, cols = canvas.shape[:2]
    rows_at = [(i * rows) // grid for i in range(grid + 1)]
    cols_at = [(j * cols) // grid for j in range(grid + 1)]
    for y in rows_at[1:-1]:
        cv2.line(canvas, (0, y), (cols - 1, y), WHITE, 1)
    for x in cols_at[1:-1]:
        cv2.line(canvas, (x, 0), (x, rows - 1), WHITE, 1)
    rank_of = {int(region): n + 1 for n, region in enumerate(ranking)}
    scale = max(0.3, min(rows, cols) / grid / 60)
    for region, rank in rank_of.items():
        i, j = divmod(region, grid)
        _text(canvas, str(rank), (cols_at[j] + 3, rows_at[i] + int(14 * scale / 0.4)), scale, WHITE)
    return canvas


def side_by_side(tiles: Sequence[np.ndarray], gap: int = 8) -> np.ndarray:
    """Tiles of equal height in one row, separated by white gaps."""
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, 0), (0, 0)), constant_values=255) for t in tiles]
    spacer = np.full((height, gap, 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for tile in padded:
        parts += [tile, spacer]
    return np.concatenate(parts[:-1], axis=1)


def stacked(rows: Sequence[np.ndarray], gap: int = 8) -> np.ndarray:
    """Rows stacked vertically (left-aligned), separated by white gaps."""
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, gap), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(padded, axis=0)[: -gap or None]
