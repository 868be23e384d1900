"""Crash safety of the study store: 1,000 SIGKILLs of a child process in the middle of its edits.

After every kill: every edit the child reported committed is present, nothing is half applied, SQLite's
integrity_check is ok and the audit chain verifies (see ``tests/core/study/crash_harness.py``).

Run: ``python -m benchmarks.study_crash [--kills N]``; writes ``benchmarks/results/study_crash.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, help="folder on the disk to test (default: a temporary folder)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.core.study.crash_harness import run_crash_trials

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        stats = run_crash_trials(Path(tmp), args.kills, seed=args.seed)
    elapsed = time.perf_counter() - t0
    result = {"benchmark": "study_crash", **asdict(stats), "seconds": elapsed, "ok": not stats.failures}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "study_crash.json"
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(
        f"{stats.kills} kills in {elapsed:.0f} s over {stats.studies} studies: "
        f"{stats.reported_edits} edits reported committed, "
        f"all present: {'yes' if not stats.failures else 'NO'}; "
        f"{stats.committed_unreported} more committed just before a kill; "
        f"integrity_check ok {stats.integrity_ok}/{stats.kills}, "
        f"audit chain ok {stats.verify_ok}/{stats.kills}; failures: {len(stats.failures)}"
    )
    for f in stats.failures[:10]:
        print("  " + f)
    print(f"written to {out}")
    return 0 if not stats.failures else 1


if __name__ == "__main__":
    sys.exit(main())
