"""The append-only audit log, its hash chain, and verification by replay.

Every change to an audited table (``schema.AUDITED``) is made through :class:`Transaction`, which writes
one audit row per changed row: who, when, what (action, table, key), the old and the new values, and the
reason (admin corrections, overrides). Each audit row's hash is SHA-256 over the previous row's hash and
the row's own fields, and the newest ``(seq, hash)`` is also kept in ``meta``. :func:`verify` then checks

1. the chain: sequence numbers run 1..n without gaps and every hash recomputes (an edited or deleted
   row breaks it);
2. the head: ``meta`` names the last row (a deleted tail breaks it);
3. the state: replaying the log from an empty study gives exactly the rows in the audited tables (a
   reading or any other row changed, added or deleted outside the store breaks it).

Someone with raw write access who recomputes the whole chain and head can still forge a consistent file;
the head printed by ``ssc study verify`` and written into exports is the anchor to keep elsewhere.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ssc_core.study.records import VerifyReport
from ssc_core.study.schema import AUDITED, TableSpec

GENESIS = "0" * 64
_HEAD_KEY = "audit_head"


def canonical(value: object) -> str:
    """Deterministic JSON text of an audit value (sorted keys, no whitespace, exact float repr)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def hashed_value(value: object) -> str | None:
    """What the audit log records for a ``hashed`` column: ``sha256:<hex>`` of its bytes (None stays)."""
    if value is None:
        return None
    data = value if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode("utf-8")
    return "sha256:" + hashlib.sha256(bytes(data)).hexdigest()


def audit_image(spec: TableSpec, row: Mapping[str, object]) -> dict[str, object]:
    """The audited image of a row: its audited columns, hashed ones replaced by their hash."""
    return {
        c: (hashed_value(row.get(c)) if c in spec.hashed else row.get(c)) for c in spec.columns if c in row
    }


def same_value(a: object, b: object) -> bool:
    """Equal as stored values: numbers compare numerically (SQLite REAL columns turn 5 into 5.0)."""
    numbers = (int, float)
    if (
        isinstance(a, numbers)
        and isinstance(b, numbers)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def row_hash(prev_hash: str, fields: tuple[object, ...]) -> str:
    payload = canonical([prev_hash, *fields]).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers, services)
        return ""


@dataclass
class ChainHead:
    seq: int
    hash: str


def read_head(conn: sqlite3.Connection) -> ChainHead:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_HEAD_KEY,)).fetchone()
    if row is None:
        return ChainHead(0, GENESIS)
    seq, _, digest = str(row[0]).partition(":")
    return ChainHead(int(seq), digest)


