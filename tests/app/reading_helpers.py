"""Helpers of the reading tests: starting a session in the window, keys, reading the store back."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from ssc_core.constants import DEMO_READER_NAME, LEVELS, Level
from ssc_core.study.store import open_study

LOAD_TIMEOUT_MS = 30_000


def start(qtbot, window, path: Path, session: str = "T1", reader: str = DEMO_READER_NAME, **kw):
    """Start reading ``session`` in ``window`` and wait until the first case is shown."""
    assert window.study.open_study(path, reader=reader, session=session, **kw)
    ws = window.study.workspace
    qtbot.waitUntil(lambda: ws.reading.case_code is not None, timeout=LOAD_TIMEOUT_MS)
    window.activateWindow()
    window.flush()
    return ws


def wait_for_case(qtbot, ws, code: str) -> None:
    qtbot.waitUntil(
        lambda: ws.reading.case_code == code and ws.reading.loading_code is None, timeout=LOAD_TIMEOUT_MS
    )


def go_to(window, k: int) -> None:
    """Scroll to slice ``k`` with the keys (Home, Page Down, Down)."""
    QTest.keyClick(window, Qt.Key.Key_Home)
    for _ in range(k // 10):
        QTest.keyClick(window, Qt.Key.Key_PageDown)
    for _ in range(k % 10):
        QTest.keyClick(window, Qt.Key.Key_Down)
    assert window.controller.slice_index == k


def type_into_focus(text: str) -> None:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard focus"
    QTest.keyClicks(widget, text)


def key_to_focus(key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard focus"
    QTest.keyClick(widget, key, modifier)


def truth_of(demo_study, store_path: Path, code: str) -> dict:
    """The phantom's truth (slices and scores per level) of case ``code`` (admin look-up of its name)."""
    with open_study(store_path, readonly=True) as st:
        name = st.case_by_code(code).source_name
    cohort = json.loads((demo_study.scans_dir / "cohort.json").read_text())
    record = next(p for p in cohort["patients"] if p["PatID"] == name)
    return {Level.parse(k): v for k, v in record["levels"].items()}


def stored_reading(path: Path, session: str, code: str, reader: str = DEMO_READER_NAME):
    with open_study(path, readonly=True) as st:
        view = st.reader_view(st.session_by_label(session).id, st.reader_by_name(reader).id)
        return view.readings.get(code)


def place_levels_with_keys(window, slices: dict[Level, int]) -> None:
    """Place L1, L2, L3, L5 at ``slices`` with Shift+digit and confirm the proposed L4 with C."""
    shifted = {
        Level.L1: Qt.Key.Key_Exclam,
        Level.L2: Qt.Key.Key_At,
        Level.L3: Qt.Key.Key_NumberSign,
        Level.L5: Qt.Key.Key_Percent,
    }
    for level in (Level.L1, Level.L2, Level.L3, Level.L5):
        go_to(window, slices[level])
        QTest.keyClick(window, shifted[level], Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(window, Qt.Key.Key_C)
    assert set(window.controller.placements) == set(LEVELS)
