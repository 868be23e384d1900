"""Read what the loader needs from one DICOM file's header, once, without decoding any pixel.

:func:`read_file` parses a file with pydicom, deferring every large value (so a header that claims a huge
element length costs a seek, not an allocation), and returns either the :class:`FrameRecord` of each frame
it holds (one for a classic CT image, one per frame for an enhanced multi-frame CT) or a :class:`Skipped`
that says why the file is not part of any CT volume (not DICOM, damaged, a localizer, a secondary capture, a
dose report, a non-image object). For uncompressed little-endian pixel data the record keeps the file offset
of the pixels, so the volume can later be filled with one ``readinto`` per slice.

Patient identifiers are not read here; :func:`read_identity` reads them once for the chosen series.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ssc_core.constants import MAX_MATRIX_SIZE, MAX_SLICES
from ssc_core.imaging.transfer_syntax import NATIVE_LITTLE_ENDIAN
from ssc_core.imaging.volume import ImportIdentity

#: Values longer than this (bytes) are not read while scanning headers: pixel data, private blobs, icons.
DEFER_SIZE = 2048

PIXEL_DATA_TAG = 0x7FE00010
FLOAT_PIXEL_DATA_TAGS = (0x7FE00008, 0x7FE00009)

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
LEGACY_ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.2"
CT_SOP_CLASSES = frozenset({CT_IMAGE_STORAGE, ENHANCED_CT_IMAGE_STORAGE, LEGACY_ENHANCED_CT_IMAGE_STORAGE})
#: Secondary capture classes (screenshots, dose screens, scanned documents): never part of a CT volume.
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
#: Radiation dose structured reports (X-ray, CT, patient and enhanced radiation dose SR).
_DOSE_REPORT_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.67",
        "1.2.840.10008.5.1.4.1.1.88.68",
        "1.2.840.10008.5.1.4.1.1.88.73",
        "1.2.840.10008.5.1.4.1.1.88.74",
        "1.2.840.10008.5.1.4.1.1.88.75",
    }
)
#: ImageType / FrameType values that mark a planning image (scout, topogram, surview).
_LOCALIZER_TYPES = frozenset({"LOCALIZER", "SCOUT", "TOPOGRAM", "SURVIEW", "SCANOGRAM"})
#: ImageType values of dose screens and screenshots stored as CT images by some scanners.
_SCREEN_TYPES = frozenset({"DOSE_INFO", "SCREEN SAVE", "SCREENSHOT", "DOSE REPORT"})


class Skip:
    """Why a file is not part of any CT volume (the reasons counted and reported by ``ssc info``)."""

    NOT_DICOM = "not DICOM"
    DAMAGED = "damaged DICOM"
    NON_IMAGE = "non-image object"
    LOCALIZER = "localizer"
    SECONDARY_CAPTURE = "secondary capture"
    DOSE_REPORT = "dose report"
    DICOMDIR = "DICOMDIR"


@dataclass(frozen=True)
class Skipped:
    """A file left out, with its reason (a :class:`Skip` value) and, for damaged files, a detail."""

    path: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One image plane of one file: where its pixels are and how it sits in space. No identifiers."""

    path: str
    frame: int  # 0-based frame index inside the file (0 for single-frame files)
    n_frames: int
    sop_class: str
    series_uid: str
    study_uid: str
    modality: str
    image_type: tuple[str, ...]
    description: str
    kernel: str
    thickness: float | None
    manufacturer: str
    model: str
    patient_position: str
    rows: int
    columns: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples_per_pixel: int
    photometric: str
    pixel_spacing: tuple[float, float] | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, float, float, float, float, float] | None
    slope: float
    intercept: float
    padding_value: int | None
    padding_limit: int | None
    transfer_syntax: str
    #: Offset in the file of the first pixel byte (uncompressed little-endian syntaxes only).
    pixel_offset: int | None
    pixel_length: int | None
    instance_number: int
    #: A reason this image cannot be used at all (bad pixel format, truncated data...), else "".
    problem: str = ""
    #: The name of the ``ssc_core.errors`` class that ``problem`` is raised as.
    problem_kind: str = ""

    @property
    def is_multiframe(self) -> bool:
        return self.n_frames > 1

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples_per_pixel * max(1, self.bits_allocated // 8)

    @property
    def native(self) -> bool:
        """Pixels can be read straight from the file (uncompressed, little endian, byte-aligned)."""
        return (
            self.pixel_offset is not None
            and self.transfer_syntax in NATIVE_LITTLE_ENDIAN
            and self.bits_allocated in (8, 16)
            and self.samples_per_pixel == 1
        )


# --- value helpers: a malformed value reads as None, never as an exception -----------------------------


_TAGS: dict[str, int | None] = {}
_BINARY_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i"}
#: Binary VRs assumed for implicit-VR files (ambiguous US/SS values are read unsigned: padding values are
#: compared by bit pattern anyway).
_IMPLICIT_BINARY = {
    "Rows": "US",
    "Columns": "US",
    "BitsAllocated": "US",
    "BitsStored": "US",
    "HighBit": "US",
    "PixelRepresentation": "US",
    "SamplesPerPixel": "US",
    "PixelPaddingValue": "US",
    "PixelPaddingRangeLimit": "US",
}
_NOT_DECODED = object()


def _tag(keyword: str) -> int | None:
    if keyword not in _TAGS:
        from pydicom.datadict import tag_for_keyword

        _TAGS[keyword] = tag_for_keyword(keyword)
    return _TAGS[keyword]


def _decode_raw(elem: Any, keyword: str) -> Any:
    """The value of a raw element of a simple VR decoded straight from its bytes (fast), else a marker.

    pydicom's general conversion costs tens of microseconds per element; a CT header scan reads about 30
    elements from each of hundreds of files. Text that is not plain ASCII goes through pydicom (character
    sets), as do sequences and other VRs.
    """
    raw = elem.value
    if not isinstance(raw, bytes):
        return _NOT_DECODED
    vr = elem.VR or _IMPLICIT_BINARY.get(keyword)
    if vr in _BINARY_FORMATS:
        fmt = _BINARY_FORMATS[vr]
        size = struct.calcsize(fmt)
        count = len(raw) // size
        if count == 0:
            return None
        values = struct.unpack(("<" if elem.is_little_endian else ">") + fmt * count, raw[: count * size])
        return values[0] if count == 1 else list(values)
    if vr in (None, "SQ", "OB", "OW", "UN") or not raw.isascii():
        return _NOT_DECODED
    text = raw.decode("ascii").strip(" \x00")
    if "\\" in text:
        return [part.strip(" \x00") for part in text.split("\\")]
    return text if text else None


def _value(ds: Any, keyword: str) -> Any:
    try:
        tag = _tag(keyword)
        if tag is not None:
            elem = ds.get_item(tag, keep_deferred=True)
            if elem is None:
                return None
            if getattr(elem, "is_raw", False) and elem.value is not None:
                value = _decode_raw(elem, keyword)
                if value is not _NOT_DECODED:
                    return value
        return ds.get(keyword)
    except Exception:
        return None


def _text(ds: Any, keyword: str) -> str:
    value = _value(ds, keyword)
    if value is None:
        return ""
    try:
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            return "\\".join(str(v) for v in value).strip()
        return str(value).strip()
    except Exception:
        return ""


def _float(value: Any) -> float | None:
    try:
        if type(value).__name__ == "MultiValue" or isinstance(value, (list, tuple)):
            value = value[0]
        result = float(value)
    except Exception:
        return None
    return result if result == result and abs(result) != float("inf") else None


def _int(value: Any) -> int | None:
    try:
        if type(value).__name__ == "MultiValue" or isinstance(value, (list, tuple)):
            value = value[0]
        try:
            return int(value)
        except (TypeError, ValueError):
            number = float(value)  # IS written as "12.0" or "1e3"
            return int(number) if number.is_integer() else None
    except Exception:
        return None


def _floats(value: Any, n: int, limit: float = 1e6) -> tuple[float, ...] | None:
    """``n`` finite numbers no larger than ``limit`` in magnitude (1 km for positions), else None."""
    if isinstance(value, (str, bytes)):
        value = [value]
    try:
        items = [float(v) for v in value]
    except Exception:
        return None
    if len(items) != n or any(not abs(v) <= limit for v in items):
        return None
    return tuple(items)


def _first_item(ds: Any, keyword: str) -> Any:
    seq = _value(ds, keyword)
    try:
        return seq[0] if seq is not None and len(seq) > 0 else None
    except Exception:
        return None


def _looks_like_dicom(head: bytes) -> bool | None:
    """True: a Part 10 file (preamble + 'DICM'); None: maybe a bare dataset; False: not DICOM."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    # A dataset without preamble (ACR-NEMA style) starts with a group 0x0002, 0x0008 element (little endian)
    if len(head) >= 8 and head[1] == 0 and head[0] in (0x02, 0x08) and head[3] == 0:
        return None
    return False


# --- reading ----------------------------------------------------------------------------------------

_configured = False


def pydicom_module() -> Any:
    """pydicom, imported lazily, with read-time value validation off.

    pydicom's validation messages quote the offending raw value (a malformed PatientName included) and go
    to the log as well as to ``warnings``; with validation off no header value can reach a log this way.
    Values are checked here instead, each where it is used.
    """
    global _configured
    import pydicom

    if not _configured:
        pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
        _configured = True
    return pydicom


def read_file(path: str) -> list[FrameRecord] | Skipped:
    """The frames of the DICOM file at ``path``, or why it is skipped. Never raises on bad content."""
    import warnings

    pydicom = pydicom_module()
    try:
        with open(path, "rb") as fp:
            head = fp.read(132)
            kind = _looks_like_dicom(head)
            if kind is False:
                return Skipped(path, Skip.NOT_DICOM)
            fp.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = pydicom.dcmread(fp, defer_size=DEFER_SIZE, force=kind is None)
                file_size = os.fstat(fp.fileno()).st_size
                return _records(path, ds, file_size)
    except OSError as exc:
        return Skipped(path, Skip.DAMAGED, f"cannot be read ({exc.strerror or type(exc).__name__})")
    except Exception as exc:  # pydicom raises many types on malformed input
        return Skipped(path, Skip.DAMAGED, _brief(exc))


def _brief(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def _records(path: str, ds: Any, file_size: int) -> list[FrameRecord] | Skipped:
    meta = getattr(ds, "file_meta", None)
    sop_class = _text(ds, "SOPClassUID") or (_text(meta, "MediaStorageSOPClassUID") if meta else "")
    if sop_class == _DICOMDIR_CLASS or "DirectoryRecordSequence" in ds:
        return Skipped(path, Skip.DICOMDIR)
    if sop_class in _DOSE_REPORT_CLASSES:
        return Skipped(path, Skip.DOSE_REPORT)
    if sop_class.startswith(_SECONDARY_CAPTURE_PREFIX):
        return Skipped(path, Skip.SECONDARY_CAPTURE)
    image_type = tuple(t.upper() for t in _text(ds, "ImageType").split("\\") if t)
    if _LOCALIZER_TYPES.intersection(image_type):
        return Skipped(path, Skip.LOCALIZER)
    if _SCREEN_TYPES.intersection(image_type):
        return Skipped(path, Skip.SECONDARY_CAPTURE)
    has_pixels = PIXEL_DATA_TAG in ds
    if not has_pixels:
        if any(tag in ds for tag in FLOAT_PIXEL_DATA_TAGS):
            return _unusable(path, ds, sop_class, image_type, "the pixels are stored as floating point")
        if "Rows" not in ds and "Columns" not in ds:
            if sop_class in CT_SOP_CLASSES:  # a CT image cut off before its image attributes
                return Skipped(path, Skip.DAMAGED, "a CT image without pixel data (the file is truncated)")
            return Skipped(path, Skip.NON_IMAGE)
    transfer_syntax = _text(meta, "TransferSyntaxUID") if meta is not None else ""
    if not transfer_syntax:
        transfer_syntax = "1.2.840.10008.1.2" if ds.is_implicit_VR else "1.2.840.10008.1.2.1"

    rows = _int(_value(ds, "Rows")) or 0
    columns = _int(_value(ds, "Columns")) or 0
    n_frames = _int(_value(ds, "NumberOfFrames"))
    n_frames = 1 if n_frames is None else n_frames
    bits_allocated = _int(_value(ds, "BitsAllocated")) or 0
    bits_stored = _int(_value(ds, "BitsStored")) or bits_allocated
    pixel_representation = _int(_value(ds, "PixelRepresentation"))
    samples = _int(_value(ds, "SamplesPerPixel"))
    samples = 1 if samples is None else samples

    problem, kind = "", ""
    if not has_pixels:
        problem, kind = "the image has no pixel data", "CorruptFile"
    elif rows <= 0 or columns <= 0:
        problem, kind = "the image size (rows and columns) is missing or zero", "CorruptFile"
    elif rows > MAX_MATRIX_SIZE or columns > MAX_MATRIX_SIZE:
        problem = f"the header claims {rows} x {columns} pixels per slice, more than any CT has"
        kind = "ImplausibleHeader"
    elif n_frames < 1 or n_frames > MAX_SLICES:
        problem, kind = f"the header claims {n_frames} frames in one file", "ImplausibleHeader"
    elif bits_allocated not in (8, 16, 32) or not 1 <= bits_stored <= bits_allocated:
        problem = (
            f"the pixel format ({bits_allocated} bits allocated, {bits_stored} stored) is not a CT format"
        )
        kind = "ImplausibleHeader"
    elif pixel_representation not in (0, 1):
        problem, kind = "the header does not say whether pixels are signed", "CorruptFile"
    elif samples != 1:
        problem, kind = "the image is in colour, not a grey-scale CT image", "NotCT"

    pixel_offset = pixel_length = None
    if has_pixels and not problem:
        raw = ds.get_item(PIXEL_DATA_TAG, keep_deferred=True)
        length = getattr(raw, "length", None)
        tell = getattr(raw, "value_tell", None)
        undefined = length == 0xFFFFFFFF
        if transfer_syntax in NATIVE_LITTLE_ENDIAN and raw is not None and getattr(raw, "is_raw", False):
            expected = rows * columns * n_frames * bits_allocated // 8
            if undefined or length is None or tell is None:
                problem, kind = "the pixel data are marked compressed in an uncompressed file", "CorruptFile"
            elif length < expected or tell + expected > file_size:
                problem, kind = "the pixel data are truncated (the file is incomplete)", "CorruptFile"
            else:
                pixel_offset, pixel_length = int(tell), int(length)

    common = _common_fields(ds, sop_class, image_type, transfer_syntax)
    pixel_fields: dict[str, Any] = {
        "rows": rows,
        "columns": columns,
        "bits_allocated": bits_allocated,
        "bits_stored": bits_stored,
        "pixel_representation": pixel_representation if pixel_representation in (0, 1) else 0,
        "samples_per_pixel": samples,
        "photometric": _text(ds, "PhotometricInterpretation"),
        "pixel_offset": pixel_offset,
        "pixel_length": pixel_length,
        "padding_value": _int(_value(ds, "PixelPaddingValue")),
        "padding_limit": _int(_value(ds, "PixelPaddingRangeLimit")),
    }
    multiframe = (
        n_frames > 1 or "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    )
    if multiframe and not problem:
        from ssc_core.imaging.enhanced_ct import frame_records

        return frame_records(path, ds, n_frames, common, pixel_fields, problem, kind)

    # One record per file; a multi-frame file with a problem is listed once, with the problem.
    return [
        FrameRecord(
            path=path,
            frame=0,
            n_frames=1 if not problem else max(1, min(n_frames, MAX_SLICES)),
            pixel_spacing=_pixel_spacing(_value(ds, "PixelSpacing")),
            position=_floats(_value(ds, "ImagePositionPatient"), 3),  # type: ignore[arg-type]
            orientation=_floats(_value(ds, "ImageOrientationPatient"), 6, limit=1.5),  # type: ignore[arg-type]
            slope=_slope(_value(ds, "RescaleSlope")),
            intercept=_float(_value(ds, "RescaleIntercept")) or 0.0,
            thickness=_positive(_value(ds, "SliceThickness")),
            problem=problem,
            problem_kind=kind,
            **common,
            **pixel_fields,
        )
    ]


def _unusable(path: str, ds: Any, sop_class: str, image_type: tuple[str, ...], why: str) -> list[FrameRecord]:
    """A single record marked unusable, so its series is listed with the reason instead of vanishing."""
    common = _common_fields(ds, sop_class, image_type, "")
    return [
        FrameRecord(
            path=path,
            frame=0,
            n_frames=1,
            rows=_int(_value(ds, "Rows")) or 0,
            columns=_int(_value(ds, "Columns")) or 0,
            bits_allocated=0,
            bits_stored=0,
            pixel_representation=0,
            samples_per_pixel=1,
            photometric="",
            pixel_spacing=None,
            position=None,
            orientation=None,
            slope=1.0,
            intercept=0.0,
            thickness=None,
            padding_value=None,
            padding_limit=None,
            pixel_offset=None,
            pixel_length=None,
            problem=why,
            problem_kind="NotCT",
            **common,
        )
    ]


def _common_fields(
    ds: Any, sop_class: str, image_type: tuple[str, ...], transfer_syntax: str
) -> dict[str, Any]:
    kernel = _text(ds, "ConvolutionKernel")
    if not kernel:
        recon = _first_item(_first_item(ds, "SharedFunctionalGroupsSequence"), "CTReconstructionSequence")
        kernel = _text(recon, "ConvolutionKernel") if recon is not None else ""
    return {
        "sop_class": sop_class,
        "series_uid": _text(ds, "SeriesInstanceUID"),
        "study_uid": _text(ds, "StudyInstanceUID"),
        "modality": _text(ds, "Modality").upper(),
        "image_type": image_type,
        "description": _text(ds, "SeriesDescription"),
        "kernel": kernel,
        "manufacturer": _text(ds, "Manufacturer"),
        "model": _text(ds, "ManufacturerModelName"),
        "patient_position": _text(ds, "PatientPosition").upper(),
        "transfer_syntax": transfer_syntax,
        "instance_number": _int(_value(ds, "InstanceNumber")) or 0,
    }


def _pixel_spacing(value: Any) -> tuple[float, float] | None:
    spacing = _floats(value, 2)
    if spacing is None or spacing[0] <= 0 or spacing[1] <= 0:
        return None
    return spacing  # type: ignore[return-value]


def _slope(value: Any) -> float:
    slope = _float(value)
    return 1.0 if slope is None or slope == 0 else slope


def _positive(value: Any) -> float | None:
    result = _float(value)
    return result if result is not None and result > 0 else None


def read_identity(path: str) -> ImportIdentity:
    """The identifiers of the file at ``path`` (PHI: for the study layer only). Empty when unreadable."""
    import warnings

    pydicom = pydicom_module()
    keywords = [
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "AccessionNumber",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "StudyDate",
    ]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=keywords, force=True)
            values = {k: _text(ds, k) for k in keywords}
    except Exception:
        return ImportIdentity()
    return ImportIdentity(
        patient_id=values["PatientID"],
        patient_name=values["PatientName"],
        birth_date=values["PatientBirthDate"],
        accession_number=values["AccessionNumber"],
        study_instance_uid=values["StudyInstanceUID"],
        series_instance_uid=values["SeriesInstanceUID"],
        study_date=values["StudyDate"],
    )


def common_value(values: Sequence[Any]) -> Any:
    """The most frequent value (first seen wins a tie); None for an empty sequence."""
    counts: dict[Any, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None
