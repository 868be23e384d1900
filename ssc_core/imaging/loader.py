"""Open any chest CT a clinician has on disk, or refuse it with a named reason.

Public API (the contract in docs/architecture.md):

* :func:`find_series` lists the :class:`SeriesCandidate` at a path, the default one first;
* :func:`load_scan` loads one (the default, or the one named by its ``key``) into a :class:`LoadedScan`.

``path`` may be a DICOM folder (searched recursively), a single DICOM file (its series is opened from the
folder it is in), a DICOMDIR (the folder it is in, searched recursively), or an MHA/MHD, NIfTI (.nii,
.nii.gz) or NRRD volume file. Every refusal is a subclass of
:class:`~ssc_core.errors.LoadError`; messages never contain a path or a patient identifier. The identifiers
read from the DICOM headers travel only in ``LoadedScan.identity``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ssc_core.errors import (
    CorruptFile,
    LoadError,
    NoImagesFound,
    NotAFileOrFolder,
    NotCT,
    SeriesNotFound,
    UnsupportedFormat,
)
from ssc_core.imaging.candidate import SeriesCandidate, SlicePreview
from ssc_core.imaging.dicom_headers import Skip, read_identity
from ssc_core.imaging.dicom_series import (
    FolderScan,
    SeriesGroup,
    damaged_count,
    scan_dicom,
    unreadable_count,
)
from ssc_core.imaging.sitk_formats import describe_volume_file, load_volume_file, volume_format
from ssc_core.imaging.volume import ImportIdentity, LoadedScan
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report

__all__ = ["PathScan", "SeriesCandidate", "SlicePreview", "find_series", "load_scan", "scan_path"]


@dataclass(frozen=True)
class PathScan:
    """What a path holds: its candidates (default first) and the files left out, counted by reason."""

    candidates: tuple[SeriesCandidate, ...]
    skipped: dict[str, int]
    n_files: int
    _dicom: FolderScan | None = None

    @property
    def default(self) -> SeriesCandidate | None:
        return next((c for c in self.candidates if c.is_default), None)


def _resolve(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise NotAFileOrFolder(
            "The chosen path does not exist.", hint="Choose a folder or a file that exists."
        )
    if not (p.is_dir() or p.is_file()):
        raise NotAFileOrFolder("The chosen path is neither a file nor a folder.")
    return p


def _skip_error(reason: str, detail: str) -> LoadError:
    if reason == Skip.NOT_DICOM:
        return UnsupportedFormat(
            "This file is neither a DICOM image nor a volume file the workstation reads."
        )
    if reason == Skip.DAMAGED:
        return CorruptFile(f"This DICOM file is damaged and cannot be read ({detail}).")
    return NotCT(f"This file is a {reason}, not part of a CT volume.")


def scan_path(
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> PathScan:
    """Everything found at ``path`` (raises a ``LoadError`` when nothing there can be a CT series)."""
    p = _resolve(path)
    if p.is_file() and volume_format(p) is not None:
        check_cancel(cancel)
        candidate = describe_volume_file(p)
        report(progress, 1, 1, "Reading header")
        return PathScan((candidate,), {}, 1)
    if p.is_file() and p.name.upper() != "DICOMDIR":
        scan = scan_dicom(p.parent, recursive=False, prefer_path=str(p), progress=progress, cancel=cancel)
        own = next((s for s in scan.skipped if s.path == str(p)), None)
        if own is not None and own.reason == Skip.DICOMDIR:
            scan = scan_dicom(p.parent, recursive=True, progress=progress, cancel=cancel)
        elif own is not None:
            raise _skip_error(own.reason, own.detail)
    elif p.is_file():  # a DICOMDIR (CD/DVD export): everything beside it and below
        scan = scan_dicom(p.parent, recursive=True, progress=progress, cancel=cancel)
    else:
        scan = scan_dicom(p, recursive=True, progress=progress, cancel=cancel)
    counts = scan.skipped_counts()
    if not scan.groups:
        n_damaged = damaged_count(scan)
        if n_damaged:
            raise CorruptFile(
                f"No CT series could be read: {n_damaged} of the {scan.n_files} files are damaged DICOM."
            )
        found = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items())) or "no files"
        raise NoImagesFound(f"No CT images were found ({found}).")
    return PathScan(tuple(scan.candidates), counts, scan.n_files, scan)


def find_series(
    path: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[SeriesCandidate]:
    """The series at ``path``, default first; each says whether it is scorable and, if not, why.

    Parameters
    ----------
    path
        A DICOM folder (searched recursively), one DICOM file (its folder is listed and its series is the
        default), or an MHA/MHD, NIfTI or NRRD file (one candidate).
    progress, cancel
        Progress reports while headers are read; a token that stops the scan with ``Cancelled``.

    Raises
    ------
    LoadError
        A subclass naming why nothing at ``path`` can be opened (``NotAFileOrFolder``, ``NoImagesFound``,
        ``CorruptFile``, ``UnsupportedFormat``...).
    """
    return list(scan_path(path, progress=progress, cancel=cancel).candidates)


def _fresh(error: LoadError) -> LoadError:
    """A new instance of a stored refusal (so each raise has its own traceback)."""
    return type(error)(str(error), hint=error.hint)


def load_scan(
    path: str | os.PathLike[str],
    *,
    series: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_slice: Callable[[SlicePreview], None] | None = None,
) -> LoadedScan:
    """Load one series at ``path`` as an axial :class:`~ssc_core.imaging.volume.CTVolume`.

    Parameters
    ----------
    path
        As for :func:`find_series`.
    series
        A :attr:`SeriesCandidate.key` from :func:`find_series`; None opens the default series.
    progress, cancel
        Progress reports (headers, then slices) and a cancel token (raises ``Cancelled``).
    on_slice
        Called with a :class:`SlicePreview` for each slice whose HU are final, always on the calling thread:
        first the middle slice, as soon as it is decoded (after the headers are read, before the other
        slices), then the others as they complete. Lets a viewer show the scan while it loads. For a
        gantry-tilt series (resampled at the end) all previews come after the resampling.

    Returns
    -------
    LoadedScan
        The volume, the identifiers (DICOM only; protected health information) and all candidates.

    Raises
    ------
    LoadError
        The named refusal (``MissingSlices``, ``NonAxialAcquisition``, ``GantryTilt``,
        ``UnsupportedTransferSyntax``, ``ImplausibleHeader``, ``CorruptFile``, ...); ``Cancelled`` on cancel.
    """
    p = _resolve(path)
    scan = scan_path(p, progress=progress, cancel=cancel)
    chosen = scan.default if series is None else next((c for c in scan.candidates if c.key == series), None)
    if chosen is None:
        raise SeriesNotFound(
            "The chosen series is not at this path (the folder changed since it was listed).",
            hint="List the series again and choose one of them.",
        )
    if scan._dicom is None:
        volume = load_volume_file(p)  # raises the named refusal when the candidate is not scorable
        report(progress, 1, 1, "Loaded")
        if on_slice is not None:
            _preview_all(volume, on_slice)
        return LoadedScan(volume=volume, identity=ImportIdentity(), candidates=scan.candidates)

    group: SeriesGroup = next(g for g in scan._dicom.groups if g.key == chosen.key)
    if group.error is not None:
        raise _fresh(group.error)
    from ssc_core.imaging.dicom_volume import load_group

    extra: tuple[str, ...] = ()
    n_bad = unreadable_count(scan._dicom)
    if n_bad:
        files, verb = ("files", "were") if n_bad > 1 else ("file", "was")
        extra = (
            f"{n_bad} {files} in the folder could not be read (damaged, empty, or named like DICOM but not "
            f"DICOM) and {verb} left out; if they belonged to this series, slices may be missing at an end.",
        )
    volume = load_group(group, extra_warnings=extra, progress=progress, cancel=cancel, on_slice=on_slice)
    identity = read_identity(group.records[0].path)
    return LoadedScan(volume=volume, identity=identity, candidates=scan.candidates)


def _preview_all(volume, on_slice: Callable[[SlicePreview], None]) -> None:
    n = volume.n_slices
    first = n // 2
    for done, k in enumerate([first, *(i for i in range(n) if i != first)], start=1):
        on_slice(
            SlicePreview(
                index=k,
                n_slices=n,
                z=float(volume.slice_z[k]),
                hu=volume.axial(k),
                pixel_spacing=(volume.spacing[1], volume.spacing[2]),
                loaded=done,
            )
        )
