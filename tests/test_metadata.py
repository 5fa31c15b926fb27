"""The metadata summary, pixel spacing sources, the in-memory header and the anonymised variants."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dicom_factory import good_dcm, make_dataset, write
from PIL import Image
from pydicom import uid
from pydicom.dataset import Dataset

from camviewer.io import Metadata, load_image

FAKE_NAME_PARTS = ("smith", "john", "doe")


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
    ({"PixelSpacing": [0.3, 0.3], "PixelSpacingCalibrationType": "SMITH JOHN"}, (0.3, 0.3), "Pixel Spacing"),
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
    assert meta.sop_class == "Digital X-Ray Image Storage - For Presentation"
    assert meta.transfer_syntax == "Explicit VR Little Endian" and meta.transfer_syntax_uid == uid.ExplicitVRLittleEndian


def test_for_processing_images_carry_a_warning(tmp_path: Path) -> None:
    path = good_dcm(tmp_path / "raw.dcm", SOPClassUID="1.2.840.10008.5.1.4.1.1.1.1.1")
    assert any("For Processing" in w for w in load_image(path).warnings)


BASE = Metadata("dicom", 64, 64, 1, 16, "MONOCHROME2")


@pytest.mark.parametrize(("field", "value", "kept"), [
    ("modality", "DX", "DX"), ("modality", "Doe^Jane", None), ("modality", "A" * 17, None),
    ("view_position", "PA", "PA"), ("view_position", "pa", None), ("laterality", "L", "L"),
    ("photometric_interpretation", "PALETTE COLOR", "PALETTE COLOR"), ("photometric_interpretation", "MONO\x1b[2J", ""),
    ("patient_sex", "M", "M"), ("patient_sex", "SMITH", None), ("patient_age", "045Y", "045Y"),
    ("patient_age", "003W", "003W"), ("patient_age", "45", None), ("patient_age", "093Y", "090Y+"),
    ("sop_class", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7"), ("sop_class", "1.2.03", None),
    ("sop_class", "SMITH^JOHN", None), ("transfer_syntax", "JPEG 2000 Image Compression", "JPEG 2000 Image Compression"),
    ("transfer_syntax_uid", "1." + "2" * 63, None),
])
def test_anonymized_keeps_coded_fields_only_in_their_value_form(field: str, value: str, kept: str | None) -> None:
    changes: dict[str, Any] = {field: value}
    assert getattr(replace(BASE, **changes).anonymized(), field) == kept


def explained_dataset(tmp_path: Path) -> Path:
    """good.dcm whose window and LUT explanations and code strings hold a fake name."""
    lut = Dataset()
    lut.add_new(0x00283002, "US", [2, 0, 16])  # LUT Descriptor
    lut.add_new(0x00283006, "US", [0, 65535])  # LUT Data
    lut.LUTExplanation = "SMITH^JOHN"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the invalid values are the point
        ds = make_dataset(WindowCenter=[30000, 20000], WindowWidth=[20000, 10000], VOILUTSequence=[lut],
                          WindowCenterWidthExplanation=["SMITH^JOHN", "Doe lung"], ViewPosition="SMITH^JOHN",
                          ImageLaterality="john", Modality="Doe^Jane", PatientSex="SMITH", PatientAge="JOHN",
                          SOPClassUID="SMITH^JOHN")
        return write(ds, tmp_path / "explained.dcm")


def test_anonymized_image_holds_no_free_text_from_the_file(tmp_path: Path) -> None:
    image = load_image(explained_dataset(tmp_path))
    anonymous = image.anonymized()
    text = " ".join([str(anonymous.metadata.to_dict()), *(p.describe() for p in anonymous.presets), *anonymous.warnings])
    assert not any(part in text.lower() for part in FAKE_NAME_PARTS), text
    assert [p.name for p in anonymous.presets[:3]] == ["VOI LUT 1", "Window 1", "Window 2"]
    assert [p.window for p in anonymous.presets[1:3]] == [p.window for p in image.presets[1:3]]
    assert anonymous.presets[3:] == image.presets[3:]  # Auto and Full range keep their names
    assert anonymous.header is None and image.header is not None


def test_without_anonymizing_the_file_text_is_shown_as_read(tmp_path: Path) -> None:
    image = load_image(explained_dataset(tmp_path))
    assert [p.name for p in image.presets[:3]] == ["SMITH^JOHN", "SMITH^JOHN", "Doe lung"]
    meta = image.metadata
    assert (meta.view_position, meta.laterality, meta.modality) == ("SMITH^JOHN", "john", "Doe^Jane")
    assert (meta.patient_sex, meta.patient_age, meta.sop_class) == ("SMITH", "JOHN", "SMITH^JOHN")


def test_header_stays_readable_after_the_file_is_deleted(tmp_path: Path) -> None:
    """The header is in memory: no Pixel Data, no large or deferred value that would re-open the file."""
    ds = make_dataset(StudyInstanceUID="1.2.826.0.1.3680043.2.1125.1")
    ds.private_block(0x0009, "CAMVIEWER TEST", create=True).add_new(0x10, "OB", bytes(200_000))
    path = write(ds, tmp_path / "header.dcm")
    image = load_image(path)
    path.unlink()
    header = image.header
    assert header is not None
    assert header.StudyInstanceUID == "1.2.826.0.1.3680043.2.1125.1" and header.SOPInstanceUID == ds.SOPInstanceUID
    assert "PixelData" not in header and 0x00091010 not in header
    assert all(element.value is not None for element in header.iterall())
    assert header.file_meta.TransferSyntaxUID == uid.ExplicitVRLittleEndian
    assert "1.2.826.0.1.3680043.2.1125.1" not in repr(image)  # the header stays out of the repr


def test_rasters_have_no_header(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    assert load_image(path).header is None


def test_anonymised_code_strings_keep_only_defined_terms() -> None:
    """Short upper-case free text (an MRN, a name) in a code string is not a code: it is dropped."""
    from camviewer.io.image import Metadata

    hostile = Metadata("dicom", 8, 8, 1, 12, "MONOCHROME2", modality="MRN 12345678", view_position="JOHN SMITH",
                       laterality="DOE JANE").anonymized()
    assert (hostile.modality, hostile.view_position, hostile.laterality) == (None, None, None)
    plain = Metadata("dicom", 8, 8, 1, 12, "MONOCHROME1", modality="CR", view_position="PA", laterality="L").anonymized()
    assert (plain.modality, plain.view_position, plain.laterality, plain.photometric_interpretation) == ("CR", "PA", "L",
                                                                                                     "MONOCHROME1")
