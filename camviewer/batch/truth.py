"""Ground truth of a batch run: labels, boxes and masks, matched to images by relative path.

Rules:

- Labels and boxes are UTF-8 CSV files (a BOM is allowed, NUL bytes are not) of at most :data:`MAX_TRUTH_BYTES`;
  header names are matched without surrounding spaces or case, class names exactly; blank lines are ignored.
- Paths are relative to the batch folder, with POSIX or Windows separators and an optional leading
  "./". An absolute path is made relative to ``base`` (the batch folder); a row outside it is ignored.
- Labels, long format: ``path,label``. A label is a class name, several joined by "|" only for a
  multi-label model (a single-label model needs exactly one); an empty multi-label cell is no finding.
- Labels, wide format: ``path`` and class-name columns of 0/1 cells. A multi-label file names every
  class; a single-label row holds exactly one 1. A path listed twice must carry the same labels.
- Boxes: ``path,x0,y0,x1,y1`` (extra columns ignored) in source pixels, end-exclusive, integers
  ("12.0" accepted), x1 >= x0 and y1 >= y0; the rows of one path are a union.
- Masks: ``masks/<relative path, suffix .png>``, else the same with leading folders dropped one at a
  time; a regular file inside the masks folder, nonzero pixels True, of the image's shape, not empty.
- A labels or boxes problem is one UsageError (option "labels" or "boxes") naming the file and the
  line; messages quote class names and cells, never an image path (it may hold a patient's name).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import posixpath
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from camviewer import errors
from camviewer.io.raster import load_raster
from camviewer.io.source import read_regular_file
from camviewer.metrics.localisation import Box

MIB = 1 << 20
MAX_TRUTH_BYTES = 200 * MIB
MAX_LISTED_CLASSES = 10
MAX_QUOTED = 40
BOX_COLUMNS = ("x0", "y0", "x1", "y1")
Label = tuple[str, tuple[int, ...]]
Row = tuple[str, ...]


@dataclass(frozen=True)
class Truth:
    """One image's ground truth: ``label`` as the file gives it ("a|b" for several) and ``indices``, its sorted
    class indices (both None without a label row); its mask file and its boxes."""

    label: str | None = None
    indices: tuple[int, ...] | None = None
    mask: Path | None = None
    boxes: tuple[Box, ...] = ()


class MaskError(errors.InputError):
    """A mask file that cannot serve as the image's ground truth."""

    category = "Mask not usable"
    reason = "mask"


@dataclass(frozen=True)
class _Table:
    """A CSV file's text and its header (cells stripped); :meth:`rows` parses the rest lazily."""

    source: Path
    option: str
    text: str
    names: Row
    header_line: int

    def fail(self, detail: str, line: int | None = None) -> errors.UsageError:
        return errors.UsageError(f"line {line}: {detail}" if line is not None else detail, self.source, option=self.option)

    def column(self, name: str) -> int:
        """The index of the header column ``name`` (any case)."""
        lowered = [n.lower() for n in self.names]
        if name not in lowered:
            raise self.fail(f"the header has no '{name}' column", self.header_line)
        return lowered.index(name)

    def rows(self) -> Iterator[tuple[int, Row]]:
        """(line number, cells) of every non-blank row after the header."""
        reader = csv.reader(io.StringIO(self.text, newline=""))
        try:
            for row in reader:
                if reader.line_num <= self.header_line or not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(self.names):
                    raise self.fail(f"{len(row)} cells, the header has {len(self.names)}", reader.line_num)
                yield reader.line_num, tuple(row)
        except csv.Error as exc:
            raise self.fail(f"not valid CSV ({exc})", reader.line_num) from exc


def read_labels(path: Path, classes: Sequence[str], multilabel: bool, *, base: Path | None = None) -> dict[str, Label]:
    """Relative POSIX image path -> (label text, sorted class indices), from a long or a wide labels file."""
    table = _read_table(path, "labels")
    index = {name: k for k, name in enumerate(classes)}
    parse = _long_parser(table, index, multilabel) if "label" in (n.lower() for n in table.names) else _wide_parser(table, index, multilabel)
    out: dict[str, Label] = {}
    first: dict[str, int] = {}
    for line, key, row in _keyed_rows(table, base):
        label = parse(line, row)
        if key in out and out[key][1] != label[1]:
            raise table.fail(f"the image is listed again (first on line {first[key]}) with other labels", line)
        out.setdefault(key, label)
        first.setdefault(key, line)
    return out


