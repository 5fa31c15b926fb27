"""DICOM Secondary Capture export: validity (dciodvfy), de-identification, preamble, round trip, safe writing."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import make_dataset, write
from pydicom import uid

from camviewer import errors
from camviewer.export.dicom_sc import secondary_capture, write_secondary_capture
from camviewer.io.dicom import read_dataset
from camviewer.io.write import ProtectedInputs

PHI = {
    "PatientName": "Doe^Jane",
    "PatientID": "MRN12345",
    "PatientBirthDate": "19800229",
    "AccessionNumber": "ACC998877",
    "InstitutionName": "St Example Hospital",
    "StudyDescription": "Chest PA",
    "ReferringPhysicianName": "Refer^Rachel",
    "StudyID": "STUDY4242",
}
PHI_STRINGS = ["Doe", "Jane", "MRN12345", "19800229", "ACC998877", "St Example Hospital", "Chest PA", "Refer",
               "Rachel", "STUDY4242", "PRIVATE-SECRET"]
NOW = datetime(2025, 1, 2, 3, 4, 5)
DCIODVFY = shutil.which("dciodvfy")


@pytest.fixture
def source_path(tmp_path: Path) -> Path:
    """good.dcm with every PHI attribute, a private tag and an 'MZ' preamble, in a folder named after the patient."""
    ds = make_dataset(**PHI, StudyInstanceUID=uid.generate_uid(), SeriesInstanceUID=uid.generate_uid(),
                      BodyPartExamined="CHEST", PatientOrientation=["P", "L"])
    ds.private_block(0x0011, "ACME", create=True).add_new(0x01, "LO", "PRIVATE-SECRET")
    ds.preamble = b"MZ" + bytes(126)
    folder = tmp_path / "Doe^Jane MRN12345"
    folder.mkdir()
    return write(ds, folder / "Doe_Jane_MRN12345.dcm")


@pytest.fixture
def overlay() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (64, 64, 3), dtype=np.uint8)


def export(source_path: Path, overlay: np.ndarray, name: str = "export.dcm", **options: object) -> Path:
    """Read the source header, build the SC and write it to an 'exports' folder beside the source folder."""
    folder = source_path.parent.parent / "exports"
    folder.mkdir(exist_ok=True)
    dataset = secondary_capture(read_dataset(source_path, stop_before_pixels=True), overlay, method="Grad-CAM",
                                description="camviewer Grad-CAM overlay", now=NOW, **options)
    path = folder / name
    write_secondary_capture(path, dataset, ProtectedInputs.of([source_path]))
    return path


def dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's 'Error - ...' lines (it prints to stderr: 'Warning - ...', 'Error - ...', the IOD name)."""
    result = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=30)
    return [line for line in (result.stdout + result.stderr).splitlines() if "Error" in line]


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) is not installed")
@pytest.mark.parametrize("keep_identity", [False, True])
def test_dciodvfy_reports_no_errors(source_path: Path, overlay: np.ndarray, keep_identity: bool) -> None:
    path = export(source_path, overlay, keep_identity=keep_identity)
    assert dciodvfy_errors(path) == []


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) is not installed")
def test_dciodvfy_accepts_a_minimal_source(tmp_path: Path, overlay: np.ndarray) -> None:
    """No Study UID, body part or PHI in the source: UIDs are generated, Laterality is present but empty."""
    source = make_dataset()
    del source.PatientName, source.PatientID
    path = tmp_path / "sc.dcm"
    write_secondary_capture(path, secondary_capture(source, overlay, method="LRP", description="camviewer LRP"))
    assert dciodvfy_errors(path) == []
    assert uid.UID(pydicom.dcmread(path).StudyInstanceUID).is_valid


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (Debian package dicom3tools) is not installed")
def test_non_ascii_identity_is_written_as_utf8(tmp_path: Path, overlay: np.ndarray) -> None:
    source = write(make_dataset(PatientName="Müller^Zoë", SpecificCharacterSet="ISO_IR 100"), tmp_path / "src.dcm")
    path = tmp_path / "sc.dcm"
    write_secondary_capture(path, secondary_capture(read_dataset(source, stop_before_pixels=True), overlay, method="Grad-CAM",
                                                    description="camviewer Grad-CAM overlay", keep_identity=True))
    result = pydicom.dcmread(path)
    assert result.SpecificCharacterSet == "ISO_IR 192"
    assert str(result.PatientName) == "Müller^Zoë"
    assert dciodvfy_errors(path) == []


