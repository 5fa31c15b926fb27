"""DICOM Part 10 input: size gates, validation, first-frame decoding, grayscale set-up.

Reading happens in phases so that nothing large is allocated before it is checked:
magic and file size -> file meta and transfer syntax -> bounded inflate (deflated only)
-> dataset with large values deferred -> element extents and pixel attributes ->
header size gate -> decode of the first frame only.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.pixels import apply_color_lut, get_decoder, pixel_array

from camviewer import errors
from camviewer.io import dicom_attributes as attrs
from camviewer.io.grayscale import VoiPreset, auto_window, range_window
from camviewer.io.image import XrayImage
from camviewer.io.limits import DEFAULT_LIMITS, Limits

DEFER_BYTES = 64 * 1024
PREAMBLE_AND_MAGIC = 132
META_LENGTH_ELEMENT = 12  # (0002,0000) UL: tag, VR, length and its 4-byte value
PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
UNDEFINED_LENGTH = 0xFFFFFFFF
COLOR_INTERPRETATIONS = {"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"}
GRAY_INTERPRETATIONS = {"MONOCHROME1", "MONOCHROME2"}
NATIVE_SYNTAXES = {uid.ImplicitVRLittleEndian, uid.ExplicitVRLittleEndian, uid.ExplicitVRBigEndian}
DEFLATED_SYNTAXES = {uid.DeflatedExplicitVRLittleEndian}
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


def is_dicom_file(head: bytes) -> bool:
    """True when the first 132 bytes carry the Part 10 'DICM' prefix."""
    return head[128:132] == b"DICM"


def load_dicom(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> XrayImage:
    """Read the first frame of a DICOM file into an :class:`XrayImage`; raise InputError.

    Library warnings never escape: each becomes a fixed note on the image.
    """
    path = Path(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = _load(path, limits)
    notes = {_note_for(str(w.message)) for w in caught} - {"truncated"}
    return replace(image, warnings=tuple(sorted(set(image.warnings) | notes)))


def _load(path: Path, limits: Limits) -> XrayImage:
    size = _checked_size(path)
    _check_magic(path, size)
    if size > limits.max_file_bytes:
        raise errors.ImageTooLargeError(f"file of {size} bytes exceeds the file-size limit", path)
    meta, body_offset = _read_meta(path, size)
    syntax = _transfer_syntax(meta, path, size)
    if syntax in DEFLATED_SYNTAXES:
        _check_inflated_size(path, body_offset, limits)
    ds, notes = _read_dataset(path, deferred=syntax not in DEFLATED_SYNTAXES)
    _check_consistent_encoding(ds, path)
    overflow = [] if syntax in DEFLATED_SYNTAXES else _elements_past_end(ds, size)
    pixel_tag = _pixel_tag(ds, path, truncated=bool(overflow) or "truncated" in notes)
    if overflow:
        _raise_for_overflow(overflow, pixel_tag, path)
    pixels = _pixel_attributes(ds, path)
    refusal = limits.check_dimensions(pixels.rows, pixels.columns, pixels.samples, pixels.bits_allocated, pixels.frames)
    if refusal:
        raise errors.ImageTooLargeError(f"image dimensions exceed limit: {refusal}", path)
    _check_decoder(syntax, pixels, path)
    frame = _decode_first_frame(ds, pixels, path)
    return _build_image(ds, meta, syntax, pixels, frame, notes, path)


def _checked_size(path: Path) -> int:
    try:
        if not path.is_file():
            raise errors.FileMissingError("", path)
        return path.stat().st_size
    except OSError as exc:
        raise errors.FileMissingError("", path) from exc


def _check_magic(path: Path, size: int) -> None:
    if size == 0:
        raise errors.NotDicomError("empty file", path)
    with path.open("rb") as fp:
        head = fp.read(PREAMBLE_AND_MAGIC)
    if is_dicom_file(head):
        return
    if head[:2] in (b"\x08\x00", b"\x02\x00") and head[2:4] in (b"\x00\x00", b"\x05\x00", b"\x08\x00", b"\x16\x00"):
        raise errors.NotDicomError("not a DICOM Part 10 file (no preamble and file meta header)", path)
    raise errors.NotDicomError("", path)


def _read_meta(path: Path, size: int) -> tuple[FileMetaDataset, int]:
    try:
        with path.open("rb") as fp:
            read_preamble(fp, False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                meta = _read_file_meta_info(fp)
            return meta, fp.tell()
    except (EOFError, OSError, ValueError, KeyError, TypeError, InvalidDicomError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, EOFError) and "No tag" not in str(exc):
            raise errors.FileMissingError("", path) from exc
        raise errors.TruncatedFileError("DICOM file meta information incomplete", path) from exc
    except Exception as exc:  # pydicom has no common base class for parse errors
        raise errors.CorruptFileError("DICOM file meta information unreadable", path) from exc


def _transfer_syntax(meta: FileMetaDataset, path: Path, size: int) -> uid.UID:
    syntax = meta.get("TransferSyntaxUID")
    if syntax:
        return uid.UID(str(syntax))
    declared = meta.get("FileMetaInformationGroupLength")
    meta_end = PREAMBLE_AND_MAGIC + META_LENGTH_ELEMENT + int(declared) if isinstance(declared, int) else None
    if size == PREAMBLE_AND_MAGIC or (meta_end is not None and meta_end > size):
        raise errors.TruncatedFileError("DICOM file ends inside its file meta information", path)
    raise errors.CorruptFileError("DICOM file meta information has no transfer syntax", path)


def _check_inflated_size(path: Path, offset: int, limits: Limits) -> None:
    """Inflate a deflated body in bounded steps without keeping it, refusing bombs.

    The limit is ``max_inflated_bytes``, or ``max_inflate_ratio`` times the compressed size
    when that is smaller (image data deflates a few times; a bomb a thousand times).
    """
    compressed = max(1, path.stat().st_size - offset)
    budget = min(limits.max_inflated_bytes, max(limits.inflate_ratio_allowance, compressed * limits.max_inflate_ratio))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    try:
        with path.open("rb") as fp:
            fp.seek(offset)
            while chunk := fp.read(1 << 20):
                pending = chunk
                while pending:
                    produced += len(inflater.decompress(pending, 1 << 20))
                    pending = inflater.unconsumed_tail
                    if produced > budget:
                        raise errors.DecompressionBombError(f"deflated DICOM expands beyond {budget >> 20} MiB", path)
    except zlib.error as exc:
        raise errors.CorruptFileError("deflated DICOM data is corrupt", path) from exc
    if not inflater.eof:
        raise errors.CorruptFileError("deflated DICOM data is incomplete", path)


def _read_dataset(path: Path, deferred: bool) -> tuple[Dataset, set[str]]:
    """dcmread (never forced) with warnings turned into notes; parse failures classified."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path, defer_size=DEFER_BYTES if deferred else None)
    except RecursionError as exc:
        raise errors.CorruptFileError("DICOM nesting too deep", path) from exc
    except MemoryError as exc:
        raise errors.CorruptFileError("DICOM element length exceeds file", path) from exc
    except InvalidDicomError as exc:
        raise errors.NotDicomError("", path) from exc
    except (EOFError, OSError) as exc:
        raise errors.TruncatedFileError("DICOM file ends inside an element", path) from exc
    except Exception as exc:  # pydicom has no common base class for parse errors
        raise errors.CorruptFileError("DICOM data set unreadable", path) from exc
    return ds, {_note_for(str(w.message)) for w in caught}


