"""``ssc`` subcommands of this package."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the ``ssc`` parser."""
    _register_info(subparsers)
    add_phantom_command(subparsers)


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


# --- ssc phantom ---------------------------------------------------------------------------------------


def add_phantom_command(subparsers: argparse._SubParsersAction) -> None:
    """``ssc phantom``: write a cohort of synthetic chest CTs with their label workbook."""
    p = subparsers.add_parser(
        "phantom",
        help="write synthetic chest CT phantoms (DICOM or MHA) with a Goh label workbook",
        description=(
            "Generate a cohort of synthetic chest CT scans (the project's test patients), healthy or with "
            "SSc-like ground glass and reticulation, and write them with the authors' label workbook "
            "(GohScores.xlsx) and a manifest (cohort.json). The same seed always gives the same cohort."
        ),
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must be empty or new)")
    p.add_argument("--patients", type=int, default=1, metavar="N", help="number of patients (default 1)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="cohort seed (default 0)")
    p.add_argument("--format", choices=("dicom", "mha"), default="dicom", help="image format (default dicom)")
    p.add_argument(
        "--slice-spacing",
        type=float,
        default=2.5,
        metavar="MM",
        help="slice spacing in mm, 0.5-3 (default 2.5)",
    )
    p.add_argument("--healthy", action="store_true", help="healthy lungs only (default: a mix)")
    p.add_argument("--overwrite", action="store_true", help="write into a folder that is not empty")
    p.set_defaults(func=run_phantom_command)


def run_phantom_command(args: argparse.Namespace) -> int:
    from ssc_core.imaging.phantom import write_cohort
    from ssc_core.progress import Progress

    if args.patients < 1:
        print("error: --patients must be at least 1", file=sys.stderr)
        return 2
    if args.seed < 0:
        print("error: --seed must be a non-negative integer", file=sys.stderr)
        return 2
    if not 0.5 <= args.slice_spacing <= 3.0:
        print("error: --slice-spacing must be between 0.5 and 3 mm", file=sys.stderr)
        return 2
    bar = _ProgressBar(sys.stderr)

    def on_progress(p: Progress) -> None:
        bar.update(p.fraction, p.message)

    cohort = write_cohort(
        args.out,
        args.patients,
        args.seed,
        args.format,
        disease="healthy" if args.healthy else "mixed",
        slice_spacing_mm=args.slice_spacing,
        overwrite=args.overwrite,
        progress=on_progress,
    )
    bar.close()
    healthy = sum(p.healthy for p in cohort.patients)
    print(f"{len(cohort.patients)} phantom(s) ({healthy} healthy) written to {cohort.folder}")
    print(f"labels: {cohort.label_workbook}")
    return 0


class _ProgressBar:
    """A text progress bar on a stream: redrawn in place on a terminal, one line per phase otherwise."""

    def __init__(self, stream, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._line = ""
        self._message: str | None = None

    def update(self, fraction: float | None, message: str) -> None:
        f = 0.0 if fraction is None else min(1.0, max(0.0, fraction))
        filled = round(f * self.width)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * f:5.1f}% {message}"[:120]
        if self.tty:
            if line != self._line:
                self.stream.write("\r" + line.ljust(len(self._line)))
                self.stream.flush()
        elif message != self._message:
            self.stream.write(line + "\n")
            self.stream.flush()
        self._line = line
        self._message = message

    def close(self) -> None:
        if self.tty and self._line:
            self.stream.write("\n")
            self.stream.flush()
