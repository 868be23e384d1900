"""The audit log: who/when/what/old/new, and tamper detection of every audit and reading row."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from ssc_core.study.audit import verify
from ssc_core.study.records import AIPolicy
from tests.core.study.helpers import fill_ratings, fill_reading, open_session

READING_TABLES = ("reading", "reading_level", "reading_score", "reading_likert", "reading_level_time")


@pytest.fixture
def rich(study, clock):
    """A study with readings of every kind: observer, after-commit (both phases), heat-map ratings, timing."""
    st = study.store
    t1 = open_session(study, "T1")
    fill_reading(st, t1, study.a, study.codes[0])
    st.add_time(t1, study.a, study.codes[0], 30.0)
    st.add_time(t1, study.a, study.codes[0], 12.0, level=3)
    st.submit(t1, study.a, study.codes[0])
    ac = open_session(study, "AC", ai_policy=AIPolicy.AFTER_COMMIT)
    st.put_ai_result(
        study.case_ids[1], "bundle-1", scores={1: {"TOT": 12.0}}, heatmaps={(1, "TOT"): np.zeros((4, 4))}
    )
    fill_reading(st, ac, study.b, study.codes[1])
    st.commit_unaided(ac, study.b, study.codes[1])
    st.set_score(ac, study.b, study.codes[1], 2, "GG", 15)
    st.set_score(ac, study.b, study.codes[1], 2, "TOT", 20)
    hm = open_session(study, "HM", kind="heatmap")
    fill_ratings(st, hm, study.a, study.codes[2])
    st.set_rating(hm, study.a, study.codes[2], 5, "RET", 2)
    path = st.path
    st.close()
    return path


def _raw(path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")  # a deliberate tamperer removes the guards first
    conn.execute("DROP TRIGGER audit_no_delete")
    return conn


def _tampered(conn: sqlite3.Connection, sql: str, params=()) -> bool:
    """Apply a change in a savepoint, run verify, undo it; True when verify caught it."""
    conn.execute("SAVEPOINT t")
    try:
        cur = conn.execute(sql, params)
        assert cur.rowcount == 1, sql
        return not verify(conn).ok
    finally:
        conn.execute("ROLLBACK TO t")
        conn.execute("RELEASE t")


def test_untouched_study_verifies(rich):
    conn = _raw(rich)
    report = verify(conn)
    assert report.ok, report.problems
    assert report.audit_rows > 50


def test_audit_rows_record_who_when_what_old_new(study):
    sid = open_session(study)
    st = study.store
    st.set_score(sid, study.a, study.codes[0], 2, "GG", 10)
    st.set_score(sid, study.a, study.codes[0], 2, "GG", 25)
    row = st.conn.execute(
        "SELECT actor, actor_id, action, tbl, old, new, at FROM audit ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert row["actor"] == "Reader A"
    assert row["actor_id"] == study.a
    assert row["action"] == "SetScore"
    assert row["tbl"] == "reading_score"
    assert json.loads(row["old"]) == {"value": 10}
    assert json.loads(row["new"]) == {"value": 25}
    assert row["at"].startswith("2026-01-05T09:00:00")


def test_every_reading_row_change_and_deletion_is_detected(rich):
    conn = _raw(rich)
    checked = 0
    for table in READING_TABLES:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        keyed = conn.execute(f"SELECT * FROM {table}").fetchall()
        assert keyed, table
        for values in keyed:
            row = dict(zip(cols, values))
            where = " AND ".join(
                f"{c} = ?" for c in cols if c in ("id", "reading_id", "phase", "level", "pattern")
            )
            key = [row[c] for c in cols if c in ("id", "reading_id", "phase", "level", "pattern")]
            # change the row's value column
            target = {
                "reading": "status",
                "reading_level": "world_z",
                "reading_score": "value",
                "reading_likert": "value",
                "reading_level_time": "seconds",
            }[table]
            new = {
                "status": "in_progress" if row.get("status") == "submitted" else "submitted",
                "world_z": (row.get("world_z") or 0) + 1.0,
                "value": (row.get("value") or 0) % 5 + 1
                if table == "reading_likert"
                else (row.get("value", 0) + 5) % 105,
                "seconds": (row.get("seconds") or 0) + 1.0,
            }[target]
            assert _tampered(conn, f"UPDATE {table} SET {target} = ? WHERE {where}", [new, *key]), (
                table,
                row,
            )
            assert _tampered(conn, f"DELETE FROM {table} WHERE {where}", key), (table, row)
            checked += 2
    assert checked > 100


def test_every_audit_row_change_and_deletion_is_detected(rich):
    conn = _raw(rich)
    fields = ("at", "actor", "os_user", "action", "tbl", "key", "old", "new", "reason", "prev_hash", "hash")
    seqs = [r[0] for r in conn.execute("SELECT seq FROM audit ORDER BY seq")]
    for i, seq in enumerate(seqs):
        field = fields[i % len(fields)]
        assert _tampered(
            conn, f"UPDATE audit SET {field} = coalesce({field}, '') || 'x' WHERE seq = ?", (seq,)
        ), (
            seq,
            field,
        )
        assert _tampered(conn, "DELETE FROM audit WHERE seq = ?", (seq,)), seq


def test_rows_added_outside_the_store_are_detected(rich):
    conn = _raw(rich)
    rid = conn.execute("SELECT id FROM reading LIMIT 1").fetchone()[0]
    conn.execute("SAVEPOINT t")
    conn.execute(
        "INSERT INTO reading_score (reading_id, phase, level, pattern, value) "
        "SELECT ?, 'assisted', 1, 'TOT', 50 WHERE NOT EXISTS (SELECT 1 FROM reading_score "
        "WHERE reading_id = ? AND phase = 'assisted' AND level = 1 AND pattern = 'TOT')",
        (rid, rid),
    )
    report = verify(conn)
    assert not report.ok
    assert any("not in the audit log" in p for p in report.problems)
    conn.execute("ROLLBACK TO t")


def test_deleting_the_newest_audit_entries_is_detected(rich):
    conn = _raw(rich)
    n = conn.execute("SELECT max(seq) FROM audit").fetchone()[0]
    conn.execute("DELETE FROM audit WHERE seq > ?", (n - 3,))
    report = verify(conn)
    assert not report.ok
    assert any("head" in p for p in report.problems)


def test_audit_log_refuses_updates_through_sql(study):
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        study.store.conn.execute("UPDATE audit SET actor = 'x' WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        study.store.conn.execute("DELETE FROM audit WHERE seq = 1")
