"""Files are read only when they are regular files: a named pipe would block forever, a device
never end. The type is checked before anything opens the path (images, model cards, weights)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from camviewer import errors

FILE_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket",
              stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def regular_file_size(path: Path) -> int:
    """The size of ``path``, links followed; FileMissingError unless it is a regular file."""
    return _checked(lambda: os.stat(path), path).st_size


def read_regular_file(path: Path, max_bytes: int, too_large: Callable[[int], errors.CamviewerError]) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes`` (``too_large(size)`` makes the error).

    The type is checked again on the open descriptor (opened non-blocking), so a pipe swapped in
    after the first check cannot hang the read either.
    """
    size = regular_file_size(path)
    if size > max_bytes:
        raise too_large(size)
    try:
        with os.fdopen(os.open(path, OPEN_FLAGS), "rb") as fp:
            _checked(lambda: os.fstat(fp.fileno()), path)
            data = fp.read(max_bytes + 1)
    except OSError as exc:
        raise errors.FileMissingError("", path) from exc
    if len(data) > max_bytes:
        raise too_large(len(data))
    return data


def _checked(status: Callable[[], os.stat_result], path: Path) -> os.stat_result:
    try:
        info = status()
    except FileNotFoundError as exc:
        raise errors.FileMissingError("broken symbolic link" if os.path.islink(path) else "", path) from exc
    except OSError as exc:
        raise errors.FileMissingError("symbolic link loop" if exc.errno == errno.ELOOP else "", path) from exc
    except ValueError as exc:  # a NUL byte in the path
        raise errors.FileMissingError("", path) from exc
    if not stat.S_ISREG(info.st_mode):
        raise errors.FileMissingError(f"{FILE_KINDS.get(stat.S_IFMT(info.st_mode), 'a special file')}, not a regular file", path)
    return info
