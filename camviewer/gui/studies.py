"""A folder of radiographs as studies, series and images (Qt-free; the study browser shows it).

:func:`scan_folder` walks the folder in name order, keeps the files camviewer can open and
reads only DICOM headers. DICOM files group by Study and Series Instance UID (fallbacks:
patient ID and study date, then the folder); PNG, JPEG and TIFF files group by folder, then by
file-name stem without trailing digits. A file that cannot be read becomes a ``skipped`` entry
with a one-line reason; the scan never raises for a file. Labels hide patient names, IDs, dates
and free text when asked to anonymise.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from camviewer import errors
from camviewer.io import DICOM_SUFFIXES, RASTER_SIGNATURES, is_dicom_file
from camviewer.io.dicom import read_dataset
from camviewer.io.image import MODALITY_TERMS
from camviewer.io.source import regular_file_size
from camviewer.progress import CancelToken, raise_if_cancelled

DEFER_BYTES = 1024  # values longer than this (pixels, private blobs) are left on disk
RASTER_FORMATS = dict(zip(RASTER_SIGNATURES, ("PNG", "JPEG", "TIFF", "TIFF")))
IMAGE_SUFFIXES = (DICOM_SUFFIXES - {""}) | {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
TRAILING_NUMBER = re.compile(r"[\s_.-]*\d+$")


@dataclass(frozen=True)
class Series:
    """Images of one series in browse order; ``position`` counts from 1 within its study."""

    key: str
    position: int
    number: int | None
    description: str
    modality: str
    files: tuple[Path, ...]

    def label(self, anonymise: bool) -> str:
        """'Series 2: Chest PA (DX, 1 image)'; anonymised without the description."""
        name = f"Series {self.position if self.number is None else self.number}"
        if self.description and not anonymise:
            name += f": {self.description}"
        return f"{name} ({_count(self.modality, len(self.files))})"

    def image_label(self, index: int, anonymise: bool) -> str:
        """The file name, or 'Image 3' when anonymised (file names can hold names)."""
        return f"Image {index + 1}" if anonymise else self.files[index].name


@dataclass(frozen=True)
class Study:
    """Series of one study in browse order; ``position`` counts from 1 within the catalogue."""

    key: str
    position: int
    patient_name: str
    patient_id: str
    date: str
    description: str
    series: tuple[Series, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(path for series in self.series for path in series.files)

    @property
    def modality(self) -> str:
        return "/".join(dict.fromkeys(s.modality for s in self.series if s.modality))

    def label(self, anonymise: bool) -> str:
        """'Chest PA · 2024-01-02 · Doe Jane (DX, 2 images)'; anonymised 'Study 1 (DX, 2 images)'."""
        parts = () if anonymise else (self.description, _date(self.date), self.patient_name.replace("^", " ").strip())
        name = " · ".join(part for part in parts if part) or f"Study {self.position}"
        return f"{name} ({_count(self.modality, len(self.files))})"


@dataclass(frozen=True)
class Catalogue:
    """What a scan found; ``truncated`` when it stopped at its file limit."""

    studies: tuple[Study, ...]
    skipped: tuple[tuple[Path, str], ...]
    truncated: bool = False

    @property
    def files(self) -> tuple[Path, ...]:
        """Every image in browse order: study, series, instance."""
        return tuple(path for study in self.studies for path in study.files)


@dataclass(frozen=True)
class _Entry:
    """One readable image with what it is grouped and sorted by."""

    path: Path
    study_key: str
    series_key: str
    order: tuple[int, int, str]
    study: tuple[str, str, str, str] = ("", "", "", "")  # patient name, patient ID, date, description
    series_number: int | None = None
    series_description: str = ""
    modality: str = ""
    raster: bool = False


def scan_folder(folder: Path, cancel: CancelToken | None = None, limit: int = 20000) -> Catalogue:
    """The studies under ``folder``; raises Cancelled when ``cancel`` is set, FileMissingError if no folder."""
    if not folder.is_dir():
        raise errors.FileMissingError("not a folder", folder)
    entries: list[_Entry] = []
    skipped: list[tuple[Path, str]] = []
    for path in _walk(folder, skipped):
        raise_if_cancelled(cancel)
        if len(entries) >= limit:
            return Catalogue(_studies(entries), tuple(skipped), truncated=True)
        try:
            entry = _probe(path, folder)
        except errors.CamviewerError as exc:
            skipped.append((path, short_reason(exc)))
        except Exception as exc:  # one file must not end the scan (MemoryError, a library bug)
            skipped.append((path, f"Internal error: {type(exc).__name__}"))
        else:
            if entry is not None:
                entries.append(entry)
    return Catalogue(_studies(entries), tuple(skipped))


def _walk(folder: Path, skipped: list[tuple[Path, str]]) -> Iterator[Path]:
    """Files under ``folder`` in name order, hidden ones left out; linked folders are not followed (no loops)."""
    def unreadable(exc: OSError) -> None:
        skipped.append((Path(exc.filename or folder), "Folder could not be read"))

    for root, dirs, names in os.walk(folder, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield from (Path(root) / name for name in sorted(names) if not name.startswith("."))


def _probe(path: Path, root: Path) -> _Entry | None:
    """The file's entry, None when it is not meant to be an image; InputError when it should be one but is not."""
    try:
        head = _head(path)
    except errors.CamviewerError:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise
        return None
    if is_dicom_file(head):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's warnings about malformed values quote them
            return _dicom_entry(path, _header(path))
    kind = next((name for signature, name in RASTER_FORMATS.items() if head.startswith(signature)), None)
    if kind is not None:
        return _raster_entry(path, root, kind)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise errors.UnsupportedImageError("empty file" if not head else "not DICOM, PNG, JPEG or TIFF", path)
    return None


