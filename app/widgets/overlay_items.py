"""Annotations drawn over images in screen space: corner text, orientation letters and a scale bar.

They are not scene items: a view draws them all in one pass over its viewport
(:meth:`AnnotationLayer.paint`, called from ``QGraphicsView.drawForeground``), each from a pixmap rendered
once per distinct text. While scrolling, every frame repaints the whole image and everything over it;
scene items would cost several Python calls each per frame (bounding rects, paint), where this costs one
call and a few pixmap blits. They keep their size and place on screen when the image is zoomed or
panned, as on a PACS screen.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPixmap

TEXT_COLOR = QColor(235, 235, 235)
ACCENT_COLOR = QColor(255, 214, 102)
SHADOW_COLOR = QColor(0, 0, 0, 230)

#: Letters of the LPS axes, by (axis, sign): DICOM PS3.3 C.7.6.1.1.1 (patient orientation).
_AXIS_LETTERS = {(0, 1): "L", (0, -1): "R", (1, 1): "P", (1, -1): "A", (2, 1): "S", (2, -1): "I"}
_OPPOSITE = {"L": "R", "R": "L", "P": "A", "A": "P", "S": "I", "I": "S"}

#: Rendered texts kept per view (scrolling a 600-slice scan renders 600 slice labels).
_PIXMAP_CACHE_SIZE = 1024


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


class Annotation:
    """A piece of text pinned to a point of the viewport (``anchor`` (0, 0) top-left .. (1, 1)
    bottom-right of the text block sits on that point)."""

    def __init__(
        self,
        layer: AnnotationLayer,
        *,
        anchor: tuple[float, float] = (0.0, 0.0),
        color: QColor = TEXT_COLOR,
        font: QFont | None = None,
        align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft,
    ) -> None:
        self._layer = layer
        self.anchor = anchor
        self.color = QColor(color)
        self.font = font or overlay_font()
        self.align = align
        self.pos = QPointF()
        self._text = ""
        self._visible = True
        self._pix: QPixmap | None = None

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        if text != self._text:
            old = self.rect()
            self._text = text
            self._pix = None
            self._layer.changed(old.united(self.rect()))

    def setColor(self, color: QColor) -> None:
        self.color = QColor(color)
        self._pix = None
        self._layer.changed(self.rect())

    def setPos(self, x: float | QPointF, y: float | None = None) -> None:
        self.pos = QPointF(x) if y is None else QPointF(float(x), float(y))

    def setVisible(self, visible: bool) -> None:
        if visible != self._visible:
            self._visible = visible
            self._layer.changed(self.rect())

    def isVisible(self) -> bool:
        return self._visible

    def hide(self) -> None:
        self.setVisible(False)

    def show(self) -> None:
        self.setVisible(True)

    def pixmap(self) -> QPixmap | None:
        if not self._text or not self._visible:
            return None
        if self._pix is None:
            self._pix = self._layer.text_pixmap(self._text, self.font, self.color, self.align)
        return self._pix

    def rect(self) -> QRectF:
        """Where it is drawn, in viewport pixels (empty when there is nothing to draw)."""
        pix = self.pixmap()
        if pix is None:
            return QRectF()
        ratio = pix.devicePixelRatio() or 1.0
        w, h = pix.width() / ratio, pix.height() / ratio
        ax, ay = self.anchor
        return QRectF(self.pos.x() - ax * w, self.pos.y() - ay * h, w, h)


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


class ScaleBar:
    """A horizontal bar of a round length in mm with its label; ``pos`` is its bottom-right corner."""

    def __init__(self, layer: AnnotationLayer) -> None:
        self._layer = layer
        self.pos = QPointF()
        self._label = Annotation(layer, anchor=(0.5, 1.0), font=overlay_font(9.0))
        self._length_mm = 0.0
        self._length_px = 0.0
        self._visible = True

    @property
    def length_mm(self) -> float:
        return self._length_mm

    @property
    def length_px(self) -> float:
        return self._length_px

    @property
    def label(self) -> str:
        return f"{self._length_mm:g} mm"

    def set_scale(self, mm_per_px: float, max_px: float) -> None:
        """Show the longest nice length that fits in ``max_px`` at ``mm_per_px``."""
        length = nice_bar_length(mm_per_px, max_px)
        px = length / mm_per_px if mm_per_px > 0 else 0.0
        if (length, round(px, 1)) == (self._length_mm, round(self._length_px, 1)):
            return
        old = self.rect()
        self._length_mm, self._length_px = length, px
        self._label.setText(self.label)
        self._place_label()
        self._layer.changed(old.united(self.rect()))

    def _place_label(self) -> None:
        self._label.setPos(self.pos.x() - self._length_px / 2, self.pos.y() - 9)

    def setPos(self, x: float, y: float) -> None:
        self.pos = QPointF(float(x), float(y))
        self._place_label()

    def setVisible(self, visible: bool) -> None:
        self._visible = visible
        self._label.setVisible(visible)

    def isVisible(self) -> bool:
        return self._visible

    def hide(self) -> None:
        self.setVisible(False)

    def show(self) -> None:
        self.setVisible(True)

    def rect(self) -> QRectF:
        if not self._visible or self._length_px <= 0:
            return QRectF()
        bar = QRectF(self.pos.x() - self._length_px - 2, self.pos.y() - 12, self._length_px + 5, 14)
        return bar.united(self._label.rect())

    def paint(self, painter: QPainter) -> None:
        if not self._visible or self._length_px <= 0:
            return
        x1, y = self.pos.x(), self.pos.y() - 3
        x0 = x1 - self._length_px
        for color, off in ((SHADOW_COLOR, 1.0), (TEXT_COLOR, 0.0)):
            painter.setPen(QPen(color, 2))
            painter.drawLine(QPointF(x0 + off, y + off), QPointF(x1 + off, y + off))
            painter.drawLine(QPointF(x0 + off, y + off), QPointF(x0 + off, y - 6 + off))
            painter.drawLine(QPointF(x1 + off, y + off), QPointF(x1 + off, y - 6 + off))
            painter.drawLine(QPointF((x0 + x1) / 2 + off, y + off), QPointF((x0 + x1) / 2 + off, y - 3 + off))


class AnnotationLayer:
    """The annotations of one view and their pixmap cache; the view calls :meth:`paint` and
    repaints the region :meth:`changed` reports."""

    def __init__(self, view) -> None:
        self._view = view
        self.items: list[Annotation] = []
        self.bars: list[ScaleBar] = []
        self._cache: OrderedDict[tuple, QPixmap] = OrderedDict()

    def text(self, **kwargs) -> Annotation:
        item = Annotation(self, **kwargs)
        self.items.append(item)
        return item

    def scale_bar(self) -> ScaleBar:
        bar = ScaleBar(self)
        self.bars.append(bar)
        self.items.append(bar._label)
        return bar

    def changed(self, rect: QRectF) -> None:
        # Through the scene, not ``viewport().update(rect)``: the view then merges it with the image's own
        # update into one rectangle (BoundingRectViewportUpdate). A region of two rectangles makes Qt draw
        # the image through a complex clip, which costs a third more per frame.
        if not rect.isEmpty():
            view = self._view
            view.scene().update(view.mapToScene(rect.adjusted(-2, -2, 2, 2).toAlignedRect()).boundingRect())

    def text_pixmap(self, text: str, font: QFont, color: QColor, align: Qt.AlignmentFlag) -> QPixmap:
        key = (text, font.key(), color.rgba(), int(align.value) if hasattr(align, "value") else int(align))
        pix = self._cache.get(key)
        if pix is not None:
            self._cache.move_to_end(key)
            return pix
        pix = _render_text(text, font, color, align, self._view.devicePixelRatioF())
        self._cache[key] = pix
        if len(self._cache) > _PIXMAP_CACHE_SIZE:
            self._cache.popitem(last=False)
        return pix

    def paint(self, painter: QPainter) -> None:
        """Draw every visible annotation; ``painter`` is in viewport pixel coordinates."""
        for item in self.items:
            pix = item.pixmap()
            if pix is not None:
                painter.drawPixmap(item.rect().topLeft(), pix)
        for bar in self.bars:
            bar.paint(painter)


def _render_text(text: str, font: QFont, color: QColor, align: Qt.AlignmentFlag, dpr: float) -> QPixmap:
    """Text with a one-pixel dark shadow on a transparent pixmap."""
    metrics = QFontMetricsF(font)
    lines = text.split("\n")
    width = max(metrics.horizontalAdvance(s) for s in lines)
    step = metrics.lineSpacing()
    w, h = math.ceil(width) + 3, math.ceil(step * len(lines)) + 3
    pix = QPixmap(QRect(0, 0, w, h).size() * dpr)
    pix.setDevicePixelRatio(dpr)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setFont(font)
    y = 1 + metrics.ascent()
    for line in lines:
        lw = metrics.horizontalAdvance(line)
        if align == Qt.AlignmentFlag.AlignRight:
            x = 1 + width - lw
        elif align == Qt.AlignmentFlag.AlignHCenter:
            x = 1 + (width - lw) / 2
        else:
            x = 1.0
        p.setPen(SHADOW_COLOR)
        p.drawText(QPointF(x + 1, y + 1), line)
        p.setPen(color)
        p.drawText(QPointF(x, y), line)
        y += step
    p.end()
    return pix


class AnnotatedViewMixin:
    """For a ``pyqtgraph.GraphicsView``: draws ``self.annotations`` over the scene, in viewport pixels."""

    annotations: AnnotationLayer

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()
        self.annotations.paint(painter)
        painter.restore()
