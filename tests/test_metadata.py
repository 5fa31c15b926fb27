"""The metadata summary, pixel spacing sources and the anonymised variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from camviewer.io import load_image
from dicom_factory import good_dcm


def test_summary_holds_the_viewer_fields(tmp_path: Path) -> None:
    path = good_dcm(tmp_path / "g.dcm", ViewPosition="PA", ImageLaterality="L", PixelSpacing=[0.139, 0.14])
    meta = load_image(path).metadata
    assert (meta.patient_name, meta.patient_id, meta.patient_sex, meta.patient_age) == ("Doe^Jane", "MRN12345", "F", "045Y")
    assert (meta.study_date, meta.study_description, meta.modality) == ("2024-01-02", "Chest PA", "DX")
    assert (meta.view_position, meta.laterality) == ("PA", "L")
    assert meta.pixel_spacing_mm == (0.139, 0.14) and meta.pixel_spacing_source == "Pixel Spacing"
    assert (meta.rows, meta.columns, meta.bits_stored, meta.photometric_interpretation) == (64, 64, 16, "MONOCHROME2")
    assert meta.transfer_syntax == "Explicit VR Little Endian" and meta.lossy_compression is False
    assert meta.sop_class == "Digital X-Ray Image Storage - For Presentation"


@pytest.mark.parametrize(("attributes", "spacing", "source"), [
    ({"ImagerPixelSpacing": [0.2, 0.2]}, (0.2, 0.2), "Imager Pixel Spacing (at detector)"),
    ({"ImagerPixelSpacing": [0.2, 0.2], "EstimatedRadiographicMagnificationFactor": 1.25}, (0.16, 0.16),
     "Imager Pixel Spacing / magnification factor (estimated at patient)"),
    ({"NominalScannedPixelSpacing": [0.1, 0.1]}, (0.1, 0.1), "Nominal Scanned Pixel Spacing"),
    ({"PixelSpacing": [0.3, 0.3], "ImagerPixelSpacing": [0.2, 0.2], "PixelSpacingCalibrationType": "GEOMETRY"},
     (0.3, 0.3), "Pixel Spacing (geometry)"),
    ({}, None, None),
])
def test_pixel_spacing_follows_the_priority_order(tmp_path: Path, attributes: dict, spacing: tuple | None,
                                                  source: str | None) -> None:
    meta = load_image(good_dcm(tmp_path / "s.dcm", **attributes)).metadata
    assert meta.pixel_spacing_mm == (pytest.approx(spacing) if spacing else None)
    assert meta.pixel_spacing_source == source


def test_anonymized_drops_identifying_fields(tmp_path: Path) -> None:
    meta = load_image(good_dcm(tmp_path / "a.dcm", PatientAge="093Y")).metadata.anonymized()
    text = str(meta.to_dict())
    for secret in ("Doe", "MRN12345", "2024", "Chest PA"):
        assert secret not in text
    assert meta.patient_age == "090Y+" and meta.patient_sex == "F" and meta.modality == "DX"


def test_for_processing_images_carry_a_warning(tmp_path: Path) -> None:
    path = good_dcm(tmp_path / "raw.dcm", SOPClassUID="1.2.840.10008.5.1.4.1.1.1.1.1")
    assert any("For Processing" in w for w in load_image(path).warnings)
