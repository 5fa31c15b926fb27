"""Sanity-check badges and provenance: verdicts on the demo models follow their heads, crafted checks give
fail and n/a verdicts, map and output flags, and the canvas's provenance line."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from torch import nn

from camviewer.engine import ExplainRequest, Explanation, ModelSession, run_explain
from camviewer.explain.targets import ClassIndex
from camviewer.gui.badges import IDENTITY_RTOL, Badge, badges, provenance
from camviewer.model.build import LoadedModel, load_model

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "phantom_effusion.dcm"
CARDS = {"demo-vgg": REPO / "models" / "demo-vgg.json", "demo-resnet": REPO / "models" / "demo-resnet.json"}
METHODS = ("gradcam", "hirescam", "lrp-epf")
EFFUSION = 3


@pytest.fixture(scope="module")
def sessions() -> dict[str, ModelSession]:
    return {name: ModelSession(load_model(card, device="cpu")) for name, card in CARDS.items()}


@pytest.fixture(scope="module")
def explained(sessions: dict[str, ModelSession]) -> dict[str, dict[str, Explanation]]:
    """Per demo model, its gradcam, hirescam and lrp-epf explanations of the effusion sample's effusion score."""
    out = {}
    for name, session in sessions.items():
        (result,) = run_explain(ExplainRequest((SAMPLE,), METHODS, (ClassIndex(EFFUSION),)), session)
        out[name] = {e.method: e for e in result.explanations}
    return out


def verdicts(explanation: Explanation) -> dict[str, str]:
    return {b.name: b.verdict for b in badges(explanation)}


def by_name(explanation: Explanation, name: str) -> Badge:
    return next(b for b in badges(explanation) if b.name == name)


# --- the demo models: verdicts follow the head ------------------------------------------------------


def test_flatten_head_hirescam_is_complete_and_gradcam_equivalence_does_not_apply(explained: dict[str, dict[str, Explanation]]) -> None:
    """demo-vgg (max-pool -> flatten -> linear): HiResCAM is complete; the gradients vary over space, so
    Grad-CAM = HiResCAM is not expected (n/a), and Grad-CAM is flagged as not faithful to the head."""
    vgg = explained["demo-vgg"]
    assert verdicts(vgg["hirescam"]) == {"complete": "pass", "= Grad-CAM": "n/a", "map ok": "pass", "output ok": "pass"}
    assert verdicts(vgg["gradcam"]) == {"= HiResCAM": "n/a", "map ok": "pass", "output ok": "pass"}
    assert "not faithful" in by_name(vgg["gradcam"], "= HiResCAM").explanation
    assert "vary over space" in by_name(vgg["gradcam"], "= HiResCAM").numbers


def test_gap_head_hirescam_is_complete_and_equals_gradcam(explained: dict[str, dict[str, Explanation]]) -> None:
    """demo-resnet (GAP -> linear): HiResCAM is complete and Grad-CAM equals it."""
    resnet = explained["demo-resnet"]
    assert verdicts(resnet["hirescam"]) == {"complete": "pass", "= Grad-CAM": "pass", "map ok": "pass", "output ok": "pass"}
    assert verdicts(resnet["gradcam"]) == {"= HiResCAM": "pass", "map ok": "pass", "output ok": "pass"}


def test_completeness_numbers_are_the_engines(explained: dict[str, dict[str, Explanation]]) -> None:
    hirescam = explained["demo-resnet"]["hirescam"]
    check = hirescam.checks["hirescam_completeness"]
    badge = by_name(hirescam, "complete")
    assert badge.numbers.startswith(f"sum {check['map_sum']:.4g} vs logit − bias {check['score'] - check['bias']:.4g} (rel ")
    assert "Draelos" in badge.explanation and "holds here" in badge.explanation


