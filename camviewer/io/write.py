"""Output files written atomically: a temp file beside the target, then a rename."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from camviewer import errors

UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(text: str, fallback: str = "image") -> str:
    """A file-name part made of letters, digits, '.', '_' and '-' only."""
    return UNSAFE_NAME.sub("_", text) or fallback


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that the final name only ever holds a complete file."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise errors.OutputError(_reason(exc), path) from exc
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
            fp.flush()
            os.fsync(fp.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise errors.OutputError(_reason(exc), path) from exc
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "disk full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "folder does not exist"
    return exc.strerror or "input/output error"


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of a uint8/uint16 gray (H, W) or RGB (H, W, 3) array."""
    import cv2

    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError("PNG pixels must be uint8 or uint16")
    bgr = pixels[..., ::-1] if pixels.ndim == 3 else pixels
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()


def refuse_overwriting_input(output: str | Path, *inputs: str | Path) -> None:
    """Raise OutputError when the output path is one of the input files."""
    target = Path(output).resolve()
    for source in inputs:
        if Path(source).resolve() == target:
            raise errors.OutputError("output must not be an input file", output)


def write_png(path: str | Path, pixels: np.ndarray, *inputs: str | Path) -> str:
    """Atomically write a PNG, refusing to replace any of ``inputs``; return the path written."""
    refuse_overwriting_input(path, *inputs)
    atomic_write_bytes(path, encode_png(pixels))
    return str(path)
