"""Synthetic DICOM files for tests: no real patient data, small, generated on the fly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset

DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
FAKE_PHI = {"PatientName": "Doe^Jane", "PatientID": "MRN12345", "PatientSex": "F", "PatientAge": "045Y",
            "StudyDate": "20240102", "StudyDescription": "Chest PA"}


def gradient(rows: int = 64, columns: int = 64, bits: int = 16, seed: int = 0) -> np.ndarray:
    """A deterministic 'radiograph': a smooth ramp plus noise, using the full stored range."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns]
    top = (1 << bits) - 1
    ramp = (x / max(columns - 1, 1) * 0.7 + y / max(rows - 1, 1) * 0.3) * top
    noisy = ramp + rng.normal(0, top * 0.02, ramp.shape)
    dtype = np.uint8 if bits <= 8 else np.uint16
    return np.clip(np.rint(noisy), 0, top).astype(dtype)


def make_dataset(pixels: np.ndarray | None = None, photometric: str = "MONOCHROME2", bits_stored: int = 16,
                 syntax: str = uid.ExplicitVRLittleEndian, **attributes: Any) -> Dataset:
    """A DX For Presentation data set with fake PHI; ``attributes`` override or add keywords."""
    pixels = gradient(bits=bits_stored) if pixels is None else pixels
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = DX_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = uid.generate_uid()
    ds.SOPClassUID = DX_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    for keyword, value in FAKE_PHI.items():
        setattr(ds, keyword, value)
    ds.set_pixel_data(pixels, photometric, bits_stored)
    if photometric.startswith("MONOCHROME"):
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def good_dcm(path: Path, **attributes: Any) -> Path:
    """The catalogue's good.dcm: 64x64 16-bit MONOCHROME2 DX with fake PHI."""
    return write(make_dataset(**attributes), path)
