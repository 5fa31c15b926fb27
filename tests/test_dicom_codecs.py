"""Every supported transfer syntax: encode a generated image, decode it back with load_image."""

from __future__ import annotations

from pathlib import Path

import gdcm
import numpy as np
import pytest
from dicom_factory import gradient, make_dataset, write
from pydicom import dcmread, uid
from pydicom.datadict import tag_for_keyword

from camviewer import errors
from camviewer.io import load_image

GDCM_SYNTAXES = {
    uid.JPEGBaseline8Bit: gdcm.TransferSyntax.JPEGBaselineProcess1,
    uid.JPEGExtended12Bit: gdcm.TransferSyntax.JPEGExtendedProcess2_4,
    uid.JPEGLossless: gdcm.TransferSyntax.JPEGLosslessProcess14,
    uid.JPEGLosslessSV1: gdcm.TransferSyntax.JPEGLosslessProcess14_1,
}


def gdcm_transcode(source: Path, target: Path, syntax: str) -> Path:
    """Compress with GDCM, for the JPEG family that pydicom cannot encode."""
    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    assert reader.Read()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(GDCM_SYNTAXES[syntax]))
    change.SetInput(reader.GetImage())
    assert change.Change()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(target))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    assert writer.Write()
    return target


def encoded(tmp_path: Path, syntax: str, bits: int, **kwargs: object) -> tuple[Path, np.ndarray]:
    pixels = gradient(128, 96, bits=bits)
    ds = make_dataset(pixels=pixels, bits_stored=bits)
    if syntax in GDCM_SYNTAXES:
        native = write(ds, tmp_path / "native.dcm")
        return gdcm_transcode(native, tmp_path / "compressed.dcm", syntax), pixels
    if syntax == uid.DeflatedExplicitVRLittleEndian:
        ds.file_meta.TransferSyntaxUID = syntax
    else:
        ds.compress(syntax, **kwargs)
    return write(ds, tmp_path / "compressed.dcm"), pixels


LOSSLESS = [
    (uid.RLELossless, 16),
    (uid.RLELossless, 8),
    (uid.JPEGLSLossless, 12),
    (uid.JPEG2000Lossless, 16),
    (uid.JPEG2000Lossless, 12),
    (uid.JPEGLossless, 12),
    (uid.JPEGLosslessSV1, 16),
    (uid.JPEGLosslessSV1, 8),
    (uid.DeflatedExplicitVRLittleEndian, 16),
]


@pytest.mark.parametrize(("syntax", "bits"), LOSSLESS, ids=lambda v: str(v))
def test_lossless_syntaxes_decode_bit_exact(tmp_path: Path, syntax: str, bits: int) -> None:
    path, pixels = encoded(tmp_path, syntax, bits)
    assert dcmread(path).file_meta.TransferSyntaxUID == syntax
    image = load_image(path)
    np.testing.assert_array_equal(image.values, pixels.astype(np.float32))
    assert image.metadata.lossy_compression is False
    assert image.metadata.transfer_syntax_uid == syntax


LOSSY = [
    (uid.JPEGBaseline8Bit, 8, {}, 4),
    (uid.JPEGExtended12Bit, 8, {}, 4),
    (uid.JPEGLSNearLossless, 12, {"jls_error": 3}, 3),
    (uid.JPEG2000, 12, {"j2k_psnr": [60]}, 40),
]


@pytest.mark.parametrize(("syntax", "bits", "options", "tolerance"), LOSSY, ids=lambda v: str(v))
def test_lossy_syntaxes_decode_close_to_the_source(tmp_path: Path, syntax: str, bits: int,
                                                   options: dict, tolerance: float) -> None:
    path, pixels = encoded(tmp_path, syntax, bits, **options)
    image = load_image(path)
    assert image.values.shape == pixels.shape
    assert np.abs(image.values - pixels).max() <= tolerance
    assert image.metadata.lossy_compression is True


def test_jpeg_extended_12_bit_names_the_missing_decoder(tmp_path: Path) -> None:
    """The bundled decoders are permissively licensed; 12-bit JPEG Extended needs GPL libjpeg."""
    path, _ = encoded(tmp_path, uid.JPEGExtended12Bit, 12)
    with pytest.raises(errors.MissingDecoderError, match="JPEG Extended 12-bit"):
        load_image(path)


def test_multi_frame_opens_the_first_frame_and_says_so(tmp_path: Path) -> None:
    frames = np.stack([gradient(32, 32, seed=k) for k in range(3)])
    ds = make_dataset(pixels=frames)
    ds.compress(uid.RLELossless)
    image = load_image(write(ds, tmp_path / "multi.dcm"))
    np.testing.assert_array_equal(image.values, frames[0])
    assert "multi-frame file: showing frame 1 of 3" in image.warnings
    assert image.metadata.frames == 3


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL"])
def test_colour_dicom_opens_as_rgb(tmp_path: Path, photometric: str) -> None:
    rgb = np.stack([gradient(32, 48, bits=8, seed=k) for k in range(3)], axis=-1)
    ds = make_dataset(pixels=rgb, photometric="RGB", bits_stored=8)
    if photometric == "YBR_FULL":
        from pydicom.pixels import convert_color_space

        ds.set_pixel_data(convert_color_space(rgb, "RGB", "YBR_FULL"), "YBR_FULL", 8)
    image = load_image(write(ds, tmp_path / "rgb.dcm"))
    assert image.is_color
    assert np.abs(image.values - rgb).max() <= (0 if photometric == "RGB" else 2)
    np.testing.assert_allclose(image.display(), rgb / 255, atol=2 / 255)


def test_palette_colour_is_mapped_through_its_palette(tmp_path: Path) -> None:
    index = (np.arange(64 * 64).reshape(64, 64) % 256).astype(np.uint8)
    ds = make_dataset(pixels=index, photometric="PALETTE COLOR", bits_stored=8)
    ramp = list(range(0, 65536, 256))
    for colour, data in (("Red", ramp), ("Green", ramp[::-1]), ("Blue", [32768] * 256)):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        ds.add_new(tag_for_keyword(f"{colour}PaletteColorLookupTableData"), "OW", np.asarray(data, "<u2").tobytes())
    image = load_image(write(ds, tmp_path / "palette.dcm"))
    assert image.is_color
    np.testing.assert_array_equal(image.values[..., 0], index.astype(np.float32) * 256)
    np.testing.assert_array_equal(image.values[..., 2], 32768)


def test_real_monochrome1_jpeg2000_chest_shows_lungs_dark(sample_chest: Path) -> None:
    """A CR chest radiograph (WG04 sample RG1): MONOCHROME1, 15 bits, JPEG 2000."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    image = load_image(sample_chest)
    ds = dcmread(sample_chest)
    reference = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    expected = 1.0 - reference / (2**15 - 1)
    np.testing.assert_allclose(image.display(), expected, atol=1e-4)
    shown = image.display()
    rows, cols = shown.shape
    lungs = np.concatenate([shown[rows // 4: rows // 2, cols // 5: cols // 3].ravel(),
                            shown[rows // 4: rows // 2, 2 * cols // 3: 4 * cols // 5].ravel()])
    spine = shown[rows // 4: rows // 2, cols // 2 - 20: cols // 2 + 20]
    assert np.median(lungs) < np.median(spine) - 0.1
