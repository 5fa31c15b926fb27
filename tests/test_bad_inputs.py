"""The bad-input catalogue (reliability_anchors.md): rows D1..D43 (DICOM), P1..P12 (PNG/JPEG), F10..F14 (files).

Every row checks its own expected behaviour plus the common expectations:

- (E1) ``load_image`` raises nothing but ``InputError`` subclasses, and never hangs;
- (E2) a failure message is one printable line, names the file and holds no fake PHI, no text
  injected into the file and no traceback; so is each warning on an opened image;
- (E3) every file under the fixture folder is unchanged afterwards and no file appears;
- (E5) memory stays bounded: traced Python/NumPy allocations in-process, peak RSS in a child.

Separate tests run some rows through the CLI (exit 1, one clean stderr line) and check that
``load_image`` prints nothing and lets no library warning escape (a CLI would show them on stderr).
Others check that the export's header read fails exactly as ``load_image`` does, that every cut
of good.dcm inside an element reads as truncated, and that a named pipe is never opened.

Rows that are bombs, or that would abort or allocate gigabytes when they regress, run in a
child process capped with RLIMIT_AS, so a regression fails the test instead of the machine.
A row camviewer does not meet yet is a strict xfail whose reason records what it does instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bad_inputs as bad
import numpy as np
import pydicom
import pytest
from dicom_factory import gradient
from pydicom import uid
from pydicom.dataelem import RawDataElement

import camviewer.io.dicom
from camviewer import errors as E  # noqa: N812  (short names keep the catalogue table readable)
from camviewer.errors import InputError
from camviewer.io import XrayImage, load_image
from camviewer.io.dicom import load_dicom, read_dataset
from camviewer.io.limits import DEFAULT_LIMITS, Limits
from camviewer.io.raster import load_raster

REPO = Path(__file__).resolve().parents[1]
FAKE_PHI = ("Doe", "MRN12345")
CHILD_ADDRESS_SPACE = 3 << 30  # for load_image alone
CLI_ADDRESS_SPACE = 6 << 30  # the CLI imports torch, which reserves ~3.3 GiB of address space
CHILD_RSS_BUDGET_MIB = 256  # a child's baseline is ~80 MiB; bombs must not add much to it
TRACED_BUDGET_MIB = 64  # every in-process fixture is tiny, so is anything it should allocate
HASH_LIMIT = 64 << 20
PER_FILE_SECONDS = 30.0

# camviewer reads malformed values on purpose; pydicom warns about each one
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")


@dataclass(frozen=True)
class Outcome:
    """What opening one file did, in-process or in a child process."""

    error: str | None  # InputError subclass name; None when the image opened
    message: str
    warnings: tuple[str, ...]
    seconds: float
    peak_mib: float
    image: XrayImage | None = None


@dataclass(frozen=True)
class Row:
    """One catalogue row: its fixture, what camviewer must do, and how to run it."""

    id: str
    make: Callable[[Path], Path]
    error: type[InputError] | None  # None: the file must open
    text: str = ""  # in the message (error) or in one of the warnings (opens)
    isolated: bool = False  # run in a memory-capped child process
    seconds: float = PER_FILE_SECONDS
    check: Callable[[XrayImage], None] | None = None
    setup: Callable[[pytest.MonkeyPatch], None] | None = None
    xfail: str = ""  # what camviewer does instead, while it does not meet the row
    xfail_raises: type[Exception] = AssertionError
    skip: str = ""


# --- row-specific checks and set-ups ------------------------------------------------------------

def check_deflated(image: XrayImage) -> None:
    assert image.metadata.transfer_syntax_uid == uid.DeflatedExplicitVRLittleEndian


def check_patient_name_shown(image: XrayImage) -> None:
    assert isinstance(image.metadata.patient_name, str)


def check_stored_values(image: XrayImage) -> None:
    """Modality values are the stored values: an invalid rescale is ignored, not applied."""
    np.testing.assert_array_equal(image.values, gradient())


def check_file_window_ignored(image: XrayImage) -> None:
    """D34: the default window is computed, not the file's invalid one; values are raw."""
    assert image.presets[image.default_preset].source != "file"
    check_stored_values(image)


def check_opened_as_dicom(image: XrayImage) -> None:
    assert image.metadata.format == "dicom"


