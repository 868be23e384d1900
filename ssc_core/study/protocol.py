"""Who may work in which session, when: membership, session status and the washout.

Washout (DOMAIN.md section 2: intra-observer sessions six weeks apart): a reader's repeat session (T2,
``repeat_of`` T1) opens for that reader only when ``washout_days`` have passed since they finished T1
(submitted their last case of it, or T1 was closed). An admin may override it for one reader, with a
reason (audited). The clock is the store's injectable clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ssc_core.errors import ProtocolError
from ssc_core.study.base import StoreBase
from ssc_core.study.clock import from_text
from ssc_core.study.records import Session, SessionAccess, SessionInfo, SessionStatus


@dataclass(frozen=True)
class Access:
    allowed: bool
    reason: str = ""
    available_from: datetime | None = None


def session_info(s: Session) -> SessionInfo:
    return SessionInfo(
        id=s.id, label=s.label, kind=s.kind, blinded=s.blinded, ai_policy=s.ai_policy, status=s.status
    )


class ProtocolMixin(StoreBase):
    """Access rules of sessions for readers."""

    def _washout(self, s: Session, reader_id: int) -> Access:
        if s.repeat_of is None:
            return Access(True)
        row = self.conn.execute(
            "SELECT washout_override FROM session_reader WHERE session_id = ? AND reader_id = ?",
            (s.id, reader_id),
        ).fetchone()
        if row is not None and row["washout_override"]:
            return Access(True, "washout overridden by an admin")
        earlier = self.conn.execute(
            "SELECT s.label, sr.finished_at FROM session s JOIN session_reader sr ON sr.session_id = s.id "
            "WHERE s.id = ? AND sr.reader_id = ?",
            (s.repeat_of, reader_id),
        ).fetchone()
        if earlier is None:
            return Access(True)  # the reader did not take part in the earlier session: nothing to forget
        finished = from_text(earlier["finished_at"])
        if finished is None:
            return Access(
                False, f"finish session {earlier['label']} first (this session repeats it, after a washout)"
            )
        days = self.study.washout_days
        available = finished + timedelta(days=days)
        if self.now() < available:
            return Access(
                False,
                f"washout: {days} days after finishing {earlier['label']}, available from "
                f"{available.date().isoformat()}",
                available,
            )
        return Access(True)

    def access(self, session_id: int, reader_id: int) -> Access:
        """Whether ``reader_id`` may read in the session now (and if not, why)."""
        s = self.session(session_id)
        return self._access(s, reader_id)

    def _access(self, s: Session, reader_id: int) -> Access:
        if reader_id not in s.reader_ids:
            return Access(False, f"not a reader of session {s.label}")
        if s.status is SessionStatus.PLANNED:
            return Access(False, f"session {s.label} has not been opened yet")
        if s.status is SessionStatus.CLOSED:
            return Access(False, f"session {s.label} is closed")
        return self._washout(s, reader_id)

    def _require_access(self, s: Session, reader_id: int) -> None:
        a = self._access(s, reader_id)
        if not a.allowed:
            raise ProtocolError(
                f"{self._reader_name(reader_id)} cannot work in session {s.label} now: {a.reason}."
            )

    def _progress(self, session_id: int, reader_id: int) -> tuple[int, int]:
        total = len(self.session_case_ids(session_id))
        done = self.conn.execute(
            "SELECT count(*) FROM reading r JOIN case_ c ON c.id = r.case_id "
            "JOIN session_case sc ON sc.session_id = r.session_id AND sc.case_id = r.case_id "
            "WHERE r.session_id = ? AND r.reader_id = ? AND r.status = 'submitted' "
            "AND c.excluded_reason IS NULL",
            (session_id, reader_id),
        ).fetchone()[0]
        return int(done), total

    def sessions_for_reader(self, reader_id: int) -> list[SessionAccess]:
        """The open sessions a reader belongs to, each with whether it is available now and progress.

        Planned and closed sessions are not listed: a reader has nothing to do in them.
        """
        self.reader(reader_id)
        out: list[SessionAccess] = []
        for (sid,) in self.conn.execute(
            "SELECT s.id FROM session s JOIN session_reader sr ON sr.session_id = s.id "
            "WHERE sr.reader_id = ? AND s.status = 'open' ORDER BY s.id",
            (reader_id,),
        ).fetchall():
            s = self.session(int(sid))
            a = self._access(s, reader_id)
            done, total = self._progress(s.id, reader_id)
            out.append(
                SessionAccess(
                    session=session_info(s),
                    available=a.allowed,
                    reason=a.reason,
                    submitted=done,
                    total=total,
                    available_from=a.available_from,
                )
            )
        return out
