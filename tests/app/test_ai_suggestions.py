"""AI suggestions in a session that shows the AI: levels, scores side by side, accepting, the AI panel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.ai_controller import AIStatus
from ssc_core.constants import LEVELS, PATTERNS
from ssc_core.study.store import open_study
from tests.app.ai_helpers import add_observer_session, use_ai, wait_idle, wait_status
from tests.app.reading_helpers import start, stored_reading

pytestmark = pytest.mark.gui


def test_visible_session_shows_suggestions_beside_the_readers_values(qtbot, window, study_file, ai_bundle):
    add_observer_session(study_file, "AV", "visible")
    use_ai(window, ai_bundle)
    ws = start(qtbot, window, study_file, session="AV")
    r, c, panel = ws.reading, window.controller, ws.ai.panel
    wait_status(qtbot, ws, AIStatus.READY)
    wait_idle(qtbot, ws)
    ai = r.ai_view()
    assert ai is not None
    assert ai.scores is not None
    assert ai.levels

    # the model's name, its device and "research use only" are in the AI dock
    assert "Test model (untrained)" in panel.model_label.text()
    assert panel.research_label.text().startswith("Research use only")
    assert "CPU" in panel.device_label.text() or "GPU" in panel.device_label.text()
    assert ws.ai.dock.isVisible()

    # suggested levels: dashed lines on both localizers and an "AI slice" column in the level panel
    expected = r.ai_placements()
    assert expected
    assert c.suggested_levels == expected
    for lv, p in expected.items():
        assert window.coronal.suggestion_line_slice(lv) == p.slice_index
        assert window.sagittal.suggestion_line_slice(lv) == p.slice_index
        assert window.coronal.suggestion_lines[lv].isVisible()
    model = window.level_panel.model
    ai_col = model.columns.index("AI slice")
    assert model.headerData(ai_col, Qt.Orientation.Horizontal) == "AI slice"
    for row, lv in enumerate(LEVELS):
        p = expected.get(lv)
        assert model.data(model.index(row, ai_col)) == ("" if p is None else str(p.slice_index + 1))
    assert window.level_panel.accept_all_button.isVisible()

    # scores: beside each field ("AI 25", italic violet) and as "TOT AI" columns of the score table
    sp = ws.score_panel
    level = sp.level
    for pattern in PATTERNS:
        v = ai.scores.get(level, {}).get(pattern)
        label = sp.ai_values[pattern]
        assert label.isVisible()
        assert label.text() == (f"AI {v:.0f}" if v is not None else "AI –")
        assert "italic" in label.styleSheet()
        assert sp.fields[pattern].text() == ""  # the reader's own field stays the reader's
    table = sp.model
    headers = [table.headerData(i, Qt.Orientation.Horizontal) for i in range(table.columnCount())]
    assert headers == ["TOT", "GG", "RET", "TOT AI", "GG AI", "RET AI"]
    font = table.data(table.index(0, 3), Qt.ItemDataRole.FontRole)
    assert font.italic()

    # accepting every suggestion writes placements through the store, audited as accepted from the AI
    n = r.accept_all_ai_levels()
    assert n == len(expected)
    stored = stored_reading(study_file, "AV", r.case_code)
    for lv, p in expected.items():
        assert stored.values.levels[lv].slice_index == p.slice_index
    assert {lv: p.slice_index for lv, p in c.placements.items()} == {
        lv: p.slice_index for lv, p in expected.items()
    }
    with open_study(study_file, readonly=True) as st:
        rows = st.conn.execute(
            "SELECT reason FROM audit WHERE action = 'AcceptAILevel' AND tbl = 'reading_level'"
        ).fetchall()
        assert len(rows) == n
        assert all("accepted from the AI" in row[0] and ai.bundle_hash[:16] in row[0] for row in rows)
        assert st.verify().ok
