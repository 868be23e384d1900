"""Fixtures of the study-store tests: a manual clock and a small study."""

from __future__ import annotations

import pytest

from ssc_core.study.clock import ManualClock
from ssc_core.study.store import create_study
from tests.core.study.helpers import StudyFixture, make_source


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def study(tmp_path, clock):
    """A study with an admin, readers A and B and six cases (no sessions yet)."""
    store = create_study(tmp_path / "s.sscstudy", name="Test study", admin="Admin", clock=clock)
    admin = store.reader_by_name("Admin").id
    a = store.add_reader("Reader A", by=admin).id
    b = store.add_reader("Reader B", by=admin).id
    cases = store.add_cases([make_source(i) for i in range(6)], by=admin)
    yield StudyFixture(store, admin, a, b, [c.code for c in cases], [c.id for c in cases])
    store.close()
