"""The AI's work in the background: stale results never shown, cancel, closing during inference, failures."""

from __future__ import annotations

import random
import sqlite3
import threading
import time

import psutil
import pytest

from app.ai_controller import AIStatus
from app.ai_service import AIService
from app.reading_rating import placement_on
from ssc_core.constants import Level, Pattern
from tests.app.ai_faults import serve_with_gpu_out_of_memory, serve_with_preprocessing_fault
from tests.app.ai_helpers import add_observer_session, plant_truth_levels, use_ai, wait_idle, wait_status
from tests.app.reading_helpers import start, stored_reading, wait_for_case

pytestmark = pytest.mark.gui


def own_threads() -> list[str]:
    """Python threads started by the program (Qt's pool workers show up as "Dummy" threads that Python
    never forgets; their number is checked through the pool itself)."""
    return sorted(t.name for t in threading.enumerate() if not isinstance(t, threading._DummyThread))


def shown_is_consistent(window, ws) -> None:
    """Whatever AI output is on screen belongs to the case on screen, as the store holds it now."""
    r, c = ws.reading, window.controller
    suggestions = c.suggested_levels
    scores = ws.score_panel._suggestions
    key = ws.ai._overlay_key
    if r.case_code is None or r.loading_code is not None:
        assert suggestions == {}
        assert scores is None
        assert key is None
        return
    code = r.case_code
    view = r.store.reader_ai(r.session_id, r.reader_id, code)  # straight from the study file
    if view is None:
        assert suggestions == {}
        assert scores is None
        assert key is None
        return
    volume = c.volume
    expected = {
        lv: placement_on(volume, lv, p.world_z, p.slice_index) for lv, p in (view.levels or {}).items()
    }
    assert suggestions == expected
    assert scores == view.scores
    assert key is None or key[0] == code
    if key is not None:
        assert (key[1], key[2]) in view.heatmaps


def test_switching_cases_rapidly_never_shows_another_cases_result(qtbot, window, study_file, ai_bundle):
    add_observer_session(study_file, "AV", "visible")
    use_ai(window, ai_bundle)
    ws = start(qtbot, window, study_file, session="AV")
    r = ws.reading
    wait_status(qtbot, ws, AIStatus.READY, AIStatus.RUNNING)
    wait_idle(qtbot, ws)
    svc = ws.ai.controller.service
    baseline_threads = own_threads()
    baseline_children = [p.pid for p in psutil.Process().children()]
    assert svc.pid in baseline_children  # (beside it: multiprocessing's resource tracker)
    codes = [w.case_code for w in r.view.worklist]
    rng = random.Random(4)
    for i in range(240):
        r.open_case(rng.choice(codes))
        shown_is_consistent(window, ws)
        if i % 6 == 5:  # now and then the scan arrives before the next switch
            wait_for_case(qtbot, ws, r.loading_code or r.case_code)
            shown_is_consistent(window, ws)
        qtbot.wait(0) if i % 3 == 0 else None  # let queued results arrive between switches
        shown_is_consistent(window, ws)
    wait_for_case(qtbot, ws, r.loading_code or r.case_code)
    wait_idle(qtbot, ws, timeout=120_000)
    window.flush()
    shown_is_consistent(window, ws)
    # every case's cached result is what the view shows for it
    for code in codes:
        r.open_case(code)
        wait_for_case(qtbot, ws, code)
        wait_idle(qtbot, ws)
        shown_is_consistent(window, ws)
        assert r.ai_view() is not None
    # no thread or process left over: the same Python threads, no busy worker, the one AI process
    assert svc.running
    qtbot.waitUntil(lambda: window.controller.runner.active_count == 0, timeout=10_000)
    qtbot.waitUntil(lambda: window.controller.runner._pool.activeThreadCount() == 0, timeout=10_000)
    assert own_threads() == baseline_threads
    assert [p.pid for p in psutil.Process().children()] == baseline_children


@pytest.fixture
def long_heatmaps(qtbot, window, demo_study, study_file, slow_bundle):
    """A visible session whose open case needs five slow heat maps; returns the workspace once one runs."""
    add_observer_session(study_file, "AV", "visible")
    plant_truth_levels(demo_study, study_file, "AV", slow_bundle)
    use_ai(window, slow_bundle)
    ws = start(qtbot, window, study_file, session="AV")
    svc = window.ai_service()
    qtbot.waitUntil(lambda: svc.current is not None and not svc.current.cascade, timeout=60_000)
    qtbot.waitUntil(lambda: ws.ai.controller.state.total > 0, timeout=30_000)  # positions being evaluated
    return ws


