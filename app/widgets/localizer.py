"""Coronal and sagittal localizers: one reformatted plane, the current slice and the five level lines.

Only the plane shown is reformatted (a strided int16 view of the volume copied to one small contiguous
image), never a float copy of the volume. View coordinates are millimetres, the rows spaced by the slice
spacing and the columns by the pixel spacing, so the aspect ratio is anatomical.

Display convention (radiological, as on the scanner's own reformats): coronal with the patient's right on
the viewer's left and the head up; sagittal with anterior on the left and the head up.
"""

from __future__ import annotations

import enum

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QGraphicsView

from app.widgets.ai_style import AI_LABEL, AI_LINE_COLOR
from app.widgets.overlay_items import (
    ACCENT_COLOR,
    AnnotatedViewMixin,
    AnnotationLayer,
    edge_letters,
    overlay_font,
)
from ssc_core.constants import LEVELS, HUWindow, Level
from ssc_core.imaging.volume import CTVolume


class Plane(str, enum.Enum):
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


class LineStyle(enum.Enum):
    """How a level line is drawn."""

    PLACED = "placed"
    PROPOSED = "proposed"  # dashed (the L4 proposal; AI suggestions have lines of their own)
    VIOLATION = "violation"  # placed but breaking a rule


CURRENT_SLICE_COLOR = QColor(90, 200, 255)
LEVEL_COLORS = {
    LineStyle.PLACED: QColor(120, 255, 140),
    LineStyle.PROPOSED: QColor(255, 190, 60),
    LineStyle.VIOLATION: QColor(255, 80, 80),
}


def reformat(volume: CTVolume, plane: Plane, position: int) -> tuple[np.ndarray, QRectF]:
    """The int16 image of one localizer plane and its rectangle in mm (rows = slices).

    ``position`` is the row (coronal) or column (sagittal) of the axial slices the plane passes through.
    """
    nz, ny, nx = volume.shape
    dz, dy, dx = volume.spacing
    if plane == Plane.CORONAL:
        j = int(np.clip(position, 0, ny - 1))
        img = np.ascontiguousarray(volume.hu[:, j, :])
        rect = QRectF(0.0, 0.0, nx * dx, nz * dz)
    else:
        i = int(np.clip(position, 0, nx - 1))
        img = np.ascontiguousarray(volume.hu[:, :, i])
        rect = QRectF(0.0, 0.0, ny * dy, nz * dz)
    return img, rect


class _LocalizerViewBox(pg.ViewBox):
    """Fixed view (no pan/zoom): a click or a drag on the image picks a slice, the wheel scrolls."""

    sigPicked = Signal(float)  # view y (mm)
    sigScroll = Signal(int)

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.setMouseEnabled(False, False)
        self._wheel_rest = 0

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigPicked.emit(self.mapSceneToView(ev.scenePos()).y())
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigPicked.emit(self.mapSceneToView(ev.scenePos()).y())
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None) -> None:
        self._wheel_rest += ev.delta()
        steps = int(self._wheel_rest / 120)
        if steps:
            self._wheel_rest -= steps * 120
            self.sigScroll.emit(-steps)
        ev.accept()


