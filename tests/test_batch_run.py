"""``run_batch`` end to end on generated folders: rows and reasons, the input folder untouched,
resume after SIGKILL equal to an uninterrupted run, summary equal to results.csv, a valid
self-contained report, configuration changes start new runs."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bad_inputs as bad
import html5lib
import numpy as np
import pytest

from camviewer import errors
from camviewer.batch import workers
from camviewer.batch.executor import ModelLoad
from camviewer.batch.run import CHUNK_IMAGES, BatchOutcome, BatchRequest, run_batch
from camviewer.batch.work import Outcome, Task, noise_key
from camviewer.engine import EvaluateRequest, ModelSession
from camviewer.engine.evaluate import measure_explained
from camviewer.engine.explain import run_explain
from camviewer.io import load_image
from camviewer.model.build import load_model
from camviewer.phantom.demo_data import write_demo_folder

SAMPLES = Path(__file__).resolve().parents[1] / "resources" / "samples"
CPU = ModelLoad(None, False, "cpu")
CLI = [sys.executable, "-m", "camviewer"]


def snapshot(folder: Path) -> dict[str, tuple[str, int, int] | str]:
    """Every entry under ``folder`` (links not followed): content hash, size and mtime, or the link target."""
    out: dict[str, tuple[str, int, int] | str] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                info = path.stat()
                out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), info.st_size, info.st_mtime_ns)
            else:
                out[rel] = "dir"
    return out


def mixed_folder(root: Path) -> tuple[Path, dict[str, str]]:
    """Good DICOM/PNG files (one without extension), catalogue bad files, a text file, a hidden
    file, and a link out of the folder; returns the folder and each row's expected status."""
    folder = root / "in"
    for sub in ("a", "b/c", "bad"):
        (folder / sub).mkdir(parents=True)
    shutil.copy(SAMPLES / "phantom_effusion.dcm", folder / "a" / "effusion.dcm")
    shutil.copy(SAMPLES / "phantom_normal.png", folder / "a" / "normal.png")
    shutil.copy(SAMPLES / "phantom_nodule.dcm", folder / "b" / "c" / "IM0001")
    shutil.copy(SAMPLES / "chest_cr_mono1_j2k.dcm", folder / "chest.dcm")
    made = [bad.make_d1(folder / "bad"), bad.make_d3(folder / "bad"), bad.make_d7(folder / "bad"), bad.make_p1(folder / "bad")]
    (folder / "notes.txt").write_text("not an image")
    shutil.copy(SAMPLES / "phantom_normal.png", folder / ".hidden.png")
    outside = root / "outside"
    outside.mkdir()
    shutil.copy(SAMPLES / "phantom_normal.png", outside / "x.png")
    (folder / "link.png").symlink_to(outside / "x.png")
    expected = {"a/effusion.dcm": "ok", "a/normal.png": "ok", "b/c/IM0001": "ok", "chest.dcm": "ok", "link.png": "failed:outside-folder"}
    for path in made:
        with pytest.raises(errors.InputError) as caught:
            load_image(path)
        expected[str(path.relative_to(folder))] = f"failed:{caught.value.reason}"
    return folder, expected


