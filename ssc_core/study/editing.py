"""A reader's edits: each one validated, committed in its own transaction, and audited.

Every method returns the reading as it is on disk after the commit, so the GUI can say "saved" truthfully.
Values are checked as they are entered (grid and range of a score, 1..5 of a rating, a finite z); rules
that involve several values (union rule, level order and distinctness) may be broken while a reading is in
progress and are shown by ``Reading.problems``; submission is refused until none is left and every level
and score (or rating) is entered. A submitted reading is locked: only an admin may correct it, with a
reason, through :meth:`EditingMixin.correct`.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from ssc_core.constants import MAX_TIME_INCREMENT_S, Level, Pattern
from ssc_core.errors import PermissionDenied, ProtocolError, ScoreRuleError, StudyError
from ssc_core.scoring import likert_violation, value_violation
from ssc_core.study.audit import Transaction
from ssc_core.study.protocol import ProtocolMixin
from ssc_core.study.readings import load_reading, load_values
from ssc_core.study.records import (
    AIPolicy,
    Phase,
    Reading,
    ReadingStatus,
    Session,
    SessionKind,
    values_problems,
)


@dataclass(frozen=True)
class PlaceLevel:
    level: Level
    world_z: float
    slice_index: int | None


@dataclass(frozen=True)
class ClearLevel:
    level: Level


@dataclass(frozen=True)
class SetScore:
    """Set (or with ``value`` None, clear) one pattern's score at one level."""

    level: Level
    pattern: Pattern
    value: int | None


@dataclass(frozen=True)
class SetRating:
    """Set (or with ``value`` None, clear) one Likert rating of a heat map."""

    level: Level
    pattern: Pattern
    value: int | None


Edit = PlaceLevel | ClearLevel | SetScore | SetRating


@dataclass(frozen=True)
class _Target:
    session: Session
    case_id: int
    case_code: str
    row: sqlite3.Row | None


def _initial_phase(policy: AIPolicy) -> Phase:
    return Phase.ASSISTED if policy is AIPolicy.VISIBLE else Phase.UNAIDED


def _check_edit(edit: Edit, kind: SessionKind) -> Edit:
    """Validate one edit's own values; normalise its types."""
    if isinstance(edit, (PlaceLevel, ClearLevel, SetScore)) and kind is SessionKind.HEATMAP_RATING:
        raise ProtocolError(
            "This is a heat-map rating session: it records Likert ratings, not levels or scores."
        )
    if isinstance(edit, SetRating) and kind is not SessionKind.HEATMAP_RATING:
        raise ProtocolError(
            f"Likert ratings belong to heat-map rating sessions, not to a {kind.display_name} session."
        )
    if isinstance(edit, PlaceLevel):
        z = float(edit.world_z)
        if not math.isfinite(z):
            raise ScoreRuleError(f"{Level(edit.level).label}: the position must be a finite z in mm.")
        idx = edit.slice_index
        if idx is not None and (isinstance(idx, bool) or int(idx) != idx or int(idx) < 0):
            raise ScoreRuleError(f"{Level(edit.level).label}: the slice index must be a whole number >= 0.")
        return PlaceLevel(Level(edit.level), z, None if idx is None else int(idx))
    if isinstance(edit, ClearLevel):
        return ClearLevel(Level(edit.level))
    if isinstance(edit, SetScore):
        lv, pat = Level(edit.level), Pattern(edit.pattern)
        v = value_violation(pat, edit.value)
        if v is not None:
            raise ScoreRuleError(f"{lv.label}: {v.message}")
        return SetScore(lv, pat, None if edit.value is None else int(edit.value))
    if isinstance(edit, SetRating):
        lv, pat = Level(edit.level), Pattern(edit.pattern)
        v = likert_violation(edit.value, field=f"{lv.label}.{pat.value}")
        if v is not None:
            raise ScoreRuleError(f"{lv.label} {pat.value}: {v.message}")
        return SetRating(lv, pat, edit.value)
    raise TypeError(f"not an edit: {edit!r}")


def _upsert(tx: Transaction, table: str, key: Mapping[str, object], values: Mapping[str, object]) -> None:
    where = " AND ".join(f"{k} = ?" for k in key)
    exists = tx.conn.execute(f"SELECT 1 FROM {table} WHERE {where}", tuple(key.values())).fetchone()
    if exists:
        tx.update(table, tuple(key.values()), values)
    else:
        tx.insert(table, {**key, **values})


