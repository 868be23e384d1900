"""The rating panel of heat-map rating sessions: a Likert rating (1-5) per level and pattern.

For each level and pattern (TOT, GG, RET) the stored heat map is drawn over the AI's level slice and the
reader rates how well it explains the disease: keys **1-5** (labels from ``LIKERT_LABELS``, "Strongly
disagree" .. "Strongly agree") save the rating and move to the next unrated item; **Tab / Shift+Tab** move
without rating; **H** shows or hides the heat map. The network's scores are never shown here (a heat-map
rating session is blinded to them; the reader view does not even hold them).
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.reading import ReadingController
from app.widgets.score_panel import ERROR_COLOR, MUTED_COLOR, compact_table, submission_text
from ssc_core.constants import LEVELS, LIKERT_LABELS, LIKERT_SCALE, PATTERNS, Level, Pattern

TARGET_BACKGROUND = QColor(255, 236, 170)

_Index = QModelIndex | QPersistentModelIndex


class RatingTableModel(QAbstractTableModel):
    """Rows L1..L5, columns TOT/GG/RET: the saved ratings; the item being rated is highlighted."""

    def __init__(self, reading: ReadingController, parent=None) -> None:
        super().__init__(parent)
        self._r = reading
        reading.readingChanged.connect(lambda _r: self.refresh())
        reading.caseChanged.connect(lambda _c: self.refresh())
        reading.ratingTargetChanged.connect(lambda _l, _p: self.refresh())

    def refresh(self) -> None:
        self.dataChanged.emit(self.index(0, 0), self.index(len(LEVELS) - 1, len(PATTERNS) - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(LEVELS)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(PATTERNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                PATTERNS[section].value if orientation == Qt.Orientation.Horizontal else LEVELS[section].label
            )
        return None

    def item_at(self, index: _Index) -> tuple[Level, Pattern]:
        return LEVELS[index.row()], PATTERNS[index.column()]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        level, pattern = self.item_at(index)
        value = self._r.values.rating(level, pattern)
        target = self._r.rating_target == (level, pattern)
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{level.label} {pattern.value}: " + (
                "not rated" if value is None else LIKERT_LABELS[value]
            )
        if role == Qt.ItemDataRole.BackgroundRole and target:
            return QBrush(TARGET_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole and target:
            return QBrush(QColor(0, 0, 0))
        if role == Qt.ItemDataRole.FontRole and target:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None


class RatingPanel(QWidget):
    """See the module docstring. ``submitRequested`` asks the window to confirm and submit."""

    submitRequested = Signal()

    def __init__(self, reading: ReadingController, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("ratingPanel")
        self._r = reading
        self.case_label = QLabel(self)
        self.case_label.setObjectName("ratingCaseLabel")
        self.target_label = QLabel(self)
        self.target_label.setObjectName("ratingTarget")
        self.target_label.setWordWrap(True)
        self.question = QLabel(self)
        self.question.setWordWrap(True)
        self.buttons = QButtonGroup(self)
        self.buttons.setExclusive(True)
        row = QVBoxLayout()
        row.setSpacing(2)
        for k in LIKERT_SCALE:
            b = QPushButton(f"{k}   {LIKERT_LABELS[k]}", self)
            b.setObjectName(f"rate{k}")
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setStyleSheet("QPushButton { text-align: left; padding: 3px 8px; }")
            b.setToolTip(f"Key {k}: {LIKERT_LABELS[k]}")
            self.buttons.addButton(b, k)
            row.addWidget(b)
        self.buttons.idClicked.connect(self._on_button)
        self.heatmap_status = QLabel(self)
        self.heatmap_status.setObjectName("heatmapStatus")
        self.heatmap_status.setWordWrap(True)
        self.keys_hint = QLabel(
            "Keys 1–5 rate and move on · Tab/Shift+Tab next/previous · H heat map on/off", self
        )
        self.keys_hint.setWordWrap(True)
        self.keys_hint.setStyleSheet(f"color: {MUTED_COLOR};")
        self.model = RatingTableModel(reading, self)
        self.table = compact_table(self, "ratingTable", self.model)
        self.table.clicked.connect(lambda idx: reading.set_rating_target(*self.model.item_at(idx)))
        self.blinding_note = QLabel(
            "The AI's scores are hidden in this session: you rate the heat maps only. "
            "AI output for research use; not a diagnosis.",
            self,
        )
        self.blinding_note.setWordWrap(True)
        self.blinding_note.setStyleSheet(f"color: {MUTED_COLOR};")
        self.problems_label = QLabel(self)
        self.problems_label.setObjectName("submitProblems")
        self.problems_label.setWordWrap(True)
        self.submit_button = QPushButton("Submit case…", self)
        self.submit_button.setObjectName("submitCase")
        self.submit_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.submit_button.clicked.connect(self.submitRequested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.case_label)
        layout.addWidget(self.target_label)
        layout.addWidget(self.question)
        buttons = QHBoxLayout()
        buttons.addLayout(row)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(self.heatmap_status)
        layout.addWidget(self.keys_hint)
        layout.addWidget(self.table)
        layout.addWidget(self.blinding_note)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.submit_button)
        layout.addStretch(1)
        self.setMinimumHeight(layout.sizeHint().height())
        self.setMinimumWidth(280)

        reading.caseChanged.connect(lambda _c: self.refresh())
        reading.caseLoading.connect(lambda _c: self.refresh())
        reading.readingChanged.connect(lambda _r: self.refresh())
        reading.viewChanged.connect(lambda _v: self.refresh())
        reading.ratingTargetChanged.connect(lambda _l, _p: self.refresh())
        self.refresh()

    def _on_button(self, k: int) -> None:
        self._r.rate(k)

    def set_heatmap_status(self, text: str, *, problem: bool = False) -> None:
        self.heatmap_status.setText(text)
        self.heatmap_status.setStyleSheet(f"color: {ERROR_COLOR if problem else MUTED_COLOR};")

    def refresh(self) -> None:
        r = self._r
        code = r.case_code
        if r.loading_code is not None:
            self.case_label.setText(f"Loading case {r.loading_code}…")
        elif code is None:
            self.case_label.setText("No case open.")
        else:
            self.case_label.setText(f"<b>{code}</b> · case {r.position()} of {r.view.total}")
        level, pattern = r.rating_target
        self.target_label.setText(
            f"<b>{level.label} · {pattern.value}</b> ({pattern.long_name}) — {level.definition}"
        )
        self.question.setText(f"The heat map explains the {pattern.long_name} on this slice:")
        value = r.values.rating(level, pattern)
        locked = r.locked_reason
        usable = code is not None and r.loading_code is None and locked is None
        for k in LIKERT_SCALE:
            b = self.buttons.button(k)
            b.setEnabled(usable)
            b.blockSignals(True)
            b.setChecked(value == k)
            b.blockSignals(False)
        if value is None:
            self.buttons.setExclusive(False)
            for k in LIKERT_SCALE:
                self.buttons.button(k).setChecked(False)
            self.buttons.setExclusive(True)
        blocking = submission_text(r.submission_problems())
        text = "" if code is None else (locked or blocking)
        self.problems_label.setText(text)
        self.problems_label.setStyleSheet(
            f"color: {ERROR_COLOR if text and locked is None else MUTED_COLOR};"
        )
        self.submit_button.setEnabled(usable and not blocking)
