"""The loaded X-ray: modality values, VOI choices, polarity and metadata."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydicom.uid import UID_dictionary

from camviewer.geometry import row_bands
from camviewer.io.grayscale import VoiPreset, apply_polarity, apply_voi, full_range_preset

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

SourceFormat = Literal["dicom", "png", "jpeg", "tiff"]
# The value forms of PS3.5 table 6.2-1 that leave no room for free text
# Defined terms (PS3.3 C.7.3.1.1.1, C.8.11.5.1.1, C.7.3.1.1.2, C.7.6.3.1.2): anonymised output keeps a
# coded value only when it is one of these, so no free text in a code string survives.
MODALITY_TERMS = frozenset("CR DX MG CT MR US NM PT XA RF OT SC IO PX RG DG ES XC GM SM OP OPT SR PR KO DOC SEG REG "
                           "RTIMAGE RTDOSE RTSTRUCT RTPLAN BI BMD HC LS OSS OCT IVUS IVOCT TG AU ECG EPS HD RESP".split())
VIEW_POSITION_TERMS = frozenset("AP PA LL RL RLD LLD RLO LLO LAT LATERAL".split())
LATERALITY_TERMS = frozenset("R L B U".split())
BODY_PART_TERMS = frozenset("CHEST THORAX LUNG HEART ABDOMEN PELVIS HEAD SKULL NECK SPINE CSPINE TSPINE LSPINE SSPINE "
                            "SHOULDER CLAVICLE ARM ELBOW FOREARM WRIST HAND FINGER HIP LEG KNEE ANKLE FOOT TOE EXTREMITY "
                            "BREAST WHOLEBODY".split())
PHOTOMETRIC_TERMS = frozenset(("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422",
                               "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420"))
AGE_STRING = re.compile(r"[0-9]{3}[DWMY]")
SEX_VALUES = {"M", "F", "O"}
UID_FORM = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")
UID_NAMES = frozenset(str(entry[0]) for entry in UID_dictionary.values())


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
    series_description: str | None = None
    modality: str | None = None
    body_part: str | None = None
    view_position: str | None = None
    laterality: str | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    pixel_spacing_source: str | None = None
    transfer_syntax: str | None = None
    transfer_syntax_uid: str | None = None
    lossy_compression: bool | None = None
    sop_class: str | None = None

    def anonymized(self) -> Metadata:
        """Drop identifying fields and any coded field that is not in its DICOM value form.

        Sex and age are kept (ages above 89 become ``090Y+``). A code string, age, sex or UID
        that does not match its VR's form (e.g. a name typed into View Position) is dropped,
        so no free text survives; UID fields may also hold a registered UID's name.
        """
        return replace(
            self,
            patient_name=None,
            patient_id=None,
            study_date=None,
            study_description=None,
            series_description=None,
            body_part=_defined(self.body_part, BODY_PART_TERMS),
            patient_sex=self.patient_sex if self.patient_sex in SEX_VALUES else None,
            patient_age=_anonymized_age(self.patient_age),
            photometric_interpretation=_defined(self.photometric_interpretation, PHOTOMETRIC_TERMS) or "",
            modality=_defined(self.modality, MODALITY_TERMS),
            view_position=_defined(self.view_position, VIEW_POSITION_TERMS),
            laterality=_defined(self.laterality, LATERALITY_TERMS),
            transfer_syntax=_uid_or_none(self.transfer_syntax),
            transfer_syntax_uid=_uid_or_none(self.transfer_syntax_uid),
            sop_class=_uid_or_none(self.sop_class),
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
    ``header`` is a DICOM source's data set without Pixel Data, held in memory (exports read
    it, never the file again); None for PNG, JPEG and TIFF.
    """

    values: np.ndarray
    value_range: tuple[float, float]
    presets: tuple[VoiPreset, ...]
    default_preset: int
    invert: bool
    metadata: Metadata
    warnings: tuple[str, ...] = field(default=())
    header: Dataset | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.values.setflags(write=False)
        if not 0 <= self.default_preset < len(self.presets):
            raise ValueError("default_preset must index presets")

    def anonymized(self) -> XrayImage:
        """This image with anonymized metadata, neutral names for the file's presets and no header.

        File presets are named by the file's free-text explanations; they become "VOI LUT 1",
        "Window 1", ... in file order.
        """
        counts = {"lut": 0, "window": 0}
        presets = []
        for preset in self.presets:
            if preset.source == "file":
                kind = "window" if preset.window is not None else "lut"
                counts[kind] += 1
                preset = replace(preset, name=f"{'Window' if kind == 'window' else 'VOI LUT'} {counts[kind]}")
            presets.append(preset)
        return replace(self, metadata=self.metadata.anonymized(), presets=tuple(presets), header=None)

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

    @property
    def full_range_preset(self) -> VoiPreset:
        """The whole nominal value range, linearly."""
        return full_range_preset(*self.value_range)

    def full_range(self) -> np.ndarray:
        """Float32 in [0, 1] over the whole nominal value range, polarity applied."""
        return self.display(self.full_range_preset)


def _defined(value: str | None, terms: frozenset[str]) -> str | None:
    """``value`` when it is one of the attribute's defined terms (a short upper-case text is not enough)."""
    return value if value in terms else None


def _uid_or_none(value: str | None) -> str | None:
    if value is None or not (value in UID_NAMES or (len(value) <= 64 and UID_FORM.fullmatch(value))):
        return None
    return value


def _anonymized_age(age: str | None) -> str | None:
    if age is None or not AGE_STRING.fullmatch(age):
        return None
    return "090Y+" if age.endswith("Y") and int(age[:-1]) > 89 else age
