"""Reading rows -> :class:`Reading` records (shared by editing, views and exports)."""

from __future__ import annotations

import sqlite3

from ssc_core.constants import Level, Pattern
from ssc_core.scoring import LevelScores
from ssc_core.study.clock import from_text
from ssc_core.study.records import Phase, Placement, Reading, ReadingStatus, ReadingValues


def load_values(conn: sqlite3.Connection, reading_id: int, phase: Phase) -> ReadingValues:
    """Level placements, scores and Likert ratings of one reading in one phase."""
    levels = {
        Level(r[0]): Placement(Level(r[0]), float(r[1]), None if r[2] is None else int(r[2]))
        for r in conn.execute(
            "SELECT level, world_z, slice_index FROM reading_level WHERE reading_id = ? AND phase = ?",
            (reading_id, phase.value),
        )
    }
    raw: dict[Level, dict[str, int]] = {}
    for lv, pat, value in conn.execute(
        "SELECT level, pattern, value FROM reading_score WHERE reading_id = ? AND phase = ?",
        (reading_id, phase.value),
    ):
        raw.setdefault(Level(lv), {})[str(pat).lower()] = int(value)
    scores = {lv: LevelScores(**vals) for lv, vals in raw.items()}
    likert: dict[Level, dict[Pattern, int]] = {}
    for lv, pat, value in conn.execute(
        "SELECT level, pattern, value FROM reading_likert WHERE reading_id = ? AND phase = ?",
        (reading_id, phase.value),
    ):
        likert.setdefault(Level(lv), {})[Pattern(pat)] = int(value)
    return ReadingValues(levels=levels, scores=scores, likert=likert)


def load_reading(conn: sqlite3.Connection, row: sqlite3.Row, case_code: str) -> Reading:
    """The full record of one reading row (``SELECT * FROM reading``)."""
    rid = int(row["id"])
    phase = Phase(row["phase"])
    committed = from_text(row["unaided_committed_at"])
    times = {
        Level(lv): float(sec)
        for lv, sec in conn.execute(
            "SELECT level, seconds FROM reading_level_time WHERE reading_id = ?", (rid,)
        )
    }
    return Reading(
        case_code=case_code,
        status=ReadingStatus(row["status"]),
        phase=phase,
        values=load_values(conn, rid, phase),
        time_on_case_s=float(row["time_on_case_s"]),
        time_per_level_s=times,
        created_at=from_text(row["created_at"]),  # type: ignore[arg-type]
        updated_at=from_text(row["updated_at"]),  # type: ignore[arg-type]
        submitted_at=from_text(row["submitted_at"]),
        unaided_committed_at=committed,
        unaided=load_values(conn, rid, Phase.UNAIDED) if committed is not None else None,
    )
