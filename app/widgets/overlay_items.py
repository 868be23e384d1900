"""Annotations drawn over images in screen space: corner text, orientation letters and a scale bar.

These items are children of a ``pyqtgraph.ViewBox`` (not of its zoomed child group), so they keep their
size and place on screen when the image is zoomed or panned, as on a PACS screen.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

TEXT_COLOR = QColor(235, 235, 235)
ACCENT_COLOR = QColor(255, 214, 102)
SHADOW_COLOR = QColor(0, 0, 0, 220)

#: Letters of the LPS axes, by (axis, sign): DICOM PS3.3 C.7.6.1.1.1 (patient orientation).
_AXIS_LETTERS = {(0, 1): "L", (0, -1): "R", (1, 1): "P", (1, -1): "A", (2, 1): "S", (2, -1): "I"}
_OPPOSITE = {"L": "R", "R": "L", "P": "A", "A": "P", "S": "I", "I": "S"}


def orientation_letter(vector: np.ndarray) -> str:
    """The patient direction ("L", "R", "A", "P", "S", "I") an LPS vector mostly points to."""
    v = np.asarray(vector, dtype=float)
    axis = int(np.argmax(np.abs(v)))
    return _AXIS_LETTERS[(axis, 1 if v[axis] > 0 else -1)]


def edge_letters(row_vector: np.ndarray, col_vector: np.ndarray) -> dict[str, str]:
    """Letters for the four edges of an image whose rows run along ``row_vector`` (downwards on screen)
    and whose columns run along ``col_vector`` (rightwards), e.g. {"left": "R", "right": "L", ...}."""
    right = orientation_letter(col_vector)
    bottom = orientation_letter(row_vector)
    return {"left": _OPPOSITE[right], "right": right, "top": _OPPOSITE[bottom], "bottom": bottom}


def overlay_font(point_size: float = 10.0, *, bold: bool = False) -> QFont:
    font = QFont()
    font.setPointSizeF(point_size)
    font.setBold(bold)
    return font


class OverlayText(QGraphicsItem):
    """Multi-line text with a dark shadow, anchored at a point (anchor (0,0) top-left .. (1,1) bottom-right).

    Cheaper than ``pyqtgraph.TextItem`` for text that changes every frame (the slice number while
    scrolling): no document layout, no transform bookkeeping.
    """

    def __init__(
        self,
        text: str = "",
        *,
        anchor: tuple[float, float] = (0.0, 0.0),
        color: QColor = TEXT_COLOR,
        font: QFont | None = None,
        align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft,
        parent: QGraphicsItem | None = None,
    ) -> None:
        super().__init__(parent)
        self._font = font or overlay_font()
        self._metrics = QFontMetricsF(self._font)
        self._color = color
        self._anchor = anchor
        self._align = align
        self._lines: list[str] = []
        self._rect = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, False)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setText(text)

    def text(self) -> str:
        return "\n".join(self._lines)

    def setText(self, text: str) -> None:
        lines = text.split("\n") if text else []
        if lines == self._lines:
            return
        self.prepareGeometryChange()
        self._lines = lines
        width = max((self._metrics.horizontalAdvance(s) for s in lines), default=0.0)
        height = self._metrics.lineSpacing() * len(lines)
        ax, ay = self._anchor
        self._rect = QRectF(-ax * width - 2, -ay * height - 2, width + 4, height + 4)
        self.update()

    def setColor(self, color: QColor) -> None:
        self._color = color
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if not self._lines:
            return
        painter.setFont(self._font)
        left = self._rect.left() + 2
        width = self._rect.width() - 4
        y = self._rect.top() + 2 + self._metrics.ascent()
        step = self._metrics.lineSpacing()
        for line in self._lines:
            if self._align == Qt.AlignmentFlag.AlignRight:
                x = left + width - self._metrics.horizontalAdvance(line)
            elif self._align == Qt.AlignmentFlag.AlignHCenter:
                x = left + (width - self._metrics.horizontalAdvance(line)) / 2
            else:
                x = left
            painter.setPen(SHADOW_COLOR)
            painter.drawText(QPointF(x + 1, y + 1), line)
            painter.setPen(self._color)
            painter.drawText(QPointF(x, y), line)
            y += step


#: Lengths (mm) a scale bar may take; the longest that fits the target share of the view is used.
_NICE_LENGTHS_MM = (1, 2, 5, 10, 20, 50, 100, 200, 500)


def nice_bar_length(mm_per_px: float, max_px: float) -> float:
    """The longest "nice" length (mm) whose bar is at most ``max_px`` pixels long."""
    if not math.isfinite(mm_per_px) or mm_per_px <= 0:
        return _NICE_LENGTHS_MM[0]
    best = _NICE_LENGTHS_MM[0]
    for length in _NICE_LENGTHS_MM:
        if length / mm_per_px <= max_px:
            best = length
    return float(best)


class ScaleBar(QGraphicsItem):
    """A horizontal bar of a round length in mm with its label, anchored at its bottom-right corner."""

    def __init__(self, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self._font = overlay_font(9.0)
        self._metrics = QFontMetricsF(self._font)
        self._length_mm = 0.0
        self._length_px = 0.0
        self._rect = QRectF()
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    @property
    def length_mm(self) -> float:
        return self._length_mm

    @property
    def label(self) -> str:
        length = self._length_mm
        return f"{length / 10:g} cm" if length >= 10 else f"{length:g} mm"

    def set_scale(self, mm_per_px: float, max_px: float) -> None:
        """Show the longest nice length that fits in ``max_px`` at ``mm_per_px``."""
        length = nice_bar_length(mm_per_px, max_px)
        px = length / mm_per_px if mm_per_px > 0 else 0.0
        if (length, px) == (self._length_mm, self._length_px):
            return
        self.prepareGeometryChange()
        self._length_mm, self._length_px = length, px
        h = self._metrics.lineSpacing() + 8
        self._rect = QRectF(-px - 4, -h - 2, px + 8, h + 4)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self._length_px <= 0:
            return
        px = self._length_px
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for color, off in ((SHADOW_COLOR, 1), (TEXT_COLOR, 0)):
            pen = QPen(color, 2)
            painter.setPen(pen)
            y = -3 + off
            painter.drawLine(QPointF(-px + off, y), QPointF(off, y))
            painter.drawLine(QPointF(-px + off, y), QPointF(-px + off, y - 6))
            painter.drawLine(QPointF(off, y), QPointF(off, y - 6))
            painter.drawLine(QPointF(-px / 2 + off, y), QPointF(-px / 2 + off, y - 3))
        painter.setFont(self._font)
        text = self.label
        tw = self._metrics.horizontalAdvance(text)
        base = QPointF(-px / 2 - tw / 2, -10 - self._metrics.descent())
        painter.setPen(SHADOW_COLOR)
        painter.drawText(base + QPointF(1, 1), text)
        painter.setPen(TEXT_COLOR)
        painter.drawText(base, text)