def check_control_text_dropped(image: XrayImage) -> None:
    """D43: file text with escape codes names no preset, no spacing source, no window function."""
    file_presets = [p for p in image.presets if p.source == "file"]
    assert [p.name for p in file_presets] == ["VOI LUT 1", "Window 1"]
    assert file_presets[1].window is not None and file_presets[1].window.function == "LINEAR"
    assert image.metadata.pixel_spacing_source == "Pixel Spacing"
    assert image.anonymized().metadata.view_position is None


def check_p12_pixels(image: XrayImage) -> None:
    """Row y=1 of an odd-width 16-bit PNG equals the source (and so does the rest)."""
    source = bad.p12_pixels()
    np.testing.assert_array_equal(image.values[1], source[1])
    np.testing.assert_array_equal(image.values, source)


def without_jpeg2000_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate 'no JPEG 2000 decoder installed' for camviewer's decoder check."""
    real = camviewer.io.dicom.get_decoder
    unavailable = SimpleNamespace(is_available=False, available_plugins=())
    jpeg2000 = {uid.JPEG2000Lossless, uid.JPEG2000, uid.JPEG2000MCLossless, uid.JPEG2000MC}
    monkeypatch.setattr(camviewer.io.dicom, "get_decoder", lambda s: unavailable if s in jpeg2000 else real(s))


def without_opencv(monkeypatch: pytest.MonkeyPatch) -> None:
    """P10: OpenCV grey-fills truncated JPEGs, so any use of it fails the test."""
    cv2 = pytest.importorskip("cv2")

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("OpenCV must not decode JPEG")

    monkeypatch.setattr(cv2, "imread", refuse)
    monkeypatch.setattr(cv2, "imdecode", refuse)


# --- the catalogue ------------------------------------------------------------------------------

HEADER_GATE = "dimensions exceed limit"  # the DICOM header gate's wording: refused before decoding
HEADER_CUT = "ends inside an element header"


def d38_row(name: str, error: type[InputError], text: str = "", **options: Any) -> Row:
    """A row for one of pydicom's bundled files, skipped where this pydicom lacks it."""
    return Row(f"D38-{name.removesuffix('.dcm')}", partial(bad.make_d38, name=name), error, text,
               skip="" if bad.bundled_path(name) else f"{name} is not bundled with this pydicom", **options)


