"""Where camviewer's own files are: the demo models (``models/``) and the sample studies
(``resources/samples/``).

In a source checkout they are the repository's; inside an application bundle (PyInstaller, see
``installer/``) they are the bundle's own, found from the frozen program's data folder, so the
bundle works wherever it is unpacked. Nothing is ever written there.
"""

from __future__ import annotations

import sys
from pathlib import Path


def frozen() -> bool:
    """Whether this is an application bundle rather than an installed or checked-out package."""
    return bool(getattr(sys, "frozen", False))


def root() -> Path:
    """The folder holding ``models/`` and ``resources/``."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if bundle else Path(__file__).resolve().parents[1]


MODELS = root() / "models"
SAMPLES = root() / "resources" / "samples"
DEFAULT_CARD = MODELS / "demo-resnet.json"
DEFAULT_SAMPLE = SAMPLES / "phantom_effusion.dcm"  # an effusion phantom: the demo model's expected top class