@pytest.mark.parametrize("model", CARDS)
def test_lrp_on_models_with_biases_does_not_conserve(model: str, explained: dict[str, dict[str, Explanation]]) -> None:
    """Both demo models have biases and BatchNorm shifts, which absorb relevance: Σ R misses the logit,
    and the badge says why. Canonization keeps the outputs; LRP gets no model-output badge."""
    lrp = explained[model]["lrp-epf"]
    assert verdicts(lrp) == {"conserves": "fail", "same outputs": "pass", "map ok": "pass"}
    assert lrp.checks["lrp_conservation"]["relative_difference"] > 100 * IDENTITY_RTOL
    assert "biases" in by_name(lrp, "conserves").explanation and "Bach" in by_name(lrp, "conserves").explanation


def test_lrp_conserves_once_nothing_absorbs_relevance(sessions: dict[str, ModelSession]) -> None:
    """demo-vgg with every bias and BatchNorm shift zeroed: Σ R equals the logit, and the badge passes."""
    loaded = sessions["demo-vgg"].model
    module = copy.deepcopy(loaded.module)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.running_mean is not None
            m.running_mean.zero_()
            m.bias.data.zero_()
        elif isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
            m.bias.data.zero_()
    session = ModelSession(LoadedModel(loaded.card, module, loaded.device, loaded.weights_sha256, loaded.notes))
    (result,) = run_explain(ExplainRequest((SAMPLE,), ("lrp-epf",), (ClassIndex(EFFUSION),)), session)
    assert verdicts(result.explanations[0])["conserves"] == "pass"


def test_provenance_of_a_real_explanation(sessions: dict[str, ModelSession], explained: dict[str, dict[str, Explanation]]) -> None:
    model = sessions["demo-resnet"].model
    line = provenance(model.card.name, model.weights_sha256, explained["demo-resnet"]["gradcam"])
    assert line == "demo-resnet · weights a6f060b1 · gradcam · layer features · class 3 effusion"
    unverified = provenance("demo-vgg", None, explained["demo-vgg"]["lrp-epf"])
    assert unverified == "demo-vgg · weights unverified · lrp-epf · layer input · class 3 effusion"


# --- crafted checks: fail and n/a verdicts, map and output flags -------------------------------------

PLANE = np.arange(16, dtype=np.float32).reshape(4, 4)
COMPLETE = {"applicable": True, "score": 3.4, "bias": 0.1, "map_sum": 3.3, "residual": 0.0, "relative_residual": 2e-7}
EQUAL = {"gradients_spatially_constant": True, "relative_difference": 1e-7, "equivalent": True}
OUTPUT = {"constant": False, "zero_gradient": False}
MAP = {"all_zero": False, "constant": False}
CONSERVED = {"score": 2.0, "relevance_sum": 2.0, "absolute_difference": 0.0, "relative_difference": 0.0}
CANONIZED = {"family": "vgg", "relative_output_change": 1e-7}


def cam(method: str = "hirescam", plane: np.ndarray = PLANE, **checks: dict[str, Any]) -> Explanation:
    defaults = {"hirescam_completeness": COMPLETE, "gradcam_equals_hirescam": EQUAL, "model_output": OUTPUT, "map": MAP}
    return Explanation(method, 2, "consolidation", "features.28", plane, False, defaults | checks)


def lrp(plane: np.ndarray = PLANE, **checks: dict[str, Any]) -> Explanation:
    return Explanation("lrp-egb", 2, "consolidation", "input", plane, True, {"lrp_conservation": CONSERVED, "canonization": CANONIZED} | checks)


def test_a_complete_map_passes_with_its_numbers() -> None:
    badge = by_name(cam(), "complete")
    assert (badge.verdict, badge.numbers) == ("pass", "sum 3.3 vs logit − bias 3.3 (rel 2e-7)")
    assert "ReLU" in badge.explanation  # the rectified map is checked through its signed sum
    assert "signed sum" not in by_name(cam("hirescam-signed"), "complete").explanation


def test_a_completeness_residual_fails() -> None:
    badge = by_name(cam(hirescam_completeness=COMPLETE | {"map_sum": 3.0, "relative_residual": 0.06}), "complete")
    assert badge.verdict == "fail" and "rel 0.06" in badge.numbers and "does not account" in badge.explanation


