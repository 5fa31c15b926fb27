"""Loading weight files as tensors only: safetensors, or a state dict with ``weights_only=True``.

Model files are code. TorchScript archives and exported programs are refused (loading them
runs serialized code); a pickle that needs anything beyond tensors and containers is refused;
nothing is ever retried in a less safe mode. A file is read once: the bytes that are hashed
are the bytes that are parsed. No library warning escapes (see ``_quietly``).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import pickletools
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from camviewer import errors
from camviewer.io.source import read_regular_file

MAX_WEIGHTS_BYTES = 2 << 30
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE"}
# Warnings about the libraries themselves, or torch's note that a pickle protocol other than 2 was
# seen: none says anything about the weights, so they are dropped; any other becomes a note.
SOFTWARE_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning, ResourceWarning)
UNINFORMATIVE_WARNINGS = ("Detected pickle protocol",)
T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Weights:
    tensors: dict[str, torch.Tensor]
    sha256: str
    notes: tuple[str, ...]


def load_weights(path: str | Path, max_bytes: int = MAX_WEIGHTS_BYTES, expected_sha256: str | None = None) -> Weights:
    """Read a weight file once into float32 tensors; raise a ModelError subclass on any problem.

    With ``expected_sha256`` (hex) the bytes must have that SHA-256; they are checked
    before they are parsed and the same bytes are parsed, so the file cannot change in between.
    """
    path = Path(path)
    data = read_regular_file(path, max_bytes, lambda size: errors.ModelTooLargeError(f"{size >> 20} MiB > {max_bytes >> 20} MiB", path))
    if not data:
        raise errors.ModelCorruptError("empty file", path)
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise errors.ModelIntegrityError("its SHA-256 differs from the card's weights_sha256", path)
    tensors, warned = _quietly(lambda: _read_tensors(data, path))
    tensors, notes = _as_float32(_strip_prefix(tensors), path)
    return Weights(tensors, digest, notes + warned)


def _quietly(read: Callable[[], T]) -> tuple[T, tuple[str, ...]]:
    """Run ``read`` with every warning caught: none escapes, and the informative ones come back as notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read()
    notes = (_note(warning) for warning in caught)
    return result, tuple(dict.fromkeys(note for note in notes if note))


def _note(caught: warnings.WarningMessage) -> str | None:
    """The note for a warning that may say something about the file; None for one about the software."""
    first = str(caught.message).strip().partition("\n")[0]
    if issubclass(caught.category, SOFTWARE_WARNINGS) or first.startswith(UNINFORMATIVE_WARNINGS):
        return None
    return f"loading warned: {first[:160]}"


def _read_tensors(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    if path.suffix.lower() == ".safetensors":
        return _read_safetensors(data, path)
    _refuse_code_archives(data, path)
    return _read_state_dict(data, path)


def _read_safetensors(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        return dict(load(data))
    except (SafetensorError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        raise errors.ModelCorruptError("not a valid safetensors file", path) from exc


def _refuse_code_archives(data: bytes, path: Path) -> None:
    if path.suffix.lower() == ".pt2":
        raise errors.ModelFormatError("exported programs (.pt2) can execute code; convert to safetensors", path)
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # torch.load reports the corruption
    if any(name.endswith("constants.pkl") or "/code/" in name for name in names):
        raise errors.ModelFormatError("TorchScript models are not accepted (loading runs their code)", path)
    if any("serialized_exported_program" in name or name.endswith("archive_format") for name in names):
        raise errors.ModelFormatError("exported programs (.pt2) can execute code; convert to safetensors", path)


def _read_state_dict(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc) or _pickle_calls_code(data):
            raise errors.UnsafeModelError("save a state dict or safetensors instead", path) from exc
        raise errors.ModelCorruptError("not a PyTorch state dict", path) from exc
    except Exception as exc:  # the weights-only unpickler raises many types on garbage input
        raise errors.ModelCorruptError("not a PyTorch state dict", path) from exc
    return _state_dict_in(loaded, path)


def _pickle_calls_code(data: bytes) -> bool:
    """True when the data is a whole, valid pickle that imports or calls objects (read, never run)."""
    try:
        names = {op.name for op, _, _ in pickletools.genops(io.BytesIO(data))}
    except Exception:  # not a valid pickle: corrupt, not unsafe
        return False
    return bool(names & CODE_OPCODES)


def _state_dict_in(loaded: object, path: Path) -> dict[str, torch.Tensor]:
    """The tensor mapping, possibly under a 'state_dict' / 'model' key of a checkpoint."""
    if isinstance(loaded, Mapping):
        for key in WRAPPER_KEYS:
            inner = loaded.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                loaded = inner
                break
        tensors = {k: v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
        if tensors and all(isinstance(k, str) for k in tensors):
            return tensors
    raise errors.ModelCorruptError("the file holds no state dict of tensors", path)


def _strip_prefix(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove DataParallel's 'module.' prefix when every key has it."""
    if all(key.startswith("module.") for key in tensors):
        return {key[len("module.") :]: value for key, value in tensors.items()}
    return tensors


def _as_float32(tensors: dict[str, torch.Tensor], path: Path) -> tuple[dict[str, torch.Tensor], tuple[str, ...]]:
    """Policy: fp16/bf16/fp64 weights are accepted and cast to fp32; non-finite values are refused."""
    out, cast = {}, set()
    for key, tensor in tensors.items():
        if tensor.is_floating_point():
            if not torch.isfinite(tensor).all():
                raise errors.ModelWeightsError(f"tensor {key[:80]}", path)
            if tensor.dtype != torch.float32:
                cast.add(str(tensor.dtype).removeprefix("torch."))
                tensor = tensor.float()
        elif tensor.is_complex():
            raise errors.ModelCorruptError(f"complex tensor {key[:80]}", path)
        out[key] = tensor
    notes = (f"weights stored as {', '.join(sorted(cast))} were cast to float32",) if cast else ()
    return out, notes
