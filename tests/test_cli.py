"""`camviewer info` and `camviewer convert`, in process and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import good_dcm, make_dataset, write
from PIL import Image

from camviewer.cli import main
from camviewer.io import load_image
from camviewer.io.grayscale import Window, apply_window


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "camviewer", *args], capture_output=True, text=True, timeout=120)


def test_importing_the_cli_does_not_import_qt_or_torch() -> None:
    """Qt stays in camviewer.gui; torch loads only for commands that run a model."""
    code = ("import camviewer.cli, camviewer.io, sys; "
            "assert not any(m.split('.')[0] in ('PySide6', 'pyqtgraph', 'torch') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_importing_the_engine_does_not_import_qt() -> None:
    code = ("import camviewer.engine, camviewer.cli.explain, camviewer.cli.evaluate, camviewer.render, sys; "
            "assert not any(m.split('.')[0] in ('PySide6', 'pyqtgraph') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_info_json_is_one_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm", WindowCenter=[30000, 100], WindowWidth=[20000, 50],
                    WindowCenterWidthExplanation=["SOFT", "HARD"])
    assert main(["info", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["file"] == "g.dcm" and document["metadata"]["patient_id"] == "MRN12345"
    assert [p["name"] for p in document["presets"]][:2] == ["SOFT", "HARD"]
    assert document["default_preset"] == 1 and document["inverted"] is False


def test_info_anonymize_leaves_out_phi(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    for extra in ([], ["--json"]):
        assert main(["info", str(path), "--anonymize", *extra]) == 0
        out = capsys.readouterr().out
        assert "Doe" not in out and "MRN12345" not in out and "DX" in out


def test_info_text_lists_presets_and_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm", PhotometricInterpretation="MONOCHROME2", PresentationLUTShape="INVERSE",
                    WindowCenter=30000, WindowWidth=20000)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert " * 1. Window 1: center 30000, width 20000, LINEAR" in out
    assert "warning: Presentation LUT Shape INVERSE conflicts" in out


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_convert_writes_the_default_display(tmp_path: Path, sample_chest: Path) -> None:
    out = tmp_path / "chest.png"
    assert main(["convert", str(sample_chest), str(out)]) == 0
    written = read_png(out)
    expected = np.rint(load_image(sample_chest).display() * 255)
    assert written.dtype == np.uint8 and written.shape == (1955, 1841)
    np.testing.assert_array_equal(written, expected)
    assert [p.name for p in tmp_path.iterdir()] == ["chest.png"]


def test_convert_window_preset_and_bits(tmp_path: Path) -> None:
    path = good_dcm(tmp_path / "g.dcm", PhotometricInterpretation="MONOCHROME1", WindowCenter=30000, WindowWidth=20000)
    values = load_image(path).values
    assert main(["convert", str(path), str(tmp_path / "w.png"), "--window", "20000,10000", "--bits", "16"]) == 0
    expected = np.rint((1 - apply_window(values, Window(20000, 10000))) * 65535)
    np.testing.assert_array_equal(read_png(tmp_path / "w.png"), expected)
    assert main(["convert", str(path), str(tmp_path / "p.png"), "--preset", "3"]) == 0
    full = np.rint((1 - values / 65535) * 255)
    np.testing.assert_array_equal(read_png(tmp_path / "p.png"), full)


def test_convert_colour_png_stays_colour(tmp_path: Path) -> None:
    rgb = (np.arange(20 * 30 * 3).reshape(20, 30, 3) % 256).astype(np.uint8)
    Image.fromarray(rgb, "RGB").save(tmp_path / "c.png")
    assert main(["convert", str(tmp_path / "c.png"), str(tmp_path / "o.png")]) == 0
    np.testing.assert_array_equal(read_png(tmp_path / "o.png"), rgb)


@pytest.mark.parametrize("args", [["--window", "1,0"], ["--window", "abc"], ["--preset", "9"]])
def test_convert_rejects_bad_options_with_one_line(tmp_path: Path, args: list[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    result = run_cli("convert", str(path), str(tmp_path / "o.png"), *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("camviewer: Invalid option")
    assert not (tmp_path / "o.png").exists()


def test_convert_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    before = path.read_bytes()
    result = run_cli("convert", str(path), str(path))
    assert result.returncode == 1 and "would replace an input file" in result.stderr
    assert path.read_bytes() == before


def test_convert_into_a_missing_folder_fails_cleanly(tmp_path: Path) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    result = run_cli("convert", str(path), str(tmp_path / "nope" / "o.png"))
    assert result.returncode == 1
    assert result.stderr.strip() == "camviewer: Could not write output: folder does not exist (o.png)"


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    def disk_full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    path = good_dcm(tmp_path / "g.dcm")
    assert main(["convert", str(path), str(tmp_path / "o.png")]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dcm"]


def test_input_errors_exit_1_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.dcm"
    bad.write_bytes(b"hello" * 50)
    result = run_cli("info", str(bad))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "camviewer: Not a DICOM file (x.dcm)\n"


def test_rgb_dicom_converts_in_colour(tmp_path: Path) -> None:
    rgb = (np.arange(16 * 16 * 3).reshape(16, 16, 3) % 256).astype(np.uint8)
    path = write(make_dataset(pixels=rgb, photometric="RGB", bits_stored=8), tmp_path / "rgb.dcm")
    assert main(["convert", str(path), str(tmp_path / "o.png")]) == 0
    np.testing.assert_array_equal(read_png(tmp_path / "o.png"), rgb)


def test_explain_help_lists_every_method() -> None:
    result = run_cli("explain", "--help")
    assert result.returncode == 0
    for method in ("gradcam", "hirescam", "gradcampp", "xgradcam", "layercam", "lrp-epf", "lrp-egb", "lrp-eab"):
        assert f"  {method} " in result.stdout


def test_info_lists_the_full_range_once_and_reports_a_zero_pixel_spacing(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    samples = Path(__file__).resolve().parents[1] / "resources" / "samples"
    assert main(["info", str(samples / "phantom_effusion.dcm"), "--json"]) == 0
    presets = json.loads(capsys.readouterr().out)["presets"]
    assert [p["name"] for p in presets] == ["FULL RANGE", "LUNG", "Auto (0.5-99.5 percentile)"]
    path = good_dcm(tmp_path / "g.dcm", PixelSpacing=[0, 0])
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning: invalid Pixel Spacing in file (ignored)" in out and "pixel spacing" not in out
    assert main(["info", str(good_dcm(tmp_path / "n.dcm"))]) == 0
    assert "Full range" in capsys.readouterr().out  # no file window covers the range: the built-in one is listed