def _note_for(message: str) -> str:
    """Reduce a pydicom warning to a fixed note, so no file content reaches the user."""
    lowered = message.lower()
    if "end of file" in lowered or "no tag to read" in lowered:
        return "truncated"
    if "encoding" in lowered or "character set" in lowered:
        return "text encoding unknown; names may show replacement characters"
    if "explicit vr" in lowered or "implicit vr" in lowered:
        return "VR encoding differs from the declared transfer syntax"
    if "padding" in lowered:
        return "pixel data has excess padding (ignored)"
    return "the file has minor encoding errors"


def _check_consistent_encoding(ds: Dataset, path: Path) -> None:
    """An explicit-VR element without a VR means pydicom met invalid VR bytes and guessed on."""
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        if getattr(raw, "is_implicit_VR", True) is False and getattr(raw, "VR", "") is None:
            raise errors.CorruptFileError("DICOM data elements are malformed", path)


def _elements_past_end(ds: Dataset, size: int) -> list[int]:
    """Tags of top-level elements whose declared value runs past the end of the file."""
    past = []
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)
        tell, length = getattr(raw, "value_tell", None), getattr(raw, "length", None)
        if tell is None or length is None or length == UNDEFINED_LENGTH:
            continue
        if tell + length > size:
            past.append(int(tag))
    return past


