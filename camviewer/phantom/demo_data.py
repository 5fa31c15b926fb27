"""A demo folder of phantoms: ``images/``, ``masks/``, ``labels.csv`` and ``labels_multilabel.csv``."""

from __future__ import annotations

import csv
import errno
import io
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from camviewer import errors
from camviewer.io.write import atomic_write_bytes
from camviewer.phantom.generate import CLASSES, FINDINGS, Phantom, check_size, generate
from camviewer.phantom.write import Modality, Photometric, write_dicom, write_mask, write_png

Format = Literal["dcm", "png"]
MAX_IMAGES = 100_000
MAX_SEED = 2**31 - 1
DICOM_BITS = (12, 14, 15, 16)


@dataclass(frozen=True)
class DicomStyle:
    """How one phantom is stored as DICOM, varied across the folder."""

    modality: Modality
    photometric: Photometric
    bits: int
    compress: bool

    @classmethod
    def draw(cls, rng: np.random.Generator) -> DicomStyle:
        modality: Modality = "CR" if rng.integers(0, 2) else "DX"
        monochrome1 = rng.random() < (0.7 if modality == "CR" else 0.2)
        return cls(modality, "MONOCHROME1" if monochrome1 else "MONOCHROME2",
                   int(rng.choice(DICOM_BITS)), bool(rng.random() < 1 / 3))


@dataclass(frozen=True)
class DemoSummary:
    folder: Path
    phantoms: int
    images: int
    per_class: dict[str, int]

    def describe(self) -> str:
        counts = ", ".join(f"{count} {name}" for name, count in self.per_class.items())
        return f"wrote {self.phantoms} phantoms ({self.images} images; {counts}) to {self.folder}"


def phantom_seed(seed: int, index: int) -> int:
    """The seed of the ``index``-th phantom of a folder made with ``seed``."""
    return seed * MAX_IMAGES + index


def write_demo_folder(out: str | Path, n: int = 20, size: int = 512, seed: int = 0,
                      formats: Sequence[Format] = ("dcm", "png")) -> DemoSummary:
    """Write ``n`` phantoms, classes in turn (normal, nodule, ...), into the new or empty folder ``out``.

    They go into a hidden sibling folder that is renamed to ``out`` only when complete (a rename may
    replace an empty folder), so a failed or interrupted run leaves ``out`` as it was.
    """
    out = Path(out)
    _check_arguments(n, size, seed, formats)
    _check_target(out)
    target = Path(os.path.realpath(out))
    staging = _staging_folder(target, out)
    try:
        rows = _write_phantoms(staging, n, size, seed, formats)
        _write_labels(staging, rows)
        _publish(staging, target, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    per_class = {name: len(range(k, n, len(CLASSES))) for k, name in enumerate(CLASSES)}
    return DemoSummary(out, n, len(rows), per_class)


def _write_phantoms(folder: Path, n: int, size: int, seed: int, formats: Sequence[Format]) -> list[tuple[str, Phantom]]:
    for sub in ("images", "masks"):
        (folder / sub).mkdir()
    rows: list[tuple[str, Phantom]] = []
    for index in range(n):
        number = phantom_seed(seed, index)
        phantom = generate(number, CLASSES[index % len(CLASSES)], size)
        stem = f"syn-{number:04d}"
        write_mask(folder / "masks" / f"{stem}.png", phantom.mask)
        for fmt in formats:
            rows.append((f"images/{stem}.{fmt}", phantom))
            _write_image(folder / "images" / f"{stem}.{fmt}", phantom, number)
    return rows


def _check_arguments(n: int, size: int, seed: int, formats: Sequence[Format]) -> None:
    check_size(size)
    if not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"the number of phantoms must be 1..{MAX_IMAGES}, not {n}")
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"the seed must be 0..{MAX_SEED}, not {seed}")
    if not formats or not set(formats) <= {"dcm", "png"}:
        raise ValueError(f"formats must be dcm and/or png, not {list(formats)}")


def _check_target(out: Path) -> None:
    """OUT must be absent or an empty folder, and creatable where it is: checked before any work."""
    try:
        if os.path.islink(out) and not out.exists():
            raise errors.OutputError("is a broken symbolic link or a link loop", out)
        if out.exists() and not out.is_dir():
            raise errors.OutputError("exists and is not a folder", out)
        if out.exists() and any(out.iterdir()):
            raise errors.OutputError("output folder exists and is not empty", out)
        parent = Path(os.path.realpath(out)).parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise errors.OutputError("its parent is not a folder", out)
    except OSError as exc:
        raise errors.OutputError(exc.strerror or "cannot read the output folder", out) from exc


def _staging_folder(target: Path, out: Path) -> Path:
    """A new hidden folder beside ``target``, on the same file system so that a rename can publish it."""
    staging = target.parent / f".{target.name}.partial-{secrets.token_hex(6)}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise errors.OutputError(exc.strerror or "cannot create folder", out) from exc
    return staging


def _publish(staging: Path, target: Path, out: Path) -> None:
    try:
        os.rename(staging, target)
    except OSError as exc:
        filled = exc.errno in (errno.ENOTEMPTY, errno.EEXIST)  # written to since the check
        detail = "output folder exists and is not empty" if filled else exc.strerror or "cannot rename"
        raise errors.OutputError(detail, out) from exc


def _write_image(path: Path, phantom: Phantom, number: int) -> None:
    if path.suffix == ".png":
        write_png(path, phantom, bits=16)
        return
    style = DicomStyle.draw(np.random.default_rng([number, 0xD1C0]))
    write_dicom(path, phantom, photometric=style.photometric, bits=style.bits, modality=style.modality,
                compress=style.compress, seed=number)


def _write_labels(out: Path, rows: list[tuple[str, Phantom]]) -> None:
    single = [("path", "label")] + [(path, phantom.label) for path, phantom in rows]
    flags = [tuple(str(int(f in phantom.labels)) for f in FINDINGS) for _, phantom in rows]
    multi = [("path", *FINDINGS)] + [(path, *row) for (path, _), row in zip(rows, flags)]
    atomic_write_bytes(out / "labels.csv", _csv_bytes(single))
    atomic_write_bytes(out / "labels_multilabel.csv", _csv_bytes(multi))


def _csv_bytes(rows: Sequence[tuple[str, ...]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue().encode("utf-8")
