"""Sanity-check badges and a provenance line for each heatmap the window shows (Qt-free).

Each badge reads the checks the engine computed with the map (:mod:`camviewer.explain.engine`,
:mod:`camviewer.explain.lrp`): the identities that apply to the method, then the map's and the
model output's flags. Verdicts come from the engine where it gives one (Grad-CAM = HiResCAM,
the map flags); completeness and conservation are judged here, against ``IDENTITY_RTOL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from camviewer.engine.results import Explanation
from camviewer.explain.engine import map_flags
from camviewer.explain.lrp import LRP_METHODS, MAX_OUTPUT_CHANGE

Verdict = Literal["pass", "fail", "n/a"]

# An exact identity computed in float32 holds to this relative residual (README, "LRP": with zero
# biases Σ R equals the logit to 1e-4; the engine's Grad-CAM = HiResCAM verdict allows the same).
IDENTITY_RTOL = 1e-4
COMPLETE_METHODS = ("hirescam", "hirescam-signed")
EQUIVALENT_TO = {"gradcam": "HiResCAM", "hirescam": "Grad-CAM"}


@dataclass(frozen=True)
class Badge:
    """One check on one map: a short name, its verdict, the numbers behind it, and a tooltip sentence."""

    name: str
    verdict: Verdict
    numbers: str
    explanation: str


def badges(explanation: Explanation) -> tuple[Badge, ...]:
    """The identities that apply to the map's method, then its map flags and (CAM methods) its output flags."""
    method, checks = explanation.method, explanation.checks
    out: list[Badge] = []
    if method in COMPLETE_METHODS:
        out.append(_completeness(checks["hirescam_completeness"], rectified=method == "hirescam"))
    if method in EQUIVALENT_TO:
        out.append(_equivalence(checks["gradcam_equals_hirescam"], method))
    if method in LRP_METHODS:
        out += [_conservation(checks["lrp_conservation"]), _canonization(checks["canonization"])]
    out.append(_map_badge(explanation.map, checks.get("map")))
    if "model_output" in checks:
        out.append(_output_badge(checks["model_output"]))
    return tuple(out)


def provenance(model_name: str, weights_sha256: str | None, explanation: Explanation) -> str:
    """One line for the canvas: model, weights hash (first 8 hex), method, layer and class."""
    return " · ".join(provenance_parts(model_name, weights_sha256, explanation))


def provenance_parts(model_name: str, weights_sha256: str | None, explanation: Explanation) -> tuple[str, str]:
    """What made the map ("method · layer · class") and the model that ran ("name · weights hash")."""
    weights = f"weights {weights_sha256[:8]}" if weights_sha256 else "weights unverified"
    e = explanation
    return " · ".join((model_name, weights)), " · ".join((e.method, f"layer {e.layer}", f"class {e.target_index} {e.target_label}"))


def _rel(value: float) -> str:
    """A relative error in one significant digit: ``2e-7``, ``0.3``, ``0``."""
    text = f"{value:.1g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _completeness(check: dict[str, Any], rectified: bool) -> Badge:
    identity = ("HiResCAM completeness: on a Conv → Flatten/AvgPool/MaxPool → Linear head, the map before its ReLU "
                "sums exactly to the class score minus the bias (Draelos & Carin 2021).")
    if not check["applicable"]:
        return Badge("complete", "n/a", "no linear head after the layer", f"{identity} Not applicable: {check['reason']}.")
    target = check["score"] - check["bias"]
    rel = check["relative_residual"]
    numbers = f"sum {check['map_sum']:.4g} vs logit − bias {target:.4g} (rel {_rel(rel)})"
    scope = " The check is on the signed sum; the ReLU'd map shown drops the negative part." if rectified else ""
    if rel <= IDENTITY_RTOL:
        return Badge("complete", "pass", numbers, f"{identity} It holds here: the map accounts for the whole score.{scope}")
    return Badge("complete", "fail", numbers,
                 f"{identity} Here it misses by more than {IDENTITY_RTOL:g} relative, so the map does not account for the score: "
                 f"a numerical or hook problem.{scope}")


