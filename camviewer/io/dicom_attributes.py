"""Reading DICOM attributes into camviewer's types: LUTs, windows, polarity, metadata.

Every attribute read is guarded: a malformed value becomes a note, never an exception.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue

from camviewer.io.grayscale import VOI_FUNCTIONS, Lut, ModalityTransform, VoiPreset, Window
from camviewer.io.image import Metadata

IMAGE_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1."
NON_IMAGE_STORAGE = ("1.2.840.10008.5.1.4.1.1.88.", "1.2.840.10008.5.1.4.1.1.11.", "1.2.840.10008.5.1.4.1.1.104.")
FOR_PROCESSING_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray, For Processing
    "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray, For Processing
    "1.2.840.10008.5.1.4.1.1.1.3.1",  # Digital Intra-Oral X-Ray, For Processing
}
LOSSY_SYNTAXES = {
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLSNearLossless,
    uid.JPEG2000,
    uid.HTJ2K,
    uid.JPEG2000MC,
}
INVALID_VOI_NOTE = "invalid windowing in file (ignored)"
SPACING_ATTRIBUTES = (("PixelSpacing", "Pixel Spacing"), ("ImagerPixelSpacing", "Imager Pixel Spacing"),
                      ("NominalScannedPixelSpacing", "Nominal Scanned Pixel Spacing"))
CALIBRATION_TYPES = {"GEOMETRY", "FIDUCIAL"}  # Pixel Spacing Calibration Type's defined terms
MAX_EXPLANATION_CHARS = 64  # an LO value


def _get(ds: Dataset, keyword: str) -> Any:
    """An attribute's value, or None when absent or unreadable."""
    try:
        value = ds.get(keyword)
    except Exception:  # malformed values raise on conversion
        return None
    return None if value is None or value == "" else value


def _text(ds: Dataset, keyword: str) -> str | None:
    value = _get(ds, keyword)
    return None if value is None else str(value).strip() or None


def _floats(value: Any) -> list[float]:
    items = value if isinstance(value, (MultiValue, list, tuple)) else [value]
    out = []
    for item in items:
        try:
            out.append(float(item))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, (MultiValue, list, tuple)) else [value]
    return [str(item).strip() for item in items]


def is_image_storage(ds: Dataset) -> bool:
    sop = _text(ds, "SOPClassUID") or ""
    return sop.startswith(IMAGE_STORAGE_PREFIX) and not sop.startswith(NON_IMAGE_STORAGE)


def is_for_processing(ds: Dataset) -> bool:
    intent = (_text(ds, "PresentationIntentType") or "").upper()
    return _text(ds, "SOPClassUID") in FOR_PROCESSING_CLASSES or intent == "FOR PROCESSING"


def polarity(ds: Dataset, photometric: str) -> tuple[bool, set[str]]:
    """Photometric Interpretation decides; a conflicting Presentation LUT Shape is noted.

    MONOCHROME1 with Presentation LUT Shape INVERSE is one inversion, not two.
    """
    invert = photometric == "MONOCHROME1"
    shape = (_text(ds, "PresentationLUTShape") or "").upper()
    if shape == "INVERSE" and photometric == "MONOCHROME2":
        return invert, {"Presentation LUT Shape INVERSE conflicts with MONOCHROME2; Photometric Interpretation used"}
    return invert, set()


def lut_from_item(item: Dataset, signed_input: bool, little_endian: bool = True) -> Lut:
    """A Lut from an item holding LUT Descriptor and LUT Data (US list or OW bytes)."""
    entries, first, bits = (int(v) for v in item.LUTDescriptor)
    entries = entries or 65536
    if signed_input and first > 32767:
        first -= 65536
    raw = item.LUTData
    if isinstance(raw, (bytes, bytearray)):
        data = np.array(struct.unpack(f"{'<' if little_endian else '>'}{entries}H", bytes(raw[: 2 * entries])))
    else:
        data = np.asarray(raw if isinstance(raw, (MultiValue, list, tuple)) else [raw], dtype=np.int64)
    if data.size != entries:
        raise ValueError(f"LUT has {data.size} entries, descriptor says {entries}")
    bits = max(bits, int(data.max()).bit_length()) if data.size else bits
    data.setflags(write=False)
    return Lut(first_mapped=first, data=data, bits=bits)


def modality_transform(ds: Dataset, signed_input: bool) -> tuple[ModalityTransform, set[str]]:
    """Modality LUT Sequence if present, else Rescale Slope/Intercept, sanitised."""
    notes: set[str] = set()
    sequence = _get(ds, "ModalityLUTSequence")
    if sequence:
        try:
            lut = lut_from_item(sequence[0], signed_input, ds.is_little_endian is not False)
            if _get(ds, "RescaleSlope") is not None:
                notes.add("file has both a Modality LUT and a rescale; the LUT is used")
            return ModalityTransform(lut=lut), notes
        except Exception:  # malformed LUT: fall back to rescale
            notes.add("invalid Modality LUT in file (ignored)")
    slope_value, intercept_value = _get(ds, "RescaleSlope"), _get(ds, "RescaleIntercept")
    slope = 1.0 if slope_value is None else _floats(slope_value)[0]
    intercept = 0.0 if intercept_value is None else _floats(intercept_value)[0]
    if not (np.isfinite(slope) and slope != 0.0 and np.isfinite(intercept)):
        notes.add("invalid rescale in file; stored values used")
        return ModalityTransform(), notes
    return ModalityTransform(slope=slope, intercept=intercept), notes