ROWS = [
    Row("D1", bad.make_d1, E.NotDicomError, "empty"),
    Row("D2", bad.make_d2, E.NotDicomError),
    Row("D3", bad.make_d3, E.NotDicomError),
    Row("D4", bad.make_d4, E.TruncatedFileError),
    Row("D5", bad.make_d5, E.TruncatedFileError),
    Row("D6", bad.make_d6, E.TruncatedFileError),
    Row("D7", bad.make_d7, E.TruncatedFileError, "pixel data"),
    Row("D8", bad.make_d8, E.NotDicomError, "Part 10"),
    Row("D9", bad.make_d9, E.CorruptFileError),
    Row("D10", bad.make_d10, E.NoImageDataError),
    Row("D11", bad.make_d11, E.CorruptFileError, "length"),
    Row("D12", bad.make_d12, None, "padding"),
    Row("D13", bad.make_d13, E.ImageTooLargeError, HEADER_GATE),
    Row("D14", bad.make_d14, E.ImageTooLargeError, HEADER_GATE, isolated=True),
    Row("D15", bad.make_d15, E.ImageTooLargeError, HEADER_GATE),
    Row("D16", bad.make_d16, E.InvalidImageAttributesError),
    Row("D17-bits-allocated-7", bad.make_d17_bits_allocated, E.InvalidImageAttributesError),
    Row("D17-bits-stored-40", bad.make_d17_bits_stored, E.InvalidImageAttributesError),
    Row("D18-no-photometric", bad.make_d18_no_photometric, E.InvalidImageAttributesError),
    Row("D18-three-samples", bad.make_d18_three_samples, E.InvalidImageAttributesError),
    Row("D19", bad.make_d19, None, check=check_deflated),
    Row("D20", bad.make_d20, E.CorruptFileError, "deflated"),
    Row("D21", bad.make_d21, E.DecompressionBombError, isolated=True),
    Row("D22", bad.make_d22, E.DecodeError, isolated=True),
    Row("D23", bad.make_d23, E.MissingDecoderError, "JPEG 2000", setup=without_jpeg2000_decoder),
    Row("D24", bad.make_d24, E.DecodeError),
    Row("D25", bad.make_d25, E.ImageTooLargeError, HEADER_GATE),
    Row("D26", bad.make_d26, E.UnsupportedSyntaxError, "1.2.3.4.5.6.7"),
    Row("D27", bad.make_d27, E.CorruptFileError, "exceeds file", isolated=True),
    Row("D28", bad.make_d28, E.TruncatedFileError),
    Row("D29", bad.make_d29, E.CorruptFileError, "nesting"),
    Row("D30", bad.make_d30, E.InvalidImageAttributesError),
    Row("D31", bad.make_d31, E.CorruptFileError),
    Row("D32", bad.make_d32, None, "encoding", check=check_patient_name_shown),
    Row("D33", bad.make_d33, None, "VR"),
    Row("D34", bad.make_d34, None, "windowing", check=check_file_window_ignored),
    Row("D34-slope-0", bad.make_d34_slope_zero, None, "rescale", check=check_stored_values),
    Row("D35", bad.make_d35, E.NoFinitePixelsError),
    Row("D36", bad.make_d36, E.NoImageDataError),
    Row("D37", bad.make_d37, None),
    d38_row("MR_truncated.dcm", E.TruncatedFileError, "pixel data"),
    d38_row("rtplan_truncated.dcm", E.TruncatedFileError),
    d38_row("badVR.dcm", E.InvalidImageAttributesError),
    d38_row("no_meta.dcm", E.NotDicomError),
    d38_row("meta_missing_tsyntax.dcm", E.CorruptFileError, "transfer syntax"),
    d38_row("no_meta_group_length.dcm", E.NoImageDataError),
    Row("D39-64mb", bad.make_d39_64mb, E.NotDicomError, seconds=2.0),
    Row("D39-2gb", bad.make_d39_2gb, E.NotDicomError, seconds=2.0),
    Row("D40-rows-header", bad.make_d40_rows_header, E.TruncatedFileError, HEADER_CUT),
    Row("D40-body-start", bad.make_d40_body_start, E.TruncatedFileError, HEADER_CUT),
    Row("D40-pixel-header", bad.make_d40_pixel_header, E.TruncatedFileError, HEADER_CUT),
    Row("D40-pixel-length", bad.make_d40_pixel_length, E.TruncatedFileError, HEADER_CUT),
    Row("D40-after-sequence", bad.make_d40_after_sequence, E.TruncatedFileError, HEADER_CUT),
    Row("D40-implicit", bad.make_d40_implicit, E.TruncatedFileError, HEADER_CUT),
    Row("D41-sr", bad.make_d41_sr, E.NoImageDataError),
    Row("D42-zero-tail", bad.make_d42_zero_tail, None),
    Row("D42-trailing-padding", bad.make_d42_trailing_padding, None),
    Row("D43-photometric", bad.make_d43_control_photometric, E.InvalidImageAttributesError, "photometric"),
    Row("D43-text", bad.make_d43_control_text, None, "VOI LUT Function", check=check_control_text_dropped),
    Row("D43-syntax", bad.make_d43_control_syntax, E.UnsupportedSyntaxError, "not a valid UID"),
    Row("P1", bad.make_p1, E.ImageTooLargeError, "exceeds", isolated=True),
    Row("P2", bad.make_p2, E.ImageTooLargeError, "exceeds"),  # policy: 100 Mpx > 89.5 Mpx limit
    Row("P3", bad.make_p3, E.TruncatedFileError),
    Row("P4", bad.make_p4, E.CorruptFileError),
    Row("P5", bad.make_p5, E.UnsupportedImageError),
    Row("P6", bad.make_p6, E.UnsupportedImageError),
    Row("P7", bad.make_p7, E.CorruptFileError),
    Row("P8", bad.make_p8, E.CorruptFileError, "palette"),
    Row("P9", bad.make_p9, E.ImageTooLargeError, "exceeds"),
    Row("P10", bad.make_p10, E.TruncatedFileError, setup=without_opencv),
    Row("P11", bad.make_p11, None, check=check_opened_as_dicom),
    Row("P12", bad.make_p12, None, check=check_p12_pixels),
    Row("F10-fifo", bad.make_f10_fifo, E.FileMissingError, "not a regular file", isolated=True),
    Row("F11-loop", bad.make_f11_loop, E.FileMissingError, "link loop"),
    Row("F12-dangling", bad.make_f12_dangling, E.FileMissingError, "broken symbolic link"),
    Row("F13-folder", bad.make_f13_folder, E.FileMissingError, "folder"),
    Row("F14-link", bad.make_f14_link, None, check=check_opened_as_dicom),
]
ROWS_BY_ID = {row.id: row for row in ROWS}


