"""Loading weight files as tensors only: safetensors, or a state dict with ``weights_only=True``.

Model files are code. TorchScript archives and exported programs are refused (loading them
runs serialized code); a pickle that needs anything beyond tensors and containers is refused;
nothing is ever retried in a less safe mode.
"""

from __future__ import annotations

import hashlib
import pickle
import pickletools
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from camviewer import errors

MAX_WEIGHTS_BYTES = 2 << 30
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE"}


@dataclass(frozen=True, eq=False)
class Weights:
    tensors: dict[str, torch.Tensor]
    sha256: str
    notes: tuple[str, ...]


def load_weights(path: str | Path, max_bytes: int = MAX_WEIGHTS_BYTES) -> Weights:
    """Read a weight file into float32 tensors; raise a ModelError subclass on any problem."""
    path = Path(path)
    size = _checked_size(path, max_bytes)
    if size == 0:
        raise errors.ModelCorruptError("empty file", path)
    if path.suffix.lower() == ".safetensors":
        tensors = _read_safetensors(path)
    else:
        _refuse_code_archives(path)
        tensors = _read_state_dict(path)
    tensors, notes = _as_float32(_strip_prefix(tensors), path)
    return Weights(tensors, _sha256(path), notes)


def _checked_size(path: Path, max_bytes: int) -> int:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise errors.FileMissingError("", path) from exc
    if size > max_bytes:
        raise errors.ModelTooLargeError(f"{size >> 20} MiB > {max_bytes >> 20} MiB", path)
    return size


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return dict(load_file(str(path), device="cpu"))
    except (SafetensorError, OSError, ValueError, RuntimeError, MemoryError) as exc:
        raise errors.ModelCorruptError("not a valid safetensors file", path) from exc


def _refuse_code_archives(path: Path) -> None:
    if path.suffix.lower() == ".pt2":
        raise errors.ModelFormatError("exported programs (.pt2) can execute code; convert to safetensors", path)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # torch.load reports the corruption
    if any(name.endswith("constants.pkl") or "/code/" in name for name in names):
        raise errors.ModelFormatError("TorchScript models are not accepted (loading runs their code)", path)
    if any("serialized_exported_program" in name or name.endswith("archive_format") for name in names):
        raise errors.ModelFormatError("exported programs (.pt2) can execute code; convert to safetensors", path)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc) or "GLOBAL" in str(exc) or _pickle_calls_code(path):
            raise errors.UnsafeModelError("save a state dict or safetensors instead", path) from exc
        raise errors.ModelCorruptError("not a PyTorch state dict", path) from exc
    except Exception as exc:  # the weights-only unpickler raises many types on garbage input
        raise errors.ModelCorruptError("not a PyTorch state dict", path) from exc
    return _state_dict_in(loaded, path)


def _pickle_calls_code(path: Path) -> bool:
    """True when the file is a whole, valid pickle that imports or calls objects (read, never run)."""
    try:
        with path.open("rb") as fp:
            names = {op.name for op, _, _ in pickletools.genops(fp)}
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fp:
        while chunk := fp.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
