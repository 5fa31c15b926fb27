"""Output files written atomically: a temp file beside the target, then a rename."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from camviewer import errors

UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def safe_name(text: str, fallback: str = "image") -> str:
    """A file-name part made of letters, digits, '.', '_' and '-' only."""
    return UNSAFE_NAME.sub("_", text) or fallback


@dataclass(frozen=True)
class ProtectedInputs:
    """The files a run reads. No output may land on one of them: not by its path, not through a
    symbolic link, not through a hard link (the same device and inode)."""

    paths: frozenset[str] = frozenset()
    files: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def of(cls, inputs: Iterable[str | Path]) -> ProtectedInputs:
        paths, files = set(), set()
        for source in inputs:
            paths.add(os.path.realpath(source))
            identity = _identity(source)
            if identity is not None:
                files.add(identity)
        return cls(frozenset(paths), frozenset(files))

    def check(self, output: str | Path) -> None:
        """Raise OutputError when writing ``output`` would replace one of the inputs."""
        if self._protects(Path(output)):
            raise errors.OutputError("the output would replace an input file of this run", output)

    def entries_in(self, folder: str | Path) -> list[str]:
        """Names of the entries of ``folder`` that are (or link to) a protected input."""
        try:
            with os.scandir(folder) as entries:
                names = [entry.name for entry in entries]
        except (OSError, ValueError):
            return []
        return [name for name in names if self._protects(Path(folder) / name)]

    def _protects(self, path: Path) -> bool:
        identity = _identity(path)
        return os.path.realpath(path) in self.paths or (identity is not None and identity in self.files)


NO_INPUTS = ProtectedInputs()


def _identity(path: str | Path) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` names, following links; None when there is none."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return status.st_dev, status.st_ino


@contextmanager
def atomic_file(path: str | Path, protected: ProtectedInputs = NO_INPUTS) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: it appears at ``path`` only when complete.

    The data goes to a temporary file beside ``path``, which is renamed over it on success and
    removed on any failure. Refuses, before writing, a ``path`` that would replace a protected input.
    """
    path = Path(path)
    protected.check(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    except OSError as exc:
        raise errors.OutputError(_reason(exc), path) from exc
    try:
        with os.fdopen(fd, "wb") as fp:
            yield fp
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


def atomic_write_bytes(path: str | Path, data: bytes, protected: ProtectedInputs = NO_INPUTS) -> None:
    """Write ``data`` to ``path`` so that the final name only ever holds a complete file."""
    with atomic_file(path, protected) as fp:
        fp.write(data)


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


def write_png(path: str | Path, pixels: np.ndarray, protected: ProtectedInputs = NO_INPUTS) -> str:
    """Atomically write a PNG, refusing to replace a protected input; return the path written."""
    atomic_write_bytes(path, encode_png(pixels), protected)
    return str(path)
