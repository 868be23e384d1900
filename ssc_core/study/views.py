"""The reader view: everything one reader may see of one session, and nothing else.

Blinding is enforced here, by what is *queried*, not by what is filtered afterwards:

* readings: only the reader's own (``WHERE reader_id = ?``); other readers' readings are read only for an
  unblinded session's references, and for the admin's disagreement list of a consensus session;
* AI output: under the hidden policy the AI tables are not read at all; under after-commit only for cases
  whose unaided reading the reader has committed; heat-map rating sessions show heat maps and AI levels,
  and the AI's scores only under the visible policy;
* cases: only pseudonymous codes; never source locations, source names or hashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ssc_core.constants import LEVELS, PATTERNS, Level
from ssc_core.errors import ProtocolError
from ssc_core.study.ai_cache import AICacheMixin
from ssc_core.study.editing import EditingMixin
from ssc_core.study.ordering import reader_order
from ssc_core.study.protocol import session_info
from ssc_core.study.readings import load_reading, load_values
from ssc_core.study.records import (
    AIPolicy,
    AIView,
    CaseStatus,
    Disagreement,
    Phase,
    Reader,
    ReaderView,
    Reading,
    ReadingValues,
    Session,
    SessionKind,
    SessionStatus,
    WorklistItem,
)

if TYPE_CHECKING:
    import numpy as np


def ai_allowed(s: Session, reading: Reading | None) -> bool:
    """May the reader of ``reading`` see AI output for that case in session ``s``?"""
    if s.kind is SessionKind.HEATMAP_RATING:
        return True  # the heat maps are what is rated; scores are governed separately (scores_allowed)
    if s.ai_policy is AIPolicy.VISIBLE:
        return True
    if s.ai_policy is AIPolicy.AFTER_COMMIT:
        return reading is not None and reading.unaided_committed_at is not None
    return False


def scores_allowed(s: Session, reading: Reading | None) -> bool:
    """May the reader see the AI's *scores* (not only heat maps and levels)?"""
    if s.kind is SessionKind.HEATMAP_RATING:
        return s.ai_policy is AIPolicy.VISIBLE
    return ai_allowed(s, reading)


