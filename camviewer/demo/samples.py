"""The bundled sample studies in resources/samples/: one synthetic phantom per class, as DICOM and PNG.

Each sample is a *typical* study of its class: the first phantom, from seed ``SAMPLE_SEED + k``
on, whose finding covers a share of the image within the interquartile range of that class's
findings (measured over ``REFERENCE_DRAWS`` phantoms). A sample whose consolidation is as small as
a nodule would show its class as few studies do. DICOM files alternate MONOCHROME1/MONOCHROME2 and
CR/DX, with one JPEG 2000 file; all are 512 x 512. Regenerate with
``python -m camviewer.demo.samples resources/samples``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from camviewer.phantom import CLASSES, generate
from camviewer.phantom.write import write_dicom, write_png

SAMPLE_SEED = 4242
SAMPLE_SIZE = 512
REFERENCE_SEED, REFERENCE_DRAWS = 5000, 60
TYPICAL_QUANTILES = (0.25, 0.75)


def typical_seed(label: str, start: int) -> int:
    """The first seed from ``start`` whose finding's area is typical of ``label`` (any seed for normal)."""
    if label == "normal":
        return start
    areas = [generate(seed=s, label=label, size=SAMPLE_SIZE).mask.mean() for s in range(REFERENCE_SEED, REFERENCE_SEED + REFERENCE_DRAWS)]
    low, high = np.quantile(areas, TYPICAL_QUANTILES)
    seed = start
    while not low <= generate(seed=seed, label=label, size=SAMPLE_SIZE).mask.mean() <= high:
        seed += len(CLASSES)
    return seed


def write_samples(folder: Path) -> list[Path]:
    written = []
    for k, label in enumerate(CLASSES):
        phantom = generate(seed=typical_seed(label, SAMPLE_SEED + k), label=label, size=SAMPLE_SIZE)
        dicom = folder / f"phantom_{label}.dcm"
        write_dicom(dicom, phantom, photometric="MONOCHROME1" if k % 2 else "MONOCHROME2", bits=12 + 2 * (k % 3),
                    modality="CR" if k % 2 else "DX", compress=label == "nodule", seed=SAMPLE_SEED + k)
        png = folder / f"phantom_{label}.png"
        write_png(png, phantom)
        written += [dicom, png]
    return written


if __name__ == "__main__":
    for path in write_samples(Path(sys.argv[1])):
        print(path)
