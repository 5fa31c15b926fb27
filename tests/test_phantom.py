"""Synthetic chest phantoms: determinism, masks, labels, writers and the demo-data command."""

from __future__ import annotations

import csv
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from camviewer import errors
from camviewer.cli import main
from camviewer.io import load_image
from camviewer.phantom import CLASSES, FINDINGS, Phantom, demo_data, generate
from camviewer.phantom.demo_data import write_demo_folder
from camviewer.phantom.write import write_dicom, write_mask, write_png

SIZE = 128
LUNG_FINDINGS = ("nodule", "consolidation", "effusion")
real_write_image = demo_data._write_image


@cache
def phantom(seed: int, label: str, size: int = SIZE) -> Phantom:
    return generate(seed, label, size)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fp:
        return list(csv.DictReader(fp))


@pytest.mark.parametrize("label", CLASSES)
def test_same_seed_same_phantom(label: str) -> None:
    first, again = phantom(3, label), generate(3, label, SIZE)
    assert np.array_equal(first.pixels, again.pixels) and np.array_equal(first.mask, again.mask)
    assert first.pixels.dtype == np.float32 and 0.0 <= first.pixels.min() and first.pixels.max() <= 1.0


def test_different_seeds_differ() -> None:
    assert not np.array_equal(phantom(1, "normal").pixels, phantom(2, "normal").pixels)
    assert not np.array_equal(phantom(1, "nodule").mask, phantom(2, "nodule").mask)


def test_random_label_is_deterministic_and_valid() -> None:
    labels = {generate(seed, size=64).label for seed in range(12)}
    assert labels <= set(CLASSES) and len(labels) > 1
    assert generate(5, size=64).label == generate(5, size=64).label


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("label", CLASSES)
def test_masks_non_empty_and_inside_the_body(label: str, seed: int) -> None:
    p = phantom(seed, label)
    assert p.mask.shape == p.pixels.shape and p.mask.dtype == bool
    assert p.mask.any() == (label != "normal")
    assert not (p.mask & ~p.regions.body).any()
    if label in LUNG_FINDINGS:
        assert not (p.mask & ~p.regions.both_lungs).any()
    if label == "cardiomegaly":
        assert np.array_equal(p.mask, p.regions.heart)


@pytest.mark.parametrize("label", FINDINGS)
def test_a_finding_changes_only_its_own_image(label: str) -> None:
    """Same seed: the same patient and exposure, so the finding is the difference."""
    normal, sick = phantom(7, "normal"), phantom(7, label)
    changed = np.abs(sick.pixels - normal.pixels) > 0.02
    assert changed.any()
    if label in LUNG_FINDINGS:
        assert sick.pixels[sick.mask].mean() > normal.pixels[sick.mask].mean()


def test_cardiomegaly_enlarges_the_heart() -> None:
    for seed in range(4):
        assert phantom(seed, "cardiomegaly").regions.heart.sum() > 1.3 * phantom(seed, "normal").regions.heart.sum()


@pytest.mark.parametrize("label", CLASSES)
def test_labels(label: str) -> None:
    p = phantom(0, label)
    assert p.label == label and p.labels == (() if label == "normal" else (label,))


@pytest.mark.parametrize("seed", range(3))
def test_lungs_darker_than_spine_and_heart(seed: int, tmp_path: Path) -> None:
    p = phantom(seed, "normal", 256)
    write_dicom(tmp_path / "p.dcm", p, seed=seed)
    shown = load_image(tmp_path / "p.dcm").display()
    lungs = shown[p.regions.both_lungs].mean()
    assert lungs + 0.1 < shown[p.regions.spine & p.regions.body].mean()
    assert lungs + 0.1 < shown[p.regions.heart].mean()
    assert shown[~p.regions.body].mean() < lungs  # air outside the body is darkest


@pytest.mark.parametrize("size", [63, 2049, 0, -5, 100.0, True])
def test_size_is_validated(size: object) -> None:
    with pytest.raises(ValueError, match="64 to 2048"):
        generate(0, "normal", size)  # type: ignore[arg-type]


def test_label_and_seed_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown phantom class"):
        generate(0, "pneumothorax", 64)
    with pytest.raises(ValueError, match="non-negative"):
        generate(-1, "normal", 64)


def test_smallest_and_largest_sizes() -> None:
    small = generate(1, "nodule", 64)
    assert small.pixels.shape == (64, 64) and small.mask.any()
    large = generate(1, "nodule", 2048)
    assert large.pixels.shape == (2048, 2048) and large.mask.any()
    assert not (large.mask & ~large.regions.both_lungs).any()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("bits", [12, 16])
@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_dicom_round_trip(photometric: str, bits: int, compress: bool, tmp_path: Path) -> None:
    p = phantom(4, "consolidation")
    path = tmp_path / "p.dcm"
    write_dicom(path, p, photometric=photometric, bits=bits,  # type: ignore[arg-type]
                modality="CR", compress=compress, seed=7)
    image = load_image(path)
    assert np.abs(image.display() - p.pixels).max() <= 1.0 / ((1 << bits) - 1)
    meta = image.metadata
    assert (meta.photometric_interpretation, meta.bits_stored, meta.modality) == (photometric, bits, "CR")
    assert meta.patient_name == "SYNTHETIC^PHANTOM-0007" and meta.patient_id == "SYN-0007"
    assert meta.study_description == "Synthetic chest phantom (camviewer)"
    assert meta.lossy_compression is False and ("JPEG 2000" in (meta.transfer_syntax or "")) == compress
    assert [preset.name for preset in image.presets[:2]] == ["FULL RANGE", "LUNG"]
    assert image.warnings == ()
    assert path.read_bytes()[:128] == b"\0" * 128


