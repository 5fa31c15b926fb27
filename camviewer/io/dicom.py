"""DICOM Part 10 input: the strict read, pixel attribute checks, first-frame decoding, grayscale set-up.

Nothing large is allocated before it is checked: :func:`read_dataset` (``dicom_read``) checks
the file up to a whole data set with large values deferred; then the pixel attributes and
the header size gate; then only the first frame is decoded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom import uid
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, get_decoder, pixel_array

from camviewer import errors
from camviewer.geometry import row_bands
from camviewer.io import dicom_attributes as attrs
from camviewer.io.dicom_read import (
    DEFLATED_SYNTAXES,
    PIXEL_DATA_TAGS,
    UNDEFINED_LENGTH,
    is_dicom_file,
    note_for,
    read_part10,
)
from camviewer.io.grayscale import VoiPreset, auto_window, full_range_preset, maps_like
from camviewer.io.image import XrayImage
from camviewer.io.limits import DEFAULT_LIMITS, Limits

__all__ = ["is_dicom_file", "load_dicom", "read_dataset"]

DEFER_BYTES = 64 * 1024
COLOR_INTERPRETATIONS = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"}
GRAY_INTERPRETATIONS = {"MONOCHROME1", "MONOCHROME2"}
NATIVE_SYNTAXES = {uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian}
# GDCM aborts the process on some corrupt JPEG 2000 streams and prints libjpeg chatter to stderr,
# so it is used only where no other permissively licensed decoder exists (JPEG Lossless).
PREFERRED_PLUGINS = {
    uid.JPEG2000Lossless: ("pylibjpeg",),
    uid.JPEG2000: ("pylibjpeg",),
    uid.HTJ2KLossless: ("pylibjpeg",),
    uid.HTJ2KLosslessRPCL: ("pylibjpeg",),
    uid.HTJ2K: ("pylibjpeg",),
    uid.JPEGLSLossless: ("pyjpegls", "pylibjpeg"),
    uid.JPEGLSNearLossless: ("pyjpegls", "pylibjpeg"),
    uid.JPEGBaseline8Bit: ("pylibjpeg", "pillow"),
    uid.JPEGExtended12Bit: ("pylibjpeg", "pillow"),
    uid.JPEGLossless: ("pylibjpeg", "gdcm"),
    uid.JPEGLosslessSV1: ("pylibjpeg", "gdcm"),
    uid.RLELossless: ("pylibjpeg", "pydicom"),
}


@dataclass(frozen=True)
class PixelAttributes:
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str
    frames: int


def read_dataset(path: str | Path, *, stop_before_pixels: bool = False, defer_size: int | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> Dataset:
    """A DICOM Part 10 file's data set, read strictly (never forced); every failure an InputError.

    The one read wrapper: the file must be a regular file with the 'DICM' prefix, whole
    file meta and a transfer syntax; a deflated body must inflate within ``limits``; the
    data set must not end inside an element or sequence. pydicom's warnings are swallowed
    (they can quote values). ``defer_size`` leaves larger values on disk until accessed.
    """
    return read_part10(Path(path), limits, stop_before_pixels=stop_before_pixels, defer_size=defer_size).dataset


def load_dicom(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> XrayImage:
    """Read the first frame of a DICOM file into an :class:`XrayImage`; raise InputError.

    Library warnings never escape: each becomes a fixed note on the image.
    """
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = _load(path, limits)
    notes = {note_for(str(w.message)) for w in caught} - {"truncated"}
    return replace(image, warnings=tuple(sorted(set(image.warnings) | notes)))


def _load(path: Path, limits: Limits) -> XrayImage:
    read = read_part10(path, limits, defer_size=DEFER_BYTES)
    ds = read.dataset
    _check_pixel_data(ds, path)
    pixels = _pixel_attributes(ds, path)
    refusal = limits.check_dimensions(pixels.rows, pixels.columns, pixels.samples, pixels.bits_allocated, pixels.frames)
    if refusal:
        raise errors.ImageTooLargeError(f"image dimensions exceed limit: {refusal}", path)
    _check_decoder(read.syntax, pixels, path)
    return _build_image(ds, read.syntax, pixels, _decode_first_frame(ds, pixels, path), set(read.notes), path)


def _check_pixel_data(ds: Dataset, path: Path) -> None:
    if any(tag in ds for tag in PIXEL_DATA_TAGS):
        return
    if "Rows" not in ds and attrs.is_image_storage(ds):
        raise errors.CorruptFileError("DICOM image attributes and pixel data missing", path)
    raise errors.NoImageDataError("the DICOM object has no pixel data (e.g. a report or presentation state)", path)


def _pixel_attributes(ds: Dataset, path: Path) -> PixelAttributes:
    try:
        pixels = PixelAttributes(
            rows=int(ds.Rows),
            columns=int(ds.Columns),
            samples=int(ds.get("SamplesPerPixel", 1)),
            bits_allocated=int(ds.BitsAllocated),
            bits_stored=int(ds.get("BitsStored", ds.BitsAllocated)),
            signed=int(ds.get("PixelRepresentation", 0)) == 1,
            photometric=str(ds.PhotometricInterpretation).strip().upper(),
            frames=int(ds.get("NumberOfFrames", 1) or 1),
        )
    except Exception as exc:  # lazy value conversion raises many types
        raise errors.InvalidImageAttributesError("missing or unreadable pixel attributes", path) from exc
    problem = _attribute_problem(pixels)
    if problem:
        raise errors.InvalidImageAttributesError(problem, path)
    return pixels


def _attribute_problem(p: PixelAttributes) -> str | None:
    if not (1 <= p.rows <= 65535 and 1 <= p.columns <= 65535):
        return f"rows and columns must be 1..65535, not {p.rows} x {p.columns}"
    if p.frames < 1:
        return "number of frames must be at least 1"
    if p.bits_allocated not in (1, 8, 16, 32, 64):
        return f"bits allocated {p.bits_allocated} is not 1, 8, 16, 32 or 64"
    if not 1 <= p.bits_stored <= p.bits_allocated:
        return f"bits stored {p.bits_stored} does not fit bits allocated {p.bits_allocated}"
    expected_samples = 3 if p.photometric in COLOR_INTERPRETATIONS else 1
    if not p.photometric:
        return "photometric interpretation missing"
    if p.photometric not in COLOR_INTERPRETATIONS | GRAY_INTERPRETATIONS | {"PALETTE COLOR"}:
        return "photometric interpretation not supported"  # the value is not shown: it is file text
    if p.samples != expected_samples:
        return f"{p.samples} samples per pixel do not match {p.photometric}"
    return None


def _check_decoder(syntax: uid.UID, pixels: PixelAttributes, path: Path) -> None:
    if syntax in NATIVE_SYNTAXES | DEFLATED_SYNTAXES:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError as exc:
        raise errors.UnsupportedSyntaxError(_syntax_label(syntax), path) from exc
    if not decoder.is_available:
        raise errors.MissingDecoderError(_syntax_label(syntax), path)
    if syntax == uid.JPEGExtended12Bit and pixels.bits_stored > 8 and "pylibjpeg" not in decoder.available_plugins:
        raise errors.MissingDecoderError("JPEG Extended 12-bit needs pylibjpeg-libjpeg (GPL-3.0, not bundled)", path)


def _plugin_for(syntax: uid.UID) -> str:
    """The first available preferred decoder, or "" to let pydicom try all of them."""
    if syntax in NATIVE_SYNTAXES | DEFLATED_SYNTAXES:
        return ""
    available = get_decoder(syntax).available_plugins
    return next((name for name in PREFERRED_PLUGINS.get(syntax, ()) if name in available), "")


def _syntax_label(syntax: uid.UID) -> str:
    """A registered syntax by name, another UID only in valid UID form (never free text)."""
    if syntax.is_transfer_syntax:
        return syntax.name
    return f"UID {syntax}" if syntax.is_valid else "transfer syntax UID is not a valid UID"


def _decode_first_frame(ds: Dataset, pixels: PixelAttributes, path: Path) -> np.ndarray:
    try:
        frame = pixel_array(ds, index=0, decoding_plugin=_plugin_for(ds.file_meta.TransferSyntaxUID))
        if pixels.photometric == "PALETTE COLOR":
            frame = apply_color_lut(frame, ds)
    except MemoryError as exc:
        raise errors.ImageTooLargeError("not enough memory to decode the image", path) from exc
    except NotImplementedError as exc:
        raise errors.UnsupportedSyntaxError(_syntax_label(ds.file_meta.TransferSyntaxUID), path) from exc
    except RuntimeError as exc:
        if "missing dependencies" in str(exc):
            raise errors.MissingDecoderError(_syntax_label(ds.file_meta.TransferSyntaxUID), path) from exc
        raise errors.DecodeError(_syntax_label(ds.file_meta.TransferSyntaxUID), path) from exc
    except ValueError as exc:
        if "less than expected" in str(exc) or "number of bytes" in str(exc):
            raise errors.CorruptFileError("DICOM pixel data length does not match the image size", path) from exc
        raise errors.DecodeError(_syntax_label(ds.file_meta.TransferSyntaxUID), path) from exc
    except Exception as exc:  # a decoder plugin may raise anything
        raise errors.DecodeError(_syntax_label(ds.file_meta.TransferSyntaxUID), path) from exc
    if frame.shape[:2] != (pixels.rows, pixels.columns):
        raise errors.DecodeError("decoded size differs from the header", path)
    for tag in PIXEL_DATA_TAGS:  # the encoded bytes are not needed again: free them before the float copy
        ds.pop(tag, None)
    return frame


def _build_image(ds: Dataset, syntax: uid.UID, pixels: PixelAttributes, frame: np.ndarray, notes: set[str],
                 path: Path) -> XrayImage:
    notes = set(notes)
    if pixels.frames > 1:
        notes.add(f"multi-frame file: showing frame 1 of {pixels.frames}")
    if attrs.is_for_processing(ds):
        notes.add("For Processing image: raw detector data, not meant for display or for models trained on presentation images")
    values, value_range, modality_notes = _modality_values(ds, pixels, frame)
    del frame  # this call holds the only reference: the decoded frame goes before the next full-size step
    notes |= modality_notes
    values, finite_notes = _finite(values, path)
    notes |= finite_notes
    presets, default, voi_notes = _presets(ds, values, value_range, gray=values.ndim == 2)
    notes |= voi_notes
    invert, polarity_notes = attrs.polarity(ds, pixels.photometric)
    notes |= polarity_notes | attrs.spacing_notes(ds)
    metadata = attrs.metadata(ds, ds.file_meta, syntax, pixels.rows, pixels.columns, pixels.samples, pixels.bits_stored,
                              pixels.photometric, pixels.frames)
    return XrayImage(values, value_range, presets, default, invert, metadata, tuple(sorted(notes)), header=_header(ds))


def _header(ds: Dataset) -> Dataset:
    """``ds`` and its file meta without Pixel Data and without any value left on disk or large.

    What stays is in memory, so reading it never re-opens the (possibly deleted) file.
    """
    elements = {tag: ds.get_item(tag, keep_deferred=True) for tag in list(ds.keys())}
    header = Dataset({tag: e for tag, e in elements.items() if int(tag) not in PIXEL_DATA_TAGS and not _large(e)})
    header.file_meta = ds.file_meta
    implicit_vr, little_endian = ds.original_encoding
    header.set_original_encoding(implicit_vr, little_endian, ds.original_character_set)
    return header


def _large(element: object) -> bool:
    """A value still in encoded form that was deferred or is longer than the deferral size."""
    if not isinstance(element, RawDataElement):
        return False
    deferred = element.value is None and element.length != 0
    return deferred or (element.length != UNDEFINED_LENGTH and element.length > DEFER_BYTES)


def _modality_values(ds: Dataset, pixels: PixelAttributes, frame: np.ndarray) -> tuple[np.ndarray, tuple[float, float], set[str]]:
    if frame.dtype.kind == "f":
        finite = frame[np.isfinite(frame)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        return frame.astype(np.float32), (lo, hi), set()
    if pixels.photometric == "PALETTE COLOR":
        top = float(np.iinfo(frame.dtype).max) if frame.max() > 255 else 255.0
        return frame.astype(np.float32), (0.0, top), set()
    stored_lo, stored_hi = _stored_range(pixels)
    if pixels.photometric in COLOR_INTERPRETATIONS:
        return frame.astype(np.float32), (stored_lo, stored_hi), set()
    transform, notes = attrs.modality_transform(ds, pixels.signed)
    return transform.apply(frame), transform.output_range(stored_lo, stored_hi), notes


def _stored_range(pixels: PixelAttributes) -> tuple[float, float]:
    if pixels.signed:
        half = 1 << (pixels.bits_stored - 1)
        return float(-half), float(half - 1)
    return 0.0, float((1 << pixels.bits_stored) - 1)


def _finite(values: np.ndarray, path: Path) -> tuple[np.ndarray, set[str]]:
    if all(np.isfinite(values[rows]).all() for rows in row_bands(values.shape)):
        return values, set()
    finite = np.isfinite(values)
    if not finite.any():
        raise errors.NoFinitePixelsError("", path)
    cleaned = np.where(finite, values, values[finite].min()).astype(np.float32)
    return cleaned, {"non-finite pixel values replaced by the image minimum"}


def _presets(
    ds: Dataset, values: np.ndarray, value_range: tuple[float, float], gray: bool
) -> tuple[tuple[VoiPreset, ...], int, set[str]]:
    """File VOI LUTs, file windows, Auto, Full range; the first is the default.

    Colour images have no VOI: they show their full range by default. The built-in Full range is left
    out when a file window already maps the whole range the same way (listed once, not twice).
    """
    auto = VoiPreset("Auto (0.5-99.5 percentile)", "auto", window=auto_window(values))
    full = full_range_preset(*value_range)
    if not gray:
        return (full, auto), 0, set()
    file_presets, notes = attrs.file_voi_presets(ds)
    covered = any(p.window is not None and maps_like(p.window, full.window, value_range) for p in file_presets)
    return (*file_presets, auto, *(() if covered else (full,))), 0, notes