def test_invalid_source_values_are_dropped_without_quoting_them(tmp_path: Path, overlay: np.ndarray,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """pydicom's warnings and log records about invalid values quote the value, which may be PHI."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = write(make_dataset(PatientBirthDate="Doe-1980-02-29", PatientName="Doe" * 30), tmp_path / "src.dcm")
    path = tmp_path / "sc.dcm"
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = secondary_capture(read_dataset(source, stop_before_pixels=True), overlay, method="Grad-CAM",
                                    description="camviewer Grad-CAM overlay", keep_identity=True)
        write_secondary_capture(path, dataset)
    assert [str(w.message) for w in caught] == []
    assert "Doe" not in caplog.text
    result = pydicom.dcmread(path)
    assert (result.PatientBirthDate, result.PatientName) == ("", "")
    if DCIODVFY:
        assert dciodvfy_errors(path) == []


def test_anonymised_export_contains_no_phi(source_path: Path, overlay: np.ndarray) -> None:
    source = pydicom.dcmread(source_path)
    path = export(source_path, overlay)
    data = path.read_bytes()
    leaked = [value for value in PHI_STRINGS if value.encode() in data]
    assert leaked == []
    assert source.SOPInstanceUID.encode() not in data
    assert source.StudyInstanceUID.encode() not in data
    names = [p.name for p in path.parent.iterdir()]
    assert names == ["export.dcm"]
    assert not any(value in name for value in PHI_STRINGS for name in names)


def test_anonymised_attributes_follow_the_basic_profile(source_path: Path, overlay: np.ndarray) -> None:
    source = pydicom.dcmread(source_path)
    result = pydicom.dcmread(export(source_path, overlay))
    assert str(result.PatientName) == "ANONYMOUS^"
    assert result.PatientID.startswith("ANON-") and "12345" not in result.PatientID
    for keyword in ("PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "AccessionNumber",
                    "ReferringPhysicianName", "StudyID"):
        assert keyword in result and result[keyword].value in ("", None), keyword
    for keyword in ("StudyDescription", "InstitutionName", "PatientAge"):
        assert keyword not in result, keyword
    assert not any(element.tag.is_private for element in result.iterall())
    assert result.PatientIdentityRemoved == "YES"
    assert "camviewer" in result.DeidentificationMethod
    assert result.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    reference = result.SourceImageSequence[0]
    assert reference.ReferencedSOPClassUID == source.SOPClassUID
    assert reference.ReferencedSOPInstanceUID == uid.generate_uid(entropy_srcs=[source.SOPInstanceUID])
    assert result.StudyInstanceUID == uid.generate_uid(entropy_srcs=[source.StudyInstanceUID])


def test_keep_identity_copies_patient_and_study(source_path: Path, overlay: np.ndarray) -> None:
    source = pydicom.dcmread(source_path)
    result = pydicom.dcmread(export(source_path, overlay, keep_identity=True))
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
                    "StudyDescription", "ReferringPhysicianName", "StudyID", "StudyDate", "StudyInstanceUID"):
        assert result[keyword].value == source[keyword].value, keyword
    assert result.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert result.PatientIdentityRemoved == "NO"
    assert "DeidentificationMethod" not in result
    assert "InstitutionName" not in result
    assert not any(element.tag.is_private for element in result.iterall())


def test_preamble_is_zeroed_even_for_an_mz_source(source_path: Path, overlay: np.ndarray) -> None:
    assert source_path.read_bytes()[:2] == b"MZ"
    data = export(source_path, overlay).read_bytes()
    assert data[:128] == bytes(128)
    assert data[128:132] == b"DICM"


def test_round_trip(source_path: Path, overlay: np.ndarray) -> None:
    source = pydicom.dcmread(source_path)
    result = pydicom.dcmread(export(source_path, overlay))
    np.testing.assert_array_equal(result.pixel_array, overlay)
    assert result.file_meta.TransferSyntaxUID == uid.ExplicitVRLittleEndian
    assert result.SOPClassUID == uid.SecondaryCaptureImageStorage
    assert result.file_meta.MediaStorageSOPInstanceUID == result.SOPInstanceUID
    assert (result.PhotometricInterpretation, result.SamplesPerPixel, result.PlanarConfiguration) == ("RGB", 3, 0)
    assert (result.BitsAllocated, result.BitsStored, result.HighBit, result.PixelRepresentation) == (8, 8, 7, 0)
    assert list(result.ImageType) == ["DERIVED", "SECONDARY"]
    assert (result.Modality, result.ConversionType) == ("OT", "WSD")
    assert (result.BurnedInAnnotation, result.LossyImageCompression) == ("YES", "00")
    assert result.SeriesDescription == "camviewer Grad-CAM overlay"
    assert "camviewer" in result.DerivationDescription and "Grad-CAM" in result.DerivationDescription
    assert (result.Manufacturer, result.ContentDate, result.ContentTime) == ("camviewer", "20250102", "030405")
    for value in (result.SOPInstanceUID, result.SeriesInstanceUID, result.StudyInstanceUID):
        assert uid.UID(value).is_valid
        assert value not in (source.SOPInstanceUID, source.SeriesInstanceUID, source.StudyInstanceUID)


def test_exports_of_one_study_share_the_replaced_study_uid(source_path: Path, overlay: np.ndarray) -> None:
    first = pydicom.dcmread(export(source_path, overlay, name="a.dcm"))
    second = pydicom.dcmread(export(source_path, overlay, name="b.dcm"))
    assert first.StudyInstanceUID == second.StudyInstanceUID
    assert first.PatientID == second.PatientID
    assert first.SeriesInstanceUID != second.SeriesInstanceUID
    assert first.SOPInstanceUID != second.SOPInstanceUID


def test_lossy_source_stays_marked_lossy(overlay: np.ndarray) -> None:
    result = secondary_capture(make_dataset(LossyImageCompression="01"), overlay, method="Grad-CAM", description="x")
    assert result.LossyImageCompression == "01"


@pytest.mark.parametrize("bad", [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 3), np.float32),
                                 np.zeros((0, 0, 3), np.uint8), np.zeros((70000, 1, 3), np.uint8)])
def test_overlay_must_be_a_uint8_rgb_picture(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="overlay"):
        secondary_capture(make_dataset(), bad, method="Grad-CAM", description="x")


def test_refuses_to_overwrite_an_input(source_path: Path, overlay: np.ndarray) -> None:
    before = source_path.read_bytes()
    dataset = secondary_capture(read_dataset(source_path, stop_before_pixels=True), overlay, method="Grad-CAM", description="x")
    with pytest.raises(errors.OutputError):
        write_secondary_capture(source_path, dataset, ProtectedInputs.of([source_path]))
    assert source_path.read_bytes() == before
    assert [p.name for p in source_path.parent.iterdir()] == [source_path.name]


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, overlay: np.ndarray,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("camviewer.io.write.os.replace", fail)
    dataset = secondary_capture(make_dataset(), overlay, method="Grad-CAM", description="x")
    with pytest.raises(errors.OutputError, match="disk full"):
        write_secondary_capture(tmp_path / "sc.dcm", dataset)
    assert list(tmp_path.iterdir()) == []


def test_the_header_read_refuses_non_dicom(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not a dicom file" * 20)
    with pytest.raises(errors.NotDicomError):
        read_dataset(path, stop_before_pixels=True)


def test_the_header_read_skips_pixels(source_path: Path) -> None:
    header = read_dataset(source_path, stop_before_pixels=True)
    assert "PixelData" not in header
    assert header.Rows == 64


def test_odd_sized_pixel_data_is_padded_to_an_even_length(tmp_path: Path) -> None:
    """3 x 3 RGB is 27 bytes: written as 28, the pad a zero byte, and read back unchanged."""
    overlay = np.random.default_rng(1).integers(0, 256, (3, 3, 3), dtype=np.uint8)
    source = make_dataset(pixels=np.zeros((3, 3), np.uint16))
    path = tmp_path / "odd.dcm"
    write_secondary_capture(path, secondary_capture(source, overlay, method="Grad-CAM", description="x"))
    result = pydicom.dcmread(path)
    assert len(result.PixelData) == 28 and result.PixelData[-1:] == b"\x00"
    np.testing.assert_array_equal(result.pixel_array, overlay)
    if DCIODVFY:
        assert dciodvfy_errors(path) == []


def test_a_data_set_can_be_written_twice(tmp_path: Path, overlay: np.ndarray) -> None:
    """The Pixel Data stream is re-read from its start for every write."""
    dataset = secondary_capture(make_dataset(), overlay, method="Grad-CAM", description="x")
    write_secondary_capture(tmp_path / "a.dcm", dataset)
    write_secondary_capture(tmp_path / "b.dcm", dataset)
    for name in ("a.dcm", "b.dcm"):
        np.testing.assert_array_equal(pydicom.dcmread(tmp_path / name).pixel_array, overlay)


@pytest.mark.parametrize("keep_identity", [False, True])
def test_the_exported_capture_joins_the_source_study_only_when_asked(source_path: Path, model_card: Path, tmp_path: Path,
                                                                     keep_identity: bool) -> None:
    from camviewer.cli import main

    out = tmp_path / "out"
    args = ["explain", str(source_path), "--model", str(model_card), "--out", str(out), "--export", "dicom"]
    assert main(args + (["--keep-identity"] if keep_identity else [])) == 0
    (capture,) = out.glob("*__annotated.dcm")
    source, sc = pydicom.dcmread(source_path), pydicom.dcmread(capture)
    same = (sc.StudyInstanceUID == source.StudyInstanceUID, sc.PatientID == source.PatientID)
    assert same == ((True, True) if keep_identity else (False, False))
    assert sc.SeriesInstanceUID != source.SeriesInstanceUID and sc.PatientIdentityRemoved == ("NO" if keep_identity else "YES")
    if DCIODVFY:
        assert dciodvfy_errors(capture) == []


@pytest.mark.parametrize("keep_identity", [False, True])
def test_anatomy_is_copied_only_as_codes_when_de_identified(overlay: np.ndarray, keep_identity: bool) -> None:
    source = make_dataset(BodyPartExamined="JOHN SMITH", Laterality="SMITH", PatientOrientation=["JANE", "DOE"])
    ds = secondary_capture(source, overlay, method="Grad-CAM", description="x", keep_identity=keep_identity)
    copied = (ds.BodyPartExamined if "BodyPartExamined" in ds else "", ds.Laterality, list(ds.PatientOrientation or []))
    assert copied == (("JOHN SMITH", "SMITH", ["JANE", "DOE"]) if keep_identity else ("", "", []))
    coded = secondary_capture(make_dataset(BodyPartExamined="KNEE", Laterality="L", PatientOrientation=["A", "F"]), overlay,
                              method="Grad-CAM", description="x")
    assert (coded.BodyPartExamined, coded.Laterality, list(coded.PatientOrientation)) == ("KNEE", "L", ["A", "F"])
