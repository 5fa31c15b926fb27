"""The strict DICOM Part 10 read: every phase before pixel decoding, each failure one InputError.

Phases, so that nothing large is read before it is checked: regular file and size ->
'DICM' prefix -> file meta and transfer syntax -> bounded inflate (deflated only) -> data
set (never forced) -> checks that the data set is whole. pydicom reads a cut file
silently, so "whole" is checked here: no element runs past the end of the file, the file
does not end inside an element header or a sequence, and no VR was guessed.
pydicom's warnings become fixed notes, so no file content reaches the user.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom import uid
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info

from camviewer import errors
from camviewer.io.limits import Limits
from camviewer.io.source import regular_file_size

PREAMBLE_AND_MAGIC = 132
GROUP_LENGTH_HEADER = b"\x02\x00\x00\x00UL\x04\x00"  # (0002,0000) UL with a 4-byte value
META_LENGTH_ELEMENT = len(GROUP_LENGTH_HEADER) + 4
ELEMENT_HEADER = 8  # the shortest element header: tag, then VR and length or a 4-byte length
PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
UNDEFINED_LENGTH = 0xFFFFFFFF
DEFLATED_SYNTAXES = {uid.DeflatedExplicitVRLittleEndian}
TRUNCATED_NOTE = "truncated"
HEADER_CUT = "DICOM file ends inside an element header"
META_CUT = "DICOM file ends inside its file meta information"


@dataclass(frozen=True)
class Part10:
    """A strictly read file: its data set, transfer syntax and fixed notes for pydicom's warnings."""

    dataset: FileDataset
    syntax: uid.UID
    notes: frozenset[str]


class _TailReader(io.BufferedReader):
    """A file reader that keeps what its latest read returned when that read came back short.

    pydicom stops reading without a word when fewer bytes than an element header remain.
    """

    short_tail = b""

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.short_tail = data if size is not None and size > len(data) else b""
        return data


def is_dicom_file(head: bytes) -> bool:
    """True when the first 132 bytes carry the Part 10 'DICM' prefix."""
    return head[128:132] == b"DICM"


def read_part10(path: Path, limits: Limits, *, stop_before_pixels: bool = False, defer_size: int | None = None) -> Part10:
    """Read and check a Part 10 file; ``defer_size`` does not apply to a deflated body (inflated in memory)."""
    size = regular_file_size(path)
    head = _checked_head(path, size)
    if size > limits.max_file_bytes:
        raise errors.ImageTooLargeError(f"file of {size} bytes exceeds the file-size limit", path)
    meta, body_offset = _read_meta(path, size, head)
    syntax = _transfer_syntax(meta, path)
    deflated = syntax in DEFLATED_SYNTAXES
    if deflated:
        _check_inflated_size(path, body_offset, limits)
    ds, notes = _read_body(path, stop_before_pixels, None if deflated else defer_size)
    _check_consistent_encoding(ds, path)
    if not deflated:
        _check_within_file(ds, size, path)
    return Part10(ds, syntax, frozenset(notes))


def note_for(message: str) -> str:
    """Reduce a pydicom warning to a fixed note, so no file content reaches the user."""
    lowered = message.lower()
    if "end of file" in lowered or "no tag to read" in lowered:
        return TRUNCATED_NOTE
    if "encoding" in lowered or "character set" in lowered:
        return "text encoding unknown; names may show replacement characters"
    if "explicit vr" in lowered or "implicit vr" in lowered:
        return "VR encoding differs from the declared transfer syntax"
    if "padding" in lowered:
        return "pixel data has excess padding (ignored)"
    return "the file has minor encoding errors"


def _checked_head(path: Path, size: int) -> bytes:
    """The first bytes up to the group length element, if the file is Part 10; else NotDicomError."""
    if size == 0:
        raise errors.NotDicomError("empty file", path)
    try:
        with path.open("rb") as fp:
            head = fp.read(PREAMBLE_AND_MAGIC + META_LENGTH_ELEMENT)
    except OSError as exc:
        raise errors.FileMissingError("", path) from exc
    if is_dicom_file(head):
        return head
    if head[:2] in (b"\x08\x00", b"\x02\x00") and head[2:4] in (b"\x00\x00", b"\x05\x00", b"\x08\x00", b"\x16\x00"):
        raise errors.NotDicomError("not a DICOM Part 10 file (no preamble and file meta header)", path)
    raise errors.NotDicomError("", path)


