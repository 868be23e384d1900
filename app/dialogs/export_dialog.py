"""Export a study (or a reader's own readings) to a spreadsheet, CSV files or the authors' formats.

``ExportDialog(study_path)`` is the administrator's export: every reading, level positions, Likert
ratings, timing, AI results and (by default) the report tables, as an .xlsx workbook or CSV files (a
folder or a .zip; optionally semicolon-separated with decimal commas). ``ExportDialog(study_path,
reader=..., session=...)`` is a reader's export: only that reader's view of that session, built by the
core from the reader view (:func:`ssc_core.analysis.from_store.reader_view_tables`), never with report
tables, so nothing hidden from a blinded reader can reach the file. Either may instead write one rater's
scores and levels as the authors' label workbook, or their heat-map ratings as the authors' Likert JSON.

The work runs in a worker (:func:`app.statistics.run_export`) with progress and Cancel; the core writes
every file atomically and refuses an export that would contain a patient identifier. The dialog is
window-modal and non-blocking (``open()``); ``exported(path)`` reports success.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.statistics import (
    CSV_FOLDER,
    CSV_ZIP,
    LABEL_WORKBOOK,
    LIKERT_JSON,
    STUDY_EXPORT,
    XLSX,
    ExportRequest,
    error_message,
    export_raters,
    run_export,
)
from app.workers import TaskResult, TaskRunner

_SUFFIX = {XLSX: ".xlsx", CSV_ZIP: ".zip", CSV_FOLDER: ""}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "rater"


class ExportDialog(QDialog):
    """Choose what to export, in which format and where; runs the export in a worker."""

    exported = Signal(object)  # Path
    failed = Signal(object)  # BaseException

    def __init__(
        self,
        study_path: str | Path,
        *,
        reader: str | int | None = None,
        session: str | int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.study_path = Path(study_path)
        self.reader = reader
        self.session = session
        self.for_reader = reader is not None or session is not None
        self.runner = TaskRunner(self, max_threads=1)
        self._task = None
        self._target_edited = False
        self.last_path: Path | None = None
        self.last_error: BaseException | None = None
        self.setWindowTitle("Export your readings" if self.for_reader else "Export study")

        intro = QLabel(self._intro(), self)
        intro.setWordWrap(True)

        self.study_radio = QRadioButton(
            "My readings (data only)" if self.for_reader else "The study: data and report tables", self
        )
        self.label_radio = QRadioButton("Scores and levels of one rater as the authors' label workbook", self)
        self.likert_radio = QRadioButton("Heat-map ratings of one rater as the authors' Likert JSON", self)
        self.label_rater = QComboBox(self)
        self.label_rater.setObjectName("labelRater")
        self.likert_rater = QComboBox(self)
        self.likert_rater.setObjectName("likertRater")
        self.what = QButtonGroup(self)
        for i, b in enumerate((self.study_radio, self.label_radio, self.likert_radio)):
            self.what.addButton(b, i)
        self.study_radio.setChecked(True)
        what_box = QGroupBox("What", self)
        grid = QGridLayout(what_box)
        grid.addWidget(self.study_radio, 0, 0, 1, 2)
        grid.addWidget(self.label_radio, 1, 0)
        grid.addWidget(self.label_rater, 1, 1)
        grid.addWidget(self.likert_radio, 2, 0)
        grid.addWidget(self.likert_rater, 2, 1)

        self.xlsx_radio = QRadioButton("Excel workbook (.xlsx)", self)
        self.csv_folder_radio = QRadioButton("CSV files in a folder", self)
        self.csv_zip_radio = QRadioButton("CSV files in a .zip file", self)
        self.fmt = QButtonGroup(self)
        for b in (self.xlsx_radio, self.csv_folder_radio, self.csv_zip_radio):
            self.fmt.addButton(b)
        self.xlsx_radio.setChecked(True)
        self.decimal_comma = QCheckBox("Semicolons and decimal commas (for comma-decimal spreadsheets)", self)
        self.decimal_comma.setToolTip(
            "CSV as spreadsheet programs in German, French, Dutch... locales open it directly"
        )
        self.with_reports = QCheckBox("Include the report tables (observer study, AI performance, …)", self)
        self.with_reports.setChecked(True)
        self.with_reports.setVisible(not self.for_reader)
        self.format_box = QGroupBox("Format", self)
        fl = QVBoxLayout(self.format_box)
        for w in (
            self.xlsx_radio,
            self.csv_folder_radio,
            self.csv_zip_radio,
            self.decimal_comma,
            self.with_reports,
        ):
            fl.addWidget(w)

        self.target = QLineEdit(self)
        self.target.setObjectName("exportTarget")
        self.target.textEdited.connect(self._on_target_edited)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self.browse)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Save to", self))
        target_row.addWidget(self.target, 1)
        target_row.addWidget(browse)

        self.progress_label = QLabel(self)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.result_label = QLabel(self)
        self.result_label.setObjectName("exportResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.show_folder = QPushButton("Show folder", self)
        self.show_folder.clicked.connect(self._open_folder)
        self.show_folder.hide()

        self.buttons = QDialogButtonBox(self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.start_export)
        self.close_button.clicked.connect(self._close_or_cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(what_box)
        layout.addWidget(self.format_box)
        layout.addLayout(target_row)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)
        layout.addWidget(self.show_folder, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.buttons)
        self.resize(640, 0)

        self.what.idToggled.connect(lambda _id, on: on and self._update())
        self.fmt.buttonToggled.connect(lambda _b, on: on and self._update())
        self.label_rater.currentIndexChanged.connect(lambda _i: self._update())
        self.likert_rater.currentIndexChanged.connect(lambda _i: self._update())
        self._set_running(False)
        self.progress_label.hide()
        self.progress.hide()
        self._update()
        self._load_raters()

    # --- choices -------------------------------------------------------------------------------------------

    def _intro(self) -> str:
        if self.for_reader:
            return (
                f"Your own readings of session {self.session} ({self.reader}): scores, level positions, "
                "ratings and timing. Nothing of other readers, the consensus or the AI is included. "
                "Cases appear by their study codes only."
            )
        return (
            "Every reading of the study in long format (scores, level positions, Likert ratings, timing, AI "
            "results), a description sheet (sessions, readers, software version, audit-chain head) and the "
            "report tables. Cases appear by their study codes only: no patient identifier is ever written."
        )

    def what_choice(self) -> str:
        return {0: STUDY_EXPORT, 1: LABEL_WORKBOOK, 2: LIKERT_JSON}[max(0, self.what.checkedId())]

    def format_choice(self) -> str:
        if self.csv_folder_radio.isChecked():
            return CSV_FOLDER
        if self.csv_zip_radio.isChecked():
            return CSV_ZIP
        return XLSX

    def set_format(self, fmt: str) -> None:
        {XLSX: self.xlsx_radio, CSV_FOLDER: self.csv_folder_radio, CSV_ZIP: self.csv_zip_radio}[
            fmt
        ].setChecked(True)

    def set_what(self, what: str, rater: str | None = None) -> None:
        button = {
            STUDY_EXPORT: self.study_radio,
            LABEL_WORKBOOK: self.label_radio,
            LIKERT_JSON: self.likert_radio,
        }
        button[what].setChecked(True)
        if rater is not None:
            box = self.label_rater if what == LABEL_WORKBOOK else self.likert_rater
            box.setCurrentText(rater)
        self._update()

    def rater_choice(self) -> str | None:
        what = self.what_choice()
        box = (
            self.label_rater if what == LABEL_WORKBOOK else self.likert_rater if what == LIKERT_JSON else None
        )
        return (box.currentText() or None) if box is not None else None

    def _update(self) -> None:
        what = self.what_choice()
        study = what == STUDY_EXPORT
        self.format_box.setEnabled(study)
        self.decimal_comma.setEnabled(study and self.format_choice() != XLSX)
        self.label_rater.setEnabled(what == LABEL_WORKBOOK)
        self.likert_rater.setEnabled(what == LIKERT_JSON)
        if not self._target_edited:
            self.target.setText(str(self.default_target()))
        ready = what == STUDY_EXPORT or bool(self.rater_choice())
        self.export_button.setEnabled(ready and self._task is None)

    def default_target(self) -> Path:
        folder = self.study_path.parent
        stem = self.study_path.stem
        if self.for_reader:
            stem += f"_{_slug(str(self.reader))}_{_slug(str(self.session))}"
        what = self.what_choice()
        if what == LABEL_WORKBOOK:
            return folder / f"{stem}_{_slug(self.rater_choice() or 'rater')}_labels.xlsx"
        if what == LIKERT_JSON:
            return folder / f"{stem}_{_slug(self.rater_choice() or 'rater')}_likert.json"
        fmt = self.format_choice()
        return folder / (f"{stem}_export_csv" if fmt == CSV_FOLDER else f"{stem}_export{_SUFFIX[fmt]}")

    def _on_target_edited(self, _text: str) -> None:
        self._target_edited = True

    def browse(self) -> None:
        current = self.target.text() or str(self.default_target())
        if self.what_choice() == STUDY_EXPORT and self.format_choice() == CSV_FOLDER:
            path = QFileDialog.getExistingDirectory(
                self, "Folder for the CSV files", str(Path(current).parent)
            )
        else:
            filters = {
                LABEL_WORKBOOK: "Label workbook (*.xlsx *.csv)",
                LIKERT_JSON: "Likert ratings (*.json)",
            }.get(self.what_choice())
            if filters is None:
                filters = "Excel workbook (*.xlsx)" if self.format_choice() == XLSX else "Zip file (*.zip)"
            path, _ = QFileDialog.getSaveFileName(self, "Export to", current, filters)
        if path:
            self._target_edited = True
            self.target.setText(path)

    def _load_raters(self) -> None:
        task = self.runner.submit(
            "export raters", export_raters, self.study_path, reader=self.reader, session=self.session
        )
        task.finished.connect(self._on_raters)
        self._raters_task = task

    def _on_raters(self, result: TaskResult) -> None:
        if not result.ok:
            if result.error is not None:
                self._show_error(result.error)
            return
        scores, likert = result.value
        for box, names, radio in (
            (self.label_rater, scores, self.label_radio),
            (self.likert_rater, likert, self.likert_radio),
        ):
            box.clear()
            box.addItems(list(names))
            radio.setEnabled(bool(names))
            if not names:
                radio.setToolTip("Nobody has entered these yet")
        self._update()

    # --- running -------------------------------------------------------------------------------------------

    def request(self) -> ExportRequest:
        """The export the dialog's choices describe."""
        what = self.what_choice()
        fmt = self.format_choice()
        target = Path(self.target.text().strip()).expanduser()
        if what == STUDY_EXPORT and fmt in (XLSX, CSV_ZIP) and target.suffix.lower() != _SUFFIX[fmt]:
            target = target.with_name(target.name + _SUFFIX[fmt])
        if what == LIKERT_JSON and target.suffix.lower() != ".json":
            target = target.with_name(target.name + ".json")
        if what == LABEL_WORKBOOK and target.suffix.lower() not in (".xlsx", ".csv"):
            target = target.with_name(target.name + ".xlsx")
        return ExportRequest(
            study_path=self.study_path,
            target=target,
            what=what,
            fmt=fmt,
            decimal_comma=self.decimal_comma.isChecked() and fmt != XLSX,
            with_reports=self.with_reports.isChecked() and not self.for_reader,
            rater=self.rater_choice(),
            reader=self.reader,
            session=self.session,
        )

    def start_export(self) -> None:
        if self._task is not None:
            return
        if not self.target.text().strip():
            self._show_message("Choose where to save the export.", error=True)
            return
        req = self.request()
        self.target.setText(str(req.target))
        self.last_path = None
        self.last_error = None
        self.show_folder.hide()
        self._show_message("")
        self.progress.setRange(0, 0)
        self.progress_label.setText("Exporting…")
        self.progress_label.show()
        self.progress.show()
        task = self.runner.submit("export", run_export, req)
        task.progressed.connect(self._on_progress)
        task.finished.connect(self._on_finished)
        self._task = task
        self._set_running(True)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    @property
    def running(self) -> bool:
        return self._task is not None

    def _set_running(self, running: bool) -> None:
        self.export_button.setEnabled(not running)
        self.close_button.setText("Cancel" if running else "Close")
        for w in (self.study_radio, self.label_radio, self.likert_radio, self.format_box, self.target):
            w.setEnabled(not running and (w is not self.format_box or self.what_choice() == STUDY_EXPORT))

    def _on_progress(self, request_id: int, p) -> None:
        if self._task is None or request_id != self._task.request_id:
            return
        if p.total > 0:
            self.progress.setRange(0, p.total)
            self.progress.setValue(min(p.done, p.total))
        if p.message:
            self.progress_label.setText(p.message)

    def _on_finished(self, result: TaskResult) -> None:
        if self._task is None or result.request_id != self._task.request_id:
            return
        self._task = None
        self._set_running(False)
        self.progress.hide()
        self.progress_label.hide()
        self._update()
        if result.cancelled:
            self._show_message("Export cancelled; any earlier file at that place is unchanged.")
            return
        if result.error is not None:
            self._show_error(result.error)
            return
        self.last_path = Path(result.value)
        self._show_message(f"Exported to {self.last_path}")
        self.show_folder.show()
        self.exported.emit(self.last_path)

    def _show_error(self, error: BaseException) -> None:
        self.last_error = error
        self._show_message("Not exported: " + error_message(error, "the export"), error=True)
        self.failed.emit(error)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.result_label.setText(text)
        self.result_label.setStyleSheet("color: #a02020;" if error else "color: #1d5e20;")

    def _open_folder(self) -> None:
        if self.last_path is not None:
            folder = self.last_path if self.last_path.is_dir() else self.last_path.parent
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _close_or_cancel(self) -> None:
        if self._task is not None:
            self.cancel()
        else:
            self.reject()

    def done(self, result: int) -> None:
        self.runner.shutdown(5000)
        super().done(result)
