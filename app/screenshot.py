"""``--screenshot``: save the main window once the scan (or the study's case) is loaded and drawn, then quit.

Works with ``QT_QPA_PLATFORM=offscreen`` (``QWidget.grab`` renders the window itself). A folder with
several series takes the series the choice dialog preselects; a refused scan prints the reason and exits
with status 2. With ``wait="ai"`` the shot waits until the AI's suggestions are shown for the case, with
``wait="heatmap"`` until a heat map is drawn (the view goes to the slice it belongs to); a study whose AI
cannot run (hidden session, no model, an error) exits with status 3 and the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from app.dialogs.load_error import error_texts
from app.dialogs.series_choice import SeriesChoiceDialog

#: Give up when nothing has loaded after this long (ms).
TIMEOUT_MS = 300_000
#: Pause after the volume is shown, so queued layout and paint events run first (ms).
SETTLE_MS = 150


class ScreenshotOnLoad(QObject):
    def __init__(self, window, path: str | Path, *, expect_load: bool, wait: str = "load") -> None:
        super().__init__(window)
        self.window = window
        self.path = Path(path)
        self.wait = wait
        self.exit_code = 1
        self._done = False
        c = window.controller
        c.volumeChanged.connect(self._on_volume)
        c.loadFailed.connect(self._on_failed)
        c.loadCancelled.connect(self._on_cancelled)
        window.dialogOpened.connect(self._on_dialog)
        study = getattr(window, "study", None)
        if study is not None:
            study.failed.connect(lambda text: self._quit(2, text))
            study.workspaceChanged.connect(self._on_workspace)
        QTimer.singleShot(TIMEOUT_MS, lambda: self._quit(1, "timed out waiting for the scan"))
        if not expect_load:
            QTimer.singleShot(SETTLE_MS, self._capture)

    def _on_volume(self, volume) -> None:
        if volume is not None and self.wait == "load":
            QTimer.singleShot(SETTLE_MS, self._capture)

    def _on_cancelled(self) -> None:
        # A study cancels the previous load when it opens the case it wants; only a load given up with
        # nothing else coming ends the screenshot.
        if not self.window.controller.loading:
            QTimer.singleShot(SETTLE_MS, self._maybe_quit_cancelled)

    def _maybe_quit_cancelled(self) -> None:
        if not self.window.controller.loading and self.window.controller.volume is None:
            self._quit(1, "loading was cancelled")

    def _on_workspace(self, workspace) -> None:
        if workspace is not None:
            workspace.reading.sessionCompleted.connect(lambda: QTimer.singleShot(SETTLE_MS, self._capture))
            if self.wait != "load":
                ai = workspace.ai
                ai.shown.connect(self._on_ai_shown)
                ai.controller.stateChanged.connect(self._on_ai_state)

    def _on_ai_shown(self, kind: str) -> None:
        wanted = {"ai": ("scores", "levels"), "heatmap": ("heatmap",)}[self.wait]
        if kind not in wanted:
            return
        ws = self.window.study.workspace
        if kind == "levels" and ws is not None and ws.reading.scores_shown:
            return  # wait for the scores, shown right after
        if kind == "heatmap" and ws is not None and ws.ai._overlay_slice is not None:
            self.window.controller.set_slice(ws.ai._overlay_slice)
        QTimer.singleShot(SETTLE_MS, self._capture)

    def _on_ai_state(self, state) -> None:
        from app.ai_controller import AIStatus

        if state.status in (AIStatus.HIDDEN, AIStatus.NO_BUNDLE, AIStatus.ERROR, AIStatus.MISMATCH):
            self._quit(3, f"the AI cannot be shown: {state.message} {state.hint}".strip())

    def _on_dialog(self, dialog) -> None:
        if isinstance(dialog, SeriesChoiceDialog) and dialog.selected_row() is not None:
            row = dialog.rows[dialog.selected_row()]
            print(f"screenshot: several series; taking “{row.description}”", file=sys.stderr)
            dialog._accept_if_valid()

    def _on_failed(self, error: BaseException) -> None:
        reason, advice, _ = error_texts(error)
        self._quit(2, f"{reason} {advice}")

    def _capture(self) -> None:
        if self._done:
            return
        self.window.flush()
        QApplication.processEvents()
        pixmap = self.window.grab()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if pixmap.isNull() or not pixmap.save(str(self.path), "PNG"):
            self._quit(1, f"could not write {self.path}")
            return
        print(f"screenshot saved: {self.path}", file=sys.stderr)
        self._quit(0)

    def _quit(self, code: int, message: str = "") -> None:
        if self._done:
            return
        self._done = True
        if message:
            print(f"screenshot: {message}", file=sys.stderr)
        self.exit_code = code
        self.window.close()
        # Through the event loop: a failure found while the window is set up comes before ``exec``.
        QTimer.singleShot(0, lambda: QApplication.instance().exit(code))
