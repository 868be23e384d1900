"""Everything a window shows or could show as text: widgets, item models, menus, dialogs, image annotations.

Used by the blinding and identifier tests: a hidden value or a patient identifier must not appear anywhere
in what this collects.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

ROLES = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.StatusTipRole,
    Qt.ItemDataRole.WhatsThisRole,
    Qt.ItemDataRole.UserRole,
)


def model_texts(model: QAbstractItemModel, parent: QModelIndex | None = None) -> list[str]:
    """Every cell (all roles above, recursively) and header of an item model."""
    parent = parent or QModelIndex()
    out: list[str] = []
    rows, cols = model.rowCount(parent), model.columnCount(parent)
    if not parent.isValid():
        for c in range(cols):
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                out.append(str(model.headerData(c, Qt.Orientation.Horizontal, role)))
        for r in range(rows):
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                out.append(str(model.headerData(r, Qt.Orientation.Vertical, role)))
    for r in range(rows):
        for c in range(cols):
            idx = model.index(r, c, parent)
            for role in ROLES:
                out.append(str(model.data(idx, role)))
            if c == 0 and model.rowCount(idx) > 0:
                out += model_texts(model, idx)
    return out


def widget_texts(w: QWidget) -> list[str]:
    out = [w.windowTitle(), w.toolTip(), w.statusTip(), w.whatsThis(), w.accessibleName()]
    if isinstance(w, (QLabel, QAbstractButton)):
        out.append(w.text())
    elif isinstance(w, QLineEdit):
        out += [w.text(), w.placeholderText()]
    elif isinstance(w, (QTextEdit, QPlainTextEdit)):
        out.append(w.toPlainText())
    elif isinstance(w, QGroupBox):
        out.append(w.title())
    elif isinstance(w, QComboBox):
        out += [w.itemText(i) for i in range(w.count())]
        out += [str(w.itemData(i, Qt.ItemDataRole.ToolTipRole)) for i in range(w.count())]
    if isinstance(w, QAbstractItemView) and w.model() is not None:
        out += model_texts(w.model())
    if isinstance(w, QMenu):
        for a in w.actions():
            out += [a.text(), a.toolTip(), a.statusTip()]
    if isinstance(w, QMessageBox):
        out += [w.text(), w.informativeText(), w.detailedText()]
    if isinstance(w, QMainWindow):
        out.append(w.statusBar().currentMessage())
    for name in ("annotations",):
        layer = getattr(w, name, None)
        if layer is not None and hasattr(layer, "items"):
            out += [item.text() for item in layer.items if hasattr(item, "text")]
    for action in w.actions():
        out += [action.text(), action.toolTip(), action.statusTip()]
    return out


def all_texts(window: QWidget | None = None) -> str:
    """All texts of ``window`` and its children, and of every other top-level widget (dialogs), joined."""
    tops = set(QApplication.topLevelWidgets())
    if window is not None:
        tops.add(window)
    out: list[str] = []
    for top in tops:
        for w in [top, *top.findChildren(QWidget)]:
            out += widget_texts(w)
    return "\n".join(t for t in out if t and t != "None")
