"""``camviewer --self-test``: is this installation whole? Four checks, in order, each printed:

1. the bundled files: the demo model card and the sample studies are there;
2. the default model loads (weights verified against the card's SHA-256) and runs on its device;
3. a bundled sample (the effusion phantom) is read and predicted as effusion, and its Grad-CAM
   and HiResCAM maps pass the sanity checks the window shows as badges (finite, not constant,
   Grad-CAM = HiResCAM on the demo model's global-average-pooled head, HiResCAM completeness,
   the model output unchanged by the hooks);
4. the window's toolkit (PySide6) imports, with its platform plugins.

Exit 0 when all pass; otherwise exit 1 with one line naming the first check that failed.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from camviewer import errors
from camviewer.cli.report import ExitCode, emit, fail
from camviewer.resources import DEFAULT_CARD, DEFAULT_SAMPLE, SAMPLES, root

if TYPE_CHECKING:
    from camviewer.engine import ModelSession

EXPECTED_CLASS = "effusion"
METHODS = ("gradcam", "hirescam")


class CheckFailed(Exception):
    """A self-test check that did not pass: its message is the one line printed."""


def run_self_test(_args: argparse.Namespace) -> int:
    emit([f"camviewer self-test ({root()})"])
    passed = 0
    try:
        for line in _checks():
            emit([f"ok   {line}"])
            passed += 1
    except CheckFailed as exc:
        fail(f"Self-test failed: {exc}")
        return ExitCode.FAILED
    emit([f"self-test passed: {passed} checks"])
    return ExitCode.OK


def _checks() -> Iterator[str]:
    """Each check's line, in order; raises CheckFailed at the first that fails."""
    yield _bundled_files()
    session = _load_default_model()
    yield _model(session)
    yield _sample_and_maps(session)
    yield _toolkit()


def _bundled_files() -> str:
    missing = [p for p in (DEFAULT_CARD, DEFAULT_SAMPLE) if not p.is_file()]
    if missing:
        raise CheckFailed(f"{_shown(missing[0])} is missing")
    samples = sum(1 for p in SAMPLES.iterdir() if p.suffix in (".dcm", ".png"))
    return f"bundled files: the demo model card and {samples} sample studies in {_shown(SAMPLES)}"


def _load_default_model() -> ModelSession:
    from camviewer.engine import ModelSession
    from camviewer.model.build import load_model

    try:
        return ModelSession(load_model(None))
    except errors.CamviewerError as exc:
        raise CheckFailed(f"the default model: {exc.message}") from exc


def _model(session: ModelSession) -> str:
    model = session.model
    weights = f"weights sha256 {model.weights_sha256[:12]} verified" if model.weights_sha256 else "no weights file"
    return f"model: {session.card.name} ({weights}) on {session.device}, target layer {session.layer().name}"


def _sample_and_maps(session: ModelSession) -> str:
    from camviewer.engine import ExplainRequest, run_explain
    from camviewer.explain.targets import TopK
    from camviewer.gui.badges import badges

    (result,) = run_explain(ExplainRequest((DEFAULT_SAMPLE,), METHODS, (TopK(1),)), session)
    if result.error is not None:
        raise CheckFailed(f"sample {DEFAULT_SAMPLE.name}: {result.error.message}")
    top = result.predictions[0]
    if top.label != EXPECTED_CLASS:
        raise CheckFailed(f"sample {DEFAULT_SAMPLE.name} is predicted {top.label} ({top.probability:.2f}), not {EXPECTED_CLASS}")
    passed = []
    for explanation in result.explanations:
        for badge in badges(explanation):
            if badge.verdict == "fail":
                raise CheckFailed(f"{explanation.method} map: the {badge.name} check fails ({badge.numbers})")
            if badge.verdict == "pass":
                passed.append(f"{explanation.method} {badge.name}")
    return (f"sample {DEFAULT_SAMPLE.name}: predicted {top.label} ({top.probability:.2f}); "
            f"checks passed: {', '.join(passed)}")


def _toolkit() -> str:
    try:
        qt = importlib.import_module("PySide6")
        core = importlib.import_module("PySide6.QtCore")
        importlib.import_module("PySide6.QtWidgets")
    except ImportError as exc:
        raise CheckFailed(f"the window's toolkit does not load ({exc})") from exc
    plugins = Path(core.QLibraryInfo.path(core.QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    found = sorted(p.name.split(".")[0].removeprefix("libq") for p in plugins.glob("*")) if plugins.is_dir() else []
    if not found:
        raise CheckFailed(f"the window's toolkit has no platform plugins (looked in {plugins})")
    return f"window toolkit: PySide6 {qt.__version__}, platforms {', '.join(found)}"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(root()))
    except ValueError:
        return str(path)
