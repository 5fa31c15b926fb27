"""Fixture generators for the bad-input catalogue (reliability_anchors.md, "Bad-input test catalogue").

Each ``make_<row>(folder)`` writes one small synthetic file into ``folder`` and returns its path.
Nothing is downloaded and no real data ships: DICOM files start from ``dicom_factory``'s good.dcm
(fake PHI), PNG/JPEG files are built from generated arrays or raw chunks. "Random" bytes come from
a seeded generator, so every run sees the same files. Only D38 copies pydicom's bundled test files.
The F rows make a named pipe, symbolic links or a folder instead of a file.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from dicom_factory import DX_PRESENTATION, good_dcm, gradient, make_dataset, write
from PIL import Image
from pydicom import uid
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.sequence import Sequence

MIB = 1 << 20
PREAMBLE = b"\0" * 128 + b"DICM"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"}
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
BUNDLED = ("MR_truncated.dcm", "rtplan_truncated.dcm", "badVR.dcm", "no_meta.dcm",
           "meta_missing_tsyntax.dcm", "no_meta_group_length.dcm")
P12_SHAPE = (4, 1021)


# --- byte-level helpers -------------------------------------------------------------------------

def seeded_bytes(count: int, seed: int = 0) -> bytes:
    """Deterministic 'random' bytes."""
    return random.Random(seed).randbytes(count)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def deflate_repeated(chunk: bytes, count: int, prefix: bytes = b"") -> bytes:
    """Raw deflate of ``prefix + chunk * count`` without compressing every copy.

    A full flush resets the compressor's history, so the block that encodes one copy after a
    flush is valid after any other flush: it is built once and repeated.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + block * count + compressor.flush()


def zlib_repeated(chunk: bytes, count: int) -> bytes:
    """The zlib stream (header, deflate data, Adler-32) of ``chunk * count``."""
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(chunk, checksum)
    return b"\x78\xda" + deflate_repeated(chunk, count) + struct.pack(">I", checksum)


def explicit_element(tag: int, vr: str, value: bytes, length: int | None = None) -> bytes:
    """One Explicit VR Little Endian element; ``length`` overrides the encoded value length."""
    length = len(value) if length is None else length
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode()
    if vr in LONG_VRS:
        return head + struct.pack("<HI", 0, length) + value
    return head + struct.pack("<H", length) + value


def delimiter(tag: int, length: int = 0) -> bytes:
    """An item or delimitation header: tag and a 32-bit length, no VR."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, length)


def file_meta(syntax: str, sop_class: str = DX_PRESENTATION) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = uid.generate_uid()
    meta.TransferSyntaxUID = syntax
    return meta


def meta_bytes(meta: FileMetaDataset) -> bytes:
    """Preamble, DICM and the encoded file meta group."""
    fp = DicomBytesIO()
    write_file_meta_info(fp, meta, enforce_standard=True)
    return PREAMBLE + fp.getvalue()


def part10(path: Path, meta: FileMetaDataset, body: bytes) -> Path:
    """Write a Part 10 file from file meta and an already encoded data set body."""
    return write_bytes(path, meta_bytes(meta) + body)


def encode_body(ds: Dataset, implicit: bool) -> bytes:
    """A data set's elements in Implicit or Explicit VR Little Endian, without file meta."""
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = implicit, True
    write_dataset(fp, ds)
    return fp.getvalue()


def dataset_bytes(ds: Dataset) -> bytes:
    """The bytes ``dicom_factory.write`` produces for ``ds``."""
    buffer = io.BytesIO()
    write(ds, buffer)  # type: ignore[arg-type]  # save_as accepts a file-like as well
    return buffer.getvalue()


def good_bytes() -> bytes:
    """The bytes of good.dcm."""
    return dataset_bytes(make_dataset())


