"""The score panel: TOT, GG and RET of the current level, typed with the keyboard, saved as they are entered.

Keys in a score field (the reader never needs the mouse):

* digits type the value (0..100, whole numbers); **Up/Down** add or take 5 (snapping to the 5 % grid) and
  save at once;
* **Tab** / **Enter** save the field and move on (TOT -> GG -> RET -> next level's TOT; the image jumps
  to that level), **Shift+Tab** goes back; **Page Down / Page Up** save and go to the next / previous level;
* **Esc** undoes what was typed and not yet saved, or, with nothing typed, returns to the image;
* **Ctrl+Enter** submits the case (after a confirmation); **Ctrl+PgDn / Ctrl+PgUp** open the next /
  previous case of the worklist.

Each field states whether its value is in the study file: "saved" only after the store has committed it;
a value being typed is "not saved yet"; a value the store refused (or could not write) stays in the field,
marked "NOT saved", with the reason. A broken rule (grid, range, max(GG, RET) <= TOT <= GG + RET) is shown on
the field as soon as it is typed, with the reason from :func:`ssc_core.scoring.score_violations`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from PySide6.QtCore import QAbstractItemModel, QEvent, QRegularExpression, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.controller import ViewerController
from app.reading import ReadingController
from app.widgets.ai_style import AI_BACKGROUND, AI_LABEL, ai_css
from app.widgets.score_table import ScoreTableModel
from ssc_core.constants import LEVELS, PATTERNS, SCORE_MAX, SCORE_MIN, SCORE_STEP, Level, Pattern
from ssc_core.scoring import LevelScores, RuleViolation, patient_summary, score_violations, value_violation

ERROR_COLOR = "#c82828"
WARN_COLOR = "#b06000"
OK_COLOR = "#1f8a3c"
MUTED_COLOR = "#808080"


def compact_table(parent: QWidget, name: str, model: QAbstractItemModel) -> QTableView:
    """A read-only table of the level x pattern grid that shows every row without scrolling: no keyboard
    focus (the keys belong to scoring or rating), no selection, stretched columns, height fixed to the
    rows."""
    table = QTableView(parent)
    table.setObjectName(name)
    table.setModel(model)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setDefaultSectionSize(parent.fontMetrics().height() + 6)
    rows_h = table.verticalHeader().defaultSectionSize() * model.rowCount()
    table.setFixedHeight(rows_h + table.horizontalHeader().sizeHint().height() + 4)
    return table


class FieldState(enum.Enum):
    EMPTY = "empty"
    SAVED = "saved"
    TYPING = "typing"  # changed, not yet saved
    FAILED = "failed"  # the store refused or could not write it


def parse_score_text(text: str) -> int | None:
    """The value typed in a field (None for an empty field)."""
    t = text.strip()
    return int(t) if t else None


def stepped(value: int | None, direction: int) -> int:
    """Up/Down: the next grid value above/below ``value`` (an empty field starts at 0), within 0..100."""
    if value is None:
        return SCORE_MIN
    if direction > 0:
        nxt = (value // SCORE_STEP + 1) * SCORE_STEP
    else:
        nxt = (-(-value // SCORE_STEP) - 1) * SCORE_STEP  # ceil to the grid, then one step down
    return int(min(SCORE_MAX, max(SCORE_MIN, nxt)))


class ScoreField(QLineEdit):
    """One score (0..100) with the keys of the module docstring."""

    #: Save what is typed: (value or None).
    commitRequested = Signal(object)
    #: Move to the next (+1) or previous (-1) field.
    navigate = Signal(int)
    #: Move to the next (+1) or previous (-1) level.
    levelStep = Signal(int)
    submitRequested = Signal()
    #: Esc with nothing to undo: back to the image.
    leaveRequested = Signal()
    #: Ctrl+PgDn / Ctrl+PgUp: the next (+1) or previous (-1) case of the worklist.
    caseStep = Signal(int)

    def __init__(self, pattern: Pattern, parent=None) -> None:
        super().__init__(parent)
        self.pattern = pattern
        self.setObjectName(f"score{pattern.value}")
        self.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,3}"), self))
        self.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.setMaximumWidth(70)
        self.setToolTip(
            f"{pattern.value}: {pattern.long_name}, % of the lung area on this slice (0-100, steps of 5).\n"
            "Type the number; Up/Down ±5; Tab or Enter saves and moves on; PgDn/PgUp next/previous level."
        )
        self.saved_text = ""
        self._attempted: str | None = None
        self.textEdited.connect(self._on_edited)

    def _on_edited(self, _text: str) -> None:
        self._attempted = None

    @property
    def dirty(self) -> bool:
        """Typed text that is not what the store holds."""
        return self.text().strip() != self.saved_text

    def show_saved(self, value: int | None) -> None:
        """Show the stored value (discarding anything typed)."""
        self.saved_text = "" if value is None else str(value)
        self._attempted = None
        if self.text() != self.saved_text:
            self.setText(self.saved_text)

    def set_saved_text(self, value: int | None) -> None:
        """The store's value changed; what is typed (if different) stays."""
        self.saved_text = "" if value is None else str(value)

    def commit(self, *, retry: bool = True) -> None:
        """Ask to save what is typed (nothing when it is what the store holds).

        Keys (Tab, Enter, Up/Down, PgDn/PgUp) always try again after a failed save; leaving the field
        (``retry=False``) does not repeat an attempt that just failed.
        """
        text = self.text().strip()
        if text == self.saved_text or (not retry and text == self._attempted):
            return
        self._attempted = text
        self.commitRequested.emit(parse_score_text(text))

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.KeyPress:
            key = e.key()  # type: ignore[attr-defined]
            if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
                self.commit()
                self.navigate.emit(-1 if key == Qt.Key.Key_Backtab else 1)
                return True
        return super().event(e)

    def keyPressEvent(self, e: QKeyEvent) -> None:
        key = e.key()
        ctrl = bool(e.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            value = parse_score_text(self.text())
            self.setText(str(stepped(value, 1 if key == Qt.Key.Key_Up else -1)))
            self._attempted = None
            self.textEdited.emit(self.text())
            self.commit()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.commit()
            if ctrl:
                self.submitRequested.emit()
            else:
                self.navigate.emit(1)
            return
        if key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            self.commit()
            (self.caseStep if ctrl else self.levelStep).emit(1 if key == Qt.Key.Key_PageDown else -1)
            return
        if key == Qt.Key.Key_Escape:
            if self.dirty:
                self.setText(self.saved_text)
                self._attempted = None
                self.textEdited.emit(self.text())
            else:
                self.leaveRequested.emit()
            return
        super().keyPressEvent(e)

    def focusOutEvent(self, e: QFocusEvent) -> None:
        super().focusOutEvent(e)
        if e.reason() != Qt.FocusReason.PopupFocusReason:
            self.commit(retry=False)


class ScorePanel(QWidget):
    """Score entry for the current level, the five-level table, the patient's stage and the Submit button.

    The current level is the viewer's (keys 1-5, the level panel, the localizers); moving between levels from
    the panel jumps the viewer there. ``submitRequested`` asks the window to confirm and submit.
    """

    submitRequested = Signal()
    leaveRequested = Signal()
    caseStepRequested = Signal(int)

    def __init__(self, reading: ReadingController, viewer: ViewerController, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("scorePanel")
        self._r = reading
        self._v = viewer
        self._level: Level = LEVELS[0]
        #: Values whose save failed, per level and pattern: (the text entered, why). Kept until saved or
        #: undone, also while another level is shown.
        self._failed: dict[tuple[Level, Pattern], tuple[str, str]] = {}

        self.case_label = QLabel(self)
        self.case_label.setObjectName("scoreCaseLabel")
        self.level_label = QLabel(self)
        self.level_label.setObjectName("scoreLevelLabel")
        self.level_label.setWordWrap(True)
        #: After-commit sessions: which phase the reading is in (unaided, or the assisted revision).
        self.phase_label = QLabel(self)
        self.phase_label.setObjectName("readingPhase")
        self.phase_label.setWordWrap(True)
        self.phase_label.hide()
        self.fields: dict[Pattern, ScoreField] = {}
        self.status: dict[Pattern, QLabel] = {}
        #: The AI's score beside each field (where the session shows it): italic, violet, labelled "AI".
        self.ai_values: dict[Pattern, QLabel] = {}
        self._suggestions: Mapping[Level, Mapping[Pattern, float]] | None = None
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setColumnStretch(4, 1)
        for row, pattern in enumerate(PATTERNS):
            name = QLabel(f"<b>{pattern.value}</b>", self)
            name.setToolTip(pattern.long_name)
            field = ScoreField(pattern, self)
            status = QLabel(self)
            status.setObjectName(f"scoreStatus{pattern.value}")
            status.setWordWrap(True)
            ai = QLabel(self)
            ai.setObjectName(f"aiScore{pattern.value}")
            ai.setStyleSheet(f"QLabel {{ {ai_css()} background: {AI_BACKGROUND.name()}; padding: 1px 4px; }}")
            ai.hide()
            self.ai_values[pattern] = ai
            grid.addWidget(name, row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(QLabel("%", self), row, 2)
            grid.addWidget(ai, row, 3)
            grid.addWidget(status, row, 4)
            self.fields[pattern] = field
            self.status[pattern] = status
            field.textEdited.connect(lambda _t, p=pattern: self._on_text_edited(p))
            field.commitRequested.connect(lambda value, p=pattern: self._commit(p, value))
            field.navigate.connect(lambda d, p=pattern: self._navigate(p, d))
            field.levelStep.connect(self.step_level)
            field.submitRequested.connect(self.submitRequested)
            field.leaveRequested.connect(self.leaveRequested)
            field.caseStep.connect(self.caseStepRequested)
        self.keys_hint = QLabel(
            "Type · ↑/↓ ±5 · Tab/Enter next · PgDn/PgUp level · Esc image · Ctrl+Enter submit", self
        )
        self.keys_hint.setStyleSheet(f"color: {MUTED_COLOR};")
        self.keys_hint.setWordWrap(True)

        self.model = ScoreTableModel(reading, self)
        self.table = compact_table(self, "scoreTable", self.model)
        self.table.clicked.connect(self._on_table_clicked)
        self.stage_label = QLabel(self)
        self.stage_label.setObjectName("gohStage")
        self.stage_label.setWordWrap(True)
        self.problems_label = QLabel(self)
        self.problems_label.setObjectName("submitProblems")
        self.problems_label.setWordWrap(True)
        self.submit_button = QPushButton("Submit case…", self)
        self.submit_button.setObjectName("submitCase")
        self.submit_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.submit_button.setToolTip("Submit and lock this case (Ctrl+Enter); you are asked to confirm")
        self.submit_button.clicked.connect(self.submitRequested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.case_label)
        layout.addWidget(self.phase_label)
        layout.addWidget(self.level_label)
        layout.addLayout(grid)
        layout.addWidget(self.keys_hint)
        layout.addWidget(self.table)
        layout.addWidget(self.stage_label)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.submit_button)
        layout.addStretch(1)
        # Two lines kept for the texts that wrap at the dock's width (the level's definition with "not
        # placed: Shift+1 sets it here", the stage, what blocks submission): the dock does not grow for a
        # label that wraps, and the table's last row was drawn under the stage text.
        for label in (self.level_label, self.stage_label, self.problems_label):
            label.setMinimumHeight(2 * label.fontMetrics().lineSpacing())
        self.setMinimumHeight(layout.sizeHint().height())
        self.setMinimumWidth(280)

        reading.caseChanged.connect(self._on_case)
        reading.caseLoading.connect(lambda _c: self._refresh_all())
        reading.readingChanged.connect(lambda _r: self._on_saved())
        reading.viewChanged.connect(lambda _v: self._refresh_header())
        reading.editFailed.connect(self._on_failed)
        viewer.currentLevelChanged.connect(self._on_viewer_level)
        viewer.levelsChanged.connect(self._refresh_level_label)
        self._on_case(reading.case_code)

    # --- state ---------------------------------------------------------------------------------------

    @property
    def level(self) -> Level:
        return self._level

    def pending(self) -> dict[Pattern, str]:
        """Fields whose text is not what the store holds (typed, or refused)."""
        return {p: f.text().strip() for p, f in self.fields.items() if f.dirty}

    def candidate_scores(self) -> LevelScores:
        """The current level's scores as the fields show them (typed values over saved ones)."""
        scores = self._r.scores(self._level)
        for p, f in self.fields.items():
            scores = scores.with_value(p, parse_score_text(f.text()))
        return scores

    def field_problems(self) -> dict[Pattern, list[RuleViolation]]:
        """The rules each field breaks now (grid and range of each, the union rule on TOT)."""
        out: dict[Pattern, list[RuleViolation]] = {p: [] for p in PATTERNS}
        for v in score_violations(self.candidate_scores()):
            out.setdefault(Pattern(v.field), []).append(v)
        return out

    # --- entering ------------------------------------------------------------------------------------

    def focus_scores(self, pattern: Pattern = Pattern.TOT) -> None:
        """Put the keyboard into the score fields (Enter on the image)."""
        if self.fields[pattern].isEnabled():
            self.fields[pattern].setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.fields[pattern].selectAll()

    def _commit(self, pattern: Pattern, value: int | None) -> None:
        key = (self._level, pattern)
        text = self.fields[pattern].text().strip()
        v = value_violation(pattern, value)
        if v is not None:  # off the grid or out of range: the store would refuse it; say why, keep it
            self._failed[key] = (text, v.message)
            self._r.note_unsaved(f"{self._level.label}.{pattern.value}", v.message)
            self._refresh_fields()
            return
        if self._r.set_score(self._level, pattern, value):
            self._failed.pop(key, None)
            self.fields[pattern].set_saved_text(value)
        self._refresh_fields()

    def _on_text_edited(self, pattern: Pattern) -> None:
        f = self.fields[pattern]
        if self._failed.pop((self._level, pattern), None) is not None and not f.dirty:
            self._r.discard_unsaved(f"{self._level.label}.{pattern.value}")
        self._refresh_fields()

    def _on_failed(self, field: str, message: str) -> None:
        level, _, pat = field.partition(".")
        if level == self._level.label and pat in Pattern.__members__:
            p = Pattern(pat)
            self._failed[(self._level, p)] = (self.fields[p].text().strip(), message)
            self._refresh_fields()

    def _navigate(self, pattern: Pattern, direction: int) -> None:
        i = PATTERNS.index(pattern) + direction
        if 0 <= i < len(PATTERNS):
            self.focus_scores(PATTERNS[i])
            return
        j = LEVELS.index(self._level) + direction
        if not 0 <= j < len(LEVELS):
            # past RET of L5: stay (submission is Ctrl+Enter); before TOT of L1: stay
            self.focus_scores(PATTERNS[-1] if direction > 0 else PATTERNS[0])
            return
        self.go_to_level(LEVELS[j])
        self.focus_scores(PATTERNS[0] if direction > 0 else PATTERNS[-1])

    def step_level(self, direction: int) -> None:
        j = LEVELS.index(self._level) + direction
        if 0 <= j < len(LEVELS):
            focus = next((p for p, f in self.fields.items() if f.hasFocus()), Pattern.TOT)
            self.go_to_level(LEVELS[j])
            self.focus_scores(focus)

    def go_to_level(self, level: Level) -> None:
        """Make ``level`` current in the viewer (the image jumps to it when it is placed)."""
        for f in self.fields.values():
            f.commit(retry=False)
        self._v.jump_to_level(level)
        if self._level != level:  # jump_to_level always sets the current level; be safe if it did not
            self._show_level(level)

    def _on_table_clicked(self, index) -> None:
        level = self.model.level_at(index.row())
        if level is not None:
            self.go_to_level(level)
            self.focus_scores()

    # --- display -------------------------------------------------------------------------------------

    def _on_viewer_level(self, level: Level | None) -> None:
        if level is not None and level != self._level:
            for f in self.fields.values():
                f.commit(retry=False)
            self._show_level(level)

    # --- the AI's scores (where the session shows them) -------------------------------------------------

    def set_suggestions(self, scores: Mapping[Level, Mapping[Pattern, float]] | None) -> None:
        """The AI's scores of the case shown, from the reader view (None: none shown): beside each field
        and as the table's AI columns."""
        self._suggestions = scores
        self.model.set_suggestions(scores)
        self._refresh_ai_values()

    def _refresh_ai_values(self) -> None:
        per = None if self._suggestions is None else self._suggestions.get(self._level)
        for p, label in self.ai_values.items():
            v = None if per is None else per.get(p)
            if self._suggestions is None:
                label.clear()
                label.setToolTip("")
                label.hide()
                continue
            label.setText(f"{AI_LABEL} {v:.0f}" if v is not None else f"{AI_LABEL} –")
            label.setToolTip(
                f"The AI's {p.value} at {self._level.label}: "
                + (f"{v:.0f} %" if v is not None else "none (no lung on its slice, or outside the scan)")
                + ". Research use only; your own value is the one in the field."
            )
            label.show()

    def set_phase(self, text: str, *, assisted: bool) -> None:
        """Show the reading's phase (after-commit sessions); empty text hides the banner."""
        if not text:
            self.phase_label.hide()
            return
        colour = "#5a2d82" if assisted else "#1f5a8a"
        background = "#efe6fa" if assisted else "#e4eef8"
        self.phase_label.setText(text)
        self.phase_label.setStyleSheet(
            f"QLabel {{ color: {colour}; background: {background}; padding: 4px; border-radius: 3px; }}"
        )
        self.phase_label.show()

    def _show_level(self, level: Level) -> None:
        self._level = Level(level)
        scores = self._r.scores(self._level)
        for p, f in self.fields.items():
            f.show_saved(scores.get(p))
            failed = self._failed.get((self._level, p))
            if failed is not None:  # an entry that was not saved stays visible, marked
                f.setText(failed[0])
        self.model.set_current_level(self._level)
        self._refresh_ai_values()
        self._refresh_level_label()
        self._refresh_fields()

    def _on_case(self, _code) -> None:
        self._failed.clear()  # the controller keeps reporting what was not saved in the case left
        self._show_level(self._v.current_level or LEVELS[0])
        self._refresh_all()

    def _on_saved(self) -> None:
        scores = self._r.scores(self._level)
        for p, f in self.fields.items():
            if (self._level, p) not in self._failed and not f.hasFocus():
                f.show_saved(scores.get(p))
            else:
                f.set_saved_text(scores.get(p))
        self._refresh_all()

    def _refresh_all(self) -> None:
        self._refresh_header()
        self._refresh_level_label()
        self._refresh_fields()

    def _refresh_header(self) -> None:
        r = self._r
        code = r.case_code
        if r.loading_code is not None:
            self.case_label.setText(f"Loading case {r.loading_code}…")
        elif code is None:
            self.case_label.setText("No case open.")
        else:
            n = r.view.total
            reading = r.reading
            status = "submitted (locked)" if reading is not None and reading.submitted else "in progress"
            if reading is None:
                status = "not started"
            self.case_label.setText(f"<b>{code}</b> · case {r.position()} of {n} · {status}")

    def _refresh_level_label(self) -> None:
        level = self._level
        p = self._v.placement(level)
        where = (
            f"slice {p.slice_index + 1}"
            if p is not None
            else f"<span style='color:{WARN_COLOR}'>not placed: Shift+{int(level)} sets it here</span>"
        )
        involved = [
            v for v in self._v.violations() if v.field == level.label or f"{level.label} " in v.message
        ]  # a pair out of order is reported on its lower level; show it on both
        order = "".join(f"<br><span style='color:{ERROR_COLOR}'>⚠ {v.message}</span>" for v in involved)
        self.level_label.setText(f"<b>{level.label}</b> — {level.definition} · {where}{order}")

    def _refresh_fields(self) -> None:
        locked = self._r.locked_reason
        usable = self._r.case_code is not None and self._r.loading_code is None
        problems = self.field_problems()
        for p, f in self.fields.items():
            f.setEnabled(usable and locked is None)
            text = f.text().strip()
            failed = self._failed.get((self._level, p))
            if failed is not None and f.dirty:
                state, color, msg = FieldState.FAILED, ERROR_COLOR, f"NOT saved: {failed[1]}"
            elif f.dirty:
                state, color, msg = FieldState.TYPING, WARN_COLOR, "not saved yet (Tab or Enter saves)"
            elif text:
                state, color, msg = FieldState.SAVED, OK_COLOR, "✓ saved"
            else:
                state, color, msg = FieldState.EMPTY, MUTED_COLOR, ""
            rules = problems.get(p, [])
            if rules and state is not FieldState.FAILED:
                msg = (msg + " · " if msg else "") + " ".join(v.message for v in rules)
                color = ERROR_COLOR
            f.setProperty("state", state.value)
            border = {
                FieldState.FAILED: ERROR_COLOR,
                FieldState.TYPING: WARN_COLOR,
            }.get(state, ERROR_COLOR if rules else "")
            f.setStyleSheet(f"QLineEdit {{ border: 2px solid {border}; }}" if border else "")
            self.status[p].setText(msg)
            self.status[p].setStyleSheet(f"color: {color};")
            self.status[p].setToolTip(msg)
        self._refresh_summary()

    def _refresh_summary(self) -> None:
        r = self._r
        summary = patient_summary({lv: r.scores(lv) for lv in LEVELS})
        if summary.global_tot is None:
            self.stage_label.setText("Global extent and Goh stage: once TOT is scored at all five levels.")
        else:
            stage = summary.goh_stage
            parts = [
                f"{name} {value:.1f}"
                for name, value in (("GG", summary.global_gg), ("RET", summary.global_ret))
                if value is not None
            ]
            detail = f" ({', '.join(parts)})" if parts else ""
            self.stage_label.setText(
                f"Global extent <b>{summary.global_tot:.1f} %</b>{detail} · Goh stage: <b>{stage}</b> "
                f"({'above' if stage == 'extensive' else 'at most'} 20 %)"
            )
        locked = r.locked_reason
        blocking = submission_text(r.submission_problems())
        pending = self.pending()
        elsewhere = [f"{lv.label} {p.value}" for (lv, p) in self._failed if lv != self._level]
        if r.case_code is None:
            text = ""
        elif locked is not None:
            text = locked
        elif pending or elsewhere:
            items = [f"{self._level.label} {p.value}" for p in pending] + elsewhere
            text = "Not saved yet: " + ", ".join(items)
        else:
            text = blocking
        self.problems_label.setText(text)
        self.problems_label.setStyleSheet(
            f"color: {ERROR_COLOR if text and locked is None else MUTED_COLOR};"
        )
        can = r.case_code is not None and locked is None and not blocking and not pending and not elsewhere
        self.submit_button.setEnabled(can)
        self.submit_button.setText(
            "Commit unaided reading…" if can and r.needs_unaided_commit else "Submit case…"
        )


def submission_text(problems: list[RuleViolation]) -> str:
    """What blocks submission, in one short paragraph (missing items counted, broken rules quoted)."""
    if not problems:
        return ""
    missing_levels = [p.field for p in problems if p.code == "level_missing"]
    missing_scores = [p for p in problems if p.code == "score_missing"]
    missing_ratings = [p for p in problems if p.code == "rating_missing"]
    others = [
        p.message for p in problems if p.code not in ("level_missing", "score_missing", "rating_missing")
    ]
    parts = []
    if missing_levels:
        parts.append("not placed: " + ", ".join(missing_levels))
    if missing_scores:
        parts.append(f"{len(missing_scores)} score(s) missing")
    if missing_ratings:
        parts.append(f"{len(missing_ratings)} rating(s) missing")
    parts += others
    return "Cannot submit yet: " + "; ".join(p.rstrip(".") for p in parts) + "."
