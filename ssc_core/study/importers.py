"""Importing the authors' files into a study: label workbook (consensus) and Likert JSON (heat-map ratings).

Each import runs in ONE transaction: bad input is refused with a message naming every bad row and field,
and nothing of a refused import stays in the study.

Matching ``PatID`` / ``Pat_ID`` to cases (the files carry no case codes):

1. with an explicit mapping (a CSV file with the columns ``PatID`` and ``case_code``), only through it;
2. otherwise by the case's *source name* (the scan's file name without suffix, or its folder name, as the
   authors named their ``.mha`` files after the patient number): an exact match first, then, when both are
   whole numbers, a numeric match (Excel turns "005" into 5).

A PatID that matches no case, or more than one, or a case matched by two rows, is an error. Messages name
the row and field, never the PatID value itself (it may be a hospital number).

Imported level positions carry world z only (the workbook has no slice numbers): their slice index is
stored as unknown, and level rules are checked on z.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from ssc_core.analysis.authors_formats import FormatProblem, read_label_workbook, read_likert_json
from ssc_core.constants import LEVELS, PATTERNS
from ssc_core.errors import ImportFormatError, ProtocolError, StudyError
from ssc_core.study.audit import Transaction
from ssc_core.study.records import (
    AIPolicy,
    Phase,
    ReadingStatus,
    Role,
    Session,
    SessionKind,
    SessionStatus,
)
from ssc_core.study.store import StudyStore

MAPPING_COLUMNS = ("PatID", "case_code")
_SEED_RANGE = 2**62


def _raise(source: str, problems: Sequence[FormatProblem]) -> None:
    shown = "\n  ".join(f"row {p.row}, {p.field}: {p.message}" for p in problems[:30])
    more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
    raise ImportFormatError(f"{source}: {len(problems)} problem(s); nothing was imported.\n  {shown}{more}")


def read_mapping(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a PatID -> case code mapping CSV (header ``PatID,case_code``)."""
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{p.name} cannot be read as a CSV file ({exc}).") from exc
    if not rows or [c.strip() for c in rows[0][:2]] != list(MAPPING_COLUMNS):
        raise ImportFormatError(f"{p.name}, row 1: the header must be {','.join(MAPPING_COLUMNS)}.")
    out: dict[str, str] = {}
    problems: list[FormatProblem] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            problems.append(
                FormatProblem(n, "PatID" if not row or not row[0].strip() else "case_code", "empty")
            )
            continue
        pid = row[0].strip()
        if pid in out:
            problems.append(FormatProblem(n, "PatID", "appears twice in the mapping"))
            continue
        out[pid] = row[1].strip()
    if problems:
        _raise(p.name, problems)
    return out


def _as_number(text: str) -> int | None:
    t = text.strip()
    return int(t) if t.isdigit() else None


def _name_lookup(names: Sequence[str]) -> tuple[dict[str, list[int]], dict[int, list[int]]]:
    by_name: dict[str, list[int]] = {}
    by_number: dict[int, list[int]] = {}
    for i, name in enumerate(names):
        by_name.setdefault(name.strip(), []).append(i)
        num = _as_number(name)
        if num is not None:
            by_number.setdefault(num, []).append(i)
    return by_name, by_number


def match_source_names(
    names: Sequence[str], pat_ids: Sequence[tuple[int, str]], *, field: str, among: str = "case of the study"
) -> tuple[dict[str, int], list[FormatProblem]]:
    """PatID -> index into ``names`` (scan source names) for ``(row, PatID)`` pairs, and the problems.

    The matching of :func:`match_cases` without a mapping and without a study: an exact name first, then a
    numeric match when both are whole numbers ("005" = "5"). No match, several matches, or a scan matched
    by two rows is a problem naming the row and field (never the PatID). ``among`` names what the names
    belong to in the messages.
    """
    by_name, by_number = _name_lookup(names)
    found: dict[str, int] = {}
    used: dict[int, int] = {}
    problems: list[FormatProblem] = []
    for row, pid in pat_ids:
        if pid in found:
            continue
        hits = by_name.get(pid.strip(), [])
        num = _as_number(pid)
        if not hits and num is not None:
            hits = by_number.get(num, [])
        if not hits:
            problems.append(FormatProblem(row, field, f"no {among} has a scan with this patient's name"))
            continue
        if len(hits) > 1:
            problems.append(
                FormatProblem(
                    row, field, f"{len(hits)} cases match this patient; give a mapping file instead"
                )
            )
            continue
        if hits[0] in used:
            problems.append(FormatProblem(row, field, f"the same case as row {used[hits[0]]}"))
            continue
        used[hits[0]] = row
        found[pid] = hits[0]
    return found, problems


