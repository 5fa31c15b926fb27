"""Batch throughput: ``run_batch`` on a generated folder against a plain loop over single images
using the same engine functions, in one process, on the same files.

    .venv/bin/python bench/bench_batch.py [--images 200] [--methods gradcam,hirescam] [--grid 9] [--device cpu] [--workers N]

The folder holds ``--images`` demo phantoms (512 px, half DICOM, half PNG). The plain loop runs,
for each file in turn, ``run_evaluate`` with one image (read, predict, explain, MoRF curve on the
grid), with the same model session, methods, grid, perturbation (gaussian:0.1) and seed. The
batch run adds what the batch engine does: files read ahead of inference, chunks explained in one
pass, the curves' forward passes shared across a chunk's images, worker processes on a CPU, the
journal and every report (results.csv, summary.json, report.html, maps.zip).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from camviewer.batch.executor import ModelLoad
from camviewer.batch.run import BatchRequest, run_batch
from camviewer.engine import EvaluateRequest, ModelSession, run_evaluate
from camviewer.model.build import load_model
from camviewer.phantom.demo_data import write_demo_folder


def images_of(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "images").iterdir() if p.is_file())


def plain_loop(files: list[Path], methods: tuple[str, ...], grid: int, device: str) -> float:
    """Seconds for one run_evaluate per file, in turn."""
    session = ModelSession(load_model(None, device=device))
    list(run_evaluate(EvaluateRequest((files[0],), methods, grid=grid), session))  # warm-up (split found, caches)
    start = time.perf_counter()
    for path in files:
        list(run_evaluate(EvaluateRequest((path,), methods, grid=grid), session))
    return time.perf_counter() - start


def batch_run(folder: Path, out: Path, methods: tuple[str, ...], grid: int, device: str, workers: int | None) -> tuple[float, int]:
    start = time.perf_counter()
    outcome = run_batch(BatchRequest(folder / "images", out, methods, (grid,), workers=workers), ModelLoad(None, False, device))
    return time.perf_counter() - start, outcome.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--methods", default="gradcam,hirescam")
    parser.add_argument("--grid", type=int, default=9)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=None, help="batch worker processes (default: the engine's choice)")
    args = parser.parse_args()
    methods = tuple(args.methods.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "folder"
        write_demo_folder(folder, n=args.images // 2, size=512, seed=7)
        files = images_of(folder)
        device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
        print(f"{len(files)} images, methods {args.methods}, AOPC on a {args.grid}x{args.grid} grid, device {device_name}")
        batch_seconds, ok = batch_run(folder, Path(tmp) / "out", methods, args.grid, args.device, args.workers)
        loop_seconds = plain_loop(files, methods, args.grid, args.device)
        print(f"plain loop : {loop_seconds:7.1f} s  {len(files) / loop_seconds:6.2f} images/s")
        print(f"batch      : {batch_seconds:7.1f} s  {len(files) / batch_seconds:6.2f} images/s  ({ok} ok, reports included)")
        print(f"batch / plain loop: {loop_seconds / batch_seconds:.2f}x")


if __name__ == "__main__":
    main()
