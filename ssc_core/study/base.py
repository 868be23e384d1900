"""The store's core: the connection, committed write transactions, and record look-ups.

``StudyStore`` (``store.py``) is this class plus the mixins for setup, editing, views and the AI cache.
Only the store touches the study file; every public method that changes data runs in its own
``BEGIN IMMEDIATE ... COMMIT`` (see :meth:`StoreBase._write`) and returns only after the commit, with
``synchronous=FULL``, so that what it returns is on disk.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from ssc_core.errors import PermissionDenied, StudyError
from ssc_core.study.audit import ChainHead, Transaction, read_head
from ssc_core.study.audit import verify as verify_chain
from ssc_core.study.clock import Clock, from_text, system_clock, to_text
from ssc_core.study.lockfile import WriterLock
from ssc_core.study.records import (
    AIPolicy,
    Case,
    Reader,
    Role,
    ScanSource,
    Session,
    SessionKind,
    SessionStatus,
    Study,
    VerifyReport,
)
from ssc_core.study.schema import SCHEMA_VERSION

log = logging.getLogger(__name__)

_S = TypeVar("_S", bound="StoreBase")

#: Actor name recorded for writes made by the software itself (e.g. the AI cache), not by a person.
SYSTEM_ACTOR = "system"


class StoreBase:
    """Connection, transactions and look-ups shared by the store's parts."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        lock: WriterLock | None,
        clock: Clock | None = None,
        network_fs: str | None = None,
    ) -> None:
        self._conn = conn
        self.path = Path(path)
        self._lock = lock
        self._clock: Clock = clock or system_clock
        self.network_fs = network_fs
        self._head: ChainHead = read_head(conn)
        self._reader_names: dict[int, str] = {}
        self._secret_cache: bytes | None = None

    # --- lifetime -----------------------------------------------------------------------------------

    @property
    def readonly(self) -> bool:
        return self._lock is None

    @property
    def closed(self) -> bool:
        return self._conn is None  # type: ignore[comparison-overlap]

    def close(self) -> None:
        """Close the file and release the writer lock (safe to call twice)."""
        conn = self._conn
        if conn is None:  # type: ignore[comparison-overlap]
            return
        self._conn = None  # type: ignore[assignment]
        try:
            conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection (for the store's own modules; never hand it to other packages)."""
        if self._conn is None:  # type: ignore[comparison-overlap]
            raise StudyError("The study file is closed.")
        return self._conn

    def now(self) -> datetime:
        """The store's clock's current time (UTC)."""
        return self._clock()

    # --- writing ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(
        self, actor_id: int | None, action: str, *, reason: str | None = None
    ) -> Iterator[Transaction]:
        """One committed transaction with its audit rows; commits on normal exit, rolls back on error."""
        if self.readonly:
            raise StudyError("The study is open read-only; open it for writing to change it.")
        conn = self.conn
        actor = SYSTEM_ACTOR if actor_id is None else self._reader_name(actor_id)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StudyError(f"The study file cannot be written now ({exc}).") from exc
        tx = Transaction(
            conn,
            self._head,
            at=to_text(self._clock()),
            actor_id=actor_id,
            actor=actor,
            action=action,
            reason=reason,
        )
        try:
            yield tx
            tx.finish()
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StudyError(f"The change was not saved: {exc}.") from exc
            raise
        self._head = tx.head

    # --- look-ups -----------------------------------------------------------------------------------

    def _secret(self) -> bytes:
        if self._secret_cache is None:
            self._secret_cache = bytes(self.conn.execute("SELECT secret FROM study").fetchone()[0])
        return self._secret_cache

    @property
    def study(self) -> Study:
        r = self.conn.execute("SELECT * FROM study").fetchone()
        return Study(
            uid=r["uid"],
            name=r["name"],
            created_at=from_text(r["created_at"]),  # type: ignore[arg-type]
            washout_days=int(r["washout_days"]),
            disagreement_points=int(r["disagreement_points"]),
            disagreement_mm=float(r["disagreement_mm"]),
            schema_version=int(self.conn.execute("PRAGMA user_version").fetchone()[0]),
        )

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def _reader_name(self, reader_id: int) -> str:
        name = self._reader_names.get(reader_id)
        if name is None:
            name = self.reader(reader_id).name
            self._reader_names[reader_id] = name
        return name

    @staticmethod
    def _reader_from_row(r: sqlite3.Row) -> Reader:
        return Reader(id=int(r["id"]), name=r["name"], role=Role(r["role"]))

    def reader(self, reader_id: int) -> Reader:
        r = self.conn.execute("SELECT id, name, role FROM reader WHERE id = ?", (reader_id,)).fetchone()
        if r is None:
            raise StudyError(f"There is no reader number {reader_id} in this study.")
        return self._reader_from_row(r)

    def reader_by_name(self, name: str) -> Reader:
        r = self.conn.execute("SELECT id, name, role FROM reader WHERE name = ?", (name.strip(),)).fetchone()
        if r is None:
            raise StudyError(f"There is no reader named '{name}' in this study.")
        return self._reader_from_row(r)

    def readers(self) -> list[Reader]:
        return [
            self._reader_from_row(r)
            for r in self.conn.execute("SELECT id, name, role FROM reader ORDER BY id")
        ]

    def _require_admin(self, actor_id: int) -> Reader:
        who = self.reader(actor_id)
        if not who.is_admin:
            raise PermissionDenied(f"Only a study admin may do this; {who.name} is a reader.")
        return who

    @staticmethod
    def _case_from_row(r: sqlite3.Row) -> Case:
        return Case(
            id=int(r["id"]),
            code=r["code"],
            series_uid_hash=r["series_uid_hash"],
            content_hash=r["content_hash"],
            added_at=from_text(r["added_at"]),  # type: ignore[arg-type]
            location=r["location"],
            series=r["series"],
            source_name=r["source_name"],
            excluded_reason=r["excluded_reason"],
        )

    def case(self, case_id: int) -> Case:
        r = self.conn.execute("SELECT * FROM case_ WHERE id = ?", (case_id,)).fetchone()
        if r is None:
            raise StudyError(f"There is no case number {case_id} in this study.")
        return self._case_from_row(r)

    def case_by_code(self, code: str) -> Case:
        r = self.conn.execute("SELECT * FROM case_ WHERE code = ?", (code.strip(),)).fetchone()
        if r is None:
            raise StudyError(f"There is no case {code} in this study.")
        return self._case_from_row(r)

    def cases(self) -> list[Case]:
        """All cases (admin records: they include source locations; never show them to a reader)."""
        return [self._case_from_row(r) for r in self.conn.execute("SELECT * FROM case_ ORDER BY id")]

    def scan_source(self, code: str) -> ScanSource:
        """Where the scan of case ``code`` is, to load it (never shown to a reader; ``repr`` hides it)."""
        c = self.case_by_code(code)
        return ScanSource(c.code, c.location, c.series)

    def _case_id(self, code: str) -> int:
        r = self.conn.execute("SELECT id FROM case_ WHERE code = ?", (code,)).fetchone()
        if r is None:
            raise StudyError(f"There is no case {code} in this study.")
        return int(r[0])

    def _session_from_row(self, r: sqlite3.Row) -> Session:
        sid = int(r["id"])
        readers = tuple(
            int(x[0])
            for x in self.conn.execute(
                "SELECT reader_id FROM session_reader WHERE session_id = ? ORDER BY reader_id", (sid,)
            )
        )
        refs = tuple(
            int(x[0])
            for x in self.conn.execute(
                "SELECT reference_id FROM session_reference WHERE session_id = ? ORDER BY reference_id",
                (sid,),
            )
        )
        return Session(
            id=sid,
            label=r["label"],
            kind=SessionKind(r["kind"]),
            blinded=bool(r["blinded"]),
            ai_policy=AIPolicy(r["ai_policy"]),
            order_seed=int(r["order_seed"]),
            status=SessionStatus(r["status"]),
            created_at=from_text(r["created_at"]),  # type: ignore[arg-type]
            opened_at=from_text(r["opened_at"]),
            closed_at=from_text(r["closed_at"]),
            reader_ids=readers,
            repeat_of=None if r["repeat_of"] is None else int(r["repeat_of"]),
            references=refs,
            ai_bundle=r["ai_bundle"],
        )

    def session(self, session_id: int) -> Session:
        r = self.conn.execute("SELECT * FROM session WHERE id = ?", (session_id,)).fetchone()
        if r is None:
            raise StudyError(f"There is no session number {session_id} in this study.")
        return self._session_from_row(r)

    def session_by_label(self, label: str) -> Session:
        r = self.conn.execute("SELECT * FROM session WHERE label = ?", (label.strip(),)).fetchone()
        if r is None:
            raise StudyError(f"There is no session labelled '{label}' in this study.")
        return self._session_from_row(r)

    def sessions(self) -> list[Session]:
        return [self._session_from_row(r) for r in self.conn.execute("SELECT * FROM session ORDER BY id")]

    def session_case_ids(self, session_id: int, *, include_excluded: bool = False) -> list[int]:
        sql = (
            "SELECT sc.case_id FROM session_case sc JOIN case_ c ON c.id = sc.case_id WHERE sc.session_id = ?"
        )
        if not include_excluded:
            sql += " AND c.excluded_reason IS NULL"
        return [int(r[0]) for r in self.conn.execute(sql + " ORDER BY sc.case_id", (session_id,))]

    # --- integrity ----------------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Check the audit chain and that it explains every audited row (see ``audit.verify``)."""
        return verify_chain(self.conn)

    @property
    def audit_head(self) -> str:
        """``seq:sha256`` of the newest audit entry: keep it outside the file to anchor the chain."""
        return f"{self._head.seq}:{self._head.hash}"

    def integrity_check(self) -> list[str]:
        """SQLite's full ``integrity_check`` (``["ok"]`` when the file is sound)."""
        return [str(r[0]) for r in self.conn.execute("PRAGMA integrity_check")]

    def backup(self, dest: str | Path, *, actor_id: int | None = None) -> Path:
        """Copy the study to ``dest`` with SQLite's online backup (consistent even while in use).

        The copy is written beside ``dest`` and moved into place when complete; ``dest`` is never a half
        copy. A note of the backup (and the chain head it holds) goes into the audit log when writable.
        """
        from ssc_core.fileio import atomic_write

        target = Path(dest)
        if target.resolve() == self.path.resolve():
            raise StudyError("A backup cannot overwrite the study file itself.")
        head = self.audit_head
        with atomic_write(target) as tmp:
            tmp.unlink()
            out = sqlite3.connect(tmp)
            try:
                self.conn.backup(out)
                out.execute("PRAGMA journal_mode = delete")
            finally:
                out.close()
        if not self.readonly:
            with self._write(actor_id, "backup") as tx:
                tx.note({"backup_of_head": head})
        log.info("Study backed up (audit head %s).", head)
        return target