def write_invalid(path: Path, **attributes: object) -> Path:
    """good.dcm with values pydicom warns about (they are the point of the fixture), quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write(make_dataset(**attributes), path)


def encapsulated_dicom(path: Path, syntax: str, frame: bytes, **attributes: object) -> Path:
    """good.dcm re-labelled with a compressed syntax and one encapsulated frame."""
    ds = make_dataset(**attributes)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return write(ds, path)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, idat: bytes, color_type: int = 0, extra: bytes = b"") -> bytes:
    """An 8-bit PNG from raw parts: IHDR, ``extra`` chunks, one IDAT and IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + extra + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def encoded(pixels: np.ndarray, fmt: str) -> bytes:
    """A gray image encoded by Pillow (``fmt`` is "PNG" or "JPEG")."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def noisy_gray(rows: int = 64, columns: int = 64) -> np.ndarray:
    """An 8-bit image that does not compress away (so cutting a file cuts image data)."""
    return np.random.default_rng(1).integers(0, 256, (rows, columns), dtype=np.uint8)


def zero_png(path: Path, side: int) -> Path:
    """A side x side 8-bit all-zero grayscale PNG, compressed ~1000:1 without building the pixels."""
    row = bytes(side + 1)  # filter byte 0, then the samples
    rows_per_chunk = max(n for n in range(1, side + 1) if side % n == 0 and n * len(row) <= MIB)
    return write_bytes(path, png_bytes(side, side, zlib_repeated(row * rows_per_chunk, side // rows_per_chunk)))


def sparse_zeros(path: Path, size: int) -> Path:
    """An all-zero file of ``size`` bytes that takes no disk blocks."""
    path.touch()
    os.truncate(path, size)
    return path


def bundled_path(name: str) -> str | None:
    """The path of a test file shipped inside the pydicom wheel, or None; never downloads."""
    found = get_testdata_file(name, download=False)
    return str(found) if found else None


# --- DICOM inputs -------------------------------------------------------------------------------

def make_d1(folder: Path) -> Path:
    """0-byte x.dcm."""
    return write_bytes(folder / "x.dcm", b"")


def make_d2(folder: Path) -> Path:
    """Text named .dcm (force=True would accept it)."""
    return write_bytes(folder / "hello.dcm", b"hello" * 50)


def make_d3(folder: Path) -> Path:
    """4 KB of random bytes named .dcm."""
    return write_bytes(folder / "random.dcm", seeded_bytes(4096))


def make_d4(folder: Path) -> Path:
    """Only a preamble and the DICM prefix."""
    return write_bytes(folder / "preamble-only.dcm", PREAMBLE)


def make_d5(folder: Path) -> Path:
    """good.dcm cut at 150 bytes, inside the file meta."""
    return write_bytes(folder / "cut-150.dcm", good_bytes()[:150])


def make_d6(folder: Path) -> Path:
    """good.dcm cut at 400 bytes, inside the data set."""
    return write_bytes(folder / "cut-400.dcm", good_bytes()[:400])


def make_d7(folder: Path) -> Path:
    """good.dcm minus its last byte (pixel data incomplete)."""
    return write_bytes(folder / "minus-1.dcm", good_bytes()[:-1])


def make_d8(folder: Path) -> Path:
    """An Implicit VR data set with no preamble and no file meta."""
    return write_bytes(folder / "no-meta.dcm", encode_body(make_dataset(), implicit=True))


def make_d9(folder: Path) -> Path:
    """Preamble and DICM, then 2 KB of random bytes."""
    return write_bytes(folder / "dicm-random.dcm", PREAMBLE + seeded_bytes(2048))


def make_d10(folder: Path) -> Path:
    """good.dcm with PixelData deleted."""
    ds = make_dataset()
    del ds.PixelData
    return write(ds, folder / "no-pixels.dcm")


def make_d11(folder: Path) -> Path:
    """PixelData shortened to 1000 bytes (8192 expected)."""
    ds = make_dataset()
    ds.PixelData = ds.PixelData[:1000]
    return write(ds, folder / "short-pixels.dcm")


def make_d12(folder: Path) -> Path:
    """PixelData with 5000 bytes of excess padding."""
    ds = make_dataset()
    ds.PixelData = ds.PixelData + bytes(5000)
    return write(ds, folder / "padded-pixels.dcm")


def make_d13(folder: Path) -> Path:
    """Native syntax, Rows = Columns = 65535, 8 KB of pixel data."""
    return good_dcm(folder / "huge-native.dcm", Rows=65535, Columns=65535)


def make_d14(folder: Path) -> Path:
    """RLE Lossless, Rows = Columns = 65535, about 1 KB: decoding would allocate 8 GiB."""
    ds = make_dataset(pixels=np.zeros((64, 64), np.uint16))
    ds.compress(uid.RLELossless, encoding_plugin="pydicom")
    ds.Rows = ds.Columns = 65535
    return write(ds, folder / "huge-rle.dcm")


def make_d15(folder: Path) -> Path:
    """NumberOfFrames = 2147483647."""
    return good_dcm(folder / "many-frames.dcm", NumberOfFrames=2147483647)


def make_d16(folder: Path) -> Path:
    """Rows = 0."""
    return good_dcm(folder / "rows-0.dcm", Rows=0)


def make_d17_bits_allocated(folder: Path) -> Path:
    """BitsAllocated = 7."""
    return good_dcm(folder / "bits-allocated-7.dcm", BitsAllocated=7)


def make_d17_bits_stored(folder: Path) -> Path:
    """BitsStored = 40 (more than BitsAllocated)."""
    return good_dcm(folder / "bits-stored-40.dcm", BitsStored=40)


def make_d18_no_photometric(folder: Path) -> Path:
    """PhotometricInterpretation removed."""
    ds = make_dataset()
    del ds.PhotometricInterpretation
    return write(ds, folder / "no-photometric.dcm")


def make_d18_three_samples(folder: Path) -> Path:
    """SamplesPerPixel = 3 on MONOCHROME2 data."""
    return good_dcm(folder / "three-samples.dcm", SamplesPerPixel=3)


def make_d19(folder: Path) -> Path:
    """A valid Deflated Explicit VR Little Endian file."""
    return write(make_dataset(syntax=uid.DeflatedExplicitVRLittleEndian), folder / "deflated.dcm")


FIXED_INSTANCE_UID = "1.2.826.0.1.3680043.8.498.1"


def make_d20(folder: Path) -> Path:
    """The deflated file with its last 200 bytes XOR 0xA5. The body is fixed (a fixed SOP Instance UID):
    with a random one, about one stream in six still inflated, to garbage pixel data, after the header."""
    ds = make_dataset(syntax=uid.DeflatedExplicitVRLittleEndian, SOPInstanceUID=FIXED_INSTANCE_UID)
    data = bytearray(dataset_bytes(ds))
    data[-200:] = bytes(b ^ 0xA5 for b in data[-200:])
    return write_bytes(folder / "deflated-corrupt.dcm", bytes(data))


def make_d21(folder: Path) -> Path:
    """Deflate bomb: a ~200 KB file whose body inflates to one 200 MB OB element of zeros."""
    size = 200 * MIB
    header = explicit_element(0x00091000, "OB", b"", length=size)
    body = deflate_repeated(bytes(MIB), size // MIB, prefix=header)
    return part10(folder / "deflate-bomb.dcm", file_meta(uid.DeflatedExplicitVRLittleEndian), body)


def make_d22(folder: Path) -> Path:
    """JPEG 2000 syntax with a garbage codestream (SOC + SIZ markers, then random bytes)."""
    frame = b"\xff\x4f\xff\x51" + seeded_bytes(508)
    return encapsulated_dicom(folder / "j2k-garbage.dcm", uid.JPEG2000Lossless, frame)


def make_d23(folder: Path) -> Path:
    """A valid JPEG 2000 Lossless file (the test makes its decoder unavailable)."""
    ds = make_dataset()
    ds.compress(uid.JPEG2000Lossless)
    return write(ds, folder / "j2k.dcm")


def make_d24(folder: Path) -> Path:
    """JPEG Baseline syntax with a fragment of SOI + APP0 + random bytes + EOI."""
    frame = b"\xff\xd8\xff\xe0" + seeded_bytes(506) + b"\xff\xd9"
    return encapsulated_dicom(folder / "jpeg-garbage.dcm", uid.JPEGBaseline8Bit, frame,
                              pixels=gradient(bits=8), bits_stored=8)


def make_d25(folder: Path) -> Path:
    """JPEG Baseline with a valid 16x16 codestream; the DICOM header says 60000 x 60000."""
    frame = encoded(noisy_gray(16, 16), "JPEG")
    return encapsulated_dicom(folder / "jpeg-60000.dcm", uid.JPEGBaseline8Bit, frame,
                              pixels=gradient(16, 16, bits=8), bits_stored=8, Rows=60000, Columns=60000)


def make_d26(folder: Path) -> Path:
    """TransferSyntaxUID 1.2.3.4.5.6.7; the data set itself is Explicit VR Little Endian."""
    body = encode_body(make_dataset(), implicit=False)
    return part10(folder / "unknown-syntax.dcm", file_meta("1.2.3.4.5.6.7"), body)


def make_d27(folder: Path) -> Path:
    """A trailing (7FE1,0010) OB element declaring 0xFFFFFFF0 bytes, with 10 present."""
    tail = explicit_element(0x7FE10010, "OB", bytes(10), length=0xFFFFFFF0)
    return write_bytes(folder / "huge-element.dcm", good_bytes() + tail)


def open_sequence_bytes() -> bytes:
    """good.dcm's data set with an undefined-length Referenced Image Sequence of one undefined-length item."""
    item = Dataset()
    item.ReferencedSOPClassUID = DX_PRESENTATION
    item.is_undefined_length_sequence_item = True
    ds = make_dataset(ReferencedImageSequence=Sequence([item]))
    ds["ReferencedImageSequence"].is_undefined_length = True
    return dataset_bytes(ds)


