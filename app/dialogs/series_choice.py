"""Choose one series when a folder holds several (a localizer, a thin and a thick reconstruction...).

Series the workstation cannot score (not axial, not CT, a localizer) are listed but disabled, with the
reason. The dialog is window-modal and non-blocking (``open()``); the choice arrives through
``seriesChosen(key)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

_Index = QModelIndex | QPersistentModelIndex


def _first_attr(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return default


@dataclass(frozen=True)
class SeriesRow:
    """What the dialog shows of one candidate (no identifiers)."""

    key: str | None
    description: str
    slices: int | None
    thickness_mm: float | None
    kernel: str
    orientation: str
    scorable: bool
    reason: str
    is_default: bool = False

    @classmethod
    def from_candidate(cls, c: Any) -> SeriesRow:
        reason = _first_attr(c, "reason", "refusal", "not_scorable_reason", default="") or ""
        scorable = _first_attr(c, "scorable", "is_scorable", default=None)
        if scorable is None:
            scorable = not reason
        thickness = _first_attr(c, "slice_thickness_mm", "thickness_mm", "slice_thickness")
        return cls(
            key=_first_attr(c, "key"),
            description=str(
                _first_attr(c, "description", "series_description", default="") or "(no description)"
            ),
            slices=_first_attr(c, "n_slices", "slice_count", "n_images", "n_files"),
            thickness_mm=None if thickness is None else float(thickness),
            kernel=str(_first_attr(c, "kernel", "convolution_kernel", default="") or ""),
            orientation=str(_first_attr(c, "orientation", "plane", default="") or ""),
            scorable=bool(scorable),
            reason=str(reason),
            is_default=bool(getattr(c, "is_default", False)),
        )


class SeriesTableModel(QAbstractTableModel):
    COLUMNS = ("Description", "Slices", "Thickness", "Kernel", "Orientation", "Note")

    def __init__(self, rows: list[SeriesRow], parent=None) -> None:
        super().__init__(parent)
        self.rows = rows

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self.rows[index.row()].scorable:
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return Qt.ItemFlag.NoItemFlags  # listed, greyed out, not selectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            col = index.column()
            if col == 0:
                return row.description
            if col == 1:
                return "" if row.slices is None else str(row.slices)
            if col == 2:
                return "" if row.thickness_mm is None else f"{row.thickness_mm:g} mm"
            if col == 3:
                return row.kernel
            if col == 4:
                return row.orientation
            return row.reason if not row.scorable else ""
        if role == Qt.ItemDataRole.ToolTipRole and not row.scorable:
            return f"Cannot be scored: {row.reason}" if row.reason else "Cannot be scored."
        return None


class SeriesChoiceDialog(QDialog):
    """Lists the series found; the largest scorable one is preselected."""

    seriesChosen = Signal(object)  # the candidate's key

    def __init__(self, candidates: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("seriesChoiceDialog")
        self.setWindowTitle("Choose a series")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.rows = [SeriesRow.from_candidate(c) for c in candidates]
        self.model = SeriesTableModel(self.rows, self)
        intro = QLabel(
            "This folder holds several series. Choose the axial CT series to read "
            "(series that cannot be scored are greyed out, with the reason).",
            self,
        )
        intro.setWordWrap(True)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _i: self._accept_if_valid())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(self.buttons)
        self.resize(760, 320)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        best = self._default_row()
        if best is not None:
            self.table.selectRow(best)
        self._update_buttons()

    def _default_row(self) -> int | None:
        """The loader's default series, else the scorable one with the most slices."""
        for i, r in enumerate(self.rows):
            if r.is_default and r.scorable:
                return i
        scorable = [(r.slices or 0, i) for i, r in enumerate(self.rows) if r.scorable]
        return max(scorable)[1] if scorable else None

    def selected_row(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def select(self, row: int) -> None:
        self.table.selectRow(row)

    def _update_buttons(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(self.selected_row() is not None)

    def _accept_if_valid(self) -> None:
        row = self.selected_row()
        if row is None or not self.rows[row].scorable:
            return
        self.seriesChosen.emit(self.rows[row].key)
        self.accept()
