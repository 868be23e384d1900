"""Malformed DICOM inputs, generated deterministically from small valid seed series.

Used by ``tests/core/imaging/test_mutants.py`` (a few hundred mutants) and ``benchmarks/dicom_fuzz.py``
(thousands). A mutant is a folder holding a small series in which one file was damaged, or a single
damaged file opened directly. Operators: truncation, byte flips, wrong and huge element lengths, removed
or absurd header values (Rows, Columns, PixelData, positions, frames, bit depth...), zero-byte, random,
text and PNG files named ``.dcm``.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .factory import make_hu

#: VRs whose explicit-VR element header has a 4-byte length after two reserved bytes.
_LONG_VRS = {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"OD", b"OL", b"OV", b"UC", b"UR", b"SV", b"UV"}

#: Header elements worth damaging (tag -> keyword), the ones the loader relies on.
_KEY_TAGS = {
    0x00020010: "TransferSyntaxUID",
    0x00080016: "SOPClassUID",
    0x00080060: "Modality",
    0x00080008: "ImageType",
    0x0020000E: "SeriesInstanceUID",
    0x00200032: "ImagePositionPatient",
    0x00200037: "ImageOrientationPatient",
    0x00280002: "SamplesPerPixel",
    0x00280008: "NumberOfFrames",
    0x00280010: "Rows",
    0x00280011: "Columns",
    0x00280030: "PixelSpacing",
    0x00280100: "BitsAllocated",
    0x00280101: "BitsStored",
    0x00280103: "PixelRepresentation",
    0x00281052: "RescaleIntercept",
    0x00281053: "RescaleSlope",
    0x00280120: "PixelPaddingValue",
    0x52009230: "PerFrameFunctionalGroupsSequence",
    0x7FE00010: "PixelData",
}


@dataclass(frozen=True)
class Mutant:
    """One malformed input: the files of its folder and what to open (the folder, or one file in it)."""

    name: str
    files: dict[str, bytes]
    open_file: str | None = None

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (folder / name).write_bytes(data)
        return folder / self.open_file if self.open_file else folder


def build_seeds() -> dict[str, list[bytes]]:
    """Small valid series (file bytes, in slice order) in the encodings the loader supports."""
    import tempfile

    import pydicom
    from pydicom.uid import ImplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless

    from ssc_core.imaging.dicom_writer import SeriesUIDs, enhanced_ct_dataset

    from .factory import axial_positions, write_series

    seeds: dict[str, list[bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hu = make_hu(4, rows=16, cols=12)
        seeds["explicit"] = [p.read_bytes() for p in write_series(root / "e", hu)]
        stored = [(hu[k].astype(np.int32) + 1024) for k in range(4)]
        for s in stored:
            s[:, :1] = 63536
        paths = write_series(root / "u", hu, stored=stored, pixel_representation=0)
        for p in paths:
            ds = pydicom.dcmread(p)
            ds.add_new(0x00280120, "US", 63536)
            ds.save_as(p)
        seeds["unsigned_padding"] = [p.read_bytes() for p in paths]
        implicit = []
        for p in write_series(root / "i", hu):
            ds = pydicom.dcmread(p)
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
            buf = io.BytesIO()
            pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True, enforce_file_format=True)
            implicit.append(buf.getvalue())
        seeds["implicit"] = implicit
        big = make_hu(4, rows=32, cols=32)
        for name, syntax in (("rle", RLELossless), ("jpegls", JPEGLSLossless), ("j2k", JPEG2000Lossless)):
            seeds[name] = [p.read_bytes() for p in write_series(root / name, big, transfer_syntax=syntax)]
        ds = enhanced_ct_dataset(hu + 1024, positions=axial_positions(4), uids=SeriesUIDs.new("fuzz"))
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        seeds["enhanced"] = [buf.getvalue()]
    return seeds


# --- byte-level operators -------------------------------------------------------------------------------


def _element_offsets(data: bytes) -> list[tuple[int, int, bool]]:
    """(offset, tag, explicit VR) of the key header elements found in ``data``."""
    found = []
    explicit = b"1.2.840.10008.1.2\x00" not in data[:400] and b"1.2.840.10008.1.2 " not in data[:400]
    for tag in _KEY_TAGS:
        pattern = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
        pos = data.find(pattern, 132 if tag >> 16 != 2 else 128)
        if pos >= 0:
            found.append((pos, tag, explicit or tag >> 16 == 2))
    return found


def _set_length(data: bytes, rng: np.random.Generator) -> bytes:
    offsets = _element_offsets(data)
    if not offsets:
        return data[: len(data) // 2]
    pos, _tag, explicit = offsets[rng.integers(len(offsets))]
    out = bytearray(data)
    vr = bytes(out[pos + 4 : pos + 6])
    if explicit and vr in _LONG_VRS:
        at, fmt, top = pos + 8, "<I", 0xFFFFFFFF
    elif explicit:
        at, fmt, top = pos + 6, "<H", 0xFFFF
    else:
        at, fmt, top = pos + 4, "<I", 0xFFFFFFFF
    if at + struct.calcsize(fmt) > len(out):
        return data
    (old,) = struct.unpack_from(fmt, out, at)
    choices = [0, 1, old + 1, max(0, old - 1), old + 2, old * 2 + 7, top, top - 1, top - 15, len(data) * 4]
    if fmt == "<I":
        choices += [0x7FFFFFFF, 0xFFFFFFF0, 0x80000000]
    value = int(choices[rng.integers(len(choices))]) & top
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def _truncate(data: bytes, rng: np.random.Generator) -> bytes:
    where = rng.choice(["anywhere", "header", "preamble", "pixels"])
    if where == "preamble":
        return data[: int(rng.integers(0, 133))]
    if where == "header":
        return data[: int(rng.integers(132, min(len(data), 900)))]
    if where == "pixels":
        return data[: int(rng.integers(max(0, len(data) - 600), len(data)))]
    return data[: int(rng.integers(0, len(data)))]


def _flip(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    n = int(rng.integers(1, 9))
    header_end = min(len(out), 1200)
    for _ in range(n):
        if rng.random() < 0.7 and header_end > 128:
            i = int(rng.integers(128, header_end))
        else:
            i = int(rng.integers(0, len(out)))
        out[i] ^= int(rng.integers(1, 256))
    return bytes(out)


def _flip_in_element(data: bytes, rng: np.random.Generator) -> bytes:
    """Damage the value (or header) of one of the elements the loader relies on."""
    offsets = _element_offsets(data)
    if not offsets:
        return _flip(data, rng)
    pos, _tag, _ = offsets[rng.integers(len(offsets))]
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        i = min(len(out) - 1, pos + int(rng.integers(0, 24)))
        out[i] ^= int(rng.integers(1, 256))
    return bytes(out)


# --- semantic operators (through pydicom) ---------------------------------------------------------------

_EDITS: list[tuple[str, Callable]] = []


def _edit(name: str):
    def register(fn):
        _EDITS.append((name, fn))
        return fn

    return register


@_edit("no Rows")
def _(ds, rng):
    del ds.Rows


@_edit("no Columns")
def _(ds, rng):
    del ds.Columns


@_edit("no PixelData")
def _(ds, rng):
    del ds.PixelData


@_edit("no position")
def _(ds, rng):
    if "ImagePositionPatient" in ds:
        del ds.ImagePositionPatient
    else:
        del ds.PerFrameFunctionalGroupsSequence


@_edit("no orientation")
def _(ds, rng):
    if "ImageOrientationPatient" in ds:
        del ds.ImageOrientationPatient
    else:
        del ds.SharedFunctionalGroupsSequence


@_edit("no pixel spacing")
def _(ds, rng):
    if "PixelSpacing" in ds:
        del ds.PixelSpacing


@_edit("huge matrix")
def _(ds, rng):
    ds.Rows = int(rng.choice([4097, 30000, 65535]))
    ds.Columns = int(rng.choice([4096, 65535]))


@_edit("zero matrix")
def _(ds, rng):
    ds.Rows = 0


@_edit("huge frames")
def _(ds, rng):
    ds.NumberOfFrames = int(rng.choice([2, 9999, 10001, 2_000_000_000]))


@_edit("bad frames")
def _(ds, rng):
    ds.NumberOfFrames = str(rng.choice(["-3", "0", "abc", "1e9"]))


@_edit("bits")
def _(ds, rng):
    ds.BitsAllocated = int(rng.choice([0, 1, 7, 12, 32, 64]))
    ds.BitsStored = int(rng.choice([0, 8, 12, 17, 40]))


@_edit("pixel representation")
def _(ds, rng):
    ds.PixelRepresentation = int(rng.choice([2, 255]))


@_edit("colour")
def _(ds, rng):
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"


@_edit("text positions")
def _(ds, rng):
    ds.ImagePositionPatient = ["abc", "1e400", "-"]


@_edit("absurd positions")
def _(ds, rng):
    ds.ImagePositionPatient = [str(rng.choice(["1e300", "-1e308", "nan", "inf", "0"])) for _ in range(3)]


@_edit("short positions")
def _(ds, rng):
    ds.ImagePositionPatient = ["1.5", "2.5"]


@_edit("zero orientation")
def _(ds, rng):
    ds.ImageOrientationPatient = ["0"] * 6


@_edit("parallel orientation")
def _(ds, rng):
    ds.ImageOrientationPatient = ["1", "0", "0", "1", "0", "0"]


@_edit("bad rescale")
def _(ds, rng):
    ds.RescaleSlope = str(rng.choice(["0", "nan", "1e30", "-1", "x"]))
    ds.RescaleIntercept = str(rng.choice(["1e30", "-40000", "abc", "", "1024"]))


@_edit("bad spacing")
def _(ds, rng):
    ds.PixelSpacing = [str(rng.choice(["0", "-1", "nan", "1e308"])), "0.7"]


@_edit("transfer syntax")
def _(ds, rng):
    ds.file_meta.TransferSyntaxUID = str(
        rng.choice(
            ["1.2.840.10008.1.2.4.100", "1.2.3.4", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50", ""]
        )
    )


@_edit("sop class")
def _(ds, rng):
    ds.SOPClassUID = str(rng.choice(["1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.88.67", "9.9"]))


@_edit("modality")
def _(ds, rng):
    ds.Modality = str(rng.choice(["MR", "", "SR"]))


@_edit("padding")
def _(ds, rng):
    ds.PixelPaddingValue = int(rng.choice([0, 1024, 65535]))
    ds["PixelPaddingValue"].VR = "US"


@_edit("pixel data length")
def _(ds, rng):
    data = ds.PixelData
    ds.PixelData = data[: int(rng.integers(0, max(1, len(data))))] if rng.random() < 0.5 else data + data


@_edit("localizer")
def _(ds, rng):
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]


def _semantic(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    import warnings

    import pydicom

    name, fn = _EDITS[rng.integers(len(_EDITS))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data))
        try:
            fn(ds, rng)
            buf = io.BytesIO()
            ds.save_as(buf)
        except Exception:  # an edit the element's VR cannot hold: fall back to a byte flip
            return _flip(data, rng), "flip"
    return buf.getvalue(), name


# --- whole-file replacements ----------------------------------------------------------------------------


def _png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + bytes(range(16)) for _ in range(16))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _replacement(rng: np.random.Generator) -> tuple[bytes, str]:
    kind = rng.choice(["empty", "random", "text", "png", "dicm only", "preamble garbage", "fake group"])
    if kind == "empty":
        return b"", kind
    if kind == "random":
        return rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes(), kind
    if kind == "text":
        return b"Patient notes\nnot an image\n" * int(rng.integers(1, 50)), kind
    if kind == "png":
        return _png(), kind
    if kind == "dicm only":
        return bytes(128) + b"DICM", kind
    if kind == "preamble garbage":
        return bytes(128) + b"DICM" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes(), kind
    # starts like a bare dataset (group 0x0008) and then turns to noise
    return b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100" + rng.integers(0, 256, 400, dtype=np.uint8).tobytes(), kind


# --- generation -----------------------------------------------------------------------------------------

OPERATORS = ("truncate", "flip", "element", "length", "semantic", "replace")


def make_mutant(seeds: dict[str, list[bytes]], index: int, *, operator: str | None = None) -> Mutant:
    """Mutant number ``index`` (deterministic); ``operator`` forces one family."""
    rng = np.random.default_rng(index)
    op = operator or OPERATORS[index % len(OPERATORS)]
    seed_name = sorted(seeds)[int(rng.integers(len(seeds)))]
    files = list(seeds[seed_name])
    victim = int(rng.integers(len(files)))
    data = files[victim]
    if op == "truncate":
        data, how = _truncate(data, rng), "truncated"
    elif op == "flip":
        data, how = _flip(data, rng), "byte flips"
    elif op == "element":
        data, how = _flip_in_element(data, rng), "element damaged"
    elif op == "length":
        data, how = _set_length(data, rng), "element length"
    elif op == "semantic":
        data, how = _semantic(data, rng)
    else:
        data, how = _replacement(rng)
    names = {k: f"IM{k:04d}.dcm" for k in range(len(files))}
    contents = {names[k]: (data if k == victim else f) for k, f in enumerate(files)}
    open_file = names[victim] if rng.random() < 0.3 else None
    return Mutant(f"{index}:{op}:{seed_name}:{how}", contents, open_file)


@dataclass(frozen=True)
class Outcome:
    mutant: str
    result: str  # "loaded", "loaded with warnings", an error class name, or "CRASH <type>: <message>"
    seconds: float

    @property
    def crashed(self) -> bool:
        return self.result.startswith("CRASH")


def run_mutant(mutant: Mutant, folder: Path) -> Outcome:
    """Load one mutant; classify the outcome (a non-``LoadError`` exception is a crash)."""
    from ssc_core.errors import LoadError
    from ssc_core.imaging.loader import load_scan

    target = mutant.write(folder)
    start = time.perf_counter()
    try:
        scan = load_scan(target)
        result = "loaded with warnings" if scan.volume.warnings else "loaded"
    except LoadError as exc:
        result = type(exc).__name__
        if not str(exc):
            result = f"CRASH empty message from {result}"
    except Exception as exc:  # the thing under test: anything else is a bug
        result = f"CRASH {type(exc).__name__}: {str(exc)[:200]}"
    return Outcome(mutant.name, result, time.perf_counter() - start)
