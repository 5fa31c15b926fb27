"""Device choice: CUDA when available, else MPS, else CPU; an explicit request wins."""

from __future__ import annotations

import torch

from camviewer import errors


def select_device(requested: str | None = None) -> torch.device:
    """``None``/"auto" picks the best available device; otherwise the named one must exist."""
    if requested in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as exc:
        raise errors.UsageError(f"unknown device {requested!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise errors.UsageError("CUDA was requested but is not available")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise errors.UsageError(f"CUDA device {device.index} does not exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise errors.UsageError("MPS was requested but is not available")
    return device
