"""The main window: axial view in the centre, localizers and the level panel in docks, PACS-like keys.

The window only wires widgets to its :class:`~app.controller.ViewerController`: every state change goes
through the controller, every display change comes from a controller signal. Updates that need not
follow every frame while scrolling (localizer lines, status bar) are coalesced to one per display
refresh, so scrolling costs little more than drawing the slice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QToolBar,
    QWidget,
)

from app.controller import LevelState, ViewerController
from app.dialogs.load_error import LoadErrorDialog
from app.dialogs.series_choice import SeriesChoiceDialog
from app.dialogs.shortcuts_help import ShortcutsDialog
from app.loading import SlicePreview
from app.settings import Settings
from app.shortcuts import SHORTCUT_SPECS, ShortcutDispatcher, format_keys
from app.study_actions import StudyActions
from app.widgets.colour_bar import ColourBar
from app.widgets.level_panel import LevelPanel
from app.widgets.localizer import LineStyle, LocalizerView, Plane
from app.widgets.slice_view import ZOOM_STEP, SliceView
from app.widgets.status import LoadProgress, WindowControls, research_notice_label
from ssc_core import RESEARCH_USE_NOTICE, __version__
from ssc_core.constants import (
    CUSTOM_WINDOW_NAME,
    LEVELS,
    LUNG_WINDOW,
    MEDIASTINUM_WINDOW,
    HUWindow,
    Level,
)

APP_TITLE = "SSc Scoring Workstation"
#: Secondary displays (localizer lines, HU readout) are refreshed at most once per this many ms while
#: scrolling (30 Hz: smooth to the eye, and it leaves the frame budget to the slice itself).
SECONDARY_REFRESH_MS = 33
#: Screen pixels of right-drag per window step: the step grows with the width, as in PACS viewers.
WL_PIXELS_PER_WIDTH = 300.0

SCAN_FILE_FILTER = (
    "CT scans (*.dcm *.DCM *.mha *.mhd *.nii *.nii.gz *.nrrd *.nhdr);;"
    "DICOM files (*.dcm *.DCM *);;MetaImage (*.mha *.mhd);;NIfTI (*.nii *.nii.gz);;NRRD (*.nrrd *.nhdr);;"
    "All files (*)"
)


class MainWindow(QMainWindow):
    """The viewer window. ``dialogOpened(dialog)`` is emitted for every dialog it opens (non-blocking)."""

    dialogOpened = Signal(object)

    def __init__(
        self,
        settings: Settings | None = None,
        controller: ViewerController | None = None,
        *,
        restore_layout: bool = True,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings if settings is not None else Settings()
        self.controller = controller if controller is not None else ViewerController(self)
        self.controller.set_custom_window(self.settings.custom_window())
        self.last_dialog: QWidget | None = None
        self._ai_service = None
        #: A model bundle for this run only (``--bundle``); else the settings' choice, else the demo bundle.
        self.ai_bundle_override: str | None = None
        self._preview_shown = False
        self._actions: dict[str, tuple[QAction, str]] = {}

        self.slice_view = SliceView(self)
        # The image, and beside it the heat maps' colour bar (shown only in heat-map rating sessions).
        self.colour_bar = ColourBar(self)
        self.colour_bar.hide()
        centre = QWidget(self)
        centre.setObjectName("centre")
        row = QHBoxLayout(centre)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.slice_view, 1)
        row.addWidget(self.colour_bar)
        self.setCentralWidget(centre)
        self.coronal = LocalizerView(Plane.CORONAL)
        self.sagittal = LocalizerView(Plane.SAGITTAL)
        self.level_panel = LevelPanel(self.controller)
        self._build_docks()
        self.window_controls = WindowControls(self)
        self.load_progress = LoadProgress(self)
        self._build_status_bar()
        self.dispatcher = ShortcutDispatcher(self)
        self._build_actions()
        self.study = StudyActions(self)
        self._build_menus_and_toolbar()
        self._wire()
        self.dispatcher.install()
        self.apply_shortcuts()

        self._secondary = QTimer(self)
        self._secondary.setSingleShot(True)
        self._secondary.setInterval(SECONDARY_REFRESH_MS)
        self._secondary.timeout.connect(self._refresh_secondary)

        self.setAcceptDrops(True)
        self.resize(1440, 900)
        if restore_layout:
            geometry, state = self.settings.window_state()
            if geometry is not None:
                self.restoreGeometry(geometry)
            if state is not None:
                self.restoreState(state)
        self._on_window_changed(self.controller.window)
        self._on_volume_changed(None)

    # --- construction --------------------------------------------------------------------------------------

    def _build_docks(self) -> None:
        # Stacked: chest scans are wider than they are long, so each localizer gets the dock's width.
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setObjectName("localizerSplitter")
        splitter.addWidget(self.coronal)
        splitter.addWidget(self.sagittal)
        self.localizer_dock = QDockWidget("Localizers (coronal, sagittal)", self)
        self.localizer_dock.setObjectName("localizerDock")
        self.localizer_dock.setWidget(splitter)
        self.level_dock = QDockWidget("Levels", self)
        self.level_dock.setObjectName("levelDock")
        self.level_dock.setWidget(self.level_panel)
        area = Qt.DockWidgetArea.RightDockWidgetArea
        self.addDockWidget(area, self.localizer_dock)
        self.addDockWidget(area, self.level_dock)
        self.resizeDocks([self.localizer_dock], [520], Qt.Orientation.Horizontal)
        self.resizeDocks([self.localizer_dock, self.level_dock], [600, 240], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.hu_label = QLabel(self)
        self.hu_label.setObjectName("huLabel")
        self.hu_label.setMinimumWidth(150)
        bar.addPermanentWidget(self.load_progress)
        bar.addPermanentWidget(self.hu_label)
        bar.addPermanentWidget(research_notice_label(self))

    def _action(
        self, action_id: str | None, text: str, handler: Callable[[], None], short: str | None = None
    ) -> QAction:
        act = QAction(text, self)
        act.setIconText(short or text.replace("&", "").rstrip("…"))
        act.triggered.connect(lambda _checked=False: handler())
        if action_id is not None:
            self._actions[action_id] = (act, text)
            self.dispatcher.set_handler(action_id, handler)
        return act

    def _build_actions(self) -> None:
        c = self.controller
        a = self._action
        self.act_open = a("file.open", "&Open scan file…", self.choose_file, "Open file")
        self.act_open_folder = a("file.open_folder", "Open DICOM &folder…", self.choose_folder, "Open folder")
        self.act_cancel = a("load.cancel", "Cancel loading", c.cancel_load)
        self.act_quit = a("app.quit", "&Quit", self.close)
        a("slice.prev", "Previous slice", lambda: c.step(-1))
        a("slice.next", "Next slice", lambda: c.step(1))
        a("slice.page_up", "Ten slices up", lambda: c.page(-1))
        a("slice.page_down", "Ten slices down", lambda: c.page(1))
        a("slice.first", "First slice", lambda: c.set_slice(0))
        a("slice.last", "Last slice", lambda: c.set_slice(c.n_slices - 1))
        self.dispatcher.repeatable |= {"slice.prev", "slice.next", "slice.page_up", "slice.page_down"}
        self.dispatcher.repeatable |= {"view.zoom_in", "view.zoom_out"}
        self.act_lung = a("window.lung", "&Lung window", lambda: c.set_preset(LUNG_WINDOW.name))
        self.act_mediastinum = a(
            "window.mediastinum", "&Mediastinum window", lambda: c.set_preset(MEDIASTINUM_WINDOW.name)
        )
        self.act_custom = a("window.custom", "&Custom window", lambda: c.set_preset(CUSTOM_WINDOW_NAME))
        self.act_zoom_in = a("view.zoom_in", "Zoom &in", lambda: self.slice_view.zoom(ZOOM_STEP))
        self.act_zoom_out = a("view.zoom_out", "Zoom &out", lambda: self.slice_view.zoom(1 / ZOOM_STEP))
        self.act_reset = a("view.reset", "&Reset zoom and pan", self.slice_view.reset_view, "Reset view")
        self.level_jump_actions = [
            a(f"level.jump.{int(lv)}", f"Go to {lv.label}", lambda lv=lv: c.jump_to_level(lv))
            for lv in LEVELS
        ]
        self.level_set_actions = [
            a(f"level.set.{int(lv)}", f"Set {lv.label} here", lambda lv=lv: c.place_level(lv))
            for lv in LEVELS
        ]
        self.act_confirm_l4 = a("level.confirm_l4", "&Confirm proposed L4", c.confirm_l4)
        self.act_clear_level = a("level.clear", "&Remove selected level", lambda: c.clear_level())
        self.act_shortcuts = a("help.shortcuts", "&Keyboard shortcuts…", self.show_shortcuts, "Shortcuts")
        self.act_about = a(None, "&About", self.show_about)

    def _build_menus_and_toolbar(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.study.act_open_study, self.study.act_demo, self.study.act_close_study])
        m.addSeparator()
        m.addActions([self.act_open, self.act_open_folder, self.act_cancel])
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&View")
        m.addActions([self.act_lung, self.act_mediastinum, self.act_custom])
        m.addSeparator()
        m.addActions([self.act_zoom_in, self.act_zoom_out, self.act_reset])
        m.addSeparator()
        m.addActions([self.localizer_dock.toggleViewAction(), self.level_dock.toggleViewAction()])
        m = mb.addMenu("&Levels")
        m.addActions(self.level_jump_actions)
        m.addSeparator()
        m.addActions(self.level_set_actions)
        m.addSeparator()
        m.addActions([self.act_confirm_l4, self.act_clear_level])
        mb.addMenu(self.study.menu)
        m = mb.addMenu("&Help")
        m.addActions([self.act_shortcuts, self.act_about])

        tb = QToolBar("Main", self)
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.addAction(self.study.act_open_study)
        tb.addAction(self.act_open)
        tb.addAction(self.act_open_folder)
        tb.addSeparator()
        tb.addWidget(self.window_controls)
        tb.addSeparator()
        tb.addAction(self.act_reset)
        tb.addSeparator()
        tb.addAction(self.act_shortcuts)
        self.addToolBar(tb)

    def _wire(self) -> None:
        c = self.controller
        c.volumeChanged.connect(self._on_volume_changed)
        c.sliceChanged.connect(self._on_slice_changed)
        c.windowChanged.connect(self._on_window_changed)
        c.levelsChanged.connect(self._on_levels_changed)
        c.suggestionsChanged.connect(self._on_suggestions_changed)
        c.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        c.loadStarted.connect(self._on_load_started)
        c.loadProgress.connect(self.load_progress.update_progress)
        c.loadPreview.connect(self._on_load_preview)
        c.loadFinished.connect(self._on_load_finished)
        c.loadCancelled.connect(self._on_load_cancelled)
        c.loadFailed.connect(self._on_load_failed)
        c.seriesChoiceRequested.connect(self._on_series_choice)
        self.load_progress.cancelRequested.connect(c.cancel_load)

        sv = self.slice_view
        sv.sigScroll.connect(c.step)
        sv.sigWindowDrag.connect(self._on_window_drag)
        sv.sigCursor.connect(lambda _pos: self._update_hu())
        sv.sigPointPicked.connect(self._on_point_picked)
        for loc in (self.coronal, self.sagittal):
            loc.sigSlicePicked.connect(c.set_slice)
            loc.sigScroll.connect(c.step)
            loc.sigLevelDragging.connect(lambda _lv, k: c.set_slice(k))
            loc.sigLevelMoved.connect(self._on_level_line_moved)
        self.level_panel.levelActivated.connect(c.jump_to_level)
        self.window_controls.presetChosen.connect(c.set_preset)
        self.window_controls.customWindowEntered.connect(self._on_custom_window_entered)

    # --- shortcuts -----------------------------------------------------------------------------------------

    def apply_shortcuts(self) -> None:
        """(Re)bind keys from the settings and show them in the menus."""
        bindings = self.settings.shortcuts()
        self.dispatcher.set_bindings(bindings)
        for action_id, (act, text) in self._actions.items():
            keys = bindings.get(action_id, [])
            # Keys are matched by the dispatcher (robust to keyboard layouts); the menu shows them after
            # a tab, which Qt renders as the shortcut column without registering a QShortcut.
            act.setText(f"{text}\t{keys[0].toString(keys[0].SequenceFormat.NativeText)}" if keys else text)
            act.setToolTip(f"{SHORTCUT_SPECS[action_id].description} ({format_keys(keys, native=True)})")

    def show_shortcuts(self) -> ShortcutsDialog:
        dlg = ShortcutsDialog(self.settings, self)
        dlg.shortcutsChanged.connect(self.apply_shortcuts)
        self._open_dialog(dlg)
        return dlg

    def show_about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setObjectName("aboutDialog")
        box.setWindowTitle(f"About {APP_TITLE}")
        box.setText(f"{APP_TITLE} {__version__}")
        box.setInformativeText(
            "Scoring of interstitial lung disease in systemic sclerosis on chest CT (Goh method).\n\n"
            + RESEARCH_USE_NOTICE
        )
        self._open_dialog(box)
        return box

    def _open_dialog(self, dlg: QWidget) -> None:
        self.last_dialog = dlg
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()  # window-modal, never blocks the event loop
        self.dialogOpened.emit(dlg)

    # --- opening scans -------------------------------------------------------------------------------------

    def _refuse_in_study(self) -> bool:
        if not self.study.active:
            return False
        self.statusBar().showMessage("Close the study (File > Close study) before opening other scans.", 6000)
        return True

    def choose_file(self) -> None:
        if self._refuse_in_study():
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a CT scan", self.settings.last_directory(), SCAN_FILE_FILTER
        )
        if path:
            self.open_path(path)

    def choose_folder(self) -> None:
        if self._refuse_in_study():
            return
        path = QFileDialog.getExistingDirectory(self, "Open a DICOM folder", self.settings.last_directory())
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path, *, slice_index: int | None = None) -> None:
        if self._refuse_in_study():
            return
        self.settings.set_last_directory(str(Path(path).parent))
        self.controller.open_path(path, slice_index=slice_index)

    def _on_load_started(self, message: str) -> None:
        self.load_progress.start(message)
        self.statusBar().showMessage(message)

    def _on_load_preview(self, preview: SlicePreview) -> None:
        sv = self.slice_view
        self._preview_shown = True
        sv.set_geometry(preview.hu.shape, preview.pixel_spacing, None)
        sv.show_slice(preview.hu)
        sv.text_top_left.setText("Loading…")
        k, n = getattr(preview, "index", None), getattr(preview, "n_slices", None)
        sv.text_top_right.setText(f"Slice {k + 1}/{n}" if k is not None and n else "")
        for loc in (self.coronal, self.sagittal):
            loc.set_volume(None)

    def _restore_after_preview(self) -> None:
        if self._preview_shown:
            self._preview_shown = False
            self._on_volume_changed(self.controller.volume)

    def _on_load_finished(self) -> None:
        self.load_progress.stop()
        volume = self.controller.volume
        if volume is not None and not self.controller.loading:
            dz, _dy, dx = volume.spacing
            self.statusBar().showMessage(
                f"Opened {self.controller.label}: {volume.n_slices} slices, {dz:.2f} mm apart, "
                f"pixels {dx:.3f} mm.",
                8000,
            )
        else:
            self.statusBar().clearMessage()

    def _on_load_cancelled(self) -> None:
        self.load_progress.stop()
        self._restore_after_preview()

    def _on_load_failed(self, error: BaseException) -> None:
        self.load_progress.stop()
        self._restore_after_preview()
        self.statusBar().showMessage("The scan could not be opened.", 8000)
        self._open_dialog(LoadErrorDialog(error, self))

    def _on_series_choice(self, path: Path, candidates: list) -> None:
        self._restore_after_preview()
        dlg = SeriesChoiceDialog(candidates, self)
        dlg.seriesChosen.connect(lambda key, p=path: self.controller.load_series(p, key))
        self._open_dialog(dlg)

    # --- display -------------------------------------------------------------------------------------------

    def _on_volume_changed(self, volume) -> None:
        self._preview_shown = False
        sv = self.slice_view
        c = self.controller
        if volume is None:
            sv.clear()
            sv.set_message("Open a study (File > Open study…) or a CT scan (File > Open, Ctrl+O)")
            self.setWindowTitle(APP_TITLE)
            for loc in (self.coronal, self.sagittal):
                loc.set_volume(None)
            self.hu_label.setText("")
            return
        sv.set_message("")
        sv.set_geometry(volume.shape[1:], volume.spacing[1:], volume.direction)
        sv.set_window(c.window)
        self._show_window_text(c.window)
        sv.text_top_left.setText(c.label)
        self.setWindowTitle(f"{c.label} — {APP_TITLE}")
        for loc in (self.coronal, self.sagittal):
            loc.set_window(c.window)
            loc.set_volume(volume)
        self._on_levels_changed()
        self._on_suggestions_changed()
        self._on_slice_changed(c.slice_index)

    def _on_slice_changed(self, k: int) -> None:
        c = self.controller
        hu = c.current_slice()
        if hu is None:
            return
        self.slice_view.show_slice(hu)
        self.slice_view.text_top_right.setText(self._slice_text(k))
        if not self._secondary.isActive():
            self._secondary.start()

    def _slice_text(self, k: int) -> str:
        c = self.controller
        text = f"Slice {k + 1}/{c.n_slices}\nz {c.world_z(k):.1f} mm"
        on = [lv.label for lv, p in c.placements.items() if p.slice_index == k]
        proposal = c.l4_proposal()
        if proposal is not None and proposal.slice_index == k:
            on.append("L4 (proposed)")
        ai = [lv.label for lv, p in c.suggested_levels.items() if p.slice_index == k]
        if ai:
            on.append(f"{'/'.join(ai)} (AI)")
        return text + ("\n" + ", ".join(on) if on else "")

    def _refresh_secondary(self) -> None:
        c = self.controller
        if c.volume is None:
            return
        k = c.slice_index
        for loc in (self.coronal, self.sagittal):
            loc.set_current_slice(k)
        self._update_hu()

    def flush(self) -> None:
        """Apply coalesced updates now (tests, screenshots)."""
        self._secondary.stop()
        self._refresh_secondary()

    def _update_hu(self) -> None:
        c = self.controller
        pos = self.slice_view.cursor_pixel
        hu = c.current_slice()
        if pos is None or hu is None:
            self.hu_label.setText("")
            return
        row, col = pos
        self.hu_label.setText(f"HU {int(hu[row, col])}  ({col}, {row})")

    def _on_window_changed(self, window: HUWindow) -> None:
        self.slice_view.set_window(window)
        for loc in (self.coronal, self.sagittal):
            loc.set_window(window)
        if self.controller.volume is not None:
            self._show_window_text(window)
        self.window_controls.show_window(window)
        if window.name == CUSTOM_WINDOW_NAME:
            self.settings.set_custom_window(window)

    def _show_window_text(self, window: HUWindow) -> None:
        self.slice_view.text_bottom_left.setText(f"W {window.width:.0f}  L {window.level:.0f}\n{window.name}")

    def _on_window_drag(self, dx: float, dy: float) -> None:
        # The step per pixel grows with the width (fine control at narrow windows, fast at wide ones).
        w = self.controller.window.width
        step = max(1.0, w / WL_PIXELS_PER_WIDTH)
        self.controller.adjust_window(dx * step, dy * step / 2.0)

    def _on_custom_window_entered(self, window: HUWindow) -> None:
        self.controller.set_window(window)
        self.slice_view.setFocus()

    def _on_point_picked(self, pos: tuple[int, int]) -> None:
        volume = self.controller.volume
        if volume is None:
            return
        row, col = pos
        self.coronal.set_position(volume, row)
        self.sagittal.set_position(volume, col)
        self.statusBar().showMessage("Localizers centred on the picked point.", 3000)

    def _on_levels_changed(self) -> None:
        c = self.controller
        violating = {v.field for v in c.violations()}
        for level in LEVELS:
            placement = c.placement(level)
            style = LineStyle.VIOLATION if level.label in violating else LineStyle.PLACED
            if placement is None and c.level_state(level) == LevelState.PROPOSED:
                placement, style = c.l4_proposal(), LineStyle.PROPOSED
            k = None if placement is None else placement.slice_index
            for loc in (self.coronal, self.sagittal):
                loc.set_level_line(level, k, style)
        if c.volume is not None:
            self.slice_view.text_top_right.setText(self._slice_text(c.slice_index))

    def _on_suggestions_changed(self) -> None:
        c = self.controller
        for level in LEVELS:
            p = c.suggested_level(level)
            for loc in (self.coronal, self.sagittal):
                loc.set_suggestion_line(level, None if p is None else p.slice_index)
        if c.volume is not None:
            self.slice_view.text_top_right.setText(self._slice_text(c.slice_index))

    def _on_level_line_moved(self, level: Level, k: int) -> None:
        self.controller.place_level(level, k)
        self.controller.set_slice(k)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    # --- lifetime ------------------------------------------------------------------------------------------

    def ai_service(self):
        """The window's AI process handle (:class:`app.ai_service.AIService`), created on first use."""
        if self._ai_service is None:
            from app.ai_service import AIService

            self._ai_service = AIService(self)
        return self._ai_service

    @property
    def ai_service_started(self) -> bool:
        return self._ai_service is not None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.study.close_study()  # writes the pending reading time and releases the study file
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        if self._ai_service is not None:
            self._ai_service.shutdown()  # results still on their way are dropped; the study is closed
        self.controller.shutdown()
        self.dispatcher.uninstall()
        super().closeEvent(event)


def isolated_settings(path: str) -> Settings:
    """Settings stored in an INI file at ``path`` (tests, screenshots)."""
    return Settings(QSettings(path, QSettings.Format.IniFormat))