class ViewMixin(EditingMixin, AICacheMixin):
    """Reader views, references and the consensus disagreement list."""

    def _viewable(self, s: Session, reader_id: int) -> Reader:
        reader = self.reader(reader_id)
        if reader_id not in s.reader_ids:
            raise ProtocolError(f"{reader.name} is not a reader of session {s.label}.")
        if s.status is SessionStatus.PLANNED:
            raise ProtocolError(f"Session {s.label} has not been opened yet.")
        if s.status is SessionStatus.OPEN:
            self._require_access(s, reader_id)
        return reader

    def _own_readings(self, s: Session, reader_id: int, codes: Mapping[int, str]) -> dict[int, Reading]:
        out: dict[int, Reading] = {}
        for row in self.conn.execute(
            "SELECT * FROM reading WHERE session_id = ? AND reader_id = ?", (s.id, reader_id)
        ).fetchall():
            cid = int(row["case_id"])
            if cid in codes:
                out[cid] = load_reading(self.conn, row, codes[cid])
        return out

    def reader_view(self, session_id: int, reader_id: int) -> ReaderView:
        """The worklist, own readings, and what else the session's rules let this reader see.

        Raises :class:`ProtocolError` when the reader is not in the session, the session is only planned,
        or (open session) the washout has not passed. A closed session's view is read-only history.
        """
        s = self.session(session_id)
        reader = self._viewable(s, reader_id)
        case_ids = self.session_case_ids(s.id)
        codes = self._codes(case_ids)
        ordered = reader_order(s.order_seed, s.id, reader_id, case_ids)
        readings = self._own_readings(s, reader_id, codes)
        worklist = []
        for pos, cid in enumerate(ordered, start=1):
            r = readings.get(cid)
            status = (
                CaseStatus.NOT_STARTED
                if r is None
                else (CaseStatus.SUBMITTED if r.submitted else CaseStatus.IN_PROGRESS)
            )
            worklist.append(
                WorklistItem(
                    pos,
                    codes[cid],
                    status,
                    unaided_committed=r is not None and r.unaided_committed_at is not None,
                )
            )
        resume = next((w.case_code for w in worklist if w.status is not CaseStatus.SUBMITTED), None)
        ai: dict[str, AIView] | None = None
        if s.kind is SessionKind.HEATMAP_RATING or s.ai_policy is not AIPolicy.HIDDEN:
            ai = {}
            for cid in ordered:
                r = readings.get(cid)
                if not ai_allowed(s, r):
                    continue
                view = self._ai_view(cid, s.ai_bundle, with_scores=scores_allowed(s, r))
                if view is not None:
                    ai[codes[cid]] = view
        references = None
        if not s.blinded and s.references:
            references = self._references(s, case_ids, codes)
        disagreements = None
        if s.kind is SessionKind.CONSENSUS and reader.is_admin:
            disagreements = self.disagreements(s.id)
        return ReaderView(
            session=session_info(s),
            reader=reader,
            worklist=tuple(worklist),
            readings={codes[cid]: r for cid, r in readings.items()},
            resume_code=resume,
            ai=ai,
            references=references,
            disagreements=disagreements,
        )

    def reader_ai(self, session_id: int, reader_id: int, case_code: str) -> AIView | None:
        """The AI output one reader may see for one case now (None when there is none cached).

        Raises :class:`ProtocolError` when the session's policy does not allow it (yet).
        """
        s = self.session(session_id)
        self._viewable(s, reader_id)
        cid = self._case_in_session(s, case_code)
        reading = self._reading_of(s.id, reader_id, cid, case_code)
        if not ai_allowed(s, reading):
            raise ProtocolError(self._ai_refusal(s))
        return self._ai_view(cid, s.ai_bundle, with_scores=scores_allowed(s, reading))

    def reader_heatmap(
        self, session_id: int, reader_id: int, case_code: str, level: Level | int, pattern: str
    ) -> np.ndarray:
        """One heat map (float32 array, y x) as the reader may see it; same rules as :meth:`reader_ai`."""
        view = self.reader_ai(session_id, reader_id, case_code)
        if view is None:
            raise ProtocolError(f"There is no AI result cached for {case_code}.")
        return self.ai_heatmap(self._case_id(case_code), view.bundle_hash, level, pattern)

    @staticmethod
    def _ai_refusal(s: Session) -> str:
        if s.ai_policy is AIPolicy.AFTER_COMMIT:
            return f"In session {s.label} the AI is shown only after the unaided reading is committed."
        return f"Session {s.label} is blinded to the AI."

    def _reading_of(self, session_id: int, reader_id: int, case_id: int, code: str) -> Reading | None:
        row = self.conn.execute(
            "SELECT * FROM reading WHERE session_id = ? AND reader_id = ? AND case_id = ?",
            (session_id, reader_id, case_id),
        ).fetchone()
        return None if row is None else load_reading(self.conn, row, code)

    def _codes(self, case_ids: list[int]) -> dict[int, str]:
        if not case_ids:
            return {}
        marks = ", ".join("?" * len(case_ids))
        return {
            int(r[0]): str(r[1])
            for r in self.conn.execute(f"SELECT id, code FROM case_ WHERE id IN ({marks})", case_ids)
        }

    # --- other readers' readings (unblinded references; admin disagreements) --------------------------

    def _submitted_values(self, session_ids: tuple[int, ...], case_id: int) -> dict[str, ReadingValues]:
        out: dict[str, ReadingValues] = {}
        if not session_ids:
            return out
        marks = ", ".join("?" * len(session_ids))
        for rid, phase, name, label in self.conn.execute(
            "SELECT r.id, r.phase, rd.name, s.label FROM reading r JOIN reader rd ON rd.id = r.reader_id "
            f"JOIN session s ON s.id = r.session_id WHERE r.session_id IN ({marks}) AND r.case_id = ? "
            "AND r.status = 'submitted' ORDER BY s.id, rd.id",
            (*session_ids, case_id),
        ).fetchall():
            out[f"{name} / {label}"] = load_values(self.conn, int(rid), Phase(phase))
        return out

    def _references(
        self, s: Session, case_ids: list[int], codes: Mapping[int, str]
    ) -> dict[str, Mapping[str, ReadingValues]]:
        refs: dict[str, Mapping[str, ReadingValues]] = {}
        for cid in case_ids:
            vals = self._submitted_values(s.references, cid)
            if vals:
                refs[codes[cid]] = vals
        return refs

    def disagreements(
        self, session_id: int, *, points: int | None = None, mm: float | None = None
    ) -> tuple[Disagreement, ...]:
        """Cases/levels where the reference sessions' submitted readings differ beyond the thresholds.

        For a consensus session: its reference (observer) sessions' readings, per case and level, by
        pattern (spread of scores > ``points``, default the study's setting) and by position (spread of
        world z > ``mm``). Admin information: the reader view includes it for admins only.
        """
        s = self.session(session_id)
        st = self.study
        limit_points = st.disagreement_points if points is None else points
        limit_mm = st.disagreement_mm if mm is None else mm
        case_ids = self.session_case_ids(s.id)
        codes = self._codes(case_ids)
        out: list[Disagreement] = []
        for cid in case_ids:
            vals = self._submitted_values(s.references, cid)
            if len(vals) < 2:
                continue
            for lv in LEVELS:
                zs = {who: v.levels[lv].world_z for who, v in vals.items() if lv in v.levels}
                if len(zs) >= 2 and max(zs.values()) - min(zs.values()) > limit_mm:
                    out.append(
                        Disagreement(codes[cid], lv, "position", zs, max(zs.values()) - min(zs.values()))
                    )
                for pat in PATTERNS:
                    sc = {who: float(x) for who, v in vals.items() if (x := v.score(lv, pat)) is not None}
                    if len(sc) >= 2 and max(sc.values()) - min(sc.values()) > limit_points:
                        out.append(
                            Disagreement(codes[cid], lv, pat.value, sc, max(sc.values()) - min(sc.values()))
                        )
        return tuple(out)
