"""The batch image source: what a folder walk lists, what it skips, and that it never leaves the
folder, follows a loop, opens a pipe or writes anything (reliability anchors F1-F4)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES

from camviewer import errors
from camviewer.batch import source
from camviewer.batch.source import Entry, check_output_folder, check_unchanged, list_images

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
DICOM = SAMPLES / "phantom_normal.dcm"
PNG = SAMPLES / "phantom_normal.png"


def tree_state(folder: Path) -> list[tuple[str, str]]:
    """Every name under ``folder`` with its link target or its size, mtime and SHA-256 (links not followed)."""
    state = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            info = path.lstat()
            if path.is_symlink():
                detail = f"-> {os.readlink(path)}"
            elif path.is_file():
                detail = f"{info.st_size} {info.st_mtime_ns} {hashlib.sha256(path.read_bytes()).hexdigest()}"
            else:
                detail = f"mode {info.st_mode:o} {info.st_mtime_ns}"
            state.append((str(path.relative_to(folder)), detail))
    return sorted(state)


def by_path(folder: Path) -> dict[str, Entry]:
    return {e.path: e for e in list_images(folder).entries}


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The real paths the listing opens."""
    seen: list[str] = []
    real_open = os.open

    def spy(path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        seen.append(os.path.realpath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return seen


def make_study(root: Path) -> Path:
    """A nested folder: images with and without extensions, and files that are not images."""
    folder = root / "in"
    (folder / "b" / "deep").mkdir(parents=True)
    (folder / "a").mkdir()
    shutil.copy(DICOM, folder / "b" / "deep" / "IM0001")
    shutil.copy(PNG, folder / "a" / "chest.PNG")
    shutil.copy(DICOM, folder / "top.dcm")
    (folder / "bare").write_bytes(DICOM.read_bytes()[132:])  # no preamble: starts with the (0002,0000) element
    (folder / "broken.jpg").write_bytes(b"not a jpeg")  # an image name is always listed
    (folder / "notes.txt").write_text("hello")
    (folder / "labels.csv").write_text("path,label\n")
    (folder / ".hidden.dcm").write_bytes(DICOM.read_bytes())
    (folder / ".cache").mkdir()
    (folder / ".cache" / "x.png").write_bytes(PNG.read_bytes())
    return folder


def test_lists_nested_images_sorted_and_counts_the_rest(tmp_path: Path) -> None:
    folder = make_study(tmp_path)
    listing = list_images(folder)
    assert [e.path for e in listing.entries] == ["a/chest.PNG", "b/deep/IM0001", "bare", "broken.jpg", "top.dcm"]
    assert all(e.problem is None for e in listing.entries)
    assert listing.skipped == 4  # notes.txt, labels.csv, .hidden.dcm, the .cache folder
    entry = listing.entries[1]
    assert entry.file == folder / "b" / "deep" / "IM0001"
    assert (entry.size, entry.mtime_ns) == (DICOM.stat().st_size, entry.file.stat().st_mtime_ns)
    assert list_images(folder) == listing


def test_sort_does_not_depend_on_the_order_the_folder_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_study(tmp_path)
    expected = list_images(folder)
    real_walk = os.walk

    def reversed_walk(top: Path, **kwargs: Any) -> Iterator[tuple[str, list[str], list[str]]]:
        for dirpath, dirnames, filenames in real_walk(top, **kwargs):
            dirnames.reverse()
            yield dirpath, dirnames, filenames[::-1]

    monkeypatch.setattr(os, "walk", reversed_walk)
    assert list_images(folder) == expected


def test_listing_writes_nothing(tmp_path: Path) -> None:
    folder = make_study(tmp_path)
    os.symlink("..", folder / "a" / "up")
    before = tree_state(tmp_path)
    list_images(folder)
    assert tree_state(tmp_path) == before


def test_excluded_folder_is_not_walked(tmp_path: Path) -> None:
    folder = make_study(tmp_path)
    listing = list_images(folder, exclude=[tmp_path / "in" / "b" / ".." / "a"])
    assert [e.path for e in listing.entries] == ["b/deep/IM0001", "bare", "broken.jpg", "top.dcm"]


def test_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "a").mkdir(parents=True)
    shutil.copy(PNG, folder / "a" / "x.png")
    os.symlink("..", folder / "a" / "up")
    os.symlink("self", folder / "self")  # a link to itself: ELOOP
    entries = by_path(folder)
    assert list(entries) == ["a/x.png", "self"]
    assert entries["a/x.png"].problem is None
    assert entries["self"] == Entry("self", folder / "self", problem="missing")


def test_links_inside_are_listed_and_links_out_never_opened(tmp_path: Path, opened: list[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(DICOM, outside / "secret")
    os.mkfifo(outside / "pipe")
    folder = tmp_path / "in"
    (folder / "real").mkdir(parents=True)
    shutil.copy(DICOM, folder / "real" / "scan")
    os.symlink(outside / "secret", folder / "out-file")
    os.symlink(outside / "pipe", folder / "out-pipe.dcm")
    os.symlink(outside, folder / "out-dir")
    os.symlink(folder / "real" / "scan", folder / "alias")
    os.symlink("real", folder / "linked-dir")
    os.symlink(folder / "gone.dcm", folder / "broken.dcm")
    os.symlink(tmp_path / "gone.dcm", folder / "broken-out.dcm")  # out of the folder: not even stat'ed
    entries = by_path(folder)
    assert {path: e.problem for path, e in entries.items()} == {
        "alias": None, "real/scan": None, "broken.dcm": "missing", "broken-out.dcm": "outside-folder",
        "out-file": "outside-folder", "out-pipe.dcm": "outside-folder", "out-dir/": "outside-folder",
    }
    assert entries["alias"].size == DICOM.stat().st_size and entries["alias"].file == folder / "alias"
    assert not any(path.startswith(str(outside)) for path in opened)


def test_fifo_with_an_image_name_is_not_opened(tmp_path: Path, opened: list[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "scan.dcm")
    os.mkfifo(folder / "pipe")
    listing = list_images(folder)
    assert listing.entries == (Entry("scan.dcm", folder / "scan.dcm", problem="not-a-file"),)
    assert listing.skipped == 1
    assert opened == []


def test_unreadable_subfolder_is_an_entry_and_the_walk_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_study(tmp_path)
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if os.path.basename(path) == "b":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    entries = by_path(folder)
    assert entries["b/"] == Entry("b/", folder / "b", problem="unreadable-dir")
    assert "b/deep/IM0001" not in entries and "a/chest.PNG" in entries and "top.dcm" in entries


def test_unreadable_top_folder_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def scandir(path: str) -> object:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(errors.UsageError, match="cannot read the folder") as caught:
        list_images(tmp_path)
    assert caught.value.option == "folder"


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match="not a folder"):
        list_images(tmp_path / "nope")


@pytest.mark.skipif(AS_ROOT, reason="root reads a chmod 000 folder or file")
def test_chmod_000_folder_and_file(tmp_path: Path) -> None:
    folder = make_study(tmp_path)
    (folder / "locked").mkdir()
    (folder / "secret").write_bytes(DICOM.read_bytes())
    (folder / "locked").chmod(0)
    (folder / "secret").chmod(0)
    try:
        entries = by_path(folder)
    finally:
        (folder / "locked").chmod(0o755)
        (folder / "secret").chmod(0o644)
    assert entries["locked/"].problem == "unreadable-dir"
    assert entries["secret"].problem == "unreadable"


def test_more_files_than_the_limit_is_a_usage_error(tmp_path: Path) -> None:
    for k in range(4):
        shutil.copy(PNG, tmp_path / f"{k}.png")
    assert len(list_images(tmp_path, max_files=4).entries) == 4
    with pytest.raises(errors.UsageError, match="more than 3 images") as caught:
        list_images(tmp_path, max_files=3)
    assert caught.value.option == "folder"


def test_sniffing_recognises_image_heads() -> None:
    assert source.looks_like_image(b"\0" * 128 + b"DICM")
    assert source.looks_like_image(b"\x89PNG\r\n\x1a\n....")
    assert source.looks_like_image(b"\x08\x00\x05\x00CS")
    assert not source.looks_like_image(b"hello world")
    assert not source.looks_like_image(b"")


def test_check_unchanged(tmp_path: Path) -> None:
    shutil.copy(PNG, tmp_path / "x.png")
    (entry,) = list_images(tmp_path).entries
    assert check_unchanged(entry) is None
    listed = entry.mtime_ns or 0
    (tmp_path / "x.png").write_bytes(PNG.read_bytes() + b"more")
    os.utime(tmp_path / "x.png", ns=(listed, listed))
    assert check_unchanged(entry) == "changed"  # another size
    (tmp_path / "x.png").write_bytes(PNG.read_bytes())
    os.utime(tmp_path / "x.png", ns=(listed, listed + 1000))
    assert check_unchanged(entry) == "changed"  # same size, rewritten later
    os.utime(tmp_path / "x.png", ns=(listed, listed))
    assert check_unchanged(entry) is None
    (tmp_path / "x.png").unlink()
    assert check_unchanged(entry) == "missing"
    os.mkfifo(tmp_path / "x.png")
    assert check_unchanged(entry) == "changed"


def test_check_unchanged_keeps_the_listed_problem(tmp_path: Path) -> None:
    entry = Entry("out.dcm", tmp_path / "out.dcm", problem="outside-folder")
    assert check_unchanged(entry) == "outside-folder"


@pytest.mark.parametrize("where", ["same", "inside", "deeper-new", "link-inside", "dotted"])
def test_output_inside_the_input_is_refused(tmp_path: Path, where: str) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    os.symlink(folder / "sub", tmp_path / "alias")
    out = {"same": folder, "inside": folder / "sub", "deeper-new": folder / "new" / "out",
           "link-inside": tmp_path / "alias" / "out", "dotted": tmp_path / "x" / ".." / "in"}[where]
    before = tree_state(tmp_path)
    with pytest.raises(errors.UsageError, match="output folder must be outside the input folder") as caught:
        check_output_folder(folder, out)
    assert caught.value.option == "out"
    assert tree_state(tmp_path) == before


def test_output_outside_or_around_the_input_is_allowed(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    check_output_folder(folder, tmp_path / "out")
    check_output_folder(folder, tmp_path / "in-sibling")
    check_output_folder(folder, tmp_path)
    os.symlink(folder, tmp_path / "in-link")
    with pytest.raises(errors.UsageError):
        check_output_folder(tmp_path / "in-link", folder / "out")
