"""The DICOM grayscale pipeline as pure NumPy functions (PS3.3 C.11, PS3.4 N.2.1).

Stored values -> Modality LUT (rescale or LUT) -> VOI (window or LUT) -> polarity.
VOI output is normalised to [0, 1]; polarity is applied once, after VOI, against that
nominal range (never against the data maximum).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from camviewer.geometry import row_bands

VoiFunction = Literal["LINEAR", "LINEAR_EXACT", "SIGMOID"]
VOI_FUNCTIONS: tuple[VoiFunction, ...] = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
MAX_WINDOW_VALUE = 1e30  # float32 arithmetic on modality values stays finite below this


@dataclass(frozen=True, eq=False)
class Lut:
    """A DICOM lookup table: LUT Descriptor (entries, first mapped value, bits) + LUT Data."""

    first_mapped: int
    data: np.ndarray
    bits: int

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Map input values (float32 out); inputs below/above the table take its first/last entry."""
        out = np.empty(values.shape, np.float32)
        for rows in row_bands(values.shape):
            index = np.clip(np.rint(values[rows]) - self.first_mapped, 0, len(self.data) - 1)
            out[rows] = self.data[index.astype(np.intp)]
        return out

    @property
    def output_max(self) -> int:
        return (1 << self.bits) - 1


@dataclass(frozen=True)
class ModalityTransform:
    """Rescale Slope/Intercept, or a Modality LUT (which then takes precedence)."""

    slope: float = 1.0
    intercept: float = 0.0
    lut: Lut | None = None

    def apply(self, stored: np.ndarray) -> np.ndarray:
        if self.lut is not None:
            return self.lut.apply(stored)
        out = stored.astype(np.float32, copy=True)
        if self.slope != 1.0:
            out *= np.float32(self.slope)
        if self.intercept != 0.0:
            out += np.float32(self.intercept)
        return out

    def output_range(self, stored_min: float, stored_max: float) -> tuple[float, float]:
        """The range of modality values that stored values in [min, max] can take."""
        if self.lut is not None:
            return float(self.lut.data.min()), float(self.lut.data.max())
        ends = sorted((stored_min * self.slope + self.intercept, stored_max * self.slope + self.intercept))
        return ends[0], ends[1]


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: VoiFunction = "LINEAR"

    def __post_init__(self) -> None:
        if self.function not in VOI_FUNCTIONS:
            raise ValueError(f"unknown VOI LUT Function {self.function!r}")
        if not (abs(self.center) <= MAX_WINDOW_VALUE and abs(self.width) <= MAX_WINDOW_VALUE):
            raise ValueError(f"window center and width must be finite, within ±{MAX_WINDOW_VALUE:g}")
        too_narrow = self.width < 1.0 if self.function == "LINEAR" else self.width <= 0.0
        if too_narrow:
            raise ValueError(f"window width {self.width:g} is invalid for {self.function}")


@dataclass(frozen=True, eq=False)
class VoiPreset:
    """One VOI choice offered to the user: a window or a VOI LUT, with its explanation."""

    name: str
    source: Literal["file", "auto", "bit-depth", "user"]
    window: Window | None = None
    lut: Lut | None = None

    def __post_init__(self) -> None:
        if (self.window is None) == (self.lut is None):
            raise ValueError("a VOI preset holds exactly one of a window or a LUT")

    def describe(self) -> str:
        if self.window is not None:
            w = self.window
            return f"{self.name}: center {w.center:g}, width {w.width:g}, {w.function}"
        assert self.lut is not None
        return f"{self.name}: VOI LUT, {len(self.lut.data)} entries, {self.lut.bits} bits"


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """VOI windowing to [0, 1] by PS3.3 C.11.2.1.2 (LINEAR, LINEAR_EXACT, SIGMOID)."""
    x = values.astype(np.float32, copy=False)
    c, w = np.float32(window.center), np.float32(window.width)
    if window.function == "SIGMOID":
        # 1 / (1 + exp(-4(x - c)/w)), written with tanh so that it cannot overflow
        return (0.5 * (1.0 + np.tanh(2.0 * (x - c) / w))).astype(np.float32)
    if window.function == "LINEAR_EXACT":
        y = (x - c) / w + 0.5
    elif w == 1.0:  # (w - 1) == 0: a pure threshold at c - 0.5
        y = (x > c - 0.5).astype(np.float32)
    else:
        y = (x - (c - 0.5)) / (w - 1.0) + 0.5
    return np.clip(y, 0.0, 1.0).astype(np.float32, copy=False)


def apply_voi(values: np.ndarray, preset: VoiPreset) -> np.ndarray:
    """Apply a window or a VOI LUT; the result is in [0, 1]."""
    if preset.window is not None:
        return apply_window(values, preset.window)
    assert preset.lut is not None
    out = preset.lut.apply(values) / np.float32(preset.lut.output_max)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def apply_polarity(voi_output: np.ndarray, invert: bool) -> np.ndarray:
    """MONOCHROME1: minimum is white, inverted once against the nominal [0, 1] range."""
    return (1.0 - voi_output).astype(np.float32) if invert else voi_output


def auto_window(values: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> Window:
    """A LINEAR_EXACT window spanning the given percentiles of (about a million of) the finite values."""
    count = sum(int(np.count_nonzero(np.isfinite(values[rows]))) for rows in row_bands(values.shape))
    if count == 0:
        return Window(0.5, 1.0, "LINEAR_EXACT")
    sample, lowest, highest = _finite_sample(values, max(1, count // 1_000_000))
    lo, hi = (float(v) for v in np.percentile(sample, (low_pct, high_pct)))
    if hi <= lo:
        lo, hi = lowest, highest
    if hi <= lo:
        return Window(lo, 1.0, "LINEAR_EXACT")
    return Window((lo + hi) / 2.0, hi - lo, "LINEAR_EXACT")


def _finite_sample(values: np.ndarray, step: int) -> tuple[np.ndarray, float, float]:
    """Every ``step``-th finite value (in C order), and the finite minimum and maximum, band by band."""
    parts, seen, lowest, highest = [], 0, np.inf, -np.inf
    for rows in row_bands(values.shape):
        finite = values[rows][np.isfinite(values[rows])]
        if finite.size:
            parts.append(finite[(-seen) % step :: step].copy())  # not a view: the band is freed
            lowest, highest = min(lowest, float(finite.min())), max(highest, float(finite.max()))
        seen += finite.size
    return np.concatenate(parts), lowest, highest


def maps_like(window: Window, other: Window | None, value_range: tuple[float, float], tolerance: float = 1e-4) -> bool:
    """Whether two windows give the same display over ``value_range`` (checked at 65 points)."""
    if other is None:
        return False
    samples = np.linspace(*value_range, 65, dtype=np.float64)
    return bool(np.allclose(apply_window(samples, window), apply_window(samples, other), atol=tolerance))


def full_range_preset(lo: float, hi: float, name: str = "Full range") -> VoiPreset:
    """The built-in preset that maps [lo, hi] linearly onto [0, 1]."""
    return VoiPreset(name, "bit-depth", window=range_window(lo, hi))


def range_window(lo: float, hi: float) -> Window:
    """A LINEAR_EXACT window mapping [lo, hi] linearly onto [0, 1]."""
    width = hi - lo if hi > lo else 1.0
    return Window(lo + width / 2.0, width, "LINEAR_EXACT")


def to_bits(unit: np.ndarray, bits: Literal[8, 16]) -> np.ndarray:
    """Quantise [0, 1] floats to uint8 or uint16 with rounding."""
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    return np.rint(np.clip(unit, 0.0, 1.0) * top).astype(dtype)
