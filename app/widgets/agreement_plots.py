"""Bland-Altman and scatter plots of two raters (pyqtgraph), for one pattern and level or all levels.

Bland-Altman (Bland & Altman, Lancet 1986): each matched observation at (mean of A and B, A - B), the bias
(mean difference) and the 95 % limits of agreement (bias +- 1.96 SD) as horizontal lines, zero dotted.
Scatter: B against A with the identity line. Bias and limits come from
:func:`ssc_core.analysis.agreement.bland_altman`, the same function as the reports, so the plot and the
tables cannot disagree. Scores sit on a 5-point grid and many observations coincide: points are drawn
translucent, so a darker point is several observations (hover for the cases). Both plots are drawn on
white with black axes and export to PNG at print resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.report_tables import LEVEL_KEYS, level_name
from app.widgets.report_table import show_warning
from ssc_core.analysis.render import fmt
from ssc_core.constants import PATTERNS, SCORE_MAX, SCORE_MIN
from ssc_core.fileio import atomic_write

if TYPE_CHECKING:
    from app.statistics import RaterChoice, StatisticsResult
    from ssc_core.analysis.matching import RatingIndex
    from ssc_core.analysis.results import BlandAltman

SCORES = "score"
POSITIONS = "position"
MEASURES = {SCORES: "Scores (%)", POSITIONS: "Level positions (mm)"}
#: Width of an exported plot in pixels (about 13 cm at 300 dpi).
EXPORT_WIDTH_PX = 1600
POINT_BRUSH = (31, 86, 153, 110)
POINT_PEN = (31, 86, 153, 200)
BIAS_PEN = pg.mkPen((200, 40, 40), width=2)
LOA_PEN = pg.mkPen((200, 40, 40), width=1.5, style=Qt.PenStyle.DashLine)
ZERO_PEN = pg.mkPen((120, 120, 120), width=1, style=Qt.PenStyle.DotLine)
IDENTITY_PEN = pg.mkPen((90, 90, 90), width=1.5, style=Qt.PenStyle.DashLine)


@dataclass(frozen=True, eq=False)
class PairPlotData:
    """The matched observations of two raters and their Bland-Altman figures (or why there are none)."""

    rater_a: str
    rater_b: str
    measure: str
    pattern: str | None
    level: str
    a: np.ndarray
    b: np.ndarray
    cases: np.ndarray
    levels: np.ndarray
    bland_altman: BlandAltman | None
    reason: str = ""
    note: str = ""

    @property
    def n_obs(self) -> int:
        return len(self.a)

    @property
    def n_cases(self) -> int:
        return len(set(self.cases.astype(str).tolist()))

    @property
    def means(self) -> np.ndarray:
        return (self.a + self.b) / 2.0

    @property
    def differences(self) -> np.ndarray:
        return self.a - self.b


def pair_plot_data(
    index: RatingIndex, rater_a: str, rater_b: str, *, measure: str, pattern: str | None, level: str
) -> PairPlotData:
    """Match two raters (finished readings only) and compute their Bland-Altman figures."""
    from ssc_core.analysis.agreement import bland_altman

    lv = None if level == LEVEL_KEYS[0] else int(level.lstrip("L"))
    pat = pattern if measure == SCORES else None
    empty = np.zeros(0)
    if rater_a == rater_b:
        return PairPlotData(
            rater_a,
            rater_b,
            measure,
            pat,
            level,
            empty,
            empty,
            empty,
            empty,
            None,
            "choose two different raters",
        )
    m = index.match([rater_a, rater_b], pattern=pat, level=lv)
    a, b = m.column(0).astype(float), m.column(1).astype(float)
    if m.reason:
        return PairPlotData(
            rater_a, rater_b, measure, pat, level, a, b, m.cases, m.levels, None, m.reason, m.note
        )
    ba = bland_altman(a, b, cases=m.cases, names=m.raters)
    return PairPlotData(
        rater_a,
        rater_b,
        measure,
        pat,
        level,
        a,
        b,
        m.cases,
        m.levels,
        ba,
        "" if ba.estimable else ba.reason,
        m.note,
    )


def _plot_widget(name: str) -> pg.PlotWidget:
    w = pg.PlotWidget(background="w")
    w.setObjectName(name)
    item = w.getPlotItem()
    item.showGrid(x=True, y=True, alpha=0.15)
    for side in ("left", "bottom"):
        axis = item.getAxis(side)
        axis.setPen(pg.mkPen("k"))
        axis.setTextPen(pg.mkPen("k"))
    item.setMenuEnabled(False)
    w.setMinimumSize(320, 260)
    w.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return w


def _line(pen, label: str, position: float) -> pg.InfiniteLine:
    line = pg.InfiniteLine(
        angle=0,
        pen=pen,
        movable=False,
        label=label,
        labelOpts={
            "position": position,
            "color": (160, 30, 30),
            "anchors": [(1, 1), (1, 1)],
            "fill": (255, 255, 255, 200),
        },
    )
    return line


class AgreementPlots(QWidget):
    """Rater pair, measure, pattern and level choosers over a Bland-Altman and a scatter plot."""

    selectionChanged = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("agreementPlots")
        self.result: StatisticsResult | None = None
        self.data: PairPlotData | None = None
        self._updating = False

        self.rater_a = QComboBox(self)
        self.rater_a.setObjectName("raterA")
        self.rater_b = QComboBox(self)
        self.rater_b.setObjectName("raterB")
        for box in (self.rater_a, self.rater_b):
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.swap = QToolButton(self)
        self.swap.setText("\u21c4")
        self.swap.setToolTip("Swap the two raters (A \u2212 B becomes B \u2212 A)")
        self.measure = QComboBox(self)
        self.measure.setObjectName("measure")
        for key, text in MEASURES.items():
            self.measure.addItem(text, key)
        self.pattern = QComboBox(self)
        self.pattern.setObjectName("pattern")
        for p in PATTERNS:
            self.pattern.addItem(p.value, p.value)
        self.level = QComboBox(self)
        self.level.setObjectName("level")
        for key in LEVEL_KEYS:
            self.level.addItem(level_name(key), key)
        self.save_ba = QPushButton("Save Bland-Altman PNG…", self)
        self.save_scatter = QPushButton("Save scatter PNG…", self)
        self.message = QLabel(self)
        self.message.setObjectName("plotMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #8a4b00;")

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for text, w in (
            ("Rater A", self.rater_a),
            (None, self.swap),
            ("Rater B", self.rater_b),
            ("Measure", self.measure),
            ("Pattern", self.pattern),
            ("Level", self.level),
        ):
            if text:
                controls.addWidget(QLabel(text, self))
            controls.addWidget(w)
        controls.addStretch(1)
        controls.addWidget(self.save_ba)
        controls.addWidget(self.save_scatter)

        self.ba_plot = _plot_widget("blandAltmanPlot")
        self.scatter_plot = _plot_widget("scatterPlot")
        self.ba_points = pg.ScatterPlotItem(
            size=8, pen=pg.mkPen(POINT_PEN), brush=pg.mkBrush(POINT_BRUSH), hoverable=True, tip=self._tip
        )
        self.scatter_points = pg.ScatterPlotItem(
            size=8, pen=pg.mkPen(POINT_PEN), brush=pg.mkBrush(POINT_BRUSH), hoverable=True, tip=self._tip
        )
        self.zero_line = pg.InfiniteLine(angle=0, pos=0.0, pen=ZERO_PEN, movable=False)
        # Short labels (the values are in the title): long ones hide the points near the right edge.
        self.bias_line = _line(BIAS_PEN, "bias", 0.985)
        self.loa_low = _line(LOA_PEN, "\u22121.96 SD", 0.985)
        self.loa_high = _line(LOA_PEN, "+1.96 SD", 0.985)
        self.identity = pg.PlotCurveItem(pen=IDENTITY_PEN)
        ba = self.ba_plot.getPlotItem()
        for item in (self.zero_line, self.bias_line, self.loa_low, self.loa_high, self.ba_points):
            ba.addItem(item)
        sc = self.scatter_plot.getPlotItem()
        sc.addItem(self.identity)
        sc.addItem(self.scatter_points)

        plots = QHBoxLayout()
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.ba_plot, 3)
        plots.addWidget(self.scatter_plot, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.message)
        layout.addLayout(plots, 1)

        for box in (self.rater_a, self.rater_b, self.measure, self.pattern, self.level):
            box.currentIndexChanged.connect(self._changed)
        self.measure.currentIndexChanged.connect(self._measure_changed)
        self.swap.clicked.connect(self._swap)
        self.save_ba.clicked.connect(lambda: self._choose_png("ba"))
        self.save_scatter.clicked.connect(lambda: self._choose_png("scatter"))
        self.set_result(None)

    # --- state ---------------------------------------------------------------------------------------------

    def _raters(self) -> tuple[RaterChoice, ...]:
        if self.result is None:
            return ()
        return self.result.score_raters if self.current_measure() == SCORES else self.result.position_raters

    def _index(self) -> RatingIndex | None:
        if self.result is None:
            return None
        return self.result.scores if self.current_measure() == SCORES else self.result.positions

    def current_measure(self) -> str:
        return self.measure.currentData() or SCORES

    def set_result(self, result: StatisticsResult | None) -> None:
        """Show a new computation's raters; picks a reader against the ground truth to start with."""
        self.result = result
        has_positions = result is not None and result.positions is not None
        self.measure.model().item(1).setEnabled(has_positions)  # type: ignore[attr-defined]
        self._fill_raters()
        raters = self._raters()
        if len(raters) >= 2:
            readers = [r.id for r in raters if r.kind == "reader"]
            gt = next((r.id for r in raters if r.kind == "consensus"), None)
            a = readers[0] if readers else raters[0].id
            b = gt if gt is not None and gt != a else next(r.id for r in raters if r.id != a)
            self.select(a, b)
        else:
            self.refresh()
        enabled = result is not None and not result.empty
        for w in (self.rater_a, self.rater_b, self.swap, self.measure, self.pattern, self.level):
            w.setEnabled(enabled)

    def _fill_raters(self) -> None:
        self._updating = True
        try:
            ids = [r.id for r in self._raters()]
            for box in (self.rater_a, self.rater_b):
                keep = box.currentText()
                box.clear()
                box.addItems(ids)
                if keep in ids:
                    box.setCurrentText(keep)
        finally:
            self._updating = False

    def select(
        self,
        rater_a: str,
        rater_b: str,
        *,
        pattern: str | None = None,
        level: str | None = None,
        measure: str | None = None,
    ) -> None:
        """Show ``rater_a`` against ``rater_b`` (and the pattern, level and measure when given)."""
        self._updating = True
        try:
            if measure is not None and measure != self.current_measure():
                self.measure.setCurrentIndex(self.measure.findData(measure))
                self._fill_raters()
            if pattern is not None:
                self.pattern.setCurrentIndex(self.pattern.findData(pattern))
            if level is not None:
                self.level.setCurrentIndex(self.level.findData(level))
            self.rater_a.setCurrentText(rater_a)
            self.rater_b.setCurrentText(rater_b)
        finally:
            self._updating = False
        self.refresh()

    def _changed(self) -> None:
        if not self._updating:
            self.refresh()

    def _measure_changed(self) -> None:
        if self._updating:
            return
        self._fill_raters()
        self.pattern.setEnabled(self.current_measure() == SCORES)
        self.refresh()

    def _swap(self) -> None:
        self.select(self.rater_b.currentText(), self.rater_a.currentText())

    # --- drawing -------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        index = self._index()
        a, b = self.rater_a.currentText(), self.rater_b.currentText()
        measure = self.current_measure()
        self.pattern.setEnabled(measure == SCORES and self.result is not None)
        if index is None or not a or not b:
            self.data = None
            self._draw()
            return
        self.data = pair_plot_data(
            index, a, b, measure=measure, pattern=self.pattern.currentData(), level=self.level.currentData()
        )
        self._draw()
        self.selectionChanged.emit()

    def _units(self) -> tuple[str, str]:
        """(unit of values, unit of differences) of the measure shown."""
        return ("%", "score points") if self.current_measure() == SCORES else ("mm", "mm")

    def _what(self) -> str:
        d = self.data
        if d is None:
            return ""
        what = d.pattern if d.measure == SCORES else "Level position"
        return f"{what}, {level_name(d.level).lower() if d.level == LEVEL_KEYS[0] else d.level}"

    def _draw(self) -> None:
        d = self.data
        ba = self.ba_plot.getPlotItem()
        sc = self.scatter_plot.getPlotItem()
        unit, diff_unit = self._units()
        if d is None:
            for item in (self.ba_points, self.scatter_points):
                item.setData([], [])
            for line in (self.bias_line, self.loa_low, self.loa_high):
                line.hide()
            self.identity.setData([], [])
            ba.setTitle("Bland-Altman", color="k")
            sc.setTitle("Scatter", color="k")
            self.message.setText("" if self.result is None else "Choose two raters to compare.")
            self._set_export_enabled(False)
            return
        means, diffs = d.means, d.differences
        spots = [{"pos": (x, y), "data": i} for i, (x, y) in enumerate(zip(means, diffs))]
        self.ba_points.setData(spots)
        self.scatter_points.setData([{"pos": (x, y), "data": i} for i, (x, y) in enumerate(zip(d.a, d.b))])
        est = d.bland_altman is not None and d.bland_altman.estimable
        for line in (self.bias_line, self.loa_low, self.loa_high):
            line.setVisible(est)
        if est:
            assert d.bland_altman is not None
            assert d.bland_altman.loa is not None
            self.bias_line.setValue(d.bland_altman.bias)
            self.loa_low.setValue(d.bland_altman.loa[0])
            self.loa_high.setValue(d.bland_altman.loa[1])
        n_text = f"n = {d.n_cases} cases, {d.n_obs} observations"
        figures = ""
        if est:
            assert d.bland_altman is not None
            assert d.bland_altman.loa is not None
            figures = (
                f"; bias {fmt(d.bland_altman.bias)}, 95 % limits {fmt(d.bland_altman.loa[0])} to "
                f"{fmt(d.bland_altman.loa[1])} {diff_unit}"
            )
        small = "<span style='font-size:9pt; color:#303030'>"
        ba.setTitle(
            f"<b>Bland-Altman</b>: {d.rater_a} \u2212 {d.rater_b}<br>"
            f"{small}{self._what()}; {n_text}{figures}</span>",
            color="k",
        )
        sc.setTitle(
            f"<b>Scatter</b>: {d.rater_b} against {d.rater_a}<br>{small}{self._what()}; {n_text}</span>",
            color="k",
        )
        value_name = "score" if d.measure == SCORES else "z"
        ba.setLabel("bottom", f"Mean of A and B ({value_name}, {unit})")
        ba.setLabel("left", f"A \u2212 B ({diff_unit})")
        sc.setLabel("bottom", f"{d.rater_a} ({unit})")
        sc.setLabel("left", f"{d.rater_b} ({unit})")
        self._set_ranges(d)
        msg = []
        if d.rater_a == d.rater_b:
            msg.append("Choose two different raters.")
        elif d.reason:
            msg.append(f"Not estimable: {d.reason}.")
        if d.note:
            msg.append(f"Left out: {d.note}.")
        self.message.setText(" ".join(msg))
        self._set_export_enabled(d.n_obs > 0)

    def _set_ranges(self, d: PairPlotData) -> None:
        ba = self.ba_plot.getPlotItem()
        sc = self.scatter_plot.getPlotItem()
        if d.measure == SCORES:
            # From 0 to the largest score seen, in whole tens: most of a cohort is mild, and a 0..100
            # axis would squeeze it into a corner.
            top = float(max(d.a.max(), d.b.max())) if d.n_obs else float(SCORE_MAX)
            lo, hi = float(SCORE_MIN), float(min(SCORE_MAX, max(20.0, 10.0 * np.ceil((top + 5.0) / 10.0))))
        elif d.n_obs:
            values = np.concatenate([d.a, d.b])
            pad = max(5.0, 0.05 * float(values.max() - values.min()))
            lo, hi = float(values.min()) - pad, float(values.max()) + pad
        else:
            lo, hi = 0.0, 1.0
        self.identity.setData([lo, hi], [lo, hi])
        sc.setXRange(lo, hi, padding=0.02)
        sc.setYRange(lo, hi, padding=0.02)
        ba.setXRange(lo, hi, padding=0.02)
        spread = [0.0]
        if d.n_obs:
            spread.append(float(np.abs(d.differences).max()))
        if d.bland_altman is not None and d.bland_altman.loa is not None:
            spread += [abs(d.bland_altman.loa[0]), abs(d.bland_altman.loa[1])]
        half = max(max(spread) * 1.15, 5.0 if d.measure == SCORES else 2.0)
        ba.setYRange(-half, half, padding=0)

    def _tip(self, x: float, y: float, data: object) -> str:
        d = self.data
        if d is None or not isinstance(data, (int, np.integer)) or int(data) >= d.n_obs:
            return ""
        i = int(data)
        unit = self._units()[0]
        case = f"{d.cases[i]}, L{int(d.levels[i])}"
        return f"{case}\n{d.rater_a}: {d.a[i]:g} {unit}\n{d.rater_b}: {d.b[i]:g} {unit}"

    # --- export --------------------------------------------------------------------------------------------

    def _set_export_enabled(self, on: bool) -> None:
        self.save_ba.setEnabled(on)
        self.save_scatter.setEnabled(on)

    def plot_widget(self, which: str) -> pg.PlotWidget:
        return self.ba_plot if which == "ba" else self.scatter_plot

    def export_png(self, which: str, path: str | Path, *, width: int = EXPORT_WIDTH_PX) -> Path:
        """Write the Bland-Altman (``"ba"``) or scatter plot to a PNG file, atomically."""
        import pyqtgraph.exporters

        target = Path(path)
        exporter = pyqtgraph.exporters.ImageExporter(self.plot_widget(which).getPlotItem())
        exporter.parameters()["width"] = int(width)
        exporter.parameters()["antialias"] = True
        exporter.parameters()["background"] = pg.mkColor("w")
        with atomic_write(target, suffix=".png") as tmp:
            result = exporter.export(str(tmp))
            if result is False or not tmp.stat().st_size:
                raise OSError(f"could not write {target.name}")
        return target

    def _default_name(self, which: str) -> str:
        d = self.data
        kind = "bland-altman" if which == "ba" else "scatter"
        if d is None:
            return f"{kind}.png"
        raw = f"{kind}_{d.rater_a}_vs_{d.rater_b}_{d.pattern or 'position'}_{d.level}"
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in raw).strip("_") + ".png"

    def _choose_png(self, which: str) -> None:
        title = "Save Bland-Altman plot" if which == "ba" else "Save scatter plot"
        path, _ = QFileDialog.getSaveFileName(self, title, self._default_name(which), "PNG (*.png)")
        if not path:
            return
        try:
            self.export_png(which, path)
        except OSError as exc:
            show_warning(self, "Not saved", f"The plot could not be written: {exc.strerror or exc}.")
