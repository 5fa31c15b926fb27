import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


@pytest.fixture
def sample_chest() -> Path:
    """The bundled CR chest radiograph: MONOCHROME1, 15 bits, JPEG 2000 (lossy)."""
    return SAMPLES / "chest_cr_mono1_j2k.dcm"
