"""Session AI policies in the workstation: hidden shows (and computes) nothing; after-commit keeps both."""

from __future__ import annotations

import pytest

from app.ai_controller import AIStatus
from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.study.records import Phase
from tests.app.ai_helpers import add_observer_session, use_ai, wait_idle, wait_status
from tests.app.reading_helpers import start, stored_reading, truth_of, wait_for_case
from tests.app.test_blinding_gui import hidden_strings, plant_hidden_data
from tests.app.widget_texts import all_texts

pytestmark = pytest.mark.gui


def test_hidden_policy_no_ai_anywhere(qtbot, window, study_file, ai_bundle):
    plant_hidden_data(study_file)  # AI results for every case, in the hidden session T1
    use_ai(window, ai_bundle)  # the AI would run by itself where a session allowed it
    ws = start(qtbot, window, study_file, session="T1")
    r = ws.reading
    statements: list[str] = []
    r.store.conn.set_trace_callback(statements.append)
    for item in r.view.worklist[1:3]:
        r.open_case(item.case_code)
        wait_for_case(qtbot, ws, item.case_code)
    window.controller.jump_to_level(Level.L2)
    window.flush()
    r.store.conn.set_trace_callback(None)

    assert ws.ai.controller.state.status is AIStatus.HIDDEN
    assert not window.ai_service_started  # no AI process at all
    assert ws.ai.panel.hidden_label.text() == "AI hidden in this session."
    assert ws.ai.status is None
    c = window.controller
    assert c.suggested_levels == {}
    assert not any(
        loc.suggestion_lines[lv].isVisible() for loc in (window.coronal, window.sagittal) for lv in LEVELS
    )
    assert window.level_panel.model.columnCount() == 4
    assert not window.level_panel.accept_all_button.isVisible()
    assert ws.score_panel.model.columnCount() == 3
    assert all(not label.isVisible() and not label.text() for label in ws.score_panel.ai_values.values())
    assert not window.slice_view.overlay_visible
    assert not window.colour_bar.isVisible()
    texts = all_texts(window)
    for hidden in hidden_strings():
        assert hidden not in texts, hidden
    assert not [s for s in statements if "ai_result" in s or "ai_heatmap" in s]


def test_after_commit_reveals_the_ai_and_keeps_both_readings(
    qtbot, window, demo_study, study_file, ai_bundle
):
    add_observer_session(study_file, "AC", "after-commit")
    use_ai(window, ai_bundle)
    ws = start(qtbot, window, study_file, session="AC")
    r, c = ws.reading, window.controller
    code = r.case_code
    assert ws.ai.controller.state.status is AIStatus.WAITING_COMMIT
    assert "Phase 1 of 2" in ws.score_panel.phase_label.text()
    truth = truth_of(demo_study, study_file, code)
    for lv in LEVELS:
        c.place_level(lv, int(truth[lv]["slice"]))
        for pat, v in zip(PATTERNS, (20, 15, 10), strict=True):
            assert r.set_score(lv, pat, v)
    assert not window.ai_service_started  # nothing computed before the commit
    assert c.suggested_levels == {}
    assert ws.score_panel.model.columnCount() == 3

    assert r.commit_unaided()
    wait_status(qtbot, ws, AIStatus.READY, AIStatus.RUNNING)
    qtbot.waitUntil(lambda: r.ai_view() is not None, timeout=60_000)
    wait_idle(qtbot, ws)
    assert "Phase 2 of 2" in ws.score_panel.phase_label.text()
    assert c.suggested_levels == r.ai_placements() != {}
    assert ws.score_panel.model.columnCount() == 6
    # the assisted revision: one AI level accepted (if it differs) and one score changed
    level = next(lv for lv, p in c.suggested_levels.items() if p.slice_index != int(truth[lv]["slice"]))
    ai_slice = c.suggested_levels[level].slice_index
    assert r.accept_ai_level(level)
    assert r.set_score(Level.L1, Pattern.TOT, 35)

    stored = stored_reading(study_file, "AC", code)
    assert stored.phase is Phase.ASSISTED
    assert stored.unaided is not None
    assert stored.unaided_committed_at is not None
    assert stored.unaided.levels[level].slice_index == int(truth[level]["slice"])
    assert stored.unaided.score(Level.L1, Pattern.TOT) == 20
    assert stored.values.levels[level].slice_index == ai_slice
    assert stored.values.score(Level.L1, Pattern.TOT) == 35
