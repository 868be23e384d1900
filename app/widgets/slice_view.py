"""The axial slice view: CT on pyqtgraph's fast path, PACS-style mouse handling and annotations.

Display path: the int16 slice is handed to ``ImageItem.setImage`` as it is (no float conversion), with
explicit HU levels and no auto-levels, so each frame costs one clip-and-scale to 8 bit. View coordinates
are millimetres from the image corner (the image rect is ``columns * dx`` by ``rows * dy``), so the aspect
ratio is right for any pixel spacing and the scale bar is exact.

Mouse, as in radiology viewers: wheel scrolls slices (Ctrl+wheel zooms), left-drag pans, right-drag
changes the window (horizontal: width, vertical: level), double-click centres the localizers there.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsView

from app.widgets.overlay_items import (
    ACCENT_COLOR,
    AnnotatedViewMixin,
    AnnotationLayer,
    edge_letters,
    overlay_font,
)
from ssc_core.constants import HUWindow

#: One wheel notch (Qt's angle delta for 15 degrees).
WHEEL_NOTCH = 120
#: Zoom factor of one zoom step (keys).
ZOOM_STEP = 1.25
#: Zoom limits: at most this many mm across the view when magnified, this many image widths when not.
MIN_VIEW_MM = 10.0
MAX_VIEW_IMAGES = 4.0
MARGIN_PX = 6


class SliceViewBox(pg.ViewBox):
    """A ViewBox whose wheel scrolls slices, right-drag windows and double-click picks a point."""

    sigScroll = Signal(int)  # slices (+ caudal)
    sigWindowDrag = Signal(float, float)  # screen pixels (dx right, dy down)
    sigDoubleClicked = Signal(object)  # QPointF in view (mm) coordinates

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.setMenuEnabled(False)
        self._wheel_rest = 0

    def wheelEvent(self, ev, axis=None) -> None:
        ctrl = bool(ev.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if ctrl:
            super().wheelEvent(ev, axis)
            return
        # Scroll: one slice per notch; touchpads send small deltas, so accumulate them.
        self._wheel_rest += ev.delta()
        steps = int(self._wheel_rest / WHEEL_NOTCH)
        if steps:
            self._wheel_rest -= steps * WHEEL_NOTCH
            # Wheel towards the user (negative delta) moves caudal, as in PACS viewers.
            self.sigScroll.emit(-steps)
        ev.accept()

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            d = ev.screenPos() - ev.lastScreenPos()
            if d.x() or d.y():
                self.sigWindowDrag.emit(float(d.x()), float(d.y()))
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            if ev.double():
                self.sigDoubleClicked.emit(self.mapSceneToView(ev.scenePos()))
            ev.accept()
            return
        ev.ignore()


class SliceView(AnnotatedViewMixin, pg.GraphicsView):
    """Axial CT slice with corner annotations, orientation letters, scale bar and an overlay layer.

    Signals: ``sigScroll(steps)``, ``sigWindowDrag(dx_px, dy_px)``, ``sigCursor(pos)`` with
    ``pos = (row, col)`` of the pixel under the mouse or None, ``sigPointPicked((row, col))``.
    """

    sigScroll = Signal(int)
    sigWindowDrag = Signal(float, float)
    sigCursor = Signal(object)
    sigPointPicked = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, background="k")
        self.setObjectName("sliceView")
        self.setMinimumSize(240, 240)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # One rectangle per repaint: with pyqtgraph's default (minimal) mode, the new slice plus a changed
        # annotation make a two-rectangle region, and drawing the image through such a clip costs about
        # a third more per frame than through one rectangle.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        vb = SliceViewBox(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.0)
        self.vb = vb
        self.setCentralItem(vb)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setAutoDownsample(False)
        vb.addItem(self.image)
        # Overlay layer for float maps (AI heat maps): an 8-bit index image through a uint8 RGBA LUT.
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setZValue(10)
        self.overlay.hide()
        vb.addItem(self.overlay)
        self._levels = (-1350.0, 150.0)
        self._rect = QRectF(0, 0, 1, 1)
        self._rect_pending = False
        self._shape: tuple[int, int] | None = None
        self._mm_per_px = (1.0, 1.0)  # (dy, dx)
        self._cursor: tuple[int, int] | None = None

        big = overlay_font(11.0, bold=True)
        layer = AnnotationLayer(self)
        self.annotations = layer
        self.text_top_left = layer.text(anchor=(0, 0))
        self.text_top_right = layer.text(anchor=(1, 0), align=Qt.AlignmentFlag.AlignRight)
        self.text_bottom_left = layer.text(anchor=(0, 1))
        self.text_center = layer.text(
            anchor=(0.5, 0.5), align=Qt.AlignmentFlag.AlignHCenter, color=ACCENT_COLOR, font=big
        )
        self.orientation = {
            edge: layer.text(anchor=anchor, color=ACCENT_COLOR, font=big)
            for edge, anchor in (
                ("left", (0, 0.5)),
                ("right", (1, 0.5)),
                ("top", (0.5, 0)),
                ("bottom", (0.5, 1)),
            )
        }
        self.scale_bar = layer.scale_bar()
        for item in (*self.orientation.values(), self.scale_bar):
            item.setVisible(False)

        vb.sigResized.connect(self._layout_annotations)
        vb.sigTransformChanged.connect(self._update_scale_bar)
        vb.sigScroll.connect(self.sigScroll)
        vb.sigWindowDrag.connect(self.sigWindowDrag)
        vb.sigDoubleClicked.connect(self._on_double_click)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # --- content -------------------------------------------------------------------------------------------

    def set_geometry(
        self,
        shape_yx: tuple[int, int],
        pixel_spacing: tuple[float, float],
        direction: np.ndarray | None = None,
    ) -> None:
        """Prepare for slices of ``shape_yx`` with ``pixel_spacing`` (dy, dx) mm and fit the view.

        ``direction`` is the volume's direction matrix (rows z, y, x in LPS); it decides the orientation
        letters. The standard axial display (anterior up, the patient's right on the viewer's left:
        radiological convention, as the scanner stores it) needs no flipping.
        """
        ny, nx = (int(s) for s in shape_yx)
        dy, dx = (float(s) for s in pixel_spacing)
        self._shape = (ny, nx)
        self._mm_per_px = (dy, dx)
        self._rect = QRectF(0.0, 0.0, nx * dx, ny * dy)
        # ImageItem.setRect scales by the current image's size: apply it with the first slice.
        self._rect_pending = True
        extent = max(self._rect.width(), self._rect.height())
        self.vb.setLimits(
            minXRange=MIN_VIEW_MM,
            minYRange=MIN_VIEW_MM,
            maxXRange=extent * MAX_VIEW_IMAGES,
            maxYRange=extent * MAX_VIEW_IMAGES,
        )
        if direction is not None:
            letters = edge_letters(np.asarray(direction)[1], np.asarray(direction)[2])
            for edge, item in self.orientation.items():
                item.setText(letters[edge])
                item.setVisible(True)
        self.scale_bar.setVisible(True)
        self.reset_view()

    def clear(self) -> None:
        self.image.clear()
        self.clear_overlay()
        self._shape = None
        for item in (*self.orientation.values(), self.scale_bar):
            item.setVisible(False)
        for t in (self.text_top_left, self.text_top_right, self.text_bottom_left):
            t.setText("")

    def show_slice(self, hu: np.ndarray) -> None:
        """Display an int16 slice (rows y, columns x) at the current HU levels."""
        self.image.setImage(hu, autoLevels=False, levels=self._levels)
        if self._rect_pending:
            self._rect_pending = False
            self.image.setRect(self._rect)

    def set_window(self, window: HUWindow) -> None:
        self._levels = (window.lower, window.upper)
        self.image.setLevels(self._levels)

    @property
    def levels(self) -> tuple[float, float]:
        return self._levels

    def set_overlay(
        self,
        values: np.ndarray | None,
        *,
        value_range: tuple[float, float] = (-1.0, 1.0),
        lut: np.ndarray | None = None,
        opacity: float = 0.5,
    ) -> None:
        """Show a float map (same shape as the slice) over the CT, or hide the layer with None.

        Values are mapped once to 8-bit indices 1..255 over ``value_range`` (NaN -> index 0, which the
        LUT should make transparent); ``lut`` is a (256, 4) uint8 RGBA table. Rendering then stays on
        pyqtgraph's 8-bit LUT path.
        """
        if values is None:
            self.clear_overlay()
            return
        lo, hi = value_range
        scaled = (np.asarray(values, dtype=np.float32) - lo) * (254.0 / max(hi - lo, 1e-12)) + 1.0
        index = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype(np.uint8)
        index[np.isnan(values)] = 0
        if lut is None:
            lut = np.zeros((256, 4), dtype=np.uint8)
            lut[1:, 0] = 255
            lut[1:, 3] = np.linspace(0, 255, 255).astype(np.uint8)
        self.overlay.setImage(index, autoLevels=False, levels=(0, 255), lut=lut)
        self.overlay.setRect(self._rect)
        self.overlay.setOpacity(opacity)
        self.overlay.show()

    def clear_overlay(self) -> None:
        self.overlay.hide()
        self.overlay.clear()

    @property
    def overlay_visible(self) -> bool:
        return self.overlay.isVisible() and self.overlay.image is not None

    # --- view ----------------------------------------------------------------------------------------------

    def reset_view(self) -> None:
        """Fit the whole slice into the view (zoom and pan reset)."""
        self.vb.setRange(rect=self._rect, padding=0.0)
        self._update_scale_bar()

    def zoom(self, factor: float) -> None:
        """Zoom about the view centre (factor > 1 magnifies)."""
        center = self.vb.viewRect().center()
        self.vb.scaleBy((1.0 / factor, 1.0 / factor), center=center)

    def view_mm_per_pixel(self) -> float:
        sx, _ = self.vb.viewPixelSize()
        return float(sx)

    # --- annotations -------------------------------------------------------------------------------------

    def _layout_annotations(self) -> None:
        r = QRectF(self.viewport().rect())
        m = MARGIN_PX
        self.text_top_left.setPos(r.left() + m, r.top() + m)
        self.text_top_right.setPos(r.right() - m, r.top() + m)
        self.text_bottom_left.setPos(r.left() + m, r.bottom() - m)
        self.text_center.setPos(r.center())
        self.orientation["left"].setPos(r.left() + m, r.center().y())
        self.orientation["right"].setPos(r.right() - m, r.center().y())
        self.orientation["top"].setPos(r.center().x(), r.top() + m)
        self.orientation["bottom"].setPos(r.center().x(), r.bottom() - m)
        self.scale_bar.setPos(r.right() - 2 * m, r.bottom() - 2 * m)
        self._update_scale_bar()
        self.viewport().update()

    def _update_scale_bar(self) -> None:
        if self._shape is None:
            return
        width_px = self.vb.boundingRect().width()
        self.scale_bar.set_scale(self.view_mm_per_pixel(), max(20.0, width_px * 0.2))

    # --- mouse ---------------------------------------------------------------------------------------------

    def pixel_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """(row, col) of the image pixel at a scene position, or None outside the image."""
        if self._shape is None or self.image.image is None:
            return None
        p = self.image.mapFromScene(scene_pos)
        col, row = int(np.floor(p.x())), int(np.floor(p.y()))
        ny, nx = self._shape
        if 0 <= row < ny and 0 <= col < nx:
            return row, col
        return None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        pos = self.pixel_at(scene_pos)
        if pos != self._cursor:
            self._cursor = pos
            self.sigCursor.emit(pos)

    def _on_double_click(self, view_pos: QPointF) -> None:
        if self._shape is None:
            return
        dy, dx = self._mm_per_px
        row, col = int(view_pos.y() // dy), int(view_pos.x() // dx)
        ny, nx = self._shape
        if 0 <= row < ny and 0 <= col < nx:
            self.sigPointPicked.emit((row, col))

    @property
    def cursor_pixel(self) -> tuple[int, int] | None:
        return self._cursor

    def leaveEvent(self, ev) -> None:
        super().leaveEvent(ev)
        if self._cursor is not None:
            self._cursor = None
            self.sigCursor.emit(None)

    def set_message(self, text: str, color: QColor | None = None) -> None:
        """A centred message on the image (e.g. "Loading…"); empty to hide."""
        if color is not None:
            self.text_center.setColor(color)
        self.text_center.setText(text)
