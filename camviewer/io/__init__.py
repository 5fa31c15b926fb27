"""X-ray input: DICOM, PNG, JPEG and TIFF to :class:`XrayImage`, chosen by content."""

from __future__ import annotations

from pathlib import Path

from camviewer import errors
from camviewer.io.dicom import is_dicom_file, load_dicom
from camviewer.io.image import Metadata, XrayImage
from camviewer.io.limits import DEFAULT_LIMITS, Limits
from camviewer.io.raster import load_raster
from camviewer.io.source import regular_file_size

__all__ = ["Limits", "Metadata", "XrayImage", "load_image"]

RASTER_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
DICOM_SUFFIXES = {".dcm", ".dicom", ".dic", ""}


def load_image(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> XrayImage:
    """Open an X-ray by its content (a DICOM renamed .png still opens as DICOM).

    Only a regular file (links followed) is opened: a pipe would block, a folder fail late.
    """
    path = Path(path)
    regular_file_size(path)
    try:
        with path.open("rb") as fp:
            head = fp.read(132)
    except OSError as exc:
        raise errors.FileMissingError("", path) from exc
    if is_dicom_file(head):
        return load_dicom(path, limits)
    if head.startswith(RASTER_SIGNATURES):
        return load_raster(path, limits)
    if path.suffix.lower() in DICOM_SUFFIXES:
        return load_dicom(path, limits)
    if not head:
        raise errors.UnsupportedImageError("empty file", path)
    raise errors.UnsupportedImageError("", path)
