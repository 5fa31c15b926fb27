"""The command line as a careless or hostile user meets it: nothing given is overwritten, nothing
read from a file reaches the terminal raw, every bad option is one line before any work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from conftest import write_model
from dicom_factory import good_dcm, gradient, make_dataset, write

import camviewer.cli.explain as explain_command
import camviewer.engine.explain as engine_explain
from camviewer import errors
from camviewer.cli import main
from camviewer.cli.report import UNPRINTABLE, emit_json, finite, printable

EVIL = "\x1b]0;owned\x07\x1b[2J\u202e"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_printable(text: str) -> None:
    bad = [c for c in text if c != "\n" and unicodedata.category(c) in UNPRINTABLE]
    assert not bad, f"unprintable characters reached the terminal: {bad!r}"


def one_line(text: str) -> str:
    assert text.count("\n") == 1 and text.startswith("camviewer: "), text
    return text


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    return inputs


@pytest.mark.parametrize("second", ["image0002__gradcam__0-normal.png", "image0001__gradcam__3-effusion.png",
                                    "IMAGE0001__GRADCAM__0-NORMAL.PNG", "image0001__panel.png"])
def test_explain_refuses_an_output_that_is_an_input_before_any_work(folder: Path, second: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    good_dcm(folder / "a.dcm")
    good_dcm(folder / second)
    before = snapshot(folder)
    code = main(["explain", str(folder / "a.dcm"), str(folder / second), "--out", str(folder), "--batch-size", "1",
                 "--export", "panel"])
    captured = capsys.readouterr()
    assert code == 1 and "would replace one of its input files" in one_line(captured.err) and not captured.out
    assert snapshot(folder) == before


def test_names_from_input_refuse_an_input_named_like_an_output(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good_dcm(folder / "a.dcm")
    good_dcm(folder / "a__gradcam__3-effusion.png")
    before = snapshot(folder)
    assert main(["explain", str(folder / "a.dcm"), str(folder / "a__gradcam__3-effusion.png"), "--out", str(folder),
                 "--names-from-input"]) == 1
    assert "would replace" in one_line(capsys.readouterr().err) and snapshot(folder) == before


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_links_to_an_input_are_refused_too(tmp_path: Path, folder: Path, kind: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    source = good_dcm(folder / "a.dcm")
    out = tmp_path / "out"
    out.mkdir()
    link = out / "image0001__gradcam__0-normal.png"
    (os.symlink if kind == "symlink" else os.link)(source, link)
    before = source.read_bytes()
    assert main(["explain", str(source), "--out", str(out), "--target", "normal"]) == 1
    assert "would replace" in one_line(capsys.readouterr().err) and source.read_bytes() == before


def test_evaluate_plots_never_replace_an_input(folder: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    good_dcm(folder / "a.dcm")
    good_dcm(folder / "image0002__curves__1-nodule.png")
    before = snapshot(folder)
    monkeypatch.setattr(engine_explain, "load_image", lambda *a: pytest.fail("work started"))
    assert main(["evaluate", str(folder / "a.dcm"), str(folder / "image0002__curves__1-nodule.png"), "--plots", str(folder),
                 "--grid", "2"]) == 1
    assert "would replace" in one_line(capsys.readouterr().err) and snapshot(folder) == before


def test_names_from_input_are_unique_per_run(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("x.dcm", "x.png", "0002_x.dcm", "x-2.dcm", "a__b.dcm"):
        good_dcm(folder / name)
    images = [str(folder / n) for n in ("x.dcm", "x.png", "0002_x.dcm", "x-2.dcm", "a__b.dcm")]
    assert main(["explain", *images, "--out", str(tmp_path / "o"), "--names-from-input", "--save-maps", "--json"]) == 0
    files = [e[key] for image in json.loads(capsys.readouterr().out)["images"] for e in image["explanations"]
             for key in ("overlay_file", "map_file")]
    assert len(files) == len(set(files)) == 10 and all(Path(f).is_file() for f in files)
    assert sorted(Path(f).name.split("__")[0] for f in files[::2]) == ["0002_x", "a_b", "x", "x-2", "x-3"]


def test_evaluate_numbers_its_files_by_input_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 10)
    good = good_dcm(tmp_path / "good.dcm")
    assert main(["evaluate", str(bad), str(good), "--grid", "2", "--plots", str(tmp_path / "plots"), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    plots = document["images"][1]["plot_files"]
    assert [Path(p).name.split("__")[0] for p in plots] == ["image0002"] and Path(plots[0]).is_file()


@pytest.mark.parametrize(("out_name", "force", "code"), [("o.dcm", False, 1), ("o.jpg", False, 1), ("o.jpg", True, 0),
                                                        ("existing.dcm", False, 1), ("existing.dcm", True, 0)])
def test_convert_refuses_another_kind_of_file_unless_forced(tmp_path: Path, out_name: str, force: bool, code: int,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    source = good_dcm(tmp_path / "g.dcm")
    existing = good_dcm(tmp_path / "existing.dcm")
    before = existing.read_bytes()
    assert main(["convert", str(source), str(tmp_path / out_name), *(["--force"] if force else [])]) == code
    captured = capsys.readouterr()
    if code:
        one_line(captured.err)
        assert existing.read_bytes() == before and not (tmp_path / "o.jpg").exists()
    else:
        assert (tmp_path / out_name).read_bytes().startswith(b"\x89PNG") and f"wrote {tmp_path / out_name}" in captured.out


def test_convert_refuses_its_input_through_a_link(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = good_dcm(tmp_path / "g.dcm")
    before = source.read_bytes()
    os.symlink(source, tmp_path / "view.png")
    assert main(["convert", str(source), str(tmp_path / "view.png"), "--force"]) == 1
    assert "would replace an input" in one_line(capsys.readouterr().err) and source.read_bytes() == before


@pytest.fixture
def evil_dicom(tmp_path: Path) -> Path:
    """Control characters, a bidi override and newlines in free text and in the file's own name."""
    ds = make_dataset(gradient(48, 48), WindowCenter=[30000, 200], WindowWidth=[20000, 100],
                      WindowCenterWidthExplanation=[EVIL, "SMITH^JOHN\nforged: line"], StudyDescription=EVIL,
                      PatientName="Doe^\x1b[31mJane")
    return write(ds, tmp_path / f"evil{EVIL}\n.dcm")


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["info", "--anonymize"], ["explain"],
                                     ["explain", "--json"], ["evaluate", "--grid", "2"], ["convert"]])
