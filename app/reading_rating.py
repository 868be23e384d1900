"""Heat-map rating sessions: the item being rated, rating with one key, and the stored heat maps.

A mixin of :class:`app.reading.ReadingController` (kept apart so each module stays small). Only the reader
view's AI part is consulted, which never holds the AI's scores in a session blinded to them, and maps are
read through ``StudyStore.reader_heatmap``, which applies the session's rules again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.errors import SSCError
from ssc_core.scoring import LevelPlacement

if TYPE_CHECKING:
    import numpy as np

    from ssc_core.imaging.volume import CTVolume

#: Rating order inside a case: L1 TOT, L1 GG, L1 RET, L2 TOT, ...
RATING_ITEMS: tuple[tuple[Level, Pattern], ...] = tuple((lv, p) for lv in LEVELS for p in PATTERNS)


@dataclass(frozen=True)
class HeatmapLookup:
    """A heat map to show (``values`` on slice ``slice_index``), or why there is none (``message``)."""

    values: np.ndarray | None
    slice_index: int | None
    message: str


def placement_on(volume: CTVolume, level: Level, world_z: float, slice_index: int | None) -> LevelPlacement:
    """A stored placement on the open volume: its own slice when that matches its z, else the nearest."""
    n = volume.n_slices
    if slice_index is not None and 0 <= slice_index < n:
        dz = abs(float(volume.slice_z[slice_index]) - world_z)
        if dz <= 0.5 * max(float(volume.spacing[0]), 1e-6):
            return LevelPlacement(level, world_z, slice_index)
    k = volume.nearest_slice(world_z)
    if k is None:  # outside the scan (a damaged record): show it on the nearest end slice
        k = 0 if world_z > float(volume.slice_z[0]) else n - 1
    return LevelPlacement(level, world_z, int(k))


class RatingMixin:
    """Rating state and heat maps of :class:`~app.reading.ReadingController` (see the module docstring)."""

    # --- heat-map rating -----------------------------------------------------------------------------

    @property
    def rating_target(self) -> tuple[Level, Pattern]:
        return self._rating_target

    def set_rating_target(self, level: Level, pattern: Pattern) -> None:
        target = (Level(level), Pattern(pattern))
        self._rating_target = target
        self.clock.set_level(target[0])
        self.ratingTargetChanged.emit(*target)

    def step_rating_target(self, delta: int) -> None:
        """Move to the next (``delta`` 1) or previous (-1) item: L1 TOT, L1 GG, L1 RET, L2 TOT, ..."""
        i = RATING_ITEMS.index(self._rating_target)
        self.set_rating_target(*RATING_ITEMS[(i + delta) % len(RATING_ITEMS)])

    def _first_unrated(self) -> tuple[Level, Pattern]:
        values = self.values
        return next((item for item in RATING_ITEMS if values.rating(*item) is None), RATING_ITEMS[0])

    def rate(self, value: int) -> bool:
        """Rate the current item and, once saved, move on to the next unrated one of the case."""
        level, pattern = self._rating_target
        if not self.set_rating(level, pattern, value):
            return False
        values = self.values
        i = RATING_ITEMS.index(self._rating_target)
        following = RATING_ITEMS[i + 1 :] + RATING_ITEMS[: i + 1]
        nxt = next((item for item in following if values.rating(*item) is None), None)
        if nxt is not None:
            self.set_rating_target(*nxt)
        return True

    def _ai_view(self):
        if self._case is None or self._view.ai is None:
            return None
        return self._view.ai.get(self._case)

    def heatmap(self, level: Level, pattern: Pattern) -> HeatmapLookup:
        """The stored heat map of the current case for (level, pattern), or why there is none.

        Only the reader view's AI part is consulted (it never holds the AI's scores in a session blinded
        to them), and the map itself is read through ``StudyStore.reader_heatmap``, which applies the
        same rules.
        """
        level, pattern = Level(level), Pattern(pattern)
        ai = self._ai_view()
        volume = self.viewer.volume
        if ai is None or volume is None:
            return HeatmapLookup(
                None, None, "Heat map not available yet: the AI has not been run on this case."
            )
        if (level, pattern) not in ai.heatmaps:
            return HeatmapLookup(None, None, f"Heat map {level.label} {pattern.value} not available yet.")
        placement = None if ai.levels is None else ai.levels.get(level)
        if placement is None:
            return HeatmapLookup(None, None, f"The AI found no {level.label} for this heat map.")
        k = placement_on(volume, level, placement.world_z, placement.slice_index).slice_index
        key = (self._case or "", level, pattern)
        values = self._heatmaps.get(key)
        if values is None:
            try:
                values = self.store.reader_heatmap(
                    self.session_id, self.reader_id, key[0], level, pattern.value
                )
            except SSCError as exc:
                return HeatmapLookup(None, None, f"Heat map {level.label} {pattern.value}: {exc.message}")
            self._heatmaps[key] = values
        if values.shape != tuple(volume.shape[1:]):
            return HeatmapLookup(
                None, None, f"Heat map {level.label} {pattern.value} does not match this scan's slice size."
            )
        return HeatmapLookup(values, k, "")
