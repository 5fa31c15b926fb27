"""The bundled sample studies in resources/samples/: one synthetic phantom per class, as DICOM and PNG.

DICOM files alternate MONOCHROME1/MONOCHROME2 and CR/DX, with one JPEG 2000 file; all are 512 x 512.
Regenerate with ``python -m camviewer.demo.samples resources/samples``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from camviewer.phantom import CLASSES, generate
from camviewer.phantom.write import write_dicom, write_png

SAMPLE_SEED = 4242


def write_samples(folder: Path) -> list[Path]:
    written = []
    for k, label in enumerate(CLASSES):
        phantom = generate(seed=SAMPLE_SEED + k, label=label, size=512)
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