class LocalizerView(AnnotatedViewMixin, pg.GraphicsView):
    """One localizer. Signals: ``sigSlicePicked(k)`` (click/drag on the image), ``sigScroll(steps)``,
    ``sigLevelDragging(level, k)`` while a level line is dragged and ``sigLevelMoved(level, k)`` when
    it is dropped."""

    sigSlicePicked = Signal(int)
    sigScroll = Signal(int)
    sigLevelDragging = Signal(object, int)
    sigLevelMoved = Signal(object, int)

    def __init__(self, plane: Plane, parent=None) -> None:
        super().__init__(parent, background="k")
        self.plane = Plane(plane)
        self.setObjectName(f"{self.plane.value}Localizer")
        self.setMinimumSize(160, 160)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.vb = _LocalizerViewBox()
        self.setCentralItem(self.vb)
        self.image = pg.ImageItem(axisOrder="row-major")
        # The plane changes rarely, the current-slice line often: draw the image from a cached pixmap.
        self.image.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.vb.addItem(self.image)
        self._n = 0
        self._dz = 1.0
        self._rect = QRectF(0, 0, 1, 1)
        self._position = 0
        self._levels = (-1350.0, 150.0)

        self.current_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(CURRENT_SLICE_COLOR, width=1)
        )
        self.current_line.setZValue(5)
        self.current_line.hide()
        self.vb.addItem(self.current_line, ignoreBounds=True)

        self.level_lines: dict[Level, pg.InfiniteLine] = {}
        self._line_state: dict[Level, tuple[int, LineStyle] | None] = {}
        for level in LEVELS:
            line = pg.InfiniteLine(
                angle=0,
                movable=True,
                label=level.label,
                labelOpts={
                    # staggered along the line, so that labels of neighbouring levels never overlap
                    "position": 0.03 + 0.07 * (int(level) - 1),
                    "anchors": [(0, 1), (0, 1)],
                    "color": LEVEL_COLORS[LineStyle.PLACED],
                },
            )
            line.setZValue(10)
            line.hide()
            line.sigDragged.connect(lambda ln, lv=level: self._on_line_dragged(lv, ln))
            line.sigPositionChangeFinished.connect(lambda ln, lv=level: self._on_line_dropped(lv, ln))
            self.vb.addItem(line, ignoreBounds=True)
            self.level_lines[level] = line
            self._line_state[level] = None

        # The AI's suggested levels: dashed violet lines, labelled "L2 AI" at the right end, not draggable
        # (the reader accepts a suggestion in the level panel; it then becomes a placed level).
        self.suggestion_lines: dict[Level, pg.InfiniteLine] = {}
        self._suggestion_state: dict[Level, int | None] = {}
        for level in LEVELS:
            line = pg.InfiniteLine(
                angle=0,
                movable=False,
                pen=pg.mkPen(AI_LINE_COLOR, width=1.5, style=Qt.PenStyle.DashLine),
                label=f"{level.label} {AI_LABEL}",
                labelOpts={
                    "position": 0.97 - 0.07 * (int(level) - 1),
                    "anchors": [(1, 0), (1, 0)],
                    "color": AI_LINE_COLOR,
                },
            )
            line.setZValue(8)
            line.hide()
            self.vb.addItem(line, ignoreBounds=True)
            self.suggestion_lines[level] = line
            self._suggestion_state[level] = None

        font = overlay_font(9.0, bold=True)
        self.annotations = AnnotationLayer(self)
        self.letters = {
            edge: self.annotations.text(anchor=anchor, color=ACCENT_COLOR, font=font)
            for edge, anchor in (("left", (0, 0.5)), ("right", (1, 0.5)), ("top", (0.5, 0)))
        }
        self.vb.sigResized.connect(self._layout_letters)
        self.vb.sigPicked.connect(self._on_picked)
        self.vb.sigScroll.connect(self.sigScroll)

    # --- content ---------------------------------------------------------------------------------------

    def set_volume(self, volume: CTVolume | None, position: int | None = None) -> None:
        """Reformat ``volume`` through ``position`` (default: the middle of the slice)."""
        if volume is None:
            self.image.clear()
            self._n = 0
            self.current_line.hide()
            for line in (*self.level_lines.values(), *self.suggestion_lines.values()):
                line.hide()
            self._suggestion_state = dict.fromkeys(LEVELS)
            for t in self.letters.values():
                t.setText("")
            return
        nz, ny, nx = volume.shape
        if position is None:
            position = (ny if self.plane == Plane.CORONAL else nx) // 2
        self._n = nz
        self._dz = volume.spacing[0]
        self._position = int(position)
        img, self._rect = reformat(volume, self.plane, position)
        self.image.setImage(img, autoLevels=False, levels=self._levels)
        self.image.setRect(self._rect)
        d = volume.direction
        lateral = d[2] if self.plane == Plane.CORONAL else d[1]
        letters = edge_letters(d[0], lateral)
        for edge, item in self.letters.items():
            item.setText(letters[edge])
        bounds = (self.slice_to_y(0), self.slice_to_y(nz - 1))
        for line in self.level_lines.values():
            line.setBounds(bounds)
        self.vb.setRange(rect=self._rect, padding=0.0)

    def set_position(self, volume: CTVolume, position: int) -> None:
        """Move the plane to another row/column (cross-reference from the axial view)."""
        if volume is not None and int(position) != self._position:
            self._position = int(position)
            img, _ = reformat(volume, self.plane, position)
            self.image.setImage(img, autoLevels=False, levels=self._levels)

    @property
    def position(self) -> int:
        return self._position

    def set_window(self, window: HUWindow) -> None:
        self._levels = (window.lower, window.upper)
        self.image.setLevels(self._levels)

    # --- slices <-> view -------------------------------------------------------------------------------

    def slice_to_y(self, k: int) -> float:
        """View y (mm) of the centre of slice ``k``."""
        return (k + 0.5) * self._dz

    def y_to_slice(self, y: float) -> int:
        if self._n == 0:
            return 0
        return int(np.clip(np.floor(y / self._dz), 0, self._n - 1))

    def set_current_slice(self, k: int) -> None:
        if self._n == 0:
            return
        self.current_line.setValue(self.slice_to_y(k))
        self.current_line.show()

    def set_level_line(self, level: Level, k: int | None, style: LineStyle = LineStyle.PLACED) -> None:
        """Show ``level`` at slice ``k`` in ``style``, or hide it (``k`` None)."""
        line = self.level_lines[level]
        state = None if k is None or self._n == 0 else (int(k), style)
        if state == self._line_state[level] and line.isVisible() == (state is not None):
            return
        self._line_state[level] = state
        if state is None:
            line.hide()
            return
        color = LEVEL_COLORS[style]
        dash = style == LineStyle.PROPOSED
        pen = pg.mkPen(color, width=1.5, style=Qt.PenStyle.DashLine if dash else Qt.PenStyle.SolidLine)
        line.setPen(pen)
        line.setHoverPen(pg.mkPen(color, width=3))
        line.label.setColor(color)
        line.label.setFormat(f"{level.label}?" if style == LineStyle.PROPOSED else level.label)
        if not line.moving:
            line.setValue(self.slice_to_y(state[0]))
        line.show()

    def set_suggestion_line(self, level: Level, k: int | None) -> None:
        """Show the AI's suggestion for ``level`` at slice ``k`` (dashed, violet), or hide it (None)."""
        state = None if k is None or self._n == 0 else int(k)
        if state == self._suggestion_state[level]:
            return
        self._suggestion_state[level] = state
        line = self.suggestion_lines[level]
        if state is None:
            line.hide()
            return
        line.setValue(self.slice_to_y(state))
        line.show()

    def suggestion_line_slice(self, level: Level) -> int | None:
        return self._suggestion_state[level]

    def level_line_slice(self, level: Level) -> int | None:
        state = self._line_state[level]
        return None if state is None else state[0]

    # --- events --------------------------------------------------------------------------------------------

    def _on_picked(self, y: float) -> None:
        if self._n:
            self.sigSlicePicked.emit(self.y_to_slice(y))

    def _on_line_dragged(self, level: Level, line: pg.InfiniteLine) -> None:
        self.sigLevelDragging.emit(level, self.y_to_slice(line.value()))

    def _on_line_dropped(self, level: Level, line: pg.InfiniteLine) -> None:
        k = self.y_to_slice(line.value())
        line.setValue(self.slice_to_y(k))  # snap to the slice centre
        self.sigLevelMoved.emit(level, k)

    def _layout_letters(self) -> None:
        r = QRectF(self.viewport().rect())
        self.letters["left"].setPos(r.left() + 3, r.center().y())
        self.letters["right"].setPos(r.right() - 3, r.center().y())
        self.letters["top"].setPos(r.center().x(), r.top() + 3)
        self.viewport().update()
