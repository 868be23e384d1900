"""The viewer's state and the operations on it: one controller per window.

The controller owns everything mutable about what the reader sees and has marked: the open volume, the
current slice, the HU window, the level placements (validated through :mod:`ssc_core.scoring`) and the
loading of a scan (through :mod:`app.workers`). Widgets only display what its signals say and call its
methods; the controller never touches a widget, so it is testable without one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from app import loading
from app.workers import Task, TaskResult, TaskRunner
from ssc_core.constants import (
    CUSTOM_WINDOW_NAME,
    LEVELS,
    LUNG_WINDOW,
    MEDIASTINUM_WINDOW,
    WINDOW_LEVEL_LIMITS,
    WINDOW_WIDTH_LIMITS,
    HUWindow,
    Level,
)
from ssc_core.imaging.volume import CTVolume
from ssc_core.progress import Progress
from ssc_core.scoring import LevelPlacement, RuleViolation, l4_midpoint_z, level_violations

#: Slices moved by Page Up / Page Down.
PAGE_STEP = 10


class LevelState(enum.Enum):
    """How a level stands in the panel and on the localizers."""

    NOT_PLACED = "not placed"
    PLACED = "placed"
    PROPOSED = "proposed"  # L4 at the midpoint of L3 and L5, awaiting the reader's confirmation


class ViewerController(QObject):
    """State of one viewer window. See the module docstring."""

    #: The open volume changed (None: nothing open); placements were reset.
    volumeChanged = Signal(object)
    #: ``(index, n_slices)`` of the current slice.
    sliceChanged = Signal(int)
    windowChanged = Signal(object)  # HUWindow
    #: Placements, the L4 proposal or the violations changed.
    levelsChanged = Signal()
    #: One level was placed, moved or removed by the reader: (level, placement or None). For autosave.
    levelEdited = Signal(object, object)
    currentLevelChanged = Signal(object)  # Level | None
    #: The AI's suggested levels changed (shown dashed; see set_suggested_levels).
    suggestionsChanged = Signal()
    #: A short message for the status bar.
    message = Signal(str)

    # loading
    loadStarted = Signal(str)  # what is being done, in words
    loadProgress = Signal(object)  # Progress
    #: An early look at the scan while it loads: a SlicePreview.
    loadPreview = Signal(object)
    loadFinished = Signal()
    loadFailed = Signal(object)  # the exception (an SSCError for refusals)
    loadCancelled = Signal()
    #: A folder holds several series: (path, candidates); answer with load_series() or cancel.
    seriesChoiceRequested = Signal(object, object)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        runner: TaskRunner | None = None,
        discover: Callable[..., Any] = loading.discover_series,
        load: Callable[..., Any] = loading.load_volume,
    ) -> None:
        super().__init__(parent)
        self.runner = runner if runner is not None else TaskRunner(self)
        self._discover = discover
        self._load = load
        self._volume: CTVolume | None = None
        self._label = ""
        self._slice = 0
        self._window: HUWindow = LUNG_WINDOW
        self._custom_window: HUWindow = HUWindow(CUSTOM_WINDOW_NAME, LUNG_WINDOW.width, LUNG_WINDOW.level)
        self._placements: dict[Level, LevelPlacement] = {}
        self._current_level: Level | None = None
        self._task: Task | None = None
        self._pending_slice: int | None = None
        self._pending_label: str | None = None
        #: Why level edits are refused (a submitted reading, a rating session), or None when allowed.
        self._levels_locked: str | None = None
        #: Levels whose last edit could not be saved, with the reason (shown on the level panel).
        self._unsaved_levels: dict[Level, str] = {}
        #: How a placed level is described in the level panel (a rating session shows the AI's levels).
        self.placed_label = LevelState.PLACED.value
        #: The AI's suggested levels on the open volume (display only: never the reader's placements).
        self._suggested: dict[Level, LevelPlacement] = {}

    # --- volume --------------------------------------------------------------------------------------------

    @property
    def volume(self) -> CTVolume | None:
        return self._volume

    @property
    def label(self) -> str:
        """Pseudonymous label of the open scan (series description), never a patient identifier."""
        return self._label

    def set_volume(
        self, volume: CTVolume | None, *, label: str | None = None, slice_index: int | None = None
    ) -> None:
        """Show ``volume`` at ``slice_index`` (default: the middle slice, where the lungs usually are),
        forgetting the previous scan's placements."""
        self._volume = volume
        self._label = label if label is not None else loading.scan_label(volume)
        self._placements = {}
        self._unsaved_levels = {}
        self._current_level = None
        had_suggestions, self._suggested = bool(self._suggested), {}
        if had_suggestions:
            self.suggestionsChanged.emit()
        if volume is None:
            self._slice = 0
        else:
            k = volume.n_slices // 2 if slice_index is None else slice_index
            self._slice = int(np.clip(k, 0, volume.n_slices - 1))
        self.volumeChanged.emit(volume)
        self.levelsChanged.emit()
        self.currentLevelChanged.emit(None)
        if volume is not None:
            self.sliceChanged.emit(self._slice)

    # --- slices --------------------------------------------------------------------------------------------

    @property
    def slice_index(self) -> int:
        return self._slice

    @property
    def n_slices(self) -> int:
        return 0 if self._volume is None else self._volume.n_slices

    def current_slice(self) -> np.ndarray | None:
        """The current axial slice (a read-only int16 view), or None."""
        return None if self._volume is None else self._volume.axial(self._slice)

    def world_z(self, k: int | None = None) -> float | None:
        """World z (mm, LPS) of slice ``k`` (default: the current one)."""
        if self._volume is None:
            return None
        return float(self._volume.slice_z[self._slice if k is None else k])

    def set_slice(self, k: int) -> None:
        if self._volume is None:
            return
        k = int(min(max(k, 0), self._volume.n_slices - 1))
        if k != self._slice:
            self._slice = k
            self.sliceChanged.emit(k)

    def step(self, delta: int) -> None:
        """Move ``delta`` slices (positive: caudal)."""
        self.set_slice(self._slice + delta)

    def page(self, pages: int) -> None:
        self.step(pages * PAGE_STEP)

    # --- HU window -----------------------------------------------------------------------------------------

    @property
    def window(self) -> HUWindow:
        return self._window

    @property
    def custom_window(self) -> HUWindow:
        return self._custom_window

    def set_custom_window(self, window: HUWindow) -> None:
        """Remember ``window`` as the custom one (F4) without switching to it (restored settings)."""
        self._custom_window = HUWindow(CUSTOM_WINDOW_NAME, window.width, window.level)

    def set_window(self, window: HUWindow) -> None:
        w = float(np.clip(window.width, *WINDOW_WIDTH_LIMITS))
        lv = float(np.clip(window.level, *WINDOW_LEVEL_LIMITS))
        window = HUWindow(window.name, w, lv)
        if window.name == CUSTOM_WINDOW_NAME:
            self._custom_window = window
        if window != self._window:
            self._window = window
            self.windowChanged.emit(window)

    def set_preset(self, name: str) -> None:
        """Switch to the "Lung", "Mediastinum" or "Custom" window."""
        presets = {
            LUNG_WINDOW.name: LUNG_WINDOW,
            MEDIASTINUM_WINDOW.name: MEDIASTINUM_WINDOW,
            CUSTOM_WINDOW_NAME: self._custom_window,
        }
        self.set_window(presets[name])

    def adjust_window(self, d_width: float, d_level: float) -> None:
        """Change width and level by the given HU (right-drag); the result is a custom window."""
        w = self._window
        self.set_window(HUWindow(CUSTOM_WINDOW_NAME, w.width + d_width, w.level + d_level))

    # --- levels --------------------------------------------------------------------------------------------

    @property
    def placements(self) -> dict[Level, LevelPlacement]:
        """The reader's placements (a copy)."""
        return dict(self._placements)

    def placement(self, level: Level) -> LevelPlacement | None:
        return self._placements.get(Level(level))

    def l4_proposal(self) -> LevelPlacement | None:
        """L4 at the slice nearest the midpoint of L3 and L5, while L4 is unplaced (Goh 2008)."""
        if self._volume is None or Level.L4 in self._placements or self._levels_locked is not None:
            return None
        l3, l5 = self._placements.get(Level.L3), self._placements.get(Level.L5)
        if l3 is None or l5 is None:
            return None
        k = self._volume.nearest_slice(l4_midpoint_z(l3.world_z, l5.world_z))
        if k is None:
            return None
        return self._placement_at(Level.L4, k)

    def level_state(self, level: Level) -> LevelState:
        if Level(level) in self._placements:
            return LevelState.PLACED
        if level == Level.L4 and self.l4_proposal() is not None:
            return LevelState.PROPOSED
        return LevelState.NOT_PLACED

    def violations(self) -> list[RuleViolation]:
        """Order/distinctness problems of the placed levels (from the core's rules)."""
        return level_violations(self._placements)

    def violations_for(self, level: Level) -> list[RuleViolation]:
        return [v for v in self.violations() if v.field == Level(level).label]

    @property
    def current_level(self) -> Level | None:
        return self._current_level

    def set_current_level(self, level: Level | None) -> None:
        level = None if level is None else Level(level)
        if level != self._current_level:
            self._current_level = level
            self.currentLevelChanged.emit(level)

    def set_placements(self, placements: dict[Level, LevelPlacement]) -> None:
        """Show stored placements (a resumed reading) without reporting them as edits (no autosave)."""
        if self._volume is None:
            return
        n = self._volume.n_slices
        self._placements = {
            Level(lv): p for lv, p in placements.items() if p is not None and 0 <= p.slice_index < n
        }
        self._unsaved_levels = {}
        self.levelsChanged.emit()

    @property
    def suggested_levels(self) -> dict[Level, LevelPlacement]:
        """The AI's suggested levels on the open volume (a copy; empty when none are shown)."""
        return dict(self._suggested)

    def suggested_level(self, level: Level) -> LevelPlacement | None:
        return self._suggested.get(Level(level))

    def set_suggested_levels(self, suggestions: dict[Level, LevelPlacement] | None) -> None:
        """Show the AI's suggested levels (dashed lines; the reader accepts them one by one or all), or none.

        Suggestions are display state only: they never become placements unless the reader accepts them.
        """
        n = self.n_slices
        new = {
            Level(lv): p
            for lv, p in (suggestions or {}).items()
            if p is not None and self._volume is not None and 0 <= p.slice_index < n
        }
        if new != self._suggested:
            self._suggested = new
            self.suggestionsChanged.emit()

    @property
    def levels_locked(self) -> str | None:
        """Why the levels cannot be changed now (None: they can)."""
        return self._levels_locked

    def set_levels_locked(self, reason: str | None) -> None:
        """Refuse level edits with ``reason`` (a submitted, locked reading), or allow them again (None)."""
        self._levels_locked = reason
        self.levelsChanged.emit()

    def unsaved_level(self, level: Level) -> str | None:
        """Why the last edit of ``level`` could not be saved, or None."""
        return self._unsaved_levels.get(Level(level))

    def mark_level_unsaved(self, level: Level, reason: str | None) -> None:
        """Record (reason) or clear (None) a failed save of ``level``; the level panel shows it."""
        level = Level(level)
        if reason is None:
            if self._unsaved_levels.pop(level, None) is None:
                return
        else:
            self._unsaved_levels[level] = reason
        self.levelsChanged.emit()

    def _refuse_locked(self) -> bool:
        if self._levels_locked is None:
            return False
        self.message.emit(self._levels_locked)
        return True

    def _placement_at(self, level: Level, k: int) -> LevelPlacement:
        assert self._volume is not None
        return LevelPlacement(level=level, world_z=float(self._volume.slice_z[k]), slice_index=k)

    def place_level(self, level: Level, k: int | None = None) -> LevelPlacement | None:
        """Place ``level`` on slice ``k`` (default: the current slice); it becomes the current level."""
        if self._volume is None:
            self.message.emit("Open a scan before placing levels.")
            return None
        if self._refuse_locked():
            return None
        level = Level(level)
        k = self._slice if k is None else int(min(max(k, 0), self._volume.n_slices - 1))
        placement = self._placement_at(level, k)
        old = self._placements.get(level)
        self._placements[level] = placement
        self.set_current_level(level)
        if old != placement:
            self.levelEdited.emit(level, placement)
            self.levelsChanged.emit()
        problems = self.violations_for(level)
        text = f"{level.label} set at slice {k + 1} (z {placement.world_z:.1f} mm)."
        self.message.emit(text + (" " + problems[0].message if problems else ""))
        return placement

    def clear_level(self, level: Level | None = None) -> None:
        """Remove a placement (default: the current level's)."""
        level = self._current_level if level is None else Level(level)
        if level is None or level not in self._placements:
            return
        if self._refuse_locked():
            return
        del self._placements[level]
        self.levelEdited.emit(level, None)
        self.levelsChanged.emit()
        self.message.emit(f"{level.label} removed.")

    def confirm_l4(self) -> LevelPlacement | None:
        """Accept the proposed L4 as the reader's placement."""
        if self._refuse_locked():
            return None
        proposal = self.l4_proposal()
        if proposal is None:
            if Level.L4 in self._placements:
                self.message.emit("L4 is already placed.")
            else:
                self.message.emit("L4 is proposed once L3 and L5 are placed.")
            return None
        return self.place_level(Level.L4, proposal.slice_index)

    def jump_to_level(self, level: Level) -> bool:
        """Show the slice of ``level`` (placed, or proposed for L4); False when it has none."""
        level = Level(level)
        placement = self._placements.get(level)
        if placement is None and level == Level.L4:
            placement = self.l4_proposal()
        self.set_current_level(level)
        if placement is None:
            self.message.emit(f"{level.label} is not placed yet: Shift+{int(level)} sets it here.")
            return False
        self.set_slice(placement.slice_index)
        return True

    def all_levels_placed(self) -> bool:
        return all(lv in self._placements for lv in LEVELS)

    # --- loading -------------------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        return self._task is not None

    def open_volume(
        self, volume: CTVolume, *, label: str | None = None, slice_index: int | None = None
    ) -> None:
        """Show an in-memory volume (a generated phantom, a test volume) at once."""
        self.cancel_load()
        self.set_volume(volume, label=label, slice_index=slice_index)

    def open_path(self, path: str | Path, *, slice_index: int | None = None) -> Task:
        """Open a scan file or folder in the background.

        A folder is first searched for series; with several candidates ``seriesChoiceRequested`` is emitted
        and the load waits for :meth:`load_series`. ``slice_index`` (when given) is shown once loaded.
        """
        self.cancel_load()
        self._pending_slice = slice_index
        self._pending_label = None
        path = Path(path)
        self.loadStarted.emit("Looking for CT series…")
        task = self.runner.submit("find series", self._discover, path)
        task.progressed.connect(self._on_progress)
        task.finished.connect(lambda result, p=path: self._on_discovered(p, result))
        self._task = task
        return task

    def load_series(
        self,
        path: str | Path,
        series: str | None,
        *,
        label: str | None = None,
        slice_index: int | None = None,
    ) -> Task:
        """Load one series of ``path`` (``series`` is a candidate's key; None: the loader's choice).

        ``label`` replaces the series description as the scan's name (a study shows the case code);
        ``slice_index`` is shown once loaded (default: the one asked for by :meth:`open_path`, or the middle).
        """
        pending = self._pending_slice if slice_index is None else slice_index
        self.cancel_load()
        self._pending_slice = pending
        self._pending_label = label
        self.loadStarted.emit("Loading the scan…")
        task = self.runner.submit("load scan", self._load, Path(path), series=series, partial=True)
        task.progressed.connect(self._on_progress)
        task.partial.connect(self._on_partial)
        task.finished.connect(self._on_loaded)
        self._task = task
        return task

    def cancel_load(self) -> None:
        """Stop the load in progress (if any); the previous scan stays open."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            self.loadCancelled.emit()
            self.message.emit("Loading cancelled.")

    def _is_current(self, request_id: int) -> bool:
        return self._task is not None and self._task.request_id == request_id

    def _on_progress(self, request_id: int, progress: Progress) -> None:
        if self._is_current(request_id):
            self.loadProgress.emit(progress)

    def _on_partial(self, request_id: int, preview: object) -> None:
        if self._is_current(request_id):
            self.loadPreview.emit(preview)

    def _on_discovered(self, path: Path, result: TaskResult) -> None:
        if not self._is_current(result.request_id):
            return
        if not result.ok:
            self._finish_failed(result)
            return
        self._task = None  # discovery is done; what follows is not a cancellation of it
        candidates = list(result.value or [])
        if len(candidates) > 1:
            self.loadFinished.emit()
            self.seriesChoiceRequested.emit(path, candidates)
            return
        key = loading.candidate_key(candidates[0]) if candidates else None
        self.load_series(path, key)

    def _on_loaded(self, result: TaskResult) -> None:
        if not self._is_current(result.request_id):
            return
        if not result.ok:
            self._finish_failed(result)
            return
        self._task = None
        volume = loading.volume_of(result.value)
        slice_index, self._pending_slice = self._pending_slice, None
        label, self._pending_label = self._pending_label, None
        self.set_volume(volume, label=label, slice_index=slice_index)
        self.loadFinished.emit()
        for warning in volume.warnings:
            self.message.emit(warning)

    def _finish_failed(self, result: TaskResult) -> None:
        self._task = None
        self._pending_slice = None
        self._pending_label = None
        self.loadFinished.emit()
        if result.cancelled:
            self.loadCancelled.emit()
        else:
            self.loadFailed.emit(result.error)

    def notify_load_failed(self, error: BaseException) -> None:
        """Report a failure of work that prepares a load (e.g. generating the demo) like a load error."""
        self.loadFailed.emit(error)

    def notify_load_cancelled(self) -> None:
        self.loadCancelled.emit()
        self.message.emit("Cancelled.")

    def shutdown(self) -> None:
        """Stop background work (the window is closing)."""
        self._task = None
        self.runner.shutdown()
