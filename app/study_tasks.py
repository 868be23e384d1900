"""Study work that runs in a worker thread (see :mod:`app.workers`): only core calls, no store access.

Reading scans for new cases loads every series once (seconds each); building the demo study generates
phantoms. Both report progress and stop on cancel. The store itself is only ever used on the GUI thread.
"""

from __future__ import annotations

from pathlib import Path

from ssc_core.progress import CancelToken, ProgressCallback


def collect_scans(
    path: Path,
    *,
    list_file: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
):
    """``ScanImport`` of a folder of scans or a list file (``ssc study add-cases --scans/--list``)."""
    from ssc_core.study.scans import collect_case_sources, folder_entries, read_list_file

    entries = read_list_file(path) if list_file else folder_entries(path)
    if not entries:
        from ssc_core.errors import ImportFormatError

        raise ImportFormatError(
            "No scans were found there (no volume files, no sub-folders, no DICOM files)."
        )
    return collect_case_sources(entries, progress=progress, cancel=cancel)


def ensure_demo(
    root: Path,
    *,
    n_patients: int,
    matrix: int,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
):
    """The demo study in ``root`` (built on first use; see ``ssc_core.study.demo.ensure_demo_study``)."""
    from ssc_core.study.demo import ensure_demo_study

    return ensure_demo_study(root, n_patients=n_patients, matrix=matrix, progress=progress, cancel=cancel)
