"""``ssc`` subcommands of this package."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the ``ssc`` parser."""
    _register_info(subparsers)


# --- ssc info -----------------------------------------------------------------------------------------


def _register_info(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "info",
        help="list the CT series at a path and the geometry of the one it would open",
        description=(
            "List the series found under PATH (a DICOM folder or file, or an MHA/MHD, NIfTI or NRRD file) "
            "and, for the one it would open, the loaded geometry: shape, spacing, z range and direction, HU "
            "range, transfer syntax and warnings; or the refusal and its reason (exit code 2). No patient "
            "identifier is printed."
        ),
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "--series", metavar="KEY", help="open this series (a key from the list) instead of the default"
    )
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    import json

    from ssc_core.imaging.info import format_text, inspect

    report = inspect(args.path, series=args.series)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_text(report))
    return 0 if report.ok else 2
