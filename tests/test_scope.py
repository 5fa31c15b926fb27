"""Results outside a model's intended use say so: cards, the phantom marker, the rules, and every
place a result is shown (text, JSON, captions, panel, the DICOM Secondary Capture)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import gradient, make_dataset, write
from PIL import Image

from camviewer.cli import main
from camviewer.engine.scope import DEMO_NOTE, scope_warnings
from camviewer.geometry import resize
from camviewer.io import load_image
from camviewer.io.write import write_png
from camviewer.model.card import load_card
from camviewer.model.intended_use import UNSTATED, IntendedUse, parse_intended_use
from camviewer.phantom import generate
from camviewer.phantom.marker import carries_code, is_camviewer_phantom
from camviewer.phantom.write import write_dicom, xray_image

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
REAL_CR = SAMPLES / "chest_cr_mono1_j2k.dcm"
DEMO = IntendedUse("phantoms", "camviewer-phantoms", ("CR", "DX"), ("CHEST",), ("PA",))
CHEST = IntendedUse("adult chest radiographs", "radiographs", ("CR", "DX"), ("CHEST",), ("PA", "AP"))
KNEE = IntendedUse("knee radiographs", "radiographs", ("CR", "DX"), ("KNEE",))


def test_intended_use_is_read_from_the_card_and_validated() -> None:
    use = parse_intended_use({"summary": "chests", "training_data": "camviewer-phantoms", "modalities": ["cr"],
                              "body_parts": ["CHEST"], "views": ["PA"]})
    assert use.demo and use.modalities == ("CR",) and not CHEST.demo
    assert parse_intended_use(None) == UNSTATED and UNSTATED.body_parts == ("CHEST",)
    for bad in ([], {"summary": ""}, {"summary": "x", "views": "PA"}, {"summary": "x", "colour": 1}):
        with pytest.raises(ValueError, match="intended_use"):
            parse_intended_use(bad)
    assert load_card(Path(__file__).resolve().parents[1] / "models" / "demo-resnet.json").intended_use.demo


def test_phantoms_carry_the_marker_and_real_images_do_not(tmp_path: Path) -> None:
    phantom = generate(seed=11, label="effusion", size=128)
    for photometric, bits, compress in (("MONOCHROME1", 12, False), ("MONOCHROME2", 16, True)):
        write_dicom(tmp_path / "p.dcm", phantom, photometric=photometric, bits=bits, compress=compress)
        assert is_camviewer_phantom(load_image(tmp_path / "p.dcm"))
    assert is_camviewer_phantom(xray_image(phantom))
    assert not is_camviewer_phantom(load_image(REAL_CR))
    resized = xray_image(generate(seed=11, label="effusion", size=256))
    write_png(tmp_path / "small.png", np.rint(resize(resized.values / 65535, (128, 128)) * 255).astype(np.uint8))
    assert not carries_code(load_image(tmp_path / "small.png"))  # resizing destroys the code: the safe side


def test_a_marked_dicom_from_another_maker_is_not_a_phantom(tmp_path: Path) -> None:
    phantom = generate(seed=12, label="normal", size=128)
    write_dicom(tmp_path / "p.dcm", phantom)
    ds = pydicom.dcmread(tmp_path / "p.dcm")
    ds.Manufacturer = "Acme"
    ds.save_as(tmp_path / "other.dcm")
    image = load_image(tmp_path / "other.dcm")
    assert carries_code(image) and not is_camviewer_phantom(image)


@pytest.mark.parametrize(("attributes", "use", "fragment"), [
    ({}, DEMO, "not a camviewer phantom"),
    ({"Modality": "OT"}, CHEST, "not a radiograph"),
    ({"SeriesDescription": "QA test pattern"}, CHEST, "not a radiograph"),
    ({"Modality": "MR"}, CHEST, "modality MR"),
    ({"BodyPartExamined": "LEG"}, CHEST, "body part LEG"),
    ({"BodyPartExamined": "JOHN SMITH"}, CHEST, "body part (not a defined term)"),
    ({"StudyDescription": "XR TIBIA LEFT"}, CHEST, "names TIBIA"),
    ({"ViewPosition": "LL"}, CHEST, "view LL"),
    ({"StudyDescription": "CHEST PA"}, KNEE, "names CHEST"),
])
def test_each_rule_warns(tmp_path: Path, attributes: dict, use: IntendedUse, fragment: str) -> None:
    image = load_image(write(make_dataset(gradient(32, 32), **attributes), tmp_path / "x.dcm"))
    warnings = scope_warnings(use, image)
    assert any(fragment in w for w in warnings), warnings
    assert all("JOHN" not in w for w in warnings)


@pytest.mark.parametrize(("attributes", "use"), [
    ({"Modality": "CR", "BodyPartExamined": "CHEST", "ViewPosition": "PA", "StudyDescription": "THORAX"}, CHEST),
    ({"Modality": " dx", "BodyPartExamined": "Chest ", "ViewPosition": "pa"}, CHEST),  # case and padding are no reason
    ({"StudyDescription": "CHEST, HEAD OF BED RAISED"}, CHEST),  # one named part is the card's
    ({"StudyDescription": "XR KNEE LEFT"}, KNEE),
])
@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")  # the fixture writes lower case on purpose
def test_an_image_within_the_intended_use_has_no_warning(tmp_path: Path, attributes: dict, use: IntendedUse) -> None:
    assert scope_warnings(use, load_image(write(make_dataset(gradient(32, 32), **attributes), tmp_path / "x.dcm"))) == ()


def test_phantoms_are_in_scope_only_for_demo_models() -> None:
    assert scope_warnings(DEMO, load_image(SAMPLES / "phantom_nodule.dcm")) == ()
    (warning,) = scope_warnings(CHEST, load_image(SAMPLES / "phantom_nodule.png"))
    assert "synthetic phantom, not a radiograph" in warning


def test_a_real_chest_cr_with_the_demo_model_says_so_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["explain", str(REAL_CR), "--methods", "hirescam", "--out", str(out), "--export", "png,panel,dicom"]) == 0
    text = capsys.readouterr().out
    assert "warning: out of scope: a demo model" in text and f"note: {DEMO_NOTE}" in text.splitlines()[1]
    assert main(["explain", str(REAL_CR), "--methods", "hirescam", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["model"]["intended_use"]["demo"] and DEMO_NOTE in document["model"]["notes"]
    assert any("not a camviewer phantom" in w for w in document["images"][0]["warnings"])
    (annotated,) = out.glob("*__annotated.png")
    (capture,) = out.glob("*__annotated.dcm")
    sc = pydicom.dcmread(capture)
    assert np.array_equal(sc.pixel_array, np.asarray(Image.open(annotated).convert("RGB")))  # the SC shows the PNG
    assert sc.Rows > load_image(REAL_CR).metadata.rows  # with its caption band
    assert "out of scope" in sc.ImageComments and DEMO_NOTE in sc.ImageComments and "Not for diagnostic use" in sc.ImageComments


def test_a_demo_model_says_so_in_every_caption_even_within_scope(tmp_path: Path) -> None:
    from camviewer.engine import ExplainRequest, ModelSession, run_explain
    from camviewer.engine.exports import notes
    from camviewer.model.build import load_model

    session = ModelSession(load_model(None, device="cpu"))
    within, outside = run_explain(ExplainRequest((SAMPLES / "phantom_effusion.dcm", REAL_CR)), session)
    assert within.scope == () and notes(within, session) == (DEMO_NOTE,)
    assert outside.scope and notes(outside, session) == (DEMO_NOTE, *outside.scope)  # what every caption prints
