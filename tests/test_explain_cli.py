"""`camviewer explain`: JSON contract, overlays, raw maps, targets, failures and trust."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_model
from dicom_factory import good_dcm

from camviewer.cli import main

FIVE = "gradcam,hirescam,gradcampp,xgradcam,layercam"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["explain", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_json_document_and_files(tmp_path: Path, model_card: Path, sample_chest: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, doc = run_json(capsys, str(sample_chest), "--model", str(model_card), "--methods", FIVE,
                         "--target", "top2", "--out", str(out), "--save-maps")
    assert code == 0
    assert doc["model"]["classes"] == ["Normal", "COVID", "Opacity"] and len(doc["model"]["weights_sha256"]) == 64
    image = doc["images"][0]
    probs = [p["probability"] for p in image["predictions"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0)
    assert len(image["explanations"]) == 10
    top2 = [p["index"] for p in image["predictions"][:2]]
    assert [e["target_index"] for e in image["explanations"][::5]] == top2
    for e in image["explanations"]:
        assert e["layer"] == "layer4"
        raw = np.load(e["map_file"])
        assert raw.dtype == np.float32 and raw.shape == (2, 2)
        assert raw.min() >= 0  # after the method's own ReLU (HiResCAM's too, as in the study)
        assert Path(e["overlay_file"]).is_file()
        assert set(e["checks"]) == {"hirescam_completeness", "gradcam_equals_hirescam", "model_output", "map"}
    assert sorted(p.suffix for p in out.iterdir()).count(".png") == 10


def test_saved_maps_are_unnormalised(tmp_path: Path, model_card: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    _, doc = run_json(capsys, str(path), "--model", str(model_card), "--methods", "hirescam-signed,hirescam",
                      "--target", "COVID", "--out", str(tmp_path / "o"), "--save-maps")
    signed, rectified = doc["images"][0]["explanations"]
    assert signed["target_label"] == "COVID"
    check = signed["checks"]["hirescam_completeness"]
    assert check["applicable"]  # resnet18: layer4 -> AdaptiveAvgPool2d -> (functional flatten) -> Linear
    assert np.load(signed["map_file"]).sum() == pytest.approx(check["score"] - check["bias"], rel=1e-4)
    assert rectified["checks"]["hirescam_completeness"] == check  # computed from the signed sum for both
    np.testing.assert_array_equal(np.load(rectified["map_file"]), np.maximum(np.load(signed["map_file"]), 0))


def test_a_bad_image_fails_alone(tmp_path: Path, model_card: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"hello" * 50)
    good = good_dcm(tmp_path / "good.dcm")
    code, doc = run_json(capsys, str(bad), str(good), "--model", str(model_card))
    assert code == 1
    assert doc["images"][0]["reason"] == "not-dicom" and "predictions" in doc["images"][1]


def test_unknown_method_and_layer_are_usage_errors(tmp_path: Path, model_card: Path) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    assert main(["explain", str(path), "--model", str(model_card), "--methods", "nope"]) == 2
    assert main(["explain", str(path), "--model", str(model_card), "--layer", "no.such"]) == 2


def test_named_layer_and_flatten_head_completeness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = write_model(tmp_path, architecture="resnet34-flatten")
    path = good_dcm(tmp_path / "g.dcm")
    _, doc = run_json(capsys, str(path), "--model", str(card), "--methods", "hirescam")
    check = doc["images"][0]["explanations"][0]["checks"]["hirescam_completeness"]
    assert doc["images"][0]["explanations"][0]["layer"] == "features"
    assert check["applicable"] and check["relative_residual"] < 1e-4
    _, doc = run_json(capsys, str(path), "--model", str(card), "--methods", "gradcam", "--layer", "features.6")
    assert doc["images"][0]["explanations"][0]["layer"] == "features.6"


def test_factory_cards_need_trust(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mymodel.py").write_text(
        "import torch\n"
        "def build():\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(),\n"
        "                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))\n")
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"classes": ["a", "b"], "input": {"size": [32, 32], "channels": 1}, "factory": "mymodel:build"}))
    path = good_dcm(tmp_path / "g.dcm")
    assert main(["explain", str(path), "--model", str(card)]) == 1
    err = capsys.readouterr().err
    assert "explicit trust required" in err and err.strip().endswith("pass --trust-code if you trust it")
    code, doc = run_json(capsys, str(path), "--model", str(card), "--trust-code")
    assert code == 0 and doc["images"][0]["explanations"][0]["layer"] == "1"


def test_multilabel_models_use_sigmoid_and_explain_logits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = write_model(tmp_path, classes=("Atelectasis", "Cardiomegaly", "Edema", "Effusion"), multilabel=True)
    path = good_dcm(tmp_path / "g.dcm")
    _, doc = run_json(capsys, str(path), "--model", str(card), "--methods", "hirescam", "--target", "Edema,Effusion")
    image = doc["images"][0]
    for p in image["predictions"]:
        assert p["probability"] == pytest.approx(1 / (1 + np.exp(-p["logit"])))
    logits = {p["index"]: p["logit"] for p in image["predictions"]}
    for e in image["explanations"]:
        assert e["checks"]["hirescam_completeness"]["score"] == pytest.approx(logits[e["target_index"]], rel=1e-5)
    assert [e["target_label"] for e in image["explanations"]] == ["Edema", "Effusion"]


def test_lrp_methods_share_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    card = write_model(tmp_path, architecture="densenet121")
    path = good_dcm(tmp_path / "g.dcm")
    _, doc = run_json(capsys, str(path), "--model", str(card), "--methods", "gradcam,lrp-epf,lrp-egb,lrp-eab",
                      "--target", "top2", "--out", str(tmp_path / "o"), "--save-maps")
    explanations = doc["images"][0]["explanations"]
    assert [e["method"] for e in explanations] == ["gradcam", "lrp-epf", "lrp-egb", "lrp-eab"] * 2
    for e in explanations[1:4]:
        assert e["layer"] == "input" and np.load(e["map_file"]).shape == (64, 64)
        assert set(e["checks"]) == {"lrp_conservation", "canonization"}
        assert e["checks"]["canonization"] == {"family": "densenet", "relative_output_change": pytest.approx(0, abs=1e-5)}
        logit = next(p["logit"] for p in doc["images"][0]["predictions"] if p["index"] == e["target_index"])
        assert e["checks"]["lrp_conservation"]["score"] == pytest.approx(logit, rel=1e-5)
