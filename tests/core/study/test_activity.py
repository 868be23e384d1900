"""Active reading time: gaps between inputs count unless they are pauses; time per level."""

from __future__ import annotations

import pytest

from ssc_core.constants import Level
from ssc_core.study.activity import ActivityClock


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock_and_time():
    t = FakeTime()
    return ActivityClock(30.0, now=t), t


def test_gaps_up_to_the_idle_timeout_count_longer_ones_do_not(clock_and_time):
    clock, t = clock_and_time
    clock.start()
    for gap in (5.0, 10.0, 30.0, 31.0, 2.0):
        t.t += gap
        clock.activity()
    report = clock.take()
    assert report.case_s == pytest.approx(5 + 10 + 30 + 2)  # the 31 s gap was a pause


def test_time_goes_to_the_level_that_was_current(clock_and_time):
    clock, t = clock_and_time
    clock.start()
    t.t += 4.0
    clock.set_level(Level.L1)  # the 4 s before belong to no level
    t.t += 6.0
    clock.activity()
    clock.set_level(Level.L3)
    t.t += 3.0
    clock.activity()
    report = clock.take()
    assert report.case_s == pytest.approx(13.0)
    assert report.levels_s == {Level.L1: pytest.approx(6.0), Level.L3: pytest.approx(3.0)}
    assert clock.take().empty  # taken once


def test_idle_and_stop_and_minimum(clock_and_time):
    clock, t = clock_and_time
    assert clock.idle
    assert not clock.running
    clock.activity()  # not started: nothing counts
    t.t += 5.0
    assert clock.take().empty
    clock.start()
    t.t += 0.2
    assert clock.take(minimum_s=0.5).empty  # kept for later
    t.t += 0.4
    assert clock.take(minimum_s=0.5).case_s == pytest.approx(0.6)
    t.t += 40.0
    assert clock.idle
    assert clock.take().empty  # the reader is away: the time since the last input does not count
    t.t += 3.0
    clock.activity()  # back after 43 s: a pause
    t.t += 2.0
    clock.stop()
    assert clock.take().case_s == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        ActivityClock(0)
