"""Perturbations g of the model input, in its pixel scale (before mean/std normalisation).

``constant:V`` sets pixels to V; ``gaussian:SIGMA`` adds N(0, SIGMA^2) noise; ``uniform`` replaces
with uniform noise over the image's value range [min, max]; ``blur:SIGMA`` replaces with a Gaussian
blur (SIGMA in pixels); ``mean`` replaces with the image's per-channel mean. Random perturbations
draw one field per image and seed, so x^(k) depends only on which regions are perturbed, and every
method and order sees the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from camviewer import errors

Kind = Literal["constant", "gaussian", "uniform", "blur", "mean"]
TAKES_VALUE = {"constant": True, "gaussian": True, "blur": True, "uniform": False, "mean": False}


@dataclass(frozen=True)
class Perturbation:
    kind: Kind
    value: float | None = None

    def __str__(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value:g}"


def parse_perturbation(spec: str) -> Perturbation:
    kind, _, value = spec.strip().partition(":")
    if kind not in TAKES_VALUE:
        raise errors.UsageError(f"--perturb {spec!r}: use constant:V, gaussian:SIGMA, uniform, blur:SIGMA or mean")
    if TAKES_VALUE[kind] != bool(value):
        raise errors.UsageError(f"--perturb {kind} {'needs' if TAKES_VALUE[kind] else 'takes no'} a value")
    if not value:
        return Perturbation(kind)  # type: ignore[arg-type]
    try:
        number = float(value)
    except ValueError as exc:
        raise errors.UsageError(f"--perturb {spec!r}: {value!r} is not a number") from exc
    if kind in ("gaussian", "blur") and not number > 0:
        raise errors.UsageError(f"--perturb {kind} needs a positive sigma")
    return Perturbation(kind, number)  # type: ignore[arg-type]


def fully_perturbed(pixels: np.ndarray, perturbation: Perturbation, seed: int) -> np.ndarray:
    """P, the (C, H, W) image with every pixel perturbed; x^(k) takes P inside the first k regions."""
    rng = np.random.default_rng(seed)
    if perturbation.kind == "constant":
        return np.full_like(pixels, perturbation.value)
    if perturbation.kind == "gaussian":
        return (pixels + rng.normal(0.0, perturbation.value, pixels.shape)).astype(np.float32)
    if perturbation.kind == "uniform":
        return rng.uniform(float(pixels.min()), float(pixels.max()), pixels.shape).astype(np.float32)
    if perturbation.kind == "blur":
        return np.stack([cv2.GaussianBlur(plane, (0, 0), perturbation.value) for plane in pixels]).astype(np.float32)
    return np.broadcast_to(pixels.mean(axis=(1, 2), keepdims=True), pixels.shape).astype(np.float32)