def test_no_control_character_reaches_the_terminal(evil_dicom: Path, tmp_path: Path, command: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    extra = [str(tmp_path / "shown.png")] if command == ["convert"] else []
    assert main([command[0], str(evil_dicom), *extra, *command[1:]]) == 0
    captured = capsys.readouterr()
    assert_printable(captured.out)
    assert_printable(captured.err)
    if "--anonymize" in command:  # the file's name is the user's own; nothing from inside the file
        from_file = "\n".join(line for line in captured.out.splitlines() if not line.startswith("file "))
        assert "SMITH" not in from_file and "owned" not in from_file and "Doe" not in from_file


def test_a_failure_naming_a_hostile_file_is_one_printable_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / f"bad{EVIL}\nforged.dcm"
    bad.write_bytes(b"\0" * 10)
    assert main(["info", str(bad)]) == 1
    err = one_line(capsys.readouterr().err)
    assert_printable(err)


@pytest.mark.parametrize("args", [
    ["evaluate", "--seed", "-1"], ["evaluate", "--batch-size", "-1"], ["evaluate", "--batch-size", "0"],
    ["evaluate", "--sensitivity", "inf,3"], ["evaluate", "--sensitivity", "0.1,0"], ["evaluate", "--perturb", "blur:1e9"],
    ["evaluate", "--perturb", "constant:nan"], ["evaluate", "--perturb", "gaussian:inf"],
    ["evaluate", "--perturb", "constant:1e308"], ["evaluate", "--grid", "1"], ["evaluate", "--order", "up"],
    ["evaluate", "--steps", "0"], ["evaluate", "--methods", "nope"], ["evaluate", "--target", ","],
    ["explain", "--batch-size", "0"], ["explain", "--opacity", "2"], ["explain", "--threshold", "nan"],
    ["explain", "--colormap", "rainbow"], ["explain", "--export", "pdf"], ["explain", "--methods", ""],
    ["convert", "--window", "40,0"], ["convert", "--preset", "0"], ["demo-data", "--size", "9"]])
def test_every_bad_option_is_one_line_and_exit_2_before_any_work(tmp_path: Path, args: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    positional = {"convert": [str(path), str(tmp_path / "o.png")], "demo-data": [str(tmp_path / "d")]}.get(args[0], [str(path)])
    assert main([args[0], *positional, *args[1:]]) == 2
    captured = capsys.readouterr()
    assert "Invalid option" in one_line(captured.err) and not captured.out
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "d").exists()


@pytest.mark.parametrize(("args", "flag"), [(["--target", "Pneumothorax"], "--target"), (["--steps", "99"], "--steps"),
                                            (["--grid", "500"], "--grid"), (["--perturb", "blur:300"], "--perturb")])
def test_values_checked_against_the_model_name_their_flag(tmp_path: Path, args: list[str], flag: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(good_dcm(tmp_path / "g.dcm")), *args]) == 2
    assert f"Invalid option: {flag}: " in one_line(capsys.readouterr().err)


