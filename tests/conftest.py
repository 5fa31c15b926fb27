import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"


@pytest.fixture(autouse=True)
def collect_qt_garbage_here(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test with widgets, collect their garbage on this, the GUI thread: a later test's
    worker thread must never be the one that destroys them (camviewer.gui.collector)."""
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()


@pytest.fixture
def sample_chest() -> Path:
    """The bundled CR chest radiograph: MONOCHROME1, 15 bits, JPEG 2000 (lossy)."""
    return SAMPLES / "chest_cr_mono1_j2k.dcm"


def write_model(folder: Path, architecture: str = "resnet18", channels: int = 1, size: int = 64,
                classes: tuple[str, ...] = ("Normal", "COVID", "Opacity"), seed: int = 0, **card: object) -> Path:
    """A random-weight registered model saved as safetensors, with its card; returns the card path."""
    import json

    import torch
    from safetensors.torch import save_file

    from camviewer.model.architectures import ARCHITECTURES

    torch.manual_seed(seed)
    model = ARCHITECTURES[architecture].build(len(classes), channels, (size, size))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "weights.safetensors")
    doc = {"name": "test model", "classes": list(classes), "multilabel": False,
           "input": {"size": [size, size], "channels": channels, "mean": [0.5] * channels, "std": [0.25] * channels},
           "architecture": architecture, "weights": "weights.safetensors", **card}
    path = folder / "card.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def model_card(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    return write_model(folder)
