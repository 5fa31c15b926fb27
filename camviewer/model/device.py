"""Device choice: CUDA when available, else MPS, else CPU; an explicit request wins."""

from __future__ import annotations

import torch

from camviewer import errors

DEVICE_TYPES = ("cpu", "cuda", "mps")


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
        raise errors.UsageError(f"unknown device {requested!r}; use {', '.join(DEVICE_TYPES)}", option="device") from exc
    if device.type not in DEVICE_TYPES:
        raise errors.UsageError(f"device type {device.type!r} is not supported; use {', '.join(DEVICE_TYPES)}", option="device")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise errors.UsageError("CUDA was requested but is not available", option="device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise errors.UsageError(f"CUDA device {device.index} does not exist", option="device")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise errors.UsageError("MPS was requested but is not available", option="device")
    return device
