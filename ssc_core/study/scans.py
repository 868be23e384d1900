"""Cases from scans on disk: one case per CT series, through the loader contract.

Where series are looked for:

* a **folder of scans**: every volume file (MHA/MHD, NIfTI, NRRD) directly in it, every sub-folder (one
  patient or examination each, searched recursively by ``find_series``), and the folder itself when DICOM
  files lie directly in it;
* a **list file**: one scan path per line (a DICOM folder, a DICOM file or a volume file), optionally
  followed by a tab and a series key (from ``ssc info``) to take only that series; blank lines and lines
  starting with ``#`` are skipped; relative paths are relative to the list file.

Each scorable series is loaded once, to prove it loads and to hash its voxels (``content_hash``: the same
scan imported twice is recognised even under another name); series the loader judges not scorable (a
localizer, a coronal reformat, missing slices...) are left out with the loader's reason, and an entry
without any scorable series counts as failed (a patient would be missing from the study). The
``ImportIdentity`` the loader returns goes into the :class:`CaseSource` only to derive the pseudonymous
code, and is dropped by the store. Problems name the entry by its number; paths (which may hold patient
names) are not put in messages.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ssc_core.errors import ImportFormatError, LoadError
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report
from ssc_core.study.records import CaseSource

if TYPE_CHECKING:
    from ssc_core.imaging.volume import CTVolume


@dataclass(frozen=True)
class ScanEntry:
    """One place to look for series: a path and, optionally, the one series key to take."""

    path: Path
    series: str | None = None
    name: str | None = None  # the case's source name (default: from the path)

    def __repr__(self) -> str:
        return f"ScanEntry(<hidden>, series={self.series!r})"


@dataclass(frozen=True)
class ScanProblem:
    """A series left out (``refused`` False: the loader says it is not scorable) or one that failed."""

    entry: int  # 1-based number of the entry (folder listing order, or list-file line)
    series: str | None
    message: str
    refused: bool

    def __str__(self) -> str:
        where = f"entry {self.entry}" + (f" (series {self.series})" if self.series else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ScanImport:
    """What was found: a case source per loadable series, and the problems."""

    sources: tuple[CaseSource, ...]
    problems: tuple[ScanProblem, ...]

    @property
    def failed(self) -> tuple[ScanProblem, ...]:
        """Series that should have loaded and did not (the others were only not scorable)."""
        return tuple(p for p in self.problems if p.refused)


def volume_content_hash(volume: CTVolume) -> str:
    """SHA-256 of the voxels and their geometry (the same scan gives the same hash, whatever its file)."""
    h = hashlib.sha256()
    h.update(repr((volume.shape, tuple(round(s, 6) for s in volume.spacing))).encode("ascii"))
    h.update(volume.hu.tobytes())
    return h.hexdigest()


def _looks_dicom(path: Path) -> bool:
    """True for a DICOM Part 10 file (``DICM`` after the 128-byte preamble), whatever its name."""
    try:
        with open(path, "rb") as fh:
            return fh.read(132)[128:] == b"DICM"
    except OSError:
        return False


def folder_entries(root: str | os.PathLike[str]) -> list[ScanEntry]:
    """The entries of a folder of scans (see the module docstring), in name order."""
    from ssc_core.imaging.sitk_formats import volume_format

    base = Path(root)
    if not base.is_dir():
        raise ImportFormatError("The scans folder does not exist or is not a folder.")
    entries: list[ScanEntry] = []
    loose: list[Path] = []
    for child in sorted(base.iterdir(), key=lambda p: p.name):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            entries.append(ScanEntry(child))
        elif child.is_file():
            if volume_format(child) is not None:
                entries.append(ScanEntry(child))
            elif _looks_dicom(child):
                loose.append(child)
    if loose:
        # DICOM files directly in the folder: opened through one of them, which lists that folder only
        # (not the sub-folders, which are entries of their own).
        entries.insert(0, ScanEntry(loose[0], name=base.name))
    return entries


def read_list_file(path: str | os.PathLike[str]) -> list[ScanEntry]:
    """The entries of a list file (see the module docstring)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{p.name} cannot be read as a text file ({type(exc).__name__}).") from exc
    entries: list[ScanEntry] = []
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        location, _, key = line.partition("\t")
        q = Path(location.strip()).expanduser()
        if not q.is_absolute():
            q = p.parent / q
        if not q.exists():
            raise ImportFormatError(f"{p.name}, line {n}: the path does not exist.")
        entries.append(ScanEntry(q, key.strip() or None))
    if not entries:
        raise ImportFormatError(f"{p.name} lists no scans.")
    return entries


def _source_name(path: Path) -> str:
    return CaseSource(str(path), "-").name


def collect_case_sources(
    entries: Sequence[ScanEntry],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ScanImport:
    """Find and load every scorable series of ``entries``; one :class:`CaseSource` per series.

    Loading is slow (seconds per scan): progress is reported per series, and ``cancel`` stops between
    series (raising ``Cancelled``).
    """
    from ssc_core.imaging.loader import find_series, load_scan

    sources: list[CaseSource] = []
    problems: list[ScanProblem] = []
    total = len(entries)
    for n, entry in enumerate(entries, start=1):
        check_cancel(cancel)
        report(progress, n - 1, total, f"Reading scan {n} of {total}")
        try:
            candidates = find_series(entry.path, cancel=cancel)
        except LoadError as exc:
            problems.append(ScanProblem(n, entry.series, str(exc), refused=True))
            continue
        if entry.series is not None:
            chosen = [c for c in candidates if c.key == entry.series]
            if not chosen:
                problems.append(ScanProblem(n, entry.series, "this series is not at the path", refused=True))
                continue
        else:
            chosen = []
            for c in candidates:
                if c.scorable:
                    chosen.append(c)
                else:
                    problems.append(
                        ScanProblem(n, c.key, c.reason or "not a scorable CT series", refused=False)
                    )
            if not chosen:  # the whole entry (a patient, an examination) would be missing from the study
                problems.append(ScanProblem(n, None, "no scorable CT series here (see above)", refused=True))
                continue
        for c in chosen:
            check_cancel(cancel)
            try:
                loaded = load_scan(entry.path, series=c.key, cancel=cancel)
            except LoadError as exc:
                problems.append(ScanProblem(n, c.key, str(exc), refused=True))
                continue
            location = entry.path.resolve()
            sources.append(
                CaseSource(
                    location=str(location),
                    content_hash=volume_content_hash(loaded.volume),
                    identity=loaded.identity,
                    series=c.key,
                    source_name=entry.name or _source_name(location),
                )
            )
            del loaded  # the volume is not kept: only its hash
    report(progress, total, total, "Scans read")
    return ScanImport(tuple(sources), tuple(problems))
