"""The shipped demo models: weights match their cards, accuracy holds, maps point at lesions, samples open."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from camviewer.cli import main
from camviewer.demo.evaluate import accuracy, method_scores, phantom_test_set
from camviewer.io import load_image
from camviewer.model.build import DEFAULT_CARD, load_model

MODELS = Path(__file__).resolve().parents[1] / "models"
CARDS = [MODELS / "demo-vgg.json", MODELS / "demo-resnet.json"]
SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
ACCURACY_MARGIN = 0.10  # a 10-per-class test set is small: allow 10 points below the card's validation accuracy
# Lesions cover ~1 % of an image, so a random map's pointing game is ~0.01. demo-resnet reaches ~0.2;
# demo-vgg does not localise (README, "Demo models"), recorded here as a strict expected failure.
POINTING_FLOOR = 0.10


@pytest.fixture(scope="module")
def fresh_set() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    return phantom_test_set(per_class=10, seed=8_000_000)


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.stem)
def test_weights_match_the_card(card: Path) -> None:
    doc = json.loads(card.read_text())
    weights = card.parent / doc["weights"]
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == doc["weights_sha256"]
    assert load_model(card, device="cpu").weights_sha256 == doc["weights_sha256"]
    assert "NOT FOR DIAGNOSIS" in doc["description"] and "synthetic" in doc["description"]


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.stem)
def test_models_reach_their_card_accuracy(card: Path, fresh_set) -> None:  # noqa: ANN001
    model = load_model(card, device="cpu")
    stated = json.loads(card.read_text())["validation"]["accuracy"]
    assert accuracy(model, fresh_set[0], fresh_set[1]) >= stated - ACCURACY_MARGIN


@pytest.mark.parametrize("card", [
    pytest.param(CARDS[0], marks=pytest.mark.xfail(strict=True, reason="demo-vgg's maps do not localise the lesions (~chance)")),
    CARDS[1],
], ids=lambda p: p.stem)
def test_hirescam_points_at_the_lesions(card: Path, fresh_set) -> None:  # noqa: ANN001
    scores = method_scores(load_model(card, device="cpu"), *fresh_set)
    assert scores["hirescam"].pointing >= POINTING_FLOOR


def test_the_default_model_is_a_demo_model() -> None:
    assert DEFAULT_CARD == MODELS / "demo-resnet.json"


@pytest.mark.parametrize("sample", sorted(SAMPLES.glob("phantom_*")), ids=lambda p: p.name)
def test_samples_open(sample: Path) -> None:
    image = load_image(sample)
    assert image.values.shape[:2] == (512, 512)


def test_main_job_runs_on_a_sample_with_the_default_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["explain", str(SAMPLES / "phantom_effusion.dcm"), "--methods", "gradcam,hirescam",
                 "--out", str(out), "--export", "png,panel", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"]["name"] == "demo-resnet" and doc["images"][0]["predictions"]
    assert len(list(out.glob("*__annotated.png"))) == 2 and len(list(out.glob("*__panel.png"))) == 1
