"""Types for values whose definitions live in the core (methods, targets, perturbations, sensitivity).

Imported only when such a value is parsed: these modules import torch, and ``info``/``convert``
must start without it.
"""

from __future__ import annotations

import argparse

from camviewer import errors
from camviewer.batch.config import parse_grids
from camviewer.cli.options import choices_list, comma_list, core_value, value_pair
from camviewer.engine.exports import EXPORTS
from camviewer.engine.requests import METHOD_NAMES
from camviewer.explain.targets import Target, parse_targets
from camviewer.metrics.perturbation import Perturbation, parse_perturbation
from camviewer.metrics.regions import ORDERS
from camviewer.metrics.sensitivity import SensitivitySpec


def methods(text: str) -> tuple[str, ...]:
    return choices_list(METHOD_NAMES, "method")(text)


def exports(text: str) -> tuple[str, ...]:
    return choices_list(EXPORTS, "export")(text)


def orders(text: str) -> tuple[str, ...]:
    return choices_list(ORDERS, "order")(text)


def targets(text: str) -> tuple[Target, ...]:
    return core_value(parse_targets)(comma_list(text))


def grids(text: str) -> tuple[int, ...]:
    return core_value(parse_grids)(text)


def perturbation(text: str) -> Perturbation:
    return core_value(parse_perturbation)(text)


def sensitivity(text: str) -> SensitivitySpec:
    """RADIUS,SAMPLES, e.g. 0.05,20."""
    try:
        radius_text, samples_text = value_pair(text)
        radius, samples = float(radius_text), int(samples_text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("takes RADIUS,SAMPLES, e.g. 0.05,20") from exc
    try:
        return SensitivitySpec(radius, samples)
    except errors.UsageError as exc:
        raise argparse.ArgumentTypeError(exc.detail) from exc
