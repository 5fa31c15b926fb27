"""Is this image one the model was made for? Warnings for results outside a card's intended use.

The rules, for :class:`~camviewer.model.intended_use.IntendedUse` ``use`` and an image's metadata:

- a demo model (trained on camviewer phantoms) on anything that is not a camviewer phantom
  (:func:`camviewer.phantom.marker.is_camviewer_phantom`: a pixel code, and for DICOM the maker),
  and any other model on a camviewer phantom;
- not a radiograph: modality OT, or a study/series description naming a test pattern, QA or phantom;
- a stated modality, body part or view position outside the card's lists (a value missing from the
  file, or in another case, or with spaces around it, is not held against it); with no body part
  stated, a description that names body parts, none of them the card's.

Messages quote a file's code only when it is a DICOM defined term, so they can go into captions.
"""

from __future__ import annotations

import re

from camviewer.io.image import BODY_PART_TERMS, MODALITY_TERMS, VIEW_POSITION_TERMS, XrayImage
from camviewer.model.intended_use import IntendedUse
from camviewer.phantom.marker import is_camviewer_phantom

CHEST_PARTS = frozenset({"CHEST", "THORAX", "LUNG", "HEART"})
NOT_RADIOGRAPH = re.compile(r"\b(TEST|PATTERN|QA|QC|PHANTOM|CALIBRATION)\b", re.IGNORECASE)
NAMED_PART = re.compile(r"\b(" + "|".join(sorted(BODY_PART_TERMS | {"TIBIA", "FEMUR", "HUMERUS"})) + r")\b", re.IGNORECASE)
DEMO_NOTE = "demo model: trained on synthetic phantoms only, not for real images"


def scope_warnings(use: IntendedUse, image: XrayImage) -> tuple[str, ...]:
    """Every way in which ``image`` is outside ``use``, one warning each (empty when within)."""
    meta = image.metadata
    phantom = is_camviewer_phantom(image)
    modality, body_part, view = (_normalised(v) for v in (meta.modality, meta.body_part, meta.view_position))
    descriptions = " ".join(d for d in (meta.study_description, meta.series_description) if d)
    warnings = []
    if use.demo and not phantom:
        warnings.append("out of scope: a demo model trained on synthetic phantoms, applied to an image that is not "
                        "a camviewer phantom; its output means nothing here")
    if phantom and not use.demo:
        warnings.append("out of scope: a camviewer synthetic phantom, not a radiograph")
    elif modality == "OT" or (not phantom and NOT_RADIOGRAPH.search(descriptions)):
        warnings.append("out of scope: the file is not a radiograph (modality OT, or described as a test pattern or phantom)")
    elif use.modalities and modality and modality not in use.modalities:
        warnings.append(f"out of scope: modality {_code(modality, MODALITY_TERMS)}; the model is for {', '.join(use.modalities)}")
    warnings += _body_part(use, body_part, descriptions)
    if use.views and view and view not in use.views:
        warnings.append(f"out of scope: view {_code(view, VIEW_POSITION_TERMS)}; the model is for {', '.join(use.views)}")
    return tuple(warnings)


def _body_part(use: IntendedUse, body_part: str | None, descriptions: str) -> list[str]:
    if not use.body_parts:
        return []
    wanted = set(use.body_parts) | (CHEST_PARTS if CHEST_PARTS & set(use.body_parts) else set())
    if body_part:
        if body_part in wanted:
            return []
        return [f"out of scope: body part {_code(body_part, BODY_PART_TERMS)}; the model is for {', '.join(use.body_parts)}"]
    named = [m.upper() for m in NAMED_PART.findall(descriptions)]
    if named and not wanted & set(named):
        return [f"out of scope: the description names {named[0]}; the model is for {', '.join(use.body_parts)}"]
    return []


def _normalised(value: str | None) -> str | None:
    text = (value or "").strip().upper()
    return text or None


def _code(value: str, terms: frozenset[str]) -> str:
    return value if value in terms else "(not a defined term)"
