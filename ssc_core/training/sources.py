"""Where training cases come from: a label workbook with a folder of scans, a study file, or phantoms.

* **Label workbook + scans** (the authors' ``GohScores.xlsx`` layout): each row's ``PatID`` is matched to a
  scan exactly as the study importer does (``match_source_names``: the scan's file name without suffix or
  its folder name, exact first, then numeric "005" = "5"). The scans folder is read like ``ssc study create
  --scans`` (volume files, sub-folders, loose DICOM files) or, when ``scans`` is a text file, as a list file
  (one path a line, optionally a tab and a series key).
* **Study file**: the submitted readings of a completed consensus session (the scores made in the
  workstation), with each case's scan from the study; excluded cases are left out.
* **Phantoms**: a phantom cohort generated in process (``write_cohort``'s patients and diseases, without
  writing files), for the demo model and for benchmarks.

Each function returns a :class:`CaseCollection` with every problem found *without loading scans* (rows,
columns, scores, matching); problems that need the scan (unreadable, a level outside it) are found by
:mod:`ssc_core.training.prepare`. Messages name rows and case codes, never a patient identifier.
"""

from __future__ import annotations

import os
from pathlib import Path

from ssc_core.constants import LEVELS, PATTERNS, Level
from ssc_core.errors import ImportFormatError, TrainingDataError
from ssc_core.scoring import LevelScores
from ssc_core.training.data import (
    CaseCollection,
    CaseLabels,
    DataProblem,
    PhantomCase,
    ScanCase,
    TrainingCase,
    file_digest,
    hashed_key,
)


def _row(n: int) -> str:
    return f"row {n}"


def workbook_cases(workbook: str | os.PathLike[str], scans: str | os.PathLike[str]) -> CaseCollection:
    """Cases of a label workbook whose rows are matched to the scans in ``scans`` (folder or list file).

    Raises
    ------
    TrainingDataError
        When the workbook itself cannot be used (unreadable, missing columns) or the scans folder is
        missing; problems of single rows are returned, not raised.
    """
    from ssc_core.analysis.authors_formats import parse_label_workbook
    from ssc_core.study.importers import match_source_names
    from ssc_core.study.records import CaseSource
    from ssc_core.study.scans import folder_entries, read_list_file

    book_path = Path(workbook)
    try:
        book = parse_label_workbook(book_path)
    except ImportFormatError as exc:
        raise TrainingDataError(str(exc)) from None
    problems = [DataProblem(_row(p.row), p.field, p.message) for p in book.problems]
    scan_path = Path(scans)
    try:
        entries = read_list_file(scan_path) if scan_path.is_file() else folder_entries(scan_path)
    except ImportFormatError as exc:
        raise TrainingDataError(str(exc)) from None
    names = [e.name or CaseSource(str(e.path), "-").name for e in entries]
    bad_rows = {p.row for p in book.problems}
    rows = [r for r in book.rows if r.row not in bad_rows]
    matched, match_problems = match_source_names(
        names, [(r.row, r.pat_id) for r in rows], field="PatID", among="scan in the scans folder"
    )
    problems += [DataProblem(_row(p.row), p.field, p.message) for p in match_problems]
    cases: list[TrainingCase] = []
    for r in rows:
        if r.pat_id not in matched:
            continue
        entry = entries[matched[r.pat_id]]
        labels = CaseLabels(
            {lv: float(r.positions[lv]) for lv in LEVELS},  # type: ignore[arg-type]  # checked by the parser
            dict(r.scores),
        )
        cases.append(ScanCase(hashed_key("W", r.pat_id), _row(r.row), labels, entry.path, entry.series))
    description = {
        "kind": "label workbook",
        "workbook": book_path.name,
        "workbook_sha256": file_digest(book_path),
        "rows": len(book.rows) + len({p.row for p in book.problems} - {r.row for r in book.rows}),
        "scans_found": len(entries),
    }
    return CaseCollection(tuple(cases), tuple(problems), description)