def make_d28(folder: Path) -> Path:
    """An undefined-length SQ and item, then EOF with no delimiters (pixel data lost)."""
    data = open_sequence_bytes()
    return write_bytes(folder / "open-sequence.dcm", data[:data.index(delimiter(ITEM_END))])


def make_d29(folder: Path, depth: int = 5000) -> Path:
    """5000 nested undefined-length sequences, properly delimited (about 180 KB)."""
    ds = Dataset()  # only elements that sort before (0008,1140)
    ds.SOPClassUID = DX_PRESENTATION
    ds.SOPInstanceUID = uid.generate_uid()
    opening = explicit_element(0x00081140, "SQ", b"", length=UNDEFINED) + delimiter(ITEM, UNDEFINED)
    closing = delimiter(ITEM_END) + delimiter(SEQUENCE_END)
    body = encode_body(ds, implicit=False) + opening * depth + closing * depth
    return part10(folder / "deep-nesting.dcm", file_meta(uid.ExplicitVRLittleEndian), body)


def make_d30(folder: Path) -> Path:
    """The Rows element rewritten with VL = 3 (one byte inserted, so later elements stay aligned)."""
    data = good_bytes()
    rows = struct.pack("<HH", 0x0028, 0x0010) + b"US"
    start = data.index(rows + b"\x02\x00")
    patched = rows + b"\x03\x00" + data[start + 8:start + 10] + b"\0"
    return write_bytes(folder / "rows-vl-3.dcm", data[:start] + patched + data[start + 10:])


