"""A model card's intended use: what the model was made for, so that results outside it say so.

```json
"intended_use": {"summary": "adult PA/AP chest radiographs (CR, DX)", "training_data": "radiographs",
                 "modalities": ["CR", "DX"], "body_parts": ["CHEST"], "views": ["PA", "AP"]}
```

``training_data`` is ``"camviewer-phantoms"`` for a model trained only on camviewer's synthetic
phantoms (a demo model: any other image is out of scope), else free text. An empty list means
"not restricted". A card without the section is taken to be for chest radiographs (CR, DX), the
images camviewer is for; the summary then says that the card states no intended use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PHANTOM_TRAINING = "camviewer-phantoms"


@dataclass(frozen=True)
class IntendedUse:
    summary: str
    training_data: str = ""
    modalities: tuple[str, ...] = ()
    body_parts: tuple[str, ...] = ()
    views: tuple[str, ...] = ()

    @property
    def demo(self) -> bool:
        """Trained on camviewer's phantoms only: a demonstration, out of scope on any other image."""
        return self.training_data == PHANTOM_TRAINING


UNSTATED = IntendedUse("chest radiographs (the card states no intended use)", modalities=("CR", "DX"), body_parts=("CHEST",))


def parse_intended_use(section: Any) -> IntendedUse:
    """The card's ``intended_use`` object (ValueError naming the problem), or :data:`UNSTATED`."""
    if section is None:
        return UNSTATED
    if not isinstance(section, dict):
        raise ValueError("intended_use must be an object")
    unknown = set(section) - {"summary", "training_data", "modalities", "body_parts", "views"}
    if unknown:
        raise ValueError(f"intended_use has unknown key {sorted(unknown)[0]!r}")
    summary, training = section.get("summary"), section.get("training_data", "")
    if not isinstance(summary, str) or not summary.strip():
        raise ValueError("intended_use.summary must be a non-empty text")
    if not isinstance(training, str):
        raise ValueError("intended_use.training_data must be a text")
    return IntendedUse(summary.strip(), training, *(_codes(section, key) for key in ("modalities", "body_parts", "views")))


def _codes(section: dict[str, Any], key: str) -> tuple[str, ...]:
    values = section.get(key, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"intended_use.{key} must be a list of codes")
    return tuple(v.strip().upper() for v in values)
