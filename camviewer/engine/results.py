"""Plain results that the engine streams back, one per input image, in input order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from camviewer import errors
from camviewer.io import XrayImage
from camviewer.metrics.aopc import Curve
from camviewer.metrics.sensitivity import Sensitivity
from camviewer.model.preprocess import ModelInput


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    logit: float
    probability: float


@dataclass(frozen=True, eq=False)
class Explanation:
    """One method's raw map for one target: unnormalised, at the layer's (CAM) or input's (LRP) resolution."""

    method: str
    target_index: int
    target_label: str
    layer: str
    map: np.ndarray
    signed: bool
    checks: dict[str, Any]


@dataclass(frozen=True, eq=False)
class ImageResult:
    """Predictions (most probable first) and explanations (per target, the methods in the order asked).

    ``index`` is the input's position in the request; ``image`` the decoded source (kept so that
    exports never read the file again); ``scope``: how the image is outside the model's intended use
    (:mod:`camviewer.engine.scope`), shown wherever the result is; ``warnings``: the file's own;
    ``error`` is set, and the rest empty, when the input failed.
    """

    request_id: int
    index: int
    path: Path | None
    predictions: tuple[Prediction, ...] = ()
    explanations: tuple[Explanation, ...] = ()
    model_input: ModelInput | None = None
    image: XrayImage | None = None
    warnings: tuple[str, ...] = ()
    error: errors.CamviewerError | None = None
    scope: tuple[str, ...] = ()

    def probability(self, index: int) -> float:
        return next(p.probability for p in self.predictions if p.index == index)


@dataclass(frozen=True, eq=False)
class SensitivityResult:
    method: str
    target_index: int
    value: Sensitivity


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """One image's explanations and their measurements: a curve per (explanation, order), then
    Max Sensitivity per (explanation, radius and samples)."""

    explained: ImageResult
    curves: tuple[Curve, ...] = ()
    sensitivity: tuple[SensitivityResult, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def error(self) -> errors.CamviewerError | None:
        return self.explained.error