def _head(path: Path) -> bytes:
    """The first 132 bytes of a regular file (a pipe is never opened); FileMissingError otherwise."""
    regular_file_size(path)
    try:
        with path.open("rb") as fp:
            return fp.read(132)
    except OSError as exc:
        raise errors.FileMissingError("", path) from exc


def _header(path: Path) -> Dataset:
    """The data set without its pixels, read strictly (a cut or corrupt header is an InputError)."""
    return read_dataset(path, stop_before_pixels=True, defer_size=DEFER_BYTES)


def _dicom_entry(path: Path, ds: Dataset) -> _Entry:
    name, patient, date = _text(ds, "PatientName"), _text(ds, "PatientID"), _text(ds, "StudyDate")
    study_uid, series_uid = _text(ds, "StudyInstanceUID"), _text(ds, "SeriesInstanceUID")
    if study_uid:
        study_key = f"uid:{study_uid}"
    elif patient or date:
        study_key = f"patient:{patient}/{date}"
    else:
        study_key = f"dicom-folder:{path.parent}"
    number = _number(ds, "SeriesNumber")
    series_key = f"uid:{series_uid}" if series_uid else f"number:{number}" if number is not None else f"folder:{path.parent}"
    instance = _number(ds, "InstanceNumber")
    return _Entry(path, study_key, series_key, (instance is None, instance or 0, path.name),
                  (name, patient, date, _text(ds, "StudyDescription")), number, _text(ds, "SeriesDescription"),
                  modality if (modality := _text(ds, "Modality")) in MODALITY_TERMS else "")


def _raster_entry(path: Path, root: Path, kind: str) -> _Entry:
    stem = TRAILING_NUMBER.sub("", path.stem) or path.stem
    folder = path.parent.relative_to(root).as_posix()
    description = root.name if folder == "." else folder
    return _Entry(path, f"folder:{path.parent}", f"stem:{stem}", (False, 0, path.name), ("", "", "", description),
                  None, stem, kind, raster=True)


def _studies(entries: list[_Entry]) -> tuple[Study, ...]:
    """Studies folder by folder (DICOM before the folder's pictures), series by number then name, images by instance."""
    grouped: dict[str, list[_Entry]] = {}
    folders: dict[Path, int] = {}
    for entry in entries:
        grouped.setdefault(entry.study_key, []).append(entry)
        folders.setdefault(entry.path.parent, len(folders))
    ordered = sorted(grouped.values(), key=lambda group: (folders[group[0].path.parent], group[0].raster))
    return tuple(_study(position, members) for position, members in enumerate(ordered, 1))


def _study(position: int, members: list[_Entry]) -> Study:
    grouped: dict[str, list[_Entry]] = {}
    for entry in members:
        grouped.setdefault(entry.series_key, []).append(entry)
    ordered = sorted(grouped.values(), key=lambda group: (group[0].series_number is None, group[0].series_number or 0,
                                                          group[0].series_description if group[0].raster else ""))
    series = tuple(_series(index, group) for index, group in enumerate(ordered, 1))
    first = members[0]
    return Study(first.study_key, position, *first.study, series=series)


def _series(position: int, members: list[_Entry]) -> Series:
    first = members[0]
    files = tuple(entry.path for entry in sorted(members, key=lambda entry: entry.order))
    return Series(first.series_key, position, first.series_number, first.series_description, first.modality, files)


def _text(ds: Dataset, keyword: str) -> str:
    """A tag's value as one printable line ('' when missing, empty or malformed)."""
    try:
        value = ds.get(keyword)
    except Exception:  # a malformed value raises on conversion
        return ""
    text = "" if value is None else "".join(c for c in str(value) if c.isprintable())
    return " ".join(text.split())


def _number(ds: Dataset, keyword: str) -> int | None:
    try:
        return int(_text(ds, keyword))
    except ValueError:
        return None


def short_reason(exc: errors.CamviewerError) -> str:
    """The error's message without the file name (the path is kept beside it)."""
    return f"{exc.category}: {exc.detail}" if exc.detail else exc.category


def _date(value: str) -> str:
    """A DICOM DA value as YYYY-MM-DD, else as given."""
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if len(value) == 8 and value.isdigit() else value


def _count(modality: str, images: int) -> str:
    count = f"{images} image{'s' if images != 1 else ''}"
    return f"{modality}, {count}" if modality else count
