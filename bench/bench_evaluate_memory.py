"""Memory of an evaluation run against the number of images: it must stay flat.

    .venv/bin/python bench/bench_evaluate_memory.py [--images 500] [--every 50]

Writes N synthetic phantoms (256 px PNG, ``camviewer demo-data``) to a temporary folder, then
runs the engine's ``run_evaluate`` on them with the default demo model (HiResCAM, 9x9 grid, MoRF,
Gaussian sigma 0.1) and prints the process's resident memory every ``--every`` images, the
growth per image between the first and the last report, and the time per image. For reference it
also prints what the results themselves would take if a caller kept all of them (they are dropped
here, as the command line does: it prints each image's document as it comes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from camviewer.engine import EvaluateRequest, ModelSession, run_evaluate
from camviewer.model.build import load_model
from camviewer.phantom.demo_data import write_demo_folder


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_demo_folder(Path(folder) / "data", n=args.images, size=256, seed=11, formats=("png",))
        paths = tuple(sorted((Path(folder) / "data" / "images").glob("*.png")))
        session = ModelSession(load_model(None, device="cpu"))
        request = EvaluateRequest(paths, ("hirescam",), grid=9)
        start, reports, held_bytes = time.perf_counter(), [], 0
        for count, result in enumerate(run_evaluate(request, session), start=1):
            held_bytes += sum(c.values.nbytes + c.aopc_by_length.nbytes for c in result.curves)
            held_bytes += sum(e.map.nbytes for e in result.explained.explanations)
            assert result.explained.model_input is not None and result.explained.image is not None
            held_bytes += result.explained.model_input.pixels.nbytes + result.explained.image.values.nbytes
            if count % args.every == 0:
                reports.append((count, resident_mib()))
                print(f"{count:>5} images  RSS {reports[-1][1]:8.1f} MiB  {(time.perf_counter() - start) / count:.3f} s/image")
        (first, rss_first), (last, rss_last) = reports[0], reports[-1]
        growth = (rss_last - rss_first) * 1024 / max(last - first, 1)
        print(f"growth from image {first} to {last}: {growth:.1f} KiB per image "
              f"(keeping every result would add {held_bytes / len(paths) / 1024:.1f} KiB per image)")


if __name__ == "__main__":
    main()
