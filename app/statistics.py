"""Work behind the statistics window and the export dialog, run in workers (:mod:`app.workers`).

Each function opens the study file itself, read-only, on the worker's thread and closes it before it
returns, so nothing of the store crosses threads and the GUI never waits on the disk or on the statistics.
What comes back is plain data: the study's tables and reports, the display tables built from them
(:mod:`app.report_tables`) and rating indices for the agreement plots.

Blinding: a reader's export (``reader`` and ``session`` given) is built from that reader's view of the
study alone (:func:`ssc_core.analysis.from_store.reader_view_tables`) and never carries report tables,
so nothing hidden from a blinded reader can reach their file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ssc_core.constants import STUDY_SUFFIX
from ssc_core.errors import AnalysisError, ExportError, ImportFormatError
from ssc_core.progress import CancelToken, Progress, ProgressCallback, check_cancel, report

if TYPE_CHECKING:
    import pandas as pd

    from app.report_tables import DisplayTables
    from ssc_core.analysis.matching import RatingIndex
    from ssc_core.analysis.reports import StudyReports
    from ssc_core.analysis.tables import StudyTables

#: What an export writes.
STUDY_EXPORT = "study"
LABEL_WORKBOOK = "label_workbook"
LIKERT_JSON = "likert_json"
#: Formats of a study export.
XLSX = "xlsx"
CSV_FOLDER = "csv_folder"
CSV_ZIP = "csv_zip"


@dataclass(frozen=True)
class RaterChoice:
    """A rater the plots and the authors' formats can pick: its id and what kind it is."""

    id: str
    kind: str  # "reader", "consensus" or "ai"


@dataclass(frozen=True, eq=False)
class StatisticsResult:
    """Everything the statistics window shows, computed in a worker."""

    title: str
    tables: StudyTables
    reports: StudyReports | None
    display: DisplayTables | None
    #: Ratings with the AI's scores (what the reports compare) and level positions, indexed for matching.
    scores: RatingIndex | None
    positions: RatingIndex | None
    score_raters: tuple[RaterChoice, ...]
    position_raters: tuple[RaterChoice, ...]
    n_cases: int
    n_finished: int
    empty_reason: str = ""

    @property
    def empty(self) -> bool:
        return bool(self.empty_reason)


def error_message(error: BaseException, doing: str) -> str:
    """What to tell the user about ``error``: the core's message and hint, or that something unexpected
    happened (the text of an unexpected exception may quote a file path, so it is not shown)."""
    from ssc_core.errors import SSCError

    if isinstance(error, SSCError):
        return error.message + (f"\n{error.hint}" if error.hint else "")
    if isinstance(error, OSError):
        return f"The file could not be read or written: {error.strerror or type(error).__name__}."
    return f"An unexpected error ({type(error).__name__}) stopped {doing}. If it keeps happening, report it."


def _is_study_file(path: Path) -> bool:
    return path.suffix.lower() == STUDY_SUFFIX


def _resolve(store, reader: str | int, session: str | int) -> tuple[int, int]:
    s = store.session(session) if isinstance(session, int) else store.session_by_label(str(session))
    r = store.reader(reader) if isinstance(reader, int) else store.reader_by_name(str(reader))
    return s.id, r.id


def load_tables(
    study_path: str | os.PathLike[str],
    *,
    reader: str | int | None = None,
    session: str | int | None = None,
) -> tuple[StudyTables, list[str]]:
    """A study's tables and the texts its exports must not contain (its patient identifiers).

    A study file is opened read-only (no lock, nothing written). With ``reader`` and ``session`` (names or
    ids) only that reader's view of that session is read. An exported workbook or CSV export is read back
    (admin use only: it has no reader views).
    """
    from ssc_core.analysis.from_store import forbidden_texts, reader_view_tables, study_tables

    path = Path(study_path)
    if not path.exists():
        raise ImportFormatError(f"The study file {path.name} does not exist (any more).")
    if (reader is None) != (session is None):
        raise AnalysisError("A reader's export needs both the reader and the session.")
    if not _is_study_file(path):
        if reader is not None:
            raise AnalysisError(f"A reader's own export is made from a study file ({STUDY_SUFFIX}).")
        from ssc_core.analysis.export import read_export

        return read_export(path), []
    from ssc_core.study.store import open_study

    with open_study(path, readonly=True) as store:
        forbidden = forbidden_texts(store)
        if reader is not None and session is not None:
            sid, rid = _resolve(store, reader, session)
            return reader_view_tables(store.reader_view(sid, rid)), forbidden
        return study_tables(store), forbidden


def _choices(table: pd.DataFrame) -> tuple[RaterChoice, ...]:
    from ssc_core.analysis.tables import raters

    return tuple(RaterChoice(r.id, r.kind.value) for r in raters(table))


def _finished_readings(tables: StudyTables) -> int:
    n = 0
    for frame in (tables.ratings, tables.likert):
        if len(frame):
            done = frame[frame["finished"]]
            n += len(done[["rater", "case"]].drop_duplicates())
    return n