def make_d31(folder: Path) -> Path:
    """The Modality element's VR bytes replaced by 0x01 0x02."""
    modality = struct.pack("<HH", 0x0008, 0x0060)
    data = good_bytes().replace(modality + b"CS", modality + b"\x01\x02", 1)
    return write_bytes(folder / "bad-vr.dcm", data)


def make_d32(folder: Path) -> Path:
    """SpecificCharacterSet 'ISO_IR 99999' with a non-ASCII (Latin-1 encoded) patient name."""
    return write_invalid(folder / "unknown-charset.dcm", PatientName="Doé^Jane", SpecificCharacterSet="ISO_IR 99999")


def make_d33(folder: Path) -> Path:
    """File meta says Explicit VR Little Endian, the data set is encoded in Implicit VR."""
    ds = make_dataset()
    return part10(folder / "vr-mismatch.dcm", ds.file_meta, encode_body(ds, implicit=True))


def make_d34(folder: Path) -> Path:
    """WindowCenter 'nan', WindowWidth '0', RescaleSlope '0'."""
    return write_invalid(folder / "bad-window.dcm", WindowCenter="nan", WindowWidth="0", RescaleSlope="0")


def make_d34_slope_zero(folder: Path) -> Path:
    """RescaleSlope '0' alone (no window), so only the rescale is invalid."""
    return write_invalid(folder / "slope-0.dcm", RescaleSlope="0")


