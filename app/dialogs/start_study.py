"""Opening a study: which study file, who is reading, and in which session.

The study is opened for writing as soon as it is chosen (the store takes the file's writer lock, so a
second workstation on the same file is told at once). The reader list is the study's; the sessions are those
the store lists for that reader, each with whether it may be opened now and, if not, why (not opened yet,
closed, or the washout before a repeat session, with the date it ends). An admin can manage the study from
here (readers, cases, sessions). Nothing here shows a patient identifier: cases appear as counts only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.settings import Settings
from ssc_core.constants import DEFAULT_WASHOUT_DAYS, STUDY_SUFFIX
from ssc_core.errors import SSCError
from ssc_core.study.records import Reader, SessionAccess

log = logging.getLogger(__name__)

STUDY_FILTER = f"Study files (*{STUDY_SUFFIX});;All files (*)"
ERROR_STYLE = "color: #c82828;"


def access_text(a: SessionAccess) -> str:
    """One line about a session as a reader sees it in the list."""
    s = a.session
    text = f"{s.label} — {s.kind.display_name} · {a.submitted} of {a.total} submitted"
    if not a.available:
        text += f"\n      not available: {a.reason}"
    return text


class StartStudyDialog(QDialog):
    """See the module docstring. ``started(store, session_id, reader_id)`` hands the open store over."""

    started = Signal(object, int, int)
    #: An admin asked to manage the study: (store, admin id). The dialog refreshes when told.
    manageRequested = Signal(object, int)
    #: An admin asked for the statistics window / the export of the study (its path).
    statisticsRequested = Signal(object)
    exportRequested = Signal(object)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        path: str | Path | None = None,
        reader: str | None = None,
        session: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("startStudyDialog")
        self.setWindowTitle("Open a study")
        self.settings = settings
        self.store = None
        self._want_reader = reader
        self._want_session = session

        self.study_combo = QComboBox(self)
        self.study_combo.setObjectName("studyCombo")
        self.study_combo.setMinimumWidth(420)
        for p in settings.recent_studies():
            self.study_combo.addItem(Path(p).name, p)
            self.study_combo.setItemData(self.study_combo.count() - 1, p, Qt.ItemDataRole.ToolTipRole)
        self.browse_button = QPushButton("Browse…", self)
        self.new_button = QPushButton("New study…", self)
        self.study_status = QLabel(self)
        self.study_status.setObjectName("studyStatus")
        self.study_status.setWordWrap(True)
        self.reader_combo = QComboBox(self)
        self.reader_combo.setObjectName("readerCombo")
        self.session_list = QListWidget(self)
        self.session_list.setObjectName("sessionList")
        self.session_list.setMinimumHeight(120)
        self.session_list.setWordWrap(True)
        self.manage_button = QPushButton("Manage study…", self)
        self.manage_button.setObjectName("manageStudy")
        self.manage_button.setToolTip("Readers, cases and sessions (study admins only)")
        self.statistics_button = QPushButton("Statistics…", self)
        self.statistics_button.setObjectName("studyStatistics")
        self.statistics_button.setToolTip("Agreement statistics of the study (read-only; study admins only)")
        self.export_button = QPushButton("Export…", self)
        self.export_button.setObjectName("studyExport")
        self.export_button.setToolTip("Export every reading to a spreadsheet or CSV (study admins only)")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.start_button = self.buttons.addButton("Start reading", QDialogButtonBox.ButtonRole.AcceptRole)
        self.start_button.setObjectName("startReading")
        self.start_button.setDefault(True)

        row = QHBoxLayout()
        row.addWidget(self.study_combo, 1)
        row.addWidget(self.browse_button)
        row.addWidget(self.new_button)
        form = QFormLayout()
        form.addRow("Study", row)
        form.addRow("", self.study_status)
        form.addRow("Who is reading", self.reader_combo)
        form.addRow("Session", self.session_list)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        bottom = QHBoxLayout()
        bottom.addWidget(self.manage_button)
        bottom.addWidget(self.statistics_button)
        bottom.addWidget(self.export_button)
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)

        self.study_combo.activated.connect(lambda i: self.open_path(self.study_combo.itemData(i)))
        self.browse_button.clicked.connect(self._browse)
        self.new_button.clicked.connect(self._new_study)
        self.reader_combo.currentIndexChanged.connect(lambda _i: self.refresh_sessions())
        self.session_list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.session_list.currentRowChanged.connect(lambda _r: self._update_buttons())
        self.manage_button.clicked.connect(self._manage)
        self.statistics_button.clicked.connect(
            lambda: self.store is not None and self.statisticsRequested.emit(self.store.path)
        )
        self.export_button.clicked.connect(
            lambda: self.store is not None and self.exportRequested.emit(self.store.path)
        )
        self.buttons.rejected.connect(self.reject)
        self.start_button.clicked.connect(self.accept)

        if path is not None:
            self.open_path(path)
        elif self.study_combo.count():
            self.open_path(self.study_combo.itemData(0))
        else:
            self._set_status("Choose a study file (Browse…) or create one (New study…).")
        self._update_buttons()

    # --- study ---------------------------------------------------------------------------------------

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.study_status.setText(text)
        self.study_status.setStyleSheet(ERROR_STYLE if error else "")

    def _close_store(self) -> None:
        store, self.store = self.store, None
        if store is not None:
            store.close()

    def open_path(self, path: str | Path) -> bool:
        """Open the study at ``path`` for writing and list its readers; False (with the reason) if refused."""
        from ssc_core.study.store import open_study

        self._close_store()
        self.reader_combo.clear()
        self.session_list.clear()
        p = Path(path)
        i = self.study_combo.findData(str(p.resolve()) if p.exists() else str(p))
        if i < 0:
            self.study_combo.insertItem(0, p.name, str(p.resolve()) if p.exists() else str(p))
            i = 0
        self.study_combo.setCurrentIndex(i)
        try:
            self.store = open_study(p)
        except SSCError as exc:
            self._set_status(exc.message + (f" {exc.hint}" if exc.hint else ""), error=True)
            self._update_buttons()
            return False
        except OSError as exc:
            self._set_status(f"The study file could not be opened ({type(exc).__name__}).", error=True)
            self._update_buttons()
            return False
        self.settings.add_recent_study(str(p))
        st = self.store.study
        n_cases = sum(1 for c in self.store.cases() if c.excluded_reason is None)
        self._set_status(f"{st.name}: {n_cases} case(s), {len(self.store.sessions())} session(s).")
        wanted = self._want_reader or self.settings.last_reader(st.uid)
        readers = self.store.readers()
        for r in readers:
            self.reader_combo.addItem(r.name + (" (admin)" if r.is_admin else ""), r.id)
        pick = next((k for k, r in enumerate(readers) if r.name == wanted), None)
        if pick is None:  # default: the first reader who is not an admin
            pick = next((k for k, r in enumerate(readers) if not r.is_admin), 0)
        self.reader_combo.setCurrentIndex(pick)
        self.refresh_sessions()
        return True

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a study", self.settings.last_directory(), STUDY_FILTER
        )
        if path:
            self.open_path(path)

    def _new_study(self) -> None:
        dlg = NewStudyDialog(self.settings, self)
        dlg.created.connect(self.open_path)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()

    # --- reader and session --------------------------------------------------------------------------

    def current_reader(self) -> Reader | None:
        rid = self.reader_combo.currentData()
        if self.store is None or rid is None:
            return None
        return self.store.reader(int(rid))

    def refresh_sessions(self) -> None:
        self.session_list.clear()
        reader = self.current_reader()
        if reader is None:
            self._update_buttons()
            return
        listed = self.store.sessions_for_reader(reader.id)
        for a in listed:
            item = QListWidgetItem(access_text(a))
            item.setData(Qt.ItemDataRole.UserRole, a.session.id)
            item.setToolTip(a.reason or f"{a.session.kind.display_name} session {a.session.label}")
            if not a.available:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            self.session_list.addItem(item)
        if not listed:
            item = QListWidgetItem("No open session for this reader.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.session_list.addItem(item)
        want = self._want_session
        rows = [
            k for k, a in enumerate(listed) if a.available and (want is None or a.session.label == want)
        ] or [k for k, a in enumerate(listed) if a.available]
        if rows:
            self.session_list.setCurrentRow(rows[0])
        self._update_buttons()

    def selected_session(self) -> int | None:
        item = self.session_list.currentItem()
        if item is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return None
        sid = item.data(Qt.ItemDataRole.UserRole)
        return None if sid is None else int(sid)

    def _update_buttons(self) -> None:
        reader = self.current_reader()
        self.start_button.setEnabled(self.selected_session() is not None)
        admin = reader is not None and reader.is_admin
        for b in (self.manage_button, self.statistics_button, self.export_button):
            b.setVisible(admin)

    def _manage(self) -> None:
        reader = self.current_reader()
        if reader is not None and reader.is_admin:
            self.manageRequested.emit(self.store, reader.id)

    # --- result --------------------------------------------------------------------------------------

    def accept(self) -> None:
        sid = self.selected_session()
        reader = self.current_reader()
        if sid is None or reader is None or self.store is None:
            return
        store, self.store = self.store, None
        self.settings.set_last_reader(store.study.uid, reader.name)
        super().accept()
        self.started.emit(store, sid, reader.id)

    def reject(self) -> None:
        self._close_store()
        super().reject()

    def closeEvent(self, event) -> None:
        self._close_store()
        super().closeEvent(event)


class NewStudyDialog(QDialog):
    """Create an empty study file (the same as ``ssc study create``); readers and cases come next."""

    created = Signal(str)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newStudyDialog")
        self.setWindowTitle("New study")
        self.settings = settings
        self.path_edit = QLineEdit(self)
        self.path_edit.setObjectName("newStudyPath")
        self.path_button = QPushButton("Choose…", self)
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("newStudyName")
        self.admin_edit = QLineEdit("admin", self)
        self.admin_edit.setObjectName("newStudyAdmin")
        self.washout = QSpinBox(self)
        self.washout.setRange(0, 3650)
        self.washout.setValue(DEFAULT_WASHOUT_DAYS)
        self.washout.setSuffix(" days")
        self.error = QLabel(self)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.path_button)
        form = QFormLayout(self)
        form.addRow("Study file", row)
        form.addRow("Study name", self.name_edit)
        form.addRow("Your name (first admin)", self.admin_edit)
        form.addRow("Washout between repeat sessions", self.washout)
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.path_button.clicked.connect(self._choose)

    def _choose(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New study file", self.settings.last_directory(), STUDY_FILTER
        )
        if path:
            self.path_edit.setText(path if path.endswith(STUDY_SUFFIX) else path + STUDY_SUFFIX)

    def accept(self) -> None:
        from ssc_core.study.store import create_study

        text = self.path_edit.text().strip()
        if not text:
            self.error.setText("Choose where to save the study file.")
            return
        path = Path(text)
        if not path.suffix:
            path = path.with_suffix(STUDY_SUFFIX)
        if path.exists():
            self.error.setText(f"{path.name} already exists; choose a new name.")
            return
        try:
            store = create_study(
                path,
                name=self.name_edit.text(),
                admin=self.admin_edit.text(),
                washout_days=self.washout.value(),
            )
        except SSCError as exc:
            self.error.setText(exc.message)
            return
        except OSError as exc:
            self.error.setText(f"The study file could not be created ({type(exc).__name__}).")
            return
        store.close()
        log.info("Created a study file.")
        super().accept()
        self.created.emit(str(path))
