"""Keyboard shortcuts (F1): the list of every action and its keys, editable and stored in QSettings.

Double-click a key cell and press the new keys; a key already used by another action is refused with a
message. "Restore defaults" forgets every change.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.settings import Settings
from app.shortcuts import SHORTCUTS, format_keys, sequence_chord

_Index = QModelIndex | QPersistentModelIndex

MOUSE_HELP = (
    "<b>Mouse</b>: wheel scrolls slices (Ctrl+wheel zooms); left-drag pans; right-drag sets the window "
    "(left/right: width, up/down: level); double-click centres the localizers on that point. "
    "On a localizer: click or drag to go to a slice; drag a level line to move that level."
)


class ShortcutTableModel(QAbstractTableModel):
    """Rows: actions (grouped as in :data:`app.shortcuts.SHORTCUTS`); columns: group, action, keys."""

    COLUMNS = ("Group", "Action", "Keys")
    conflict = Signal(str)

    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.specs = SHORTCUTS

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 (Qt API)
        return 0 if parent.isValid() else len(self.specs)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() == 2 else base

    def keys_text(self, row: int, *, native: bool = True) -> str:
        return format_keys(self._settings.shortcut(self.specs[row].action), native=native)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        spec = self.specs[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if index.column() == 0:
                return spec.group
            if index.column() == 1:
                return spec.description
            return self.keys_text(index.row(), native=role == Qt.ItemDataRole.DisplayRole)
        return None

    def owner_of(self, seq: QKeySequence, except_action: str) -> str | None:
        """The description of the action already bound to ``seq``, if any other."""
        chord = sequence_chord(seq)
        for spec in self.specs:
            if spec.action == except_action:
                continue
            if any(sequence_chord(s) == chord for s in self._settings.shortcut(spec.action)):
                return spec.description
        return None

    def setData(self, index: _Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != 2:
            return False
        spec = self.specs[index.row()]
        seq = value if isinstance(value, QKeySequence) else QKeySequence(str(value))
        if seq.isEmpty():
            return False
        owner = self.owner_of(seq, spec.action)
        if owner is not None:
            self.conflict.emit(
                f"{seq.toString(QKeySequence.SequenceFormat.NativeText)} is already used by “{owner}”."
            )
            return False
        self._settings.set_shortcut(spec.action, [seq])
        self.dataChanged.emit(index, index)
        self.conflict.emit("")
        return True

    def reset(self) -> None:
        self.beginResetModel()
        self._settings.reset_shortcuts()
        self.endResetModel()


class _KeyDelegate(QStyledItemDelegate):
    def createEditor(self, parent, option, index):
        editor = QKeySequenceEdit(parent)
        editor.setMaximumSequenceLength(1)
        editor.editingFinished.connect(lambda: self.commitData.emit(editor))
        return editor

    def setEditorData(self, editor, index) -> None:
        editor.setKeySequence(QKeySequence())

    def setModelData(self, editor, model, index) -> None:
        model.setData(index, editor.keySequence(), Qt.ItemDataRole.EditRole)


class ShortcutsDialog(QDialog):
    """Lists (and edits) the shortcuts; ``shortcutsChanged`` tells the window to rebind."""

    shortcutsChanged = Signal()

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.model = ShortcutTableModel(settings, self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(2, _KeyDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        mouse = QLabel(MOUSE_HELP, self)
        mouse.setWordWrap(True)
        hint = QLabel("Double-click a key to change it. Changes are saved at once.", self)
        self.message = QLabel(self)
        self.message.setObjectName("shortcutConflict")
        self.message.setStyleSheet("color: #c03030;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        reset = buttons.addButton("Restore defaults", QDialogButtonBox.ButtonRole.ResetRole)
        reset.clicked.connect(self._reset)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        self.model.conflict.connect(self.message.setText)
        self.model.dataChanged.connect(lambda *_: self.shortcutsChanged.emit())
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(mouse)
        layout.addWidget(hint)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(620, 640)

    def _reset(self) -> None:
        self.model.reset()
        self.message.setText("")
        self.shortcutsChanged.emit()
