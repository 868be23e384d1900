"""The AI dock fits the window: no control or text of the panel is cut off at the default window size."""

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
