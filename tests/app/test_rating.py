"""Heat-map rating sessions: the stored heat map on the AI's level slice, keys 1-5, the AI's scores hidden."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ssc_core.constants import HEATMAP_DISPLAY_RANGE, LEVELS, LIKERT_LABELS, Level, Pattern
from ssc_core.study.store import open_study
from tests.app.reading_helpers import start, stored_reading, truth_of
from tests.app.widget_texts import all_texts

pytestmark = pytest.mark.gui

#: AI scores planted in the cache: values no widget of a session blinded to them may ever show.
PLANTED_SCORES = {lv: {"TOT": 37.25 + int(lv), "GG": 21.75, "RET": 13.625} for lv in LEVELS}


def plant_heatmap(demo_study, path, session: str = "HM") -> tuple[str, dict[Level, int], np.ndarray]:
    """Cache an AI result for the reader's first case of ``session``: levels at the phantom's truth, a heat
    map for L1 TOT only (a negative blob where disease is, positive elsewhere), and planted scores."""
    with open_study(path) as st:
        reader = st.reader_by_name(demo_study.reader).id
        view = st.reader_view(st.session_by_label(session).id, reader)
        code = view.worklist[0].case_code
        case_id = st.case_by_code(code).id
    truth = truth_of(demo_study, path, code)
    slices = {lv: int(t["slice"]) for lv, t in truth.items()}
    with open_study(path) as st:
        shape = (demo_study.matrix, demo_study.matrix)
        yy, xx = np.mgrid[: shape[0], : shape[1]]
        heat = np.where((yy - 64) ** 2 + (xx - 40) ** 2 < 400, -3.5, 0.0).astype(np.float32)
        heat[100:110, 80:100] = 2.5
        st.put_ai_result(
            case_id,
            "test-bundle",
            levels={lv: (float(t["slice_z_mm"]), slices[lv]) for lv, t in truth.items()},
            scores=PLANTED_SCORES,
            details={"planted": "secret-details-4711"},
            heatmaps={(Level.L1, Pattern.TOT): heat},
            heatmap_slices={Level.L1: slices[Level.L1]},
        )
    return code, slices, heat


def test_a_heatmap_rating_is_entered_with_a_key_and_stored(qtbot, window, demo_study, study_file):
    code, slices, heat = plant_heatmap(demo_study, study_file)
    ws = start(qtbot, window, study_file, session="HM")
    r, panel = ws.reading, ws.rating_panel
    assert r.case_code == code
    assert r.rating_target == (Level.L1, Pattern.TOT)
    assert window.controller.slice_index == slices[Level.L1]  # the AI's L1 slice, where the map belongs
    sv = window.slice_view
    assert sv.overlay_visible
    np.testing.assert_array_equal(sv.overlay.image.shape, heat.shape)
    assert ws.colour_bar is not None
    assert ws.colour_bar.isVisible()
    assert f"{HEATMAP_DISPLAY_RANGE:g}" in str(HEATMAP_DISPLAY_RANGE)
    assert "Strongly disagree" in panel.buttons.button(1).text()
    assert LIKERT_LABELS[5] in panel.buttons.button(5).text()

    QTest.keyClick(window, Qt.Key.Key_4)  # "Agree": saved, and on to the next item
    assert stored_reading(study_file, "HM", code).values.rating(Level.L1, Pattern.TOT) == 4
    assert r.rating_target == (Level.L1, Pattern.GG)
    assert "not available yet" in panel.heatmap_status.text()  # no GG map was computed
    assert not sv.overlay_visible
    assert "not available yet" in sv.text_center.text()

    QTest.keyClick(window, Qt.Key.Key_H)  # H: the heat map off and on again (back on L1 TOT)
    QTest.keyClick(window, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert r.rating_target == (Level.L1, Pattern.TOT)
    assert panel.buttons.button(4).isChecked()
    assert not sv.overlay.isVisible()  # still hidden by H
    QTest.keyClick(window, Qt.Key.Key_H)
    assert sv.overlay.isVisible()

    # the network's scores stay hidden: not in the reader view, not in any widget
    assert r.view.ai[code].scores is None
    assert r.view.ai[code].details is None
    texts = all_texts(window)
    for values in PLANTED_SCORES.values():
        for v in values.values():
            assert f"{v:g}" not in texts
            assert f"{v:.1f}" not in texts
    assert "secret-details-4711" not in texts


def test_rating_session_without_heatmaps_says_so_and_still_rates(qtbot, window, demo_study, study_file):
    ws = start(qtbot, window, study_file, session="HM")
    assert "not available" in ws.rating_panel.heatmap_status.text()
    assert not window.slice_view.overlay_visible
    for k in (5, 4, 3):
        QTest.keyClick(window, getattr(Qt.Key, f"Key_{k}"))
    reading = stored_reading(study_file, "HM", ws.reading.case_code)
    assert [reading.values.rating(Level.L1, p) for p in (Pattern.TOT, Pattern.GG, Pattern.RET)] == [5, 4, 3]
    assert ws.reading.rating_target == (Level.L2, Pattern.TOT)
    assert not ws.rating_panel.submit_button.isEnabled()  # 12 ratings to go
    assert "12 rating(s) missing" in ws.rating_panel.problems_label.text()
