"""Model cards: the JSON file next to the weights that says what a model is and how to feed it.

```json
{"name": "...", "classes": ["Normal", "COVID"], "multilabel": false,
 "input": {"size": [224, 224], "channels": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
           "range": [0, 1], "resize": "stretch", "dicom": "window"},
 "target_layer": "features",
 "architecture": "densenet121", "weights": "model.safetensors", "weights_sha256": "<64 hex digits>"}
```

Exactly one source: ``architecture`` + ``weights`` or ``factory`` ("module:callable", optional
``weights``). Paths are relative to the card. ``weights_sha256`` (optional) pins the weights file.
Cards and weight files are read only when they are regular files (:func:`camviewer.io.source.read_regular_file`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from camviewer import errors
from camviewer.io.source import read_regular_file
from camviewer.model.intended_use import UNSTATED, IntendedUse, parse_intended_use

ResizePolicy = Literal["stretch", "letterbox", "center-crop"]
DicomSource = Literal["window", "full-range"]
RESIZE_POLICIES: tuple[str, ...] = ("stretch", "letterbox", "center-crop")
DICOM_SOURCES: tuple[str, ...] = ("window", "full-range")
MAX_INPUT_SIDE = 4096
MAX_CARD_BYTES = 1 << 20
SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class InputSpec:
    """How model input is made: [0, 1] image -> resize -> channels -> scale to ``range`` -> (x - mean) / std."""

    size: tuple[int, int]
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    value_range: tuple[float, float] = (0.0, 1.0)
    resize: ResizePolicy = "stretch"
    dicom: DicomSource = "window"


@dataclass(frozen=True)
class ModelCard:
    name: str
    classes: tuple[str, ...]
    multilabel: bool
    input: InputSpec
    path: Path
    architecture: str | None = None
    factory: str | None = None
    weights: Path | None = None
    target_layer: str | None = None
    weights_sha256: str | None = None  # lower-case hex
    intended_use: IntendedUse = UNSTATED

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def files(self) -> tuple[Path, ...]:
        """The card and its weights: inputs of every run that uses the model."""
        return (self.path,) if self.weights is None else (self.path, self.weights)

    @property
    def runs_user_code(self) -> bool:
        return self.factory is not None


def card_hash(card: Path) -> str:
    """SHA-256 over the card and the Python files beside it: what trusting its code means."""
    digest = hashlib.sha256(card.read_bytes())
    for source in sorted(card.parent.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a model card; raise ModelCardError with one line naming the problem."""
    path = Path(path)
    data = read_regular_file(path, MAX_CARD_BYTES, lambda _: errors.ModelCardError("card file is larger than 1 MiB", path))
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise errors.ModelCardError("not valid JSON", path) from exc
    if not isinstance(document, dict):
        raise errors.ModelCardError("the card must be a JSON object", path)
    try:
        return _parse(document, path)
    except (TypeError, ValueError, OverflowError) as exc:
        raise errors.ModelCardError(str(exc), path) from exc


def _parse(doc: dict[str, Any], path: Path) -> ModelCard:
    classes = tuple(_require(doc, "classes", list))
    if not classes or not all(isinstance(c, str) and c for c in classes):
        raise ValueError("classes must be a non-empty list of names")
    if len(set(classes)) != len(classes):
        raise ValueError("class names must be unique")
    has_architecture, has_factory = "architecture" in doc, "factory" in doc
    if has_architecture == has_factory:
        raise ValueError("give exactly one of 'architecture' (with 'weights') or 'factory'")
    if has_architecture and "weights" not in doc:
        raise ValueError("'architecture' needs 'weights'")
    weights = path.parent / _require(doc, "weights", str) if "weights" in doc else None
    target = doc.get("target_layer")
    if target is not None and not isinstance(target, str):
        raise ValueError("target_layer must be a module name")
    return ModelCard(
        name=str(doc.get("name") or path.stem),
        classes=classes,
        multilabel=_boolean(doc.get("multilabel", False), "multilabel"),
        input=_parse_input(_require(doc, "input", dict)),
        path=_real(path),
        architecture=_require(doc, "architecture", str) if has_architecture else None,
        factory=_require(doc, "factory", str) if has_factory else None,
        weights=_real_folder(weights) if weights else None,
        target_layer=target,
        weights_sha256=_weights_sha256(doc),
        intended_use=parse_intended_use(doc.get("intended_use")),
    )


def _real(path: Path) -> Path:
    """The absolute path with links resolved; unlike Path.resolve on Python 3.11, never raises on a link loop."""
    return Path(os.path.realpath(path))


def _real_folder(path: Path) -> Path:
    """The absolute path with its folder's links resolved; its own name is kept, so messages use the card's name."""
    return _real(path.parent) / path.name


def _weights_sha256(doc: dict[str, Any]) -> str | None:
    if "weights_sha256" not in doc:
        return None
    if "weights" not in doc:
        raise ValueError("'weights_sha256' needs 'weights'")
    value = doc["weights_sha256"]
    if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
        raise ValueError("weights_sha256 must be 64 hexadecimal digits")
    return value.lower()


def _parse_input(spec: dict[str, Any]) -> InputSpec:
    size = tuple(_integer(v, "each input.size entry") for v in _require(spec, "size", list))
    if len(size) != 2 or min(size) < 8 or max(size) > MAX_INPUT_SIDE:
        raise ValueError(f"input.size must be [H, W] with 8 <= H, W <= {MAX_INPUT_SIDE}")
    channels = _integer(_present(spec, "channels"), "input.channels")
    if channels not in (1, 3):
        raise ValueError("input.channels must be 1 or 3")
    mean = _floats(spec.get("mean", [0.0] * channels), "input.mean", channels)
    std = _floats(spec.get("std", [1.0] * channels), "input.std", channels)
    if any(s <= 0 for s in std):
        raise ValueError("input.std must be positive")
    value_range = _floats(spec.get("range", [0.0, 1.0]), "input.range", 2)
    if not value_range[0] < value_range[1]:
        raise ValueError("input.range must be [low, high] with low < high")
    resize = spec.get("resize", "stretch")
    if resize not in RESIZE_POLICIES:
        raise ValueError(f"input.resize must be one of {', '.join(RESIZE_POLICIES)}")
    dicom = spec.get("dicom", "window")
    if dicom not in DICOM_SOURCES:
        raise ValueError(f"input.dicom must be one of {', '.join(DICOM_SOURCES)}")
    return InputSpec((size[0], size[1]), channels, mean, std, (value_range[0], value_range[1]), resize, dicom)


def _present(doc: dict[str, Any], key: str) -> Any:
    if key not in doc:
        raise ValueError(f"missing '{key}'")
    return doc[key]


def _require(doc: dict[str, Any], key: str, kind: type) -> Any:
    value = _present(doc, key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"'{key}' must be a {kind.__name__}")
    return value


def _integer(value: Any, name: str) -> int:
    """A JSON integer; a float is accepted only with an integral value (192.0), never 192.7, true or "192"."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer")
    return value


def _boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false")
    return value


def _floats(values: Any, name: str, count: int) -> tuple[float, ...]:
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f"{name} must be a list of {count} numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{name} must hold numbers")
    out = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be finite")
    return out
