"""Commit latency of reader edits in the study store (target: p95 <= 20 ms on this machine).

10,000 edits of the kinds the GUI makes (scores, level placements, Likert ratings, timing), each its own
durable transaction (``synchronous=FULL``, WAL, audit row and chain head), timed from the call to its
return, i.e. until the GUI may say "saved". Baseline measured in the same run on the same disk, one bare
commit after every fifth edit (so both see the same disk load): a single-row INSERT + COMMIT with the same
durability settings, the floor any durable edit pays.

Run: ``python -m benchmarks.study_commit_latency [--edits N]``; writes
``benchmarks/results/study_commit_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_P95_MS = 20.0


def _percentiles(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)

    def q(p: float) -> float:
        return s[min(len(s) - 1, round(p * (len(s) - 1)))]

    return {
        "median_ms": statistics.median(s),
        "p95_ms": q(0.95),
        "p99_ms": q(0.99),
        "max_ms": s[-1],
        "mean_ms": statistics.fmean(s),
    }


class Baseline:
    """Bare SQLite durable commits on the same disk (WAL, synchronous=FULL), interleaved with the edits
    so that both see the same disk conditions on a shared machine."""

    def __init__(self, folder: Path) -> None:
        self.conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = wal")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
        self.ms: list[float] = []

    def commit(self) -> None:
        t0 = time.perf_counter_ns()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO t (v) VALUES (?)", (len(self.ms),))
        self.conn.execute("COMMIT")
        self.ms.append((time.perf_counter_ns() - t0) / 1e6)


def store_edits(
    folder: Path, n: int, baseline: Baseline, baseline_every: int, seed: int = 0
) -> tuple[dict[str, float], dict[str, object]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ssc_core.constants import LEVELS, PATTERNS
    from ssc_core.study.records import CaseSource
    from ssc_core.study.store import create_study

    rng = random.Random(seed)
    store = create_study(folder / "bench.sscstudy", name="Latency", admin="Admin")
    admin = store.reader_by_name("Admin").id
    readers = [store.add_reader(f"Reader {i}", by=admin).id for i in range(2)]
    cases = store.add_cases([CaseSource(f"/scans/{i}.mha", f"{i:064x}") for i in range(40)], by=admin)
    codes = [c.code for c in cases]
    obs = store.add_session("T1", "observer", readers, by=admin)
    hm = store.add_session("HM", "heatmap", readers, by=admin)
    store.open_session(obs.id, by=admin)
    store.open_session(hm.id, by=admin)
    times: dict[str, list[float]] = {"score": [], "level": [], "rating": [], "time": []}
    all_ms: list[float] = []
    for i in range(n):
        if i % baseline_every == 0:
            baseline.commit()
        r = rng.choice(readers)
        code = rng.choice(codes)
        lv = rng.choice(LEVELS)
        pat = rng.choice(PATTERNS)
        u = rng.random()
        t0 = time.perf_counter_ns()
        if u < 0.5:
            kind = "score"
            store.set_score(obs.id, r, code, lv, pat, rng.randrange(0, 101, 5))
        elif u < 0.75:
            kind = "level"
            store.place_level(obs.id, r, code, lv, rng.uniform(-300, 100), rng.randrange(0, 400))
        elif u < 0.85:
            kind = "rating"
            store.set_rating(hm.id, r, code, lv, pat, rng.randint(1, 5))
        else:
            kind = "time"
            store.add_time(obs.id, r, code, rng.uniform(1, 30), level=lv if rng.random() < 0.5 else None)
        ms = (time.perf_counter_ns() - t0) / 1e6
        times[kind].append(ms)
        all_ms.append(ms)
    t0 = time.perf_counter()
    view = store.reader_view(obs.id, readers[0])
    view_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    report = store.verify()
    verify_s = time.perf_counter() - t0
    store.close()
    extra: dict[str, object] = {
        "by_kind": {k: _percentiles(v) | {"n": len(v)} for k, v in times.items() if v},
        "reader_view_40_cases_ms": view_ms,
        "reader_view_readings": len(view.readings),
        "verify_s": verify_s,
        "verify_ok": report.ok,
        "audit_rows": report.audit_rows,
    }
    return _percentiles(all_ms), extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edits", type=int, default=10_000)
    ap.add_argument("--baseline-every", type=int, default=5, help="one bare commit per this many edits")
    ap.add_argument("--dir", type=Path, help="folder on the disk to measure (default: a temporary folder)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        bare = Baseline(folder)
        edits, extra = store_edits(folder, args.edits, bare, args.baseline_every)
        bare.conn.close()
        base = _percentiles(bare.ms) | {"n": len(bare.ms)}
    result = {
        "benchmark": "study_commit_latency",
        "edits": args.edits,
        "store": edits,
        "baseline_bare_sqlite_commit": base,
        "ratio_median": edits["median_ms"] / base["median_ms"],
        "ratio_p95": edits["p95_ms"] / base["p95_ms"],
        "target_p95_ms": TARGET_P95_MS,
        "target_met": edits["p95_ms"] <= TARGET_P95_MS,
        **extra,
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "platform": platform.platform(),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "study_commit_latency.json"
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(
        f"{args.edits} edits: median {edits['median_ms']:.2f} ms, p95 {edits['p95_ms']:.2f} ms, "
        f"p99 {edits['p99_ms']:.2f} ms, max {edits['max_ms']:.1f} ms "
        f"(target p95 <= {TARGET_P95_MS:g} ms: {'met' if result['target_met'] else 'NOT met'})"
    )
    print(
        f"bare SQLite durable commit: median {base['median_ms']:.2f} ms, p95 {base['p95_ms']:.2f} ms; "
        f"ratio store/bare: median {result['ratio_median']:.2f}x, p95 {result['ratio_p95']:.2f}x"
    )
    print(
        f"reader view of 40 cases: {extra['reader_view_40_cases_ms']:.1f} ms; verify of "
        f"{extra['audit_rows']} audit rows: {extra['verify_s']:.2f} s "
        f"({'ok' if extra['verify_ok'] else 'BROKEN'})"
    )
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
