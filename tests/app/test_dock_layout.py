"""The docks fit the window: no control or text of the AI or score panel is cut off or drawn over another."""

from __future__ import annotations

import pytest

from app.widgets.ai_panel import SHOW_HEATMAP_TEXT
from tests.app.ai_helpers import add_observer_session, use_ai
from tests.app.reading_helpers import start

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("size", [(1440, 900), (1440, 961)])
def test_ai_panel_is_not_clipped_at_the_default_window_width(qtbot, window, study_file, size):
    add_observer_session(study_file, "AV", "visible")
    use_ai(window, None)
    window.settings.set_ai_auto_run(False)  # the layout only: nothing to compute
    window.resize(*size)
    ws = start(qtbot, window, study_file, session="AV")
    panel = ws.ai.panel
    qtbot.waitUntil(lambda: panel.isVisible())
    window.flush()
    # the label says what H does, in full
    assert panel.show_box.text() == SHOW_HEATMAP_TEXT
    assert "hold H" in panel.show_box.text()
    # Qt clips a widget whose layout needs more than it gets: the panel's right edge (labels, the check
    # box, the heat-map status) was cut off when its minimum width exceeded the dock's
    assert panel.width() >= panel.minimumSizeHint().width()
    assert panel.show_box.width() >= panel.show_box.sizeHint().width()
    right = panel.show_box.mapTo(panel, panel.show_box.rect().topRight()).x()
    assert right <= panel.width()
    # the heat-map status line, at its longest, is shown in full (wrapped, not cut at the right or bottom)
    panel.set_heatmap_status(
        "Heat map L3 TOT on slice 192 (H hides it). AI output, research use only."  # the longest status
    )
    window.flush()
    heat_status = panel.heatmap_status
    corner = heat_status.mapTo(panel, heat_status.rect().bottomRight())
    assert corner.x() <= panel.width()
    assert corner.y() <= panel.height()
    assert heat_status.height() >= heat_status.heightForWidth(heat_status.width())


def test_score_panel_texts_and_table_do_not_overlap_on_a_new_case(qtbot, window, study_file):
    """A case just opened: the level's definition and what blocks submission wrap to two lines each; the
    score table's last row (Global) and the texts under it must all be shown, none over another."""
    ws = start(qtbot, window, study_file, session="T1")
    panel = ws.score_panel
    window.flush()
    labels = [panel.level_label, panel.stage_label, panel.problems_label]
    assert "not placed" in panel.level_label.text()
    assert "Cannot submit yet" in panel.problems_label.text()
    for label in labels:
        assert label.height() >= label.heightForWidth(label.width()), label.objectName()
    table = panel.table
    assert table.geometry().bottom() < panel.stage_label.geometry().top()
    assert panel.level_label.geometry().bottom() < table.geometry().top()
    assert panel.problems_label.geometry().bottom() < panel.submit_button.geometry().top()


def test_ai_dock_min_height_follows_the_screen():
    from app.ai_workspace import AI_DOCK_MIN_HEIGHT_PX, ai_dock_min_height

    assert ai_dock_min_height(270, "xcb", 1080) == 270  # a tall screen: the whole panel
    assert ai_dock_min_height(270, "offscreen", 800) == 270  # pictures: the whole panel
    assert ai_dock_min_height(270, "wayland", None) == 270
    assert ai_dock_min_height(270, "xcb", 864) == AI_DOCK_MIN_HEIGHT_PX  # 1920x1080 at 125 %: it scrolls
    assert ai_dock_min_height(60, "windows", 768) == 60


def test_window_with_the_ai_dock_fits_a_short_screen(qtbot, window, study_file, monkeypatch):
    """On a screen too short for the whole AI panel (a laptop at 125 % scaling, 864 px), the panel scrolls
    in its dock and the window fits; on a tall screen (or offscreen) the dock shows the whole panel."""
    import app.ai_workspace as aiw

    add_observer_session(study_file, "AV", "visible")
    use_ai(window, None)
    window.settings.set_ai_auto_run(False)
    ws = start(qtbot, window, study_file, session="AV")
    window.flush()
    assert ws.ai.scroll is None  # offscreen: the whole panel, no scrolling
    assert ws.ai.dock.widget() is ws.ai.panel
    tall = window.minimumSizeHint().height()
    window.study.close_study()

    monkeypatch.setattr(aiw.QGuiApplication, "platformName", staticmethod(lambda: "xcb"))
    monkeypatch.setattr(aiw, "screen_height", lambda _w: 864)
    ws = start(qtbot, window, study_file, session="AV")
    window.resize(1366, 780)
    window.flush()
    panel, scroll = ws.ai.panel, ws.ai.scroll
    assert scroll is not None
    assert scroll.widget() is panel
    assert window.minimumSizeHint().height() <= 800 < tall
    assert window.height() <= 800
    # the panel is whole inside the scroll area, which scrolls to show it
    assert panel.height() >= panel.minimumSizeHint().height()
    assert scroll.verticalScrollBar().maximum() > 0