def read_rows(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open(newline="") as fp:
        return list(csv.DictReader(fp))


def test_a_mixed_folder_gives_a_row_per_image_with_its_reason_and_leaves_the_folder_untouched(tmp_path: Path) -> None:
    folder, expected = mixed_folder(tmp_path)
    before = snapshot(folder)
    outcome = run_batch(BatchRequest(folder, tmp_path / "out", ("gradcam", "hirescam"), (3,), workers=1), CPU)
    assert snapshot(folder) == before
    rows = read_rows(tmp_path / "out")
    assert {r["path"]: r["status"] for r in rows} == expected
    assert [r["path"] for r in rows] == sorted(expected)
    assert outcome.complete and outcome.rows == len(expected) and outcome.failed == sum(s != "ok" for s in expected.values())
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(r["aopc_gradcam"] and r["aopc_hirescam"] and r["predicted_label"] for r in ok)
    assert all(not r["aopc_gradcam"] for r in rows if r["status"] != "ok")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["counts"]["ok"] == 4 and sum(summary["counts"]["failed"].values()) == len(expected) - 4
    assert not any(p.name.startswith(".") and p.suffix == ".part" for p in (tmp_path / "out").iterdir())


def test_each_row_is_the_engines_evaluation_of_that_image_alone(tmp_path: Path) -> None:
    """Shared forward passes across a chunk change nothing: each row's AOPC equals the image measured
    on its own, with the row's noise key."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("phantom_effusion.dcm", "phantom_nodule.png", "phantom_normal.dcm"):
        shutil.copy(SAMPLES / name, folder / name)
    run_batch(BatchRequest(folder, tmp_path / "out", ("gradcam", "lrp-epf"), (4,), seed=3, workers=1), CPU)
    session = ModelSession(load_model(None, device="cpu"))
    for row in read_rows(tmp_path / "out"):
        request = EvaluateRequest((folder / row["path"],), ("gradcam", "lrp-epf"), grid=4, seed=3)
        explained = list(run_explain(request.explanation(), session))
        (evaluation,) = measure_explained(request, session, explained, [noise_key(row["path"])])
        assert float(row["aopc_gradcam"]) == pytest.approx(evaluation.curves[0].aopc, abs=1e-6)
        assert float(row["aopc_lrp-epf"]) == pytest.approx(evaluation.curves[1].aopc, abs=1e-6)


def demo_folder(root: Path, n: int) -> Path:
    """``n`` labelled phantom PNGs (their masks removed: a folder of images only)."""
    folder = root / "demo"
    write_demo_folder(folder, n=n, size=96, seed=1, formats=("png",))
    shutil.rmtree(folder / "masks")
    return folder


def batch_cli(folder: Path, out: Path, *extra: str) -> list[str]:
    return [*CLI, "batch", str(folder), "--out", str(out), "--methods", "gradcam,hirescam", "--grid", "5",
            "--labels", str(folder / "labels.csv"), "--device", "cpu", "--workers", "1", *extra]


def journal_rows(out: Path) -> int:
    try:
        with sqlite3.connect(out / "journal.sqlite", timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_a_run_killed_mid_way_and_resumed_gives_exactly_the_rows_of_an_uninterrupted_run(tmp_path: Path) -> None:
    folder = demo_folder(tmp_path, 24)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    subprocess.run(batch_cli(folder, whole), check=True, capture_output=True, timeout=600)
    child = subprocess.Popen(batch_cli(folder, resumed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while journal_rows(resumed) < 6 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    kept = journal_rows(resumed)
    assert 0 < kept < 24, "the run must be killed mid-way"
    done = subprocess.run(batch_cli(folder, resumed), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"{24 - kept} computed now, {kept} from before" in done.stdout
    assert (resumed / "results.csv").read_bytes() == (whole / "results.csv").read_bytes()
    first, second = (json.loads((o / "summary.json").read_text()) for o in (whole, resumed))
    assert {k: v for k, v in first.items() if k != "run"} == {k: v for k, v in second.items() if k != "run"}


def test_ctrl_c_finishes_cleanly_with_a_resumable_journal(tmp_path: Path) -> None:
    folder = demo_folder(tmp_path, 24)
    out = tmp_path / "out"
    child = subprocess.Popen(batch_cli(folder, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while journal_rows(out) < 4 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    assert child.returncode == 130, stderr
    assert "run the same command again to continue" in stderr
    assert "incomplete" in (out / "report.html").read_text().lower()
    again = subprocess.run(batch_cli(folder, out), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert len(read_rows(out)) == 24


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BatchOutcome]:
    root = tmp_path_factory.mktemp("labelled")
    folder = root / "demo"
    write_demo_folder(folder, n=10, size=128, seed=2, formats=("png", "dcm"))
    request = BatchRequest(folder, root / "out", ("gradcam", "hirescam", "lrp-epf"), (3, 4), seed=1, haas=True,
                           labels=folder / "labels.csv", masks=folder / "masks", workers=1)
    return root / "out", run_batch(request, CPU)


def test_the_summary_equals_what_results_csv_gives(labelled_run: tuple[Path, BatchOutcome]) -> None:
    out, _ = labelled_run
    rows = read_rows(out)
    summary = json.loads((out / "summary.json").read_text())
    ok = [r for r in rows if r["status"] == "ok"]
    correct = [r["correct"] == "true" for r in ok]
    assert summary["classification"]["accuracy"] == pytest.approx(np.mean(correct), abs=1e-12)
    for method in summary["methods"]:
        for k, grid in enumerate(summary["methods"][method]["grids"]):
            column = f"aopc_{method}_grid{grid['grid']}" if k else f"aopc_{method}"
            values = [float(r[column]) for r in ok]
            assert grid["aopc_mean"] == pytest.approx(np.mean(values), abs=1e-12)
            right = [float(r[column]) for r in ok if r["correct"] == "true"]
            assert grid["aopc_mean_correct"] == pytest.approx(np.mean(right), abs=1e-12)
            assert len(grid["morf_curve_mean"]) == grid["grid"] ** 2 + 1
        assert summary["methods"][method]["haas"]["haas"] is not None
        located = summary["methods"][method]["localisation"]
        assert located["n"] == sum(1 for r in ok if r[f"pointing_{method}"])
        assert located["pointing_game"] == pytest.approx(np.mean([r[f"pointing_{method}"] == "true" for r in ok if r[f"pointing_{method}"]]))


def test_the_report_is_valid_self_contained_html_and_the_maps_are_archived(labelled_run: tuple[Path, BatchOutcome]) -> None:
    out, outcome = labelled_run
    text = (out / "report.html").read_text()
    html5lib.HTMLParser(strict=True).parse(text)
    assert "http://" not in text and "https://" not in text
    for attribute in ("src=", "href="):
        for piece in text.split(attribute)[1:]:
            assert piece[1:].startswith(("data:", "#")), piece[:40]
    with zipfile.ZipFile(out / "maps.zip") as archive:
        names = archive.namelist()
    assert len(names) == 3 * outcome.ok


def test_a_changed_configuration_starts_a_new_run_and_resume_needs_one(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "phantom_effusion.png", folder)
    out = tmp_path / "out"
    with pytest.raises(errors.UsageError, match="no run with this configuration"):
        run_batch(BatchRequest(folder, out, grids=(3,), workers=1, resume=True), CPU)
    assert not out.exists(), "a resume with nothing to resume writes nothing"
    first = run_batch(BatchRequest(folder, out, grids=(3,), workers=1), CPU)
    again = run_batch(BatchRequest(folder, out, grids=(3,), workers=1, resume=True), CPU)
    assert (first.computed, again.computed, again.resumed) == (1, 0, 1)
    other = run_batch(BatchRequest(folder, out, grids=(4,), workers=1), CPU)
    assert other.computed == 1
    with pytest.raises(errors.UsageError, match="no run with this configuration"):
        run_batch(BatchRequest(folder, out, grids=(5,), workers=1, resume=True), CPU)
    with sqlite3.connect(out / "journal.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2


def test_an_output_folder_inside_the_input_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(SAMPLES / "phantom_effusion.png", folder)
    before = snapshot(folder)
    with pytest.raises(errors.UsageError, match="outside"):
        run_batch(BatchRequest(folder, folder / "out", workers=1), CPU)
    assert snapshot(folder) == before


def batch_in_thread(request: BatchRequest) -> BatchOutcome:
    """``run_batch`` driven from a thread other than the main one, as the window drives it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_batch, request, CPU).result()


