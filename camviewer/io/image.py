"""The loaded X-ray: modality values, VOI choices, polarity and metadata."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import numpy as np

from camviewer.geometry import row_bands
from camviewer.io.grayscale import VoiPreset, apply_polarity, apply_voi, range_window

SourceFormat = Literal["dicom", "png", "jpeg", "tiff"]


@dataclass(frozen=True)
class Metadata:
    """What a viewer shows about an image. Patient fields are ``None`` when absent."""

    format: SourceFormat
    rows: int
    columns: int
    samples_per_pixel: int
    bits_stored: int
    photometric_interpretation: str
    frames: int = 1
    patient_name: str | None = None
    patient_id: str | None = None
    patient_sex: str | None = None
    patient_age: str | None = None
    study_date: str | None = None
    study_description: str | None = None
    modality: str | None = None
    view_position: str | None = None
    laterality: str | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    pixel_spacing_source: str | None = None
    transfer_syntax: str | None = None
    transfer_syntax_uid: str | None = None
    lossy_compression: bool | None = None
    sop_class: str | None = None

    def anonymized(self) -> Metadata:
        """Drop identifying fields; keep sex and age (ages above 89 become ``090Y+``)."""
        age = self.patient_age
        if age and age.endswith("Y") and age[:-1].isdigit() and int(age[:-1]) > 89:
            age = "090Y+"
        return replace(
            self,
            patient_name=None,
            patient_id=None,
            study_date=None,
            study_description=None,
            patient_age=age,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.pixel_spacing_mm is not None:
            data["pixel_spacing_mm"] = list(self.pixel_spacing_mm)
        return data


@dataclass(frozen=True, eq=False)
class XrayImage:
    """An image after the Modality LUT, ready for VOI and polarity.

    ``values`` is float32, (H, W) or (H, W, 3), read-only. ``value_range`` is the nominal
    range those values can take (from the bit depth through the Modality LUT), used for
    full-range model input. ``presets[default_preset]`` is what the file asks to show.
    """

    values: np.ndarray
    value_range: tuple[float, float]
    presets: tuple[VoiPreset, ...]
    default_preset: int
    invert: bool
    metadata: Metadata
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self.values.setflags(write=False)
        if not 0 <= self.default_preset < len(self.presets):
            raise ValueError("default_preset must index presets")

    @property
    def is_color(self) -> bool:
        return self.values.ndim == 3

    def display(self, preset: VoiPreset | None = None) -> np.ndarray:
        """Float32 in [0, 1], 1 = white: VOI (the default preset if none), then polarity."""
        out = np.empty(self.values.shape, np.float32)
        for rows in row_bands(self.values.shape):
            out[rows] = self.display_rows(rows.start, rows.stop, preset)
        return out

    def display_rows(self, start: int, stop: int, preset: VoiPreset | None = None) -> np.ndarray:
        """Rows ``start:stop`` of :meth:`display`."""
        chosen = self.presets[self.default_preset] if preset is None else preset
        return apply_polarity(apply_voi(self.values[start:stop], chosen), self.invert)

    def full_range(self) -> np.ndarray:
        """Float32 in [0, 1] over the whole nominal value range, polarity applied."""
        full = VoiPreset("Full range", "bit-depth", window=range_window(*self.value_range))
        return self.display(full)
