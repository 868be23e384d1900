"""``ssc study precompute STUDY [--bundle B] [--session LABEL]``: cache a session's AI results ahead of time.

Registered under ``ssc study`` by :mod:`ssc_core.study.cli`; the work is
:func:`ssc_core.ai.precompute.precompute`.
Resumable: every level and heat map is written as soon as it is computed, and a new run skips what is
cached, so Ctrl+C (or a crash) loses at most the piece in progress.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ssc_core import RESEARCH_USE_NOTICE
from ssc_core.progress import Progress


def add_precompute_parser(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    """Add ``precompute`` to the ``ssc study`` sub-commands (``parent``: the study file and admin options)."""
    p = sub.add_parser(
        "precompute",
        parents=[parent],
        help="compute and cache the AI results and heat maps of a session's cases ahead of time",
        description=(
            "Run the AI cascade (levels and scores) and the heat maps of every case of a session (or of the "
            "study) that has no cached result yet, and store them in the study file, so that readers never "
            "wait for them. Resumable: interrupt it at any time and run it again to continue. "
            f"{RESEARCH_USE_NOTICE}"
        ),
    )
    p.add_argument("--bundle", metavar="B", help="model bundle folder (default: the demo bundle)")
    p.add_argument("--session", metavar="LABEL", help="the session whose cases to compute (default: all)")
    p.add_argument("--no-heatmaps", action="store_true", help="levels and scores only (heat maps are slow)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.set_defaults(func=cmd_precompute)


class _Bar:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self._last = ""

    def __call__(self, p: Progress) -> None:
        total = max(1, p.total)
        done = min(p.done, total)
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / done * (total - done) if done else 0.0
        width = 24
        bar = "#" * int(width * done / total) + "." * (width - int(width * done / total))
        text = f"[{bar}] {done}/{total}  ETA {eta:5.0f} s  {p.message}"
        if self.tty:
            sys.stderr.write("\r" + text[:140].ljust(140) + ("\n" if done >= total else ""))
        elif text != self._last:
            sys.stderr.write(text + "\n")
        self._last = text
        sys.stderr.flush()


def cmd_precompute(args: argparse.Namespace) -> int:
    from ssc_core.ai.precompute import precompute
    from ssc_core.study.cli import _actor, _open

    with _open(args) as store:
        actor = _actor(store, args)
        try:
            summary = precompute(
                store,
                Path(args.bundle) if args.bundle else None,
                session=args.session,
                heatmaps=not args.no_heatmaps,
                device=args.device,
                by=actor,
                progress=_Bar(),
                on_case=lambda c: c.error and print(f"\nfailed: {c.code}: {c.error}", file=sys.stderr),
            )
        except KeyboardInterrupt:
            print(
                "\nInterrupted. What was computed is saved in the study; run the command again to continue.",
                file=sys.stderr,
            )
            return 130
    where = f"session {args.session}" if args.session else "the study"
    print(
        f"{len(summary.cases)} case(s) of {where} with '{summary.bundle_name}' on {summary.device}: "
        f"{summary.computed} result(s) computed, {summary.skipped} case(s) already cached, "
        f"{summary.failed} failed ({summary.seconds:.1f} s)."
    )
    print(RESEARCH_USE_NOTICE)
    return 1 if summary.failed else 0
