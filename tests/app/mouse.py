"""Real mouse and wheel events for pyqtgraph views (sent to the view's viewport, as Qt would)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

NO_MOD = Qt.KeyboardModifier.NoModifier


def view_point(view, x_mm: float, y_mm: float) -> QPoint:
    """Viewport pixel of a point in the view's data coordinates (mm)."""
    scene = view.vb.mapViewToScene(QPointF(x_mm, y_mm))
    return view.mapFromScene(scene)


def _mouse(widget, etype, pos: QPoint, button, buttons, modifiers=NO_MOD) -> None:
    local = QPointF(pos)
    ev = QMouseEvent(etype, local, QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers)
    QApplication.sendEvent(widget, ev)


def drag(view, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton, steps: int = 4) -> None:
    """Press at ``start``, move in ``steps`` to ``end`` and release."""
    vp = view.viewport()
    none = Qt.MouseButton.NoButton
    _mouse(vp, QEvent.Type.MouseMove, start, none, none)
    _mouse(vp, QEvent.Type.MouseButtonPress, start, button, button)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        _mouse(vp, QEvent.Type.MouseMove, p, none, button)
    _mouse(vp, QEvent.Type.MouseButtonRelease, end, button, none)


def click(view, pos: QPoint, button=Qt.MouseButton.LeftButton, *, double: bool = False) -> None:
    vp = view.viewport()
    none = Qt.MouseButton.NoButton
    _mouse(vp, QEvent.Type.MouseMove, pos, none, none)
    _mouse(vp, QEvent.Type.MouseButtonPress, pos, button, button)
    _mouse(vp, QEvent.Type.MouseButtonRelease, pos, button, none)
    if double:
        _mouse(vp, QEvent.Type.MouseButtonDblClick, pos, button, button)
        _mouse(vp, QEvent.Type.MouseButtonRelease, pos, button, none)


def hover(view, pos: QPoint) -> None:
    none = Qt.MouseButton.NoButton
    _mouse(view.viewport(), QEvent.Type.MouseMove, pos, none, none)


def wheel(view, pos: QPoint, notches: int, modifiers=NO_MOD) -> None:
    """Turn the wheel ``notches`` (positive: away from the user)."""
    vp = view.viewport()
    ev = QWheelEvent(
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, ev)
