"""PNG, JPEG and TIFF input through Pillow, with size checks before decoding.

Pillow reads every file; 16-bit RGB, which Pillow narrows to 8 bits, is then read again at
full depth (tifffile for TIFF, OpenCV for PNG) once Pillow has checked size and integrity.
OpenCV never decodes JPEG here: it silently grey-fills truncated files.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from camviewer import errors
from camviewer.io.grayscale import VoiPreset, auto_window, full_range_preset
from camviewer.io.image import Metadata, SourceFormat, XrayImage
from camviewer.io.limits import DEFAULT_LIMITS, Limits
from camviewer.io.source import regular_file_size

PILLOW_FORMATS = {"PNG": "png", "JPEG": "jpeg", "TIFF": "tiff"}
SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


def load_raster(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> XrayImage:
    """Read a PNG, JPEG or TIFF into an :class:`XrayImage`; raise InputError."""
    path = Path(path)
    regular_file_size(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=list(PILLOW_FORMATS)) as img:
                fmt: SourceFormat = PILLOW_FORMATS[img.format]  # type: ignore[assignment,index]
                _check_size(img, limits, path)
                notes = {"multi-page file: showing page 1"} if getattr(img, "n_frames", 1) > 1 else set()
                img.load()
                pixels, bits = _to_array(_oriented(img), fmt, path)
                if bits == 16 and pixels.ndim == 3:
                    pixels = _read_rgb16(path, fmt, pixels.shape)
        except errors.CamviewerError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise errors.ImageTooLargeError("pixel count exceeds limit", path) from exc
        except UnidentifiedImageError as exc:
            raise errors.UnsupportedImageError("", path) from exc
        except FileNotFoundError as exc:
            raise errors.FileMissingError("", path) from exc
        except OSError as exc:
            if "truncated" in str(exc).lower():
                raise errors.TruncatedFileError("image data incomplete", path) from exc
            raise errors.CorruptFileError("image data cannot be decoded", path) from exc
        except MemoryError as exc:
            raise errors.ImageTooLargeError("not enough memory to decode the image", path) from exc
        except (ValueError, SyntaxError, EOFError) as exc:
            raise errors.CorruptFileError("image data or metadata is malformed", path) from exc
    return _build_image(pixels, bits, fmt, notes, path)


def _check_size(img: Image.Image, limits: Limits, path: Path) -> None:
    width, height = img.size
    if width <= 0 or height <= 0:
        raise errors.UnsupportedImageError("image has no pixels", path)
    if width * height > limits.max_raster_pixels:
        raise errors.ImageTooLargeError(f"{width} x {height} pixels exceeds {limits.max_raster_pixels} pixels", path)


def _oriented(img: Image.Image) -> Image.Image:
    """Apply an EXIF orientation tag (phone photos of films carry one)."""
    return ImageOps.exif_transpose(img) if img.format == "JPEG" else img


def _to_array(img: Image.Image, fmt: SourceFormat, path: Path) -> tuple[np.ndarray, int]:
    """Pixels as (H, W) or (H, W, 3) and the bit depth of the samples."""
    mode = img.mode
    if mode == "P" and not img.palette:
        raise errors.CorruptFileError("palette image without a palette", path)
    if mode in SIXTEEN_BIT_MODES:
        return np.asarray(img).astype(np.uint16), 16
    if mode == "I":
        array = np.asarray(img)
        if array.min() < 0 or array.max() > 65535:
            raise errors.UnsupportedImageError("32-bit integer images are not supported", path)
        return array.astype(np.uint16), 16
    if mode == "F":
        return np.asarray(img, dtype=np.float32), 32
    if mode in ("1", "L", "LA"):
        return np.asarray(img.convert("L")), 8
    if mode == "P" and _grayscale_palette(img):
        return np.asarray(img.convert("L")), 8
    return np.asarray(img.convert("RGB")), _rgb_bits(img, fmt, path)


def _grayscale_palette(img: Image.Image) -> bool:
    rgb = np.asarray(img.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _rgb_bits(img: Image.Image, fmt: SourceFormat, path: Path) -> int:
    """16 when the file stores 16-bit RGB samples that Pillow narrowed to 8 bits."""
    if fmt == "png":
        with path.open("rb") as fp:
            header = fp.read(25)
        return 16 if len(header) == 25 and header[24] == 16 else 8
    if fmt == "tiff":
        samples = img.tag_v2.get(258, (8,))  # type: ignore[attr-defined]
        return 16 if max(samples if isinstance(samples, tuple) else (samples,)) == 16 else 8
    return 8


def _read_rgb16(path: Path, fmt: SourceFormat, shape: tuple[int, ...]) -> np.ndarray:
    if fmt == "tiff":
        import tifffile

        array = tifffile.imread(path, key=0)
    else:
        import cv2

        decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if decoded is None:
            raise errors.CorruptFileError("image data cannot be decoded", path)
        array = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGB if decoded.shape[-1] == 4 else cv2.COLOR_BGR2RGB)
    array = np.asarray(array)[..., :3]
    if array.shape != shape or array.dtype != np.uint16:
        raise errors.CorruptFileError("16-bit colour data does not match the header", path)
    return array


def _build_image(pixels: np.ndarray, bits: int, fmt: SourceFormat, notes: set[str], path: Path) -> XrayImage:
    values = pixels.astype(np.float32)
    if bits == 32:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise errors.NoFinitePixelsError("", path)
        if finite.size < values.size:
            values = np.where(np.isfinite(values), values, finite.min()).astype(np.float32)
            notes = notes | {"non-finite pixel values replaced by the image minimum"}
        value_range = (float(finite.min()), float(finite.max()))
    else:
        value_range = (0.0, float((1 << bits) - 1))
    full = full_range_preset(*value_range, f"Full range ({bits}-bit)" if bits != 32 else "Full range")
    auto = VoiPreset("Auto (0.5-99.5 percentile)", "auto", window=auto_window(values))
    metadata = Metadata(
        format=fmt,
        rows=pixels.shape[0],
        columns=pixels.shape[1],
        samples_per_pixel=1 if pixels.ndim == 2 else 3,
        bits_stored=bits,
        photometric_interpretation="MONOCHROME2" if pixels.ndim == 2 else "RGB",
        lossy_compression=fmt == "jpeg",
    )
    return XrayImage(values, value_range, (full, auto), 0, False, metadata, tuple(sorted(notes)))
