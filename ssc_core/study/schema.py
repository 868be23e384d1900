"""Schema of a study file and its migrations.

The schema version lives in ``PRAGMA user_version``. Each migration takes the file from version ``n - 1``
to ``n`` inside one transaction (DDL and ``user_version`` are transactional in SQLite), so a failed or
interrupted migration leaves the file at its old version. Version 1 is itself a migration from an empty
file. A file whose version is newer than :data:`SCHEMA_VERSION` was written by a newer workstation and is
refused.

:data:`AUDITED` lists, per table, the primary key and the columns whose every change goes through the audit
log; ``StudyStore.verify`` replays the log and compares the result with these tables. Columns in
``hashed`` are audited as their SHA-256 (the study secret, heat-map bytes, source locations that may hold
identifying folder names), so the audit log itself never holds them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from ssc_core.constants import STUDY_APPLICATION_ID

_V1 = f"""
PRAGMA application_id = {STUDY_APPLICATION_ID};

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE study (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    uid                 TEXT NOT NULL,
    name                TEXT NOT NULL,
    secret              BLOB NOT NULL,
    created_at          TEXT NOT NULL,
    washout_days        INTEGER NOT NULL CHECK (washout_days >= 0),
    disagreement_points INTEGER NOT NULL CHECK (disagreement_points >= 0),
    disagreement_mm     REAL NOT NULL CHECK (disagreement_mm >= 0)
);

CREATE TABLE reader (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role       TEXT NOT NULL CHECK (role IN ('reader', 'admin')),
    created_at TEXT NOT NULL
);

CREATE TABLE case_ (
    id              INTEGER PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    series_uid_hash TEXT UNIQUE,
    content_hash    TEXT NOT NULL,
    location        TEXT NOT NULL,
    series          TEXT,
    source_name     TEXT NOT NULL,
    added_at        TEXT NOT NULL
);
CREATE INDEX case_source_name ON case_ (source_name);

CREATE TABLE session (
    id          INTEGER PRIMARY KEY,
    label       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind        TEXT NOT NULL CHECK (kind IN ('consensus', 'observer', 'heatmap')),
    blinded     INTEGER NOT NULL CHECK (blinded IN (0, 1)),
    ai_policy   TEXT NOT NULL CHECK (ai_policy IN ('hidden', 'after-commit', 'visible')),
    order_seed  INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('planned', 'open', 'closed')),
    created_at  TEXT NOT NULL,
    opened_at   TEXT,
    closed_at   TEXT,
    repeat_of   INTEGER REFERENCES session (id),
    ai_bundle   TEXT
);

CREATE TABLE session_reader (
    session_id       INTEGER NOT NULL REFERENCES session (id),
    reader_id        INTEGER NOT NULL REFERENCES reader (id),
    finished_at      TEXT,
    washout_override TEXT,
    PRIMARY KEY (session_id, reader_id)
) WITHOUT ROWID;

CREATE TABLE session_case (
    session_id INTEGER NOT NULL REFERENCES session (id),
    case_id    INTEGER NOT NULL REFERENCES case_ (id),
    PRIMARY KEY (session_id, case_id)
) WITHOUT ROWID;

CREATE TABLE session_reference (
    session_id   INTEGER NOT NULL REFERENCES session (id),
    reference_id INTEGER NOT NULL REFERENCES session (id),
    PRIMARY KEY (session_id, reference_id)
) WITHOUT ROWID;

CREATE TABLE reading (
    id                   INTEGER PRIMARY KEY,
    session_id           INTEGER NOT NULL,
    reader_id            INTEGER NOT NULL,
    case_id              INTEGER NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('in_progress', 'submitted')),
    phase                TEXT NOT NULL CHECK (phase IN ('unaided', 'assisted')),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    submitted_at         TEXT,
    unaided_committed_at TEXT,
    time_on_case_s       REAL NOT NULL DEFAULT 0 CHECK (time_on_case_s >= 0),
    UNIQUE (session_id, reader_id, case_id),
    FOREIGN KEY (session_id, reader_id) REFERENCES session_reader (session_id, reader_id),
    FOREIGN KEY (session_id, case_id) REFERENCES session_case (session_id, case_id)
);

CREATE TABLE reading_level (
    reading_id  INTEGER NOT NULL REFERENCES reading (id),
    phase       TEXT NOT NULL CHECK (phase IN ('unaided', 'assisted')),
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    world_z     REAL NOT NULL,
    slice_index INTEGER CHECK (slice_index >= 0),
    PRIMARY KEY (reading_id, phase, level)
) WITHOUT ROWID;

CREATE TABLE reading_score (
    reading_id INTEGER NOT NULL REFERENCES reading (id),
    phase      TEXT NOT NULL CHECK (phase IN ('unaided', 'assisted')),
    level      INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    pattern    TEXT NOT NULL CHECK (pattern IN ('TOT', 'GG', 'RET')),
    value      INTEGER NOT NULL CHECK (value BETWEEN 0 AND 100 AND value % 5 = 0),
    PRIMARY KEY (reading_id, phase, level, pattern)
) WITHOUT ROWID;

CREATE TABLE reading_likert (
    reading_id INTEGER NOT NULL REFERENCES reading (id),
    phase      TEXT NOT NULL CHECK (phase IN ('unaided', 'assisted')),
    level      INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    pattern    TEXT NOT NULL CHECK (pattern IN ('TOT', 'GG', 'RET')),
    value      INTEGER NOT NULL CHECK (value BETWEEN 1 AND 5),
    PRIMARY KEY (reading_id, phase, level, pattern)
) WITHOUT ROWID;

