"""The ``ssc`` command line.

Every package contributes its own subcommands through ``register(subparsers)`` in its ``cli`` module, so
this file stays a thin dispatcher. A subcommand sets ``func`` (taking the parsed namespace and returning an
exit code). Errors of the core are printed as ``error: <message>`` (and the hint) with exit code 2;
a cancelled run (Ctrl+C) exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ssc_core import RESEARCH_USE_NOTICE, __version__
from ssc_core.errors import SSCError

#: Modules that contribute subcommands, in help order.
COMMAND_MODULES = (
    "ssc_core.imaging.cli",  # info, phantom
    "ssc_core.study.cli",  # study ...
    "ssc_core.ai.cli",  # score
    "ssc_core.training.cli",  # train, evaluate
    "ssc_core.analysis.cli",  # export, stats
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssc",
        description=f"SSc Scoring Workstation, command line. {RESEARCH_USE_NOTICE}",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ssc``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # the command line as given, for subcommands that record it (e.g. a trained bundle's provenance)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 1
    try:
        return int(func(args) or 0)
    except SSCError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
