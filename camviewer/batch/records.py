"""What a batch run stores per image: plain, JSON-round-trippable records (the journal holds them,
every report is made from them), and the per-image artefacts kept beside them (raw maps, thumbnails)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

OK = "ok"
WORKER_CRASHED = "worker-crashed"  # the reason of a row whose worker process died: a resumed run tries it again


def failed(reason: str) -> str:
    """The status of a row that could not be evaluated: ``failed:<reason>``."""
    return f"failed:{reason}"


@dataclass(frozen=True)
class Located:
    """Localisation of one method's map against the image's mask or boxes (:mod:`camviewer.metrics.localisation`)."""

    pointing_game: bool
    energy: float
    iou: float


@dataclass(frozen=True)
class Sensed:
    """Max Sensitivity of one method's map for one (radius, samples)."""

    radius: float
    samples: int
    absolute: float
    relative: float


@dataclass(frozen=True)
class MethodRecord:
    """One method on one image: MoRF curve and AOPC per grid (the grids in the run's order), Max
    Sensitivity per (r, n), HAAS's labels matched on the heatmap-assisted image, localisation."""

    method: str
    aopc: tuple[float, ...] = ()
    curves: tuple[tuple[float, ...], ...] = ()
    sensitivity: tuple[Sensed, ...] = ()
    assisted_matches: int | None = None
    located: Located | None = None


@dataclass(frozen=True)
class ImageRecord:
    """One row of results: ``path`` is relative to the run's folder (POSIX separators).

    ``label`` is the labels file's text ("a|b" for several); ``correct``: the prediction equals the
    label (multi-label: the set of findings with probability >= 0.5 equals the label set).
    ``matches``/``label_count``: labels the prediction got right out of those stated (1 of 1 for a
    single-label model; K for multi-label), HAAS's accuracy counts on the original image.
    ``findings`` (multi-label models): the classes with probability >= 0.5, the predicted label set.
    ``methods`` is empty for a failed row, or when ``--only-correct`` skipped a wrong prediction.
    """

    path: str
    status: str
    predicted_index: int | None = None
    predicted_label: str | None = None
    probability: float | None = None
    label: str | None = None
    correct: bool | None = None
    matches: int | None = None
    label_count: int | None = None
    methods: tuple[MethodRecord, ...] = ()
    warnings: tuple[str, ...] = ()
    findings: tuple[str, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def reason(self) -> str | None:
        """The reason code of a failed row, None for an ok one."""
        return self.status.partition(":")[2] if not self.ok else None

    def method(self, name: str) -> MethodRecord | None:
        return next((m for m in self.methods if m.method == name), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ImageRecord:
        methods = tuple(
            MethodRecord(m["method"], tuple(m["aopc"]), tuple(tuple(c) for c in m["curves"]),
                         tuple(Sensed(**s) for s in m["sensitivity"]), m["assisted_matches"],
                         Located(**m["located"]) if m["located"] is not None else None)
            for m in doc["methods"]
        )
        findings = doc.get("findings")
        return cls(**{**doc, "methods": methods, "warnings": tuple(doc["warnings"]),
                      "findings": tuple(findings) if findings is not None else None})


@dataclass(frozen=True, eq=False)
class Artefacts:
    """Per method: the raw map (float32, the engine's resolution) and a small overlay thumbnail (PNG bytes)."""

    maps: dict[str, np.ndarray] = field(default_factory=dict)
    thumbnails: dict[str, bytes] = field(default_factory=dict)


NO_ARTEFACTS = Artefacts()
