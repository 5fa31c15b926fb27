"""Command-line values: parsed and validated when the command line is read (a usage error, exit 2),
and the one table that names each request field's flag for messages from the core."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from camviewer import errors
from camviewer.io.grayscale import Window

S = TypeVar("S")
T = TypeVar("T")

FLAGS = {
    "targets": "--target", "methods": "--methods", "layer": "--layer", "batch_size": "--batch-size",
    "grid": "--grid", "steps": "--steps", "seed": "--seed", "orders": "--order", "score": "--score",
    "perturbation": "--perturb", "sensitivity": "--sensitivity", "device": "--device", "preset": "--preset",
    "labels": "--labels", "masks": "--masks", "out": "--out", "resume": "--resume", "workers": "--workers", "folder": "FOLDER",
}


def flag_for(option: str | None) -> str | None:
    return FLAGS.get(option or "")


def comma_list(text: str) -> tuple[str, ...]:
    """``a, b,,c,a`` -> ("a", "b", "c"): the one parser of comma-separated lists (repeats dropped)."""
    return tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def value_pair(text: str) -> tuple[str, str]:
    """``A,B`` -> ("A", "B"); ValueError unless there are exactly two values (order and repeats kept)."""
    first, second = (part.strip() for part in text.split(","))
    return first, second


def choices_list(choices: Sequence[str] | Callable[[], Sequence[str]], what: str) -> Callable[[str], tuple[str, ...]]:
    """A type that takes a non-empty comma list of known names (``choices`` may be computed lazily)."""

    def parse(text: str) -> tuple[str, ...]:
        known = choices() if callable(choices) else choices
        chosen = comma_list(text)
        unknown = [c for c in chosen if c not in known]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"{unknown[0] if unknown else 'no ' + what}: choose from {', '.join(known)}")
        return chosen

    return parse


def bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from exc
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {low}..{high}" if high is not None else f"must be at least {low}")
        return value

    return parse


def fraction(*, closed_top: bool) -> Callable[[str], float]:
    """A number in [0, 1] (or [0, 1))."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
        if not (math.isfinite(value) and 0.0 <= value and (value <= 1.0 if closed_top else value < 1.0)):
            raise argparse.ArgumentTypeError("must be 0..1" + ("" if closed_top else " (1 excluded)"))
        return value

    return parse


def core_value(parse: Callable[[S], T]) -> Callable[[S], T]:
    """A type made from a core parser: its UsageError becomes an argparse error."""

    def wrapped(text: S) -> T:
        try:
            return parse(text)
        except errors.UsageError as exc:
            raise argparse.ArgumentTypeError(exc.detail) from exc

    wrapped.__name__ = getattr(parse, "__name__", "value")
    return wrapped


def window(text: str) -> Window:
    """CENTER,WIDTH: a LINEAR window, valid by the rules of :class:`Window` (a width of at least 1)."""
    try:
        center, width = (float(p) for p in value_pair(text))
        return Window(center, width, "LINEAR")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"takes CENTER,WIDTH, e.g. 40,400 ({exc})") from exc


def lazy(name: str) -> Callable[[str], Any]:
    """A type defined in a module that imports torch, imported only when the value is parsed."""

    def parse(text: str) -> Any:
        from camviewer.cli import values

        return getattr(values, name)(text)

    parse.__name__ = name
    return parse