def _read_meta(path: Path, size: int, head: bytes) -> tuple[FileMetaDataset, int]:
    """The file meta and where the data set starts; the meta must lie whole inside the file."""
    declared = _declared_meta_end(head)
    if size < PREAMBLE_AND_MAGIC + META_LENGTH_ELEMENT or (declared or 0) > size:
        raise errors.TruncatedFileError(META_CUT, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta = read_file_meta_info(path)
    except (EOFError, struct.error) as exc:
        raise errors.TruncatedFileError("DICOM file meta information incomplete", path) from exc
    except InvalidDicomError as exc:
        raise errors.NotDicomError("", path) from exc
    except OSError as exc:
        if "No tag" in str(exc):
            raise errors.TruncatedFileError("DICOM file meta information incomplete", path) from exc
        raise errors.FileMissingError("", path) from exc
    except Exception as exc:  # pydicom has no common base class for parse errors
        raise errors.CorruptFileError("DICOM file meta information unreadable", path) from exc
    end = _meta_end(meta, declared)
    if end > size:
        raise errors.TruncatedFileError(META_CUT, path)
    if 0 < size - end < ELEMENT_HEADER:
        raise errors.TruncatedFileError(HEADER_CUT, path)
    return meta, end


def _declared_meta_end(head: bytes) -> int | None:
    """The end of the file meta by its File Meta Information Group Length, if the file has one."""
    start = PREAMBLE_AND_MAGIC + len(GROUP_LENGTH_HEADER)
    if head[PREAMBLE_AND_MAGIC:start] != GROUP_LENGTH_HEADER or len(head) < start + 4:
        return None
    return start + 4 + int(struct.unpack("<I", head[start:start + 4])[0])


def _meta_end(meta: FileMetaDataset, declared: int | None) -> int:
    """Where pydicom stopped reading the file meta: the end of its last element (else by group length)."""
    ends = [raw.value_tell + raw.length for raw in _raw_elements(meta) if raw.length != UNDEFINED_LENGTH]
    return max(ends, default=declared or PREAMBLE_AND_MAGIC)


def _raw_elements(ds: Dataset) -> list[RawDataElement]:
    """The top-level elements not yet converted from their encoded form (they keep their file offsets)."""
    items: list[object] = [ds.get_item(tag, keep_deferred=True) for tag in list(ds.keys())]
    return [raw for raw in items if isinstance(raw, RawDataElement)]


def _transfer_syntax(meta: FileMetaDataset, path: Path) -> uid.UID:
    syntax = meta.get("TransferSyntaxUID")
    if not syntax:
        raise errors.CorruptFileError("DICOM file meta information has no transfer syntax", path)
    return uid.UID(str(syntax))


def _check_inflated_size(path: Path, offset: int, limits: Limits) -> None:
    """Inflate a deflated body in bounded steps without keeping it, refusing bombs.

    The limit is ``max_inflated_bytes``, or ``max_inflate_ratio`` times the compressed size
    when that is smaller (image data deflates a few times; a bomb a thousand times).
    """
    compressed = max(1, path.stat().st_size - offset)
    budget = min(limits.max_inflated_bytes, max(limits.inflate_ratio_allowance, compressed * limits.max_inflate_ratio))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    try:
        with path.open("rb") as fp:
            fp.seek(offset)
            while chunk := fp.read(1 << 20):
                pending = chunk
                while pending:
                    produced += len(inflater.decompress(pending, 1 << 20))
                    pending = inflater.unconsumed_tail
                    if produced > budget:
                        raise errors.DecompressionBombError(f"deflated DICOM expands beyond {budget >> 20} MiB", path)
    except zlib.error as exc:
        raise errors.CorruptFileError("deflated DICOM data is corrupt", path) from exc
    if not inflater.eof:
        raise errors.CorruptFileError("deflated DICOM data is incomplete", path)


def _read_body(path: Path, stop_before_pixels: bool, defer_size: int | None) -> tuple[FileDataset, set[str]]:
    """dcmread (never forced) with warnings turned into notes; parse failures classified."""
    try:
        raw = io.FileIO(str(path))  # a str name: pydicom re-opens it by name for deferred values
    except OSError as exc:
        raise errors.FileMissingError("", path) from exc
    try:
        with warnings.catch_warnings(record=True) as caught, _TailReader(raw) as fp:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(fp, defer_size=defer_size, stop_before_pixels=stop_before_pixels)
            tail = fp.short_tail
    except RecursionError as exc:
        raise errors.CorruptFileError("DICOM nesting too deep", path) from exc
    except MemoryError as exc:
        raise errors.CorruptFileError("DICOM element length exceeds file", path) from exc
    except InvalidDicomError as exc:
        raise errors.NotDicomError("", path) from exc
    except struct.error as exc:  # an element header's 4-byte length cut short
        raise errors.TruncatedFileError(HEADER_CUT, path) from exc
    except (EOFError, OSError) as exc:
        raise errors.TruncatedFileError("DICOM file ends inside an element", path) from exc
    except Exception as exc:  # pydicom has no common base class for parse errors
        raise errors.CorruptFileError("DICOM data set unreadable", path) from exc
    notes = {note_for(str(w.message)) for w in caught}
    if TRUNCATED_NOTE in notes:
        raise errors.TruncatedFileError("DICOM file ends inside a sequence", path)
    if tail.strip(b"\0"):  # zero bytes after the last element are padding, not a cut header
        raise errors.TruncatedFileError(HEADER_CUT, path)
    return ds, notes


def _check_consistent_encoding(ds: Dataset, path: Path) -> None:
    """An explicit-VR element without a VR means pydicom met invalid VR bytes and guessed on."""
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        if getattr(raw, "is_implicit_VR", True) is False and getattr(raw, "VR", "") is None:
            raise errors.CorruptFileError("DICOM data elements are malformed", path)


def _check_within_file(ds: Dataset, size: int, path: Path) -> None:
    """A declared value past the end of the file: a cut file, or a corrupt length after the pixels."""
    past = {int(raw.tag) for raw in _raw_elements(ds)
            if raw.length != UNDEFINED_LENGTH and raw.value_tell + raw.length > size}
    if not past:
        return
    if past & set(PIXEL_DATA_TAGS):
        raise errors.TruncatedFileError("DICOM pixel data incomplete", path)
    if any(tag in ds for tag in PIXEL_DATA_TAGS):
        raise errors.CorruptFileError("DICOM element length exceeds file", path)
    raise errors.TruncatedFileError("DICOM file ends before its image data", path)
