"""The study side of the main window: opening and closing studies, the Reading menu, admin, the demo study.

:class:`StudyActions` adds File > Open study… / Close study and the Reading menu to a
:class:`~app.main_window.MainWindow`, runs the start flow (study, reader, session: the
:class:`~app.dialogs.start_study.StartStudyDialog`, or directly from ``--study --reader --session``), and
attaches a :class:`~app.workspace.ReadingWorkspace` for the chosen session. The demo study is built on first
use into the user data directory by a worker, with a progress dialog.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMenu, QMessageBox, QProgressDialog

from app.settings import APPLICATION, ORGANIZATION
from ssc_core.constants import (
    DEMO_OBSERVER_SESSION,
    DEMO_RATING_SESSION,
    DEMO_STUDY_PATIENTS,
    DEMO_STUDY_VERSION,
    Level,
)
from ssc_core.errors import SSCError

log = logging.getLogger(__name__)


def demo_root(base: Path | None = None) -> Path:
    """Where the demo study lives (versioned, so a new phantom or demo layout is built afresh)."""
    from ssc_core.imaging.phantom import PHANTOM_VERSION

    if base is None:
        import platformdirs

        base = platformdirs.user_data_path(APPLICATION, ORGANIZATION)
    return Path(base) / "demo" / f"study-v{DEMO_STUDY_VERSION}-phantom-v{PHANTOM_VERSION}"


def study_error_texts(error: BaseException) -> tuple[str, str]:
    """(reason, what to do) when a study cannot be opened or read; the details of unexpected errors (which
    might quote a path) are left out."""
    if isinstance(error, SSCError):
        return error.message, error.hint or "Check the study file, the reader's name and the session's label."
    return (
        f"The study could not be opened because of an unexpected error ({type(error).__name__}).",
        "If it keeps happening, report it.",
    )


class StudyActions(QObject):
    """See the module docstring. ``workspaceChanged(workspace or None)``; ``failed(text)`` when a start
    from the command line cannot go on (the screenshot tool exits on it)."""

    workspaceChanged = Signal(object)
    failed = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.workspace = None
        self.start_dialog = None
        self.demo_dialog: QProgressDialog | None = None
        self.demo_task = None
        #: The demo study opened in this window (its heat-map session is computed in the background).
        self.demo_study_path: Path | None = None
        a = window._action
        self.act_open_study = a(None, "Open &study…", lambda: self.open_study_dialog(), "Open study")
        self.act_close_study = a(None, "C&lose study", self.close_study)
        self.act_demo = a(None, "Open the &demo study", lambda: self.open_demo())
        self.act_score = a("study.score", "Type the &scores of this level", self._focus_scores)
        self.act_submit = a("study.submit", "&Submit case…", self._submit, "Submit")
        self.act_next = a("study.next_case", "&Next case", lambda: self._step(1))
        self.act_prev = a("study.prev_case", "&Previous case", lambda: self._step(-1))
        self.act_heatmap = a("heatmap.toggle", "Show/hide the &heat map", self._toggle_heatmap)
        window.dispatcher.set_release_handler("heatmap.toggle", self._heatmap_key_released)
        self.act_load_bundle = a(None, "&Load model bundle…", self._load_bundle)
        self.act_ai_auto = a(None, "Run the &AI automatically", lambda: None)
        self.act_ai_auto.setCheckable(True)
        self.act_ai_auto.setChecked(window.settings.ai_auto_run())
        self.act_ai_auto.toggled.connect(self._set_ai_auto)
        self.act_precompute = a(None, "&Precompute AI results…", lambda: self.precompute_dialog())
        self.act_export_mine = a(None, "E&xport my readings…", self.export_my_readings)
        self.act_manage = a(None, "&Manage study…", self.manage_study)
        self.act_statistics = a(None, "S&tatistics…", lambda: self.show_statistics())
        self.act_export_study = a(None, "Export s&tudy…", lambda: self.export_study())
        self.menu = QMenu("&Reading", window)
        self.menu.addActions([self.act_score, self.act_submit])
        self.menu.addSeparator()
        self.menu.addActions([self.act_next, self.act_prev, self.act_heatmap])
        self.menu.addSeparator()
        self.menu.addActions([self.act_load_bundle, self.act_ai_auto])
        self.menu.addSeparator()
        self.menu.addAction(self.act_export_mine)
        self.menu.addSeparator()
        self.menu.addActions(
            [self.act_manage, self.act_precompute, self.act_statistics, self.act_export_study]
        )
        self.statistics_windows: list = []
        self._update_actions()

    # --- state ---------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.workspace is not None

    def _update_actions(self) -> None:
        ws = self.workspace
        on = ws is not None
        rating = on and ws.reading.is_rating
        for act in (self.act_submit, self.act_next, self.act_prev, self.act_close_study):
            act.setEnabled(on)
        self.act_score.setEnabled(on and not rating)
        ai = on and not ws.ai.controller.hidden
        self.act_heatmap.setEnabled(rating or ai)
        self.act_load_bundle.setEnabled(ai)
        admin = on and ws.reading.view.reader.is_admin
        for act in (self.act_manage, self.act_statistics, self.act_export_study):
            act.setEnabled(admin)
        self.act_precompute.setEnabled(admin and ai)
        self.act_export_mine.setEnabled(on)
        for act in (self.window.act_open, self.window.act_open_folder):
            act.setEnabled(not on)

    def _focus_scores(self) -> None:
        if self.workspace is not None:
            self.workspace.focus_scores()

    def _submit(self) -> None:
        if self.workspace is not None:
            self.workspace.request_submit()

    def _step(self, delta: int) -> None:
        if self.workspace is not None:
            self.workspace.step_case(delta)

    def _toggle_heatmap(self) -> None:
        if self.workspace is not None:
            self.workspace.toggle_heatmap()

    def _heatmap_key_released(self) -> None:
        if self.workspace is not None:
            self.workspace.heatmap_key_released()

    def _set_ai_auto(self, on: bool) -> None:
        self.window.settings.set_ai_auto_run(on)
        ws = self.workspace
        if ws is not None and not ws.ai.controller.hidden:
            ws.ai.controller.auto_run = on
            if on:
                ws.ai.controller.run_again()

    def _load_bundle(self) -> None:
        if self.workspace is not None and not self.workspace.ai.controller.hidden:
            self.workspace.ai.choose_bundle()

    def precompute_dialog(self, store=None, admin_id: int | None = None, parent=None):
        """The admin's "Precompute AI results…" (the Reading menu; the admin dialog passes ``store``)."""
        from app.dialogs.precompute import PrecomputeDialog

        ws = self.workspace
        start_job = None
        session = None
        if store is None:
            if ws is None or not ws.reading.view.reader.is_admin or ws.ai.controller.hidden:
                return None
            store, admin_id, session = ws.reading.store, ws.reading.reader_id, ws.reading.session.label
            start_job = lambda s, h: ws.ai.controller.precompute(s, heatmaps=h)  # noqa: E731
        dlg = PrecomputeDialog(
            store,
            self.window.ai_service(),
            bundle_path=self.window.ai_bundle_override or self.window.settings.ai_bundle_path(),
            by=admin_id,
            session=session,
            start_job=start_job,
            parent=parent or self.window,
        )
        if parent is None:
            self.window._open_dialog(dlg)
        else:
            dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dlg.open()
            self.window.dialogOpened.emit(dlg)
        return dlg

    # --- starting ------------------------------------------------------------------------------------

    def open_study_dialog(
        self, path: str | Path | None = None, *, reader: str | None = None, session: str | None = None
    ):
        """Show the start dialog (study, reader, session); reading starts when it is accepted."""
        from app.dialogs.start_study import StartStudyDialog

        dlg = StartStudyDialog(self.window.settings, self.window, path=path, reader=reader, session=session)
        dlg.started.connect(lambda store, sid, rid: self.start_reading(store, sid, rid))
        dlg.manageRequested.connect(lambda store, admin: self._manage_from_start(dlg, store, admin))
        dlg.statisticsRequested.connect(lambda path: self.show_statistics(path))
        dlg.exportRequested.connect(lambda path: self.export_study(path, parent=dlg))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.start_dialog = dlg
        self.window._open_dialog(dlg)
        return dlg

    def _manage_from_start(self, dlg, store, admin_id: int) -> None:
        from app.dialogs.admin import AdminDialog

        admin = AdminDialog(
            store,
            admin_id,
            self.window.controller.runner,
            dlg,
            precompute=lambda label, a=admin_id, st=store: self.precompute_dialog(st, a, parent=dlg),
        )
        admin.finished.connect(lambda _r: dlg.refresh_sessions())
        admin.dialogOpened.connect(self.window.dialogOpened)
        admin.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        admin.open()
        self.window.dialogOpened.emit(admin)

    def open_study(
        self,
        path: str | Path,
        *,
        reader: str,
        session: str,
        case: int | None = None,
        level: Level | None = None,
    ) -> bool:
        """Start reading without the dialog (``--study --reader --session``); False, with ``failed``, if
        the study, reader or session cannot be used."""
        from ssc_core.study.store import open_study

        try:
            store = open_study(path)
        except SSCError as exc:
            self._fail(exc)
            return False
        try:
            r = store.reader_by_name(reader)
            s = store.session_by_label(session)
        except SSCError as exc:
            store.close()
            self._fail(exc)
            return False
        self.window.settings.add_recent_study(str(path))
        return self.start_reading(store, s.id, r.id, position=case, level=level)

    def start_reading(
        self,
        store,
        session_id: int,
        reader_id: int,
        *,
        position: int | None = None,
        level: Level | None = None,
    ) -> bool:
        """Attach a reading workspace for (session, reader) and open the resume case (or ``position``)."""
        from app.reading import ReadingController
        from app.workspace import ReadingWorkspace

        self.close_study()
        try:
            reading = ReadingController(store, session_id, reader_id, self.window.controller)
        except SSCError as exc:
            store.close()
            self._fail(exc)
            return False
        ws = ReadingWorkspace(self.window, reading)
        self.workspace = ws
        if self._is_demo(store.path):
            # The demo's heat-map rating session shows real heat maps: computed in the background while
            # the demo is open in a session that shows the AI (never under a hidden one), the open case first.
            ws.ai.start_background(DEMO_RATING_SESSION)
        self._update_actions()
        self.workspaceChanged.emit(ws)
        code = None
        if position is not None:
            items = reading.view.worklist
            if not 1 <= position <= len(items):
                self._fail(SSCError(f"Case {position} is not on the worklist (it has {len(items)} cases)."))
                return False
            code = items[position - 1].case_code
        if level is not None:

            def go_to_level(c) -> None:
                if c is not None:
                    reading.caseChanged.disconnect(go_to_level)
                    self.window.controller.jump_to_level(level)
                    if reading.is_rating:
                        reading.set_rating_target(level, reading.rating_target[1])

            reading.caseChanged.connect(go_to_level)
        reading.start(code)
        return True

    def _is_demo(self, path) -> bool:
        from ssc_core.study.demo import DEMO_STUDY_FILE

        known = [demo_root() / DEMO_STUDY_FILE] + ([self.demo_study_path] if self.demo_study_path else [])
        try:
            return any(Path(path).resolve() == Path(p).resolve() for p in known)
        except OSError:
            return False

    def _fail(self, error: BaseException) -> None:
        reason, advice = study_error_texts(error)
        log.warning("Could not start reading: %s", type(error).__name__)
        self.failed.emit(f"{reason} {advice}")
        box = QMessageBox(self.window)
        box.setObjectName("studyProblem")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("The study could not be opened")
        box.setText(reason)
        box.setInformativeText(advice)
        self.window._open_dialog(box)

    def close_study(self) -> None:
        ws, self.workspace = self.workspace, None
        if ws is None:
            return
        ws.close()
        ws.deleteLater()
        self.window.controller.set_volume(None)
        self._update_actions()
        self.workspaceChanged.emit(None)

    # --- admin ---------------------------------------------------------------------------------------

    def manage_study(self):
        ws = self.workspace
        if ws is None or not ws.reading.view.reader.is_admin:
            return None
        from app.dialogs.admin import AdminDialog

        dlg = AdminDialog(
            ws.reading.store,
            ws.reading.reader_id,
            self.window.controller.runner,
            self.window,
            precompute=None if ws.ai.controller.hidden else (lambda label: self.precompute_dialog()),
        )
        dlg.changed.connect(ws.reading.refresh_view)
        dlg.dialogOpened.connect(self.window.dialogOpened)
        self.window._open_dialog(dlg)
        return dlg

    # --- statistics and export (the statistics window and export dialog read the study on their own) ----

    def _study_path(self) -> Path | None:
        ws = self.workspace
        return None if ws is None else Path(ws.reading.store.path)

    def show_statistics(self, path: str | Path | None = None):
        """The statistics window of the study (admins; read-only, so reading can go on meanwhile)."""
        from app.widgets.statistics_window import StatisticsWindow

        target = Path(path) if path is not None else self._study_path()
        if target is None:
            return None
        win = StatisticsWindow(target, parent=self.window)
        win.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.statistics_windows.append(win)
        win.destroyed.connect(lambda _o=None, w=win: self.statistics_windows.remove(w))
        win.show()
        return win

    def export_study(self, path: str | Path | None = None, *, parent=None):
        """The admin's export of every reading (xlsx / CSV / the authors' formats)."""
        from app.dialogs.export_dialog import ExportDialog

        target = Path(path) if path is not None else self._study_path()
        if target is None:
            return None
        dlg = ExportDialog(target, parent=parent or self.window)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        self.window.dialogOpened.emit(dlg)
        return dlg

    def export_my_readings(self):
        """A reader's export of their own readings in this session (built from their reader view only)."""
        from app.dialogs.export_dialog import ExportDialog

        ws = self.workspace
        if ws is None:
            return None
        ws.reading.flush_time()
        r = ws.reading
        dlg = ExportDialog(
            r.store.path, reader=r.view.reader.name, session=r.session.label, parent=self.window
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        self.window.dialogOpened.emit(dlg)
        return dlg

    # --- demo ----------------------------------------------------------------------------------------

    def open_demo(
        self,
        *,
        base: Path | None = None,
        n_patients: int = DEMO_STUDY_PATIENTS,
        matrix: int = 512,
        reader: str | None = None,
        session: str | None = None,
        case: int | None = None,
        level: Level | None = None,
    ) -> None:
        """Open the demo study: at once when it exists, else after building it (progress, Cancel).

        With ``reader`` and ``session`` reading starts directly; otherwise the start dialog opens with the
        demo reader and the observer session chosen.
        """
        from ssc_core.study.demo import read_demo_manifest

        root = demo_root(base)

        def go(demo) -> None:
            self.demo_study_path = demo.study_path
            if reader and session:
                self.open_study(demo.study_path, reader=reader, session=session, case=case, level=level)
            else:
                self.open_study_dialog(demo.study_path, reader=demo.reader, session=DEMO_OBSERVER_SESSION)

        demo = read_demo_manifest(root)
        if demo is not None:
            go(demo)
            return
        from app.study_tasks import ensure_demo

        dialog = QProgressDialog(
            "Creating the demo study: synthetic chest CT phantoms read as a small reader study. "
            "This is done once.",
            "Cancel",
            0,
            1000,
            self.window,
        )
        dialog.setObjectName("demoProgress")
        dialog.setWindowTitle("Preparing the demo study")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        self.demo_dialog = dialog
        task = self.window.controller.runner.submit(
            "demo study", ensure_demo, root, n_patients=n_patients, matrix=matrix
        )
        self.demo_task = task
        dialog.canceled.connect(task.cancel)

        def progressed(_rid: int, p) -> None:
            dlg = self.demo_dialog  # setValue of a modal progress dialog runs the event loop
            if dlg is None:
                return
            if p.message:
                dlg.setLabelText(f"Creating the demo study (done once).\n{p.message}")
            if p.total > 0:
                dlg.setValue(int(1000 * p.done / p.total))

        def finished(result) -> None:
            dlg, self.demo_dialog = self.demo_dialog, None
            self.demo_task = None
            if dlg is not None:
                dlg.reset()
                dlg.close()
            if result.cancelled:
                self.window.statusBar().showMessage("The demo study was not created (cancelled).", 8000)
                self.failed.emit("the demo study was cancelled")
                return
            if result.error is not None:
                self._fail(result.error)
                return
            go(result.value)

        task.progressed.connect(progressed)
        task.finished.connect(finished)
        self.window.dialogOpened.emit(dialog)
        dialog.open()