def _long_parser(table: _Table, index: Mapping[str, int], multilabel: bool) -> Callable[[int, Row], Label]:
    column = table.column("label")

    def parse(line: int, row: Row) -> Label:
        cell = row[column].strip()
        names = [name.strip() for name in cell.split("|")] if cell else []
        if not multilabel and len(names) != 1:
            raise table.fail(f"a single-label model needs exactly one class per image, not {len(names)}", line)
        for name in names:
            if name not in index:
                raise table.fail(f"unknown class '{_quoted(name)}'; known: {_known(index)}", line)
        return "|".join(names), tuple(sorted({index[name] for name in names}))

    return parse


def _wide_parser(table: _Table, index: Mapping[str, int], multilabel: bool) -> Callable[[int, Row], Label]:
    path_column = table.column("path")
    columns = [(k, name) for k, name in enumerate(table.names) if k != path_column]
    if not columns:
        raise table.fail("the header needs 'path,label' or 'path' and class-name columns", table.header_line)
    for _, name in columns:
        if name not in index:
            raise table.fail(f"the column '{_quoted(name)}' is not a class; known: {_known(index)}", table.header_line)
    if len({name for _, name in columns}) != len(columns):
        raise table.fail("a class column is named twice", table.header_line)
    missing = [name for name in index if name not in {n for _, n in columns}]
    if multilabel and missing:
        raise table.fail(f"no column for the class '{_quoted(missing[0])}': a multi-label file names every class", table.header_line)
    names = {k: name for name, k in index.items()}

    def parse(line: int, row: Row) -> Label:
        found = []
        for k, name in columns:
            cell = row[k].strip()
            if cell not in ("0", "1"):
                raise table.fail(f"the '{_quoted(name)}' cell is '{_quoted(cell)}', not 0 or 1", line)
            if cell == "1":
                found.append(index[name])
        if not multilabel and len(found) != 1:
            raise table.fail(f"a single-label model needs exactly one 1 per row, not {len(found)}", line)
        indices = tuple(sorted(found))
        return "|".join(names[k] for k in indices), indices

    return parse


def read_boxes(path: Path, *, base: Path | None = None) -> dict[str, tuple[Box, ...]]:
    """Relative POSIX image path -> its boxes (x0, y0, x1, y1), from a boxes file."""
    table = _read_table(path, "boxes")
    columns = [table.column(name) for name in BOX_COLUMNS]
    out: dict[str, list[Box]] = {}
    for line, key, row in _keyed_rows(table, base):
        x0, y0, x1, y1 = (_integer(table, line, name, row[k]) for name, k in zip(BOX_COLUMNS, columns))
        if x1 < x0 or y1 < y0:
            raise table.fail(f"the box ({x0}, {y0}, {x1}, {y1}) needs x1 >= x0 and y1 >= y0", line)
        out.setdefault(key, []).append((x0, y0, x1, y1))
    return {key: tuple(boxes) for key, boxes in out.items()}


def _integer(table: _Table, line: int, name: str, cell: str) -> int:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise table.fail(f"{name} is '{_quoted(cell.strip())}', not a whole number of pixels", line)
    return int(value)


def _read_table(path: Path, option: str) -> _Table:
    """The file's text and header; UsageError when it is unreadable, too large, not UTF-8, not CSV or empty."""
    data = _read_bytes(path, option)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.UsageError(f"not a UTF-8 text file (byte {exc.start})", path, option=option) from exc
    if "\0" in text:
        raise errors.UsageError("not a text file: it holds NUL bytes", path, option=option)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    except csv.Error as exc:
        raise errors.UsageError(f"line {reader.line_num}: not valid CSV ({exc})", path, option=option) from exc
    if header is None:
        raise errors.UsageError("the file is empty: it needs a header line", path, option=option)
    table = _Table(path, option, text, tuple(cell.strip() for cell in header), reader.line_num)
    table.column("path")
    return table


def _read_bytes(path: Path, option: str) -> bytes:
    def too_large(size: int) -> errors.CamviewerError:
        return errors.UsageError(f"the file has {size} bytes, over the {MAX_TRUTH_BYTES // MIB} MiB limit", path, option=option)

    try:
        return read_regular_file(path, MAX_TRUTH_BYTES, too_large)
    except errors.FileMissingError as exc:
        raise errors.UsageError(exc.detail or "file not found or unreadable", path, option=option) from exc


def _keyed_rows(table: _Table, base: Path | None) -> Iterator[tuple[int, str, Row]]:
    """(line, image key, cells) of the rows whose path lies in the batch folder."""
    column = table.column("path")
    for line, row in table.rows():
        key = _relative(table, line, row[column], base)
        if key is not None:
            yield line, key, row