def make_d35(folder: Path) -> Path:
    """An 8x8 Float Pixel Data image, all NaN."""
    ds = make_dataset()
    for keyword in ("PixelData", "BitsStored", "HighBit", "PixelRepresentation"):
        delattr(ds, keyword)
    ds.Rows = ds.Columns = 8
    ds.BitsAllocated = 32
    ds.FloatPixelData = np.full((8, 8), np.nan, np.float32).tobytes()
    return write(ds, folder / "all-nan.dcm")


def make_d36(folder: Path) -> Path:
    """folder/a/b/DICOMDIR whose IMAGE record references ../../secret.dcm (a good.dcm).

    The root record offsets are real, so pydicom >= 3.0.2's FileSet rejects it with the
    CVE-2026-32711 PermissionError instead of failing earlier.
    """
    good_dcm(folder / "secret.dcm")
    root = folder / "a" / "b"
    root.mkdir(parents=True)
    meta = file_meta(uid.ExplicitVRLittleEndian, sop_class=uid.MediaStorageDirectoryStorage)
    ds = _dicomdir(["..", "..", "secret.dcm"], record_offset=0)
    record_offset = len(meta_bytes(meta)) + encode_body(ds, implicit=False).index(delimiter(ITEM, UNDEFINED))
    body = encode_body(_dicomdir(["..", "..", "secret.dcm"], record_offset), implicit=False)
    return part10(root / "DICOMDIR", meta, body)


def _dicomdir(file_id: list[str], record_offset: int) -> Dataset:
    """A DICOMDIR data set with one root IMAGE record at byte ``record_offset``."""
    ds = Dataset()
    ds.FileSetID = "BADSET"
    ds.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity = record_offset
    ds.OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity = record_offset
    ds.FileSetConsistencyFlag = 0
    record = Dataset()
    record.OffsetOfTheNextDirectoryRecord = 0
    record.RecordInUseFlag = 0xFFFF
    record.OffsetOfReferencedLowerLevelDirectoryEntity = 0
    record.DirectoryRecordType = "IMAGE"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ".." is not a valid CS value: that is the attack
        record.ReferencedFileID = file_id
    record.ReferencedSOPClassUIDInFile = DX_PRESENTATION
    record.ReferencedSOPInstanceUIDInFile = "1.2.3.4"
    record.ReferencedTransferSyntaxUIDInFile = uid.ExplicitVRLittleEndian
    ds.DirectoryRecordSequence = Sequence([record])
    ds["DirectoryRecordSequence"].is_undefined_length = True
    record.is_undefined_length_sequence_item = True
    return ds


def make_d37(folder: Path) -> Path:
    """good.dcm whose preamble starts with 'MZ' (a PE header polyglot)."""
    ds = make_dataset()
    ds.preamble = b"MZ" + bytes(126)
    return write(ds, folder / "mz-preamble.dcm")


def make_d38(folder: Path, name: str) -> Path:
    """A copy of one of pydicom's bundled malformed test files."""
    source = bundled_path(name)
    if source is None:
        raise FileNotFoundError(f"{name} is not bundled with this pydicom")
    return Path(shutil.copyfile(source, folder / name))


def make_d39_64mb(folder: Path) -> Path:
    """A 64 MiB all-zero file named .dcm (force=True would parse it for ~50 s)."""
    return sparse_zeros(folder / "zeros-64mb.dcm", 64 * MIB)


def make_d39_2gb(folder: Path) -> Path:
    """A 2 GiB sparse all-zero file named .dcm."""
    return sparse_zeros(folder / "zeros-2gb.dcm", 2048 * MIB)


def cut_into(data: bytes, element: bytes, depth: int) -> bytes:
    """``data`` cut ``depth`` bytes into the first element header that starts with ``element``."""
    return data[:data.index(element) + depth]


ROWS_HEADER = struct.pack("<HH", 0x0028, 0x0010) + b"US"
PIXEL_HEADER = struct.pack("<HH", 0x7FE0, 0x0010) + b"OW"
INJECTED = "PWNED"
CONTROL_TEXT = f"\x1b]0;{INJECTED}\x07\n\r\x1b[2J{INJECTED}"  # retitles and clears a terminal


def make_d40_rows_header(folder: Path) -> Path:
    """good.dcm cut 3 bytes into the Rows element header (before Pixel Data)."""
    return write_bytes(folder / "cut-rows-header.dcm", cut_into(good_bytes(), ROWS_HEADER, 3))