def test_completeness_without_a_linear_head_is_not_applicable_and_says_why() -> None:
    reason = "the head after the target layer is not Flatten/AvgPool/MaxPool -> Linear"
    badge = by_name(cam(hirescam_completeness={"applicable": False, "reason": reason}), "complete")
    assert badge.verdict == "n/a" and f"Not applicable: {reason}." in badge.explanation


def test_grad_cam_differing_despite_constant_gradients_fails() -> None:
    check = {"gradients_spatially_constant": True, "relative_difference": 0.2, "equivalent": False}
    badge = by_name(cam("gradcam", gradcam_equals_hirescam=check), "= HiResCAM")
    assert badge.verdict == "fail" and "rel difference 0.2, gradients constant over space" == badge.numbers


def test_identities_go_only_to_the_methods_they_are_about() -> None:
    assert list(verdicts(cam("gradcam"))) == ["= HiResCAM", "map ok", "output ok"]
    assert list(verdicts(cam("hirescam-signed"))) == ["complete", "map ok", "output ok"]
    assert list(verdicts(cam("layercam"))) == ["map ok", "output ok"]
    assert list(verdicts(lrp())) == ["conserves", "same outputs", "map ok"]


def test_lrp_conservation_and_canonization_verdicts() -> None:
    assert by_name(lrp(), "conserves").numbers == "sum 2 vs logit 2 (rel 0)"
    missing = CONSERVED | {"relevance_sum": 1.0, "absolute_difference": -1.0, "relative_difference": 0.5}
    assert verdicts(lrp(lrp_conservation=missing))["conserves"] == "fail"
    changed = by_name(lrp(canonization={"family": "resnet", "relative_output_change": 1e-3}), "same outputs")
    assert changed.verdict == "fail" and changed.numbers == "output change 0.001 (resnet canonizers)"


@pytest.mark.parametrize(("plane", "flags", "name"), [
    (np.zeros((4, 4), np.float32), {"all_zero": True, "constant": True}, "empty map"),
    (np.full((4, 4), 0.5, np.float32), {"all_zero": False, "constant": True}, "constant map"),
    (np.where(PLANE > 7, np.nan, PLANE), MAP, "non-finite map"),
])
def test_map_flags_fail(plane: np.ndarray, flags: dict[str, bool], name: str) -> None:
    assert verdicts(cam("gradcam", plane, map=flags))[name] == "fail"
    assert verdicts(lrp(plane))[name] == "fail"  # LRP carries no map flags: the same rule runs on the map


def test_the_map_badge_gives_the_range() -> None:
    assert by_name(cam(), "map ok").numbers == "range 0 .. 15, 4×4"
    assert by_name(lrp(np.where(PLANE > 7, np.inf, PLANE)), "non-finite map").numbers == "range 0 .. 7, 4×4, holds NaN or ±inf"


@pytest.mark.parametrize(("flags", "name"), [({"constant": True, "zero_gradient": True}, "constant output"),
                                             ({"constant": False, "zero_gradient": True}, "zero gradient")])
def test_model_output_flags_fail(flags: dict[str, bool], name: str) -> None:
    badge = by_name(cam("gradcampp", model_output=flags), name)
    assert badge.verdict == "fail" and badge.explanation


def test_every_badge_has_a_short_name_one_line_of_numbers_and_a_tooltip() -> None:
    for explanation in (cam(), cam("gradcam"), lrp(), cam(hirescam_completeness={"applicable": False, "reason": "no head"})):
        for badge in badges(explanation):
            assert len(badge.name) <= 16 and badge.verdict in {"pass", "fail", "n/a"}
            assert badge.numbers and "\n" not in badge.numbers and badge.explanation.endswith(".")
    with pytest.raises(dataclasses.FrozenInstanceError):
        badge.verdict = "pass"  # type: ignore[misc]


def test_provenance_shortens_the_hash() -> None:
    line = provenance("demo-vgg", "3f2a9c1e" + "0" * 56, cam("gradcam"))
    assert line == "demo-vgg · weights 3f2a9c1e · gradcam · layer features.28 · class 2 consolidation"


def test_badges_import_no_qt() -> None:
    code = "import sys, camviewer.gui.badges; print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'pyqtgraph', 'shiboken6'}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
