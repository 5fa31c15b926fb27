"""The images of a batch run: a folder walked recursively, read-only, in a deterministic order.

Rules:

- Entries are sorted by ``path``, the path relative to the folder with POSIX separators (a folder's
  entry ends with "/"). ``file`` is the path to read, as listed under the folder, never resolved.
- A name with an image extension (:data:`IMAGE_SUFFIXES`, any case) is always an entry: a bad file
  fails later with its own reason. Any other regular file is sniffed by its first 132 bytes (DICOM
  "DICM" at 128, a DICOM data set without preamble, a PNG, JPEG or TIFF signature); the rest, and
  every name starting with "." (a hidden folder is not walked), count as ``skipped``.
- An unreadable sub-folder is an entry with problem ``unreadable-dir`` and the walk goes on.
- Symbolic links are never followed out of the folder: a link whose target resolves outside it is
  an entry with problem ``outside-folder`` and its target is neither opened nor stat'ed. A link to a
  folder inside is not walked (its files are listed under their real path) and makes no entry; a
  link to a file inside is listed like the file. A broken link inside, or a link loop, is ``missing``.
- A special file (pipe, socket, device) is never opened: with an image name it is ``not-a-file``,
  otherwise skipped. A file that cannot be opened for sniffing is ``unreadable``.
- Nothing is written; files are opened read-only and non-blocking (:data:`camviewer.io.source.OPEN_FLAGS`).
- :func:`check_unchanged` stats an entry again just before it is read: ``missing`` or ``changed``.
- :func:`check_output_folder` refuses an output folder equal to the input folder or inside it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath

from camviewer import errors
from camviewer.io import RASTER_SIGNATURES
from camviewer.io.dicom import is_dicom_file
from camviewer.io.source import OPEN_FLAGS

MAX_FILES = 1_000_000
IMAGE_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".ima", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
SNIFF_BYTES = 132
# a data set without the 128-byte preamble starts with a (0002|0008, xxxx) element: group, then element
BARE_DICOM_GROUPS = (b"\x02\x00", b"\x08\x00")
BARE_DICOM_ELEMENTS = (b"\x00\x00", b"\x05\x00", b"\x08\x00", b"\x16\x00")

UNREADABLE_DIR = "unreadable-dir"
OUTSIDE_FOLDER = "outside-folder"
MISSING = "missing"
NOT_A_FILE = "not-a-file"
UNREADABLE = "unreadable"
CHANGED = "changed"


@dataclass(frozen=True)
class Entry:
    """One image (or unreadable folder) of the run; ``problem`` is its failure reason, None when it can be read."""

    path: str
    file: Path
    size: int | None = None
    mtime_ns: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Listing:
    """The entries sorted by path, and the number of names that are not images (hidden ones included)."""

    entries: tuple[Entry, ...]
    skipped: int


@dataclass
class _Walk:
    """The state of one listing: where it is rooted, what it has found so far."""

    top: Path
    real_top: str
    max_files: int
    exclude: frozenset[str]
    entries: list[Entry]
    skipped: int = 0

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        if len(self.entries) > self.max_files:
            raise errors.UsageError(f"the folder holds more than {self.max_files} images, the limit of one batch run",
                                    self.top, option="folder")

    def relative(self, path: str) -> str:
        return PurePath(os.path.relpath(path, self.top)).as_posix()


def list_images(folder: Path, *, max_files: int = MAX_FILES, exclude: Iterable[Path] = ()) -> Listing:
    """Every image under ``folder`` (rules in the module docstring); ``exclude``: folders not to walk (e.g. the masks).

    UsageError when ``folder`` is not a readable folder or holds more than ``max_files`` entries.
    """
    top = Path(folder)
    if not top.is_dir():
        raise errors.UsageError("not a folder", top, option="folder")
    walk = _Walk(top, os.path.realpath(top), max_files, frozenset(os.path.realpath(p) for p in exclude), [])

    def unreadable(exc: OSError) -> None:
        where = os.fspath(exc.filename) if exc.filename is not None else os.fspath(top)
        if os.path.realpath(where) == walk.real_top:
            raise errors.UsageError("cannot read the folder", top, option="folder") from exc
        walk.add(Entry(walk.relative(where) + "/", Path(where), problem=UNREADABLE_DIR))

    for dirpath, dirnames, filenames in os.walk(top, onerror=unreadable, followlinks=False):
        dirnames[:] = [name for name in dirnames if _walks_into(walk, Path(dirpath) / name)]
        for name in filenames:
            _list_file(walk, Path(dirpath) / name)
    return Listing(tuple(sorted(walk.entries, key=lambda e: e.path)), walk.skipped)


def _walks_into(walk: _Walk, path: Path) -> bool:
    """Whether the walk descends into the sub-folder ``path``; a hidden one counts as skipped, a link out is an entry."""
    if path.name.startswith("."):
        walk.skipped += 1
        return False
    if os.path.islink(path):
        if not _inside(walk.real_top, os.path.realpath(path)):
            walk.add(Entry(walk.relative(os.fspath(path)) + "/", path, problem=OUTSIDE_FOLDER))
        return False
    return os.path.realpath(path) not in walk.exclude


def _list_file(walk: _Walk, path: Path) -> None:
    """Add ``path`` as an entry when it is (or may be) an image, else count it as skipped."""
    if path.name.startswith("."):
        walk.skipped += 1
        return
    relpath = walk.relative(os.fspath(path))
    if os.path.islink(path) and not _inside(walk.real_top, os.path.realpath(path)):
        walk.add(Entry(relpath, path, problem=OUTSIDE_FOLDER))
        return
    try:
        info = os.stat(path)
    except OSError as exc:
        walk.add(Entry(relpath, path, problem=_stat_problem(exc)))
        return
    named = path.suffix.lower() in IMAGE_SUFFIXES
    if not stat.S_ISREG(info.st_mode):
        if named:
            walk.add(Entry(relpath, path, problem=NOT_A_FILE))
        else:
            walk.skipped += 1
        return
    head = b"" if named else _head(path)
    if isinstance(head, bytes) and not named and not looks_like_image(head):
        walk.skipped += 1
        return
    walk.add(Entry(relpath, path, info.st_size, info.st_mtime_ns, head if isinstance(head, str) else None))


def _head(path: Path) -> bytes | str:
    """The first bytes of the file, or the problem that stopped their read."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as exc:
        return _stat_problem(exc)
    with os.fdopen(fd, "rb") as fp:
        try:
            if not stat.S_ISREG(os.fstat(fp.fileno()).st_mode):  # swapped for a pipe since it was stat'ed
                return NOT_A_FILE
            return fp.read(SNIFF_BYTES)
        except OSError:
            return UNREADABLE


