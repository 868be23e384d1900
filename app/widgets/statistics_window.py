"""The statistics window of a study (for the study's administrator): report tables and agreement plots.

``StatisticsWindow(study_path)`` opens the study file read-only in a worker, computes every report there
(:func:`app.statistics.compute_statistics`: progress in the status bar, Cancel, the window stays usable)
and shows, one tab each, the observer study (the paper's Table 6 layout, pooled or per level), AI
performance (Tables 4 and 5), level positions, heat-map Likert ratings and heat-map explainability, with
Bland-Altman and scatter plots of any two raters below. Selecting a row of a table shows that comparison
in the plots. Every table copies to the clipboard and saves as CSV or PNG; every plot saves as PNG.

Nothing here writes to the study. Only pseudonymous case codes are shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.report_tables import LEVEL_KEYS
from app.widgets.agreement_plots import POSITIONS, SCORES, AgreementPlots
from app.widgets.report_table import ReportPanel
from app.widgets.status import LoadProgress, research_notice_label
from app.workers import TaskResult, TaskRunner
from ssc_core import RESEARCH_USE_NOTICE

if TYPE_CHECKING:
    from app.report_tables import TableRow
    from app.statistics import StatisticsResult

WINDOW_TITLE = "Statistics"


def compute_statistics(study_path, **kwargs):
    """The worker's job (looked up at call time, so tests can watch which thread runs it)."""
    from app.statistics import compute_statistics as compute

    return compute(study_path, **kwargs)