def _pixel_tag(ds: Dataset, path: Path, truncated: bool) -> int:
    for tag in PIXEL_DATA_TAGS:
        if tag in ds:
            return tag
    if truncated:
        raise errors.TruncatedFileError("DICOM file ends before its image data", path)
    if "Rows" not in ds and attrs.is_image_storage(ds):
        raise errors.CorruptFileError("DICOM image attributes and pixel data missing", path)
    raise errors.NoImageDataError("the DICOM object has no pixel data (e.g. a report or presentation state)", path)


def _raise_for_overflow(overflow: list[int], pixel_tag: int, path: Path) -> None:
    if pixel_tag in overflow:
        raise errors.TruncatedFileError("DICOM pixel data incomplete", path)
    raise errors.CorruptFileError("DICOM element length exceeds file", path)


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
    if p.photometric not in COLOR_INTERPRETATIONS | GRAY_INTERPRETATIONS | {"PALETTE COLOR"}:
        return f"photometric interpretation {p.photometric or 'missing'} is not supported"
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
    return syntax.name if syntax.is_transfer_syntax else f"UID {syntax}"


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
    return frame


def _build_image(
    ds: Dataset,
    meta: FileMetaDataset,
    syntax: uid.UID,
    pixels: PixelAttributes,
    frame: np.ndarray,
    notes: set[str],
    path: Path,
) -> XrayImage:
    notes = set(notes) - {"truncated"}
    if pixels.frames > 1:
        notes.add(f"multi-frame file: showing frame 1 of {pixels.frames}")
    if attrs.is_for_processing(ds):
        notes.add("For Processing image: raw detector data, not meant for display or for models trained on presentation images")
    values, value_range, modality_notes = _modality_values(ds, pixels, frame)
    notes |= modality_notes
    values, finite_notes = _finite(values, path)
    notes |= finite_notes
    presets, default, voi_notes = _presets(ds, values, value_range, gray=values.ndim == 2)
    notes |= voi_notes
    invert, polarity_notes = attrs.polarity(ds, pixels.photometric)
    notes |= polarity_notes
    metadata = attrs.metadata(ds, meta, syntax, pixels.rows, pixels.columns, pixels.samples, pixels.bits_stored, pixels.photometric, pixels.frames)
    return XrayImage(values, value_range, presets, default, invert, metadata, tuple(sorted(notes)))


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
    finite = np.isfinite(values)
    if finite.all():
        return values, set()
    if not finite.any():
        raise errors.NoFinitePixelsError("", path)
    cleaned = np.where(finite, values, values[finite].min()).astype(np.float32)
    return cleaned, {"non-finite pixel values replaced by the image minimum"}


def _presets(
    ds: Dataset, values: np.ndarray, value_range: tuple[float, float], gray: bool
) -> tuple[tuple[VoiPreset, ...], int, set[str]]:
    """File VOI LUTs, file windows, Auto, Full range; the first is the default.

    Colour images have no VOI: they show their full range by default.
    """
    auto = VoiPreset("Auto (0.5-99.5 percentile)", "auto", window=auto_window(values))
    full = VoiPreset("Full range", "bit-depth", window=range_window(*value_range))
    if not gray:
        return (full, auto), 0, set()
    file_presets, notes = attrs.file_voi_presets(ds)
    return (*file_presets, auto, full), 0, notes

