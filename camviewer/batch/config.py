"""A batch run's configuration: what decides its results, and so its identity in the journal.

Two runs with the same :meth:`BatchConfig.digest` compute the same rows; a rerun with that digest
continues the journal's run, any other starts a new one. Execution choices (device, workers,
forward batch size) are not part of it: they change the speed, not the results.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from camviewer import __version__, errors
from camviewer.metrics.perturbation import DEFAULT_PERTURBATION, Perturbation
from camviewer.metrics.sensitivity import SensitivitySpec

MAX_GRIDS = 8


@dataclass(frozen=True)
class BatchConfig:
    """Methods, grids (the first is the headline grid), perturbation, seed, Max Sensitivity specs,
    HAAS, and whether only correctly classified images are explained; ``model`` and ``truth`` are
    digests of the model (card and weights) and of the labels/masks/boxes files, ``folder`` the
    resolved input folder."""

    folder: str
    model: str
    methods: tuple[str, ...] = ("gradcam",)
    grids: tuple[int, ...] = (9,)
    perturbation: Perturbation = DEFAULT_PERTURBATION
    seed: int = 0
    sensitivity: tuple[SensitivitySpec, ...] = ()
    haas: bool = False
    only_correct: bool = False
    layer: str | None = None
    truth: str = ""

    def __post_init__(self) -> None:
        check_grids(self.grids)

    def document(self) -> dict[str, Any]:
        """The configuration as plain JSON values (the journal and the reports show it)."""
        return {
            "folder": self.folder, "model": self.model, "methods": list(self.methods), "grids": list(self.grids),
            "perturbation": str(self.perturbation), "seed": self.seed,
            "sensitivity": [[s.radius, s.samples] for s in self.sensitivity], "haas": self.haas,
            "only_correct": self.only_correct, "layer": self.layer, "truth": self.truth, "version": __version__,
            "target": "top1", "order": "morf", "score": "prob",
        }

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.document(), sort_keys=True).encode()).hexdigest()


def parse_grids(text: str) -> tuple[int, ...]:
    """``"9"`` or ``"4,8,11,14"`` (commas or spaces): R for R x R regions, the first is the headline grid."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts:
        raise errors.UsageError("give a grid, e.g. 9 or 4,8,11,14", option="grid")
    bad = next((p for p in parts if not p.isdigit()), None)
    if bad is not None:
        raise errors.UsageError(f"grid {bad!r} is not a whole number", option="grid")
    return check_grids(tuple(int(p) for p in parts))


def check_grids(grids: tuple[int, ...]) -> tuple[int, ...]:
    """1..MAX_GRIDS distinct grids, each at least 2 x 2 regions."""
    if not grids or len(grids) > MAX_GRIDS or any(g < 2 for g in grids):
        raise errors.UsageError(f"give 1..{MAX_GRIDS} grids, each at least 2", option="grid")
    if len(set(grids)) != len(grids):
        raise errors.UsageError("a grid is listed twice", option="grid")
    return grids