def looks_like_image(head: bytes) -> bool:
    """Whether a file's first 132 bytes are those of a DICOM (with or without preamble), PNG, JPEG or TIFF."""
    bare_dicom = head[:2] in BARE_DICOM_GROUPS and head[2:4] in BARE_DICOM_ELEMENTS
    return is_dicom_file(head) or head.startswith(RASTER_SIGNATURES) or bare_dicom


def _stat_problem(exc: OSError) -> str:
    """``missing`` for a file gone, a broken link or a link loop; ``unreadable`` for anything else (permission)."""
    gone = isinstance(exc, FileNotFoundError | NotADirectoryError) or exc.errno == errno.ELOOP
    return MISSING if gone else UNREADABLE


def _inside(real_top: str, real: str) -> bool:
    return os.path.commonpath([real_top, real]) == real_top


def check_unchanged(entry: Entry) -> str | None:
    """The entry's problem, or ``missing``/``changed`` when its file is gone or differs from the listing; None when unchanged."""
    if entry.problem is not None:
        return entry.problem
    try:
        info = os.stat(entry.file)
    except OSError as exc:
        return _stat_problem(exc)
    if not stat.S_ISREG(info.st_mode) or (info.st_size, info.st_mtime_ns) != (entry.size, entry.mtime_ns):
        return CHANGED
    return None


def check_output_folder(folder: Path, out: Path) -> None:
    """UsageError (option ``out``) when ``out`` is ``folder`` or lies inside it, through links or another name for it.

    An ``out`` that contains ``folder`` is allowed.
    """
    top, target = Path(folder).resolve(), Path(out).resolve()
    if target.is_relative_to(top) or _below_by_identity(top, target):
        raise errors.UsageError("the output folder must be outside the input folder", out, option="out")


def _below_by_identity(top: Path, target: Path) -> bool:
    """Whether ``target`` or one of its existing parents is the folder ``top`` (same device and inode), e.g. on a
    case-insensitive file system or a bind mount."""
    try:
        info = os.stat(top)
    except OSError:
        return False
    for path in (target, *target.parents):
        try:
            other = os.stat(path)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
            return True
    return False