def test_dicom_is_deterministic_and_dx_has_spacing(tmp_path: Path) -> None:
    p = phantom(4, "effusion")
    write_dicom(tmp_path / "a.dcm", p, seed=3)
    write_dicom(tmp_path / "b.dcm", p, seed=3)
    assert (tmp_path / "a.dcm").read_bytes() == (tmp_path / "b.dcm").read_bytes()
    meta = load_image(tmp_path / "a.dcm").metadata
    assert meta.modality == "DX" and meta.pixel_spacing_mm is not None and meta.pixel_spacing_mm[0] > 0


def test_dicom_arguments_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_dicom(tmp_path / "p.dcm", phantom(0, "normal"), bits=8)
    with pytest.raises(ValueError):
        write_dicom(tmp_path / "p.dcm", phantom(0, "normal"), modality="CT")  # type: ignore[arg-type]
    assert not (tmp_path / "p.dcm").exists()


@pytest.mark.parametrize("bits", [8, 16])
def test_png_round_trip(bits: int, tmp_path: Path) -> None:
    p = phantom(2, "nodule")
    write_png(tmp_path / "p.png", p, bits=bits)  # type: ignore[arg-type]
    assert np.abs(load_image(tmp_path / "p.png").display() - p.pixels).max() <= 0.5 / ((1 << bits) - 1) + 1e-6


def test_mask_png(tmp_path: Path) -> None:
    p = phantom(2, "nodule")
    write_mask(tmp_path / "m.png", p.mask)
    image = load_image(tmp_path / "m.png")
    assert image.metadata.bits_stored == 8
    assert np.array_equal(image.values == 255, p.mask) and set(np.unique(image.values)) <= {0.0, 255.0}


def test_demo_folder_labels_and_masks(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    summary = write_demo_folder(out, n=7, size=64, seed=2, formats=("dcm", "png"))
    assert summary.images == 14 and summary.per_class["normal"] == 2 and summary.per_class["cardiomegaly"] == 1
    single, multi = read_csv(out / "labels.csv"), read_csv(out / "labels_multilabel.csv")
    assert list(single[0]) == ["path", "label"] and list(multi[0]) == ["path", *FINDINGS]
    assert [row["path"] for row in single] == [row["path"] for row in multi]
    assert [row["label"] for row in single][::2] == [CLASSES[k % 5] for k in range(7)]
    for row, flags in zip(single, multi):
        assert {f for f in FINDINGS if flags[f] == "1"} == ({row["label"]} - {"normal"})
        image = load_image(out / row["path"])
        stem = Path(row["path"]).stem
        mask = load_image(out / "masks" / f"{stem}.png").values > 0
        number = int(stem.split("-")[1])
        p = generate(number, row["label"], 64)
        assert np.abs(image.display() - p.pixels).max() <= 1.0 / 255 + 1e-6
        assert np.array_equal(mask, p.mask)


def test_demo_folder_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_demo_folder(tmp_path / name, n=5, size=64, seed=1, formats=("dcm",))
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 12
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)


def test_demo_folder_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(errors.OutputError, match="not empty"):
        write_demo_folder(tmp_path, n=1, size=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def failing_writer(after: int, error: BaseException) -> Callable[..., None]:
    """The image writer, raising ``error`` once ``after`` images were written."""
    written = []

    def write(path: Path, phantom: Phantom, number: int) -> None:
        if len(written) == after:
            raise error
        written.append(path)
        real_write_image(path, phantom, number)

    return write


@pytest.mark.parametrize("error", [errors.OutputError("disk full"), KeyboardInterrupt()], ids=["disk-full", "interrupted"])
@pytest.mark.parametrize("existing", [False, True], ids=["absent", "empty-folder"])
def test_a_failed_demo_folder_leaves_nothing_and_a_retry_works(
        existing: bool, error: BaseException, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "demo"
    if existing:
        out.mkdir()
    with monkeypatch.context() as patched:
        patched.setattr(demo_data, "_write_image", failing_writer(3, error))
        with pytest.raises(type(error)):
            write_demo_folder(out, n=4, size=64, formats=("png",))
    assert sorted(p.name for p in tmp_path.iterdir()) == (["demo"] if existing else [])  # no partial folder left
    assert not existing or not any(out.iterdir())
    summary = write_demo_folder(out, n=4, size=64, formats=("png",))
    assert summary.images == 4 and len(list((out / "images").glob("*.png"))) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_a_folder_filled_during_the_run_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone writes into the empty OUT while the phantoms are made: the rename refuses to replace it."""
    out = tmp_path / "demo"
    out.mkdir()
    real_labels = demo_data._write_labels

    def labels_and_a_stranger(folder: Path, rows: list[tuple[str, Phantom]]) -> None:
        (out / "theirs.txt").write_text("mine")
        real_labels(folder, rows)

    monkeypatch.setattr(demo_data, "_write_labels", labels_and_a_stranger)
    with pytest.raises(errors.OutputError, match="not empty"):
        write_demo_folder(out, n=1, size=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    assert [p.name for p in out.iterdir()] == ["theirs.txt"]


def test_cli_demo_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo-data", str(out), "--n", "5", "--size", "64", "--seed", "1", "--format", "png"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1 and "5 phantoms" in printed
    assert len(list((out / "images").glob("*.png"))) == 5 and not list((out / "images").glob("*.dcm"))
    assert len(list((out / "masks").glob("*.png"))) == 5
    assert main(["demo-data", str(out), "--n", "1", "--size", "64"]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["demo-data", str(tmp_path / "other"), "--size", "4096"]) == 2
    assert not (tmp_path / "other").exists()
