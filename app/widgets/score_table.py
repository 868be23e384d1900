"""The compact score table: five levels x TOT, GG, RET as saved, with the patient's global extent.

Rows L1..L5 and a last "Global" row (mean over the five levels, Goh 2008); columns TOT, GG, RET. A cell shows
only what the store has saved (values being typed stay in their fields); a level whose saved scores break the
union rule is shown in red with the reason in its tooltip. Columns for suggestions (the AI's scores, where a
session's policy shows them) are switched on with :meth:`ScoreTableModel.set_suggestions`: headed "TOT AI"
etc., italic and violet on a violet tint, so they are never taken for the reader's own; they are off and
empty unless a caller hands over values from the reader view.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from app.reading import ReadingController
from app.widgets.ai_style import AI_BACKGROUND, AI_LABEL, AI_TEXT_COLOR, ai_font
from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.scoring import patient_summary, score_violations

VIOLATION_COLOR = QColor(200, 40, 40)
SUGGESTION_COLOR = AI_TEXT_COLOR

_Index = QModelIndex | QPersistentModelIndex


class ScoreTableModel(QAbstractTableModel):
    """See the module docstring. ``current_level`` is drawn bold."""

    def __init__(self, reading: ReadingController, parent=None) -> None:
        super().__init__(parent)
        self._r = reading
        self.current_level: Level | None = None
        self._suggestions: Mapping[Level, Mapping[Pattern, float]] | None = None
        reading.readingChanged.connect(lambda _r: self.refresh())
        reading.caseChanged.connect(lambda _c: self.refresh())

    # --- columns -------------------------------------------------------------------------------------

    @property
    def columns(self) -> list[tuple[Pattern, bool]]:
        """(pattern, is_suggestion) per column."""
        cols = [(p, False) for p in PATTERNS]
        if self._suggestions is not None:
            cols += [(p, True) for p in PATTERNS]
        return cols

    def set_suggestions(self, values: Mapping[Level, Mapping[Pattern, float]] | None) -> None:
        """Show a suggestion column per pattern (None: none). Only for values the reader may see."""
        self.beginResetModel()
        self._suggestions = values
        self.endResetModel()

    def set_current_level(self, level: Level | None) -> None:
        self.current_level = level
        self.refresh()

    def refresh(self) -> None:
        self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(LEVELS) + 1

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            if orientation == Qt.Orientation.Horizontal:
                pattern, suggestion = self.columns[section]
                return f"{pattern.value} {AI_LABEL}" if suggestion else pattern.value
            return LEVELS[section].label if section < len(LEVELS) else "Global"
        if role == Qt.ItemDataRole.ForegroundRole and orientation == Qt.Orientation.Horizontal:
            return QBrush(SUGGESTION_COLOR) if self.columns[section][1] else None
        if role == Qt.ItemDataRole.FontRole and orientation == Qt.Orientation.Horizontal:
            return ai_font(bold=True) if self.columns[section][1] else None
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Horizontal:
            pattern, suggestion = self.columns[section]
            tip = f"{pattern.value}: {pattern.long_name}, % of the lung area on the slice"
            return tip + (" (AI suggestion; research use only)" if suggestion else "")
        if role == Qt.ItemDataRole.ToolTipRole and orientation == Qt.Orientation.Vertical:
            if section < len(LEVELS):
                return f"{LEVELS[section].label}: {LEVELS[section].definition}"
            return "Global extent: the mean of the five levels (Goh 2008)"
        return None

    def level_at(self, row: int) -> Level | None:
        return LEVELS[row] if 0 <= row < len(LEVELS) else None

    # --- cells ---------------------------------------------------------------------------------------

    def _global(self, pattern: Pattern) -> float | None:
        summary = patient_summary({lv: self._r.scores(lv) for lv in LEVELS})
        return {
            Pattern.TOT: summary.global_tot,
            Pattern.GG: summary.global_gg,
            Pattern.RET: summary.global_ret,
        }[pattern]

    def cell_text(self, row: int, col: int) -> str:
        pattern, suggestion = self.columns[col]
        level = self.level_at(row)
        if suggestion:
            if level is None or self._suggestions is None:
                return ""
            v = self._suggestions.get(level, {}).get(pattern)
            return "" if v is None else f"{v:.0f}"
        if level is None:
            g = self._global(pattern)
            return "" if g is None else f"{g:.1f}"
        v = self._r.scores(level).get(pattern)
        return "" if v is None else str(v)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        level = self.level_at(row)
        pattern, suggestion = self.columns[col]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell_text(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole:
            if suggestion:
                return ai_font(bold=level == self.current_level)
            font = QFont()
            font.setBold(level is None or level == self.current_level)
            return font
        if suggestion:
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(SUGGESTION_COLOR)
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(AI_BACKGROUND)
            if role == Qt.ItemDataRole.ToolTipRole and level is not None:
                return f"The AI's {pattern.value} at {level.label} (research use only; not your value)"
            return None
        problems = [] if level is None else score_violations(self._r.scores(level))
        mine = [p for p in problems if p.field == pattern.value]
        if role == Qt.ItemDataRole.ForegroundRole and mine:
            return QBrush(VIOLATION_COLOR)
        if role == Qt.ItemDataRole.ToolTipRole:
            if level is None:
                return f"Global {pattern.value}: mean of the five levels once all are entered"
            tip = f"{level.label} {pattern.value} (saved)"
            return tip + ("\n" + "\n".join(p.message for p in mine) if mine else "")
        return None