def file_voi_presets(ds: Dataset) -> tuple[tuple[VoiPreset, ...], set[str]]:
    """VOI LUT Sequence items, then Window Center/Width pairs, each with its explanation."""
    notes: set[str] = set()
    presets: list[VoiPreset] = []
    for k, item in enumerate(_get(ds, "VOILUTSequence") or (), start=1):
        try:
            lut = lut_from_item(item, signed_input=False, little_endian=ds.is_little_endian is not False)
        except Exception:
            notes.add("invalid VOI LUT in file (ignored)")
            continue
        presets.append(VoiPreset(_explanation(_text(item, "LUTExplanation"), f"VOI LUT {k}"), "file", lut=lut))
    centers = _floats(_get(ds, "WindowCenter")) if _get(ds, "WindowCenter") is not None else []
    widths = _floats(_get(ds, "WindowWidth")) if _get(ds, "WindowWidth") is not None else []
    names = _strings(_get(ds, "WindowCenterWidthExplanation"))
    function = (_text(ds, "VOILUTFunction") or "LINEAR").upper()
    if function not in VOI_FUNCTIONS:
        notes.add("unknown VOI LUT Function treated as LINEAR")  # the value is not shown: it is file text
        function = "LINEAR"
    for k, (center, width) in enumerate(zip(centers, widths)):
        try:
            window = Window(center, width, function)  # type: ignore[arg-type]
        except ValueError:
            notes.add(INVALID_VOI_NOTE)
            continue
        name = _explanation(names[k] if k < len(names) else None, f"Window {k + 1}")
        presets.append(VoiPreset(name, "file", window=window))
    return tuple(presets), notes


def _explanation(text: str | None, fallback: str) -> str:
    """A file's explanation as a preset name; ``fallback`` when absent, too long or not printable."""
    return text if text and len(text) <= MAX_EXPLANATION_CHARS and text.isprintable() else fallback


def _pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None]:
    """Pixel Spacing, else Imager Pixel Spacing (/ ERMF), else Nominal Scanned (Weasis order)."""
    spacing = _spacing_pair(ds, "PixelSpacing")
    if spacing:
        calibration = (_text(ds, "PixelSpacingCalibrationType") or "").upper()
        return spacing, f"Pixel Spacing ({calibration.lower()})" if calibration in CALIBRATION_TYPES else "Pixel Spacing"
    spacing = _spacing_pair(ds, "ImagerPixelSpacing")
    if spacing:
        factor = _floats(_get(ds, "EstimatedRadiographicMagnificationFactor") or float("nan"))[0]
        if np.isfinite(factor) and factor > 0:
            return (spacing[0] / factor, spacing[1] / factor), "Imager Pixel Spacing / magnification factor (estimated at patient)"
        return spacing, "Imager Pixel Spacing (at detector)"
    spacing = _spacing_pair(ds, "NominalScannedPixelSpacing")
    if spacing:
        return spacing, "Nominal Scanned Pixel Spacing"
    return None, None


def spacing_notes(ds: Dataset) -> set[str]:
    """A note for each spacing attribute that is present but invalid (e.g. ``0\\0``): it is ignored, not trusted."""
    return {f"invalid {name} in file (ignored)" for keyword, name in SPACING_ATTRIBUTES
            if _get(ds, keyword) is not None and _spacing_pair(ds, keyword) is None}


def _spacing_pair(ds: Dataset, keyword: str) -> tuple[float, float] | None:
    values = _floats(_get(ds, keyword)) if _get(ds, keyword) is not None else []
    if len(values) == 2 and all(np.isfinite(v) and v > 0 for v in values):
        return values[0], values[1]
    return None


def _iso_date(value: str | None) -> str | None:
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _lossy(ds: Dataset, syntax: uid.UID) -> bool | None:
    flag = _text(ds, "LossyImageCompression")
    if flag in ("00", "01"):
        return flag == "01"
    if syntax in LOSSY_SYNTAXES:
        return True
    return False if syntax.is_transfer_syntax else None


def metadata(
    ds: Dataset,
    meta: FileMetaDataset,
    syntax: uid.UID,
    rows: int,
    columns: int,
    samples: int,
    bits_stored: int,
    photometric: str,
    frames: int,
) -> Metadata:
    spacing, spacing_source = _pixel_spacing(ds)
    sop = _text(ds, "SOPClassUID") or _text(meta, "MediaStorageSOPClassUID")
    return Metadata(
        format="dicom",
        rows=rows,
        columns=columns,
        samples_per_pixel=samples,
        bits_stored=bits_stored,
        photometric_interpretation=photometric,
        frames=frames,
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        patient_sex=_text(ds, "PatientSex"),
        patient_age=_text(ds, "PatientAge"),
        study_date=_iso_date(_text(ds, "StudyDate")),
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        modality=_text(ds, "Modality"),
        body_part=_text(ds, "BodyPartExamined"),
        view_position=_text(ds, "ViewPosition"),
        laterality=_text(ds, "ImageLaterality") or _text(ds, "Laterality"),
        pixel_spacing_mm=spacing,
        pixel_spacing_source=spacing_source,
        transfer_syntax=syntax.name if syntax.is_transfer_syntax else str(syntax),
        transfer_syntax_uid=str(syntax),
        lossy_compression=_lossy(ds, syntax),
        sop_class=uid.UID(sop).name if sop else None,
    )
