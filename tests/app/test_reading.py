"""Reading a study in the workstation: scoring a phantom case with the keyboard, rules, resume, saving."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.study.activity import ActivityClock
from ssc_core.study.records import CaseStatus
from ssc_core.study.store import open_study
from tests.app.reading_helpers import (
    go_to,
    key_to_focus,
    place_levels_with_keys,
    start,
    stored_reading,
    truth_of,
    type_into_focus,
    wait_for_case,
)

pytestmark = pytest.mark.gui


def test_reader_scores_a_whole_phantom_case_with_the_keyboard_and_submits(
    qtbot, window, demo_study, study_file
):
    ws = start(qtbot, window, study_file)
    r = ws.reading
    code = r.case_code
    assert code == r.view.worklist[0].case_code  # a fresh worklist starts at its first case
    truth = truth_of(demo_study, study_file, code)
    place_levels_with_keys(window, {lv: t["slice"] for lv, t in truth.items()})
    placed = {lv: window.controller.placement(lv) for lv in LEVELS}
    saved = stored_reading(study_file, "T1", code)
    assert {lv: (p.world_z, p.slice_index) for lv, p in saved.values.levels.items()} == {
        lv: (p.world_z, p.slice_index) for lv, p in placed.items()
    }

    QTest.keyClick(window, Qt.Key.Key_1)  # go to L1 ...
    QTest.keyClick(window, Qt.Key.Key_Return)  # ... and into its TOT field
    panel = ws.score_panel
    assert QApplication.focusWidget() is panel.fields[Pattern.TOT]
    for lv in LEVELS:
        assert panel.level == lv
        assert window.controller.slice_index == placed[lv].slice_index  # the image follows the level
        for pattern in PATTERNS:
            value = int(truth[lv]["scores"][pattern.value])
            if lv == Level.L2 and pattern == Pattern.GG:
                for _ in range(value // 5 + 1):  # from an empty field: 0, 5, ... with Up (saved each time)
                    key_to_focus(Qt.Key.Key_Up)
                assert panel.fields[pattern].text() == str(value)
            elif lv == Level.L3 and pattern == Pattern.RET and value <= 95:
                type_into_focus(str(value + 5))
                key_to_focus(Qt.Key.Key_Down)  # 5 less
            else:
                type_into_focus(str(value))
            assert QApplication.focusWidget() is panel.fields[pattern]
            key_to_focus(Qt.Key.Key_Tab)  # saves and moves on (after RET: the next level's TOT)
    assert "✓" in ws.save_label.text()
    assert panel.submit_button.isEnabled(), (
        panel.problems_label.text(),
        r.submission_problems(),
        panel.pending(),
        panel._failed,
    )
    assert "extensive" in panel.stage_label.text() or "limited" in panel.stage_label.text()

    key_to_focus(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # submit
    box = ws.last_dialog
    assert isinstance(box, QMessageBox)
    assert box.objectName() == "confirmSubmit"
    assert code in box.text()
    QTest.keyClick(box, Qt.Key.Key_Return)  # "Submit" is the default button
    nxt = r.view.worklist[1].case_code
    wait_for_case(qtbot, ws, nxt)  # the next unfinished case opens

    reading = stored_reading(study_file, "T1", code)
    assert reading.submitted
    for lv in LEVELS:
        assert reading.values.scores[lv].as_dict() == {p: int(v) for p, v in truth[lv]["scores"].items()}
        assert reading.values.levels[lv].slice_index == placed[lv].slice_index
    assert r.view.worklist[0].status is CaseStatus.SUBMITTED
    assert ws.worklist.progress_label.text() == "1 of 2 cases submitted"


def test_a_broken_rule_is_shown_on_its_field_and_blocks_submission(qtbot, window, demo_study, study_file):
    ws = start(qtbot, window, study_file)
    r, panel = ws.reading, ws.score_panel
    truth = truth_of(demo_study, study_file, r.case_code)
    place_levels_with_keys(window, {lv: t["slice"] for lv, t in truth.items()})
    QTest.keyClick(window, Qt.Key.Key_1)
    QTest.keyClick(window, Qt.Key.Key_Return)
    type_into_focus("17")  # off the grid: said at once, before it is even saved
    assert "multiple of 5" in panel.status[Pattern.TOT].text()
    key_to_focus(Qt.Key.Key_Tab)
    assert "NOT saved" in panel.status[Pattern.TOT].text()
    assert "NOT saved" in ws.save_label.text()
    assert r.scores(Level.L1).tot is None  # the store holds nothing for it
    key_to_focus(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)  # back to TOT, text selected
    assert QApplication.focusWidget() is panel.fields[Pattern.TOT]
    type_into_focus("10")
    key_to_focus(Qt.Key.Key_Tab)
    type_into_focus("20")  # GG above TOT breaks the union rule: shown on TOT at once
    assert "TOT (10) cannot be below GG (20)" in panel.status[Pattern.TOT].text()
    key_to_focus(Qt.Key.Key_Tab)
    type_into_focus("5")
    key_to_focus(Qt.Key.Key_Tab)
    # every other level consistent
    for _lv in LEVELS[1:]:
        for pattern in PATTERNS:
            type_into_focus("10" if pattern is Pattern.TOT else "5")
            key_to_focus(Qt.Key.Key_Tab)
    panel.go_to_level(Level.L1)
    assert "TOT (10) cannot be below GG (20)" in panel.status[Pattern.TOT].text()
    assert r.scores(Level.L1).as_dict() == {"TOT": 10, "GG": 20, "RET": 5}  # saved, and inconsistent
    assert not panel.submit_button.isEnabled()
    assert "TOT (10) cannot be below GG (20)" in panel.problems_label.text()
    ws.last_dialog = None
    panel.focus_scores()
    key_to_focus(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert ws.last_dialog is None  # no confirmation: nothing to confirm
    assert "TOT (10) cannot be below GG (20)" in window.statusBar().currentMessage()
    assert not stored_reading(study_file, "T1", r.case_code).submitted


def test_resume_after_closing_mid_case(qtbot, window, settings, demo_study, study_file):
    ws = start(qtbot, window, study_file)
    first = ws.reading.case_code
    truth = truth_of(demo_study, study_file, first)
    go_to(window, truth[Level.L3]["slice"])
    QTest.keyClick(window, Qt.Key.Key_NumberSign, Qt.KeyboardModifier.ShiftModifier)  # L3 here
    QTest.keyClick(window, Qt.Key.Key_Return)
    type_into_focus("25")
    key_to_focus(Qt.Key.Key_Tab)
    window.close()  # mid-case: the window goes, the values are in the study

    from app.main_window import MainWindow

    again = MainWindow(settings, restore_layout=False)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    ws2 = start(qtbot, again, study_file)
    assert ws2.reading.case_code == first  # the first unfinished case
    assert again.controller.placement(Level.L3).slice_index == truth[Level.L3]["slice"]
    assert again.controller.slice_index == truth[Level.L3]["slice"]  # opened where the work was
    assert ws2.score_panel.level == Level.L3
    assert ws2.score_panel.fields[Pattern.TOT].text() == "25"
    assert "saved" in ws2.score_panel.status[Pattern.TOT].text()
    assert ws2.reading.view.worklist[0].status is CaseStatus.IN_PROGRESS
    assert "in progress" in ws2.worklist.model.data(ws2.worklist.model.index(0, 2))
    again.close()


def test_a_failed_write_is_shown_and_the_value_kept_unsaved(qtbot, window, demo_study, study_file):
    ws = start(qtbot, window, study_file)
    r, panel = ws.reading, ws.score_panel
    r.store.conn.execute("PRAGMA busy_timeout = 50")  # fail fast instead of waiting 5 s
    blocker = sqlite3.connect(study_file, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")  # another program holds SQLite's write lock
    try:
        QTest.keyClick(window, Qt.Key.Key_Return)
        type_into_focus("30")
        key_to_focus(Qt.Key.Key_Tab)
        assert "NOT saved" in panel.status[Pattern.TOT].text()
        assert panel.fields[Pattern.TOT].text() == "30"  # the entry stays, marked
        assert "NOT saved" in ws.save_label.text()
        assert not r.save_status.ok
    finally:
        blocker.rollback()
        blocker.close()
    assert r.scores(Level.L1).tot is None
    panel.fields[Pattern.TOT].setFocus()
    QTest.keyClick(panel.fields[Pattern.TOT], Qt.Key.Key_Tab)  # try again: now it is written
    assert r.scores(Level.L1).tot == 30
    assert "✓ saved" in panel.status[Pattern.TOT].text()
    assert r.save_status.ok
    assert "saved" in ws.save_label.text()
    assert stored_reading(study_file, "T1", r.case_code).values.scores[Level.L1].tot == 30


def test_time_on_case_and_level_pauses_when_idle(qtbot, window, study_file):
    now = [1000.0]
    ws = start(qtbot, window, study_file)
    r = ws.reading
    r.clock = ActivityClock(60.0, now=lambda: now[0])
    r.clock.start()
    window.controller.set_current_level(Level.L2)
    for _ in range(10):  # ten seconds of work on L2
        now[0] += 1.0
        r.note_activity()
    now[0] += 600.0  # ten minutes away from the desk
    r.note_activity()
    now[0] += 2.0
    r.note_activity()
    r.flush_time()
    reading = stored_reading(study_file, "T1", r.case_code)
    assert reading.time_on_case_s == pytest.approx(12.0)
    assert reading.time_per_level_s[Level.L2] == pytest.approx(12.0)
    with open_study(study_file, readonly=True) as st:
        assert st.verify().ok


def test_after_commit_session_commits_the_unaided_reading_before_submission(
    qtbot, window, demo_study, study_file
):
    with open_study(study_file) as st:
        admin = st.reader_by_name("Study admin").id
        reader = st.reader_by_name(demo_study.reader).id
        s = st.add_session("AC", "observer", [reader], by=admin, ai_policy="after-commit")
        st.open_session(s.id, by=admin)
        code = st.reader_view(s.id, reader).worklist[0].case_code
        for lv in LEVELS:
            st.place_level(s.id, reader, code, lv, -10.0 * int(lv), 10 + 5 * int(lv))
            for pat in PATTERNS:
                st.set_score(s.id, reader, code, lv, pat, 10 if pat is Pattern.TOT else 5)
    ws = start(qtbot, window, study_file, session="AC")
    panel = ws.score_panel
    assert panel.submit_button.text() == "Commit unaided reading…"
    box = ws.request_submit()
    assert box.objectName() == "confirmSubmit"
    assert "unaided" in box.text()
    QTest.keyClick(box, Qt.Key.Key_Return)
    reading = stored_reading(study_file, "AC", code)
    assert reading.unaided_committed_at is not None
    assert not reading.submitted
    assert panel.submit_button.text() == "Submit case…"
    box = ws.request_submit()
    QTest.keyClick(box, Qt.Key.Key_Return)
    assert stored_reading(study_file, "AC", code).submitted


def test_level_order_is_shown_on_the_score_panel(qtbot, window, demo_study, study_file):
    ws = start(qtbot, window, study_file)
    truth = truth_of(demo_study, study_file, ws.reading.case_code)
    go_to(window, truth[Level.L3]["slice"])
    QTest.keyClick(window, Qt.Key.Key_NumberSign, Qt.KeyboardModifier.ShiftModifier)  # L3
    go_to(window, truth[Level.L3]["slice"] + 4)
    QTest.keyClick(window, Qt.Key.Key_At, Qt.KeyboardModifier.ShiftModifier)  # L2 below L3: out of order
    assert ws.score_panel.level == Level.L2
    assert "must lie below L2" in ws.score_panel.level_label.text()
    assert any("L3" in p.message for p in ws.reading.submission_problems() if p.code == "level_order")


def test_a_submitted_case_opens_read_only(qtbot, window, demo_study, study_file):
    with open_study(study_file) as st:
        t1 = st.session_by_label("T1").id
        reader = st.reader_by_name(demo_study.reader).id
        first = st.reader_view(t1, reader).worklist[0].case_code
    truth = truth_of(demo_study, study_file, first)
    with open_study(study_file) as st:
        for lv in LEVELS:
            st.place_level(t1, reader, first, lv, truth[lv]["slice_z_mm"], truth[lv]["slice"])
            for pat in PATTERNS:
                st.set_score(t1, reader, first, lv, pat, 10 if pat is Pattern.TOT else 5)
        st.submit(t1, reader, first)
    ws = start(qtbot, window, study_file)
    assert ws.reading.case_code != first  # resume skips the submitted case
    QTest.keyClick(window, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)  # previous case
    wait_for_case(qtbot, ws, first)
    panel = ws.score_panel
    assert not panel.fields[Pattern.TOT].isEnabled()
    assert panel.fields[Pattern.TOT].text() == "10"
    assert "submitted and locked" in panel.problems_label.text()
    assert not panel.submit_button.isEnabled()
    QTest.keyClick(window, Qt.Key.Key_Exclam, Qt.KeyboardModifier.ShiftModifier)  # try to move L1
    assert window.controller.placement(Level.L1).slice_index == truth[Level.L1]["slice"]
    assert "submitted and locked" in window.statusBar().currentMessage()
    assert (
        stored_reading(study_file, "T1", first).values.levels[Level.L1].slice_index
        == truth[Level.L1]["slice"]
    )
