"""The level panel: the five levels with slice, world z and state, rule violations inline, and actions."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.controller import LevelState, ViewerController
from app.widgets.ai_style import AI_BACKGROUND, AI_LABEL, AI_TEXT_COLOR, ai_font
from ssc_core.constants import LEVELS, Level

VIOLATION_COLOR = QColor(220, 50, 50)
PROPOSED_COLOR = QColor(200, 120, 0)
PLACED_COLOR = QColor(20, 140, 60)

_Index = QModelIndex | QPersistentModelIndex


class LevelTableModel(QAbstractTableModel):
    """Rows L1..L5; columns level, slice (1-based, as shown on the image), world z, state, and the AI's
    suggested slice while the AI suggests levels (a column of its own, italic and violet)."""

    BASE_COLUMNS = ("Level", "Slice", "z (mm)", "Status")
    AI_COLUMN = f"{AI_LABEL} slice"

    def __init__(self, controller: ViewerController, parent=None) -> None:
        super().__init__(parent)
        self._c = controller
        self._with_ai = False
        controller.levelsChanged.connect(self.refresh)
        controller.currentLevelChanged.connect(lambda _lv: self.refresh())
        controller.volumeChanged.connect(lambda _v: self.refresh())
        controller.suggestionsChanged.connect(self._on_suggestions)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.BASE_COLUMNS + ((self.AI_COLUMN,) if self._with_ai else ())

    def _on_suggestions(self) -> None:
        with_ai = bool(self._c.suggested_levels)
        if with_ai != self._with_ai:
            self.beginResetModel()
            self._with_ai = with_ai
            self.endResetModel()
        else:
            self.refresh()

    def refresh(self) -> None:
        self.dataChanged.emit(self.index(0, 0), self.index(len(LEVELS) - 1, len(self.columns) - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(LEVELS)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return None

    def level_at(self, row: int) -> Level:
        return LEVELS[row]

    def status_text(self, level: Level) -> str:
        if self._c.unsaved_level(level) is not None:
            return "NOT SAVED"
        state = self._c.level_state(level)
        if state == LevelState.PLACED and self._c.violations_for(level):
            return "placed: check order"
        if state == LevelState.PROPOSED:
            return "proposed: C to confirm"
        if state == LevelState.PLACED:
            return self._c.placed_label
        return state.value

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        level = LEVELS[index.row()]
        col = index.column()
        state = self._c.level_state(level)
        placement = self._c.placement(level)
        if placement is None and state == LevelState.PROPOSED:
            placement = self._c.l4_proposal()
        problems = self._c.violations_for(level)
        if col == len(self.BASE_COLUMNS):
            return self._ai_data(level, role)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return level.label
            if col == 1:
                return "" if placement is None else str(placement.slice_index + 1)
            if col == 2:
                return "" if placement is None else f"{placement.world_z:.1f}"
            return self.status_text(level)
        unsaved = self._c.unsaved_level(level)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{level.label}: {level.definition}"
            if problems:
                tip += "\n" + "\n".join(p.message for p in problems)
            if unsaved:
                tip += f"\nNot saved: {unsaved}"
            return tip
        if role == Qt.ItemDataRole.ForegroundRole:
            if problems or unsaved:
                return QBrush(VIOLATION_COLOR)
            if state == LevelState.PROPOSED:
                return QBrush(PROPOSED_COLOR)
            if state == LevelState.PLACED and col == 3:
                return QBrush(PLACED_COLOR)
            return None
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            if level == self._c.current_level:
                font.setBold(True)
            if state == LevelState.PROPOSED:
                font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (1, 2):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _ai_data(self, level: Level, role: int):
        s = self._c.suggested_level(level)
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if s is None else str(s.slice_index + 1)
        if role == Qt.ItemDataRole.ToolTipRole:
            if s is None:
                return f"The AI suggests no position for {level.label}."
            return (
                f"AI suggestion for {level.label}: slice {s.slice_index + 1} (z {s.world_z:.1f} mm).\n"
                "“Accept AI” places the level there. AI output, research use only."
            )
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(AI_TEXT_COLOR)
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(AI_BACKGROUND)
        if role == Qt.ItemDataRole.FontRole:
            return ai_font(bold=level == self._c.current_level)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class LevelPanel(QWidget):
    """Table of the five levels plus the violation messages and the level actions."""

    #: The reader picked a level in the table (jump there).
    levelActivated = Signal(object)
    #: Accept the AI's suggestion for a level / for every level.
    acceptSuggestion = Signal(object)
    acceptAllSuggestions = Signal()

    def __init__(self, controller: ViewerController, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("levelPanel")
        self._c = controller
        self.model = LevelTableModel(controller, self)
        self.table = QTableView(self)
        self.table.setObjectName("levelTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        rows_h = self.table.verticalHeader().defaultSectionSize() * len(LEVELS)
        self.table.setFixedHeight(rows_h + header.sizeHint().height() + 4)
        self.table.clicked.connect(lambda idx: self.levelActivated.emit(self.model.level_at(idx.row())))

        self.definition = QLabel(self)
        self.definition.setObjectName("levelDefinition")
        self.definition.setWordWrap(True)
        self.problems = QLabel(self)
        self.problems.setObjectName("levelProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(f"color: {VIOLATION_COLOR.name()};")
        self.problems.hide()

        self.set_button = QPushButton("Set here", self)
        self.set_button.setToolTip("Place the selected level on the current slice (Shift+1..5)")
        self.confirm_button = QPushButton("Confirm L4", self)
        self.confirm_button.setObjectName("confirmL4")
        self.confirm_button.setToolTip("Accept the proposed L4, halfway between L3 and L5 (C)")
        self.clear_button = QPushButton("Remove", self)
        self.clear_button.setToolTip("Remove the selected level (Delete)")
        self.accept_button = QPushButton(f"Accept {AI_LABEL}", self)
        self.accept_button.setObjectName("acceptAILevel")
        self.accept_button.setToolTip("Place the selected level where the AI suggests it (research use only)")
        self.accept_all_button = QPushButton(f"Accept all {AI_LABEL}", self)
        self.accept_all_button.setObjectName("acceptAllAILevels")
        self.accept_all_button.setToolTip("Place every level where the AI suggests it (research use only)")
        for b in (self.accept_button, self.accept_all_button):
            b.setStyleSheet(f"QPushButton {{ color: {AI_TEXT_COLOR.name()}; font-style: italic; }}")
            b.hide()
        for b in (
            self.set_button,
            self.confirm_button,
            self.clear_button,
            self.accept_button,
            self.accept_all_button,
        ):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accept_button.clicked.connect(self._accept_selected)
        self.accept_all_button.clicked.connect(self.acceptAllSuggestions)
        self.set_button.clicked.connect(self._set_here)
        self.confirm_button.clicked.connect(controller.confirm_l4)
        self.clear_button.clicked.connect(lambda: controller.clear_level())

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.set_button, self.confirm_button, self.clear_button):
            buttons.addWidget(b)
        ai_buttons = QHBoxLayout()
        ai_buttons.setContentsMargins(0, 0, 0, 0)
        ai_buttons.addWidget(self.accept_button)
        ai_buttons.addWidget(self.accept_all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addLayout(ai_buttons)
        layout.addWidget(self.definition)
        layout.addWidget(self.problems)
        layout.addStretch(1)
        # Room for the table, the buttons and three lines of messages, so nothing is squeezed when a
        # violation is reported.
        line = self.fontMetrics().lineSpacing()
        self.setMinimumHeight(
            self.table.height() + self.set_button.sizeHint().height() + 4 * line + 3 * layout.spacing() + 12
        )

        controller.levelsChanged.connect(self._refresh)
        controller.currentLevelChanged.connect(lambda _lv: self._refresh())
        controller.volumeChanged.connect(lambda _v: self._refresh())
        controller.suggestionsChanged.connect(self._refresh)
        self._refresh()

    def _accept_selected(self) -> None:
        level = self._c.current_level
        if level is None:
            level = next((lv for lv in LEVELS if self._c.suggested_level(lv) is not None), None)
        if level is not None:
            self.acceptSuggestion.emit(level)

    def _set_here(self) -> None:
        level = self._c.current_level
        if level is None:
            # No level chosen yet: the first unplaced one, cranial to caudal.
            level = next((lv for lv in LEVELS if self._c.placement(lv) is None), Level.L1)
        self._c.place_level(level)

    def _refresh(self) -> None:
        c = self._c
        has_volume = c.volume is not None
        current = c.current_level
        if current is not None:
            self.table.selectRow(LEVELS.index(current))
            self.definition.setText(f"<b>{current.label}</b>: {current.definition}")
        else:
            self.table.clearSelection()
            self.definition.setText("Keys 1–5 go to a level; Shift+1–5 set it at the current slice.")
        lines = [f"⚠ {p.message}" for p in c.violations()]
        lines += [f"⚠ {lv.label} not saved: {why}" for lv in LEVELS if (why := c.unsaved_level(lv))]
        self.problems.setText("\n".join(lines))
        self.problems.setVisible(bool(lines))
        editable = has_volume and c.levels_locked is None
        self.set_button.setEnabled(editable)
        self.confirm_button.setEnabled(editable and c.l4_proposal() is not None)
        self.clear_button.setEnabled(editable and current is not None and c.placement(current) is not None)
        suggestions = c.suggested_levels
        for b in (self.accept_button, self.accept_all_button):
            b.setVisible(bool(suggestions))
        mine = c.placements
        differs = [
            lv
            for lv, p in suggestions.items()
            if mine.get(lv) is None or mine[lv].slice_index != p.slice_index
        ]
        self.accept_button.setEnabled(
            editable and current is not None and current in suggestions and current in differs
        )
        self.accept_all_button.setEnabled(editable and bool(differs))

    @property
    def problem_text(self) -> str:
        return "" if self.problems.isHidden() else self.problems.text()
