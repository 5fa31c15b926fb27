"""Ground truth of a batch run: labels (long and wide), boxes, masks, and the run's truth digest."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from camviewer import errors
from camviewer.batch import truth
from camviewer.batch.source import list_images
from camviewer.batch.truth import Truth, load_mask, mask_path, read_boxes, read_labels, truth_digest, truth_for
from camviewer.phantom.demo_data import write_demo_folder
from camviewer.phantom.generate import CLASSES, FINDINGS

SINGLE = ("normal", "nodule", "effusion")
MULTI = ("nodule", "effusion", "cardiomegaly")


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def write_mask(path: Path, mask: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(path)
    return path


def test_long_labels_single_label(tmp_path: Path) -> None:
    text = "\ufeffPath , Label,site\n./a/x.dcm,nodule,1\n\nb\\y.png, normal ,2\nz,effusion,3\nz,effusion,3\n"
    labels = read_labels(write(tmp_path / "labels.csv", text), SINGLE, False)
    assert labels == {"a/x.dcm": ("nodule", (1,)), "b/y.png": ("normal", (0,)), "z": ("effusion", (2,))}


def test_long_labels_multi_label(tmp_path: Path) -> None:
    text = "path,label\nx.dcm,cardiomegaly|nodule\ny.dcm,\nz.dcm, effusion \n"
    labels = read_labels(write(tmp_path / "labels.csv", text), MULTI, True)
    assert labels == {"x.dcm": ("cardiomegaly|nodule", (0, 2)), "y.dcm": ("", ()), "z.dcm": ("effusion", (1,))}


def test_wide_labels(tmp_path: Path) -> None:
    text = "path,cardiomegaly,nodule,effusion\nx.dcm,1,1,0\ny.dcm,0,0,0\n"
    labels = read_labels(write(tmp_path / "wide.csv", text), MULTI, True)
    assert labels == {"x.dcm": ("nodule|cardiomegaly", (0, 2)), "y.dcm": ("", ())}
    single = read_labels(write(tmp_path / "one.csv", "path,nodule,effusion\nx.dcm,0,1\n"), SINGLE, False)
    assert single == {"x.dcm": ("effusion", (2,))}


def test_absolute_paths_are_made_relative_to_the_batch_folder(tmp_path: Path) -> None:
    base = tmp_path / "batch"
    text = f"path,label\n{base / 'sub' / 'x.dcm'},nodule\n{tmp_path / 'elsewhere.dcm'},nodule\n../up.dcm,nodule\n"
    labels = read_labels(write(tmp_path / "labels.csv", text), SINGLE, False, base=base)
    assert labels == {"sub/x.dcm": ("nodule", (1,))}
    with pytest.raises(errors.UsageError, match="line 2: the path is absolute"):
        read_labels(tmp_path / "labels.csv", SINGLE, False)


LABEL_ERRORS = [
    ("path,label\nx,pneumonia\n", SINGLE, False, "line 2: unknown class 'pneumonia'; known: normal, nodule, effusion"),
    ("path,label\nx,nodule|effusion\n", SINGLE, False, "line 2: a single-label model needs exactly one class per image, not 2"),
    ("path,label\nx,\n", SINGLE, False, "line 2: a single-label model needs exactly one class per image, not 0"),
    ("path,label\nx,nodule|\n", MULTI, True, "line 2: unknown class ''"),
    ("path,label\nx,nodule\n\ny,nodule\nx,effusion\n", SINGLE, False, r"line 5: the image is listed again \(first on line 2\)"),
    ("image,label\nx,nodule\n", SINGLE, False, "line 1: the header has no 'path' column"),
    ("path\nx\n", SINGLE, False, "line 1: the header needs 'path,label' or 'path' and class-name columns"),
    ("path,nodule,pneumonia\nx,1,0\n", MULTI, True, "line 1: the column 'pneumonia' is not a class"),
    ("path,nodule,nodule\nx,1,0\n", SINGLE, False, "line 1: a class column is named twice"),
    ("path,nodule,effusion\nx,1,0\n", MULTI, True, "line 1: no column for the class 'cardiomegaly'"),
    ("path,nodule,effusion,cardiomegaly\nx,1,yes,0\n", MULTI, True, "line 2: the 'effusion' cell is 'yes', not 0 or 1"),
    ("path,nodule,effusion\nx,1,1\n", SINGLE, False, "line 2: a single-label model needs exactly one 1 per row, not 2"),
    ("path,label\nx,nodule,extra\n", SINGLE, False, "line 2: 3 cells, the header has 2"),
    ("path,label\n  ,nodule\n", SINGLE, False, "line 2: the path is empty"),
    ("path,label\n./,nodule\n", SINGLE, False, "line 2: the path names the batch folder"),
    ("path,label\nx,nod\0ule\n", SINGLE, False, "not a text file: it holds NUL bytes"),
    ("path,label\nx," + "a" * 200_000 + "\n", SINGLE, False, r"line 2: not valid CSV \(field larger than field limit"),
    ("path,label\nx,a\tb" + "c" * 50 + "\n", SINGLE, False, r"unknown class 'a\?b" + "c" * 37 + r"\.\.\.'"),
    ("", SINGLE, False, "the file is empty"),
    ("\n \n", SINGLE, False, "the file is empty"),
    ("path,label\nx,nodule\n".encode("utf-16"), SINGLE, False, "not a UTF-8 text file"),
]


@pytest.mark.parametrize(("text", "classes", "multilabel", "message"), LABEL_ERRORS)
def test_label_errors_name_the_file_and_line(tmp_path: Path, text: str | bytes, classes: tuple[str, ...], multilabel: bool,
                                             message: str) -> None:
    with pytest.raises(errors.UsageError, match=message) as caught:
        read_labels(write(tmp_path / "labels.csv", text), classes, multilabel)
    assert caught.value.option == "labels"
    assert caught.value.message.endswith("(labels.csv)")


def test_unknown_class_lists_at_most_ten(tmp_path: Path) -> None:
    classes = [f"c{k}" for k in range(15)]
    with pytest.raises(errors.UsageError, match=r"known: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, \.\.\. \(15 in all\)"):
        read_labels(write(tmp_path / "labels.csv", "path,label\nx,other\n"), classes, False)


def test_labels_file_that_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.UsageError, match="labels.csv") as caught:
        read_labels(tmp_path / "labels.csv", SINGLE, False)
    assert caught.value.option == "labels"
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(errors.UsageError, match="a named pipe, not a regular file"):
        read_labels(tmp_path / "pipe.csv", SINGLE, False)
    monkeypatch.setattr(truth, "MAX_TRUTH_BYTES", 10)
    with pytest.raises(errors.UsageError, match="the file has 20 bytes, over the"):
        read_labels(write(tmp_path / "big.csv", "path,label\nx,nodule\n"), SINGLE, False)


def test_demo_folder_labels_masks_and_listing_agree(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    write_demo_folder(demo, n=5, size=64)
    listing = list_images(demo, exclude=[demo / "masks"])
    paths = [e.path for e in listing.entries]
    assert len(paths) == 10 and listing.skipped == 2  # the two labels files
    single = read_labels(demo / "labels.csv", CLASSES, False)
    multi = read_labels(demo / "labels_multilabel.csv", FINDINGS, True)
    assert sorted(single) == sorted(multi) == paths
    assert single["images/syn-0003.dcm"] == ("effusion", (3,)) and multi["images/syn-0003.png"] == ("effusion", (2,))
    assert multi["images/syn-0000.dcm"] == ("", ())
    found = truth_for("images/syn-0003.dcm", multi, None, demo / "masks")
    assert found == Truth("effusion", (2,), demo / "masks" / "syn-0003.png")
    assert found.mask is not None and load_mask(found.mask, (64, 64)).sum() > 0
    with pytest.raises(truth.MaskError, match="the mask is empty"):
        load_mask(demo / "masks" / "syn-0000.png", (64, 64))


def test_boxes_union_and_whole_numbers(tmp_path: Path) -> None:
    text = "path,x0,y0,x1,y1,note\n./a.dcm,1,2,3,4,first\na.dcm,10.0,0,12,1e1,second\nb.png,5,5,5,5,\n"
    assert read_boxes(write(tmp_path / "boxes.csv", text)) == {"a.dcm": ((1, 2, 3, 4), (10, 0, 12, 10)), "b.png": ((5, 5, 5, 5),)}


@pytest.mark.parametrize(("row", "message"), [
    ("a,1,2,0,4", r"line 2: the box \(1, 2, 0, 4\) needs x1 >= x0 and y1 >= y0"),
    ("a,1,5,3,4", r"line 2: the box \(1, 5, 3, 4\) needs"),
    ("a,1.5,2,3,4", "line 2: x0 is '1.5', not a whole number of pixels"),
    ("a,1,two,3,4", "line 2: y0 is 'two', not a whole number"),
    ("a,1,2,inf,4", "line 2: x1 is 'inf', not a whole number"),
    ("a,1,2,3,nan", "line 2: y1 is 'nan', not a whole number"),
])
def test_box_errors(tmp_path: Path, row: str, message: str) -> None:
    with pytest.raises(errors.UsageError, match=message) as caught:
        read_boxes(write(tmp_path / "boxes.csv", f"path,x0,y0,x1,y1\n{row}\n"))
    assert caught.value.option == "boxes" and caught.value.message.endswith("(boxes.csv)")


def test_boxes_header_needs_every_coordinate(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match="line 1: the header has no 'y1' column"):
        read_boxes(write(tmp_path / "boxes.csv", "path,x0,y0,x1\na,1,2,3\n"))


def test_mask_path_prefers_the_full_path_then_drops_folders(tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    one = np.ones((4, 4), bool)
    write_mask(masks / "syn-0003.png", one)
    assert mask_path(masks, "images/syn-0003.dcm") == masks / "syn-0003.png"
    assert mask_path(masks, "deep/images/syn-0003") == masks / "syn-0003.png"
    write_mask(masks / "images" / "syn-0003.png", one)
    assert mask_path(masks, "images/syn-0003.dcm") == masks / "images" / "syn-0003.png"
    assert mask_path(masks, "images/syn-0004.dcm") is None
    (masks / "folder.png").mkdir()
    assert mask_path(masks, "folder.dcm") is None


def test_mask_path_never_leaves_the_masks_folder(tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    outside = write_mask(tmp_path / "secret.png", np.ones((4, 4), bool))
    os.symlink(outside, masks / "x.png")
    os.symlink("../..", masks / "up")
    assert mask_path(masks, "x.dcm") is None
    assert mask_path(masks, "up/secret.dcm") is None
    os.symlink(masks / "x.png", masks / "y.png")  # inside, but to a link out
    assert mask_path(masks, "y.dcm") is None
    inside = write_mask(masks / "real.png", np.ones((4, 4), bool))
    os.symlink(inside, masks / "alias.png")
    assert mask_path(masks, "alias.dcm") == masks / "alias.png"


def test_load_mask(tmp_path: Path) -> None:
    mask = np.zeros((6, 8), bool)
    mask[1:3, 2:5] = True
    path = write_mask(tmp_path / "m.png", mask)
    loaded = load_mask(path, (6, 8))
    assert loaded.dtype == bool and (loaded == mask).all()
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.stack([np.zeros((6, 8)), mask * 3, np.zeros((6, 8))], axis=-1).astype(np.uint8)).save(rgb)
    assert (load_mask(rgb, (6, 8)) == mask).all()
    with pytest.raises(truth.MaskError, match=r"Mask not usable: 8 x 6 pixels, the image has 16 x 12 \(m.png\)") as caught:
        load_mask(path, (12, 16))
    assert isinstance(caught.value, errors.InputError)
    with pytest.raises(truth.MaskError, match="Mask not usable: Not a supported image"):
        load_mask(write(tmp_path / "bad.png", b"not a png"), (6, 8))
    with pytest.raises(truth.MaskError, match="File not found"):
        load_mask(tmp_path / "gone.png", (6, 8))


def test_truth_for_combines_the_sources(tmp_path: Path) -> None:
    labels = {"a.dcm": ("nodule", (1,))}
    boxes = {"a.dcm": ((0, 0, 2, 2),)}
    assert truth_for("a.dcm", labels, boxes, None) == Truth("nodule", (1,), None, ((0, 0, 2, 2),))
    assert truth_for("b.dcm", labels, boxes, tmp_path) == Truth()
    assert truth_for("a.dcm", None, None, None) == Truth()


def test_truth_digest_follows_every_source(tmp_path: Path) -> None:
    labels = write(tmp_path / "labels.csv", "path,label\nx,nodule\n")
    boxes = write(tmp_path / "boxes.csv", "path,x0,y0,x1,y1\nx,0,0,1,1\n")
    masks = tmp_path / "masks"
    mask = write_mask(masks / "x.png", np.ones((2, 2), bool))
    digests = {truth_digest(None, None, None), truth_digest(labels, None, None), truth_digest(None, labels, None),
               truth_digest(labels, boxes, None), truth_digest(labels, boxes, masks)}
    assert len(digests) == 5
    first = truth_digest(labels, boxes, masks)
    assert truth_digest(labels, boxes, masks) == first
    os.utime(mask, ns=(0, 12345))
    touched = truth_digest(labels, boxes, masks)
    write_mask(masks / "sub" / "y.png", np.ones((2, 2), bool))
    added = truth_digest(labels, boxes, masks)
    write(labels, "path,label\nx,normal\n")
    assert len({first, touched, added, truth_digest(labels, boxes, masks)}) == 4
    with pytest.raises(errors.UsageError, match="not a folder") as caught:
        truth_digest(None, None, tmp_path / "nope")
    assert caught.value.option == "masks"
