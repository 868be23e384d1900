"""What the AI adds to a reading workspace: the AI dock, the suggestions, the heat-map overlay, hold-H.

Attached by :class:`~app.workspace.ReadingWorkspace` for every session. It owns the session's
:class:`~app.ai_controller.AIController` and shows, for the case on screen only, what the reader view holds
(:meth:`AIWorkspace.refresh`): the AI's levels as dashed lines on the localizers and an "AI slice" column in
the level panel (with "Accept AI" / "Accept all AI"), the AI's scores beside the reader's fields and as
"AI" columns of the score table (only where the session shows the scores), and the heat map of the current
level and chosen pattern over the slice it was computed on, with the colour bar in score points. Every
display is rebuilt from the reader view when the case changes, so nothing of the case left behind stays
on screen.

Under the hidden policy the dock says "AI hidden in this session" and nothing else is created: no AI
process, no suggestion, no overlay.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QFileDialog, QFrame, QScrollArea

from app.ai_controller import AIController, AIState, AIStatus
from app.widgets.ai_panel import AIPanel, AIStatusWidget
from app.widgets.colour_bar import FAINT_HEATMAP_POINTS, display_range, heatmap_lut
from ssc_core.constants import LEVELS, Level, Pattern
from ssc_core.errors import SSCError
from ssc_core.study.records import AIPolicy

if TYPE_CHECKING:
    from app.workspace import ReadingWorkspace

log = logging.getLogger(__name__)

#: A press of the heat-map key longer than this (s) hides the map only while it is held.
HOLD_KEY_S = 0.3


#: A screen whose available height is below this (logical pixels) cannot hold the window with the whole AI
#: panel (a reading session with the AI dock needs about 960 px, plus the title bar): there the panel
#: scrolls inside its dock, so that the window fits (a 1920x1080 laptop at 125 % scaling is 864 px high).
FULL_AI_PANEL_SCREEN_PX = 1000
#: The AI dock's least height on such a screen: the model, the research notice and the status stay in view.
AI_DOCK_MIN_HEIGHT_PX = 90


def ai_dock_min_height(panel_height: int, platform: str, screen_height: int | None) -> int:
    """The AI dock's minimum height: the whole panel, unless a real screen is too short for it.

    The offscreen platform (``--screenshot``, tests) has no real screen: the whole panel is shown.
    """
    if platform == "offscreen" or screen_height is None or screen_height >= FULL_AI_PANEL_SCREEN_PX:
        return panel_height
    return min(panel_height, AI_DOCK_MIN_HEIGHT_PX)


def screen_height(window) -> int | None:
    """The available height (logical pixels) of the screen ``window`` is on, or None."""
    screen = window.screen()
    return None if screen is None else screen.availableGeometry().height()


class AIWorkspace(QObject):
    """See the module docstring. ``shown(kind)`` is emitted when AI output appears on screen ("levels",
    "scores", "heatmap"), e.g. for ``--screenshot``."""

    shown = Signal(str)

    def __init__(self, workspace: ReadingWorkspace) -> None:
        super().__init__(workspace)
        self.ws = workspace
        self.window = window = workspace.window
        self.reading = reading = workspace.reading
        self.sv = window.slice_view
        self.heatmap_visible = True
        self._held_since: float | None = None
        self._hidden_by_hold = False
        self._clock = time.monotonic
        self._overlay_key: tuple | None = None
        self._overlay_slice: int | None = None
        #: The heat map drawn changes the AI's score nowhere by FAINT_HEATMAP_POINTS or more (nothing shows).
        self._overlay_faint = False
        self._opacity: float | None = None
        self._background: str | None = None
        #: The background precompute (the demo's heat maps), once started.
        self.background_job = None
        self.controller = AIController(
            reading,
            window.ai_service,
            bundle_path=window.ai_bundle_override or window.settings.ai_bundle_path(),
            auto_run=window.settings.ai_auto_run(),
            parent=self,
        )
        self.panel = AIPanel(hidden=self.controller.hidden, rating=reading.is_rating)
        self.dock = QDockWidget("AI (research use only)", window)
        self.dock.setObjectName("aiDock")
        # Where the screen is too short for the window with the whole panel (ai_dock_min_height), the panel
        # scrolls inside its dock; elsewhere the dock is as tall as the panel needs.
        full = self.panel.minimumSizeHint().height()
        least = ai_dock_min_height(full, QGuiApplication.platformName(), screen_height(window))
        self.scroll: QScrollArea | None = None
        if least < full:
            self.scroll = QScrollArea(self.dock)
            self.scroll.setObjectName("aiScroll")
            self.scroll.setWidgetResizable(True)
            self.scroll.setFrameShape(QFrame.Shape.NoFrame)
            self.scroll.setWidget(self.panel)
            bar = self.scroll.verticalScrollBar().sizeHint().width()
            self.scroll.setMinimumWidth(self.panel.minimumSizeHint().width() + bar)
            self.scroll.setMinimumHeight(least)
            self.dock.setWidget(self.scroll)
        else:
            self.dock.setWidget(self.panel)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.status = None
        if self.controller.hidden:
            return
        self._opacity = self.panel.opacity
        self.status = AIStatusWidget(window)
        window.statusBar().insertPermanentWidget(1, self.status)
        c = self.controller
        c.stateChanged.connect(self._on_state)
        c.bundleChanged.connect(self.panel.set_bundle)
        self.panel.cancelRequested.connect(c.cancel)
        self.status.cancelRequested.connect(c.cancel)
        self.panel.runAgainRequested.connect(c.run_again)
        self.panel.loadBundleRequested.connect(self.choose_bundle)
        self.panel.patternChosen.connect(lambda _p: self.refresh_overlay())
        self.panel.opacityChanged.connect(self._on_opacity)
        self.panel.heatmapShown.connect(self._on_show_toggled)
        reading.aiChanged.connect(self._on_ai_changed)
        reading.caseLoading.connect(lambda _c: self.clear())
        reading.caseChanged.connect(lambda _c: self.refresh())
        reading.readingChanged.connect(lambda _r: self._refresh_phase())
        reading.ratingTargetChanged.connect(lambda _l, _p: self.refresh_overlay())
        viewer = window.controller
        # bound methods, disconnected in close(): the viewer outlives this workspace (a lambda here kept
        # drawing into the closed study's deleted panel when the next study was opened in the window)
        viewer.currentLevelChanged.connect(self._on_level_changed)
        viewer.sliceChanged.connect(self._on_slice)
        lp = window.level_panel
        lp.acceptSuggestion.connect(reading.accept_ai_level)
        lp.acceptAllSuggestions.connect(reading.accept_all_ai_levels)
        if c.bundle is not None:
            self.panel.set_bundle(c.bundle)
        self._on_state(c.state)
        self.refresh()

    # --- background work ------------------------------------------------------------------------------

    def start_background(self, session: str) -> None:
        """Compute ``session``'s missing results in the background once the model is loaded (the demo's
        heat-map rating session); nothing under a policy that hides the AI, nothing when no model is."""
        if self.controller.hidden or self._background is not None:
            return
        self._background = session
        if self.controller.bundle is not None:
            self._start_background(self.controller.bundle)
        else:
            self.controller.bundleChanged.connect(self._start_background)

    def _start_background(self, info) -> None:
        if info is None or self._background is None or self.background_job is not None:
            return
        try:
            self.background_job = self.controller.precompute(self._background)
        except SSCError as exc:
            log.info("Background AI precompute not started: %s", exc.message)

    # --- state ---------------------------------------------------------------------------------------

    def _on_state(self, state: AIState) -> None:
        self.panel.set_state(state)
        if self.status is not None:
            self.status.set_state(state)
        if state.status in (AIStatus.READY, AIStatus.IDLE, AIStatus.RUNNING):
            self.refresh_overlay()

    def choose_bundle(self) -> None:
        """ "Load model bundle…": a folder with spec.json; verified by the AI process before it is used."""
        folder = QFileDialog.getExistingDirectory(
            self.window,
            "Choose a model bundle folder (it holds spec.json)",
            self.window.settings.last_directory(),
        )
        if folder:
            self.load_bundle(folder)

    def load_bundle(self, folder: str | None) -> None:
        self.window.settings.set_ai_bundle_path(folder)
        self.controller.load_bundle(folder)

    # --- what is shown ---------------------------------------------------------------------------------

    def clear(self) -> None:
        """Take every AI display off the screen (a case is being left)."""
        if self.controller.hidden:
            return
        self.window.controller.set_suggested_levels(None)
        if self.ws.score_panel is not None:
            self.ws.score_panel.set_suggestions(None)
        self._clear_overlay()

    def _on_ai_changed(self, code: str) -> None:
        if code == self.reading.case_code and self.reading.loading_code is None:
            self.refresh()

    def refresh(self) -> None:
        """Show what the reader view holds for the case on screen (and nothing for any other case)."""
        if self.controller.hidden:
            return
        r = self.reading
        self._refresh_phase()
        ai = r.ai_view() if r.case_code is not None and r.loading_code is None else None
        if ai is None:
            self.clear()
            return
        if r.is_rating:
            # the levels of a rating session are the AI's: they are the placements, fixed
            placed = r.ai_placements()
            if placed != self.window.controller.placements:
                self.window.controller.set_placements(placed)
                if placed:
                    self.shown.emit("levels")
        else:
            suggestions = r.ai_placements()
            self.window.controller.set_suggested_levels(suggestions)
            if suggestions:
                self.shown.emit("levels")
            if self.ws.score_panel is not None:
                scores = ai.scores if r.scores_shown else None
                self.ws.score_panel.set_suggestions(scores)
                if scores:
                    self.shown.emit("scores")
        self.refresh_overlay()

    def _refresh_phase(self) -> None:
        panel = self.ws.score_panel
        r = self.reading
        if panel is None or r.ai_policy is not AIPolicy.AFTER_COMMIT or r.case_code is None:
            if panel is not None:
                panel.set_phase("", assisted=False)
            return
        if r.needs_unaided_commit:
            panel.set_phase(
                "Phase 1 of 2 — your unaided reading. The AI is hidden until you commit it "
                "(“Commit unaided reading…”, Ctrl+Enter).",
                assisted=False,
            )
        else:
            panel.set_phase(
                "Phase 2 of 2 — assisted revision. Your unaided reading is locked and kept; any change now "
                "is recorded separately. AI values are shown in violet italics.",
                assisted=True,
            )

    # --- heat-map overlay -------------------------------------------------------------------------------

    def target(self) -> tuple[Level, Pattern] | None:
        """The heat map to show: the item being rated, or the current level with the chosen pattern."""
        r = self.reading
        if r.is_rating:
            return r.rating_target
        level = self.window.controller.current_level
        if level is None:
            ai = r.ai_view()
            levels = [] if ai is None or ai.levels is None else sorted(ai.levels)
            level = levels[0] if levels else None
        return None if level is None else (level, self.panel.pattern)

    def _clear_overlay(self) -> None:
        self._overlay_key = None
        self._overlay_slice = None
        self.sv.clear_overlay()
        if not self.reading.is_rating:
            self.window.colour_bar.hide()

    def refresh_overlay(self) -> None:
        """Draw the target heat map (when the view holds it for the case on screen), or say why not."""
        if self.controller.hidden:
            return
        r = self.reading
        target = self.target()
        code = r.case_code
        if code is None or r.loading_code is not None or target is None or r.ai_view() is None:
            self._clear_overlay()
            if r.is_rating:
                self.ws.show_heatmap_message(self._missing_text(target))
            else:
                self.panel.set_heatmap_status(self._missing_text(target))
            return
        level, pattern = target
        found = r.heatmap(level, pattern)
        if found.values is None:
            self._clear_overlay()
            text = found.message
            if self._computing(level):
                text = f"Heat map {level.label} {pattern.value} is being computed…"
            if r.is_rating:
                self.ws.show_heatmap_message(text)
            else:
                self.panel.set_heatmap_status(text)
            return
        key = (code, level, pattern)
        if key != self._overlay_key:
            self.sv.set_overlay(
                found.values, value_range=display_range(), lut=heatmap_lut(), opacity=self._opacity or 0.65
            )
            self._overlay_key = key
            self._overlay_slice = found.slice_index
            self._overlay_faint = bool(np.nanmax(np.abs(found.values), initial=0.0) < FAINT_HEATMAP_POINTS)
            self.window.colour_bar.show()
            if r.is_rating:
                self.ws.show_heatmap_on(found.slice_index)  # a new item to rate: go to its map
            self.shown.emit("heatmap")
        self._on_slice(self.window.controller.slice_index)

    def _computing(self, level: Level) -> bool:
        svc = self.controller.service
        if svc is None:
            return False
        code = self.reading.case_code
        units = [*svc.pending(owner=self.controller), *([svc.current] if svc.current else [])]
        return any(u.case_id == code and (u.cascade or level in u.heatmaps) for u in units)

    def _missing_text(self, target) -> str:
        state = self.controller.state
        if state.status in (AIStatus.NO_BUNDLE, AIStatus.ERROR, AIStatus.MISMATCH):
            return f"Heat map not available: {state.message}"
        if target is None:
            return "Heat maps appear once the AI has found the levels."
        if state.status is AIStatus.RUNNING:
            return "Heat map being computed…"
        return "Heat map not available yet: the AI has not been run on this case."

    def _on_slice(self, k: int) -> None:
        if self._overlay_slice is None:
            return
        on = k == self._overlay_slice
        visible = on and self.heatmap_visible and not self._hidden_by_hold
        self.sv.overlay.setVisible(visible)
        target = self.target()
        if target is None:
            return
        level, pattern = target
        if not on:
            text = (
                f"The heat map {level.label} {pattern.value} is drawn on slice {self._overlay_slice + 1} "
                f"(the AI's {level.label})."
            )
        elif self._hidden_by_hold:
            text = "Heat map hidden while H is held."
        elif self.heatmap_visible and self._overlay_faint:
            # a healthy slice: the map is (correctly) near zero everywhere, so nothing is coloured; say so
            text = (
                f"Heat map {level.label} {pattern.value} on slice {k + 1}: no area moves the AI's score by "
                f"{FAINT_HEATMAP_POINTS:g} point. Research use only."
            )
        elif self.heatmap_visible:
            text = (
                f"Heat map {level.label} {pattern.value} on slice {k + 1} (H hides it). "
                "AI output, research use only."
            )
        else:
            text = "Heat map hidden (H shows it)."
        if self.reading.is_rating:
            self.ws.show_heatmap_message(text, problem=False, on_image=False)
        else:
            self.panel.set_heatmap_status(text)

    def _on_opacity(self, value: float) -> None:
        self._opacity = value
        if self.sv.overlay.image is not None:
            self.sv.overlay.setOpacity(value)

    def _on_show_toggled(self, shown: bool) -> None:
        self.heatmap_visible = shown
        self._on_slice(self.window.controller.slice_index)

    # --- the heat-map key: tap toggles, hold hides while held ----------------------------------------------

    def heatmap_key_pressed(self) -> None:
        if self.controller.hidden:
            return
        self._held_since = self._clock()
        self._was_visible = self.heatmap_visible
        self.set_heatmap_visible(not self.heatmap_visible)

    def heatmap_key_released(self) -> None:
        if self._held_since is None:
            return
        held = self._clock() - self._held_since
        self._held_since = None
        if held >= HOLD_KEY_S and self._was_visible:
            self.set_heatmap_visible(True)  # held: it was hidden only while the key was down

    def set_heatmap_visible(self, visible: bool) -> None:
        self.heatmap_visible = visible
        if not self.controller.hidden:
            self.panel.show_box.blockSignals(True)
            self.panel.show_box.setChecked(visible)
            self.panel.show_box.blockSignals(False)
        self._on_slice(self.window.controller.slice_index)

    def _on_level_changed(self, _level) -> None:
        self.refresh_overlay()

    # --- lifetime ------------------------------------------------------------------------------------

    def close(self) -> None:
        self.controller.close()
        if not self.controller.hidden:
            self.clear()
            lp, viewer = self.window.level_panel, self.window.controller
            for signal, slot in (
                (lp.acceptSuggestion, self.reading.accept_ai_level),
                (lp.acceptAllSuggestions, self.reading.accept_all_ai_levels),
                (viewer.currentLevelChanged, self._on_level_changed),
                (viewer.sliceChanged, self._on_slice),
            ):
                with contextlib.suppress(RuntimeError, TypeError):
                    signal.disconnect(slot)
        if self.status is not None:
            self.window.statusBar().removeWidget(self.status)
            self.status.deleteLater()
        self.window.removeDockWidget(self.dock)
        self.dock.deleteLater()


__all__ = ["HOLD_KEY_S", "LEVELS", "AIWorkspace"]
