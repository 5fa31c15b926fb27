"""The grayscale pipeline against slow, literal re-implementations of PS3.3 C.11 and pydicom."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import gradient, make_dataset, write
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from camviewer.io import load_image
from camviewer.io.grayscale import Lut, ModalityTransform, VoiPreset, Window, apply_voi, apply_window, auto_window


def reference_window(x: float, c: float, w: float, function: str) -> float:
    """PS3.3 C.11.2.1.2, one value at a time, ymin = 0, ymax = 1."""
    if function == "LINEAR":
        if x <= c - 0.5 - (w - 1) / 2:
            return 0.0
        if x > c - 0.5 + (w - 1) / 2:
            return 1.0
        return (x - (c - 0.5)) / (w - 1) + 0.5
    if function == "LINEAR_EXACT":
        if x <= c - w / 2:
            return 0.0
        if x > c + w / 2:
            return 1.0
        return (x - c) / w + 0.5
    exponent = -4.0 * (x - c) / w
    return 0.0 if exponent > 700 else 1.0 / (1.0 + math.exp(exponent))


def reference_lut(x: float, first: int, data: list[int]) -> int:
    """LUT Descriptor semantics: below first -> first entry, beyond the last -> last entry."""
    if x < first:
        return data[0]
    if x >= first + len(data) - 1:
        return data[-1]
    return data[int(x) - first]


VALUES = np.array([-3000, -1, 0, 1, 99, 100, 100.5, 101, 149.5, 150, 150.5, 151, 199, 200, 201, 4095, 70000], np.float64)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize(("center", "width"), [(150, 100), (150.5, 1), (2048, 4096), (-20, 3.5), (0, 1)])
def test_window_functions_match_the_standard(function: str, center: float, width: float) -> None:
    window = Window(center, width, function)  # type: ignore[arg-type]
    expected = np.array([reference_window(x, center, width, function) for x in VALUES])
    np.testing.assert_allclose(apply_window(VALUES, window), expected, atol=2e-6)


@pytest.mark.parametrize(("function", "width"), [("LINEAR", 0.5), ("LINEAR_EXACT", 0.0), ("SIGMOID", -1.0)])
def test_invalid_window_widths_are_refused(function: str, width: float) -> None:
    with pytest.raises(ValueError):
        Window(100, width, function)  # type: ignore[arg-type]


def test_lut_application_matches_the_descriptor_rules() -> None:
    data = [0, 10, 20, 40, 80, 160, 320]
    lut = Lut(first_mapped=-2, data=np.array(data), bits=9)
    x = np.array([-10, -2, -1, 0, 1, 2, 3, 4, 5, 100])
    np.testing.assert_array_equal(lut.apply(x), [reference_lut(v, -2, data) for v in x])
    preset = VoiPreset("lut", "file", lut=lut)
    np.testing.assert_allclose(apply_voi(x, preset), [reference_lut(v, -2, data) / 511 for v in x], rtol=1e-6)


def test_rescale_and_its_output_range_follow_a_negative_slope() -> None:
    """OHIF #127: RescaleSlope -10, Intercept 3000."""
    transform = ModalityTransform(slope=-10.0, intercept=3000.0)
    np.testing.assert_allclose(transform.apply(np.array([0, 1, 300])), [3000, 2990, 0])
    assert transform.output_range(0, 4095) == (3000 - 40950, 3000)


def test_auto_window_spans_the_percentiles() -> None:
    values = np.arange(10001, dtype=np.float32)
    window = auto_window(values)
    assert window.function == "LINEAR_EXACT"
    assert window.center - window.width / 2 == pytest.approx(50, abs=1)
    assert window.center + window.width / 2 == pytest.approx(9950, abs=1)


def pydicom_display(ds: Dataset) -> np.ndarray:
    """pydicom's own pipeline, normalised to [0, 1] by the VOI output range, then inverted."""
    arr = apply_modality_lut(ds.pixel_array, ds)
    voi = apply_voi_lut(arr, ds)
    if "VOILUTSequence" in ds:
        top = 2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1
        unit = voi / top
    else:
        lo, hi = 0.0, 2 ** int(ds.BitsStored) - 1  # apply_windowing's [y_min, y_max], shifted by rescale
        if "RescaleSlope" in ds:
            lo, hi = sorted((lo * float(ds.RescaleSlope) + float(ds.RescaleIntercept),
                             hi * float(ds.RescaleSlope) + float(ds.RescaleIntercept)))
        unit = (voi - lo) / (hi - lo)
    return 1.0 - unit if ds.PhotometricInterpretation == "MONOCHROME1" else unit


def voi_lut_item(first: int, entries: int, bits: int, vr: str = "US") -> Dataset:
    """A gamma-shaped VOI LUT item, its LUT Data stored as US values or OW bytes."""
    item = Dataset()
    item.add_new(0x00283002, "US", [entries, first, bits])
    data = np.rint((np.linspace(0, 1, entries) ** 0.7) * (2**bits - 1)).astype("<u2")
    item.add_new(0x00283006, vr, data.tobytes() if vr == "OW" else [int(v) for v in data])
    item.LUTExplanation = "Curve"
    return item