def _relative(table: _Table, line: int, text: str, base: Path | None) -> str | None:
    """The relative POSIX key of a path cell, or None when it lies outside the batch folder."""
    path = text.strip().replace("\\", "/")
    if not path:
        raise table.fail("the path is empty", line)
    if posixpath.isabs(path) or os.path.isabs(path):
        if base is None:
            raise table.fail("the path is absolute: give paths relative to the batch folder", line)
        roots = {Path(os.path.abspath(base)).as_posix(), Path(os.path.realpath(base)).as_posix()}
        inside = [posixpath.relpath(posixpath.normpath(path), root) for root in sorted(roots)]
        path = next((p for p in inside if p != ".." and not p.startswith("../")), "..")
    key = posixpath.normpath(path)
    if key == ".":
        raise table.fail("the path names the batch folder, not an image", line)
    return None if key == ".." or key.startswith("../") else key


def _quoted(text: str) -> str:
    """A cell for a message: control characters as "?", long ones cut."""
    shown = "".join(c if c.isprintable() else "?" for c in text[:MAX_QUOTED])
    return shown + ("..." if len(text) > MAX_QUOTED else "")


def _known(index: Mapping[str, int]) -> str:
    names = list(index)
    listed = ", ".join(names[:MAX_LISTED_CLASSES])
    return listed + (f", ... ({len(names)} in all)" if len(names) > MAX_LISTED_CLASSES else "")


def mask_path(masks: Path, relpath: str) -> Path | None:
    """The mask file of the image ``relpath``: a regular file inside ``masks`` (rules in the module docstring)."""
    try:
        parts = PurePosixPath(relpath).with_suffix(".png").parts
    except ValueError:  # no file name to give a suffix
        return None
    real_masks = os.path.realpath(masks)
    for k in range(len(parts)):
        candidate = Path(masks, *parts[k:])
        if _regular_inside(candidate, real_masks):
            return candidate
    return None


def _regular_inside(path: Path, real_folder: str) -> bool:
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
    return regular and os.path.commonpath([real_folder, os.path.realpath(path)]) == real_folder


def load_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """The mask file as a bool (H, W) array, nonzero = True; MaskError when unreadable, of another shape or empty."""
    try:
        values = load_raster(path).values
    except errors.InputError as exc:
        raise MaskError(f"{exc.category}: {exc.detail}" if exc.detail else exc.category, path) from exc
    mask = (values != 0).any(axis=2) if values.ndim == 3 else values != 0
    if mask.shape != tuple(shape):
        raise MaskError(f"{mask.shape[1]} x {mask.shape[0]} pixels, the image has {shape[1]} x {shape[0]}", path)
    if not mask.any():
        raise MaskError("the mask is empty", path)
    return mask


def truth_for(relpath: str, labels: Mapping[str, Label] | None, boxes: Mapping[str, tuple[Box, ...]] | None,
              masks: Path | None) -> Truth:
    """The ground truth of the image ``relpath`` from whichever sources the run has."""
    label = labels.get(relpath) if labels is not None else None
    return Truth(label[0] if label else None, label[1] if label else None,
                 mask_path(masks, relpath) if masks is not None else None,
                 tuple(boxes.get(relpath, ())) if boxes is not None else ())


def truth_digest(labels: Path | None, boxes: Path | None, masks: Path | None) -> str:
    """SHA-256 over the labels and boxes files' bytes and the masks folder's listing (names, sizes, mtimes).

    UsageError when a file cannot be read or ``masks`` is not a folder.
    """
    digest = hashlib.sha256()
    for option, path in (("labels", labels), ("boxes", boxes)):
        content = hashlib.sha256(_read_bytes(path, option)).hexdigest() if path is not None else "-"
        digest.update(f"{option}:{content}\n".encode())
    digest.update(b"masks:")
    if masks is not None:
        if not os.path.isdir(masks):
            raise errors.UsageError("not a folder", masks, option="masks")
        for name, size, mtime_ns in _listing(masks):
            digest.update(name.encode("utf-8", "surrogateescape") + f"\0{size}\0{mtime_ns}\n".encode())
    return digest.hexdigest()


def _listing(folder: Path) -> list[tuple[str, int, int]]:
    """(relative POSIX name, size, mtime_ns) of every file under ``folder``, links not walked; -1 when unreadable."""
    out = []
    for dirpath, _, filenames in os.walk(folder, followlinks=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                info = os.stat(path)
                size, mtime_ns = info.st_size, info.st_mtime_ns
            except OSError:
                size = mtime_ns = -1
            out.append((Path(os.path.relpath(path, folder)).as_posix(), size, mtime_ns))
    return sorted(out)
