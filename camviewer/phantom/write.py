"""Phantom writers: DICOM (DX or CR, MONOCHROME1/2, 12-16 bits, optionally JPEG 2000), PNG and masks.

Files are written atomically and are deterministic for a given phantom and seed.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset

from camviewer.io.grayscale import VoiPreset, auto_window, full_range_preset, to_bits
from camviewer.io.image import Metadata, XrayImage
from camviewer.io.write import atomic_write_bytes, encode_png
from camviewer.phantom.generate import Phantom
from camviewer.phantom.marker import MANUFACTURER, MODEL_NAME

Photometric = Literal["MONOCHROME1", "MONOCHROME2"]
Modality = Literal["DX", "CR"]
SOP_CLASSES = {"DX": "1.2.840.10008.5.1.4.1.1.1.1", "CR": "1.2.840.10008.5.1.4.1.1.1"}  # DX For Presentation, CR
FIELD_OF_VIEW_MM = 366.08  # 2560 pixels of 0.143 mm, a common detector
STUDY_DESCRIPTION = "Synthetic chest phantom (camviewer)"
FIRST_STUDY_DATE = dt.date(2020, 1, 1)


def stored_values(phantom: Phantom, bits: int, photometric: Photometric) -> np.ndarray:
    """round(pixels * (2^bits - 1)) as uint16, inverted for MONOCHROME1 so the display is unchanged."""
    top = (1 << bits) - 1
    values = np.rint(np.clip(phantom.pixels, 0.0, 1.0) * top).astype(np.uint16)
    return top - values if photometric == "MONOCHROME1" else values


def pixel_spacing_mm(size: int) -> float:
    """Spacing that gives every phantom the same plausible field of view (0.143 mm at 2560 pixels)."""
    return round(FIELD_OF_VIEW_MM / size, 6)


def write_dicom(path: str | Path, phantom: Phantom, *, photometric: Photometric = "MONOCHROME2", bits: int = 12,
                modality: Modality = "DX", compress: bool = False, seed: int = 0) -> None:
    """Write the phantom as a DICOM Part 10 file; ``seed`` numbers the synthetic patient and UIDs."""
    ds = dicom_dataset(phantom, photometric=photometric, bits=bits, modality=modality, seed=seed)
    if compress:
        ds.compress(uid.JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    atomic_write_bytes(path, buffer.getvalue())


def dicom_dataset(phantom: Phantom, *, photometric: Photometric, bits: int, modality: Modality, seed: int) -> Dataset:
    """The uncompressed data set: synthetic patient, study, pixel data and two window presets."""
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"photometric must be MONOCHROME1 or MONOCHROME2, not {photometric!r}")
    if not 12 <= bits <= 16:
        raise ValueError(f"bits must be 12..16, not {bits}")
    if modality not in SOP_CLASSES:
        raise ValueError(f"modality must be DX or CR, not {modality!r}")
    ds = Dataset()
    ds.preamble = b"\0" * 128
    _identify(ds, modality, seed)
    _describe_patient(ds, seed)
    ds.set_pixel_data(stored_values(phantom, bits, photometric), photometric, bits, generate_instance_uid=False)
    _describe_image(ds, phantom, bits, photometric)
    return ds


def _identify(ds: Dataset, modality: Modality, seed: int) -> None:
    instance, study, series = (uid.generate_uid(entropy_srcs=["camviewer-phantom", str(seed), modality, part])
                               for part in ("instance", "study", "series"))
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = uid.UID(SOP_CLASSES[modality])
    ds.file_meta.MediaStorageSOPInstanceUID = instance
    ds.SOPClassUID, ds.SOPInstanceUID = uid.UID(SOP_CLASSES[modality]), instance
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.Modality = modality
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL_NAME
    ds.InstitutionName = "SYNTHETIC DATA - NOT A PATIENT"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.AccessionNumber = f"SYN{seed:08d}"[-16:]
    ds.StudyID = f"{seed % 10000:04d}"


def _describe_patient(ds: Dataset, seed: int) -> None:
    rng = np.random.default_rng([seed, 0x5EED])
    study_date = FIRST_STUDY_DATE + dt.timedelta(days=int(rng.integers(0, 3650)))
    ds.PatientName = f"SYNTHETIC^PHANTOM-{seed:04d}"
    ds.PatientID = f"SYN-{seed:04d}"
    ds.PatientSex = "F" if rng.integers(0, 2) else "M"
    ds.PatientAge = f"{int(rng.integers(18, 90)):03d}Y"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00"
    ds.StudyDescription = STUDY_DESCRIPTION
    ds.SeriesDescription = "Chest PA (synthetic)"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.PatientOrientation = ["L", "F"]


def _describe_image(ds: Dataset, phantom: Phantom, bits: int, photometric: Photometric) -> None:
    spacing = pixel_spacing_mm(phantom.pixels.shape[0])
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.BurnedInAnnotation = "NO"
    ds.PixelSpacing = [spacing, spacing]
    if ds.Modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImagerPixelSpacing = [spacing, spacing]
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    lung = _lung_window(phantom, bits, photometric)
    full = ((1 << bits) / 2, float(1 << bits))
    ds.WindowCenter = [full[0], round(lung[0], 1)]
    ds.WindowWidth = [full[1], round(lung[1], 1)]
    ds.WindowCenterWidthExplanation = ["FULL RANGE", "LUNG"]
    ds.VOILUTFunction = "LINEAR"


def _lung_window(phantom: Phantom, bits: int, photometric: Photometric) -> tuple[float, float]:
    """A window over the 1st..99th percentile of the stored values in the lungs."""
    values = stored_values(phantom, bits, photometric)[phantom.regions.both_lungs]
    low, high = np.percentile(values, (1, 99)) if values.size else (0.0, float((1 << bits) - 1))
    return float(low + high) / 2.0, max(float(high - low), 2.0)


def write_png(path: str | Path, phantom: Phantom, bits: Literal[8, 16] = 8) -> None:
    """The display-ready pixels as an 8- or 16-bit grayscale PNG."""
    atomic_write_bytes(path, encode_png(to_bits(phantom.pixels, bits)))


def write_mask(path: str | Path, mask: np.ndarray) -> None:
    """A boolean mask as an 8-bit PNG: 255 inside, 0 outside."""
    atomic_write_bytes(path, encode_png(np.where(mask, 255, 0).astype(np.uint8)))


def xray_image(phantom: Phantom) -> XrayImage:
    """The phantom as camviewer reads its 16-bit PNG, without the file (for in-memory evaluation)."""
    values = to_bits(phantom.pixels, 16).astype(np.float32)
    full = full_range_preset(0.0, 65535.0, "Full range (16-bit)")
    auto = VoiPreset("Auto (0.5-99.5 percentile)", "auto", window=auto_window(values))
    rows, columns = values.shape
    metadata = Metadata(format="png", rows=rows, columns=columns, samples_per_pixel=1, bits_stored=16,
                        photometric_interpretation="MONOCHROME2", lossy_compression=False)
    return XrayImage(values, (0.0, 65535.0), (full, auto), 0, False, metadata)
