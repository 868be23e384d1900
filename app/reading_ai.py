"""The AI's output in the reader view, and accepting its suggested levels.

A mixin of :class:`app.reading.ReadingController` (kept apart so each module stays small). What the AI
shows for a case is only ever taken from the reader view's AI part (``ReaderView.ai``), which the store
builds by the session's policy: nothing under the hidden policy, nothing before the unaided commit under
after-commit, levels and heat maps but no scores in heat-map rating sessions blinded to them. When a result
has just been cached, :meth:`AIReadingMixin.refresh_ai` reads that case's part again through
``StudyStore.reader_ai`` (the same rules).

Accepting a suggested level writes a placement through the store like the reader's own edit, audited as
accepted from the AI (``AcceptAILevel``, naming the model bundle).
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING

from app.reading_rating import placement_on
from ssc_core.constants import LEVELS, Level
from ssc_core.errors import ProtocolError, SSCError
from ssc_core.study.records import AIPolicy, SessionKind

if TYPE_CHECKING:
    from ssc_core.scoring import LevelPlacement
    from ssc_core.study.records import AIView


class AIReadingMixin:
    """AI parts of :class:`~app.reading.ReadingController` (see the module docstring)."""

    # --- policy ----------------------------------------------------------------------------------------

    @property
    def ai_policy(self) -> AIPolicy:
        return self.session.ai_policy

    @property
    def ai_never(self) -> bool:
        """Hidden policy (observer/consensus): no AI at all in this session."""
        return self.kind is not SessionKind.HEATMAP_RATING and self.ai_policy is AIPolicy.HIDDEN

    def ai_allowed_for(self, code: str | None = None) -> bool:
        """May the AI's output of case ``code`` (default: the current one) be computed and shown now?"""
        code = self._case if code is None else code
        if code is None or self.ai_never:
            return False
        if self.kind is SessionKind.HEATMAP_RATING or self.ai_policy is AIPolicy.VISIBLE:
            return True
        r = self._view.readings.get(code)
        return r is not None and r.unaided_committed_at is not None

    @property
    def scores_shown(self) -> bool:
        """Does this session show the AI's scores (where the AI is shown at all)?"""
        if self.kind is SessionKind.HEATMAP_RATING:
            return self.ai_policy is AIPolicy.VISIBLE
        return not self.ai_never

    @property
    def session_bundle(self) -> str | None:
        """The model bundle (hash) the session shows, when it names one."""
        return self.store.session(self.session_id).ai_bundle

    # --- the view's AI part --------------------------------------------------------------------------

    def ai_view(self, code: str | None = None) -> AIView | None:
        """The AI output of ``code`` (default: the current case) as the reader view holds it, or None."""
        code = self._case if code is None else code
        if code is None or self._view.ai is None:
            return None
        return self._view.ai.get(code)

    def refresh_ai(self, code: str) -> AIView | None:
        """Read case ``code``'s AI part of the view again (after a result was cached); emits ``aiChanged``."""
        if self._view.ai is None or not self.ai_allowed_for(code):
            return None
        try:
            view = self.store.reader_ai(self.session_id, self.reader_id, code)
        except ProtocolError:
            view = None
        ai = dict(self._view.ai)
        if view is None:
            ai.pop(code, None)
        else:
            ai[code] = view
        self._view = replace(self._view, ai=ai)
        for key in [k for k in self._heatmaps if k[0] == code]:
            del self._heatmaps[key]
        self.aiChanged.emit(code)
        return view

    def ai_placements(self) -> dict[Level, LevelPlacement]:
        """The AI's levels of the current case on the open volume (empty when none may be shown)."""
        ai = self.ai_view()
        volume = self.viewer.volume
        if ai is None or ai.levels is None or volume is None:
            return {}
        return {lv: placement_on(volume, lv, p.world_z, p.slice_index) for lv, p in ai.levels.items()}

    # --- accepting suggestions -----------------------------------------------------------------------

    def accept_ai_level(self, level: Level) -> bool:
        """Place ``level`` where the AI suggests it (saved through the store, audited as accepted)."""
        level = Level(level)
        field = level.label
        if self.is_rating or not self._editable(field):
            return False
        ai = self.ai_view()
        suggestion = self.ai_placements().get(level)
        if ai is None or suggestion is None:
            self.message.emit(f"The AI suggests no position for {level.label} on this case.")
            return False
        assert self._case is not None
        try:
            reading = self.store.place_level(
                self.session_id,
                self.reader_id,
                self._case,
                level,
                suggestion.world_z,
                suggestion.slice_index,
                accepted_from_ai=ai.bundle_hash,
            )
        except (SSCError, sqlite3.Error, OSError) as exc:
            self._failed(field, exc)
            return False
        placements = self.viewer.placements
        placements[level] = suggestion
        self.viewer.set_placements(placements)
        self.viewer.set_current_level(level)
        self._saved(reading, f"{level.label} (accepted from the AI)", field)
        return True

    def accept_all_ai_levels(self) -> int:
        """Accept every suggested level that differs from the reader's; returns how many were saved."""
        suggestions = self.ai_placements()
        placed = self.viewer.placements
        n = 0
        for level in LEVELS:
            s = suggestions.get(level)
            if s is None:
                continue
            mine = placed.get(level)
            if mine is not None and mine.slice_index == s.slice_index:
                continue
            if not self.accept_ai_level(level):
                break
            n += 1
        return n