def _equivalence(check: dict[str, Any], method: str) -> Badge:
    other = EQUIVALENT_TO[method]
    identity = ("Grad-CAM averages each channel's gradient over space; HiResCAM keeps it per position. They agree exactly "
                "when the gradients are constant over space, as behind a global-average-pool head.")
    spatial = "gradients constant over space" if check["gradients_spatially_constant"] else "gradients vary over space"
    numbers = f"rel difference {_rel(check['relative_difference'])}, {spatial}"
    name = f"= {other}"
    if check["equivalent"]:
        return Badge(name, "pass", numbers, f"{identity} The head averages, and the two maps agree.")
    if not check["gradients_spatially_constant"]:
        faithful = " Grad-CAM is not faithful to this head; HiResCAM is." if method == "gradcam" else ""
        return Badge(name, "n/a", numbers,
                     f"{identity} Not applicable: the head after the layer does not average (e.g. it flattens), "
                     f"so the two maps differ.{faithful}")
    return Badge(name, "fail", numbers, f"{identity} The gradients are constant over space, yet the maps differ: a numerical problem.")


def _conservation(check: dict[str, Any]) -> Badge:
    identity = ("LRP conservation: relevance is passed down layer by layer so that the input relevance sums to the "
                "target logit (Bach et al. 2015).")
    rel = check["relative_difference"]
    numbers = f"sum {check['relevance_sum']:.4g} vs logit {check['score']:.4g} (rel {_rel(rel)})"
    if rel <= IDENTITY_RTOL:
        return Badge("conserves", "pass", numbers, f"{identity} It holds here: the map accounts for the whole logit.")
    return Badge("conserves", "fail", numbers,
                 f"{identity} Here the sum misses the logit: biases (BatchNorm shifts included) and ε stabilisers absorb "
                 "relevance, so the map accounts for only part of the logit. Expected on models with biases: read the map "
                 "as relative, not as shares of the logit.")


def _canonization(check: dict[str, Any]) -> Badge:
    change = check["relative_output_change"]
    numbers = f"output change {_rel(change)} ({check['family']} canonizers)"
    identity = ("Canonization (merging BatchNorm into the layers before it, splitting skip connections) must leave the "
                "model's outputs unchanged, or LRP explains a different model.")
    if change <= MAX_OUTPUT_CHANGE:
        return Badge("same outputs", "pass", numbers, f"{identity} It does: within {MAX_OUTPUT_CHANGE:g} relative.")
    return Badge("same outputs", "fail", numbers, f"{identity} It changed them by more than {MAX_OUTPUT_CHANGE:g} relative.")


def _map_badge(plane: np.ndarray, flags: dict[str, bool] | None) -> Badge:
    """Non-finite, empty or constant: the engine's flags where it gave them (CAM methods), else the same rule."""
    finite = bool(np.isfinite(plane).all())
    values = plane[np.isfinite(plane)]
    low, high = (float(values.min()), float(values.max())) if values.size else (float("nan"), float("nan"))
    numbers = f"range {low:.3g} .. {high:.3g}, {plane.shape[0]}×{plane.shape[1]}" + ("" if finite else ", holds NaN or ±inf")
    if not finite:
        return Badge("non-finite map", "fail", numbers, "The map holds NaN or infinite values: it cannot be shown or measured faithfully.")
    flags = map_flags(plane) if flags is None else flags
    if flags["all_zero"]:
        return Badge("empty map", "fail", numbers,
                     "The map is zero everywhere: it shows nothing. For a ReLU'd CAM, the layer holds no positive evidence "
                     "for this class, or the gradient is zero.")
    if flags["constant"]:
        return Badge("constant map", "fail", numbers, "The map has one value everywhere, so it ranks no region above another.")
    return Badge("map ok", "pass", numbers, "The map is finite and varies over the image.")


def _output_badge(flags: dict[str, bool]) -> Badge:
    numbers = f"constant logits: {'yes' if flags['constant'] else 'no'}, zero gradient: {'yes' if flags['zero_gradient'] else 'no'}"
    if flags["constant"]:
        return Badge("constant output", "fail", numbers,
                     "The model gives every class the same logit for this image, so no map can say why one class won.")
    if flags["zero_gradient"]:
        return Badge("zero gradient", "fail", numbers,
                     "The target score's gradient at the layer is zero everywhere (saturated or dead units): gradient CAMs are "
                     "empty by construction; try another layer.")
    return Badge("output ok", "pass", numbers, "The logits differ between classes and the target score's gradient at the layer is non-zero.")