def as_param(row: Row, xfail: str = "", raises: type[Exception] = AssertionError) -> object:
    """A pytest param for ``row``; a strict xfail while camviewer does not meet it."""
    marks = [pytest.mark.xfail(strict=True, raises=raises, reason=xfail)] if xfail else []
    if row.skip:
        marks.append(pytest.mark.skip(reason=row.skip))
    return pytest.param(row, id=row.id, marks=marks)


# --- running one file ---------------------------------------------------------------------------

def open_in_process(path: Path) -> Outcome:
    """load_image, timed and with traced allocations; only InputError is caught (E1)."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        image = load_image(path)
        return _outcome(None, "", image.warnings, started, image=image)
    except InputError as exc:
        return _outcome(type(exc).__name__, exc.message, (), started)
    finally:
        tracemalloc.stop()


def _outcome(error: str | None, message: str, notes: tuple[str, ...], started: float,
             image: XrayImage | None = None) -> Outcome:
    peak_mib = tracemalloc.get_traced_memory()[1] / (1 << 20)
    return Outcome(error, message, tuple(notes), time.monotonic() - started, peak_mib, image)


CHILD = """
import json, sys, time
from camviewer.errors import InputError
from camviewer.io import load_image
started = time.monotonic()
try:
    result = {"error": None, "message": "", "warnings": list(load_image(sys.argv[1]).warnings)}
except InputError as exc:
    result = {"error": type(exc).__name__, "message": exc.message, "warnings": []}
result["seconds"] = time.monotonic() - started
# VmHWM, not ru_maxrss: ru_maxrss keeps the forked parent's high-water mark across exec
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
result["peak_mib"] = int(hwm.split()[1]) / 1024
print(json.dumps(result))
"""


def run_child(args: list[str], address_space: int) -> subprocess.CompletedProcess[str]:
    """Run Python in a child process with a capped address space (RLIMIT_AS)."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO,
                          timeout=PER_FILE_SECONDS * 2,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (address_space,) * 2))


def open_in_child(path: Path) -> Outcome:
    """load_image in a memory-capped child; anything but InputError fails (E1)."""
    done = run_child(["-c", CHILD, str(path)], CHILD_ADDRESS_SPACE)
    assert done.returncode == 0, f"child exited {done.returncode}: {done.stderr[-2000:]}"
    result = json.loads(done.stdout)
    return Outcome(result["error"], result["message"], tuple(result["warnings"]), result["seconds"], result["peak_mib"])


# --- common expectations ------------------------------------------------------------------------

def snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Size, mtime, ctime and SHA-256 of every file under ``root``.

    Files above 64 MiB (the sparse D39 files) are not hashed; their ctime, which user space
    cannot set, still proves that nothing wrote to them.
    """
    state = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        info = path.stat()
        digest = _sha256(path) if info.st_size <= HASH_LIMIT else ""
        state[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, digest)
    return state


def _sha256(path: Path) -> str:
    with path.open("rb") as fp:
        return hashlib.file_digest(fp, "sha256").hexdigest()


def assert_clean_text(text: str, path: Path | None = None) -> None:
    """(E2) One printable line, no fake PHI or injected text, no traceback; names the file when given."""
    assert text and text.isprintable(), repr(text)
    assert "Traceback" not in text
    assert not any(phi in text for phi in (*FAKE_PHI, bad.INJECTED)), text
    if path is not None:
        assert path.name in text, text


def assert_common(outcome: Outcome, path: Path, isolated: bool, seconds: float) -> None:
    """(E1) bounded time, (E2) clean message and warnings, (E5) bounded memory."""
    assert outcome.seconds < seconds
    if outcome.error:
        assert_clean_text(outcome.message, path)
    for warning in outcome.warnings:
        assert_clean_text(warning)
    budget = CHILD_RSS_BUDGET_MIB if isolated else TRACED_BUDGET_MIB
    assert outcome.peak_mib < budget, f"peak {outcome.peak_mib:.0f} MiB"


def assert_expected(row: Row, outcome: Outcome) -> None:
    """The row's own expectation: the error type (and wording), or an open image (and warning)."""
    if row.error is not None:
        assert outcome.error == row.error.__name__, f"{outcome.error}: {outcome.message}"
        assert row.text.lower() in outcome.message.lower()
        return
    assert outcome.error is None, outcome.message
    if row.text:
        assert any(row.text.lower() in w.lower() for w in outcome.warnings), outcome.warnings
    if row.check is not None:
        row.check(outcome.image)


