"""What to explain: typed targets (top-k, a class index, a class name), parsed once, resolved per image.

The text form, used by the command line and the model card documentation, is a comma-separated
list: ``top<K>``, class names, or class indices (``top3,Effusion,2``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from camviewer import errors

TOP = re.compile(r"top(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class TopK:
    """The image's k most probable classes."""

    k: int

    def __str__(self) -> str:
        return f"top{self.k}"


@dataclass(frozen=True)
class ClassIndex:
    index: int

    def __str__(self) -> str:
        return str(self.index)


@dataclass(frozen=True)
class ClassName:
    name: str

    def __str__(self) -> str:
        return self.name


Target = TopK | ClassIndex | ClassName


def parse_targets(parts: Iterable[str]) -> tuple[Target, ...]:
    """Each part ``top<K>``, a class index or a class name (the text form split at its commas); at least one."""
    targets: list[Target] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        top = TOP.fullmatch(part)
        if top:
            targets.append(TopK(int(top.group(1))))
        elif part.lstrip("-").isdigit():
            targets.append(ClassIndex(int(part)))
        else:
            targets.append(ClassName(part))
    if not targets:
        raise errors.UsageError("names no class", option="targets")
    return tuple(targets)


def check_targets(targets: Sequence[Target], classes: Sequence[str]) -> None:
    """Raise UsageError unless every target names a class of this model."""
    for target in targets:
        if isinstance(target, TopK) and not 1 <= target.k <= len(classes):
            raise errors.UsageError(f"{target}: the model has {len(classes)} classes", option="targets")
        if isinstance(target, ClassIndex) and not 0 <= target.index < len(classes):
            raise errors.UsageError(f"{target}: class index must be 0..{len(classes) - 1}", option="targets")
        if isinstance(target, ClassName) and target.name not in classes:
            raise errors.UsageError(f"{target.name!r} is not top<K>, a class name or an index", option="targets")


def resolve_targets(targets: Sequence[Target], classes: Sequence[str], probabilities: np.ndarray) -> tuple[int, ...]:
    """Class indices to explain for one image, in the order asked, without duplicates."""
    check_targets(targets, classes)
    ranked = [int(i) for i in np.argsort(-probabilities, kind="stable")]
    chosen: list[int] = []
    for target in targets:
        if isinstance(target, TopK):
            chosen += ranked[: target.k]
        elif isinstance(target, ClassIndex):
            chosen.append(target.index)
        else:
            chosen.append(classes.index(target.name))
    return tuple(dict.fromkeys(chosen))
