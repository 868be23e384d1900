"""``ssc`` subcommands of this package: ``stats`` and ``export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ssc_core.constants import STUDY_SUFFIX
from ssc_core.errors import AnalysisError, ImportFormatError

if TYPE_CHECKING:
    from ssc_core.analysis.tables import StudyTables


def _load(args: argparse.Namespace) -> tuple[StudyTables, list[str]]:
    """The tables to report or export, and the texts the export must not contain.

    A study file is opened read-only; with ``--reader``/``--session`` only that reader's view is read.
    """
    from ssc_core.analysis.export import read_export

    path = Path(args.source)
    if not path.exists():
        raise ImportFormatError(f"No such file or folder: {path}")
    reader, session = getattr(args, "reader", None), getattr(args, "session", None)
    if path.suffix.lower() != STUDY_SUFFIX:
        if reader or session:
            raise AnalysisError("--reader and --session select a reader's view of a study file (.sscstudy).")
        return read_export(path), []
    from ssc_core.analysis.from_store import forbidden_texts, reader_view_tables, study_tables
    from ssc_core.study.store import open_study

    with open_study(path, readonly=True) as store:
        forbidden = forbidden_texts(store)
        if reader or session:
            if not (reader and session):
                raise AnalysisError("A reader's export needs both --reader NAME and --session LABEL.")
            view = store.reader_view(store.session_by_label(session).id, store.reader_by_name(reader).id)
            return reader_view_tables(view), forbidden
        return study_tables(store), forbidden


def _progress_printer(label: str):
    def show(p) -> None:  # ssc_core.progress.Progress
        if sys.stderr.isatty():
            frac = p.fraction or 0.0
            print(f"\r{label}: {int(100 * frac):3d} % {p.message[:40]:<40}", end="", file=sys.stderr)

    return show


def _stats(args: argparse.Namespace) -> int:
    from ssc_core.analysis.render import render_text
    from ssc_core.analysis.reports import compute_reports

    tables, _ = _load(args)
    reports = compute_reports(tables, ground_truth=args.ground_truth, ai=args.ai, per_level=args.per_level)
    title = tables.description.title or Path(args.source).name
    print(render_text(reports, title=f"Study report: {title}", per_level=args.per_level), end="")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ssc_core.analysis.conversions import export_label_workbook, export_likert_json
    from ssc_core.analysis.export import export_csv, export_workbook
    from ssc_core.analysis.reports import compute_reports

    tables, forbidden = _load(args)
    blinded = bool(args.reader)
    out = Path(args.out)
    if args.label_workbook:
        path = export_label_workbook(tables.ratings, tables.levels, args.label_workbook, out)
        print(f"Wrote {path}")
        return 0
    if args.likert_json:
        path = export_likert_json(tables.likert, args.likert_json, out)
        print(f"Wrote {path}")
        return 0
    # A reader's own export holds their readings only: no agreement with anyone else to report.
    with_reports = not (args.no_reports or blinded)
    reports = None
    if with_reports:
        reports = compute_reports(tables, ground_truth=args.ground_truth, ai=args.ai)
    if args.csv or out.suffix.lower() == ".zip" or (out.suffix == "" and not out.is_file()):
        path = export_csv(
            tables,
            out,
            reports=reports,
            with_reports=with_reports,
            decimal="," if args.decimal_comma else ".",
            forbidden=forbidden,
        )
    else:
        path = export_workbook(
            tables,
            out,
            reports=reports,
            with_reports=with_reports,
            forbidden=forbidden,
            progress=_progress_printer("Export"),
        )
        if sys.stderr.isatty():
            print(file=sys.stderr)
    print(f"Wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the ``ssc`` parser."""
    source_help = (
        f"a study file ({STUDY_SUFFIX}, opened read-only), an exported study workbook (.xlsx), "
        "or a CSV export (folder or .zip)"
    )

    p = subparsers.add_parser(
        "stats",
        help="print the agreement reports of a study (observer study, AI performance, ...)",
        description="Print the observer study (Table 6 layout), AI performance per level, level-position "
        "agreement, Likert ratings and heat-map explainability.",
    )
    p.add_argument("source", metavar="SOURCE", help=source_help)
    p.add_argument(
        "--ground-truth", metavar="NAME", help="consensus rater to compare against (default: the first)"
    )
    p.add_argument("--ai", metavar="NAME", help="AI bundle the readers' errors are tested against")
    p.add_argument("--per-level", action="store_true", help="also print each level's observer figures")
    p.set_defaults(func=_stats)

    e = subparsers.add_parser(
        "export",
        help="export a study to a spreadsheet (.xlsx) or CSV files",
        description="Write the study's data (long format) and report tables to an .xlsx workbook, or one "
        "CSV file per table to a folder or .zip. Files are replaced atomically.",
    )
    e.add_argument("source", metavar="SOURCE", help=source_help)
    e.add_argument("--out", required=True, metavar="FILE", help="target .xlsx, .zip, or folder (with --csv)")
    e.add_argument("--csv", action="store_true", help="write CSV files (a folder, or a .zip)")
    e.add_argument(
        "--decimal-comma",
        action="store_true",
        help="CSV with ';' separators and decimal commas (for spreadsheet programs in comma-decimal locales)",
    )
    e.add_argument("--no-reports", action="store_true", help="leave out the report tables")
    e.add_argument(
        "--ground-truth", metavar="NAME", help="consensus rater of the reports (default: the first)"
    )
    e.add_argument("--ai", metavar="NAME", help="AI bundle the readers' errors are tested against")
    e.add_argument("--reader", metavar="NAME", help="a blinded reader's own export: their readings only")
    e.add_argument("--session", metavar="LABEL", help="the session of --reader")
    e.add_argument(
        "--label-workbook",
        metavar="RATER",
        help="instead: write this rater's scores and levels in the authors' wide label workbook",
    )
    e.add_argument(
        "--likert-json",
        metavar="RATER",
        help="instead: write this rater's Likert ratings as the authors' JSON",
    )
    e.set_defaults(func=_export)