def study_cases(study: str | os.PathLike[str], session: str | None = None) -> CaseCollection:
    """Cases of a study file's completed consensus session (``session`` label; default: the only one).

    Only submitted readings count; a case excluded from the study is left out; the final values of a
    reading are the assisted ones where the session recorded both.
    """
    from ssc_core.study import open_study
    from ssc_core.study.queries import level_rows, score_rows
    from ssc_core.study.records import Phase, ReadingStatus, SessionKind

    path = Path(study)
    store = open_study(path, readonly=True)
    try:
        consensus = [s for s in store.sessions() if s.kind is SessionKind.CONSENSUS]
        if session is not None:
            chosen = [s for s in consensus if s.label == session]
            if not chosen:
                raise TrainingDataError(
                    f"The study has no consensus session labelled '{session}'; "
                    f"consensus sessions: {', '.join(s.label for s in consensus) or 'none'}."
                )
        else:
            if len(consensus) != 1:
                raise TrainingDataError(
                    f"The study has {len(consensus)} consensus sessions; choose one with --session "
                    f"({', '.join(s.label for s in consensus) or 'none'}).",
                )
            chosen = consensus
        label = chosen[0].label
        z: dict[str, dict[Level, dict[Phase, float]]] = {}
        values: dict[str, dict[tuple[Level, str], dict[Phase, int]]] = {}
        unfinished: set[str] = set()
        for row in level_rows(store):
            if row.key.session != label or row.key.case_excluded:
                continue
            if row.key.status is not ReadingStatus.SUBMITTED:
                unfinished.add(row.key.case_code)
                continue
            z.setdefault(row.key.case_code, {}).setdefault(row.level, {})[row.phase] = row.world_z
        for srow in score_rows(store):
            if srow.key.session != label or srow.key.case_excluded:
                continue
            if srow.key.status is not ReadingStatus.SUBMITTED:
                unfinished.add(srow.key.case_code)
                continue
            values.setdefault(srow.key.case_code, {}).setdefault((srow.level, srow.pattern.value), {})[
                srow.phase
            ] = srow.value
        problems: list[DataProblem] = []
        cases: list[TrainingCase] = []

        def final(d: dict[Phase, float] | dict[Phase, int]):
            return d.get(Phase.ASSISTED, d.get(Phase.UNAIDED))

        for code in sorted(set(z) | set(values)):
            where = f"case {code}"
            zz = z.get(code, {})
            vv = values.get(code, {})
            missing = [lv.label for lv in LEVELS if lv not in zz] + [
                f"{lv.label} {p.value}" for lv in LEVELS for p in PATTERNS if (lv, p.value) not in vv
            ]
            if missing:
                problems.append(DataProblem(where, "reading", f"incomplete: no {', '.join(missing)}"))
                continue
            labels = CaseLabels(
                {lv: float(final(zz[lv])) for lv in LEVELS},
                {
                    lv: LevelScores(*(int(final(vv[(lv, p.value)])) for p in PATTERNS))  # type: ignore[arg-type]
                    for lv in LEVELS
                },
            )
            src = store.scan_source(code)
            cases.append(ScanCase(code, where, labels, Path(src.location), src.series))
        description = {
            "kind": "study file",
            "study": path.name,
            "session": label,
            "cases_unfinished": len(unfinished - set(z)),
            "audit_head": store.audit_head,
        }
    finally:
        store.close()
    return CaseCollection(tuple(cases), tuple(problems), description)


def phantom_cases(
    n_patients: int,
    seed: int,
    *,
    slice_spacing_mm: float = 2.5,
    matrix: int = 512,
    disease: str = "mixed",
) -> CaseCollection:
    """The patients of the phantom cohort ``write_cohort(n_patients, seed, disease=...)`` would write."""
    from ssc_core.imaging.phantom import PHANTOM_VERSION, cohort_diseases, patient_id, patient_seed

    if n_patients < 1:
        raise TrainingDataError("A phantom cohort needs at least one patient.")
    diseases = cohort_diseases(n_patients, seed, disease)
    cases: tuple[TrainingCase, ...] = tuple(
        PhantomCase(patient_id(i), patient_seed(seed, i), diseases[i], slice_spacing_mm, matrix)
        for i in range(n_patients)
    )
    description = {
        "kind": "phantom cohort",
        "generator": "ssc_core.imaging.phantom",
        "phantom_version": PHANTOM_VERSION,
        "patients": n_patients,
        "cohort_seed": seed,
        "disease": disease,
        "slice_spacing_mm": slice_spacing_mm,
        "matrix": matrix,
    }
    return CaseCollection(cases, (), description)


def report_problems(
    problems: tuple[DataProblem, ...] | list[DataProblem], *, skip_bad: bool, what: str
) -> None:
    """Refuse to go on when there are problems (unless ``skip_bad``), listing each one."""
    if not problems or skip_bad:
        return
    shown = "\n  ".join(str(p) for p in problems[:50])
    more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
    raise TrainingDataError(
        f"{len(problems)} problem(s) in the {what}; nothing was trained.\n  {shown}{more}",
        hint="Correct the rows or cases named, or pass --skip-bad to train without them.",
    )
