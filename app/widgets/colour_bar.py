"""The heat maps' diverging colour map and its colour bar in score points.

A replacement heat map (DOMAIN.md section 4) holds, per pixel, the mean change of the network's score when
that area is replaced by healthy lung: negative where the area supports the disease score, positive where the
network saw disease in healthy texture. It is drawn over the CT with a diverging map on
``-HEATMAP_DISPLAY_RANGE .. +HEATMAP_DISPLAY_RANGE`` score points (the paper's display range, about +-4):
red for negative (evidence of disease), blue for positive, transparent around zero so the CT stays readable.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ssc_core.constants import HEATMAP_DISPLAY_RANGE

#: Colours at the ends of the map (RGB): negative = supports disease, positive = false positive.
NEGATIVE_RGB = (215, 25, 28)
POSITIVE_RGB = (44, 123, 182)
#: Share of the range around zero drawn fully transparent, and the share over which opacity ramps up.
TRANSPARENT_SHARE = 0.06
RAMP_SHARE = 0.5
#: A heat map whose values all lie within +-this many score points shows (almost) nothing over the CT (below
#: about 0.25 points the table is transparent, at 1 point a quarter opaque): the panel then says so, rather
#: than leave a reader wondering at an empty image (a healthy slice).
FAINT_HEATMAP_POINTS = 1.0


def heatmap_lut() -> np.ndarray:
    """The (256, 4) uint8 RGBA table for ``SliceView.set_overlay``: index 0 (NaN) transparent, 1..255 span
    -range..+range."""
    t = np.linspace(-1.0, 1.0, 255)
    lut = np.zeros((256, 4), dtype=np.uint8)
    neg = np.array(NEGATIVE_RGB, dtype=np.float64)
    pos = np.array(POSITIVE_RGB, dtype=np.float64)
    white = np.array((255.0, 255.0, 255.0))
    a = np.abs(t)[:, None]
    colour = np.where(t[:, None] < 0, white + (neg - white) * np.minimum(1, 1.6 * a), white)
    colour = np.where(t[:, None] > 0, white + (pos - white) * np.minimum(1, 1.6 * a), colour)
    alpha = np.clip((np.abs(t) - TRANSPARENT_SHARE) / RAMP_SHARE, 0.0, 1.0)
    lut[1:, :3] = np.round(colour).astype(np.uint8)
    lut[1:, 3] = np.round(255 * alpha).astype(np.uint8)
    return lut


def display_range() -> tuple[float, float]:
    return (-HEATMAP_DISPLAY_RANGE, HEATMAP_DISPLAY_RANGE)


class ColourBar(QWidget):
    """A vertical colour bar of :func:`heatmap_lut` with ticks in score points and its meaning."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmapColourBar")
        self.setMinimumWidth(92)
        self.setMaximumWidth(110)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setToolTip(
            "Heat map: change of the AI's score (points) when the area is replaced by healthy lung.\n"
            "Red (negative): the area supports the score (disease seen there).\n"
            "Blue (positive): the network saw disease in healthy tissue (a false positive).\n"
            "AI output for research use; not a diagnosis."
        )
        lut = heatmap_lut()
        # Opaque version for the bar itself (shown on a dark background like the CT).
        rgba = lut[1:].copy()
        rgba[:, 3] = 255
        bar = np.ascontiguousarray(rgba[::-1][:, None, :].repeat(12, axis=1))
        self._image = QImage(bar.data, 12, 255, 12 * 4, QImage.Format.Format_RGBA8888).copy()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        p.setFont(font)
        fm = p.fontMetrics()
        top, bottom = 3 * fm.height(), self.height() - 3 * fm.height()
        x = 10
        rect = QRectF(x, top, 14, max(10, bottom - top))
        p.drawImage(rect, self._image)
        p.setPen(QPen(QColor(220, 220, 220)))
        p.drawRect(rect)
        r = HEATMAP_DISPLAY_RANGE
        for v in np.linspace(r, -r, 5):
            y = rect.top() + (r - v) / (2 * r) * rect.height()
            p.drawLine(int(rect.right()), int(y), int(rect.right()) + 4, int(y))
            p.drawText(int(rect.right()) + 7, int(y + fm.ascent() / 2 - 1), f"{v:+.0f}" if v else "0")
        p.drawText(QRectF(0, 2, self.width(), fm.height()), Qt.AlignmentFlag.AlignHCenter, "Δ score")
        p.drawText(
            QRectF(0, 2 + fm.height(), self.width(), fm.height()), Qt.AlignmentFlag.AlignHCenter, "(points)"
        )
        p.setPen(QPen(QColor(*POSITIVE_RGB).lighter(150)))
        p.drawText(
            QRectF(0, top - fm.height() - 2, self.width(), fm.height()),
            Qt.AlignmentFlag.AlignHCenter,
            "false pos.",
        )
        p.setPen(QPen(QColor(*NEGATIVE_RGB).lighter(130)))
        p.drawText(QRectF(0, bottom + 4, self.width(), fm.height()), Qt.AlignmentFlag.AlignHCenter, "disease")
        p.setPen(QPen(QColor(150, 150, 150)))
        p.drawText(
            QRectF(0, bottom + 4 + fm.height(), self.width(), fm.height()),
            Qt.AlignmentFlag.AlignHCenter,
            "AI · research",
        )
        p.end()
