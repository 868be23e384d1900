"""Fuzz the CT loader with malformed DICOM: every mutant must load or raise a named ``LoadError``.

Runs N mutants (default 5,000) from the generator the test suite uses (``tests/core/imaging/mutants.py``:
truncation, byte flips, damaged elements, wrong and huge element lengths, removed or absurd header values,
zero-byte, random, text and PNG files named .dcm) over small seed series in every supported encoding, and
reports the count of each outcome, the crashes (any other exception) and the slowest mutants.

    python -m benchmarks.dicom_fuzz [--count 5000] [--start 0]

Writes ``benchmarks/results/dicom_fuzz.json``; exits 1 when any mutant crashed or took 10 s or more.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.core.imaging.mutants import build_seeds, make_mutant, run_mutant  # noqa: E402

LIMIT_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--start", type=int, default=0, help="first mutant index (mutants are deterministic)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dicom_fuzz.json")
    args = parser.parse_args(argv)

    seeds = build_seeds()
    counts: Counter[str] = Counter()
    by_operator: dict[str, Counter[str]] = {}
    crashes: list[str] = []
    slowest: list[tuple[float, str]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ssc-fuzz-") as tmp:
        for i in range(args.start, args.start + args.count):
            mutant = make_mutant(seeds, i)
            outcome = run_mutant(mutant, Path(tmp) / f"m{i}")
            result = "CRASH" if outcome.crashed else outcome.result
            if outcome.seconds >= LIMIT_S:
                result = "TOO SLOW"
            counts[result] += 1
            by_operator.setdefault(mutant.name.split(":")[1], Counter())[result] += 1
            if outcome.crashed or outcome.seconds >= LIMIT_S:
                crashes.append(f"{outcome.mutant}: {outcome.result} ({outcome.seconds:.1f} s)")
            slowest = sorted([*slowest, (outcome.seconds, outcome.mutant)], reverse=True)[:5]
            if (i - args.start + 1) % 500 == 0:
                print(f"{i - args.start + 1} mutants, {len(crashes)} failures", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    report = {
        "mutants": args.count,
        "first_index": args.start,
        "seconds_total": round(elapsed, 1),
        "outcomes": dict(counts.most_common()),
        "outcomes_by_operator": {op: dict(c.most_common()) for op, c in sorted(by_operator.items())},
        "failures": crashes,
        "slowest_seconds": [[round(s, 3), name] for s, name in slowest],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
