"""``ssc score``: batch scoring of scans (or single slices) with a model bundle.

Examples::

    ssc score scans/*/ --bundle my-bundle --out results.xlsx --heatmaps heatmaps/
    ssc score --slices a.dcm b.dcm --bundle my-bundle --out slices.xlsx
    torchrun --nproc-per-node 4 -m ssc_core score scans/*/ --bundle B --out results.xlsx

Each case's errors are reported (on screen and in the workbook) without stopping the batch. Under
``torchrun`` each process scores a share of the cases and process 0 writes the merged workbook.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ssc_core import RESEARCH_USE_NOTICE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this package's subcommands to the ``ssc`` parser."""
    p = subparsers.add_parser(
        "score",
        help="score scans (levels + TOT/GG/RET) or single slices with a model bundle",
        description=(
            "Find the five levels and score them on each scan (or, with --slices, score given axial slices "
            f"with the scorer alone), one spreadsheet row per level or slice. {RESEARCH_USE_NOTICE}"
        ),
    )
    p.add_argument("paths", nargs="+", metavar="SCAN", help="DICOM folders or files, MHA/NIfTI/NRRD files")
    p.add_argument(
        "--bundle",
        metavar="B",
        help="model bundle folder (default: the demo bundle shipped with the workstation)",
    )
    p.add_argument("--out", required=True, metavar="FILE.xlsx", help="results workbook to write")
    p.add_argument("--heatmaps", metavar="DIR", help="also compute heat maps and write them here (.npz)")
    p.add_argument(
        "--slices",
        action="store_true",
        help="the paths are single axial slices (DICOM files, or every slice of a volume file): "
        "score them with the scorer alone",
    )
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.set_defaults(func=_run)


class _Bar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, total: int, prefix: str = "") -> None:
        self.total = max(1, total)
        self.prefix = prefix
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def update(self, done: int, label: str, failed: bool) -> None:
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done * (self.total - done) if done else 0.0
        width = 24
        filled = int(width * done / self.total)
        bar = "#" * filled + "." * (width - filled)
        mark = "  FAILED" if failed else ""
        text = f"{self.prefix}[{bar}] {done}/{self.total}  ETA {eta:4.0f} s  {label}{mark}"
        if self.tty:
            sys.stderr.write("\r" + text[:150].ljust(150))
            if done == self.total:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _run(args: argparse.Namespace) -> int:
    from ssc_core.ai.batch import run_batch, shard_from_env

    shard = shard_from_env()
    prefix = f"rank {shard.rank}/{shard.world} " if shard.distributed else ""
    n_mine = len(shard.share(args.paths))
    bar = _Bar(n_mine, prefix)
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []

    def on_case(done: int, total: int, path: str, rows: list[Any]) -> None:
        failed = any(r.status == "error" for r in rows)
        if failed:
            errors.append((path, rows[0].error))
        elif rows and rows[0].warnings:
            warnings.append((path, rows[0].warnings))
        bar.update(done, path, failed)

    summary = run_batch(
        args.paths,
        bundle=args.bundle,
        out=args.out,
        slices=args.slices,
        heatmap_dir=args.heatmaps,
        device=args.device,
        on_case=on_case,
    )
    for path, message in warnings:
        print(f"warning: {path}: {message}", file=sys.stderr)
    for path, message in errors:
        print(f"error: {path}: {message}", file=sys.stderr)
    if shard.rank == 0:
        print(
            f"{summary.cases} case(s) scored with '{summary.bundle_name}' in {summary.seconds:.1f} s; "
            f"{summary.failed} failed. Results: {args.out}"
        )
        print(RESEARCH_USE_NOTICE)
    return 1 if summary.failed or errors else 0
