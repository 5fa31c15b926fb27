"""Synthetic posteroanterior chest radiographs with known findings and pixel-exact masks.

Each seed draws independent random streams for the class, the anatomy's shape, its texture,
the finding and the acquisition. So the same seed with different labels gives the same
patient, imaged the same way, with only the finding changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from camviewer.phantom import findings
from camviewer.phantom.anatomy import Anatomy, Regions, draw_params, render
from camviewer.phantom.marker import stamp
from camviewer.phantom.shapes import blur, grid

CLASSES = ("normal", "nodule", "consolidation", "effusion", "cardiomegaly")
FINDINGS = CLASSES[1:]
MIN_SIZE, MAX_SIZE = 64, 2048
LOCAL_FINDINGS: dict[str, Callable[[Anatomy, np.random.Generator], findings.Lesion]] = {
    "nodule": findings.nodules,
    "consolidation": findings.consolidation,
    "effusion": findings.effusion,
}
STREAMS = ("label", "shape", "texture", "finding", "acquisition")


@dataclass(frozen=True, eq=False)
class Phantom:
    """A synthetic radiograph.

    ``pixels``: float32 (H, W) in [0, 1], display-ready MONOCHROME2 (bright bone, dark lung).
    ``mask``: where the finding is (all False for a normal image). ``labels``: the findings
    present (empty for normal); ``label``: the single class, one of :data:`CLASSES`.
    ``regions``: masks of the normal anatomy (body, lungs, heart, spine).
    """

    pixels: np.ndarray
    mask: np.ndarray
    labels: tuple[str, ...]
    label: str
    regions: Regions

    def __post_init__(self) -> None:
        self.pixels.setflags(write=False)
        self.mask.setflags(write=False)


@dataclass(frozen=True)
class Acquisition:
    """Exposure curve, detector noise, focal-spot blur and a heel-effect gradient."""

    low: float
    high: float
    gamma: float
    noise: float
    blur: float
    heel: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Acquisition:
        return cls(low=rng.uniform(0.0, 0.06), high=rng.uniform(0.86, 1.0), gamma=rng.uniform(0.8, 1.25),
                   noise=rng.uniform(0.004, 0.016), blur=rng.uniform(0.3, 1.0), heel=rng.uniform(-0.04, 0.04))


def check_size(size: int) -> None:
    """Raise ValueError unless ``size`` is an integer in 64..2048."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"phantom size must be an integer from {MIN_SIZE} to {MAX_SIZE}, not {size!r}")


def generate(seed: int, label: str | None = None, size: int = 512) -> Phantom:
    """The phantom for ``seed`` (a non-negative integer) of class ``label`` (random if None)."""
    check_size(size)
    if label is not None and label not in CLASSES:
        raise ValueError(f"unknown phantom class {label!r}; expected one of {', '.join(CLASSES)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"phantom seed must be a non-negative integer, not {seed!r}")
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    streams = {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}
    label = label or CLASSES[int(streams["label"].integers(0, len(CLASSES)))]
    params = draw_params(streams["shape"])
    if label == "cardiomegaly":
        params = findings.enlarge_heart(params, streams["finding"])
    anatomy = render(params, int(size), streams["texture"])
    attenuation, mask = _with_finding(anatomy, label, streams["finding"])
    pixels = stamp(expose(attenuation, Acquisition.draw(streams["acquisition"]), streams["acquisition"]))
    return Phantom(pixels, mask, () if label == "normal" else (label,), label, anatomy.regions)


def _with_finding(anatomy: Anatomy, label: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if label == "cardiomegaly":
        return anatomy.attenuation, anatomy.regions.heart.copy()
    if label == "normal":
        return anatomy.attenuation, np.zeros_like(anatomy.regions.body)
    lesion = LOCAL_FINDINGS[label](anatomy, rng)
    return np.clip(anatomy.attenuation + lesion.attenuation, 0.0, 1.0), lesion.mask


def expose(attenuation: np.ndarray, acquisition: Acquisition, rng: np.random.Generator) -> np.ndarray:
    """Attenuation to display values: blur, exposure curve, heel effect and signal-dependent noise."""
    size = attenuation.shape[0]
    sharpened = blur(attenuation, acquisition.blur * size / 512)
    y, _ = grid(size)
    shown = acquisition.low + (acquisition.high - acquisition.low) * sharpened**acquisition.gamma
    shown = shown + acquisition.heel * (y - 0.5)
    noise = rng.standard_normal(shown.shape, dtype=np.float32) * acquisition.noise * (0.5 + shown)
    return np.clip(shown + noise, 0.0, 1.0).astype(np.float32)
