"""The demo study in the workstation: built on first use with a progress dialog, reused afterwards."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QPushButton

from app.dialogs.start_study import StartStudyDialog
from app.study_actions import demo_root
from ssc_core.constants import DEMO_OBSERVER_SESSION, DEMO_READER_NAME

pytestmark = pytest.mark.gui

BUILD_TIMEOUT_MS = 120_000


def test_demo_study_is_built_once_with_progress_then_reused(qtbot, window, tmp_path):
    opened = []
    window.dialogOpened.connect(opened.append)
    window.study.open_demo(base=tmp_path, n_patients=1, matrix=96)
    assert window.study.demo_dialog is not None
    assert window.study.demo_dialog.isVisible()
    qtbot.waitUntil(lambda: any(isinstance(d, StartStudyDialog) for d in opened), timeout=BUILD_TIMEOUT_MS)
    dlg = next(d for d in opened if isinstance(d, StartStudyDialog))
    assert dlg.current_reader().name == DEMO_READER_NAME  # the demo reader and T1 are chosen
    assert dlg.session_list.currentItem().text().startswith(DEMO_OBSERVER_SESSION)
    dlg.start_button.click()
    ws = window.study.workspace
    qtbot.waitUntil(lambda: ws.reading.case_code is not None, timeout=30_000)
    assert ws.reading.view.total == 1
    window.study.close_study()

    opened.clear()
    window.study.open_demo(base=tmp_path, n_patients=1, matrix=96)
    assert window.study.demo_dialog is None  # nothing to build: the start dialog comes at once
    assert any(isinstance(d, StartStudyDialog) for d in opened)
    next(d for d in opened if isinstance(d, StartStudyDialog)).reject()


def test_cancelled_demo_study_leaves_nothing_behind(qtbot, window, tmp_path):
    window.study.open_demo(base=tmp_path, n_patients=2, matrix=96)
    dialog = window.study.demo_dialog
    with qtbot.waitSignal(window.study.failed, timeout=BUILD_TIMEOUT_MS):
        dialog.findChild(QPushButton).click()
    assert not demo_root(tmp_path).exists()
    assert window.study.workspace is None
