"""Crash safety: 100+ SIGKILLs of a child process in the middle of its edits lose nothing it reported."""

from __future__ import annotations

import pytest

from tests.core.study.crash_harness import run_crash_trials


@pytest.mark.slow
def test_reported_edits_survive_sigkill(tmp_path):
    stats = run_crash_trials(tmp_path, kills=100, seed=20260105, kills_per_study=50)
    assert stats.failures == []
    assert stats.kills == 100
    assert stats.integrity_ok == stats.verify_ok == 100
    assert stats.reported_edits > 150  # the kills fell among real work, not only at start-up
