"""The reading workspace: what a study session adds to the main window.

Attached to a :class:`~app.main_window.MainWindow` for one :class:`~app.reading.ReadingController`: the
worklist dock, the score panel (observer and consensus sessions) or the rating panel with the heat-map
overlay and its colour bar (heat-map rating sessions), the save indicator in the status bar, the window
title (session, case code, position; never an identifier), the submit confirmation, reader input as the
activity that drives the time on case, and what happens when a case is submitted (the next unfinished case
opens) or the worklist is done.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QMessageBox, QWidget

from app.ai_workspace import AIWorkspace
from app.dialogs.load_error import error_texts
from app.reading import ReadingController, SaveStatus
from app.widgets.colour_bar import ColourBar
from app.widgets.rating_panel import RatingPanel
from app.widgets.score_panel import ERROR_COLOR, OK_COLOR, ScorePanel
from app.widgets.worklist import WorklistPanel
from ssc_core.constants import LIKERT_SCALE, Level, Pattern
from ssc_core.errors import LoadError, SSCError

log = logging.getLogger(__name__)

APP_TITLE = "SSc Scoring Workstation"
#: Widths of the dock columns beside the image when a study opens (pixels).
LEFT_COLUMN_PX = 330
RIGHT_COLUMN_PX = 430

_ACTIVITY_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
}


class ReadingWorkspace(QObject):
    """See the module docstring. ``closed`` is emitted once the workspace has been taken off the window."""

    closed = Signal()
    #: A dialog was opened (also re-emitted as the window's ``dialogOpened``).
    dialogOpened = Signal(object)

    def __init__(self, window, reading: ReadingController) -> None:
        super().__init__(window)
        self.window = window
        self.reading = reading
        self.sv = window.slice_view
        self.last_dialog: QMessageBox | None = None

        self.worklist = WorklistPanel(reading)
        self.worklist_dock = self._dock("Worklist", "worklistDock", self.worklist)
        self.score_panel: ScorePanel | None = None
        self.rating_panel: RatingPanel | None = None
        self.colour_bar: ColourBar | None = None
        if reading.is_rating:
            self.rating_panel = RatingPanel(reading)
            self.entry_dock = self._dock("Heat-map rating", "ratingDock", self.rating_panel)
            self.rating_panel.submitRequested.connect(self.request_submit)
            self.colour_bar = window.colour_bar
            self.colour_bar.show()
            window.level_dock.setWindowTitle("Levels (found by the AI)")
            window.controller.placed_label = "found by the AI"
        else:
            self.score_panel = ScorePanel(reading, window.controller)
            self.entry_dock = self._dock("Scores", "scoreDock", self.score_panel)
            self.score_panel.submitRequested.connect(self.request_submit)
            self.score_panel.caseStepRequested.connect(self.step_case)
            self.score_panel.leaveRequested.connect(
                lambda: self.sv.setFocus(Qt.FocusReason.ShortcutFocusReason)
            )
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        window.addDockWidget(left, self.worklist_dock)
        window.addDockWidget(left, self.entry_dock)
        # The image keeps the middle: the left column for reading, the right one for the localizers.
        window.resizeDocks(
            [self.worklist_dock, window.localizer_dock],
            [LEFT_COLUMN_PX, RIGHT_COLUMN_PX],
            Qt.Orientation.Horizontal,
        )
        window.resizeDocks([self.worklist_dock, self.entry_dock], [200, 640], Qt.Orientation.Vertical)
        #: The AI of this session: its dock, suggestions, heat maps (or "AI hidden in this session").
        self.ai = AIWorkspace(self)

        self.save_label = QLabel(window)
        self.save_label.setObjectName("saveStatus")
        self.save_label.setMinimumWidth(220)
        window.statusBar().insertPermanentWidget(0, self.save_label)
        self._show_save(reading.save_status)

        self.worklist.caseActivated.connect(reading.open_case)
        reading.saveStatusChanged.connect(self._show_save)
        reading.caseChanged.connect(self._on_case)
        reading.caseLoading.connect(lambda _c: self._update_title())
        reading.viewChanged.connect(lambda _v: self._update_title())
        reading.caseSubmitted.connect(self._on_submitted)
        reading.sessionCompleted.connect(self._on_completed)
        reading.problem.connect(self._on_problem)
        reading.message.connect(lambda text: window.statusBar().showMessage(text, 6000))
        reading.ratingTargetChanged.connect(self._on_rating_target)
        if reading.is_rating:
            d = window.dispatcher
            keys = {(int(Qt.Key.Key_0) + k, 0): (lambda k=k: self.rate(k)) for k in LIKERT_SCALE}
            keys[(int(Qt.Key.Key_Tab), 0)] = lambda: reading.step_rating_target(1)
            shift = Qt.KeyboardModifier.ShiftModifier.value
            keys[(int(Qt.Key.Key_Backtab), shift)] = lambda: reading.step_rating_target(-1)
            keys[(int(Qt.Key.Key_Backtab), 0)] = lambda: reading.step_rating_target(-1)
            d.set_mode_keys(keys)
        from PySide6.QtWidgets import QApplication

        QApplication.instance().installEventFilter(self)
        self._update_title()

    def _size_columns(self) -> None:
        w = self.window
        w.resizeDocks(
            [self.worklist_dock, w.localizer_dock],
            [LEFT_COLUMN_PX, RIGHT_COLUMN_PX],
            Qt.Orientation.Horizontal,
        )

    def _dock(self, title: str, name: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        return dock

    # --- activity ------------------------------------------------------------------------------------

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() in _ACTIVITY_EVENTS and isinstance(obj, QWidget) and obj.window() is self.window:
            self.reading.note_activity()
        return False

    # --- display -------------------------------------------------------------------------------------

    def _update_title(self) -> None:
        r = self.reading
        code = r.loading_code or r.case_code
        session = r.session.label
        if code is None:
            self.window.setWindowTitle(f"{session} — {APP_TITLE}")
            return
        self.window.setWindowTitle(f"{session} · {code} ({r.position(code)} of {r.view.total}) — {APP_TITLE}")

    def _show_save(self, status: SaveStatus) -> None:
        if status.ok:
            when = "" if status.at is None else f" {status.at.astimezone():%H:%M:%S}"
            self.save_label.setText(f"✓ All changes saved{when}" if status.at else status.message)
            self.save_label.setStyleSheet(f"color: {OK_COLOR};")
        else:
            self.save_label.setText("⚠ " + status.message)
            self.save_label.setStyleSheet(f"color: {ERROR_COLOR}; font-weight: bold;")
        self.save_label.setToolTip(status.message)

    def _on_case(self, code) -> None:
        self._update_title()
        if code is None:
            return
        # A case opens with the keyboard on the image (levels: Shift+1..5; Enter types the scores).
        self.sv.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.reading.is_rating:
            self._on_rating_target(*self.reading.rating_target)
        elif self.score_panel is not None and self.reading.locked_reason is None:
            level = self.window.controller.current_level
            if level is None:
                self.window.statusBar().showMessage(
                    "Place the levels (Shift+1…5), then press Enter to type the scores.", 8000
                )

    # --- heat maps (drawn by the AI workspace; in rating sessions the item rated decides which) ---------

    def _on_rating_target(self, level: Level, pattern: Pattern) -> None:
        """Rating sessions: the item rated changed; go to its level and show its heat map."""
        if self.rating_panel is None or self.reading.case_code is None:
            return
        c = self.window.controller
        c.set_current_level(level)
        placement = c.placement(level)
        if placement is not None:
            c.set_slice(placement.slice_index)
        self.ai.refresh_overlay()

    def show_heatmap_message(self, text: str, *, problem: bool = True, on_image: bool = True) -> None:
        """Rating sessions: why there is no heat map (or where it is), in the panel and on the image."""
        if self.rating_panel is None:
            return
        self.rating_panel.set_heatmap_status(text, problem=problem)
        if on_image:
            self.sv.set_message(text)

    def show_heatmap_on(self, k: int | None) -> None:
        """Rating sessions: a heat map is shown; go to its slice."""
        self.sv.set_message("")
        if k is not None:
            self.window.controller.set_slice(k)

    def toggle_heatmap(self) -> None:
        """H pressed: show or hide the heat map (held: hidden while held, see :class:`AIWorkspace`)."""
        self.ai.heatmap_key_pressed()

    def heatmap_key_released(self) -> None:
        self.ai.heatmap_key_released()

    def rate(self, value: int) -> None:
        self.reading.rate(value)

    # --- submission ----------------------------------------------------------------------------------

    def focus_scores(self) -> None:
        if self.score_panel is not None:
            self.score_panel.focus_scores()

    def request_submit(self) -> QMessageBox | None:
        """Ask the reader to confirm, then submit (or, after-commit sessions, commit the unaided reading)."""
        r = self.reading
        if r.case_code is None:
            return None
        if self.score_panel is not None:
            for f in self.score_panel.fields.values():
                f.commit(retry=False)
            if self.score_panel.pending():
                self.window.statusBar().showMessage(
                    "Some values are not saved; fix them before submitting.", 6000
                )
                return None
        problems = r.submission_problems()
        if problems or r.locked_reason is not None:
            from app.widgets.score_panel import submission_text

            text = r.locked_reason or submission_text(problems)
            self.window.statusBar().showMessage(text, 8000)
            return None
        code = r.case_code
        box = QMessageBox(self.window)
        box.setObjectName("confirmSubmit")
        box.setIcon(QMessageBox.Icon.Question)
        if r.needs_unaided_commit and not r.is_rating:
            box.setWindowTitle("Commit the unaided reading")
            box.setText(f"Commit your unaided reading of case {code}?")
            box.setInformativeText(
                "Your levels and scores are locked as your unaided reading. In this session the AI's "
                "output is revealed after that; any change you then make is recorded as a separate, "
                "assisted reading."
            )
            action = r.commit_unaided
        else:
            box.setWindowTitle("Submit the case")
            box.setText(f"Submit case {code} ({r.position()} of {r.view.total})?")
            box.setInformativeText(
                "The reading is locked once submitted: you cannot change it afterwards (only a study admin "
                "can correct it, with a reason). The next unfinished case opens."
            )
            action = r.submit
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.button(QMessageBox.StandardButton.Yes).setText("Submit" if action == r.submit else "Commit")
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def done(button: int) -> None:
            if button == int(QMessageBox.StandardButton.Yes) and r.case_code == code:
                action()

        box.finished.connect(done)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._show_dialog(box)
        return box

    def _on_submitted(self, code: str) -> None:
        nxt = self.reading.next_unfinished(after=code)
        self.window.statusBar().showMessage(f"Case {code} submitted and locked.", 8000)
        if nxt is not None:
            self.reading.open_case(nxt)

    def _on_completed(self) -> None:
        view = self.reading.view
        box = QMessageBox(self.window)
        box.setObjectName("sessionComplete")
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("Worklist complete")
        box.setText(f"All {view.total} cases of session {view.session.label} are submitted.")
        box.setInformativeText("Thank you. Your readings are saved and locked in the study file.")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._show_dialog(box)

    def step_case(self, delta: int) -> None:
        r = self.reading
        items = r.view.worklist
        if not items:
            return
        pos = r.position(r.loading_code or r.case_code) or 0
        i = (pos - 1 + delta) % len(items) if pos else 0
        r.open_case(items[i].case_code)

    def _on_problem(self, error: BaseException) -> None:
        if isinstance(error, LoadError) or not isinstance(error, SSCError):
            reason, advice, details = error_texts(error)  # a scan that does not load
        else:
            reason, advice, details = error.message, error.hint or "", type(error).__name__
        box = QMessageBox(self.window)
        box.setObjectName("readingProblem")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Reading")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(reason)
        box.setInformativeText(advice)
        box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._show_dialog(box)

    def _show_dialog(self, box: QMessageBox) -> None:
        self.last_dialog = box
        box.open()
        self.dialogOpened.emit(box)
        self.window.dialogOpened.emit(box)

    # --- lifetime ------------------------------------------------------------------------------------

    def close(self) -> None:
        """Write pending time, close the study and take the workspace off the window."""
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.window.dispatcher.set_mode_keys({})
        self.ai.close()
        self.reading.close()
        for dock in (self.worklist_dock, self.entry_dock):
            self.window.removeDockWidget(dock)
            dock.deleteLater()
        self.window.statusBar().removeWidget(self.save_label)
        self.save_label.deleteLater()
        if self.colour_bar is not None:
            self.colour_bar.hide()
            self.colour_bar = None
        self.sv.clear_overlay()
        self.sv.set_message("")
        self.window.level_dock.setWindowTitle("Levels")
        self.window.controller.placed_label = "placed"
        self.closed.emit()