def make_d40_body_start(folder: Path) -> Path:
    """good.dcm cut 5 bytes into the first data set element header, right after the file meta."""
    data = good_bytes()
    body = len(meta_bytes(make_dataset().file_meta))
    return write_bytes(folder / "cut-first-header.dcm", data[:body + 5])


def make_d40_pixel_header(folder: Path) -> Path:
    """good.dcm cut 6 bytes into the Pixel Data element header (tag and VR present)."""
    return write_bytes(folder / "cut-pixel-header.dcm", cut_into(good_bytes(), PIXEL_HEADER, 6))


def make_d40_pixel_length(folder: Path) -> Path:
    """good.dcm cut inside the 4-byte value length of the Pixel Data header."""
    return write_bytes(folder / "cut-pixel-length.dcm", cut_into(good_bytes(), PIXEL_HEADER, 10))


def make_d40_after_sequence(folder: Path) -> Path:
    """An undefined-length sequence, properly delimited, then a cut 4 bytes into the next header."""
    data = open_sequence_bytes()
    end = data.index(delimiter(SEQUENCE_END)) + len(delimiter(SEQUENCE_END))
    return write_bytes(folder / "cut-after-sequence.dcm", data[:end + 4])


def make_d40_implicit(folder: Path) -> Path:
    """An Implicit VR Little Endian good.dcm cut 5 bytes into the Rows element header."""
    data = dataset_bytes(make_dataset(syntax=uid.ImplicitVRLittleEndian))
    return write_bytes(folder / "cut-implicit.dcm", cut_into(data, struct.pack("<HH", 0x0028, 0x0010), 5))


def make_d41_sr(folder: Path) -> Path:
    """A Basic Text SR: a genuine DICOM object without pixel data."""
    ds = Dataset()
    ds.file_meta = file_meta(uid.ExplicitVRLittleEndian, sop_class=uid.BasicTextSRStorage)
    ds.SOPClassUID = uid.BasicTextSRStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.PatientName, ds.PatientID = "Doe^Jane", "MRN12345"
    ds.ValueType, ds.TextValue = "TEXT", "No acute findings."
    return write(ds, folder / "report.dcm")


def make_d42_zero_tail(folder: Path) -> Path:
    """good.dcm followed by 5 zero bytes (padding, not a cut element header)."""
    return write_bytes(folder / "zero-tail.dcm", good_bytes() + bytes(5))


def make_d42_trailing_padding(folder: Path) -> Path:
    """good.dcm with a Data Set Trailing Padding element after Pixel Data."""
    return write(make_dataset(DataSetTrailingPadding=bytes(100)), folder / "trailing-padding.dcm")


def make_d43_control_photometric(folder: Path) -> Path:
    """Photometric Interpretation holding terminal escape codes and newlines."""
    return write_invalid(folder / "escape-photometric.dcm", PhotometricInterpretation=CONTROL_TEXT)


def make_d43_control_text(folder: Path) -> Path:
    """Escape codes and newlines in VOI LUT Function, the window and LUT explanations and a code string."""
    lut = Dataset()
    lut.add_new(0x00283002, "US", [2, 0, 16])  # LUT Descriptor
    lut.add_new(0x00283006, "US", [0, 65535])  # LUT Data
    lut.LUTExplanation = CONTROL_TEXT
    return write_invalid(folder / "escape-text.dcm", WindowCenter=30000, WindowWidth=20000, VOILUTFunction=CONTROL_TEXT,
                         WindowCenterWidthExplanation=CONTROL_TEXT, VOILUTSequence=Sequence([lut]),
                         PixelSpacing=[0.2, 0.2], PixelSpacingCalibrationType=CONTROL_TEXT, ViewPosition=CONTROL_TEXT)


