"""`camviewer evaluate`: the JSON contract, shared noise, sensitivity, plots and option errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import good_dcm
from PIL import Image

from camviewer.cli import main
from camviewer.metrics.aopc import aopc


def test_curves_and_sensitivity_document(tmp_path: Path, model_card: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    code = main(["evaluate", str(path), "--model", str(model_card), "--methods", "gradcam,hirescam,lrp-epf",
                 "--grid", "4", "--order", "morf,lerf,random", "--sensitivity", "0.05,3", "--plots", str(tmp_path / "plots"),
                 "--json"])
    assert code == 0
    image = json.loads(capsys.readouterr().out)["images"][0]
    curves = image["curves"]
    assert len(curves) == 9
    for c in curves:
        assert set(c) == {"method", "target_index", "order", "grid", "perturbation", "regions", "curve", "aopc", "aopc_by_length"}
        assert c["grid"] == 4 and c["perturbation"] == "gaussian:0.1"
        assert len(c["curve"]) == 17 and sorted(c["regions"]) == list(range(16))
        assert c["aopc"] == pytest.approx(aopc(np.array(c["curve"])))
    top = image["predictions"][0]["probability"]
    assert all(c["curve"][0] == pytest.approx(top, rel=1e-4) for c in curves)
    assert len({round(c["curve"][-1], 7) for c in curves}) == 1  # x^(L) is the same noisy image for everyone
    assert [(s["method"], s["radius"], s["samples"]) for s in image["sensitivity"]] == [
        ("gradcam", 0.05, 3), ("hirescam", 0.05, 3), ("lrp-epf", 0.05, 3)]
    assert all(s["absolute"] >= 0 for s in image["sensitivity"])
    (plot,) = (tmp_path / "plots").glob("image0001__curves__{}-*.png".format(curves[0]["target_index"]))
    assert Image.open(plot).size == (760, 640)  # the plot, and a legend of 9 entries below it


def test_the_same_seed_gives_the_same_curves(tmp_path: Path, model_card: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    documents = []
    for seed in ("3", "3", "4"):
        assert main(["evaluate", str(path), "--model", str(model_card), "--grid", "3", "--seed", seed, "--json"]) == 0
        documents.append(json.loads(capsys.readouterr().out)["images"][0]["curves"][0]["curve"])
    assert documents[0] == documents[1] and documents[0] != documents[2]


@pytest.mark.parametrize("args", [["--perturb", "noise"], ["--order", "up"], ["--grid", "1"], ["--steps", "99"],
                                  ["--sensitivity", "x"]])
def test_bad_options_are_usage_errors(tmp_path: Path, model_card: Path, args: list[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    assert main(["evaluate", str(path), "--model", str(model_card), *args]) == 2


def test_a_bad_image_fails_alone(tmp_path: Path, model_card: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 10)
    code = main(["evaluate", str(bad), str(good_dcm(tmp_path / "g.dcm")), "--model", str(model_card), "--grid", "2", "--json"])
    captured = capsys.readouterr()
    images = json.loads(captured.out)["images"]
    assert code == 1 and images[0]["reason"] == "not-dicom" and len(images[1]["curves"]) == 1
    assert captured.err.strip() == "camviewer: Not a DICOM file (bad.dcm)"


def test_whole_model_gives_the_same_curves(capsys: pytest.CaptureFixture[str]) -> None:
    """The default model splits (incremental steps); --whole-model runs every step whole."""
    sample = Path(__file__).parents[1] / "resources" / "samples" / "phantom_nodule.png"
    curves = []
    for extra in ([], ["--whole-model"]):
        assert main(["evaluate", str(sample), "--methods", "hirescam", "--order", "morf,lerf", "--json", *extra]) == 0
        curves.append([c["curve"] for c in json.loads(capsys.readouterr().out)["images"][0]["curves"]])
    np.testing.assert_allclose(curves[0], curves[1], rtol=1e-5, atol=1e-7)


def test_a_perturbation_that_collapses_the_model_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    """Half the random-order probability gone within the first 10 % of the steps: the warning says so;
    the AOPC study's own perturbation leaves the demo model standing."""
    sample = Path(__file__).parents[1] / "resources" / "samples" / "phantom_nodule.png"
    warnings = {}
    for perturbation in ("constant:50", "gaussian:0.1"):
        assert main(["evaluate", str(sample), "--methods", "gradcam", "--order", "random", "--grid", "4",
                     "--perturb", perturbation, "--json"]) == 0
        warnings[perturbation] = json.loads(capsys.readouterr().out)["images"][0]["warnings"]
    (collapse,) = warnings["constant:50"]
    assert collapse.startswith("the perturbation (constant:50) collapses the model") and "nodule" in collapse
    assert warnings["gaussian:0.1"] == []
