"""Perturbations g of the model input, in its pixel scale (before mean/std normalisation).

``constant:V`` sets pixels to V; ``gaussian:SIGMA`` adds N(0, SIGMA^2) noise; ``uniform`` replaces
with uniform noise over the image's value range [min, max]; ``blur:SIGMA`` replaces with a Gaussian
blur (SIGMA in pixels); ``mean`` replaces with the image's per-channel mean. Random perturbations
draw one field per image and seed, so x^(k) depends only on which regions are perturbed, and every
method and order sees the same noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from camviewer import errors
from camviewer.model.card import MAX_INPUT_SIDE

Kind = Literal["constant", "gaussian", "uniform", "blur", "mean"]
TAKES_VALUE = {"constant": True, "gaussian": True, "blur": True, "uniform": False, "mean": False}


MAX_VALUE = 1e6  # |V| and Gaussian sigma: far beyond any model's pixel range, still finite after normalisation
MAX_BLUR_SIGMA = float(MAX_INPUT_SIDE)  # a run also bounds it by its own input


@dataclass(frozen=True)
class Perturbation:
    """One perturbation; invalid values are refused when it is made (not when a run is half done)."""

    kind: Kind
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in TAKES_VALUE:
            raise errors.UsageError(f"{self.kind!r}: use constant:V, gaussian:SIGMA, uniform, blur:SIGMA or mean",
                                    option="perturbation")
        if TAKES_VALUE[self.kind] != (self.value is not None):
            raise errors.UsageError(f"{self.kind} {'needs' if TAKES_VALUE[self.kind] else 'takes no'} a value",
                                    option="perturbation")
        if self.value is None:
            return
        if not math.isfinite(self.value):
            raise errors.UsageError(f"{self.kind} needs a finite value", option="perturbation")
        if self.kind == "constant" and abs(self.value) > MAX_VALUE:
            raise errors.UsageError(f"constant must be within ±{MAX_VALUE:g}", option="perturbation")
        limit = MAX_BLUR_SIGMA if self.kind == "blur" else MAX_VALUE
        if self.kind in ("gaussian", "blur") and not 0 < self.value <= limit:
            raise errors.UsageError(f"{self.kind} needs a sigma in (0, {limit:g}]", option="perturbation")

    def check_for(self, size: tuple[int, int]) -> None:
        """Refuse a blur wider than the model input it perturbs (its cost grows with sigma, its effect does not)."""
        if self.kind == "blur" and self.value is not None and self.value > max(size):
            raise errors.UsageError(f"blur sigma must be at most {max(size)} for a {size[0]}x{size[1]} model input",
                                    option="perturbation")

    @property
    def amount(self) -> float:
        """The value of a perturbation that takes one (constant, gaussian, blur)."""
        if self.value is None:
            raise ValueError(f"{self.kind} takes no value")
        return self.value

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value:g}"


DEFAULT_PERTURBATION = Perturbation("gaussian", 0.1)  # the AOPC study's: Gaussian noise, sigma = 0.1 of the value range


def parse_perturbation(spec: str) -> Perturbation:
    """``constant:V``, ``gaussian:SIGMA``, ``uniform``, ``blur:SIGMA`` or ``mean``."""
    kind, separator, value = spec.strip().partition(":")
    if not separator:
        return Perturbation(kind)  # type: ignore[arg-type]
    try:
        number = float(value)
    except ValueError as exc:
        raise errors.UsageError(f"{spec.strip()!r}: {value!r} is not a number", option="perturbation") from exc
    return Perturbation(kind, number)  # type: ignore[arg-type]


def fully_perturbed(pixels: np.ndarray, perturbation: Perturbation, seed: int) -> np.ndarray:
    """P, the (C, H, W) image with every pixel perturbed; x^(k) takes P inside the first k regions."""
    rng = np.random.default_rng(seed)
    if perturbation.kind == "constant":
        return np.full_like(pixels, perturbation.amount)
    if perturbation.kind == "gaussian":
        return (pixels + rng.normal(0.0, perturbation.amount, pixels.shape)).astype(np.float32)
    if perturbation.kind == "uniform":
        return rng.uniform(float(pixels.min()), float(pixels.max()), pixels.shape).astype(np.float32)
    if perturbation.kind == "blur":
        return np.stack([cv2.GaussianBlur(plane, (0, 0), perturbation.amount) for plane in pixels]).astype(np.float32)
    return np.broadcast_to(pixels.mean(axis=(1, 2), keepdims=True), pixels.shape).astype(np.float32)
