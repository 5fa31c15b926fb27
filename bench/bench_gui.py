"""The desktop window's responsiveness with the default demo model, in one process.

    xvfb-run -a -s "-screen 0 1400x1000x24" env QT_QPA_PLATFORM=xcb .venv/bin/python bench/bench_gui.py [--repeats 7] [--frames 120]
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py

It builds a Viewer (1400x900, private settings file) and prints the median of ``--repeats`` of:
open a 2000x2500 16-bit MONOCHROME2 DICOM (a new file each time) until the radiograph is painted,
and until the predictions and the first heatmap are painted (target < 1.5 s); a switch between
the five cached CAMs until the new overlay is painted (< 100 ms); and the frame rate of a
window/level drag on a 3000x3000 image, each frame painted synchronously (>= 30 fps), against a
plain pyqtgraph ImageItem fed float32 with setLevels per frame in a same-size widget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pyqtgraph as pg
import torch
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from camviewer.gui.app import Viewer
from camviewer.gui.image_view import ImageView
from camviewer.gui.jobs import LoadModel

SAMPLE = Path(__file__).resolve().parents[1] / "resources" / "samples" / "phantom_effusion.dcm"
FIVE = ["gradcam", "hirescam", "gradcampp", "xgradcam", "layercam"]
WINDOW = (1400, 900)
TIMEOUT = 120.0


def make_dicom(path: Path, columns: int, rows: int, seed: int) -> Path:
    """The effusion phantom resized to ``columns`` x ``rows``, 16-bit MONOCHROME2, Explicit VR Little Endian."""
    ds = pydicom.dcmread(SAMPLE)
    top = (1 << int(ds.BitsStored)) - 1
    scale, flip = 65535 / top, ds.PhotometricInterpretation == "MONOCHROME1"  # MONOCHROME2 keeps what a person sees
    pixels = ds.pixel_array.astype(np.float32)
    pixels = top - pixels if flip else pixels
    centres = [((top - c) if flip else c) * scale for c in np.atleast_1d(np.asarray(ds.WindowCenter, dtype=float))]
    ds.WindowCenter = [round(c, 1) for c in centres]
    ds.WindowWidth = [round(w * scale, 1) for w in np.atleast_1d(np.asarray(ds.WindowWidth, dtype=float))]
    resized = cv2.resize(pixels * scale, (columns, rows), interpolation=cv2.INTER_LINEAR)
    resized += np.random.default_rng(seed).normal(0, 40, resized.shape).astype(np.float32)  # a new picture every time
    data = np.clip(np.rint(resized), 0, 65535).astype(np.uint16)
    spacing = [float(s) for s in ds.PixelSpacing]
    ds.PixelSpacing = [spacing[0] * ds.Rows / rows, spacing[1] * ds.Columns / columns]
    ds.Rows, ds.Columns = rows, columns
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = data.tobytes()
    ds["PixelData"].VR = "OW"
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(path, enforce_file_format=True)
    return path


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Run the event loop until ``condition()`` (the GIL released between rounds, as qtbot does)."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not get there in time")
        QApplication.processEvents()
        time.sleep(0.0005)


def painted(view: ImageView, condition: Callable[[], bool]) -> bool:
    """Flush the scene's pending updates, paint the view synchronously, then test ``condition``."""
    QApplication.processEvents()
    view.repaint()
    return condition()


def count_paints(item: pg.ImageItem) -> list[int]:
    """Count ``item.paint`` calls (to check that a repaint really drew the image)."""
    calls, paint = [0], item.paint

    def counted(*args: object) -> None:
        calls[0] += 1
        paint(*args)

    item.paint = counted  # type: ignore[method-assign]
    return calls


def open_and_show(viewer: Viewer, path: Path, shape: tuple[int, int]) -> tuple[float, float]:
    """Seconds from ``open`` to the radiograph painted, and to the predictions and first heatmap painted."""
    state, main = viewer.state, viewer.window.canvas.main
    start = time.perf_counter()
    state.open((path,))
    wait_until(lambda: state.view.image is not None and painted(main, lambda: main.base.isVisible() and main.base.image is not None
                                                              and main.base.image.shape == shape))
    image = time.perf_counter() - start
    wait_until(lambda: state.view.result is not None and painted(main, main.heat.isVisible))
    return image, time.perf_counter() - start


def switch_times(viewer: Viewer, repeats: int) -> list[float]:
    """Seconds per cached method switch until the new overlay is painted, cycling the five CAMs."""
    state, main, times = viewer.state, viewer.window.canvas.main, []
    for k in range(repeats * len(FIVE)):
        method = FIVE[(FIVE.index(state.view.method) + 1) % len(FIVE)]
        before = main.heat.image
        start = time.perf_counter()
        state.update(method=method)
        QApplication.processEvents()
        main.repaint()
        times.append(time.perf_counter() - start)
        assert state.view.busy is None and main.heat.isVisible() and main.heat.image is not before, f"switch {k} to {method} recomputed"
    return times


