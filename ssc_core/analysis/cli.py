"""``ssc`` subcommands of this package: ``stats`` and ``export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssc_core.constants import STUDY_SUFFIX
from ssc_core.errors import ImportFormatError


def _load(source: str):  # -> StudyTables
    from ssc_core.analysis.export import read_export

    path = Path(source)
    if path.suffix.lower() == STUDY_SUFFIX:
        raise ImportFormatError(
            f"{path.name}: reading study files needs the study store, which this build does not have yet.",
            hint="Export the study from the workstation, then run this command on the exported .xlsx.",
        )
    if not path.exists():
        raise ImportFormatError(f"No such file or folder: {path}")
    return read_export(path)


def _progress_printer(label: str):
    def show(p) -> None:  # ssc_core.progress.Progress
        if sys.stderr.isatty():
            frac = p.fraction or 0.0
            print(f"\r{label}: {int(100 * frac):3d} % {p.message[:40]:<40}", end="", file=sys.stderr)

    return show


def _stats(args: argparse.Namespace) -> int:
    from ssc_core.analysis.render import render_text
    from ssc_core.analysis.reports import compute_reports

    tables = _load(args.source)
    reports = compute_reports(tables, ground_truth=args.ground_truth, ai=args.ai, per_level=args.per_level)
    title = tables.description.title or Path(args.source).name
    print(render_text(reports, title=f"Study report: {title}", per_level=args.per_level), end="")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ssc_core.analysis.conversions import export_label_workbook, export_likert_json
    from ssc_core.analysis.export import export_csv, export_workbook
    from ssc_core.analysis.reports import compute_reports

    tables = _load(args.source)
    out = Path(args.out)
    if args.label_workbook:
        path = export_label_workbook(tables.ratings, tables.levels, args.label_workbook, out)
        print(f"Wrote {path}")
        return 0
    if args.likert_json:
        path = export_likert_json(tables.likert, args.likert_json, out)
        print(f"Wrote {path}")
        return 0
    reports = None
    if not args.no_reports:
        reports = compute_reports(tables, ground_truth=args.ground_truth, ai=args.ai)
    if args.csv or out.suffix.lower() == ".zip" or (out.suffix == "" and not out.is_file()):
        path = export_csv(
            tables,
            out,
            reports=reports,
            with_reports=not args.no_reports,
            decimal="," if args.decimal_comma else ".",
        )
    else:
        path = export_workbook(
            tables,
            out,
            reports=reports,
            with_reports=not args.no_reports,
            progress=_progress_printer("Export"),
        )
        if sys.stderr.isatty():
            print(file=sys.stderr)
    print(f"Wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the ``ssc`` parser."""
    source_help = "an exported study workbook (.xlsx), or a CSV export (folder or .zip)"

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
