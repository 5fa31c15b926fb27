"""Resident memory of a long batch run: flat in the number of images.

    .venv/bin/python bench/bench_batch_memory.py [--images 2000] [--size 256] [--workers 1]

Writes ``--images`` demo phantoms (PNG, ``--size`` px; in a child process, so that generating
them leaves nothing in this one's heap for forked workers to inherit) and runs ``run_batch`` on them (gradcam and
hirescam, AOPC on a 9x9 grid) while sampling the resident memory of this process and its worker
processes after every journal write: their summed proportional set size (PSS, /proc/PID/smaps_rollup),
which counts a page the forked workers share with the driver once. Prints it at image 100, at the
end, the growth between them (target < 50 MB), and the peak, sampled every 0.2 s from start to
finish (the reports written at the end included), and the curve at every tenth of the run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import threading
from pathlib import Path

from camviewer.batch.executor import ModelLoad
from camviewer.batch.run import BatchRequest, run_batch
from camviewer.phantom.demo_data import write_demo_folder
from camviewer.progress import Progress


def pss_mib(pid: int) -> float:
    """Proportional set size: each shared page counted once over the processes sharing it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fp:
            return next(int(line.split()[1]) for line in fp if line.startswith("Pss:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def family_pss_mib() -> float:
    """This process and its children (the worker processes)."""
    me = os.getpid()
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fp:
                    if int(fp.read().rsplit(")", 1)[1].split()[1]) == me:
                        children.append(int(entry))
            except OSError:
                continue
    return pss_mib(me) + sum(pss_mib(c) for c in children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    samples: dict[int, float] = {}
    peak = [0.0]
    stop = threading.Event()

    def sample(update: Progress) -> None:
        samples[update.done] = family_pss_mib()

    def watch() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], family_pss_mib())

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "folder"
        write = multiprocessing.get_context("spawn").Process(target=write_demo_folder, args=(folder, args.images, args.size, 3, ("png",)))
        write.start()
        write.join()
        request = BatchRequest(folder / "images", Path(tmp) / "out", ("gradcam", "hirescam"), (9,), workers=args.workers)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            outcome = run_batch(request, ModelLoad(None, False, "cpu"), progress=sample)
        finally:
            stop.set()
            watcher.join()
    at_100 = samples[min(k for k in samples if k >= 100)]
    end = samples[max(samples)]
    print(f"{outcome.rows} images ({outcome.ok} ok), workers {args.workers or 'auto'}; resident memory (PSS) of the process and its workers:")
    print(f"  at image 100: {at_100:.1f} MiB, at the end: {end:.1f} MiB, growth {end - at_100:+.1f} MiB (target < 50 MB)")
    print(f"  peak: {peak[0]:.1f} MiB (reports included); {len(samples)} samples after journal writes")
    steps = sorted(samples)
    marks = [steps[min(len(steps) - 1, round(k * (len(steps) - 1) / 10))] for k in range(11)]
    print("  images done: " + "  ".join(f"{done}: {samples[done]:.0f}" for done in marks) + " (MiB)")


if __name__ == "__main__":
    main()
