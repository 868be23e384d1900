"""Managing a study from the workstation (admins): readers, cases and sessions.

Every action calls the same store method as the matching ``ssc study ...`` command (``add_reader``,
``add_cases`` from ``collect_case_sources``, ``exclude_case``, ``add_session``, ``open_session``,
``close_session``, ``reopen_session``, ``add_session_readers``, ``add_session_cases``, ``override_washout``),
each one audited transaction, and a refusal is shown with the store's reason. Cases are listed by their
pseudonymous code only (their scan locations may name patients and are never shown here).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.dialogs.admin_forms import AddReaderDialog, NewSessionDialog, PickDialog, ReasonDialog, WashoutDialog
from app.dialogs.load_error import error_texts
from ssc_core.errors import SSCError
from ssc_core.study.records import Session

log = logging.getLogger(__name__)


def _table(columns: tuple[str, ...], parent: QWidget) -> QTableWidget:
    t = QTableWidget(0, len(columns), parent)
    t.setHorizontalHeaderLabels(list(columns))
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.verticalHeader().hide()
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _fill(table: QTableWidget, rows: list[tuple[object, list[str]]]) -> None:
    """Rows of (key stored in the first cell, texts)."""
    table.setRowCount(len(rows))
    for r, (key, texts) in enumerate(rows):
        for c, text in enumerate(texts):
            item = QTableWidgetItem(text)
            if c == 0:
                item.setData(Qt.ItemDataRole.UserRole, key)
            table.setItem(r, c, item)


def _selected_key(table: QTableWidget) -> object | None:
    row = table.currentRow()
    if row < 0 or table.item(row, 0) is None:
        return None
    return table.item(row, 0).data(Qt.ItemDataRole.UserRole)


class AdminDialog(QDialog):
    """See the module docstring. ``changed`` follows every change written to the study."""

    changed = Signal()
    dialogOpened = Signal(object)

    def __init__(
        self, store, admin_id: int, runner=None, parent: QWidget | None = None, *, precompute=None
    ) -> None:
        """``precompute(label or None)``: opens "Precompute AI results…" (a button of the Sessions tab)."""
        super().__init__(parent)
        self.setObjectName("adminDialog")
        self.setWindowTitle(f"Manage study: {store.study.name}")
        self.resize(820, 520)
        self.store = store
        self.admin_id = int(admin_id)
        self.runner = runner
        self.last_dialog: QWidget | None = None
        self._import_task = None
        self._progress: QProgressDialog | None = None

        self.tabs = QTabWidget(self)
        self.sessions = _table(
            ("Label", "Kind", "Status", "Readers", "Cases", "Blinded", "AI", "Repeats"), self
        )
        self.sessions.setObjectName("adminSessions")
        self.readers = _table(("Name", "Role"), self)
        self.readers.setObjectName("adminReaders")
        self.cases = _table(("Case", "Status"), self)
        self.cases.setObjectName("adminCases")

        def page(table: QTableWidget, buttons: list[tuple[str, str, Callable[[], None]]]) -> QWidget:
            w = QWidget(self)
            row = QHBoxLayout()
            for text, name, slot in buttons:
                b = QPushButton(text, w)
                b.setObjectName(name)
                b.clicked.connect(slot)
                row.addWidget(b)
            row.addStretch(1)
            lay = QVBoxLayout(w)
            lay.addWidget(table)
            lay.addLayout(row)
            return w

        self.tabs.addTab(
            page(
                self.sessions,
                [
                    ("New session…", "newSession", self.new_session),
                    ("Open", "openSession", lambda: self._session_action("open")),
                    ("Close", "closeSession", lambda: self._session_action("close")),
                    ("Reopen…", "reopenSession", self.reopen_session),
                    ("Add readers…", "addSessionReaders", self.add_session_readers),
                    ("Add cases…", "addSessionCases", self.add_session_cases),
                    ("Override washout…", "overrideWashout", self.override_washout),
                    *(
                        [("Precompute AI…", "precomputeAI", lambda: self._precompute(precompute))]
                        if precompute is not None
                        else []
                    ),
                ],
            ),
            "Sessions",
        )
        self.tabs.addTab(page(self.readers, [("Add reader…", "addReader", self.add_reader)]), "Readers")
        self.tabs.addTab(
            page(
                self.cases,
                [
                    ("Add cases from a folder…", "addCasesFolder", self.add_cases_from_folder),
                    ("Add cases from a list file…", "addCasesList", self.add_cases_from_list),
                    ("Exclude…", "excludeCase", lambda: self._case_reason("exclude")),
                    ("Include again…", "includeCase", lambda: self._case_reason("include")),
                ],
            ),
            "Cases",
        )
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(close)
        self.refresh()

    # --- lists ---------------------------------------------------------------------------------------

    def refresh(self) -> None:
        st = self.store
        names = {r.id: r.name for r in st.readers()}
        labels = {s.id: s.label for s in st.sessions()}
        _fill(
            self.sessions,
            [
                (
                    s.id,
                    [
                        s.label,
                        s.kind.display_name,
                        s.status.value,
                        ", ".join(names.get(r, "?") for r in s.reader_ids),
                        str(len(st.session_case_ids(s.id))),
                        "yes" if s.blinded else "no",
                        s.ai_policy.value,
                        labels.get(s.repeat_of, "") if s.repeat_of else "",
                    ],
                )
                for s in st.sessions()
            ],
        )
        _fill(self.readers, [(r.id, [r.name, r.role.value]) for r in st.readers()])
        _fill(
            self.cases,
            [
                (c.code, [c.code, f"excluded: {c.excluded_reason}" if c.excluded_reason else "included"])
                for c in st.cases()
            ],
        )

    def selected_session(self) -> Session | None:
        sid = _selected_key(self.sessions)
        return None if sid is None else self.store.session(int(sid))

    def select_session(self, label: str) -> None:
        for r in range(self.sessions.rowCount()):
            if self.sessions.item(r, 0).text() == label:
                self.sessions.setCurrentCell(r, 0)
                return

    # --- helpers -------------------------------------------------------------------------------------

    def _run(self, what: str, fn: Callable[[], object]) -> bool:
        """Make one store call; refresh and announce on success, explain a refusal."""
        try:
            fn()
        except SSCError as exc:
            self._tell(f"{what}: not done", exc.message + (f"\n\n{exc.hint}" if exc.hint else ""), warn=True)
            return False
        self.refresh()
        self.changed.emit()
        return True

    def _tell(self, title: str, text: str, *, warn: bool = False) -> QMessageBox:
        box = QMessageBox(self)
        box.setObjectName("adminMessage")
        box.setIcon(QMessageBox.Icon.Warning if warn else QMessageBox.Icon.Information)
        box.setWindowTitle(title)
        box.setText(text)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._show(box)
        return box

    def _show(self, dlg: QWidget) -> None:
        self.last_dialog = dlg
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()  # type: ignore[attr-defined]
        self.dialogOpened.emit(dlg)

    def _need_session(self) -> Session | None:
        s = self.selected_session()
        if s is None:
            self._tell("Sessions", "Select a session first.")
        return s

    # --- sessions ------------------------------------------------------------------------------------

    def _precompute(self, precompute) -> None:
        s = self.selected_session()
        dlg = precompute(None if s is None else s.label)
        if dlg is not None and s is not None:
            dlg.session_box.setCurrentIndex(max(0, dlg.session_box.findData(s.label)))

    def new_session(self) -> NewSessionDialog:
        st = self.store
        cases = [(c.code, c.id) for c in st.cases() if c.excluded_reason is None]
        dlg = NewSessionDialog(st.readers(), st.sessions(), cases, self)

        def create(v: dict) -> None:
            self._run(
                "New session",
                lambda: st.add_session(
                    v["label"],
                    v["kind"],
                    v["readers"],
                    by=self.admin_id,
                    blinded=v["blinded"],
                    ai_policy=v["ai_policy"],
                    repeat_of=v["repeat_of"],
                    references=v["references"],
                    cases=v["cases"],
                ),
            )
            self.select_session(v["label"])

        dlg.given.connect(create)
        self._show(dlg)
        return dlg

    def _session_action(self, action: str) -> None:
        s = self._need_session()
        if s is None:
            return
        fn = {"open": self.store.open_session, "close": self.store.close_session}[action]
        self._run(f"{action.capitalize()} session {s.label}", lambda: fn(s.id, by=self.admin_id))

    def reopen_session(self) -> ReasonDialog | None:
        s = self._need_session()
        if s is None:
            return None
        dlg = ReasonDialog(f"Reopen session {s.label}", "Readers can work in it again.", self, "Reopen")
        dlg.given.connect(
            lambda reason: self._run(
                "Reopen session", lambda: self.store.reopen_session(s.id, by=self.admin_id, reason=reason)
            )
        )
        self._show(dlg)
        return dlg

    def add_session_readers(self) -> PickDialog | None:
        s = self._need_session()
        if s is None:
            return None
        items = [(r.name, r.id) for r in self.store.readers() if r.id not in s.reader_ids]
        dlg = PickDialog(f"Add readers to {s.label}", items, self)
        dlg.given.connect(
            lambda ids: self._run(
                "Add readers", lambda: self.store.add_session_readers(s.id, ids, by=self.admin_id)
            )
        )
        self._show(dlg)
        return dlg

    def add_session_cases(self) -> PickDialog | None:
        s = self._need_session()
        if s is None:
            return None
        have = set(self.store.session_case_ids(s.id, include_excluded=True))
        items = [(c.code, c.id) for c in self.store.cases() if c.id not in have and c.excluded_reason is None]
        dlg = PickDialog(f"Add cases to {s.label}", items, self)
        dlg.given.connect(
            lambda ids: self._run(
                "Add cases", lambda: self.store.add_session_cases(s.id, ids, by=self.admin_id)
            )
        )
        self._show(dlg)
        return dlg

    def override_washout(self) -> WashoutDialog | None:
        s = self._need_session()
        if s is None:
            return None
        if s.repeat_of is None:
            self._tell("Washout", f"Session {s.label} repeats no earlier session; there is no washout.")
            return None
        dlg = WashoutDialog(s.label, [self.store.reader(r) for r in s.reader_ids], self)
        dlg.given.connect(
            lambda rid, reason: self._run(
                "Override washout",
                lambda: self.store.override_washout(s.id, rid, by=self.admin_id, reason=reason),
            )
        )
        self._show(dlg)
        return dlg

    # --- readers -------------------------------------------------------------------------------------

    def add_reader(self) -> AddReaderDialog:
        dlg = AddReaderDialog(self)
        dlg.given.connect(
            lambda name, role: self._run(
                "Add reader", lambda: self.store.add_reader(name, role=role, by=self.admin_id)
            )
        )
        self._show(dlg)
        return dlg

    # --- cases ---------------------------------------------------------------------------------------

    def _case_reason(self, action: str) -> ReasonDialog | None:
        code = _selected_key(self.cases)
        if code is None:
            self._tell("Cases", "Select a case first.")
            return None
        if action == "exclude":
            dlg = ReasonDialog(
                f"Exclude case {code}",
                "The case leaves every worklist and the analysis; its readings are kept.",
                self,
                "Exclude",
            )
            fn = self.store.exclude_case
        else:
            dlg = ReasonDialog(
                f"Include case {code} again", "The case returns to the worklists.", self, "Include"
            )
            fn = self.store.include_case
        dlg.given.connect(
            lambda reason: self._run(
                dlg.windowTitle(), lambda: fn(str(code), by=self.admin_id, reason=reason)
            )
        )
        self._show(dlg)
        return dlg

    def add_cases_from_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A folder of scans (one sub-folder or file per scan)")
        if path:
            self.import_scans(Path(path), list_file=False)

    def add_cases_from_list(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "A list of scans (one path a line)", "", "Text (*.txt);;All (*)"
        )
        if path:
            self.import_scans(Path(path), list_file=True)

    def import_scans(self, path: Path, *, list_file: bool):
        """Load every scan under ``path`` in the background (one case per CT series), then add them."""
        from app.study_tasks import collect_scans

        if self.runner is None:
            raise RuntimeError("the admin dialog needs a task runner to read scans")
        progress = QProgressDialog(
            "Reading the scans (each is loaded once to check it)…", "Cancel", 0, 1000, self
        )
        progress.setObjectName("importProgress")
        progress.setWindowTitle("Adding cases")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        self._progress = progress
        task = self.runner.submit("add cases", collect_scans, path, list_file=list_file)
        self._import_task = task
        progress.canceled.connect(task.cancel)
        task.progressed.connect(self._on_import_progress)
        task.finished.connect(self._on_imported)
        progress.open()
        self.dialogOpened.emit(progress)
        return task

    def _on_import_progress(self, _rid: int, p) -> None:
        dlg = self._progress
        if dlg is None:
            return
        if p.message:
            dlg.setLabelText(p.message)
        if p.total > 0:
            dlg.setValue(int(1000 * p.done / p.total))

    def _on_imported(self, result) -> None:
        dlg, self._progress = self._progress, None
        self._import_task = None
        if dlg is not None:
            dlg.reset()
            dlg.close()
        if result.cancelled:
            return
        if result.error is not None:
            reason, advice, _ = error_texts(result.error)
            self._tell("Adding cases: nothing added", f"{reason}\n\n{advice}", warn=True)
            return
        found = result.value
        problems = [
            ("Could not load " if pr.refused else "Left out (not scorable): ") + str(pr)
            for pr in found.problems
        ]
        if found.failed and found.sources:
            # As ``ssc study add-cases``: nothing is added unless the admin accepts that some scans failed.
            box = QMessageBox(self)
            box.setObjectName("importFailures")
            box.setIcon(QMessageBox.Icon.Warning)
            box.setWindowTitle("Adding cases")
            box.setText(
                f"{len(found.failed)} scan(s) could not be loaded; {len(found.sources)} can be added. "
                "A patient whose scan failed would be missing from the study."
            )
            box.setDetailedText("\n".join(problems))
            add = box.addButton("Add the others", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("Add none", QMessageBox.ButtonRole.RejectRole)
            box.finished.connect(lambda _r: box.clickedButton() is add and self._add_found(found, problems))
            self._show(box)
            return
        if found.failed:
            self._tell("Adding cases: nothing added", "\n".join(problems), warn=True)
            return
        self._add_found(found, problems)

    def _add_found(self, found, problems: list[str]) -> None:
        added: list = []
        add = lambda: added.extend(  # noqa: E731
            self.store.add_cases(found.sources, by=self.admin_id, skip_duplicates=True)
        )
        if not self._run("Add cases", add):
            return
        lines = [f"Added {len(added)} case(s)."]
        dupes = len(found.sources) - len(added)
        if dupes:
            lines.append(f"{dupes} scan(s) were already in the study and were skipped.")
        self._tell("Adding cases", "\n".join(lines + problems), warn=bool(found.failed))
