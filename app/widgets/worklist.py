"""The worklist: the reader's cases in their session order, with status and progress.

Only what the reader view holds is shown: position, pseudonymous case code and status (not started, in
progress, submitted). Double-click a case (or Ctrl+PgDn / Ctrl+PgUp from anywhere) to open it.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.reading import ReadingController
from ssc_core.study.records import CaseStatus, ReaderView

STATUS_COLORS = {
    CaseStatus.NOT_STARTED: QColor(128, 128, 128),
    CaseStatus.IN_PROGRESS: QColor(176, 96, 0),
    CaseStatus.SUBMITTED: QColor(31, 138, 60),
}
STATUS_MARKS = {CaseStatus.NOT_STARTED: "○", CaseStatus.IN_PROGRESS: "◐", CaseStatus.SUBMITTED: "●"}

_Index = QModelIndex | QPersistentModelIndex


def session_text(view: ReaderView) -> str:
    """One line about the session: label, kind, blinding (no other reader, no seed)."""
    s = view.session
    parts = [f"<b>{s.label}</b>", s.kind.display_name + " session"]
    parts.append("blinded" if s.blinded else "unblinded")
    if s.status.value != "open":
        parts.append(s.status.value)
    return " · ".join(parts)


class WorklistTableModel(QAbstractTableModel):
    """Rows: the worklist in the reader's order. Columns: position, case code, status."""

    COLUMNS = ("#", "Case", "Status")

    def __init__(self, reading: ReadingController, parent=None) -> None:
        super().__init__(parent)
        self._r = reading
        self._items = reading.view.worklist
        reading.viewChanged.connect(self._on_view)
        reading.caseChanged.connect(lambda _c: self.refresh())
        reading.caseLoading.connect(lambda _c: self.refresh())

    def _on_view(self, view: ReaderView) -> None:
        if [w.case_code for w in view.worklist] != [w.case_code for w in self._items]:
            self.beginResetModel()
            self._items = view.worklist
            self.endResetModel()
        else:
            self._items = view.worklist
            self.refresh()

    def refresh(self) -> None:
        if self._items:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._items) - 1, len(self.COLUMNS) - 1))

    def code_at(self, row: int) -> str | None:
        return self._items[row].case_code if 0 <= row < len(self._items) else None

    def row_of(self, code: str | None) -> int | None:
        return next((i for i, w in enumerate(self._items) if w.case_code == code), None)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item = self._items[index.row()]
        col = index.column()
        current = item.case_code in (self._r.case_code, self._r.loading_code)
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return str(item.position)
            if col == 1:
                return item.case_code
            return f"{STATUS_MARKS[item.status]} {item.status.value}"
        if role == Qt.ItemDataRole.ForegroundRole and col == 2:
            return QBrush(STATUS_COLORS[item.status])
        if role == Qt.ItemDataRole.FontRole and current:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"Case {item.case_code}: {item.status.value}"
            return tip + (" (open)" if current else "") + "\nDouble-click to open it."
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class WorklistPanel(QWidget):
    """Session line, progress (x of N submitted) and the worklist table."""

    caseActivated = Signal(str)

    def __init__(self, reading: ReadingController, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("worklistPanel")
        self._r = reading
        self.session_label = QLabel(self)
        self.session_label.setObjectName("worklistSession")
        self.session_label.setWordWrap(True)
        self.progress_label = QLabel(self)
        self.progress_label.setObjectName("worklistProgress")
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.model = WorklistTableModel(reading, self)
        self.table = QTableView(self)
        self.table.setObjectName("worklistTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # No keyboard focus: Enter and the digits belong to scoring; Ctrl+PgDn/PgUp walk the list.
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.doubleClicked.connect(self._on_double_click)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.session_label)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        self.setMinimumWidth(280)
        reading.viewChanged.connect(lambda _v: self.refresh())
        reading.caseChanged.connect(lambda _c: self.refresh())
        reading.caseLoading.connect(lambda _c: self.refresh())
        self.refresh()

    def _on_double_click(self, index) -> None:
        code = self.model.code_at(index.row())
        if code is not None:
            self.caseActivated.emit(code)

    def refresh(self) -> None:
        view = self._r.view
        self.session_label.setText(f"{session_text(view)}<br>Reader: {view.reader.name}")
        self.progress_label.setText(f"{view.submitted} of {view.total} cases submitted")
        self.progress.setRange(0, max(1, view.total))
        self.progress.setValue(view.submitted)
        row = self.model.row_of(self._r.loading_code or self._r.case_code)
        if row is not None:
            self.table.selectRow(row)
