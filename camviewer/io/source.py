"""Input files are regular files: checked before anything opens them (a pipe would block)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from camviewer import errors


def regular_file_size(path: Path) -> int:
    """The size of ``path``, links followed; FileMissingError unless it is a regular file."""
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise errors.FileMissingError("broken symbolic link" if os.path.islink(path) else "", path) from exc
    except OSError as exc:
        raise errors.FileMissingError("symbolic link loop" if exc.errno == errno.ELOOP else "", path) from exc
    except ValueError as exc:  # a NUL byte in the path
        raise errors.FileMissingError("", path) from exc
    if stat.S_ISDIR(info.st_mode):
        raise errors.FileMissingError("is a folder", path)
    if not stat.S_ISREG(info.st_mode):
        raise errors.FileMissingError("not a regular file (a pipe, socket or device)", path)
    return info.st_size
