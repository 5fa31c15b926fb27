"""Peak memory of ``camviewer explain --export png,dicom`` per source pixel, on large 16-bit DICOMs.

    .venv/bin/python bench/bench_export_memory.py [--sizes 8192 16384] [--stages]

For each size N a 16-bit MONOCHROME2 DX image of N x N (a phantom chest, enlarged, with detector
noise; uncompressed, window in the file) is written to a temporary folder, and

    python -m camviewer explain BIG.dcm --out DIR --export png,dicom --methods gradcam

runs in a child process (the default model: the demo model). Reported: the child's peak RSS minus
the peak RSS of the same command on a 256 x 256 image, divided by N², i.e. bytes per source pixel,
and the wall time. ``--stages`` also measures reading the image alone and ``explain`` without
exports, so that the decode's and the exports' shares can be told apart.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset

from camviewer.phantom.generate import generate

ROOT = Path(__file__).resolve().parents[1]
TINY = 256
BITS = 12
DX_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
BAND_ROWS = 1024


def stored_pixels(size: int, seed: int = 3) -> np.ndarray:
    """A phantom chest enlarged to size x size, with fresh per-pixel noise, as 12-bit uint16 values."""
    small = generate(seed, "nodule", 1024).pixels
    rng = np.random.default_rng(seed)
    out = np.empty((size, size), np.uint16)
    top = (1 << BITS) - 1
    for start in range(0, size, BAND_ROWS):
        stop = min(size, start + BAND_ROWS)
        ys = (np.arange(start, stop, dtype=np.float32) + 0.5) * 1024 / size - 0.5
        xs = (np.arange(size, dtype=np.float32) + 0.5) * 1024 / size - 0.5
        band = cv2.remap(small, *np.meshgrid(xs, ys), interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        band += rng.standard_normal(band.shape, dtype=np.float32) * 0.01
        out[start:stop] = np.rint(np.clip(band, 0.0, 1.0) * top).astype(np.uint16)
    return out


def write_dicom(path: Path, size: int) -> Path:
    """An uncompressed DX For Presentation file with a lung window."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = DX_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = uid.generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = DX_PRESENTATION, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid.generate_uid(), uid.generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID, ds.BodyPartExamined = "DX", "BENCH^PHANTOM", "BENCH", "CHEST"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.set_pixel_data(stored_pixels(size), "MONOCHROME2", BITS, generate_instance_uid=False)
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = 0, 1, "US"
    ds.WindowCenter, ds.WindowWidth = 2048, 3800
    ds.save_as(path, enforce_file_format=True)
    return path


def peak_rss(command: list[str]) -> tuple[int, float]:
    """The child's peak resident set (bytes) and its wall time (seconds)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[-8:])} exited with {child.returncode}: {error.strip()[-500:]}")
    return usage.ru_maxrss * 1024, wall


def commands(source: Path, out: Path) -> dict[str, list[str]]:
    explain = [sys.executable, "-m", "camviewer", "explain", str(source), "--out", str(out), "--methods", "gradcam"]
    read = [sys.executable, "-c", f"from camviewer.io import load_image; load_image({str(source)!r})"]
    return {"read": read, "explain": explain, "export": [*explain, "--export", "png,dicom"]}


def measure(folder: Path, size: int, stages: tuple[str, ...]) -> dict[str, tuple[int, float]]:
    source = write_dicom(folder / f"big{size}.dcm", size)
    try:
        chosen = commands(source, folder / f"out{size}")
        return {stage: peak_rss(chosen[stage]) for stage in stages}
    finally:
        source.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8192, 16384])
    parser.add_argument("--stages", action="store_true", help="also measure reading alone and explain without exports")
    args = parser.parse_args()
    stages = ("read", "explain", "export") if args.stages else ("export",)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = measure(folder, TINY, stages)
        for stage in stages:
            print(f"{TINY}² {stage}: peak {base[stage][0] / 2**20:.0f} MiB, {base[stage][1]:.1f} s")
        for size in args.sizes:
            for stage, (rss, wall) in measure(folder, size, stages).items():
                per_pixel = (rss - base[stage][0]) / size**2
                print(f"{size}² {stage}: peak {rss / 2**30:.2f} GiB, {per_pixel:.1f} B/source px, {wall:.1f} s")


if __name__ == "__main__":
    main()