def _apply_edit(tx: Transaction, reading_id: int, phase: Phase, edit: Edit) -> None:
    if isinstance(edit, PlaceLevel):
        _upsert(
            tx,
            "reading_level",
            {"reading_id": reading_id, "phase": phase.value, "level": int(edit.level)},
            {"world_z": edit.world_z, "slice_index": edit.slice_index},
        )
    elif isinstance(edit, ClearLevel):
        tx.delete("reading_level", (reading_id, phase.value, int(edit.level)))
    elif isinstance(edit, (SetScore, SetRating)):
        table = "reading_score" if isinstance(edit, SetScore) else "reading_likert"
        key = {
            "reading_id": reading_id,
            "phase": phase.value,
            "level": int(edit.level),
            "pattern": edit.pattern.value,
        }
        if edit.value is None:
            tx.delete(table, tuple(key.values()))
        else:
            _upsert(tx, table, key, {"value": int(edit.value)})


class EditingMixin(ProtocolMixin):
    """Reader edits, timing, unaided commit, submission and admin corrections."""

    # --- public edits (one committed transaction each) ------------------------------------------------

    def place_level(
        self,
        session_id: int,
        reader_id: int,
        case_code: str,
        level: Level | int,
        world_z: float,
        slice_index: int,
        *,
        accepted_from_ai: str | None = None,
    ) -> Reading:
        """Place or move a level at world z (mm, LPS) on original slice ``slice_index``.

        ``accepted_from_ai`` (a model bundle's hash) records that the reader accepted the AI's suggested
        position: the edit is the same, audited as ``AcceptAILevel`` with the bundle named in the reason.
        """
        edit = PlaceLevel(Level(level), world_z, slice_index)
        if accepted_from_ai is None:
            return self.edit(session_id, reader_id, case_code, edit)
        bundle = str(accepted_from_ai).strip()
        if not bundle:
            raise StudyError("An accepted AI suggestion needs the model bundle's hash.")
        return self.edit(
            session_id,
            reader_id,
            case_code,
            edit,
            action="AcceptAILevel",
            reason=f"accepted from the AI suggestion (model bundle {bundle[:16]})",
        )

    def clear_level(self, session_id: int, reader_id: int, case_code: str, level: Level | int) -> Reading:
        return self.edit(session_id, reader_id, case_code, ClearLevel(Level(level)))

    def set_score(
        self,
        session_id: int,
        reader_id: int,
        case_code: str,
        level: Level | int,
        pattern: Pattern | str,
        value: int | None,
    ) -> Reading:
        """Set a TOT/GG/RET score (0..100, step 5); ``None`` clears it."""
        return self.edit(session_id, reader_id, case_code, SetScore(Level(level), Pattern(pattern), value))

    def set_rating(
        self,
        session_id: int,
        reader_id: int,
        case_code: str,
        level: Level | int,
        pattern: Pattern | str,
        value: int | None,
    ) -> Reading:
        """Set a heat map's Likert rating (1..5) for a level and pattern; ``None`` clears it."""
        return self.edit(session_id, reader_id, case_code, SetRating(Level(level), Pattern(pattern), value))

    def edit(
        self,
        session_id: int,
        reader_id: int,
        case_code: str,
        edit: Edit,
        *,
        action: str | None = None,
        reason: str | None = None,
    ) -> Reading:
        """Apply one edit of the reader's own, open, unsubmitted reading.

        ``action`` (default: the edit's type name) and ``reason`` are what the audit row records.
        """
        t = self._target(session_id, reader_id, case_code)
        edit = _check_edit(edit, t.session.kind)
        action = action or type(edit).__name__
        with self._write(reader_id, action, reason=reason) as tx:
            rid, phase = self._ensure_reading(tx, t, reader_id)
            _apply_edit(tx, rid, phase, edit)
            tx.update("reading", (rid,), {"updated_at": tx.at})
        return self._reading(rid, t.case_code)

    def add_time(
        self,
        session_id: int,
        reader_id: int,
        case_code: str,
        seconds: float,
        *,
        level: Level | int | None = None,
    ) -> Reading:
        """Add reading time to the case (``level`` None) or to one level's time."""
        sec = float(seconds)
        if not math.isfinite(sec) or sec <= 0 or sec > MAX_TIME_INCREMENT_S:
            raise StudyError(
                f"A time report must be between 0 and {MAX_TIME_INCREMENT_S:g} s, got {seconds!r}."
            )
        t = self._target(session_id, reader_id, case_code)
        with self._write(reader_id, "add_time") as tx:
            rid, _ = self._ensure_reading(tx, t, reader_id)
            if level is None:
                old = float(
                    tx.conn.execute("SELECT time_on_case_s FROM reading WHERE id = ?", (rid,)).fetchone()[0]
                )
                tx.update("reading", (rid,), {"time_on_case_s": old + sec})
            else:
                lv = int(Level(level))
                row = tx.conn.execute(
                    "SELECT seconds FROM reading_level_time WHERE reading_id = ? AND level = ?", (rid, lv)
                ).fetchone()
                if row is None:
                    tx.insert("reading_level_time", {"reading_id": rid, "level": lv, "seconds": sec})
                else:
                    tx.update("reading_level_time", (rid, lv), {"seconds": float(row[0]) + sec})
        return self._reading(rid, t.case_code)

    def commit_unaided(self, session_id: int, reader_id: int, case_code: str) -> Reading:
        """After-commit policy: lock the unaided values as the snapshot; the AI is revealed next.

        The unaided values must be complete and valid (as for submission). They are copied to the assisted
        phase, where any revision is recorded; the unaided snapshot never changes again.
        """
        t = self._target(session_id, reader_id, case_code)
        if t.session.ai_policy is not AIPolicy.AFTER_COMMIT:
            raise ProtocolError(f"Session {t.session.label} does not reveal the AI after a commit.")
        if t.row is None:
            raise ScoreRuleError(
                "Nothing is entered for this case yet; there is no unaided reading to commit."
            )
        if Phase(t.row["phase"]) is not Phase.UNAIDED:
            raise ProtocolError("The unaided reading of this case is already committed.")
        problems = self._reading(int(t.row["id"]), t.case_code).problems(t.session.kind)
        if problems:
            raise ScoreRuleError(
                "The unaided reading cannot be committed yet: " + " ".join(p.message for p in problems)
            )
        rid = int(t.row["id"])
        with self._write(reader_id, "commit_unaided") as tx:
            self._copy_phase(tx, rid, Phase.UNAIDED, Phase.ASSISTED)
            tx.update(
                "reading",
                (rid,),
                {"phase": Phase.ASSISTED.value, "unaided_committed_at": tx.at, "updated_at": tx.at},
            )
        return self._reading(rid, t.case_code)

    def submit(self, session_id: int, reader_id: int, case_code: str) -> Reading:
        """Submit and lock the reading (refused, naming every problem, while any rule is broken)."""
        t = self._target(session_id, reader_id, case_code)
        if t.row is None:
            raise ScoreRuleError("Nothing is entered for this case yet; it cannot be submitted.")
        rid = int(t.row["id"])
        if t.session.ai_policy is AIPolicy.AFTER_COMMIT and t.row["unaided_committed_at"] is None:
            raise ProtocolError("Commit the unaided reading first; the AI is shown after that, then submit.")
        reading = self._reading(rid, t.case_code)
        problems = reading.problems(t.session.kind)
        if problems:
            raise ScoreRuleError(
                "The reading cannot be submitted yet: " + " ".join(p.message for p in problems)
            )
        with self._write(reader_id, "submit") as tx:
            tx.update(
                "reading",
                (rid,),
                {"status": ReadingStatus.SUBMITTED.value, "submitted_at": tx.at, "updated_at": tx.at},
            )
            self._mark_finished(tx, t.session.id, reader_id)
        return self._reading(rid, t.case_code)

    def correct(
        self,
        session_id: int,
        reader_id: int,
        case_code: str,
        edit: Edit,
        *,
        by: int,
        reason: str,
        phase: Phase | str | None = None,
    ) -> Reading:
        """An admin's correction of a reading (typically a submitted one), with a reason (audited).

        ``phase`` defaults to the reading's current phase; pass ``"unaided"`` to correct an after-commit
        reading's unaided snapshot. A corrected submitted reading must still pass every rule.
        """
        admin = self.reader(by)
        if not admin.is_admin:
            raise PermissionDenied(f"Only a study admin may correct a reading; {admin.name} is a reader.")
        text = (reason or "").strip()
        if not text:
            raise ProtocolError("A correction needs a reason; it is recorded in the audit log.")
        s = self.session(session_id)
        cid = self._case_in_session(s, case_code)
        row = self.conn.execute(
            "SELECT * FROM reading WHERE session_id = ? AND reader_id = ? AND case_id = ?",
            (s.id, reader_id, cid),
        ).fetchone()
        if row is None:
            raise StudyError(
                f"{self._reader_name(reader_id)} has no reading of {case_code} in {s.label} to correct."
            )
        edit = _check_edit(edit, s.kind)
        rid = int(row["id"])
        target_phase = Phase(row["phase"]) if phase is None else Phase(phase)
        with self._write(by, "correct_" + type(edit).__name__, reason=text) as tx:
            _apply_edit(tx, rid, target_phase, edit)
            tx.update("reading", (rid,), {"updated_at": tx.at})
            if row["status"] == ReadingStatus.SUBMITTED.value:
                problems = values_problems(load_values(tx.conn, rid, target_phase), s.kind, complete=True)
                if problems:
                    raise ScoreRuleError(
                        "The correction would leave the submitted reading invalid: "
                        + " ".join(p.message for p in problems)
                    )
        return self._reading(rid, case_code.strip())

    # --- helpers ------------------------------------------------------------------------------------

    def _case_in_session(self, s: Session, case_code: str) -> int:
        row = self.conn.execute(
            "SELECT c.id, c.excluded_reason FROM case_ c JOIN session_case sc ON sc.case_id = c.id "
            "WHERE sc.session_id = ? AND c.code = ?",
            (s.id, case_code.strip()),
        ).fetchone()
        if row is None:
            raise StudyError(f"Case {case_code} is not part of session {s.label}.")
        return int(row[0])

    def _target(self, session_id: int, reader_id: int, case_code: str) -> _Target:
        s = self.session(session_id)
        self._require_access(s, reader_id)
        cid = self._case_in_session(s, case_code)
        excluded = self.conn.execute("SELECT excluded_reason FROM case_ WHERE id = ?", (cid,)).fetchone()[0]
        if excluded is not None:
            raise ProtocolError(f"Case {case_code} was excluded from the study; it is not read.")
        row = self.conn.execute(
            "SELECT * FROM reading WHERE session_id = ? AND reader_id = ? AND case_id = ?",
            (s.id, reader_id, cid),
        ).fetchone()
        if row is not None and row["status"] == ReadingStatus.SUBMITTED.value:
            raise ProtocolError(
                f"Case {case_code} is submitted and locked; only an admin can correct it, with a reason."
            )
        return _Target(s, cid, case_code.strip(), row)

    def _ensure_reading(self, tx: Transaction, t: _Target, reader_id: int) -> tuple[int, Phase]:
        if t.row is not None:
            return int(t.row["id"]), Phase(t.row["phase"])
        phase = _initial_phase(t.session.ai_policy)
        rid = tx.insert(
            "reading",
            {
                "session_id": t.session.id,
                "reader_id": reader_id,
                "case_id": t.case_id,
                "status": ReadingStatus.IN_PROGRESS.value,
                "phase": phase.value,
                "created_at": tx.at,
                "updated_at": tx.at,
                "time_on_case_s": 0.0,
            },
        )
        return rid, phase

    def _copy_phase(self, tx: Transaction, rid: int, src: Phase, dst: Phase) -> None:
        for table, cols in (
            ("reading_level", ("level", "world_z", "slice_index")),
            ("reading_score", ("level", "pattern", "value")),
            ("reading_likert", ("level", "pattern", "value")),
        ):
            rows = tx.conn.execute(
                f"SELECT {', '.join(cols)} FROM {table} WHERE reading_id = ? AND phase = ?", (rid, src.value)
            ).fetchall()
            for r in rows:
                tx.insert(table, {"reading_id": rid, "phase": dst.value, **dict(zip(cols, r))})

    def _mark_finished(self, tx: Transaction, session_id: int, reader_id: int) -> None:
        """Record when a reader has submitted every case of a session (the washout starts then)."""
        row = tx.conn.execute(
            "SELECT finished_at FROM session_reader WHERE session_id = ? AND reader_id = ?",
            (session_id, reader_id),
        ).fetchone()
        if row["finished_at"] is not None:
            return
        open_cases = tx.conn.execute(
            "SELECT count(*) FROM session_case sc JOIN case_ c ON c.id = sc.case_id "
            "LEFT JOIN reading r ON r.session_id = sc.session_id AND r.case_id = sc.case_id "
            "AND r.reader_id = ? WHERE sc.session_id = ? AND c.excluded_reason IS NULL "
            "AND (r.status IS NULL OR r.status != 'submitted')",
            (reader_id, session_id),
        ).fetchone()[0]
        if open_cases == 0:
            tx.update("session_reader", (session_id, reader_id), {"finished_at": tx.at})

    def _reading(self, reading_id: int, case_code: str) -> Reading:
        row = self.conn.execute("SELECT * FROM reading WHERE id = ?", (reading_id,)).fetchone()
        return load_reading(self.conn, row, case_code)
