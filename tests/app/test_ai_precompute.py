"""Precompute from the workstation: the admin's dialog, and the demo's heat maps in the background."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QPushButton

from ssc_core.ai.bundle import inspect_bundle
from ssc_core.ai.precompute import plan_precompute
from ssc_core.constants import DEMO_ADMIN_NAME, DEMO_RATING_SESSION, DEMO_READER_NAME
from ssc_core.study.store import open_study
from tests.app.ai_helpers import use_ai
from tests.app.reading_helpers import LOAD_TIMEOUT_MS, start

pytestmark = pytest.mark.gui


def test_admin_precomputes_a_session_from_the_menu(qtbot, window, study_file, ai_bundle):
    with open_study(study_file) as st:
        admin = st.reader_by_name(DEMO_ADMIN_NAME).id
        s = st.add_session("AP", "observer", [admin], by=admin, ai_policy="visible")
        st.open_session(s.id, by=admin)
    use_ai(window, ai_bundle)
    window.settings.set_ai_auto_run(False)  # only the precompute runs
    ws = start(qtbot, window, study_file, session="AP", reader=DEMO_ADMIN_NAME)
    assert window.study.act_precompute.isEnabled()
    dlg = window.study.precompute_dialog()
    assert dlg is not None
    dlg.session_box.setCurrentIndex(dlg.session_box.findData("HM"))
    qtbot.waitUntil(dlg.start_button.isEnabled, timeout=LOAD_TIMEOUT_MS)  # the model is loaded
    assert "Test model (untrained)" in dlg.model_label.text()
    job = dlg.start()
    assert job is not None
    qtbot.waitUntil(lambda: job.ended, timeout=120_000)
    assert not job.cancelled
    assert job.failed == 0
    assert job.computed > 0
    assert dlg.bar.value() == dlg.bar.maximum()
    assert dlg.status_label.text().startswith("Done:")
    _spec, bundle_hash = inspect_bundle(ai_bundle)
    assert plan_precompute(ws.reading.store, bundle_hash, session="HM").steps == 0
    again = dlg.start()
    assert again.ended
    assert dlg.status_label.text() == "Everything is already computed."
    admin_dialog = window.study.manage_study()
    assert admin_dialog.findChild(QPushButton, "precomputeAI") is not None
    admin_dialog.close()
    dlg.close()


def test_the_demo_computes_its_rating_sessions_heat_maps_in_the_background(
    qtbot, window, tmp_path, ai_bundle, monkeypatch
):
    from ssc_core.study import demo

    # as if no demo model were installed: the demo's rating session then takes the test's small bundle
    monkeypatch.setattr(demo, "demo_bundle_hash", lambda: None)
    use_ai(window, ai_bundle)
    svc = window.ai_service()
    started = []
    svc.unitStarted.connect(lambda u: started.append(u))
    window.study.open_demo(
        base=tmp_path, n_patients=2, matrix=128, reader=DEMO_READER_NAME, session=DEMO_RATING_SESSION
    )
    qtbot.waitUntil(lambda: window.study.workspace is not None, timeout=120_000)
    ws = window.study.workspace
    qtbot.waitUntil(lambda: ws.reading.case_code is not None, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: ws.ai.background_job is not None, timeout=LOAD_TIMEOUT_MS)
    job = ws.ai.background_job
    qtbot.waitUntil(lambda: job.ended and not svc.busy, timeout=120_000)
    assert not job.cancelled
    # the case being rated went first
    assert started[0].case_id == ws.reading.case_code
    _spec, bundle_hash = inspect_bundle(ai_bundle)
    assert plan_precompute(ws.reading.store, bundle_hash, session=DEMO_RATING_SESSION).steps == 0
    # the rating session now shows the AI's levels as its (fixed) levels
    assert window.controller.placements == ws.reading.ai_placements() != {}