def drag_fps(view: pg.GraphicsLayoutWidget, item: pg.ImageItem, frame: Callable[[int], None], frames: int) -> tuple[float, int]:
    """Frames per second of ``frame(k)`` each followed by a synchronous paint; and the image paints counted."""
    calls = count_paints(item)
    frame(0)
    painted(view, lambda: True)  # warm-up frame
    calls[0] = 0
    start = time.perf_counter()
    for k in range(frames):
        frame(k)
        QApplication.processEvents()
        view.repaint()
    return frames / (time.perf_counter() - start), calls[0]


def drag_offsets(k: int) -> tuple[float, float]:
    return 200.0 * np.sin(k / 6.0) + 20.0 * (k % 7), 80.0 * np.cos(k / 9.0)


def anchor_fps(values: np.ndarray, size: tuple[int, int], frames: int) -> tuple[float, int]:
    """A naive viewer: a plain ImageItem on the float32 values, levels set per frame."""
    widget = pg.GraphicsLayoutWidget()
    box = widget.addViewBox(lockAspect=True, invertY=True)
    item = pg.ImageItem(values, axisOrder="row-major")
    box.addItem(item)
    widget.resize(*size)
    widget.show()
    box.autoRange(padding=0.0)
    low, high = float(values.min()), float(values.max())

    def frame(k: int) -> None:
        dx, dy = drag_offsets(k)
        centre, width = (low + high) / 2 + dy * (high - low) / 1000, (high - low) * (0.5 + dx / 1000)
        item.setLevels((centre - width / 2, centre + width / 2))

    try:
        return drag_fps(widget, item, frame, frames)
    finally:
        widget.close()


def spread(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1e3:.1f} ms ({min(seconds) * 1e3:.0f}-{max(seconds) * 1e3:.0f})"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--frames", type=int, default=120)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        viewer = Viewer((), LoadModel(), QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
        viewer.window.resize(*WINDOW)
        viewer.window.show()
        wait_until(lambda: viewer.state.view.model is not None)
        main_view = viewer.window.canvas.main
        print(f"platform {app.platformName()}, {os.cpu_count()} CPUs, torch {torch.__version__} threads {torch.get_num_threads()}, "
              f"model {viewer.state.view.model.name}, window {viewer.window.width()}x{viewer.window.height()}, "
              f"main view {main_view.width()}x{main_view.height()}, median of {args.repeats}")
        open_and_show(viewer, make_dicom(tmp / "warm.dcm", 2000, 2500, seed=99), (2500, 2000))  # warm-up, not counted
        opened = [open_and_show(viewer, make_dicom(tmp / f"open{k}.dcm", 2000, 2500, seed=k), (2500, 2000)) for k in range(args.repeats)]
        to_image, to_heat = ([t[i] for t in opened] for i in (0, 1))
        switches = switch_times(viewer, args.repeats)

        open_and_show(viewer, make_dicom(tmp / "big.dcm", 3000, 3000, seed=7), (3000, 3000))
        wait_until(lambda: viewer.state.view.busy is None)
        ours, ours_paints = drag_fps(main_view, main_view.base, lambda k: main_view.box.window_drag.emit(*drag_offsets(k), k == 0),
                                     args.frames)
        assert viewer.state.view.window is not None, "the drag did not set a window"
        values = viewer.state.view.image.values
        anchor, anchor_paints = anchor_fps(values, (main_view.width(), main_view.height()), args.frames)
        viewer.window.close()
        viewer.host.shutdown()

    rows = [("open 2000x2500 -> image painted", spread(to_image), "-", ""),
            ("open 2000x2500 -> predictions + heatmap painted", spread(to_heat), "< 1500 ms", verdict(statistics.median(to_heat) < 1.5)),
            ("cached CAM switch -> overlay painted", spread(switches), "< 100 ms", verdict(statistics.median(switches) < 0.1)),
            ("W/L drag 3000x3000, camviewer", f"{ours:.1f} fps", ">= 30 fps", verdict(ours >= 30)),
            ("W/L drag 3000x3000, plain ImageItem float32", f"{anchor:.1f} fps", "anchor", ""),
            ("camviewer / anchor", f"{ours / anchor:.2f}x", "-", "")]
    print(f"{'measure':<50}{'median (min-max)':>24}{'target':>12}{'':>6}")
    for name, value, target, ok in rows:
        print(f"{name:<50}{value:>24}{target:>12}{ok:>6}")
    print(f"image paints during {args.frames} drag frames: camviewer {ours_paints}, anchor {anchor_paints}")


if __name__ == "__main__":
    main()