def match_cases(
    store: StudyStore, pat_ids: Sequence[tuple[int, str]], *, mapping: Mapping[str, str] | None, field: str
) -> tuple[dict[str, int], list[FormatProblem]]:
    """PatID -> case id for ``(row, PatID)`` pairs, and the problems found (see the module docstring)."""
    cases = store.cases()
    if mapping is None:
        index, problems = match_source_names([c.source_name for c in cases], pat_ids, field=field)
        return {pid: cases[i].id for pid, i in index.items()}, problems
    by_code = {c.code: c.id for c in cases}
    found: dict[str, int] = {}
    used: dict[int, int] = {}
    problems = []
    for row, pid in pat_ids:
        if pid in found:
            continue
        code = mapping.get(pid)
        if code is None:
            problems.append(FormatProblem(row, field, "this patient is not in the mapping file"))
            continue
        cid = by_code.get(code)
        if cid is None:
            problems.append(
                FormatProblem(row, field, f"the mapping names case {code}, which is not in the study")
            )
            continue
        if cid in used:
            problems.append(FormatProblem(row, field, f"the same case as row {used[cid]}"))
            continue
        used[cid] = row
        found[pid] = cid
    return found, problems


def _resolve_reader(store: StudyStore, tx: Transaction, name: str) -> int:
    row = tx.conn.execute("SELECT id FROM reader WHERE name = ?", (name.strip(),)).fetchone()
    if row is not None:
        return int(row[0])
    clean = " ".join(name.split())
    if not clean:
        raise StudyError("The import needs the name of the reader who made the readings.")
    return tx.insert("reader", {"name": clean, "role": Role.READER.value, "created_at": tx.at})


def _new_session(tx: Transaction, label: str, kind: SessionKind) -> int:
    return tx.insert(
        "session",
        {
            "label": label,
            "kind": kind.value,
            "blinded": 1,
            "ai_policy": AIPolicy.HIDDEN.value,
            "order_seed": secrets.randbelow(_SEED_RANGE),
            "status": SessionStatus.CLOSED.value,
            "created_at": tx.at,
            "opened_at": tx.at,
            "closed_at": tx.at,
        },
    )


def _new_reading(tx: Transaction, sid: int, rid: int, cid: int, submitted: bool) -> int:
    return tx.insert(
        "reading",
        {
            "session_id": sid,
            "reader_id": rid,
            "case_id": cid,
            "status": (ReadingStatus.SUBMITTED if submitted else ReadingStatus.IN_PROGRESS).value,
            "phase": Phase.UNAIDED.value,
            "created_at": tx.at,
            "updated_at": tx.at,
            "submitted_at": tx.at if submitted else None,
            "time_on_case_s": 0.0,
        },
    )


def import_label_workbook(
    store: StudyStore,
    path: str | os.PathLike[str],
    *,
    by: int,
    label: str = "GT",
    reader: str | None = None,
    mapping: Mapping[str, str] | None = None,
    allow_extra_columns: bool = False,
) -> Session:
    """Import a label workbook (``GohScores.xlsx`` layout) as a completed consensus session.

    Every row becomes a submitted reading of the matched case by ``reader`` (default: the importing
    admin; created as a reader if the name is new) in a new, closed consensus session ``label``.
    """
    store._require_admin(by)
    p = Path(path)
    rows = read_label_workbook(p, allow_extra_columns=allow_extra_columns)
    matched, problems = match_cases(store, [(r.row, r.pat_id) for r in rows], mapping=mapping, field="PatID")
    if problems:
        _raise(p.name, problems)
    clean = label.strip()
    if not clean:
        raise StudyError("The imported session needs a label.")
    if store.conn.execute("SELECT 1 FROM session WHERE label = ?", (clean,)).fetchone():
        raise StudyError(f"There is already a session labelled '{clean}'; choose another label.")
    with store._write(by, "import_labels") as tx:
        rid = _resolve_reader(store, tx, reader) if reader else by
        sid = _new_session(tx, clean, SessionKind.CONSENSUS)
        tx.insert("session_reader", {"session_id": sid, "reader_id": rid, "finished_at": tx.at})
        for r in rows:
            cid = matched[r.pat_id]
            tx.insert("session_case", {"session_id": sid, "case_id": cid})
            reading = _new_reading(tx, sid, rid, cid, submitted=True)
            for lv in LEVELS:
                z = r.positions[lv]
                tx.insert(
                    "reading_level",
                    {
                        "reading_id": reading,
                        "phase": Phase.UNAIDED.value,
                        "level": int(lv),
                        "world_z": float(z),  # type: ignore[arg-type]  # read_label_workbook: never None
                    },
                )
                for pat in PATTERNS:
                    tx.insert(
                        "reading_score",
                        {
                            "reading_id": reading,
                            "phase": Phase.UNAIDED.value,
                            "level": int(lv),
                            "pattern": pat.value,
                            "value": int(r.scores[lv].get(pat)),  # type: ignore[arg-type]
                        },
                    )
    return store.session(sid)