@pytest.fixture(autouse=True)
def never_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """camviewer must never retry a read with dcmread(force=True)."""
    real = pydicom.dcmread

    def dcmread(*args: object, **kwargs: object) -> object:
        assert not kwargs.get("force"), "dcmread(force=True) used"
        return real(*args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", dcmread)


# --- tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("row", [as_param(row, row.xfail, row.xfail_raises) for row in ROWS])
def test_bad_input(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = row.make(tmp_path)
    before = snapshot(tmp_path)
    if row.setup is not None:
        row.setup(monkeypatch)
    outcome = open_in_child(path) if row.isolated else open_in_process(path)
    assert snapshot(tmp_path) == before, "an input changed or a file appeared (E3)"
    assert_common(outcome, path, row.isolated, row.seconds)
    assert_expected(row, outcome)


CLI_ROWS = ("D1", "D7", "D14", "D21", "D26", "P1", "P3")


@pytest.mark.parametrize("row", [as_param(ROWS_BY_ID[row_id], ROWS_BY_ID[row_id].xfail) for row_id in CLI_ROWS])
def test_cli_reports_bad_input(row: Row, tmp_path: Path) -> None:
    """`camviewer info FILE` exits 1 with one clean stderr line naming the category."""
    path = row.make(tmp_path)
    before = snapshot(tmp_path)
    done = run_child(["-m", "camviewer", "info", str(path)], CLI_ADDRESS_SPACE)
    assert snapshot(tmp_path) == before
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    line = done.stderr.removesuffix("\n")
    assert_clean_text(line, path)
    assert line.startswith(f"camviewer: {row.error.category}"), line


QUIET_XFAIL: dict[str, str] = {}


@pytest.mark.parametrize("row", [as_param(row, QUIET_XFAIL.get(row.id, "")) for row in ROWS if not row.isolated])
def test_libraries_stay_quiet(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capfd: pytest.CaptureFixture[str]) -> None:
    """(E2) load_image prints nothing and lets no warning escape: the CLI would show them on stderr."""
    path = row.make(tmp_path)
    if row.setup is not None:
        row.setup(monkeypatch)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.suppress(Exception):  # outcomes are test_bad_input's business
            load_image(path)
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert capfd.readouterr() == ("", "")


def test_d21_bounded_inflate_honours_the_configured_limit(tmp_path: Path) -> None:
    """The deflate gate itself works: under a 64 MiB limit the D21 bomb is refused early."""
    path = bad.make_d21(tmp_path)
    with pytest.raises(E.DecompressionBombError) as caught:
        load_image(path, Limits(max_inflated_bytes=64 << 20))
    assert_clean_text(caught.value.message, path)


def test_p2_policy_is_the_raster_pixel_limit(tmp_path: Path) -> None:
    """P2's chosen threshold: rasters above Limits.max_raster_pixels are refused, at or below open.

    The default is Pillow's warning threshold (89,478,485 px), so 10000 x 10000 (P2) is refused.
    """
    assert DEFAULT_LIMITS.max_raster_pixels == 89_478_485 < 10000 * 10000
    path = bad.zero_png(tmp_path / "at-limit.png", 100)
    assert load_image(path, Limits(max_raster_pixels=100 * 100)).values.shape == (100, 100)
    with pytest.raises(E.ImageTooLargeError):
        load_image(path, Limits(max_raster_pixels=100 * 100 - 1))



# --- the export's header read, cuts inside elements, named pipes ---------------------------------

HEADER_ROWS = ("D1", "D2", "D3", "D4", "D5", "D6", "D8", "D9", "D20", "D21", "D28", "D29", "D31", "D38-rtplan_truncated",
               "D38-no_meta", "D38-meta_missing_tsyntax", "D39-64mb", "D40-rows-header", "D40-body-start",
               "D40-pixel-header", "D40-pixel-length", "D40-after-sequence", "D40-implicit", "F11-loop",
               "F12-dangling", "F13-folder")


@pytest.mark.parametrize("row", [as_param(ROWS_BY_ID[row_id]) for row_id in HEADER_ROWS])
def test_export_header_read_fails_as_the_image_does(row: Row, tmp_path: Path) -> None:
    """The header-only read (``read_dataset(..., stop_before_pixels=True)``) raises load_image's error for files that
    fail before pixel data."""
    path = row.make(tmp_path)
    with pytest.raises(InputError) as opened:
        load_image(path)
    with pytest.raises(InputError) as exported:
        read_dataset(path, stop_before_pixels=True)
    assert type(exported.value) is type(opened.value) is row.error
    assert exported.value.message == opened.value.message
    assert_clean_text(exported.value.message, path)


def read_header(path: Path) -> object:
    return read_dataset(path, stop_before_pixels=True)


def element_ends(data: bytes) -> set[int]:
    """Where the data set of ``data`` starts and where each of its top-level elements ends."""
    ds = pydicom.dcmread(io.BytesIO(data))
    groups = (ds.file_meta, ds)
    raws: list[object] = [group.get_item(tag, keep_deferred=True) for group in groups for tag in group.keys()]
    return {raw.value_tell + raw.length for raw in raws if isinstance(raw, RawDataElement)}


def outcome_of(read: Callable[[Path], object], path: Path) -> str:
    try:
        read(path)
    except InputError as exc:
        return type(exc).__name__
    return "opened"


def test_every_cut_inside_an_element_reads_as_truncated(tmp_path: Path) -> None:
    """good.dcm cut anywhere but between two elements is truncated, never 'no image' or corrupt.

    The export's header read stops before the pixel values, so it is checked on cuts before them.
    """
    data = bad.good_bytes()
    pixel_values = data.index(bad.PIXEL_HEADER) + 12
    between = element_ends(data)
    path = tmp_path / "cut.dcm"
    wrong = {}
    for cut in (cut for cut in range(len(bad.PREAMBLE), pixel_values + 64) if cut not in between):
        path.write_bytes(data[:cut])
        readers = (load_image, read_header) if cut < pixel_values else (load_image,)
        for read in readers:
            outcome = outcome_of(read, path)
            if outcome != "TruncatedFileError":
                wrong[f"{read.__name__} at {cut}"] = outcome
    assert wrong == {}


@pytest.mark.parametrize("padding", range(1, 8))
def test_zero_bytes_after_the_last_element_are_padding(tmp_path: Path, padding: int) -> None:
    """Fewer zero bytes than an element header after a whole file: padding, not a cut header."""
    path = bad.write_bytes(tmp_path / "padded.dcm", bad.good_bytes() + bytes(padding))
    np.testing.assert_array_equal(load_image(path).values, gradient())


@contextlib.contextmanager
def released_after(pipe: Path, seconds: float) -> Iterator[None]:
    """After ``seconds``, keep opening ``pipe`` for writing, so that a reader blocked in open() is let go.

    A regression that opens the pipe then fails its test instead of hanging the suite.
    """
    stop = threading.Event()

    def release() -> None:
        stop.wait(seconds)
        while not stop.is_set():
            with contextlib.suppress(OSError):  # ENXIO while no reader has the pipe open
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            stop.wait(0.05)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("read", [load_image, load_dicom, load_raster, read_dataset, read_header],
                         ids=lambda read: read.__name__)
def test_a_named_pipe_is_refused_before_it_is_opened(tmp_path: Path, read: Callable[[Path], object]) -> None:
    pipe = bad.make_f10_fifo(tmp_path)
    started = time.monotonic()
    with released_after(pipe, 5.0), pytest.raises(E.FileMissingError, match="not a regular file") as caught:
        read(pipe)
    assert time.monotonic() - started < 5.0
    assert_clean_text(caught.value.message, pipe)
