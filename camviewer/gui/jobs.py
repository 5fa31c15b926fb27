"""What the window asks its engine worker for, and what the worker says back (Qt-free)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from camviewer.batch.executor import ModelLoad
from camviewer.batch.run import BatchRequest
from camviewer.engine import EvaluateRequest, ExplainRequest, ImageResult, OutputOptions
from camviewer.model.card import InputSpec
from camviewer.progress import CancelToken


@dataclass(frozen=True)
class LoadModel:
    """Load a model card (None: the default demo model) into the worker, replacing the current one."""

    card: Path | None = None
    device: str | None = None
    trust_code: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """What the window shows about the loaded model."""

    name: str
    card: Path
    classes: tuple[str, ...]
    multilabel: bool
    device: str
    weights_sha256: str | None
    demo: bool
    notes: tuple[str, ...]
    spec: InputSpec
    layer: str
    trust_code: bool = False  # as it was loaded: a batch run loads it the same way


@dataclass(frozen=True)
class LoadImage:
    """Decode one file for the view (the GUI thread never decodes)."""

    path: Path


@dataclass(frozen=True, eq=False)
class Export:
    """Write ``result``'s explanations (already computed) with the engine's exporters."""

    result: ImageResult
    options: OutputOptions
    anonymise: bool = True  # file names numbered, not taken from the input


@dataclass(frozen=True)
class Exported:
    files: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class RunBatch:
    """Run (or continue) a batch over a folder, loading ``model`` for it; ends with its BatchOutcome."""

    request: BatchRequest
    model: ModelLoad


Request = LoadModel | LoadImage | ExplainRequest | EvaluateRequest | Export | RunBatch


@dataclass(frozen=True)
class Job:
    request_id: int
    request: Request
    cancel: CancelToken
