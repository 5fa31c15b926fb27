"""Frozen requests: what a caller asks the engine to do, validated when made.

Checks that need the model (class names, grid against the input size) run when the engine
starts, before any image is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from camviewer import errors
from camviewer.explain.cams import CAM_METHODS
from camviewer.explain.lrp import LRP_METHODS
from camviewer.explain.targets import Target, TopK
from camviewer.io import XrayImage
from camviewer.metrics.aopc import Score
from camviewer.metrics.perturbation import DEFAULT_PERTURBATION, Perturbation
from camviewer.metrics.regions import MAX_SEED, ORDERS, Order
from camviewer.metrics.sensitivity import SensitivitySpec

METHOD_NAMES: tuple[str, ...] = (*CAM_METHODS, *LRP_METHODS)
SCORES: tuple[Score, ...] = ("prob", "logit")


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An image already read (the window holds it; batch runs prefetch), and the file it came from, if any."""

    image: XrayImage
    path: Path | None = None


ImageSource = Path | DecodedImage


def check_explanation(methods: tuple[str, ...], targets: tuple[Target, ...], batch_size: int | None) -> None:
    """What every request that explains must hold: known methods, some target, a positive batch size."""
    unknown = [m for m in methods if m not in METHOD_NAMES]
    if unknown:
        raise errors.UsageError(f"unknown method {unknown[0]!r}; available: {', '.join(METHOD_NAMES)}", option="methods")
    if not methods:
        raise errors.UsageError("no method requested", option="methods")
    if not targets:
        raise errors.UsageError("names no class", option="targets")
    if batch_size is not None and batch_size < 1:
        raise errors.UsageError("the batch size must be at least 1", option="batch_size")


@dataclass(frozen=True)
class ExplainRequest:
    """Predict every image, then explain each of its targets with each method."""

    images: tuple[ImageSource, ...]
    methods: tuple[str, ...] = ("gradcam",)
    targets: tuple[Target, ...] = (TopK(1),)
    layer: str | None = None
    batch_size: int = 8
    request_id: int = 0

    def __post_init__(self) -> None:
        check_explanation(self.methods, self.targets, self.batch_size)


@dataclass(frozen=True)
class EvaluateRequest:
    """Explain as :class:`ExplainRequest` does, then measure each explanation.

    ``steps`` None means every region (R²); ``batch_size`` None means the device's default for
    forward passes; ``incremental`` recomputes only each step's changed footprint where exact.
    """

    images: tuple[ImageSource, ...]
    methods: tuple[str, ...] = ("gradcam",)
    targets: tuple[Target, ...] = (TopK(1),)
    layer: str | None = None
    grid: int = 9
    perturbation: Perturbation = DEFAULT_PERTURBATION
    steps: int | None = None
    seed: int = 0
    orders: tuple[Order, ...] = ("morf",)
    score: Score = "prob"
    sensitivity: tuple[SensitivitySpec, ...] = ()
    batch_size: int | None = None
    incremental: bool = True
    request_id: int = 0

    def __post_init__(self) -> None:
        check_explanation(self.methods, self.targets, self.batch_size)
        if self.grid < 2:
            raise errors.UsageError("the grid needs at least 2 x 2 regions", option="grid")
        if self.steps is not None and not 1 <= self.steps <= self.grid**2:
            raise errors.UsageError(f"steps must be 1..{self.grid**2} for a {self.grid} x {self.grid} grid", option="steps")
        if not 0 <= self.seed <= MAX_SEED:
            raise errors.UsageError(f"the seed must be 0..{MAX_SEED}", option="seed")
        if not self.orders or any(o not in ORDERS for o in self.orders):
            raise errors.UsageError(f"orders are {', '.join(ORDERS)}", option="orders")
        if self.score not in SCORES:
            raise errors.UsageError(f"the score is {' or '.join(SCORES)}", option="score")

    @property
    def length(self) -> int:
        """L, the number of perturbation steps."""
        return self.steps if self.steps is not None else self.grid**2

    def explanation(self) -> ExplainRequest:
        """The explanations this evaluation measures."""
        return ExplainRequest(self.images, self.methods, self.targets, self.layer, request_id=self.request_id)