def compute_statistics(
    study_path: str | os.PathLike[str],
    *,
    ground_truth: str | None = None,
    ai: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> StatisticsResult:
    """Read a study (read-only) and compute every report, the display tables and the plot indices."""
    from app.report_tables import display_tables
    from ssc_core.analysis.matching import RatingIndex
    from ssc_core.analysis.reports import compute_reports, study_ratings

    path = Path(study_path)
    report(progress, 0, 10, "Reading the study")
    tables, _ = load_tables(path)
    check_cancel(cancel)
    title = tables.description.title or path.stem
    ratings = study_ratings(tables)
    n_cases = len(set(ratings["case"]) | set(tables.likert["case"]) | set(tables.levels["case"]))
    n_finished = _finished_readings(tables)
    if n_finished == 0:
        reason = (
            "No reading of this study has been submitted yet: the statistics compare finished readings "
            "only, so there is nothing to show."
        )
        if n_cases == 0:
            reason = (
                "Nothing has been read in this study yet: the statistics appear once readers submit cases."
            )
        return StatisticsResult(title, tables, None, None, None, None, (), (), n_cases, 0, reason)

    def stage(p: Progress) -> None:  # the reports' four stages -> 1..9 of 10
        if progress is not None and p.total:
            progress(Progress(1 + round(8 * p.done / p.total), 10, p.message))

    reports = compute_reports(tables, ground_truth=ground_truth, ai=ai, progress=stage, cancel=cancel)
    check_cancel(cancel)
    report(progress, 9, 10, "Preparing the tables")
    scores = RatingIndex(ratings, "score") if len(ratings) else None
    positions = RatingIndex(tables.levels, "z_mm") if len(tables.levels) else None
    result = StatisticsResult(
        title=title,
        tables=tables,
        reports=reports,
        display=display_tables(reports),
        scores=scores,
        positions=positions,
        score_raters=_choices(ratings),
        position_raters=_choices(tables.levels),
        n_cases=n_cases,
        n_finished=n_finished,
    )
    report(progress, 10, 10, "Statistics ready")
    return result


# --- export ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """One export, as chosen in the export dialog.

    ``what``: :data:`STUDY_EXPORT` (data and, for an admin, report tables, in ``fmt``), or one rater's
    :data:`LABEL_WORKBOOK` / :data:`LIKERT_JSON` in the authors' formats. ``reader`` and ``session``
    make it a reader's own export (their view only, never report tables).
    """

    study_path: Path
    target: Path
    what: str = STUDY_EXPORT
    fmt: str = XLSX
    decimal_comma: bool = False
    with_reports: bool = True
    rater: str | None = None
    reader: str | int | None = None
    session: str | int | None = None

    @property
    def for_reader(self) -> bool:
        return self.reader is not None


def export_raters(
    study_path: str | os.PathLike[str],
    *,
    reader: str | int | None = None,
    session: str | int | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(raters with scores, raters with Likert ratings) the authors' formats can be written for."""
    report(progress, 0, 1, "Reading the study")
    tables, _ = load_tables(study_path, reader=reader, session=session)
    check_cancel(cancel)
    report(progress, 1, 1, "")
    return (
        tuple(dict.fromkeys(tables.ratings["rater"])),
        tuple(dict.fromkeys(tables.likert["rater"])),
    )


def run_export(
    request: ExportRequest,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write the export of ``request`` (atomically, by the core's writers); returns the path written."""
    from ssc_core.analysis.conversions import export_label_workbook, export_likert_json
    from ssc_core.analysis.export import export_csv, export_workbook

    report(progress, 0, 10, "Reading the study")
    tables, forbidden = load_tables(request.study_path, reader=request.reader, session=request.session)
    check_cancel(cancel)
    target = Path(request.target)
    if request.what == LABEL_WORKBOOK:
        if not request.rater:
            raise ExportError("Choose whose scores go into the label workbook.")
        report(progress, 5, 10, "Writing the label workbook")
        out = export_label_workbook(tables.ratings, tables.levels, request.rater, target)
        report(progress, 10, 10, "Export written")
        return out
    if request.what == LIKERT_JSON:
        if not request.rater:
            raise ExportError("Choose whose heat-map ratings go into the Likert file.")
        report(progress, 5, 10, "Writing the Likert ratings")
        out = export_likert_json(tables.likert, request.rater, target)
        report(progress, 10, 10, "Export written")
        return out
    if request.what != STUDY_EXPORT:
        raise ExportError(f"Unknown export {request.what!r}.")
    # A reader's own export holds their readings only: no agreement with anyone else to report.
    with_reports = request.with_reports and not request.for_reader
    reports = None
    if with_reports:
        from ssc_core.analysis.reports import compute_reports

        def stage(p: Progress) -> None:
            if progress is not None and p.total:
                progress(Progress(1 + round(4 * p.done / p.total), 10, p.message))

        reports = compute_reports(tables, progress=stage, cancel=cancel)
    check_cancel(cancel)
    if request.fmt == XLSX:

        def sheets(p: Progress) -> None:
            if progress is not None and p.total:
                progress(Progress(5 + round(5 * p.done / p.total), 10, f"Writing {p.message}"))

        return export_workbook(
            tables,
            target,
            reports=reports,
            with_reports=with_reports,
            forbidden=forbidden,
            progress=sheets,
            cancel=cancel,
        )
    if request.fmt in (CSV_FOLDER, CSV_ZIP):
        if request.fmt == CSV_ZIP and target.suffix.lower() != ".zip":
            target = target.with_suffix(".zip")
        if request.fmt == CSV_FOLDER and target.suffix.lower() == ".zip":
            raise ExportError(f"{target.name} ends in .zip: choose 'CSV files in a .zip file' for it.")
        report(progress, 6, 10, "Writing the CSV files")
        out = export_csv(
            tables,
            target,
            reports=reports,
            with_reports=with_reports,
            decimal="," if request.decimal_comma else ".",
            forbidden=forbidden,
            cancel=cancel,
        )
        report(progress, 10, 10, "Export written")
        return out
    raise ExportError(f"Unknown export format {request.fmt!r}.")
