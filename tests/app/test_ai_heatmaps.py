"""Heat maps in the workstation: computed lazily (the current level first), cached, drawn on their slice."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.ai_controller import AIStatus
from app.widgets.colour_bar import FAINT_HEATMAP_POINTS
from ssc_core.ai.bundle import inspect_bundle
from ssc_core.constants import LEVELS, Level, Pattern
from ssc_core.study.store import open_study
from tests.app.ai_helpers import add_observer_session, plant_truth_levels, use_ai, wait_idle, wait_status
from tests.app.reading_helpers import start, wait_for_case

pytestmark = pytest.mark.gui


def test_heatmaps_current_level_first_cached_and_drawn(qtbot, window, demo_study, study_file, ai_bundle):
    add_observer_session(study_file, "AV", "visible")
    (code,) = plant_truth_levels(demo_study, study_file, "AV", ai_bundle)
    _spec, bundle_hash = inspect_bundle(ai_bundle)
    use_ai(window, ai_bundle)
    svc = window.ai_service()
    started = []
    svc.unitStarted.connect(lambda u: started.append(u))
    ws = start(qtbot, window, study_file, session="AV")
    r, c, sv = ws.reading, window.controller, window.slice_view
    assert r.case_code == code
    qtbot.waitUntil(lambda: any(not u.cascade for u in started), timeout=60_000)
    first = next(u for u in started if not u.cascade).heatmaps[0]
    # the reader goes to L4: its heat map is the next one computed
    target = Level.L4 if first != Level.L4 else Level.L2
    c.jump_to_level(target)
    wait_idle(qtbot, ws)
    maps = [u.heatmaps[0] for u in started if u.case_id == code and not u.cascade]
    assert maps[:2] == [first, target]
    assert sorted(maps) == list(LEVELS)  # each once, no cascade: the levels were cached
    assert not any(u.cascade and u.case_id == code for u in started)
    with open_study(study_file, readonly=True) as st:
        outline = st.ai_cache_outline(st.case_by_code(code).id, bundle_hash)
        assert len(outline.heatmaps) == 15

    # drawn on the AI's slice of the current level, with the colour bar; elsewhere it says where
    ai_slice = r.ai_placements()[target].slice_index
    c.set_slice(ai_slice)
    assert ws.ai._overlay_key == (code, target, Pattern.TOT)
    assert sv.overlay_visible
    assert window.colour_bar.isVisible()
    with open_study(study_file, readonly=True) as st:
        stored = st.ai_heatmap(st.case_by_code(code).id, bundle_hash, target, "TOT")
    assert sv.overlay.image.shape == stored.shape
    c.set_slice(ai_slice + 1)
    assert not sv.overlay.isVisible()
    assert f"slice {ai_slice + 1}" in ws.ai.panel.heatmap_status.text()
    c.set_slice(ai_slice)
    assert sv.overlay.isVisible()
    # a map that colours (almost) nothing (|values| below 1 point everywhere) is said to be so
    status = ws.ai.panel.heatmap_status.text()
    faint = float(np.abs(stored).max()) < FAINT_HEATMAP_POINTS
    assert ("no area moves the AI's score" in status) == faint
    assert ("(H hides it)" in status) != faint

    # pattern and opacity
    ws.ai.panel.pattern_buttons.button(1).click()
    assert ws.ai._overlay_key == (code, target, Pattern.GG)
    ws.ai.panel.opacity_slider.setValue(30)
    assert sv.overlay.opacity() == pytest.approx(0.30)

    # H: a tap hides and shows; held, it hides only while held
    now = [100.0]
    ws.ai._clock = lambda: now[0]
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_H)
    assert not sv.overlay.isVisible()
    QTest.keyClick(window, Qt.Key.Key_H)
    assert sv.overlay.isVisible()
    QTest.keyPress(window, Qt.Key.Key_H)
    assert not sv.overlay.isVisible()
    now[0] += 1.0
    QTest.keyRelease(window, Qt.Key.Key_H)
    assert sv.overlay.isVisible()

    # another case and back: the cached maps are shown again, nothing is computed again
    n = len(started)
    other = r.view.worklist[1].case_code
    r.open_case(other)
    wait_for_case(qtbot, ws, other)
    assert ws.ai._overlay_key is None or ws.ai._overlay_key[0] == other
    wait_idle(qtbot, ws)
    n_other = len(started)
    r.open_case(code)
    wait_for_case(qtbot, ws, code)
    c.jump_to_level(target)
    c.set_slice(ai_slice)
    wait_idle(qtbot, ws)
    assert len(started) == n_other  # cached: no unit for the case
    assert n_other >= n
    assert ws.ai._overlay_key[0] == code
    assert sv.overlay_visible
    np.testing.assert_array_equal(sv.overlay.image.shape, stored.shape)
    wait_status(qtbot, ws, AIStatus.READY)


def test_rating_session_computes_its_heat_map_and_never_shows_the_scores(
    qtbot, window, demo_study, study_file, ai_bundle
):
    from tests.app.widget_texts import all_texts

    (code,) = plant_truth_levels(demo_study, study_file, "HM", ai_bundle)
    planted = {"TOT": 37.25, "GG": 21.75, "RET": 13.625}
    _spec, bundle_hash = inspect_bundle(ai_bundle)
    with open_study(study_file) as st:  # distinctive scores no widget may show
        cid = st.case_by_code(code).id
        result = st.ai_result(cid, bundle_hash)
        st.put_ai_result(
            cid,
            bundle_hash,
            levels={lv: (p.world_z, p.slice_index) for lv, p in result.levels.items()},
            scores=dict.fromkeys(LEVELS, planted),
        )
    use_ai(window, ai_bundle)
    ws = start(qtbot, window, study_file, session="HM")
    r, sv = ws.reading, window.slice_view
    assert r.case_code == code
    assert r.rating_target == (Level.L1, Pattern.TOT)
    qtbot.waitUntil(lambda: ws.ai._overlay_key == (code, Level.L1, Pattern.TOT), timeout=60_000)
    assert sv.overlay_visible  # the rating session goes to the map's slice
    assert window.controller.slice_index == r.ai_placements()[Level.L1].slice_index
    assert "Heat map L1 TOT" in ws.rating_panel.heatmap_status.text()
    wait_idle(qtbot, ws)
    assert r.view.ai[code].scores is None
    assert ws.ai.dock.isVisible()
    texts = all_texts(window)
    for v in planted.values():
        assert f"{v:g}" not in texts
        assert f"{v:.1f}" not in texts