CREATE TABLE reading_level_time (
    reading_id INTEGER NOT NULL REFERENCES reading (id),
    level      INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    seconds    REAL NOT NULL CHECK (seconds >= 0),
    PRIMARY KEY (reading_id, level)
) WITHOUT ROWID;

CREATE TABLE ai_result (
    case_id      INTEGER NOT NULL REFERENCES case_ (id),
    bundle_hash  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    levels_json  TEXT,
    scores_json  TEXT,
    details_json TEXT,
    PRIMARY KEY (case_id, bundle_hash)
);

CREATE TABLE ai_heatmap (
    case_id     INTEGER NOT NULL,
    bundle_hash TEXT NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    pattern     TEXT NOT NULL CHECK (pattern IN ('TOT', 'GG', 'RET')),
    slice_index INTEGER,
    dtype       TEXT NOT NULL CHECK (dtype IN ('<f2', '<f4')),
    shape       TEXT NOT NULL,
    data        BLOB NOT NULL,
    PRIMARY KEY (case_id, bundle_hash, level, pattern),
    FOREIGN KEY (case_id, bundle_hash) REFERENCES ai_result (case_id, bundle_hash)
);

CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor_id  INTEGER,
    actor     TEXT NOT NULL,
    os_user   TEXT NOT NULL,
    action    TEXT NOT NULL,
    tbl       TEXT NOT NULL,
    key       TEXT NOT NULL,
    old       TEXT,
    new       TEXT,
    reason    TEXT,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
-- Append-only: the store never updates or deletes audit rows. These triggers stop accidents; deliberate
-- tampering (dropping them) is what the hash chain detects.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

# Version 2: an admin may exclude a case from reading and analysis (a scan found unusable), with a reason;
# its readings are kept and exported with the flag.
_V2 = """
ALTER TABLE case_ ADD COLUMN excluded_reason TEXT;
"""


def _run_script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        # Statement by statement, not executescript(): executescript() commits first, which would break
        # the one-transaction-per-migration rule. Triggers contain ';' inside BEGIN ... END.
        for statement in _split_sql(sql):
            conn.execute(statement)

    return apply


def _split_sql(sql: str) -> list[str]:
    out: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


#: Migrations in order: ``MIGRATIONS[n - 1]`` takes the file from version ``n - 1`` to ``n``.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_run_script(_V1), _run_script(_V2))

#: The schema version this code writes and reads.
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(
    conn: sqlite3.Connection,
    *,
    target: int = SCHEMA_VERSION,
    migrations: tuple[Callable[[sqlite3.Connection], None], ...] = MIGRATIONS,
) -> int:
    """Bring the file to ``target``, one transaction per migration; returns the number applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``) and hold no open transaction.
    """
    applied = 0
    while True:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version >= target:
            return applied
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version < target:
                migrations[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied += 1


@dataclass(frozen=True)
class TableSpec:
    """An audited table: its primary key, audited columns, and columns audited as their SHA-256."""

    key: tuple[str, ...]
    columns: tuple[str, ...]
    hashed: tuple[str, ...] = ()


AUDITED: dict[str, TableSpec] = {
    "study": TableSpec(
        ("id",),
        (
            "id",
            "uid",
            "name",
            "secret",
            "created_at",
            "washout_days",
            "disagreement_points",
            "disagreement_mm",
        ),
        hashed=("secret",),
    ),
    "reader": TableSpec(("id",), ("id", "name", "role", "created_at")),
    "case_": TableSpec(
        ("id",),
        (
            "id",
            "code",
            "series_uid_hash",
            "content_hash",
            "location",
            "series",
            "source_name",
            "added_at",
            "excluded_reason",
        ),
        hashed=("location", "series", "source_name"),
    ),
    "session": TableSpec(
        ("id",),
        (
            "id",
            "label",
            "kind",
            "blinded",
            "ai_policy",
            "order_seed",
            "status",
            "created_at",
            "opened_at",
            "closed_at",
            "repeat_of",
            "ai_bundle",
        ),
    ),
    "session_reader": TableSpec(
        ("session_id", "reader_id"), ("session_id", "reader_id", "finished_at", "washout_override")
    ),
    "session_case": TableSpec(("session_id", "case_id"), ("session_id", "case_id")),
    "session_reference": TableSpec(("session_id", "reference_id"), ("session_id", "reference_id")),
    "reading": TableSpec(
        ("id",),
        (
            "id",
            "session_id",
            "reader_id",
            "case_id",
            "status",
            "phase",
            "created_at",
            "updated_at",
            "submitted_at",
            "unaided_committed_at",
            "time_on_case_s",
        ),
    ),
    "reading_level": TableSpec(
        ("reading_id", "phase", "level"), ("reading_id", "phase", "level", "world_z", "slice_index")
    ),
    "reading_score": TableSpec(
        ("reading_id", "phase", "level", "pattern"), ("reading_id", "phase", "level", "pattern", "value")
    ),
    "reading_likert": TableSpec(
        ("reading_id", "phase", "level", "pattern"), ("reading_id", "phase", "level", "pattern", "value")
    ),
    "reading_level_time": TableSpec(("reading_id", "level"), ("reading_id", "level", "seconds")),
    "ai_result": TableSpec(
        ("case_id", "bundle_hash"),
        ("case_id", "bundle_hash", "created_at", "levels_json", "scores_json", "details_json"),
    ),
    "ai_heatmap": TableSpec(
        ("case_id", "bundle_hash", "level", "pattern"),
        ("case_id", "bundle_hash", "level", "pattern", "slice_index", "dtype", "shape", "data"),
        hashed=("data",),
    ),
}