class StatisticsWindow(QMainWindow):
    """Reports and plots of one study.

    Signals: ``computed(StatisticsResult)`` once the reports are shown (also for a study with nothing to
    show yet), ``failed(BaseException)`` when the study could not be read, ``cancelled()``.
    """

    computed = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, study_path: str | Path, *, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statisticsWindow")
        if parent is not None:
            self.setWindowFlag(Qt.WindowType.Window, True)
        self.study_path = Path(study_path)
        self.result: StatisticsResult | None = None
        self.error: BaseException | None = None
        self.state = "idle"
        self.runner = TaskRunner(self, max_threads=1)
        self._task = None
        self.setWindowTitle(f"{WINDOW_TITLE} \u2014 {self.study_path.name}")

        self.header = QLabel(self)
        self.header.setObjectName("statisticsHeader")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.header.setContentsMargins(6, 4, 6, 0)

        self.observer_panel = ReportPanel(self, name="observerPanel")
        self.observer_level = QComboBox(self)
        self.observer_level.setObjectName("observerLevel")
        for key in LEVEL_KEYS:
            self.observer_level.addItem("All levels (pooled)" if key == LEVEL_KEYS[0] else key, key)
        self.observer_level.currentIndexChanged.connect(self._show_observer_level)
        self.observer_panel.extra.addWidget(QLabel("Levels", self))
        self.observer_panel.extra.addWidget(self.observer_level)
        self.ai_panel = ReportPanel(self, name="aiPanel")
        self.positions_panel = ReportPanel(self, name="positionsPanel")
        self.likert_panel = ReportPanel(self, name="likertPanel")
        self.likert_agreement_panel = ReportPanel(self, name="likertAgreementPanel")
        self.explainability_panel = ReportPanel(self, name="explainabilityPanel")
        likert = QSplitter(Qt.Orientation.Vertical, self)
        likert.addWidget(self.likert_panel)
        likert.addWidget(self.likert_agreement_panel)
        likert.setStretchFactor(0, 3)
        likert.setStretchFactor(1, 1)

        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("statisticsTabs")
        self.tabs.addTab(self.observer_panel, "Observer study")
        self.tabs.addTab(self.ai_panel, "AI performance")
        self.tabs.addTab(self.positions_panel, "Level positions")
        self.tabs.addTab(likert, "Heat-map ratings")
        self.tabs.addTab(self.explainability_panel, "Explainability")
        self.plots = AgreementPlots(self)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("statisticsSplitter")
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)

        self.message = QLabel(self)
        self.message.setObjectName("statisticsMessage")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setStyleSheet("font-size: 12pt; color: #404040; padding: 40px;")
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.message)
        self.pages.addWidget(self.splitter)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self.progress = LoadProgress(self)
        self.progress.setObjectName("statisticsProgress")
        self.progress.cancel_button.setToolTip("Stop computing (Esc)")
        self.progress.cancelRequested.connect(self.cancel)
        self.statusBar().addPermanentWidget(self.progress)
        notice = research_notice_label(self)
        notice.setToolTip(RESEARCH_USE_NOTICE + " AI figures are research output.")
        self.statusBar().addPermanentWidget(notice)

        self._build_actions()
        for panel in (self.observer_panel, self.ai_panel, self.positions_panel):
            panel.rowActivated.connect(self._row_activated)
        self.resize(1440, 900)
        self.start()

    # --- construction --------------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.act_recompute = QAction("&Recompute", self)
        self.act_recompute.setShortcut(QKeySequence.StandardKey.Refresh)
        self.act_recompute.setToolTip("Read the study again and recompute every report (F5)")
        self.act_recompute.triggered.connect(self.start)
        self.act_export = QAction("&Export study…", self)
        self.act_export.setToolTip("Write the study's data and report tables to a spreadsheet or CSV files")
        self.act_export.triggered.connect(self.open_export_dialog)
        self.act_cancel = QAction("Cancel", self)
        self.act_cancel.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.act_cancel.triggered.connect(self.cancel)
        self.act_close = QAction("&Close", self)
        self.act_close.setShortcut(QKeySequence.StandardKey.Close)
        self.act_close.triggered.connect(self.close)
        for act in (self.act_recompute, self.act_export, self.act_cancel, self.act_close):
            self.addAction(act)
        tb = QToolBar("Statistics", self)
        tb.setObjectName("statisticsToolbar")
        tb.setMovable(False)
        tb.addAction(self.act_recompute)
        tb.addAction(self.act_export)
        self.addToolBar(tb)

    # --- computing -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """(Re)compute the reports in a worker; a computation already running is cancelled first."""
        if self._task is not None:
            self._task.cancel()
        self.state = "computing"
        self.error = None
        self.act_recompute.setEnabled(False)
        self.progress.start("Reading the study")
        if self.result is None:
            self.message.setText("Computing the statistics of the study\u2026")
            self.pages.setCurrentWidget(self.message)
        task = self.runner.submit("statistics", compute_statistics, self.study_path)
        task.progressed.connect(self._on_progress)
        task.finished.connect(self._on_finished)
        self._task = task

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    @property
    def computing(self) -> bool:
        return self._task is not None

    def _on_progress(self, request_id: int, p) -> None:
        if self._task is not None and request_id == self._task.request_id:
            self.progress.update_progress(p)

    def _on_finished(self, result: TaskResult) -> None:
        if self._task is None or result.request_id != self._task.request_id:
            return  # a computation that was replaced by a newer one
        self._task = None
        self.progress.stop()
        self.act_recompute.setEnabled(True)
        if result.cancelled:
            self.state = "cancelled" if self.result is None else "ready"
            if self.result is None:
                self.message.setText("Computing was cancelled. Press F5 (Recompute) to start again.")
            self.statusBar().showMessage("Cancelled.", 5000)
            self.cancelled.emit()
            return
        if result.error is not None:
            self._show_error(result.error)
            return
        self.show_result(result.value)

    def _show_error(self, error: BaseException) -> None:
        from app.statistics import error_message

        self.state = "error"
        self.error = error
        self.message.setText(
            "The statistics could not be computed.\n\n" + error_message(error, "the statistics")
        )
        self.pages.setCurrentWidget(self.message)
        self.header.setText("")
        self.failed.emit(error)

    def show_result(self, result: StatisticsResult) -> None:
        """Show a computed result (tables, plots, header)."""
        self.result = result
        self.header.setText(self._header_text(result))
        if result.empty:
            self.state = "empty"
            self.message.setText(result.empty_reason)
            self.pages.setCurrentWidget(self.message)
            self.plots.set_result(None)
            self.computed.emit(result)
            return
        self.state = "ready"
        display = result.display
        assert display is not None
        self._show_observer_level()
        self.ai_panel.set_table(display.ai)
        self.positions_panel.set_table(display.positions)
        self.likert_panel.set_table(display.likert)
        self.likert_agreement_panel.set_table(display.likert_agreement)
        self.explainability_panel.set_table(display.explainability)
        self.plots.set_result(result)
        self.pages.setCurrentWidget(self.splitter)
        self.statusBar().showMessage(
            f"{result.n_finished} finished reading(s) of {result.n_cases} case(s) compared.", 8000
        )
        self.computed.emit(result)

    def _header_text(self, r: StatisticsResult) -> str:
        d = r.tables.description
        parts = [f"{r.title}: {r.n_cases} case(s), {r.n_finished} finished reading(s)"]
        observers = [name for s in d.sessions if s.kind != "consensus" for name in s.readers] or list(
            d.readers
        )
        if observers:
            parts.append("readers " + ", ".join(dict.fromkeys(observers)))
        if r.display is not None and r.display.ground_truth:
            parts.append(f"ground truth {r.display.ground_truth}")
        if r.display is not None and r.display.ai_reference:
            parts.append(f"readers' p-values against {r.display.ai_reference}")
        text = "; ".join(parts) + "."
        notes = [n for n in d.notes if not n.startswith("AI bundle ")]
        if notes:
            text += " " + "; ".join(notes) + "."
        return text

    def _show_observer_level(self) -> None:
        display = self.result.display if self.result is not None else None
        if display is None:
            return
        key = self.observer_level.currentData() or LEVEL_KEYS[0]
        self.observer_panel.set_table(display.observer[key])

    def _row_activated(self, row: TableRow, pattern: str | None) -> None:
        if row.pair is None:
            return
        measure = POSITIONS if self.sender() is self.positions_panel else SCORES
        self.plots.select(row.pair[0], row.pair[1], pattern=pattern, level=row.level, measure=measure)

    # --- export --------------------------------------------------------------------------------------------

    def open_export_dialog(self):
        """The export dialog for this study (administrator export); non-blocking."""
        from app.dialogs.export_dialog import ExportDialog

        dlg = ExportDialog(self.study_path, parent=self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg

    # --- lifetime ------------------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._task = None
        self.runner.shutdown(5000)
        super().closeEvent(event)