def import_likert_json(
    store: StudyStore,
    path: str | os.PathLike[str],
    *,
    by: int,
    label: str,
    reader: str,
    mapping: Mapping[str, str] | None = None,
) -> Session:
    """Import the authors' Likert JSON as one rater's readings of a heat-map rating session.

    The session ``label`` is created (closed) if it does not exist; an existing one must be a heat-map
    rating session in which ``reader`` has no readings yet (so two raters can be imported into one
    session). A case whose 15 ratings are all present, on records marked "Done", is submitted; others are
    kept in progress.
    """
    store._require_admin(by)
    p = Path(path)
    records = read_likert_json(p)
    if not records:
        raise ImportFormatError(f"{p.name}: the file holds no ratings; nothing was imported.")
    first_row: dict[str, int] = {}
    for n, rec in enumerate(records, start=1):
        first_row.setdefault(rec.pat_id, n)
    matched, problems = match_cases(
        store, [(n, pid) for pid, n in first_row.items()], mapping=mapping, field="Pat_ID"
    )
    if problems:
        _raise(p.name, problems)
    clean = label.strip()
    if not clean:
        raise StudyError("The heat-map rating session needs a label.")
    existing = store.conn.execute("SELECT id, kind FROM session WHERE label = ?", (clean,)).fetchone()
    if existing is not None and existing["kind"] != SessionKind.HEATMAP_RATING.value:
        raise ProtocolError(
            f"Session {clean} is not a heat-map rating session; Likert ratings cannot go there."
        )
    with store._write(by, "import_likert") as tx:
        rid = _resolve_reader(store, tx, reader)
        if existing is None:
            sid = _new_session(tx, clean, SessionKind.HEATMAP_RATING)
        else:
            sid = int(existing["id"])
            if tx.conn.execute(
                "SELECT 1 FROM reading WHERE session_id = ? AND reader_id = ?", (sid, rid)
            ).fetchone():
                raise ProtocolError(
                    f"{reader} already has readings in session {clean}; nothing was imported."
                )
        if not tx.conn.execute(
            "SELECT 1 FROM session_reader WHERE session_id = ? AND reader_id = ?", (sid, rid)
        ).fetchone():
            tx.insert("session_reader", {"session_id": sid, "reader_id": rid, "finished_at": tx.at})
        have = {
            int(r[0])
            for r in tx.conn.execute("SELECT case_id FROM session_case WHERE session_id = ?", (sid,))
        }
        by_case: dict[int, list] = {}
        for rec in records:
            by_case.setdefault(matched[rec.pat_id], []).append(rec)
        for cid, recs in by_case.items():
            if cid not in have:
                tx.insert("session_case", {"session_id": sid, "case_id": cid})
            values = {(rec.level, pat): rec.ratings.get(pat) for rec in recs for pat in PATTERNS}
            complete = all(values.get((lv, pat)) is not None for lv in LEVELS for pat in PATTERNS) and all(
                rec.status == "Done" for rec in recs
            )
            reading = _new_reading(tx, sid, rid, cid, submitted=complete)
            for (lv, pat), value in sorted(values.items(), key=lambda kv: (int(kv[0][0]), kv[0][1].value)):
                if value is None:
                    continue
                tx.insert(
                    "reading_likert",
                    {
                        "reading_id": reading,
                        "phase": Phase.UNAIDED.value,
                        "level": int(lv),
                        "pattern": pat.value,
                        "value": int(value),
                    },
                )
    return store.session(sid)