def test_plots_into_an_existing_file_or_an_impossible_folder_fail_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_explain, "load_image", lambda *a: pytest.fail("work started"))
    path = good_dcm(tmp_path / "g.dcm")
    a_file = tmp_path / "a-file"
    a_file.write_text("keep")
    for target in (a_file, a_file / "sub"):
        assert main(["evaluate", str(path), "--plots", str(target)]) == 1
        assert main(["explain", str(path), "--out", str(target)]) == 1
        one_line(capsys.readouterr().err.split("\n", 1)[1])
    assert a_file.read_text() == "keep"


@pytest.mark.parametrize("target", ["loop", "dangling"])
def test_bad_links_as_input_or_output_are_one_line_and_do_not_stop_the_run(
        tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / target
    os.symlink(link if target == "loop" else tmp_path / "nowhere", link)
    good = good_dcm(tmp_path / "good.dcm")
    assert main(["explain", str(link), str(good), "--json"]) == 1
    captured = capsys.readouterr()
    assert "predictions" in json.loads(captured.out)["images"][1]
    one_line(captured.err)
    assert main(["explain", str(good), "--out", str(link)]) == 1
    one_line(capsys.readouterr().err)


def test_json_never_holds_bare_nan_or_infinity(capsys: pytest.CaptureFixture[str]) -> None:
    emit_json({"relative": float("inf"), "curve": [1.0, float("nan")], "nested": ({"x": -float("inf")},)})
    assert json.loads(capsys.readouterr().out) == {"relative": None, "curve": [1.0, None], "nested": [{"x": None}]}
    assert finite(np.float64(np.nan)) is None and printable("a\x1bb\u202ec\n") == "a\\x1bb\\u202ec\\x0a"


def test_an_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CAMVIEWER_TRACEBACK", raising=False)
    monkeypatch.setattr(explain_command, "load_session", lambda args: (_ for _ in ()).throw(RuntimeError("boom")))
    assert main(["explain", str(good_dcm(tmp_path / "g.dcm"))]) == 3
    assert "Internal error: RuntimeError" in one_line(capsys.readouterr().err)


def test_ctrl_c_exits_130_with_one_line(tmp_path: Path) -> None:
    path = good_dcm(tmp_path / "g.dcm")
    plots = tmp_path / "plots"
    process = subprocess.Popen([sys.executable, "-m", "camviewer", "evaluate", *[str(path)] * 200, "--grid", "12",
                                "--whole-model", "--plots", str(plots)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not plots.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err == "camviewer: Interrupted\n"


def test_the_first_ctrl_c_cancels_the_run_and_a_second_interrupts() -> None:
    """The handler raises nothing on the first press, so no interrupt is lost inside a finaliser."""
    from camviewer.cli.interrupt import ctrl_c_cancels
    from camviewer.progress import CancelToken

    token, before = CancelToken(), signal.getsignal(signal.SIGINT)
    with ctrl_c_cancels(token):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert token.cancelled
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is before


def test_every_subcommand_leaves_a_colliding_folder_unchanged(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each command pointed at a folder whose files are its own inputs, named like its outputs."""
    from camviewer.cli.parser import build_parser

    a = good_dcm(folder / "a.dcm")
    second = good_dcm(folder / "image0002__gradcam__0-normal.png")
    plot = good_dcm(folder / "image0002__curves__0-normal.png")
    runs = {
        "info": (["info", str(a)], 0),
        "convert": (["convert", str(a), str(a), "--force"], 1),
        "explain": (["explain", str(a), str(second), "--out", str(folder), "--target", "normal", "--save-maps",
                     "--export", "png,panel,dicom"], 1),
        "evaluate": (["evaluate", str(a), str(plot), "--plots", str(folder), "--grid", "2"], 1),
        "demo-data": (["demo-data", str(folder), "--n", "1", "--size", "64"], 1),
        "batch": (["batch", str(folder), "--out", str(folder), "--grid", "2"], 2),
    }
    commands = next(a.choices for a in build_parser()._actions if getattr(a, "choices", None))
    assert set(runs) == set(commands), "a new sub-command needs its collision case here"
    before = snapshot(folder)
    for args, code in runs.values():
        assert main(args) == code, args
        assert snapshot(folder) == before, args
    capsys.readouterr()


def test_an_absurd_window_is_ignored_and_predictions_stay_finite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(make_dataset(WindowCenter=1e300, WindowWidth=1e300), tmp_path / "w.dcm")
    assert main(["explain", str(path), "--json"]) == 0
    image = json.loads(capsys.readouterr().out)["images"][0]
    assert all(np.isfinite(p["probability"]) for p in image["predictions"])
    assert "invalid windowing in file (ignored)" in image["warnings"]
    assert main(["convert", str(path), str(tmp_path / "o.png"), "--window=1e308,1e308"]) == 2
    assert "Invalid option" in one_line(capsys.readouterr().err)


def test_an_image_that_gives_no_finite_model_input_is_refused() -> None:
    from camviewer.io.grayscale import VoiPreset, Window
    from camviewer.io.image import Metadata, XrayImage
    from camviewer.model.card import InputSpec
    from camviewer.model.preprocess import prepare

    values = np.ones((16, 16), np.float32)
    image = XrayImage(values, (0.0, 1.0), (VoiPreset("w", "user", window=Window(0.5, 1.0)),), 0, False,
                      Metadata("png", 16, 16, 1, 8, "MONOCHROME2"))
    prepare(image, InputSpec((8, 8), 1, (0.5,), (0.25,)))
    with pytest.raises(errors.NoFinitePixelsError, match="not finite"):  # a card whose scale overflows float32
        prepare(image, InputSpec((8, 8), 1, (0.0,), (1e-3,), value_range=(0.0, 3e38)))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need POSIX")
def test_convert_never_opens_a_named_pipe_as_its_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipe = tmp_path / "out.png"
    os.mkfifo(pipe)
    process = subprocess.run([sys.executable, "-m", "camviewer", "convert", str(good_dcm(tmp_path / "g.dcm")), str(pipe)],
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 1 and "not a regular file" in one_line(process.stderr)


@pytest.mark.parametrize("args", [["explain", "--device", "meta"], ["explain", "--device", "bogus"],
                                  ["evaluate", "--sensitivity", "1e300,1"], ["explain", "--layer", "no.such"]])
def test_devices_layers_and_radii_are_usage_errors(tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([args[0], str(good_dcm(tmp_path / "g.dcm")), *args[1:]]) == 2
    err = one_line(capsys.readouterr().err)
    assert "Invalid option" in err and (args[1] in err or "argument" in err)


@pytest.mark.parametrize("args", [["explain", "--out", "{tmp}/new/deep", "--target", "Pneumothorax", "--json"],
                                  ["evaluate", "--plots", "{tmp}/new", "--perturb", "blur:1000", "--json"],
                                  ["evaluate", "--plots", "{tmp}/new", "--grid", "500"]])
def test_what_needs_the_model_is_refused_before_folders_or_output(tmp_path: Path, args: list[str],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    arguments = [a.format(tmp=tmp_path) for a in args]
    assert main([arguments[0], str(good_dcm(tmp_path / "g.dcm")), *arguments[1:]]) == 2
    captured = capsys.readouterr()
    assert not captured.out and "Invalid option" in one_line(captured.err) and not (tmp_path / "new").exists()


def test_stems_are_refused_up_front_whatever_their_edges_and_bounded_in_length(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    good_dcm(folder / "a_.png")
    good_dcm(folder / "a__panel.png")
    before = snapshot(folder)
    monkeypatch.setattr(engine_explain, "load_image", lambda *a: pytest.fail("work started"))
    assert main(["explain", str(folder / "a_.png"), str(folder / "a__panel.png"), "--out", str(folder),
                 "--names-from-input", "--export", "panel"]) == 1
    assert "would replace" in one_line(capsys.readouterr().err) and snapshot(folder) == before
    monkeypatch.undo()
    long = good_dcm(tmp_path / ("L" * 240 + ".dcm"))
    assert main(["explain", str(long), "--out", str(tmp_path / "o"), "--names-from-input", "--export", "png,panel,dicom",
                 "--save-maps", "--json"]) == 0
    names = [p.name for p in (tmp_path / "o").iterdir()]
    assert len(names) == 5 and max(len(n) for n in names) < 200


def test_the_model_card_and_weights_are_inputs_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    card = write_model(folder).rename(folder / "image0001__panel.png")
    before = snapshot(folder)
    assert main(["explain", str(good_dcm(tmp_path / "g.dcm")), "--model", str(card), "--out", str(folder),
                 "--export", "panel"]) == 1
    assert "would replace" in one_line(capsys.readouterr().err) and snapshot(folder) == before


def test_repeated_list_values_count_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(good_dcm(tmp_path / "g.dcm")), "--methods", "gradcam,gradcam, gradcam", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["images"][0]["explanations"]) == 1
