"""How a camviewer phantom is told from a real image: a pixel marker, and its DICOM attributes.

Every phantom carries a 4 x 16 pixel code in its top-left corner: each pixel exactly black (0) or
exactly white (the full scale), following the 64 bits of ``b"CVPHANTM"``. A radiograph has no such
pattern; a phantom that was resized, cropped or lossily compressed loses it (and then counts as not
a phantom, the safe side). An image is a camviewer phantom when its full-range display carries the
code and, for DICOM, when it also names camviewer and the synthetic phantom as its maker
(Manufacturer, Manufacturer's Model Name; written by :mod:`camviewer.phantom.write`). File names
play no part.
"""

from __future__ import annotations

import numpy as np

from camviewer.io.image import XrayImage

MARKER_ROWS, MARKER_COLUMNS = 4, 16
CODE = np.unpackbits(np.frombuffer(b"CVPHANTM", np.uint8)).reshape(MARKER_ROWS, MARKER_COLUMNS).astype(bool)
MANUFACTURER = "camviewer"
MODEL_NAME = "Synthetic chest phantom"
TOLERANCE = 1e-3


def stamp(pixels: np.ndarray) -> np.ndarray:
    """The [0, 1] pixels with the code written into their top-left corner."""
    marked = pixels.copy()
    marked[:MARKER_ROWS, :MARKER_COLUMNS] = CODE
    return marked


def carries_code(image: XrayImage) -> bool:
    """Whether the image's full-range display holds the code in its top-left corner."""
    if image.is_color or image.values.shape[0] < MARKER_ROWS or image.values.shape[1] < MARKER_COLUMNS:
        return False
    shown = image.display_rows(0, MARKER_ROWS, image.full_range_preset)[:, :MARKER_COLUMNS]
    return bool(np.all(np.abs(shown - CODE) <= TOLERANCE))


def is_camviewer_phantom(image: XrayImage) -> bool:
    """The pixel code, and for DICOM the maker's attributes too."""
    if not carries_code(image):
        return False
    if image.header is None:
        return True
    return (str(image.header.get("Manufacturer", "")), str(image.header.get("ManufacturerModelName", ""))) == (
        MANUFACTURER, MODEL_NAME)
