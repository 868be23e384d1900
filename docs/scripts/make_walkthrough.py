"""Run the user guide's reader study from start to finish and make its pictures (docs/images/walk-*.png).

Usage::

    python docs/scripts/make_walkthrough.py [--out docs/images] [--work DIR]

In ``--work`` (default: a temporary folder) it runs the commands of the user guide's section "A reader study
from start to finish", as printed there: six phantom patients (``ssc phantom``), the study file
(``ssc study create``), two readers, the consensus from the phantoms' label workbook, an observer session.
The two readers' scoring in the window is simulated through the same store calls the window makes (levels
within a slice of the phantom's truth, scores within 5-10 points of it, on the 5 % grid, consistent);
the pictures are taken by the workstation itself with ``--screenshot``:

* ``walk-first-case.png``: Dr A's first case of T1 as it opens, nothing placed yet;
* ``walk-scoring.png``: the same case with the levels placed and L1-L3 scored, at L3;
* ``walk-statistics.png``: the statistics window once both readers have submitted every case.

Then it exports the study (``ssc export``) and prints the workbook's sheets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

STUDY = "lung.sscstudy"
READERS = ("Dr A", "Dr B")
#: The guide's commands, run in the work folder in this order (``ssc`` is ``python -m ssc_core``).
COMMANDS = [
    ["phantom", "--patients", "6", "--seed", "1", "--out", "scans"],
    [
        "study",
        "create",
        STUDY,
        "--name",
        "SSc-ILD reader study",
        "--admin",
        "Study admin",
        "--scans",
        "scans",
    ],
    ["study", "add-reader", STUDY, "Dr A"],
    ["study", "add-reader", STUDY, "Dr B"],
    ["study", "import-labels", STUDY, "scans/GohScores.xlsx", "--label", "GT", "--reader", "Consensus A+B"],
    ["study", "add-session", STUDY, "T1", "--kind", "observer", "--readers", "Dr A,Dr B"],
    ["study", "open-session", STUDY, "T1"],
    ["study", "status", STUDY],
]


def ssc(work: Path, env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ssc_core", *args], cwd=work, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"ssc {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    print(f"$ ssc {' '.join(a if ' ' not in a else repr(a) for a in args)}\n{done.stdout}")
    return done.stdout


def shoot(work: Path, env: dict, out: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "app", *args, "--screenshot", str(out)]
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"screenshot failed ({done.returncode}): {done.stderr}")
    print(f"written {out}")


def _grid(value: float) -> int:
    return int(min(100, max(0, 5 * round(value / 5))))


def read_case(st, session: int, reader: int, code: str, record: dict, rng, *, upto: int = 5) -> None:
    """A simulated reader's reading of one case (see the module docstring); ``upto`` levels scored."""
    from ssc_core.constants import LEVELS, Pattern

    spacing = float(record["spacing_mm"][0])
    for lv in LEVELS:
        t = record["levels"][lv.label]
        shift = int(rng.integers(-1, 2))  # a slice up or down, or on it
        st.place_level(
            session, reader, code, lv, float(t["slice_z_mm"]) - shift * spacing, t["slice"] + shift
        )
    for lv in LEVELS[:upto]:
        truth = record["levels"][lv.label]["scores"]
        gg = _grid(truth["GG"] + rng.normal(0, 5))
        ret = _grid(truth["RET"] + rng.normal(0, 5))
        tot = min(max(_grid(truth["TOT"] + rng.normal(0, 5)), gg, ret), min(100, gg + ret))
        for pattern, value in ((Pattern.TOT, tot), (Pattern.GG, gg), (Pattern.RET, ret)):
            st.set_score(session, reader, code, lv, pattern, value)
    st.add_time(session, reader, code, float(rng.uniform(240, 600)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--work", type=Path, help="run the walk in this (new or empty) folder and keep it")
    args = parser.parse_args(argv)

    import numpy as np

    from ssc_core.study.store import open_study

    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.work or Path(tmp) / "walk").resolve()
        work.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=tmp)
        for command in COMMANDS:
            ssc(work, env, *command)
        reading = ("--study", STUDY, "--session", "T1")
        shoot(work, env, args.out / "walk-first-case.png", *reading, "--reader", "Dr A")

        records = {
            r["PatID"]: r for r in json.loads((work / "scans" / "cohort.json").read_text())["patients"]
        }
        rng = np.random.default_rng(1)
        with open_study(work / STUDY) as st:
            t1 = st.session_by_label("T1").id
            source = {c.code: c.source_name for c in st.cases()}
            dr_a = st.reader_by_name("Dr A").id
            first = st.reader_view(t1, dr_a).worklist[0].case_code
            read_case(st, t1, dr_a, first, records[source[first]], rng, upto=3)
        shoot(
            work,
            env,
            args.out / "walk-scoring.png",
            *reading,
            "--reader",
            "Dr A",
            "--case",
            "1",
            "--level",
            "L3",
        )

        with open_study(work / STUDY) as st:
            for name in READERS:
                reader = st.reader_by_name(name).id
                for item in st.reader_view(t1, reader).worklist:
                    code = item.case_code  # Dr A's first case: finished (levels and scores revised)
                    read_case(st, t1, reader, code, records[source[code]], rng)
                    st.submit(t1, reader, code)
        ssc(work, env, "study", "status", STUDY)
        shoot(work, env, args.out / "walk-statistics.png", "--stats", STUDY)
        ssc(work, env, "export", STUDY, "--out", "lung-results.xlsx")

        from openpyxl import load_workbook

        book = load_workbook(work / "lung-results.xlsx", read_only=True)
        print("lung-results.xlsx sheets:", ", ".join(book.sheetnames))
        book.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
