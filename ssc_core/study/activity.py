"""Reading time that pauses when the reader is idle.

Time on a case is the sum of the gaps between consecutive inputs (key presses, clicks, wheel turns, mouse
moves) that are at most ``idle_timeout_s`` long; a longer gap is a pause (coffee, a phone call) and counts
nothing. Each counted gap is also credited to the level that was current during it, so the store's time per
level (the paper's 2.5 min to find the levels, 7.5 min to score) is measured the same way.

The clock is pure Python with an injectable time source: the GUI feeds it input events and writes what
:meth:`ActivityClock.take` returns to the study (``StudyStore.add_time``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ssc_core.constants import READER_IDLE_TIMEOUT_S, Level


@dataclass(frozen=True)
class TimeReport:
    """Active seconds since the last report: on the case, and per level (a part of the case time)."""

    case_s: float
    levels_s: dict[Level, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.case_s <= 0.0


class ActivityClock:
    """Counts active reading time (see the module docstring).

    Parameters
    ----------
    idle_timeout_s
        Gaps between inputs longer than this count as a pause.
    now
        Monotonic time source in seconds (tests pass a fake one).
    """

    def __init__(
        self, idle_timeout_s: float = READER_IDLE_TIMEOUT_S, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        if idle_timeout_s <= 0:
            raise ValueError("the idle timeout must be positive")
        self.idle_timeout_s = float(idle_timeout_s)
        self._now = now
        self._last: float | None = None  # time of the last input; None while stopped
        self._level: Level | None = None
        self._case = 0.0
        self._levels: dict[Level, float] = {}

    @property
    def running(self) -> bool:
        return self._last is not None

    @property
    def level(self) -> Level | None:
        return self._level

    def _credit(self, t: float) -> None:
        if self._last is None:
            return
        gap = t - self._last
        if 0.0 < gap <= self.idle_timeout_s:
            self._case += gap
            if self._level is not None:
                self._levels[self._level] = self._levels.get(self._level, 0.0) + gap

    def start(self) -> None:
        """Start counting (a case was opened): the opening counts as the first input."""
        self._last = self._now()

    def stop(self) -> None:
        """Stop counting (case closed or submitted); time up to now is kept for :meth:`take`."""
        self._credit(self._now())
        self._last = None

    def activity(self) -> None:
        """The reader did something: the gap since the last input counts unless it was a pause."""
        if self._last is None:
            return
        t = self._now()
        self._credit(t)
        self._last = t

    def set_level(self, level: Level | None) -> None:
        """The current level changed: time so far goes to the old one, from now on to ``level``."""
        level = None if level is None else Level(level)
        if level == self._level:
            return
        if self._last is not None:
            t = self._now()
            self._credit(t)
            self._last = t
        self._level = level

    @property
    def idle(self) -> bool:
        """True when the last input is longer ago than the idle timeout (the clock is paused)."""
        return self._last is None or self._now() - self._last > self.idle_timeout_s

    def pending_s(self) -> float:
        """Seconds counted but not yet taken."""
        return self._case

    def take(self, *, minimum_s: float = 0.0) -> TimeReport:
        """Return the time counted since the last call (up to now) and reset it.

        With ``minimum_s``, less than that on the case is kept for a later call (an empty report is
        returned), so that tiny amounts are not written one by one.
        """
        if self._last is not None:
            t = self._now()
            self._credit(t)
            if t - self._last <= self.idle_timeout_s:
                self._last = t
        if self._case < minimum_s or self._case <= 0.0:
            return TimeReport(0.0)
        out = TimeReport(self._case, {lv: s for lv, s in self._levels.items() if s > 0.0})
        self._case = 0.0
        self._levels = {}
        return out
