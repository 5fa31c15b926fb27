"""Output files written atomically: a temp file beside the target, then a rename."""

from __future__ import annotations

import errno
import io
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from camviewer import errors
from camviewer.geometry import row_bands

UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_ZLIB_LEVEL = 1


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


@contextmanager
def atomic_text_file(path: str | Path, protected: ProtectedInputs = NO_INPUTS) -> Iterator[TextIO]:
    """:func:`atomic_file` as UTF-8 text (unencodable characters escaped, newlines as written)."""
    with atomic_file(path, protected) as fp:
        text = io.TextIOWrapper(fp, encoding="utf-8", errors="backslashreplace", newline="", write_through=True)
        try:
            yield text
        finally:
            text.detach()  # the binary file stays atomic_file's to close


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
    return b"".join(png_chunks(pixels))


def write_png(path: str | Path, pixels: np.ndarray, protected: ProtectedInputs = NO_INPUTS) -> str:
    """Atomically write a PNG, refusing to replace a protected input; return the path written.
    The file is encoded and written a band of rows at a time: no full-size copy is made."""
    with atomic_file(path, protected) as fp:
        for chunk in png_chunks(pixels):
            fp.write(chunk)
    return str(path)


def png_chunks(pixels: np.ndarray) -> Iterator[bytes]:
    """A PNG file in pieces: the header, then compressed image data for one band of rows at a time
    (PNG filter Sub and zlib level 1, OpenCV's fast defaults), then the end."""
    if pixels.dtype not in (np.uint8, np.uint16) or pixels.ndim not in (2, 3) or pixels.ndim == 3 and pixels.shape[2] != 3:
        raise ValueError("PNG pixels must be uint8 or uint16, (H, W) or (H, W, 3)")
    rows, cols = pixels.shape[:2]
    colour_type = 2 if pixels.ndim == 3 else 0
    yield PNG_SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", cols, rows, 8 * pixels.itemsize, colour_type, 0, 0, 0))
    compressor = zlib.compressobj(PNG_ZLIB_LEVEL)
    for band in row_bands(pixels.shape):
        data = compressor.compress(_sub_filtered(pixels[band]).data)
        if data:
            yield _chunk(b"IDAT", data)
    yield _chunk(b"IDAT", compressor.flush()) + _chunk(b"IEND", b"")


def _sub_filtered(band: np.ndarray) -> np.ndarray:
    """Scanlines of big-endian samples, each led by filter type 1 (Sub: minus the pixel to the left)."""
    raw = band.astype(band.dtype.newbyteorder(">"), copy=False).view(np.uint8).reshape(band.shape[0], -1)
    step = band.itemsize * (band.shape[2] if band.ndim == 3 else 1)
    lines = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    lines[:, 0] = 1
    lines[:, 1 : 1 + step] = raw[:, :step]
    np.subtract(raw[:, step:], raw[:, :-step], out=lines[:, 1 + step :])
    return lines


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))