def make_d43_control_syntax(folder: Path) -> Path:
    """A Transfer Syntax UID holding escape codes; the data set is Explicit VR Little Endian."""
    body = encode_body(make_dataset(), implicit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        meta = file_meta(CONTROL_TEXT)
    return part10(folder / "escape-syntax.dcm", meta, body)


# --- filesystem inputs --------------------------------------------------------------------------

def make_f10_fifo(folder: Path) -> Path:
    """A named pipe called pipe.dcm: opening it for reading blocks until a writer comes."""
    path = folder / "pipe.dcm"
    os.mkfifo(path)
    return path


def make_f11_loop(folder: Path) -> Path:
    """loop-a.dcm -> loop-b.dcm -> loop-a.dcm."""
    (folder / "loop-b.dcm").symlink_to(folder / "loop-a.dcm")
    (folder / "loop-a.dcm").symlink_to(folder / "loop-b.dcm")
    return folder / "loop-a.dcm"


def make_f12_dangling(folder: Path) -> Path:
    """A link to a file that does not exist."""
    path = folder / "dangling.dcm"
    path.symlink_to(folder / "missing.dcm")
    return path


def make_f13_folder(folder: Path) -> Path:
    """A folder named like a DICOM file."""
    path = folder / "folder.dcm"
    path.mkdir()
    return path


def make_f14_link(folder: Path) -> Path:
    """A link to good.dcm: links to regular files are followed."""
    good_dcm(folder / "target.dcm")
    path = folder / "link.dcm"
    path.symlink_to(folder / "target.dcm")
    return path


# --- PNG / JPEG inputs --------------------------------------------------------------------------

def make_p1(folder: Path) -> Path:
    """20000 x 20000 8-bit zero PNG, about 390 KB."""
    return zero_png(folder / "bomb-20000.png", 20000)


def make_p2(folder: Path) -> Path:
    """10000 x 10000 8-bit zero PNG (100 Mpx), about 100 KB."""
    return zero_png(folder / "big-10000.png", 10000)


def make_p3(folder: Path) -> Path:
    """A PNG cut in half."""
    data = encoded(noisy_gray(), "PNG")
    return write_bytes(folder / "half.png", data[: len(data) // 2])


def make_p4(folder: Path) -> Path:
    """A PNG whose IDAT is a zlib header and 50 random bytes."""
    return write_bytes(folder / "broken-idat.png", png_bytes(64, 64, b"\x78\x9c" + seeded_bytes(50)))


def make_p5(folder: Path) -> Path:
    """A PNG whose IHDR CRC is flipped."""
    data = bytearray(encoded(noisy_gray(), "PNG"))
    crc = len(PNG_SIGNATURE) + 8 + 13  # after the signature, IHDR length + type, 13 data bytes
    data[crc:crc + 4] = bytes(b ^ 0xFF for b in data[crc:crc + 4])
    return write_bytes(folder / "bad-crc.png", bytes(data))


def make_p6(folder: Path) -> Path:
    """A PNG with width 0."""
    return write_bytes(folder / "width-0.png", png_bytes(0, 64, zlib.compress(bytes(64))))


def make_p7(folder: Path) -> Path:
    """A zTXt chunk of 50 MiB of 'A' compressed to ~50 KB, before a valid 64 x 64 image."""
    text = png_chunk(b"zTXt", b"Comment\0\0" + zlib_repeated(b"A" * MIB, 50))
    return write_bytes(folder / "ztxt-bomb.png", png_bytes(64, 64, zlib.compress(bytes(65 * 64)), extra=text))


def make_p8(folder: Path) -> Path:
    """A palette PNG (colour type 3) without a PLTE chunk."""
    return write_bytes(folder / "no-plte.png", png_bytes(64, 64, zlib.compress(bytes(65 * 64)), color_type=3))


def make_p9(folder: Path) -> Path:
    """A 16 x 16 JPEG whose SOF0 says 60000 x 60000."""
    data = bytearray(encoded(noisy_gray(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)  # after marker, length, precision
    return write_bytes(folder / "sof-60000.jpg", bytes(data))


def make_p10(folder: Path) -> Path:
    """A JPEG cut in half."""
    data = encoded(noisy_gray(), "JPEG")
    return write_bytes(folder / "half.jpg", data[: len(data) // 2])


def make_p11(folder: Path) -> Path:
    """good.dcm renamed .png."""
    return good_dcm(folder / "dicom.png")


def p12_pixels() -> np.ndarray:
    """The 16-bit source image of P12 (odd width)."""
    return gradient(*P12_SHAPE, bits=16)


def make_p12(folder: Path) -> Path:
    """A 16-bit grayscale PNG, 1021 pixels wide."""
    return write_bytes(folder / "gray16-odd.png", encoded(p12_pixels(), "PNG"))
