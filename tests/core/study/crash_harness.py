"""Crash-safety harness: a child process edits a study and is killed (SIGKILL) at random moments.

The child applies a deterministic script of edits (scores, level placements, timing) through the store,
printing each edit's number after its commit has returned. After each kill the parent drains what the
child printed, opens the study, and checks that

* SQLite's ``integrity_check`` is ok and the audit chain verifies (``StudyStore.verify``);
* every edit the child reported is present, and the state is exactly the script's state after n edits
  for n = reported or reported + 1 (an edit may commit just before the kill, unreported; nothing is ever
  half applied).

Used by ``tests/core/study/test_crash_safety.py`` (100+ kills) and ``benchmarks/study_crash.py`` (1,000).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ssc_core.constants import LEVELS, PATTERNS

N_CASES = 3
SESSION_ID = 1
#: Edits one child makes at most (it is normally killed long before).
CHILD_MAX_EDITS = 200
_REPO = Path(__file__).resolve().parents[3]


def scripted_edit(k: int) -> tuple[str, int, tuple]:
    """Edit number ``k`` of the script: (kind, case index, arguments)."""
    case = k % N_CASES
    kind = (k // N_CASES) % 3
    level = int(LEVELS[(k // 7) % 5])
    if kind == 0:
        return "score", case, (level, PATTERNS[(k // 11) % 3].value, (k * 5) % 105)
    if kind == 1:
        return "level", case, (level, float(k) + 0.25, k % 500)
    return "time", case, (1.5,)


def expected_state(n: int) -> dict:
    """The state after edits 0..n-1."""
    state: dict = {}
    for k in range(n):
        apply_expected(state, k)
    return state


def apply_expected(state: dict, k: int) -> None:
    kind, case, args = scripted_edit(k)
    if kind == "score":
        state[("score", case, args[0], args[1])] = args[2]
    elif kind == "level":
        state[("level", case, args[0])] = (args[1], args[2])
    else:
        state[("time", case)] = state.get(("time", case), 0.0) + args[0]


def actual_state(store, reader_id: int, codes: list[str]) -> dict:
    view = store.reader_view(SESSION_ID, reader_id)
    state: dict = {}
    for case, code in enumerate(codes):
        r = view.readings.get(code)
        if r is None:
            continue
        for lv, s in r.values.scores.items():
            for pat, v in s.as_dict().items():
                if v is not None:
                    state[("score", case, int(lv), pat)] = v
        for lv, p in r.values.levels.items():
            state[("level", case, int(lv))] = (p.world_z, p.slice_index)
        if r.time_on_case_s:
            state[("time", case)] = r.time_on_case_s
    return state


def make_crash_study(path: Path) -> tuple[int, list[str]]:
    """A small study with one open observer session; returns (reader id, case codes)."""
    from ssc_core.study.records import CaseSource
    from ssc_core.study.store import create_study

    with create_study(path, name="Crash test", admin="Admin") as store:
        admin = store.reader_by_name("Admin").id
        reader = store.add_reader("Reader", by=admin).id
        cases = store.add_cases(
            [CaseSource(f"/scans/{i}.mha", f"{i:064x}") for i in range(N_CASES)], by=admin
        )
        s = store.add_session("T1", "observer", [reader], by=admin)
        assert s.id == SESSION_ID
        store.open_session(s.id, by=admin)
        return reader, [c.code for c in cases]


def child_main(argv: list[str] | None = None) -> None:
    """Child process: ``crash_harness child STUDY READER START CODE...``; edits until killed."""
    args = sys.argv[1:] if argv is None else argv
    path, reader, start, codes = Path(args[0]), int(args[1]), int(args[2]), args[3:]
    from ssc_core.study.store import open_study

    store = open_study(path)
    out = sys.stdout
    for k in range(start, start + CHILD_MAX_EDITS):
        kind, case, a = scripted_edit(k)
        code = codes[case]
        if kind == "score":
            store.set_score(SESSION_ID, reader, code, a[0], a[1], a[2])
        elif kind == "level":
            store.place_level(SESSION_ID, reader, code, a[0], a[1], a[2])
        else:
            store.add_time(SESSION_ID, reader, code, a[0])
        out.write(f"{k}\n")  # only after the edit's commit has returned
        out.flush()
    store.close()


@dataclass
class CrashStats:
    kills: int = 0
    reported_edits: int = 0
    committed_unreported: int = 0
    integrity_ok: int = 0
    verify_ok: int = 0
    studies: int = 0
    failures: list[str] = field(default_factory=list)


def _spawn(path: Path, reader: int, start: int, codes: list[str]) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO), env.get("PYTHONPATH", "")) if p)
    code = "import sys; from tests.core.study.crash_harness import child_main; child_main(sys.argv[1:])"
    return subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(reader), str(start), *codes],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )


def run_crash_trials(
    folder: Path, kills: int, *, seed: int = 0, kills_per_study: int = 50, max_wait_lines: int = 6
) -> CrashStats:
    """Kill ``kills`` children at random moments and check the study after each (see the module doc)."""
    from ssc_core.study.store import open_study

    rng = random.Random(seed)
    stats = CrashStats()
    path = Path(folder) / "crash.sscstudy"
    reader, codes, done, state = 0, [], 0, {}
    for i in range(kills):
        if i % kills_per_study == 0:  # a fresh study now and then keeps the audit log (and verify) short
            path = Path(folder) / f"crash{stats.studies}.sscstudy"
            reader, codes = make_crash_study(path)
            done, state = 0, {}
            stats.studies += 1
        child = _spawn(path, reader, done, codes)
        wait_for = rng.randint(0, max_wait_lines)
        lines: list[str] = []
        for _ in range(wait_for):
            line = child.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
        child.kill()  # SIGKILL on POSIX: no clean-up, no atexit, mid-transaction as it falls
        # Read the rest through the same buffered stream: communicate() would read the raw pipe and lose
        # lines that readline() had already buffered.
        rest = child.stdout.read()  # type: ignore[union-attr]
        err = child.stderr.read()  # type: ignore[union-attr]
        child.wait()
        lines += rest.splitlines()
        reported = [int(x) for x in lines if x.strip()]
        stats.kills += 1
        if reported != list(range(done, done + len(reported))):
            stats.failures.append(f"kill {i}: child reported {reported[:5]}..., expected to start at {done}")
            break
        if "Traceback" in err:
            stats.failures.append(f"kill {i}: child failed: {err.strip().splitlines()[-1]}")
            break
        for k in range(done, done + len(reported)):
            apply_expected(state, k)
        stats.reported_edits += len(reported)
        done += len(reported)
        with open_study(path) as store:  # also proves the dead child's lock was released
            if store.integrity_check() == ["ok"]:
                stats.integrity_ok += 1
            else:
                stats.failures.append(f"kill {i}: integrity_check failed")
            report = store.verify()
            if report.ok:
                stats.verify_ok += 1
            else:
                stats.failures.append(f"kill {i}: verify failed: {report.problems[:3]}")
            got = actual_state(store, reader, codes)
        if got != state:
            nxt = dict(state)
            apply_expected(nxt, done)
            if got == nxt:  # the edit in flight committed before the kill, unreported: fine
                state = nxt
                done += 1
                stats.committed_unreported += 1
            else:
                missing = {k: v for k, v in state.items() if got.get(k) != v}
                stats.failures.append(
                    f"kill {i}: state after {done} edits differs: {list(missing.items())[:3]}"
                )
                break
    return stats


if __name__ == "__main__":  # pragma: no cover - run by the parent
    child_main()
