"""One reader's work in one session: the state behind the worklist, score and rating panels.

:class:`ReadingController` owns the open study (a :class:`~ssc_core.study.StudyStore`), the reader, the
session and the :class:`~ssc_core.study.ReaderView`, which is the **only** source of what the reading widgets
show: blinding is decided by the store when it builds the view, and nothing else is read for display.
Every edit (level, score, rating) is one committed store transaction made on the GUI thread (a few ms,
see ``benchmarks/results/study_commit_latency.json``); a value counts as saved only once the store has
returned the reading it wrote, and a failed write is reported as such, with the reason, and the value kept
visibly unsaved by the panel that entered it.

The scan of a case is loaded through the window's :class:`~app.controller.ViewerController` (in a worker);
the case becomes current once its volume is shown, and the stored level placements are applied to it then.
Time on case and per level is counted by an :class:`~ssc_core.study.activity.ActivityClock` fed with the
reader's input, and written to the store at least every ``TIME_FLUSH_INTERVAL_S``, on every case change and
before a submission.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from app.controller import ViewerController
from app.reading_ai import AIReadingMixin
from app.reading_rating import RATING_ITEMS, HeatmapLookup, RatingMixin, placement_on
from ssc_core.constants import (
    LEVELS,
    MIN_TIME_REPORT_S,
    TIME_FLUSH_INTERVAL_S,
    Level,
    Pattern,
)
from ssc_core.errors import SSCError
from ssc_core.scoring import LevelPlacement, LevelScores, RuleViolation
from ssc_core.study.activity import ActivityClock
from ssc_core.study.records import (
    AIPolicy,
    CaseStatus,
    ReaderView,
    Reading,
    ReadingValues,
    SessionInfo,
    SessionKind,
    values_problems,
)

if TYPE_CHECKING:
    import numpy as np

    from ssc_core.imaging.volume import CTVolume
    from ssc_core.study.store import StudyStore

log = logging.getLogger(__name__)


def write_error_text(error: BaseException) -> str:
    """What to tell the reader when a write failed (core refusals as they are; others by type)."""
    if isinstance(error, SSCError):
        return error.message + (f" {error.hint}" if error.hint else "")
    if isinstance(error, sqlite3.Error):
        return f"The study file could not be written ({type(error).__name__}: {error})."
    return f"The study file could not be written ({type(error).__name__})."


@dataclass(frozen=True)
class SaveStatus:
    """Whether everything the reader entered is in the study file (``ok``), with a message and time."""

    ok: bool
    message: str
    at: datetime | None = None


class ReadingController(RatingMixin, AIReadingMixin, QObject):
    """See the module docstring. Signals are emitted after the state they announce has changed."""

    #: The reader view was replaced (worklist statuses, progress).
    viewChanged = Signal(object)  # ReaderView
    #: A case's scan started loading (its code).
    caseLoading = Signal(str)
    #: The case now shown (its scan is displayed and its reading applied), or None.
    caseChanged = Signal(object)
    #: The current case's reading as saved in the store (None: nothing entered yet).
    readingChanged = Signal(object)
    #: Whether everything is saved; emitted after every write attempt.
    saveStatusChanged = Signal(object)  # SaveStatus
    #: A write failed: (field such as "L2.TOT", "L3" or "L1.GG", reason).
    editFailed = Signal(str, str)
    caseSubmitted = Signal(str)
    #: Every case of the worklist is submitted.
    sessionCompleted = Signal()
    #: Something the reader must be told in a dialog (an exception from the core or the loader).
    problem = Signal(object)
    #: Heat-map rating sessions: the (level, pattern) being rated changed.
    ratingTargetChanged = Signal(object, object)
    #: The AI part of the reader view changed for a case (its code): a result was cached or revealed.
    aiChanged = Signal(str)
    message = Signal(str)

    def __init__(
        self,
        store: StudyStore,
        session_id: int,
        reader_id: int,
        viewer: ViewerController,
        *,
        clock: ActivityClock | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.session_id = int(session_id)
        self.reader_id = int(reader_id)
        self.viewer = viewer
        self.clock = clock if clock is not None else ActivityClock()
        self._view: ReaderView = store.reader_view(self.session_id, self.reader_id)
        self._case: str | None = None
        self._loading: str | None = None
        self._save = SaveStatus(True, "Nothing entered yet.")
        #: Values the reader entered that are not in the study file: (case, field) -> why.
        self._unsaved: dict[tuple[str, str], str] = {}
        self._rating_target: tuple[Level, Pattern] = RATING_ITEMS[0]
        self._heatmaps: dict[tuple[str, Level, Pattern], np.ndarray] = {}
        self._closed = False
        self._switching = False

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(int(TIME_FLUSH_INTERVAL_S * 1000))
        self._flush_timer.timeout.connect(self.flush_time)
        self._flush_timer.start()

        viewer.volumeChanged.connect(self._on_volume)
        viewer.loadFailed.connect(self._on_load_failed)
        viewer.loadCancelled.connect(self._on_load_cancelled)
        viewer.levelEdited.connect(self._on_level_edited)
        viewer.currentLevelChanged.connect(self._on_current_level)

    # --- what the widgets read -----------------------------------------------------------------------

    @property
    def view(self) -> ReaderView:
        return self._view

    @property
    def session(self) -> SessionInfo:
        return self._view.session

    @property
    def kind(self) -> SessionKind:
        return self._view.session.kind

    @property
    def is_rating(self) -> bool:
        return self.kind is SessionKind.HEATMAP_RATING

    @property
    def case_code(self) -> str | None:
        """The case whose scan is shown (None while nothing is, or while the first one loads)."""
        return self._case

    @property
    def loading_code(self) -> str | None:
        return self._loading

    @property
    def reading(self) -> Reading | None:
        return None if self._case is None else self._view.readings.get(self._case)

    @property
    def values(self) -> ReadingValues:
        r = self.reading
        return r.values if r is not None else ReadingValues()

    @property
    def save_status(self) -> SaveStatus:
        return self._save

    def position(self, code: str | None = None) -> int | None:
        """1-based worklist position of ``code`` (default: the current case)."""
        code = self._case if code is None else code
        return next((w.position for w in self._view.worklist if w.case_code == code), None)

    @property
    def locked_reason(self) -> str | None:
        """Why the current case cannot be edited (submitted, or the session is closed), or None."""
        if self._case is None:
            return "No case is open."
        r = self.reading
        if r is not None and r.submitted:
            return f"Case {self._case} is submitted and locked."
        if self.session.status.value != "open":
            return f"Session {self.session.label} is {self.session.status.value}; it is read-only."
        return None

    @property
    def needs_unaided_commit(self) -> bool:
        """After-commit sessions: the current reading's unaided values are not committed yet."""
        if self.session.ai_policy is not AIPolicy.AFTER_COMMIT:
            return False
        r = self.reading
        return r is None or r.unaided_committed_at is None

    def scores(self, level: Level) -> LevelScores:
        return self.values.scores.get(Level(level), LevelScores())

    def submission_problems(self) -> list[RuleViolation]:
        """What still stands between the current case and its submission (empty: it can be submitted)."""
        if self._case is None:
            return [RuleViolation("case", "no_case", "No case is open.")]
        r = self.reading
        if r is not None:
            return r.problems(self.kind)
        return values_problems(ReadingValues(), self.kind, complete=True)

    def next_unfinished(self, after: str | None = None) -> str | None:
        """The first case not submitted, looking after ``after`` first, then from the top."""
        items = list(self._view.worklist)
        start = 0
        if after is not None:
            start = next((i + 1 for i, w in enumerate(items) if w.case_code == after), 0)
        for w in items[start:] + items[:start]:
            if w.status is not CaseStatus.SUBMITTED and w.case_code != after:
                return w.case_code
        return None

    # --- cases ---------------------------------------------------------------------------------------

    def start(self, case_code: str | None = None) -> str | None:
        """Open ``case_code`` or, by default, the first unfinished case (resume); None when all are done."""
        code = case_code or self._view.resume_code
        if code is None:
            self.sessionCompleted.emit()
            return None
        self.open_case(code)
        return code

    def open_case(self, code: str) -> None:
        """Load the scan of case ``code`` (in the background); the case becomes current once it is shown."""
        if code == self._case and self._loading is None:
            return
        if self.position(code) is None:
            self.problem.emit(
                SSCError(f"Case {code} is not on your worklist in session {self.session.label}.")
            )
            return
        self._leave_case()
        try:
            source = self.store.scan_source(code)
        except SSCError as exc:
            self.problem.emit(exc)
            return
        slice_index = self._first_slice_hint(code)
        self._switching = True
        try:
            self.viewer.load_series(source.location, source.series, label=code, slice_index=slice_index)
        finally:
            self._switching = False
        self._loading = code  # after load_series: it cancels (and reports) any earlier load first
        # The case shown until the new one arrives is not edited meanwhile (its edits would be lost).
        self.viewer.set_levels_locked(f"Loading case {code}…")
        self.caseLoading.emit(code)

    def resume_level(self, code: str | None = None) -> Level | None:
        """Where to pick a case up: the first incomplete level already begun (placed or partly scored),
        else the first incomplete level; None for a case not begun (or complete)."""
        code = self._case if code is None else code
        r = self._view.readings.get(code) if code is not None else None
        if r is None or self.is_rating:
            return None
        v = r.values

        def begun(lv: Level) -> bool:
            return lv in v.levels or v.scores.get(lv, LevelScores()) != LevelScores()

        def complete(lv: Level) -> bool:
            return lv in v.levels and v.scores.get(lv, LevelScores()).complete

        todo = [lv for lv in LEVELS if not complete(lv)]
        return next((lv for lv in todo if begun(lv)), todo[0] if todo else None)

    def _first_slice_hint(self, code: str) -> int | None:
        r = self._view.readings.get(code)
        if r is None:
            return None
        level = self.resume_level(code)
        order = ([level] if level is not None else []) + list(LEVELS)
        for lv in order:
            p = r.values.levels.get(lv)
            if p is not None and p.slice_index is not None:
                return p.slice_index
        return None

    def _leave_case(self) -> None:
        """Write the time on the case being left and stop counting."""
        if self._case is not None:
            self.clock.stop()
            self.flush_time()
        self._heatmaps.clear()

    def _on_volume(self, volume) -> None:
        code, self._loading = self._loading, None
        if code is None or volume is None:
            return
        self._case = code
        self._apply_reading(volume)
        self._rating_target = RATING_ITEMS[0]
        level = self.resume_level()
        if level is not None:
            self.viewer.set_current_level(level)
        reading = self.reading
        if reading is None:
            self._publish_save("Nothing entered for this case yet.")
        else:
            self._publish_save("Saved.", reading.updated_at)
        if self.locked_reason is None:
            self.clock.start()
        self.clock.set_level(self.viewer.current_level)
        self.caseChanged.emit(code)
        self.readingChanged.emit(self.reading)
        if self.is_rating:
            self.set_rating_target(*self._first_unrated())

    def _apply_reading(self, volume: CTVolume) -> None:
        """Show the stored placements (observer/consensus) or the AI's levels (rating) on the new volume."""
        if self.is_rating:
            ai = self._ai_view()
            placed = {}
            if ai is not None and ai.levels is not None:
                placed = {
                    lv: placement_on(volume, lv, p.world_z, p.slice_index) for lv, p in ai.levels.items()
                }
            self.viewer.set_placements(placed)
            self.viewer.set_levels_locked(
                "In a heat-map rating session the levels are the AI's; they are fixed."
            )
            return
        stored = self.values.levels
        self.viewer.set_placements(
            {lv: placement_on(volume, lv, p.world_z, p.slice_index) for lv, p in stored.items()}
        )
        self.viewer.set_levels_locked(self.locked_reason)

    def _on_load_failed(self, error: BaseException) -> None:
        if self._loading is not None:
            self._loading = None
            self._case = None
            self.viewer.set_levels_locked("No case is open.")
            self.caseChanged.emit(None)
            self.problem.emit(error)

    def _on_load_cancelled(self) -> None:
        if self._loading is not None and not self._switching:
            self._loading = None
            # the scan shown before (if any) is still the current case
            self.viewer.set_levels_locked(None if self._case is None else self.locked_reason)
            if self._case is not None and self.locked_reason is None:
                self.clock.start()
            self.caseChanged.emit(self._case)

    def refresh_view(self) -> None:
        """Read the reader view again from the store (after a submission, or when told of a change)."""
        self._view = self.store.reader_view(self.session_id, self.reader_id)
        self.viewChanged.emit(self._view)

    # --- edits ---------------------------------------------------------------------------------------

    def _saved(self, reading: Reading, what: str, field: str | None = None) -> None:
        code = reading.case_code
        if field is not None:
            self._unsaved.pop((code, field), None)
        readings = dict(self._view.readings)
        readings[code] = reading
        status = CaseStatus.SUBMITTED if reading.submitted else CaseStatus.IN_PROGRESS
        worklist = tuple(
            replace(w, status=status, unaided_committed=reading.unaided_committed_at is not None)
            if w.case_code == code
            else w
            for w in self._view.worklist
        )
        resume = next((w.case_code for w in worklist if w.status is not CaseStatus.SUBMITTED), None)
        self._view = replace(self._view, worklist=worklist, readings=readings, resume_code=resume)
        self._publish_save(f"{what} saved.", reading.updated_at)
        self.viewChanged.emit(self._view)
        if code == self._case:
            self.readingChanged.emit(reading)

    @property
    def unsaved(self) -> dict[tuple[str, str], str]:
        """Entries not in the study file: (case code, field) -> why (a copy)."""
        return dict(self._unsaved)

    def _publish_save(self, message: str, at: datetime | None = None) -> None:
        if self._unsaved:
            (code, field), why = next(iter(self._unsaved.items()))
            more = f" (and {len(self._unsaved) - 1} more)" if len(self._unsaved) > 1 else ""
            where = field if code == self._case else f"{field} of case {code}"
            self._set_save(SaveStatus(False, f"{where} NOT saved{more}: {why}"))
        else:
            self._set_save(SaveStatus(True, message, at))

    def _set_save(self, status: SaveStatus) -> None:
        self._save = status
        self.saveStatusChanged.emit(status)

    def note_unsaved(self, field: str, message: str) -> None:
        """A value the reader entered was not written (refused before reaching the store): say so."""
        if self._case is not None:
            self._unsaved[(self._case, field)] = message
            self._publish_save("")

    def discard_unsaved(self, field: str) -> None:
        """The reader went back to the saved value of ``field`` (nothing unsaved there any more)."""
        if self._case is not None and self._unsaved.pop((self._case, field), None) is not None:
            self._publish_save("Back to the saved value.", datetime.now().astimezone())

    def _failed(self, field: str, error: BaseException, *, value: bool = True) -> None:
        """A write failed; ``value`` False for actions (submission) whose values are saved anyway."""
        text = write_error_text(error)
        log.warning("A %s edit was not saved: %s", field, type(error).__name__)
        if value and self._case is not None:
            self._unsaved[(self._case, field)] = text
            self._publish_save("")
        self.editFailed.emit(field, text)

    def _editable(self, field: str) -> bool:
        reason = self.locked_reason
        if reason is None:
            return True
        self.message.emit(reason)
        self.editFailed.emit(field, reason)
        return False

    def set_score(self, level: Level, pattern: Pattern, value: int | None) -> bool:
        """Store one score (None clears it). True when it is saved; False (and ``editFailed``) if not."""
        level, pattern = Level(level), Pattern(pattern)
        field = f"{level.label}.{pattern.value}"
        if not self._editable(field):
            return False
        assert self._case is not None
        try:
            reading = self.store.set_score(self.session_id, self.reader_id, self._case, level, pattern, value)
        except (SSCError, sqlite3.Error, OSError) as exc:
            self._failed(field, exc)
            return False
        self._saved(reading, f"{level.label} {pattern.value}", field)
        return True

    def set_rating(self, level: Level, pattern: Pattern, value: int | None) -> bool:
        """Store one heat-map rating (1..5; None clears it); like :meth:`set_score`."""
        level, pattern = Level(level), Pattern(pattern)
        field = f"{level.label}.{pattern.value}"
        if not self._editable(field):
            return False
        assert self._case is not None
        try:
            reading = self.store.set_rating(
                self.session_id, self.reader_id, self._case, level, pattern, value
            )
        except (SSCError, sqlite3.Error, OSError) as exc:
            self._failed(field, exc)
            return False
        self._saved(reading, f"Rating {level.label} {pattern.value}", field)
        return True

    def _on_level_edited(self, level: Level, placement: LevelPlacement | None) -> None:
        """A level placed, moved or removed in the viewer: write it through the store at once."""
        if self._case is None or self._loading is not None or self.is_rating:
            return
        level = Level(level)
        try:
            if placement is None:
                reading = self.store.clear_level(self.session_id, self.reader_id, self._case, level)
            else:
                reading = self.store.place_level(
                    self.session_id,
                    self.reader_id,
                    self._case,
                    level,
                    placement.world_z,
                    placement.slice_index,
                )
        except (SSCError, sqlite3.Error, OSError) as exc:
            self.viewer.mark_level_unsaved(level, write_error_text(exc))
            self._failed(level.label, exc)
            return
        self.viewer.mark_level_unsaved(level, None)
        self._saved(reading, f"{level.label} position", level.label)

    def _on_current_level(self, level: Level | None) -> None:
        if not self.is_rating:
            self.clock.set_level(level)

    # --- submission ----------------------------------------------------------------------------------

    def commit_unaided(self) -> bool:
        """After-commit sessions: lock the unaided values (the AI is revealed after this)."""
        if self._case is None or not self._editable("case"):
            return False
        self.flush_time()
        try:
            reading = self.store.commit_unaided(self.session_id, self.reader_id, self._case)
        except (SSCError, sqlite3.Error, OSError) as exc:
            self._failed("Unaided reading", exc, value=False)
            self.problem.emit(exc)
            return False
        self._saved(reading, "Unaided reading committed and")
        return True

    def submit(self) -> bool:
        """Submit and lock the current case (the caller has asked the reader to confirm)."""
        code = self._case
        if code is None or not self._editable("case"):
            return False
        self.flush_time()
        try:
            reading = self.store.submit(self.session_id, self.reader_id, code)
        except (SSCError, sqlite3.Error, OSError) as exc:
            self._failed("Submission", exc, value=False)
            self.problem.emit(exc)
            return False
        self.clock.stop()
        self.clock.take()  # nothing after the submission belongs to the case
        self._saved(reading, f"Case {code} submitted;")
        self.refresh_view()
        self.viewer.set_levels_locked(self.locked_reason)
        self.caseSubmitted.emit(code)
        if self._view.resume_code is None:
            self.sessionCompleted.emit()
        return True

    # --- time ----------------------------------------------------------------------------------------

    def note_activity(self) -> None:
        """The reader pressed a key, clicked, scrolled or moved the mouse in the window."""
        self.clock.activity()

    def flush_time(self) -> None:
        """Write the active time counted since the last flush to the current case (and its levels)."""
        if self._case is None or self._closed:
            return
        report = self.clock.take(minimum_s=MIN_TIME_REPORT_S)
        if report.empty:
            return
        r = self.reading
        if (r is not None and r.submitted) or self.session.status.value != "open":
            return
        code = self._case
        try:
            reading = self.store.add_time(self.session_id, self.reader_id, code, report.case_s)
            for level, seconds in report.levels_s.items():
                reading = self.store.add_time(self.session_id, self.reader_id, code, seconds, level=level)
        except (SSCError, sqlite3.Error, OSError) as exc:
            self._failed("Reading time", exc)
            return
        self._saved(reading, "Reading time", "Reading time")

    # --- lifetime ------------------------------------------------------------------------------------

    def close(self) -> None:
        """Write the pending time and close the study (the window is closing or another study opens)."""
        if self._closed:
            return
        self.clock.stop()
        self.flush_time()
        self._closed = True
        self._flush_timer.stop()
        for signal, slot in (
            (self.viewer.volumeChanged, self._on_volume),
            (self.viewer.loadFailed, self._on_load_failed),
            (self.viewer.loadCancelled, self._on_load_cancelled),
            (self.viewer.levelEdited, self._on_level_edited),
            (self.viewer.currentLevelChanged, self._on_current_level),
        ):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        self.viewer.set_levels_locked(None)
        self.store.close()


__all__ = ["RATING_ITEMS", "HeatmapLookup", "ReadingController", "SaveStatus", "write_error_text"]
