"""DICOM Secondary Capture export of a rendered explanation: the annotated picture that the PNG export
shows (overlay at source resolution, colour bar with its numbers, caption with model, class,
probability, method, warnings and "Not for diagnostic use"), so a PACS user sees what a PNG user sees.

The export is a **new** Secondary Capture Image Storage instance
(1.2.840.10008.5.1.4.1.1.7), built from an allowlist of attributes; nothing is copied
wholesale from the source, so private tags, device and institution attributes and the
source's preamble never reach the output.

Why single-frame SC and not Multi-frame True Color SC (1.2.840.10008.5.1.4.1.1.7.4):
the overlay is a single RGB frame. The single-frame SC IOD is read by every PACS and
viewer, and it is what chest-X-ray AI products ship. The multi-frame IOD adds mandatory
Multi-frame and SC Multi-frame Image attributes (Number of Frames, Frame Increment
Pointer) but holds nothing more for one frame.

De-identification (default) follows the PS3.15 Annex E Basic Application Level
Confidentiality Profile for the attributes an SC carries. No profile options are applied.

- Patient's Name becomes ``ANONYMOUS^``. Patient ID becomes a pseudo-ID hashed from the
  replaced Study Instance UID, which is already in the file. So the pseudo-ID reveals
  nothing more than that UID, and exports of one study share one pseudo-ID. It is not
  hashed from the original ID: an unkeyed hash of a short MRN can be reversed by trying
  every MRN. The cost is that different studies of one patient get different pseudo-IDs.
- Birth Date, Sex, Study Date, Study Time, Study ID, Accession Number and Referring
  Physician's Name are emptied (action Z). Keeping Sex would need the Retain Patient
  Characteristics Option, and an overlay does not need it. Keeping study dates would
  need the Retain Longitudinal Temporal Information Option.
- Study Description, Institution and device attributes, and private tags are removed
  (action X): they are never copied.
- UIDs are replaced consistently (action U). The Study Instance UID and the referenced
  source SOP Instance UID map to ``generate_uid(entropy_srcs=[original])``, so all
  exports of one study stay in one study. The map is an unkeyed hash: anyone who holds a
  candidate original UID can confirm a match, but cannot recover the UID from the output.
- Body Part Examined, Laterality and Patient Orientation are copied when they are DICOM
  codes (a defined body part, R/L/B/U, orientation letters), since they describe the anatomy
  shown, not the person; any other value (free text) is left out. The source's SOP Class UID
  and Lossy Image Compression are copied (what the export derives from, and how).
- Series/Content/Instance-creation dates and times are when the export was made, not
  when the patient was imaged.
- Patient Identity Removed is ``YES``. De-identification Method and its code sequence
  (DCM 113100) name camviewer and the Basic Profile. Clean Pixel Data (113101) is **not**
  claimed: the source pixels pass through unchanged.

Burned In Annotation is ``YES``. The overlay carries burned-in text, and any text burned
into the radiograph itself passes into the export unchanged. camviewer cannot show that
this text identifies no one, so it reports YES, and receiving de-identification pipelines
send the image for pixel review.

With ``keep_identity=True`` the patient and study identity attributes and UIDs are copied
from the source (a value invalid for its VR is left empty), and Patient Identity Removed
is ``NO``. Institution and device attributes
describe the source's equipment, not the equipment that made the export, so they are
never copied.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
from pydicom import config, uid
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName, validate_value

from camviewer import __version__
from camviewer.io.image import BODY_PART_TERMS, LATERALITY_TERMS
from camviewer.io.write import NO_INPUTS, ProtectedInputs, atomic_file

SOFTWARE_NAME = "camviewer"
SERIES_NUMBER = 9001  # high, so that the export sorts after the acquired series
ANONYMOUS_NAME = "ANONYMOUS^"  # a bare "ANONYMOUS" is the retired single-component PN form
PSEUDO_ID_PREFIX = "ANON-"
DEIDENTIFICATION_METHOD = "camviewer: PS3.15 E.1 Basic Application Confidentiality Profile"
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
MAX_LO_CHARS = 64
MAX_LT_CHARS = 10240
ORIENTATION = re.compile(r"([APRLHF]{1,3}\\[APRLHF]{1,3})?")  # row\column directions, or empty
PREAMBLE = bytes(128)
PIXEL_DATA = 0x7FE00010
UNPAIRED_BODY_PARTS = {"CHEST", "THORAX", "ABDOMEN", "PELVIS", "HEAD", "SKULL", "NECK", "SPINE", "HEART"}
UNICODE_CHARSET = "ISO_IR 192"
# Patient (Type 2) and General Study (Type 2) attributes: copied when identified, else empty.
IDENTITY_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                  "ReferringPhysicianName", "StudyID", "AccessionNumber")
# Type 3 identity attributes: copied only when identified and present in the source.
IDENTITY_OPTIONAL = ("IssuerOfPatientID", "PatientAge", "StudyDescription")


def secondary_capture(source: Dataset, overlay: np.ndarray, *, method: str, description: str,
                      keep_identity: bool = False, comments: str = "", now: datetime | None = None) -> Dataset:
    """A Secondary Capture data set showing ``overlay``, derived from ``source``.

    ``overlay`` is the rendered picture, a uint8 RGB array (rows, columns, 3) of any size.
    ``method`` names the explanation (e.g. "Grad-CAM") in the Derivation Description.
    ``description`` becomes the Series Description, cut to 64 characters, and ``comments`` the
    Image Comments (the picture's warnings, for machines). Neither may carry patient data. The
    result is de-identified unless ``keep_identity`` is True (then it joins the source's study).
    Its Pixel Data reads the overlay's memory (no copy): leave the overlay unchanged until written.
    """
    _check_overlay(overlay)
    now = now or datetime.now()
    ds = _new_instance(now)
    _add_patient_and_study(ds, source, keep_identity)
    _add_series_and_equipment(ds, description, now)
    _add_anatomy(ds, source, keep_identity)
    _add_derivation(ds, source, method, keep_identity)
    _add_pixels(ds, overlay, source)
    if comments:
        ds.ImageComments = comments[:MAX_LT_CHARS]
    if _has_non_ascii_text(ds):
        ds.SpecificCharacterSet = UNICODE_CHARSET
    return ds


def write_secondary_capture(path: Path, dataset: Dataset, protected: ProtectedInputs = NO_INPUTS) -> None:
    """Write ``dataset`` atomically as a DICOM Part 10 file with a zeroed preamble.

    Raises OutputError when ``path`` would replace a protected input, or when writing fails. No
    partial or temporary file is left behind. The preamble is zeroed whatever the data
    set carries (CVE-2019-11687: a preamble can make a DICOM file also an executable).
    The data set goes straight into the temporary file; its pixels are not copied.
    """
    with atomic_file(path, protected) as fp:
        pydicom.dcmwrite(fp, dataset, enforce_file_format=True)
        fp.seek(0)
        fp.write(PREAMBLE)


def _check_overlay(overlay: np.ndarray) -> None:
    shape: tuple[int, ...] = tuple(getattr(overlay, "shape", ()))
    if getattr(overlay, "dtype", None) != np.uint8 or len(shape) != 3 or shape[2] != 3 or 0 in shape:
        raise ValueError("overlay must be a non-empty uint8 RGB array of shape (rows, columns, 3)")
    if max(shape[:2]) > 65535:
        raise ValueError("overlay has over 65535 rows or columns, more than a DICOM image holds")


def _new_instance(now: datetime) -> Dataset:
    """SOP Common module plus the file meta of a new Explicit VR Little Endian instance."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = uid.SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = uid.generate_uid()
    ds.SOPClassUID = uid.SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.InstanceCreationDate, ds.InstanceCreationTime = _date(now), _time(now)
    return ds


def _add_patient_and_study(ds: Dataset, source: Dataset, keep_identity: bool) -> None:
    """Patient and General Study modules: copied when identified, else de-identified."""
    original_study = _text(source, "StudyInstanceUID")
    if keep_identity:
        for keyword in IDENTITY_TYPE2:
            setattr(ds, keyword, _text(source, keyword))
        for keyword in (k for k in IDENTITY_OPTIONAL if _text(source, k)):
            setattr(ds, keyword, _text(source, keyword))
        ds.StudyInstanceUID = original_study or uid.generate_uid()
        ds.PatientIdentityRemoved = "NO"
        return
    for keyword in IDENTITY_TYPE2:
        setattr(ds, keyword, "")
    ds.StudyInstanceUID = _replacement_uid(original_study) if original_study else uid.generate_uid()
    ds.PatientName = ANONYMOUS_NAME
    ds.PatientID = _pseudo_id(ds.StudyInstanceUID)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEIDENTIFICATION_METHOD
    ds.DeidentificationMethodCodeSequence = [_code(*BASIC_PROFILE_CODE)]


def _add_series_and_equipment(ds: Dataset, description: str, now: datetime) -> None:
    """General Series, General Equipment and SC Equipment modules of the new series."""
    ds.Modality = "OT"
    ds.SeriesInstanceUID = uid.generate_uid()
    ds.SeriesNumber = SERIES_NUMBER
    ds.SeriesDate, ds.SeriesTime = _date(now), _time(now)
    ds.SeriesDescription = description[:MAX_LO_CHARS]
    ds.Manufacturer = SOFTWARE_NAME
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"
    ds.SecondaryCaptureDeviceManufacturer = SOFTWARE_NAME
    ds.SecondaryCaptureDeviceManufacturerModelName = SOFTWARE_NAME
    ds.SecondaryCaptureDeviceSoftwareVersions = __version__
    ds.DateOfSecondaryCapture, ds.TimeOfSecondaryCapture = _date(now), _time(now)
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = _date(now), _time(now)


def _add_anatomy(ds: Dataset, source: Dataset, keep_identity: bool) -> None:
    """Body Part Examined and Laterality, copied: the export shows the same anatomy.

    De-identified, only DICOM codes are copied (free text could name someone). Laterality
    (Type 2C) is required for paired body parts. It is copied when the source has it, left
    out for a known unpaired part, and otherwise present but empty, which PS3.3 allows when
    laterality is unknown.
    """
    body_part, laterality = _text(source, "BodyPartExamined"), _text(source, "Laterality")
    if not keep_identity:
        body_part = body_part if body_part in BODY_PART_TERMS else ""
        laterality = laterality if laterality in LATERALITY_TERMS else ""
    if body_part:
        ds.BodyPartExamined = body_part
    if laterality or body_part.upper() not in UNPAIRED_BODY_PARTS:
        ds.Laterality = laterality


def _add_derivation(ds: Dataset, source: Dataset, method: str, keep_identity: bool) -> None:
    """General Image and General Reference attributes saying what the image derives from."""
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.DerivationDescription = f"{SOFTWARE_NAME} {__version__}: {method} explanation overlay on the source image, annotated"
    orientation = _text(source, "PatientOrientation")
    ds.PatientOrientation = orientation if keep_identity or ORIENTATION.fullmatch(orientation) else ""
    sop_class, sop_instance = _text(source, "SOPClassUID"), _text(source, "SOPInstanceUID")
    if sop_class and sop_instance:
        reference = Dataset()
        reference.ReferencedSOPClassUID = sop_class
        reference.ReferencedSOPInstanceUID = sop_instance if keep_identity else _replacement_uid(sop_instance)
        ds.SourceImageSequence = [reference]


def _add_pixels(ds: Dataset, overlay: np.ndarray, source: Dataset) -> None:
    """Image Pixel module (8-bit RGB, interleaved) and the pixel-history attributes.

    Pixel Data is a stream over the overlay's own memory, which pydicom writes in chunks.
    """
    ds.Rows, ds.Columns = overlay.shape[:2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.add_new(PIXEL_DATA, "OB", PixelStream(np.ascontiguousarray(overlay)))
    ds.BurnedInAnnotation = "YES"
    # PS3.3 C.7.6.1.1.5: once an image has been lossy compressed, "01" is never reset.
    ds.LossyImageCompression = "01" if _text(source, "LossyImageCompression") == "01" else "00"


class PixelStream(io.BufferedIOBase):
    """A readable, seekable stream over an array's bytes, padded with a zero byte to an even length
    (a Pixel Data value that pydicom writes in chunks instead of copying it)."""

    def __init__(self, pixels: np.ndarray) -> None:
        super().__init__()
        self._data = pixels.data.cast("B")
        self._size = len(self._data) + len(self._data) % 2
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, start + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        stop = self._size if size is None or size < 0 else min(self._size, self._position + size)
        start, self._position = self._position, max(self._position, stop)
        return bytes(self._data[start:stop]) + bytes(max(0, stop - max(start, len(self._data))))


def _replacement_uid(original: str) -> str:
    """A new UID derived deterministically from ``original`` (PS3.15 action U)."""
    return uid.generate_uid(entropy_srcs=[original])


def _pseudo_id(study_uid: str) -> str:
    """A Patient ID hashed from the (already replaced) Study Instance UID."""
    return PSEUDO_ID_PREFIX + hashlib.sha256(f"camviewer-patient:{study_uid}".encode()).hexdigest()[:16].upper()


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _text(source: Dataset, keyword: str) -> str:
    """A source attribute's value as text, or "" when absent, unreadable or invalid for its VR.

    Several values are joined by a backslash. Invalid values are dropped, not copied: they
    would make the export invalid, and pydicom's warnings and log records quote them.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = source.get(keyword)
        except Exception:  # malformed values raise on conversion
            return ""
    items = [] if value is None else list(value) if isinstance(value, MultiValue) else [value]
    items = [str(item) if isinstance(item, PersonName) else item for item in items]  # PN checks need text
    try:
        for item in items:
            validate_value(dictionary_VR(keyword), item, config.RAISE)
    except ValueError:
        return ""
    return "\\".join(str(item) for item in items)


def _has_non_ascii_text(ds: Dataset) -> bool:
    return any(isinstance(e.value, (str, PersonName)) and not str(e.value).isascii() for e in ds.iterall())


def _date(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")


def _time(moment: datetime) -> str:
    return moment.strftime("%H%M%S")
