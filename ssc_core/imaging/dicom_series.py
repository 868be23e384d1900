"""Find the series in a DICOM folder: scan headers, group into series, judge each one, pick the default.

Files are grouped by SeriesInstanceUID plus orientation (IOP) plus matrix (rows x columns), so a series that
mixes, say, axial slices and a coronal reformat yields two candidates. Localizers, secondary captures, dose
reports, DICOMDIRs and non-image objects are left out (and counted). Each group is judged from its headers
alone: modality, transfer syntax, pixel format and the full geometry analysis, so the candidate list says
which series will load and, for the others, the named reason. The default is the largest scorable axial CT
series (most slices; thinner slices win a tie).

Header scans of a folder are cached (keyed by each file's path, size and modification time), so listing the
series and then loading one reads each header once.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ssc_core import errors
from ssc_core.constants import MAX_SLICES, MAX_VOLUME_BYTES
from ssc_core.errors import LoadError
from ssc_core.imaging.candidate import SeriesCandidate
from ssc_core.imaging.dicom_geometry import StackGeometry, analyse_stack, stack_orientation
from ssc_core.imaging.dicom_headers import FrameRecord, Skip, Skipped, common_value, read_file
from ssc_core.imaging.transfer_syntax import syntax_name, unsupported_reason
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report

#: IOP values within this of a group's first IOP join that group.
_IOP_GROUP_TOLERANCE = 0.02


@dataclass
class SeriesGroup:
    """The frames of one series (UID + orientation + matrix), with its judgement."""

    key: str
    series_uid: str
    records: list[FrameRecord]
    extra_warnings: list[str] = field(default_factory=list)
    geometry: StackGeometry | None = None
    error: LoadError | None = None
    candidate: SeriesCandidate | None = None


@dataclass(frozen=True)
class FolderScan:
    """Everything found under a path: the judged series groups and the files left out."""

    groups: tuple[SeriesGroup, ...]
    skipped: tuple[Skipped, ...]
    n_files: int

    @property
    def candidates(self) -> list[SeriesCandidate]:
        return [g.candidate for g in self.groups if g.candidate is not None]

    def skipped_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.skipped:
            counts[s.reason] = counts.get(s.reason, 0) + 1
        return counts

    @property
    def default(self) -> SeriesGroup | None:
        return next((g for g in self.groups if g.candidate is not None and g.candidate.is_default), None)


# --- files --------------------------------------------------------------------------------------------


def list_files(folder: Path, *, recursive: bool) -> list[str]:
    """Regular files under ``folder`` (hidden files and folders left out), sorted for determinism."""
    found: list[str] = []
    if recursive:
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found.extend(os.path.join(root, n) for n in names if not n.startswith("."))
    else:
        with os.scandir(folder) as it:
            found.extend(e.path for e in it if not e.name.startswith(".") and e.is_file())
    return sorted(found)


def _signature(files: list[str]) -> tuple:
    sig = []
    for f in files:
        try:
            st = os.stat(f)
        except OSError:
            continue
        sig.append((f, st.st_size, st.st_mtime_ns))
    return tuple(sig)


_cache: OrderedDict[tuple, tuple[tuple, list[FrameRecord], list[Skipped]]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 4


def clear_cache() -> None:
    """Forget cached header scans (tests, or after files were rewritten in place)."""
    with _cache_lock:
        _cache.clear()


def read_headers(
    files: list[str],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[FrameRecord], list[Skipped]]:
    """Header records of all ``files`` (cached by path, size and modification time)."""
    signature = _signature(files)
    cache_key = tuple(files)
    with _cache_lock:
        hit = _cache.get(cache_key)
        if hit is not None and hit[0] == signature:
            _cache.move_to_end(cache_key)
            report(progress, len(files), len(files), "Reading headers")
            return list(hit[1]), list(hit[2])
    records: list[FrameRecord] = []
    skipped: list[Skipped] = []
    total = len(files)
    for i, path in enumerate(files):
        check_cancel(cancel)
        result = read_file(path)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            records.extend(result)
        if (i + 1) % 16 == 0 or i + 1 == total:
            report(progress, i + 1, total, "Reading headers")
    with _cache_lock:
        _cache[cache_key] = (signature, records, skipped)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return list(records), list(skipped)


# --- grouping -----------------------------------------------------------------------------------------


def _series_key(series_uid: str, iop: tuple[float, ...] | None, rows: int, cols: int) -> str:
    iop_text = "none" if iop is None else ",".join(f"{v:.2f}" for v in iop)
    digest = hashlib.blake2b(f"{series_uid}|{iop_text}|{rows}x{cols}".encode(), digest_size=6).hexdigest()
    return f"s{digest}"


def group_records(records: list[FrameRecord]) -> list[SeriesGroup]:
    """Records grouped by series UID + orientation + matrix (a record without IOP forms its own cluster)."""
    clusters: dict[tuple[str, int, int], list[tuple[tuple[float, ...] | None, list[FrameRecord]]]] = {}
    for rec in records:
        slots = clusters.setdefault((rec.series_uid, rec.rows, rec.columns), [])
        for iop, members in slots:
            if (iop is None and rec.orientation is None) or (
                iop is not None
                and rec.orientation is not None
                and max(abs(a - b) for a, b in zip(iop, rec.orientation)) <= _IOP_GROUP_TOLERANCE
            ):
                members.append(rec)
                break
        else:
            slots.append((rec.orientation, [rec]))
    groups: list[SeriesGroup] = []
    for (uid, rows, cols), slots in clusters.items():
        for iop, members in slots:
            groups.append(SeriesGroup(_series_key(uid, iop, rows, cols), uid, members))
    by_uid: dict[str, list[SeriesGroup]] = {}
    for g in groups:
        by_uid.setdefault(g.series_uid, []).append(g)
    for siblings in by_uid.values():
        if len(siblings) > 1:
            for g in siblings:
                others = sum(len(o.records) for o in siblings if o is not g)
                g.extra_warnings.append(
                    f"The same series also holds {others} image{'s' if others > 1 else ''} with another "
                    "orientation or matrix size, listed as a separate series."
                )
    return groups


# --- judging ------------------------------------------------------------------------------------------


def _error(kind: str, message: str) -> LoadError:
    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, LoadError)):
        cls = errors.CorruptFile
    return cls(message)


def judge(group: SeriesGroup) -> None:
    """Fill ``group.geometry`` or ``group.error`` (a named refusal) from the headers alone."""
    recs = group.records
    bad = next((r for r in recs if r.problem), None)
    if bad is not None:
        many = len(recs) > 1
        where = "one of its images: " if many else ""
        group.error = _error(bad.problem_kind, f"This series cannot be opened; {where}{bad.problem}.")
        return
    modality = common_value([r.modality for r in recs]) or ""
    is_ct = modality == "CT" or (not modality and recs[0].sop_class.startswith("1.2.840.10008.5.1.4.1.1.2"))
    if not is_ct:
        group.error = errors.NotCT(
            f"This series is {modality or 'of an unknown modality'}, not CT; the workstation scores CT only."
        )
        return
    for syntax in sorted({r.transfer_syntax for r in recs}):
        reason = unsupported_reason(syntax)
        if reason is not None:
            group.error = errors.UnsupportedTransferSyntax(f"This series cannot be opened: {reason}.")
            return
    if len(recs) > MAX_SLICES:
        group.error = errors.ImplausibleHeader(f"The series claims {len(recs)} slices, more than any CT has.")
        return
    n_bytes = len(recs) * recs[0].rows * recs[0].columns * 2
    if n_bytes > MAX_VOLUME_BYTES:
        group.error = errors.ImplausibleHeader(
            f"The series would need {n_bytes / 1024**3:.1f} GB of memory "
            f"({len(recs)} slices of {recs[0].rows} x {recs[0].columns}), more than a chest CT can take."
        )
        return
    if any(r.position is None for r in recs) or any(r.orientation is None for r in recs):
        missing = sum(1 for r in recs if r.position is None or r.orientation is None)
        group.error = errors.InconsistentGeometry(
            f"{missing} of the {len(recs)} images in this series do not say where they lie "
            "(ImagePositionPatient or ImageOrientationPatient is missing or invalid), so no volume can be "
            "built."
        )
        return
    spacings = [r.pixel_spacing for r in recs if r.pixel_spacing is not None]
    pixel_spacing = common_value(spacings)
    if pixel_spacing is None:
        pixel_spacing = (1.0, 1.0)
        group.extra_warnings.append("The images do not state their pixel size; 1 mm is assumed.")
    elif (
        len(set(spacings)) > 1 and max(abs(a - b) for s in spacings for a, b in zip(s, pixel_spacing)) > 1e-3
    ):
        group.error = errors.InconsistentGeometry(
            "The images of this series have different pixel sizes, so they do not form one volume."
        )
        return
    positions = np.array([r.position for r in recs], dtype=np.float64)
    orientation = tuple(np.mean(np.array([r.orientation for r in recs]), axis=0))
    thickness = common_value([r.thickness for r in recs])
    try:
        with np.errstate(all="ignore"):  # absurd (finite) positions overflow; the checks then refuse them
            group.geometry = analyse_stack(
                positions, orientation, pixel_spacing, recs[0].rows, recs[0].columns, thickness=thickness
            )
    except LoadError as exc:
        group.error = exc


def _candidate(group: SeriesGroup) -> SeriesCandidate:
    recs = group.records
    geometry, error = group.geometry, group.error
    orientation = "unknown"
    if geometry is not None:
        orientation = geometry.orientation
    elif all(r.position is not None and r.orientation is not None for r in recs):
        orientation = stack_orientation(
            np.array([r.position for r in recs]),
            tuple(np.mean(np.array([r.orientation for r in recs], dtype=np.float64), axis=0)),
        )
    spacing = geometry.slice_spacing if geometry is not None and geometry.n_slices > 1 else None
    return SeriesCandidate(
        key=group.key,
        description=common_value([r.description for r in recs]) or "",
        n_slices=len(recs),
        slice_thickness_mm=common_value([r.thickness for r in recs]),
        kernel=common_value([r.kernel for r in recs]) or "",
        modality=common_value([r.modality for r in recs]) or "",
        orientation=orientation,
        rows=recs[0].rows,
        columns=recs[0].columns,
        transfer_syntax=syntax_name(common_value([r.transfer_syntax for r in recs]) or ""),
        scorable=error is None,
        reason="" if error is None else str(error),
        refusal="" if error is None else type(error).__name__,
        slice_spacing_mm=spacing,
        source_format="dicom",
        warnings=tuple(group.extra_warnings) + (geometry.warnings if geometry is not None else ()),
    )


def _rank(group: SeriesGroup) -> tuple:
    c = group.candidate
    assert c is not None
    return (
        c.scorable,
        c.modality == "CT",
        c.orientation == "axial",
        c.n_slices,
        -(c.slice_thickness_mm or 0.0),
        c.key,
    )


def judge_all(groups: list[SeriesGroup], *, prefer_path: str | None = None) -> list[SeriesGroup]:
    """Judge every group, mark the default and sort (default first, then by slices)."""
    for g in groups:
        judge(g)
        g.candidate = _candidate(g)
    if not groups:
        return groups
    preferred = None
    if prefer_path is not None:
        preferred = next((g for g in groups if any(r.path == prefer_path for r in g.records)), None)
    default = preferred or max(groups, key=_rank)
    assert default.candidate is not None
    default.candidate = replace(default.candidate, is_default=True)
    ordered = [default, *sorted((g for g in groups if g is not default), key=_rank, reverse=True)]
    studies: dict[str, int] = {}
    for g in ordered:
        uid = common_value([r.study_uid for r in g.records]) or ""
        number = studies.setdefault(uid, len(studies) + 1)
        assert g.candidate is not None
        g.candidate = replace(g.candidate, study=number)
    if len(studies) > 1:
        note = (
            f"The folder holds series from {len(studies)} different examinations (possibly different "
            "patients); check that the series opened is the one intended."
        )
        for g in ordered:
            assert g.candidate is not None
            g.candidate = replace(g.candidate, warnings=(*g.candidate.warnings, note))
    return ordered


def scan_dicom(
    folder: Path,
    *,
    recursive: bool = True,
    prefer_path: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> FolderScan:
    """Scan ``folder`` (recursively by default) and judge the series found."""
    files = list_files(folder, recursive=recursive)
    records, skipped = read_headers(files, progress=progress, cancel=cancel)
    groups = judge_all(group_records(records), prefer_path=prefer_path)
    return FolderScan(tuple(groups), tuple(skipped), len(files))


#: File name suffixes that promise a DICOM file.
DICOM_SUFFIXES = (".dcm", ".dicom", ".dic", ".ima")


def damaged_count(scan: FolderScan) -> int:
    """Damaged DICOM files left out (parse failures)."""
    return sum(1 for s in scan.skipped if s.reason == Skip.DAMAGED)


def unreadable_count(scan: FolderScan) -> int:
    """Files left out that should have been DICOM: damaged, empty, or named like DICOM but not DICOM.

    A zero-byte or truncated slice at either end of a series leaves no gap, so this count is the only sign
    of it; other non-DICOM files (viewer software on a CD, text files) are not counted.
    """
    count = 0
    for s in scan.skipped:
        if s.reason == Skip.DAMAGED:
            count += 1
        elif s.reason == Skip.NOT_DICOM:
            try:
                empty = os.path.getsize(s.path) == 0
            except OSError:
                empty = False
            if empty or s.path.lower().endswith(DICOM_SUFFIXES):
                count += 1
    return count