def test_cancel_takes_effect_within_a_second(qtbot, window, long_heatmaps):
    ws = long_heatmaps
    svc = ws.ai.controller.service
    running = svc.current.request_id
    ends = []
    svc.unitFinished.connect(lambda f: ends.append((time.monotonic(), f)))
    t0 = time.monotonic()
    ws.ai.panel.cancel_button.click()
    assert ws.ai.controller.state.status is AIStatus.CANCELLED  # at once on screen
    assert ws.ai.panel.run_button.isVisible()
    qtbot.waitUntil(lambda: any(f.request_id == running for _t, f in ends), timeout=5_000)
    t1, finished = next((t, f) for t, f in ends if f.request_id == running)
    assert finished.status == "cancelled"
    assert t1 - t0 < 1.0, t1 - t0
    qtbot.waitUntil(lambda: not svc.busy, timeout=5_000)  # nothing else left running for the case
    # scoring goes on
    assert ws.reading.set_score(Level.L1, Pattern.TOT, 10)


def test_closing_the_window_during_inference_is_clean(qtbot, window, long_heatmaps, study_file):
    ws = long_heatmaps
    code = ws.reading.case_code
    assert ws.reading.set_score(Level.L2, Pattern.GG, 15)
    pid = window.ai_service().pid
    assert pid is not None
    assert psutil.pid_exists(pid)
    t0 = time.monotonic()
    window.close()
    elapsed = time.monotonic() - t0
    assert elapsed < 5.0, elapsed
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    conn = sqlite3.connect(study_file)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert stored_reading(study_file, "AV", code).values.score(Level.L2, Pattern.GG) == 15


def test_a_corrupt_bundle_is_an_error_state_and_scoring_goes_on(
    qtbot, window, study_file, ai_bundle, tmp_path
):
    import shutil

    bad = tmp_path / "bad-bundle"
    shutil.copytree(ai_bundle, bad)
    data = (bad / "scorer.safetensors").read_bytes()
    (bad / "scorer.safetensors").write_bytes(data[: len(data) // 2])
    add_observer_session(study_file, "AV", "visible")
    use_ai(window, bad)
    ws = start(qtbot, window, study_file, session="AV")
    wait_status(qtbot, ws, AIStatus.ERROR)
    panel = ws.ai.panel
    assert "could not be loaded" in panel.status_label.text()
    assert "does not match the bundle spec" in panel.status_label.text()
    assert "color: #c82828" in panel.status_label.styleSheet()
    assert ws.ai.controller.bundle is None
    assert window.controller.suggested_levels == {}
    r = ws.reading
    window.controller.place_level(Level.L1, 5)
    assert r.set_score(Level.L1, Pattern.TOT, 25)
    stored = stored_reading(study_file, "AV", r.case_code)
    assert stored.values.score(Level.L1, Pattern.TOT) == 25
    # another case does not try the damaged bundle again by itself
    other = r.view.worklist[1].case_code
    r.open_case(other)
    wait_for_case(qtbot, ws, other)
    assert ws.ai.controller.state.status is AIStatus.ERROR


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (serve_with_preprocessing_fault, ("could not be resampled", "ValueError")),
        (serve_with_gpu_out_of_memory, ("The GPU ran out of memory", "")),
    ],
    ids=["preprocessing", "gpu-memory"],
)
def test_a_failure_inside_the_ai_is_an_error_state(qtbot, window, study_file, ai_bundle, fault, reason):
    add_observer_session(study_file, "AV", "visible")
    use_ai(window, ai_bundle, service=AIService(window, target=fault))
    ws = start(qtbot, window, study_file, session="AV")
    wait_status(qtbot, ws, AIStatus.ERROR)
    text = ws.ai.panel.status_label.text()
    assert "The AI could not finish this case" in text
    for part in reason:
        assert part in text
    assert ws.ai.panel.run_button.isVisible()
    assert ws.ai.controller.service.running  # the AI process lives on
    r = ws.reading
    window.controller.place_level(Level.L3, 7)
    assert r.set_score(Level.L3, Pattern.RET, 5)
    assert stored_reading(study_file, "AV", r.case_code).values.score(Level.L3, Pattern.RET) == 5


def test_no_gpu_when_one_is_asked_for_is_an_error_state(qtbot, window, study_file, ai_bundle, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("SSC_DEVICE", "cuda")  # the AI process inherits it
    add_observer_session(study_file, "AV", "visible")
    use_ai(window, ai_bundle)
    ws = start(qtbot, window, study_file, session="AV")
    wait_status(qtbot, ws, AIStatus.ERROR)
    assert "A GPU was requested but none is available" in ws.ai.panel.status_label.text()
    assert ws.reading.set_score(Level.L1, Pattern.GG, 5)


def test_study_closed_and_opened_again_in_the_same_window(qtbot, window, study_file):
    """The closed study's AI workspace no longer follows the viewer: moving through the next study's scan
    (slices, levels) raises nothing (it used to draw into the closed study's deleted panel)."""
    add_observer_session(study_file, "AV", "visible")
    use_ai(window, None)
    window.settings.set_ai_auto_run(False)
    first = start(qtbot, window, study_file, session="AV")
    old_ai = first.ai
    window.study.close_study()
    ws = start(qtbot, window, study_file, session="AV")
    assert ws.ai is not old_ai
    c = window.controller
    for k in (0, 5, 10):
        c.set_slice(k)
    c.jump_to_level(Level.L2)
    c.jump_to_level(Level.L4)
    assert c.slice_index is not None
    assert ws.ai.panel.heatmap_status.isVisible()