@pytest.mark.parametrize("start", ["main-thread", "other-thread", "not-linux"])
def test_worker_processes_give_the_rows_of_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: str) -> None:
    """Forked workers (Linux, main thread), a forkserver's (Linux, another thread) and spawned ones
    (other systems: each loads the model) give the rows of a run in this process."""
    if start == "not-linux":
        monkeypatch.setattr(workers, "sys", SimpleNamespace(platform="darwin"))
    elif not sys.platform.startswith("linux"):
        pytest.skip("fork and forkserver are used on Linux only")
    folder = demo_folder(tmp_path, 10)
    local = run_batch(BatchRequest(folder, tmp_path / "local", ("gradcam",), (4,), workers=1), CPU)
    request = BatchRequest(folder, tmp_path / "spread", ("gradcam",), (4,), workers=2)
    spread = batch_in_thread(request) if start == "other-thread" else run_batch(request, CPU)
    assert local.rows == spread.rows == 10
    first, second = read_rows(tmp_path / "local"), read_rows(tmp_path / "spread")
    assert [r["path"] for r in first] == [r["path"] for r in second]
    for a, b in zip(first, second):
        assert a["predicted_label"] == b["predicted_label"]
        assert float(a["aopc_gradcam"]) == pytest.approx(float(b["aopc_gradcam"]), abs=1e-5)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs forked workers, which inherit the patched function")
def test_a_worker_that_dies_fails_only_its_image_and_a_resumed_run_tries_it_again(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = demo_folder(tmp_path, CHUNK_IMAGES + 2)
    victim = sorted(str(p.relative_to(folder)) for p in (folder / "images").iterdir())[1]
    evaluate_tasks = workers.evaluate_tasks

    def dies_on_the_victim(tasks: list[Task], *args: Any) -> list[Outcome]:
        if any(t.entry.path == victim for t in tasks):
            os._exit(3)
        return evaluate_tasks(tasks, *args)

    monkeypatch.setattr(workers, "evaluate_tasks", dies_on_the_victim)
    request = BatchRequest(folder, tmp_path / "out", ("gradcam",), (3,), workers=2)
    outcome = run_batch(request, CPU)
    status = {r["path"]: r["status"] for r in read_rows(tmp_path / "out")}
    assert status.pop(victim) == "failed:worker-crashed" and set(status.values()) == {"ok"}
    assert outcome.complete and outcome.rows == CHUNK_IMAGES + 2 and outcome.failed == 1
    monkeypatch.setattr(workers, "evaluate_tasks", evaluate_tasks)
    again = run_batch(request, CPU)
    assert (again.computed, again.resumed, again.failed) == (1, CHUNK_IMAGES + 1, 0)
