"""Target specs: ``top1``, ``top3``, class names or indices, comma-separated, resolved per image."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from camviewer import errors

TOP = re.compile(r"top(\d+)", re.IGNORECASE)


def resolve_targets(spec: str, classes: Sequence[str], probabilities: np.ndarray) -> tuple[int, ...]:
    """Class indices to explain for one image, in the order asked, without duplicates."""
    chosen: list[int] = []
    ranked = [int(i) for i in np.argsort(-probabilities, kind="stable")]
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        top = TOP.fullmatch(part)
        if top:
            k = int(top.group(1))
            if not 1 <= k <= len(classes):
                raise errors.UsageError(f"--target {part}: the model has {len(classes)} classes")
            chosen += ranked[:k]
        elif part in classes:
            chosen.append(classes.index(part))
        elif part.lstrip("-").isdigit():
            index = int(part)
            if not 0 <= index < len(classes):
                raise errors.UsageError(f"--target {part}: class index must be 0..{len(classes) - 1}")
            chosen.append(index)
        else:
            raise errors.UsageError(f"--target {part!r} is not top<K>, a class name or an index")
    if not chosen:
        raise errors.UsageError("--target names no class")
    return tuple(dict.fromkeys(chosen))
