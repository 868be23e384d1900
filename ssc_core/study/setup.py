"""Setting a study up (admin actions): readers, cases, sessions, opening and closing sessions."""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from collections.abc import Iterable, Sequence

from ssc_core.errors import ProtocolError, StudyError
from ssc_core.study.audit import Transaction, read_head
from ssc_core.study.base import StoreBase
from ssc_core.study.pseudonym import case_code, series_uid_hash
from ssc_core.study.records import (
    AIPolicy,
    Case,
    CaseSource,
    Reader,
    Role,
    Session,
    SessionKind,
    SessionStatus,
)

#: Order seeds are drawn below this (fits SQLite's signed 64-bit integer).
_SEED_RANGE = 2**62


def _clean_reason(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise ProtocolError(f"{what} needs a reason; it is recorded in the audit log.")
    return text


class SetupMixin(StoreBase):
    """Admin actions that shape a study."""

    # --- readers ------------------------------------------------------------------------------------

    def add_reader(self, name: str, *, role: Role | str = Role.READER, by: int) -> Reader:
        """Add a reader (or admin). Names are unique, ignoring case."""
        self._require_admin(by)
        clean = " ".join(name.split())
        if not clean:
            raise StudyError("A reader needs a name.")
        role = Role(role)
        if self.conn.execute("SELECT 1 FROM reader WHERE name = ?", (clean,)).fetchone():
            raise StudyError(f"There is already a reader named '{clean}' in this study.")
        with self._write(by, "add_reader") as tx:
            rid = tx.insert("reader", {"name": clean, "role": role.value, "created_at": tx.at})
        return self.reader(rid)

    # --- cases --------------------------------------------------------------------------------------

    def add_case(self, source: CaseSource, *, by: int) -> Case:
        """Add one case (see :meth:`add_cases`)."""
        return self.add_cases([source], by=by)[0]

    def add_cases(
        self, sources: Iterable[CaseSource], *, by: int, skip_duplicates: bool = False
    ) -> list[Case]:
        """Add cases in one transaction: all of them or, on any refusal, none.

        Each case gets a pseudonymous code (a keyed hash; see ``pseudonym``); the ``ImportIdentity`` of
        each source is used for that and dropped. A scan already in the study (same series UID, or same
        voxel content) is refused, or skipped with ``skip_duplicates``.
        """
        self._require_admin(by)
        secret = self._secret()
        added: list[int] = []
        with self._write(by, "add_case") as tx:
            for n, src in enumerate(sources, start=1):
                if not str(src.location).strip():
                    raise StudyError(f"Case {n}: the source location is empty.")
                if not str(src.content_hash).strip():
                    raise StudyError(f"Case {n}: the content hash is empty.")
                code = case_code(secret, src.identity, src.content_hash, src.series)
                uid_hash = series_uid_hash(secret, src.identity)
                dup = self.conn.execute(
                    "SELECT code FROM case_ WHERE code = ? "
                    "OR (series_uid_hash IS NOT NULL AND series_uid_hash = ?) OR content_hash = ?",
                    (code, uid_hash, src.content_hash),
                ).fetchone()
                if dup is not None:
                    if skip_duplicates:
                        continue
                    raise StudyError(f"Case {n}: this scan is already in the study as case {dup[0]}.")
                cid = tx.insert(
                    "case_",
                    {
                        "code": code,
                        "series_uid_hash": uid_hash,
                        "content_hash": src.content_hash,
                        "location": str(src.location),
                        "series": src.series,
                        "source_name": src.name,
                        "added_at": tx.at,
                    },
                )
                added.append(cid)
        return [self.case(c) for c in added]

    def exclude_case(self, code: str, *, by: int, reason: str) -> Case:
        """Take a case off every worklist (e.g. an unusable scan); its readings are kept and exported."""
        self._require_admin(by)
        text = _clean_reason(reason, "Excluding a case")
        cid = self._case_id(code)
        with self._write(by, "exclude_case", reason=text) as tx:
            tx.update("case_", (cid,), {"excluded_reason": text})
        return self.case(cid)

    def include_case(self, code: str, *, by: int, reason: str) -> Case:
        """Undo :meth:`exclude_case`."""
        self._require_admin(by)
        text = _clean_reason(reason, "Re-including a case")
        cid = self._case_id(code)
        with self._write(by, "include_case", reason=text) as tx:
            tx.update("case_", (cid,), {"excluded_reason": None})
        return self.case(cid)

    # --- sessions -----------------------------------------------------------------------------------

    def add_session(
        self,
        label: str,
        kind: SessionKind | str,
        readers: Sequence[int],
        *,
        by: int,
        blinded: bool = True,
        ai_policy: AIPolicy | str = AIPolicy.HIDDEN,
        order_seed: int | None = None,
        repeat_of: int | None = None,
        references: Sequence[int] = (),
        cases: Sequence[int] | None = None,
        ai_bundle: str | None = None,
    ) -> Session:
        """Plan a session (status *planned*; open it with :meth:`open_session`).

        Parameters
        ----------
        label
            Unique name such as "T1" or "GT".
        kind
            consensus (exactly one reader records the consensus), observer, or heat-map rating.
        readers
            Reader ids.
        blinded
            When False, readers also see the submitted readings of the ``references`` sessions.
        ai_policy
            hidden, after-commit (not for heat-map rating) or visible. Heat-map rating sessions always show
            the heat maps; their policy governs the AI's *scores*.
        order_seed
            Seed of the per-reader case order (random when None).
        repeat_of
            The session this one repeats (T2 of T1): same kind; its cases by default; the washout applies
            to readers of both.
        references
            Sessions whose readings this one compares: observer sessions for a consensus session's
            disagreement list; shown to readers of unblinded sessions.
        cases
            Case ids (default: the repeated session's cases, else every case not excluded).
        ai_bundle
            Hash of the model bundle whose cached results the session shows (default: the newest result).
        """
        self._require_admin(by)
        kind = SessionKind(kind)
        ai_policy = AIPolicy(ai_policy)
        clean = label.strip()
        if not clean:
            raise StudyError("A session needs a label (such as T1).")
        if self.conn.execute("SELECT 1 FROM session WHERE label = ?", (clean,)).fetchone():
            raise StudyError(f"There is already a session labelled '{clean}'.")
        reader_ids = list(dict.fromkeys(int(r) for r in readers))
        if not reader_ids:
            raise StudyError("A session needs at least one reader.")
        for r in reader_ids:
            self.reader(r)
        if kind is SessionKind.CONSENSUS and len(reader_ids) != 1:
            raise ProtocolError(
                "A consensus session has exactly one reader, who records the experts' consensus "
                "(one record per case)."
            )
        if kind is SessionKind.HEATMAP_RATING and ai_policy is AIPolicy.AFTER_COMMIT:
            raise ProtocolError(
                "A heat-map rating session shows the heat maps from the start; "
                "its AI policy governs the AI's "
                "scores and can be hidden or visible, not after-commit."
            )
        if repeat_of is not None:
            earlier = self.session(repeat_of)
            if earlier.kind is not kind:
                raise ProtocolError(
                    f"A repeat of {earlier.label} must be a {earlier.kind.display_name} session like it, "
                    f"not {kind.display_name}."
                )
        ref_ids = list(dict.fromkeys(int(s) for s in references))
        for s in ref_ids:
            self.session(s)
        if cases is None:
            case_ids = (
                self.session_case_ids(repeat_of)
                if repeat_of is not None
                else [
                    int(r[0]) for r in self.conn.execute("SELECT id FROM case_ WHERE excluded_reason IS NULL")
                ]
            )
        else:
            case_ids = list(dict.fromkeys(int(c) for c in cases))
            for c in case_ids:
                self.case(c)
        seed = secrets.randbelow(_SEED_RANGE) if order_seed is None else int(order_seed)
        with self._write(by, "add_session") as tx:
            sid = tx.insert(
                "session",
                {
                    "label": clean,
                    "kind": kind.value,
                    "blinded": int(bool(blinded)),
                    "ai_policy": ai_policy.value,
                    "order_seed": seed,
                    "status": SessionStatus.PLANNED.value,
                    "created_at": tx.at,
                    "repeat_of": repeat_of,
                    "ai_bundle": ai_bundle,
                },
            )
            for r in reader_ids:
                tx.insert("session_reader", {"session_id": sid, "reader_id": r})
            for c in case_ids:
                tx.insert("session_case", {"session_id": sid, "case_id": c})
            for s in ref_ids:
                if s == sid:
                    continue
                tx.insert("session_reference", {"session_id": sid, "reference_id": s})
        return self.session(sid)

    def _changeable(self, session_id: int) -> Session:
        s = self.session(session_id)
        if s.status is SessionStatus.CLOSED:
            raise ProtocolError(f"Session {s.label} is closed; it cannot be changed.")
        return s

    def add_session_readers(self, session_id: int, readers: Sequence[int], *, by: int) -> Session:
        self._require_admin(by)
        s = self._changeable(session_id)
        new = [int(r) for r in dict.fromkeys(readers) if int(r) not in s.reader_ids]
        for r in new:
            self.reader(r)
        if s.kind is SessionKind.CONSENSUS and len(s.reader_ids) + len(new) != 1:
            raise ProtocolError("A consensus session has exactly one reader.")
        with self._write(by, "add_session_readers") as tx:
            for r in new:
                tx.insert("session_reader", {"session_id": s.id, "reader_id": r})
        return self.session(s.id)

    def add_session_cases(self, session_id: int, cases: Sequence[int], *, by: int) -> Session:
        self._require_admin(by)
        s = self._changeable(session_id)
        have = set(self.session_case_ids(s.id, include_excluded=True))
        new = [int(c) for c in dict.fromkeys(cases) if int(c) not in have]
        for c in new:
            self.case(c)
        with self._write(by, "add_session_cases") as tx:
            for c in new:
                tx.insert("session_case", {"session_id": s.id, "case_id": c})
        return self.session(s.id)

    def open_session(self, session_id: int, *, by: int) -> Session:
        """planned -> open: readers may now work in it (subject to the washout)."""
        self._require_admin(by)
        s = self.session(session_id)
        if s.status is not SessionStatus.PLANNED:
            raise ProtocolError(
                f"Session {s.label} is {s.status.value}; only a planned session can be opened."
            )
        if not self.session_case_ids(s.id):
            raise ProtocolError(f"Session {s.label} has no cases; add cases before opening it.")
        with self._write(by, "open_session") as tx:
            tx.update("session", (s.id,), {"status": SessionStatus.OPEN.value, "opened_at": tx.at})
        return self.session(s.id)

    def close_session(self, session_id: int, *, by: int) -> Session:
        """open -> closed. A reader who had not finished is counted as finished now (for the washout)."""
        self._require_admin(by)
        s = self.session(session_id)
        if s.status is not SessionStatus.OPEN:
            raise ProtocolError(f"Session {s.label} is {s.status.value}; only an open session can be closed.")
        with self._write(by, "close_session") as tx:
            tx.update("session", (s.id,), {"status": SessionStatus.CLOSED.value, "closed_at": tx.at})
            for r in s.reader_ids:
                row = self.conn.execute(
                    "SELECT finished_at FROM session_reader WHERE session_id = ? AND reader_id = ?", (s.id, r)
                ).fetchone()
                if row["finished_at"] is None:
                    tx.update("session_reader", (s.id, r), {"finished_at": tx.at})
        return self.session(s.id)

    def reopen_session(self, session_id: int, *, by: int, reason: str) -> Session:
        """closed -> open, by an admin with a reason (audited)."""
        self._require_admin(by)
        text = _clean_reason(reason, "Reopening a session")
        s = self.session(session_id)
        if s.status is not SessionStatus.CLOSED:
            raise ProtocolError(f"Session {s.label} is {s.status.value}, not closed.")
        with self._write(by, "reopen_session", reason=text) as tx:
            tx.update("session", (s.id,), {"status": SessionStatus.OPEN.value, "closed_at": None})
        return self.session(s.id)

    def override_washout(self, session_id: int, reader_id: int, *, by: int, reason: str) -> None:
        """Let a reader into a repeat session before the washout has passed (admin, reason, audited)."""
        self._require_admin(by)
        text = _clean_reason(reason, "Overriding the washout")
        s = self.session(session_id)
        if reader_id not in s.reader_ids:
            raise StudyError(f"{self.reader(reader_id).name} is not a reader of session {s.label}.")
        if s.repeat_of is None:
            raise ProtocolError(
                f"Session {s.label} repeats no earlier session; there is no washout to override."
            )
        with self._write(by, "override_washout", reason=text) as tx:
            tx.update("session_reader", (s.id, reader_id), {"washout_override": text})

    def set_protocol(
        self,
        *,
        by: int,
        washout_days: int | None = None,
        disagreement_points: int | None = None,
        disagreement_mm: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Change protocol settings (audited)."""
        self._require_admin(by)
        changes: dict[str, object] = {}
        if washout_days is not None:
            if int(washout_days) < 0:
                raise StudyError("The washout cannot be negative.")
            changes["washout_days"] = int(washout_days)
        if disagreement_points is not None:
            changes["disagreement_points"] = int(disagreement_points)
        if disagreement_mm is not None:
            changes["disagreement_mm"] = float(disagreement_mm)
        if changes:
            with self._write(by, "set_protocol", reason=reason) as tx:
                tx.update("study", (1,), changes)


def populate_new_study(
    conn: sqlite3.Connection,
    *,
    name: str,
    admin_name: str,
    washout_days: int,
    points: int,
    mm: float,
    at: str,
    secret: bytes,
) -> None:
    """Write the study record and its first admin into a freshly migrated file (see ``create_study``)."""
    clean = " ".join(admin_name.split())
    if not clean:
        raise StudyError("The study needs an admin name.")
    if not name.strip():
        raise StudyError("The study needs a name.")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # The admin does not exist yet when the study row is written: the first two entries name them
        # by name without an id.
        tx = Transaction(
            conn, read_head(conn), at=at, actor_id=None, actor=clean, action="create_study", reason=None
        )
        tx.insert(
            "study",
            {
                "id": 1,
                "uid": str(uuid.uuid4()),
                "name": name.strip(),
                "secret": secret,
                "created_at": at,
                "washout_days": int(washout_days),
                "disagreement_points": int(points),
                "disagreement_mm": float(mm),
            },
        )
        tx.insert("reader", {"name": clean, "role": Role.ADMIN.value, "created_at": at})
        tx.finish()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


__all__ = ["SetupMixin", "populate_new_study"]
