"""The application bundle, built and started (minutes: runs only with CAMVIEWER_BUNDLE_TEST=1, e.g.
``CAMVIEWER_BUNDLE_TEST=1 bash .ci/run``): ``--self-test`` from the bundle headless, its window
under Xvfb when Xvfb is present, and a batch run with its worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("CAMVIEWER_BUNDLE_TEST") != "1", reason="builds the bundle: set CAMVIEWER_BUNDLE_TEST=1"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle"),
    pytest.mark.timeout(3600),
]


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    built = subprocess.run(["bash", str(ROOT / "installer" / "build.sh"), "--dist", str(dist)], env={**os.environ, "PYTHON": sys.executable},
                           capture_output=True, text=True, timeout=3600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    print(f"\nbundle built in {time.monotonic() - started:.0f} s: {built.stdout.strip().splitlines()[-1]}")
    return dist / "camviewer" / "camviewer"


def headless() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")} | {"QT_QPA_PLATFORM": "offscreen"}


def test_the_bundle_passes_its_self_test_headless(program: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(program), "--self-test"], cwd=tmp_path, env=headless(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "self-test passed: 4 checks"
    assert str(program.parent) in done.stdout.splitlines()[0], "the bundled files come from inside the bundle"
    assert not any(tmp_path.iterdir()), "nothing is written where it runs"


def test_the_bundle_runs_a_batch_with_worker_processes(program: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("phantom_effusion.dcm", "phantom_normal.png", "phantom_nodule.dcm"):
        shutil.copy(ROOT / "resources" / "samples" / name, folder)
    done = subprocess.run([str(program), "batch", str(folder), "--grid", "3", "--workers", "2"], env=headless(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 rows: 3 ok") and (tmp_path / "in-camviewer" / "report.html").is_file()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (xvfb-run)")
def test_the_bundle_opens_its_window_under_xvfb(program: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"} | {"QT_QPA_PLATFORM": "xcb", "HOME": str(tmp_path)}
    sample = ROOT / "resources" / "samples" / "phantom_effusion.dcm"
    window = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", str(program), str(sample)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(20)
        assert window.poll() is None, window.communicate()[1]
    finally:
        os.killpg(window.pid, signal.SIGTERM)  # xvfb-run, Xvfb and the window
        _, stderr = window.communicate(timeout=60)
    assert "Traceback" not in stderr and "no display" not in stderr, stderr
    assert (tmp_path / ".config" / "camviewer").is_dir(), "the window's settings go to the per-user config folder"
