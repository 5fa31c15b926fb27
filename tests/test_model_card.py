"""Model cards, registered architectures, device choice, targets and probabilities."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from camviewer import errors
from camviewer.model.architectures import ARCHITECTURES
from camviewer.model.card import load_card
from camviewer.model.device import select_device
from camviewer.model.predict import probabilities

BASE = {"name": "t", "classes": ["Normal", "COVID", "Opacity"], "multilabel": False,
        "input": {"size": [64, 64], "channels": 1, "mean": [0.5], "std": [0.25]},
        "architecture": "resnet18", "weights": "w.safetensors"}


def write_card(tmp_path: Path, **changes: object) -> Path:
    """BASE with ``changes``; a change to None drops the key, except for weights_sha256 (JSON null)."""
    doc = {**BASE, **changes}
    doc = {k: v for k, v in doc.items() if v is not None or k == "weights_sha256"}
    path = tmp_path / "card.json"
    path.write_text(json.dumps(doc))
    return path


def test_a_valid_card_parses_with_defaults(tmp_path: Path) -> None:
    card = load_card(write_card(tmp_path))
    assert card.classes == ("Normal", "COVID", "Opacity") and card.architecture == "resnet18"
    assert card.weights == (tmp_path / "w.safetensors").resolve()
    assert card.input.value_range == (0.0, 1.0) and card.input.resize == "stretch" and card.input.dicom == "window"


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"classes": []}, "classes"),
    ({"classes": ["a", "a"]}, "unique"),
    ({"factory": "m:f"}, "exactly one"),
    ({"architecture": None, "weights": None}, "exactly one"),
    ({"weights": None}, "needs 'weights'"),
    ({"input": {"size": [64], "channels": 1}}, "input.size"),
    ({"input": {"size": [64, 64], "channels": 2}}, "channels"),
    ({"input": {"size": [64, 64], "channels": 1, "std": [0]}}, "std"),
    ({"input": {"size": [64, 64], "channels": 1, "resize": "zoom"}}, "resize"),
    ({"input": {"size": [64, 64], "channels": 1, "range": [1, -1]}}, "range"),
    ({"input": {"size": [192.7, 192], "channels": 1}}, "input.size entry must be an integer"),
    ({"input": {"size": [True, 64], "channels": 1}}, "input.size entry must be an integer"),
    ({"input": {"size": ["64", 64], "channels": 1}}, "input.size entry must be an integer"),
    ({"input": {"size": [64, 64], "channels": 1.5}}, "input.channels must be an integer"),
    ({"input": {"size": [64, 64], "channels": True}}, "input.channels must be an integer"),
    ({"input": {"size": [64, 64], "channels": "1"}}, "input.channels must be an integer"),
    ({"input": {"size": [64, 64], "channels": 1, "mean": ["0.5"]}}, "input.mean must hold numbers"),
    ({"input": {"size": [64, 64], "channels": 1, "std": [True]}}, "input.std must hold numbers"),
    ({"multilabel": "false"}, "multilabel must be true or false"),
    ({"weights_sha256": "abc"}, "weights_sha256 must be 64 hexadecimal digits"),
    ({"weights_sha256": "g" * 64}, "weights_sha256 must be 64 hexadecimal digits"),
    ({"weights_sha256": "0" * 65}, "weights_sha256 must be 64 hexadecimal digits"),
    ({"weights_sha256": int("1" * 64)}, "weights_sha256 must be 64 hexadecimal digits"),
    ({"weights_sha256": None}, "weights_sha256 must be 64 hexadecimal digits"),
    ({"architecture": None, "weights": None, "factory": "m:f", "weights_sha256": "0" * 64}, "needs 'weights'"),
])
def test_invalid_cards_name_the_problem(tmp_path: Path, changes: dict, fragment: str) -> None:
    with pytest.raises(errors.ModelCardError, match=fragment) as info:
        load_card(write_card(tmp_path, **changes))
    assert "card.json" in info.value.message and "\n" not in info.value.message


def test_integral_floats_are_accepted_as_integers(tmp_path: Path) -> None:
    card = load_card(write_card(tmp_path, input={"size": [64.0, 96], "channels": 1.0}))
    assert card.input.size == (64, 96) and card.input.channels == 1
    assert all(type(v) is int for v in (*card.input.size, card.input.channels))


def test_weights_sha256_is_optional_and_read_in_lower_case(tmp_path: Path) -> None:
    assert load_card(write_card(tmp_path)).weights_sha256 is None
    digest = "AbCdEf0123456789" * 4
    assert load_card(write_card(tmp_path, weights_sha256=digest)).weights_sha256 == digest.lower()


def test_a_card_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text("{nope")
    with pytest.raises(errors.ModelCardError, match="not valid JSON"):
        load_card(path)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_registered_architecture_builds(name: str) -> None:
    size = (288, 288) if name.endswith("transfer") else (64, 64)
    channels = 3 if name.startswith("resnet") else 1  # both channel counts, one build each (VGG is slow)
    model = ARCHITECTURES[name].build(4, channels, size).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, channels, *size)).shape == (1, 4)


def test_transfer_head_matches_the_aopc_study() -> None:
    """VGG16 at 288 px: 9x9x512 -> max-pool 4 -> 2x2x512 -> flatten 2048 -> dense 64 -> dense 4."""
    model = ARCHITECTURES["vgg16-transfer"].build(4, 3, (288, 288))
    linear = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(2048, 64), (64, 4)]


def test_device_selection() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device(None).type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(errors.UsageError, match="CUDA"):
            select_device("cuda")


def test_probabilities_softmax_and_sigmoid() -> None:
    logits = np.array([[1.0, 2.0, 3.0]])
    soft = probabilities(logits, multilabel=False)
    np.testing.assert_allclose(soft, np.exp(logits) / np.exp(logits).sum())
    np.testing.assert_allclose(probabilities(logits, multilabel=True), 1 / (1 + np.exp(-logits)))