class Transaction:
    """One committed unit of work: row changes plus their audit rows (used by the store only).

    Created by ``StudyStore._write``; it opens ``BEGIN IMMEDIATE`` and commits (or rolls back) on exit.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        head: ChainHead,
        *,
        at: str,
        actor_id: int | None,
        actor: str,
        action: str,
        reason: str | None,
        os_user: str | None = None,
    ) -> None:
        self.conn = conn
        self.at = at
        self.actor_id = actor_id
        self.actor = actor
        self.action = action
        self.reason = reason
        self.os_user = _os_user() if os_user is None else os_user
        self.head = ChainHead(head.seq, head.hash)
        self.changes = 0

    # --- row operations -----------------------------------------------------------------------------

    def insert(self, table: str, row: Mapping[str, object]) -> int:
        """Insert a row; returns its rowid (the new id for tables with an integer primary key)."""
        spec = AUDITED[table]
        cols = list(row)
        cur = self.conn.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [row[c] for c in cols],
        )
        full = dict(row)
        if spec.key == ("id",) and "id" not in full:
            full["id"] = cur.lastrowid
        self._audit(table, tuple(full[k] for k in spec.key), None, audit_image(spec, full))
        return int(cur.lastrowid or 0)

    def update(self, table: str, key: tuple[object, ...], changes: Mapping[str, object]) -> dict[str, object]:
        """Change columns of one row; returns the old values (no audit row when nothing changes)."""
        spec = AUDITED[table]
        cols = list(changes)
        where = " AND ".join(f"{k} = ?" for k in spec.key)
        old_row = self.conn.execute(f"SELECT {', '.join(cols)} FROM {table} WHERE {where}", key).fetchone()
        if old_row is None:
            raise LookupError(f"{table} {key} does not exist")
        old = dict(zip(cols, old_row))
        changed = [c for c in cols if not same_value(old[c], changes[c])]
        if not changed:
            return old
        self.conn.execute(
            f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in changed)} WHERE {where}",
            [changes[c] for c in changed] + list(key),
        )
        self._audit(
            table,
            key,
            audit_image(spec, {c: old[c] for c in changed}),
            audit_image(spec, {c: changes[c] for c in changed}),
        )
        return old

    def delete(self, table: str, key: tuple[object, ...]) -> dict[str, object] | None:
        """Delete one row; returns it (None, and no audit row, when it did not exist)."""
        spec = AUDITED[table]
        where = " AND ".join(f"{k} = ?" for k in spec.key)
        row = self.conn.execute(
            f"SELECT {', '.join(spec.columns)} FROM {table} WHERE {where}", key
        ).fetchone()
        if row is None:
            return None
        old = dict(zip(spec.columns, row))
        self.conn.execute(f"DELETE FROM {table} WHERE {where}", key)
        self._audit(table, key, audit_image(spec, old), None)
        return old

    def note(self, what: Mapping[str, object]) -> None:
        """An audit row that changes no table (e.g. a backup was made)."""
        self._audit("", (), None, dict(what))

    # --- the chain ----------------------------------------------------------------------------------

    def _audit(
        self,
        table: str,
        key: tuple[object, ...],
        old: Mapping[str, object] | None,
        new: Mapping[str, object] | None,
    ) -> None:
        seq = self.head.seq + 1
        fields = (
            seq,
            self.at,
            self.actor_id,
            self.actor,
            self.os_user,
            self.action,
            table,
            canonical(list(key)),
            None if old is None else canonical(old),
            None if new is None else canonical(new),
            self.reason,
        )
        digest = row_hash(self.head.hash, fields)
        self.conn.execute(
            "INSERT INTO audit (seq, at, actor_id, actor, os_user, action, tbl, key, old, new, reason, "
            "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*fields, self.head.hash, digest),
        )
        self.head = ChainHead(seq, digest)
        self.changes += 1

    def finish(self) -> None:
        """Record the chain head (called before COMMIT)."""
        if self.changes:
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (_HEAD_KEY, f"{self.head.seq}:{self.head.hash}"),
            )


# --- verification ------------------------------------------------------------------------------------


def _audit_rows(conn: sqlite3.Connection) -> Iterator[tuple]:
    yield from conn.execute(
        "SELECT seq, at, actor_id, actor, os_user, action, tbl, key, old, new, reason, prev_hash, hash "
        "FROM audit ORDER BY seq"
    )


def _describe(table: str, key: object) -> str:
    return f"{table} {key}"


def verify(conn: sqlite3.Connection) -> VerifyReport:
    """Check the chain, the head and the replayed state (see the module docstring)."""
    problems: list[str] = []
    state: dict[str, dict[str, dict[str, object]]] = {t: {} for t in AUDITED}
    prev = GENESIS
    expected_seq = 1
    count = 0
    for row in _audit_rows(conn):
        seq, fields, prev_hash, digest = row[0], tuple(row[:11]), row[11], row[12]
        count += 1
        if seq != expected_seq:
            problems.append(f"audit entries {expected_seq}..{seq - 1} are missing (deleted)")
        if prev_hash != prev:
            problems.append(
                f"audit entry {seq} does not follow entry {seq - 1} (an entry was changed or removed)"
            )
        if row_hash(prev_hash, fields) != digest:
            problems.append(f"audit entry {seq} was altered after it was written")
        prev, expected_seq = digest, seq + 1
        try:
            _replay(state, row[6], row[7], row[8], row[9])
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"audit entry {seq} cannot be replayed ({exc})")
    head = read_head(conn)
    last_seq = expected_seq - 1
    if (head.seq, head.hash) != (last_seq, prev):
        problems.append(
            f"the log ends at entry {expected_seq - 1} but the file's head names entry {head.seq} "
            "(entries were deleted from the end, or the head was altered)"
        )
    problems.extend(_compare_state(conn, state))
    return VerifyReport(
        ok=not problems, audit_rows=count, head=f"{head.seq}:{head.hash}", problems=tuple(problems)
    )


def _replay(
    state: dict[str, dict[str, dict[str, object]]], table: str, key: str, old: str | None, new: str | None
) -> None:
    if not table:
        return  # a note
    rows = state[table]
    k = key
    if old is None and new is not None:  # insert
        if k in rows:
            raise ValueError(f"{table} {k} inserted twice")
        rows[k] = json.loads(new)
    elif new is None and old is not None:  # delete
        if k not in rows:
            raise ValueError(f"{table} {k} deleted but never inserted")
        del rows[k]
    elif old is not None and new is not None:  # update
        if k not in rows:
            raise ValueError(f"{table} {k} updated but never inserted")
        rows[k].update(json.loads(new))
    else:
        raise ValueError("entry with neither old nor new value")


def _compare_state(conn: sqlite3.Connection, state: dict[str, dict[str, dict[str, object]]]) -> list[str]:
    problems: list[str] = []
    for table, spec in AUDITED.items():
        present = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        cols = [c for c in spec.columns if c in present]
        expected = state[table]
        seen: set[str] = set()
        for row in conn.execute(f"SELECT {', '.join(cols)} FROM {table}"):
            full = dict(zip(cols, row))
            image = audit_image(spec, full)
            key = canonical([full[k] for k in spec.key])
            seen.add(key)
            want = expected.get(key)
            if want is None:
                problems.append(
                    f"{_describe(table, key)} is not in the audit log (added outside the workstation)"
                )
                continue
            for c in cols:
                if not same_value(image.get(c), want.get(c)):
                    problems.append(
                        f"{_describe(table, key)}: {c} differs from the audit log "
                        "(changed outside the workstation)"
                    )
        for key in expected.keys() - seen:
            problems.append(f"{_describe(table, key)} is missing (deleted outside the workstation)")
    return problems