CASES = {
    "linear": dict(WindowCenter=30000, WindowWidth=20000),
    "linear-exact": dict(WindowCenter=30000, WindowWidth=20000, VOILUTFunction="LINEAR_EXACT"),
    "sigmoid": dict(WindowCenter=30000, WindowWidth=20000, VOILUTFunction="SIGMOID"),
    "rescaled": dict(RescaleSlope=0.5, RescaleIntercept=-1024, WindowCenter=14000, WindowWidth=8000),
    "monochrome1": dict(PhotometricInterpretation="MONOCHROME1", WindowCenter=30000, WindowWidth=20000),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_display_matches_pydicoms_pipeline(tmp_path: Path, case: str) -> None:
    path = write(make_dataset(**CASES[case]), tmp_path / "x.dcm")
    from pydicom import dcmread

    expected = pydicom_display(dcmread(path))
    np.testing.assert_allclose(load_image(path).display(), expected, atol=1e-4)


def test_negative_rescale_slope_keeps_low_modality_values_dark(tmp_path: Path) -> None:
    """OHIF #127. pydicom's apply_windowing maps 'below the window' to the rescaled y_min, which a
    negative slope makes the brightest value; the standard's VOI output rises with the input."""
    ds = make_dataset(RescaleSlope=-1, RescaleIntercept=65535, WindowCenter=30000, WindowWidth=40000)
    image = load_image(write(ds, tmp_path / "neg.dcm"))
    modality = 65535.0 - ds.pixel_array.astype(np.float64)
    expected = [reference_window(x, 30000, 40000, "LINEAR") for x in modality.ravel()]
    np.testing.assert_allclose(image.display().ravel(), expected, atol=1e-6)
    assert image.value_range == (0.0, 65535.0)


@pytest.mark.parametrize("vr", ["US", "OW"])
def test_voi_lut_sequence_is_the_default_and_matches_pydicom(tmp_path: Path, vr: str) -> None:
    ds = make_dataset(WindowCenter=30000, WindowWidth=20000)
    ds.VOILUTSequence = [voi_lut_item(first=10000, entries=4096, bits=12, vr=vr)]
    path = write(ds, tmp_path / "lut.dcm")
    image = load_image(path)
    assert image.presets[0].lut is not None and image.presets[0].name == "Curve"
    assert image.presets[1].window == Window(30000, 20000, "LINEAR")
    from pydicom import dcmread

    np.testing.assert_allclose(image.display(), pydicom_display(dcmread(path)), atol=1e-6)


def test_modality_lut_sequence_matches_pydicom(tmp_path: Path) -> None:
    ds = make_dataset(pixels=gradient(bits=12), bits_stored=12)
    del ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 16])
    item.add_new(0x00283006, "US", [int(v) for v in (np.arange(4096) ** 2 / 4095 * 16)])
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = [item]
    ds.WindowCenter, ds.WindowWidth = 30000, 50000
    path = write(ds, tmp_path / "mlut.dcm")
    from pydicom import dcmread

    reference = dcmread(path)
    image = load_image(path)
    np.testing.assert_allclose(image.values, apply_modality_lut(reference.pixel_array, reference), atol=0)
    assert image.value_range == (0.0, float(max(item.LUTData)))


def test_every_window_pair_is_a_named_preset(tmp_path: Path) -> None:
    ds = make_dataset(WindowCenter=[30000, 20000], WindowWidth=[20000, 10000],
                      WindowCenterWidthExplanation=["NORMAL", "HARDER"])
    image = load_image(write(ds, tmp_path / "two.dcm"))
    names = [p.name for p in image.presets]
    assert names[:2] == ["NORMAL", "HARDER"] and names[2].startswith("Auto") and names[3] == "Full range"
    assert image.presets[1].window == Window(20000, 10000, "LINEAR")


def test_without_a_window_the_auto_window_is_the_default(tmp_path: Path) -> None:
    image = load_image(write(make_dataset(), tmp_path / "plain.dcm"))
    assert image.presets[image.default_preset].source == "auto"


@pytest.mark.parametrize(("photometric", "shape", "inverted", "warned"), [
    ("MONOCHROME1", None, True, False),
    ("MONOCHROME1", "INVERSE", True, False),   # one inversion, not two
    ("MONOCHROME1", "IDENTITY", True, False),  # DX: identity other than to account for PI
    ("MONOCHROME2", "IDENTITY", False, False),
    ("MONOCHROME2", "INVERSE", False, True),   # conflict: PI decides, a warning says so
])
def test_polarity_is_applied_once_after_voi(tmp_path: Path, photometric: str, shape: str | None,
                                            inverted: bool, warned: bool) -> None:
    extra = {"PresentationLUTShape": shape} if shape else {}
    ds = make_dataset(photometric=photometric, WindowCenter=30000, WindowWidth=20000, **extra)
    image = load_image(write(ds, tmp_path / "p.dcm"))
    window = apply_window(image.values, Window(30000, 20000))
    np.testing.assert_allclose(image.display(), 1 - window if inverted else window, atol=1e-7)
    assert image.invert is inverted
    assert any("Presentation LUT Shape" in w for w in image.warnings) is warned


def test_full_range_covers_the_stored_bits_with_polarity(tmp_path: Path) -> None:
    pixels = gradient(bits=12)
    ds = make_dataset(pixels=pixels, bits_stored=12, photometric="MONOCHROME1")
    full = load_image(write(ds, tmp_path / "f.dcm")).full_range()
    np.testing.assert_allclose(full, 1 - pixels / 4095, atol=1e-6)
