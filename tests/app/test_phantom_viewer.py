"""The viewer on the project's synthetic chest phantom: reading it, marking its levels, the demo cohort."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from app.demo import MANIFEST, DemoOpener, demo_patients, demo_root
from ssc_core.constants import Level
from ssc_core.imaging.phantom import generate_phantom

pytestmark = pytest.mark.gui

DEMO_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def phantom():
    """A small phantom (128 x 128, 3 mm slices): the same anatomy as at 512, fast to make."""
    return generate_phantom(7, slice_spacing_mm=3.0, matrix=128)


def go_to(win, k: int) -> None:
    QTest.keyClick(win, Qt.Key.Key_Home)
    for _ in range(k // 10):
        QTest.keyClick(win, Qt.Key.Key_PageDown)
    for _ in range(k % 10):
        QTest.keyClick(win, Qt.Key.Key_Down)
    assert win.controller.slice_index == k


def test_mark_the_phantom_levels_at_their_true_slices(window, phantom):
    c = window.controller
    c.open_volume(phantom.volume)
    truth = dict(phantom.level_slices)
    keys = {Level.L1: Qt.Key.Key_Exclam, Level.L2: Qt.Key.Key_At, Level.L3: Qt.Key.Key_NumberSign}
    for level, key in keys.items():
        go_to(window, truth[level])
        QTest.keyClick(window, key, Qt.KeyboardModifier.ShiftModifier)
    go_to(window, truth[Level.L5])
    QTest.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ShiftModifier)
    proposal = c.l4_proposal()
    assert proposal is not None
    assert abs(proposal.slice_index - truth[Level.L4]) <= 1  # L4 truth: the midpoint of L3 and L5
    QTest.keyClick(window, Qt.Key.Key_C)
    placed = {lv: p.slice_index for lv, p in c.placements.items()}
    assert {lv: placed[lv] for lv in keys} == {lv: truth[lv] for lv in keys}
    assert placed[Level.L5] == truth[Level.L5]
    assert c.violations() == []
    for _lv, p in c.placements.items():
        assert p.world_z == pytest.approx(phantom.volume.slice_z[p.slice_index])
    # the truth slices run cranial to caudal, so jumping between them moves down the scan
    QTest.keyClick(window, Qt.Key.Key_1)
    assert c.slice_index == truth[Level.L1]
    np.testing.assert_array_equal(window.slice_view.image.image, phantom.volume.hu[truth[Level.L1]])


def test_demo_is_generated_once_then_reused(qtbot, window, tmp_path):
    opener = DemoOpener(window, base=tmp_path, n_patients=1, matrix=128)
    with qtbot.waitSignal(window.controller.volumeChanged, timeout=DEMO_TIMEOUT_MS):
        opener.start()
        assert opener.dialog is not None
        assert opener.dialog.isVisible()
    root = demo_root(tmp_path)
    assert (root / MANIFEST).is_file()
    assert not root.with_name(root.name + ".partial").exists()
    patients = demo_patients(root)
    assert patients is not None
    assert len(patients) == 1
    volume = window.controller.volume
    assert volume is not None
    assert volume.shape[1:] == (128, 128)
    assert patients[0].pseudonym not in window.windowTitle()  # not even the pseudonym is shown
    again = DemoOpener(window, base=tmp_path, n_patients=1, matrix=128)
    with qtbot.waitSignal(window.controller.volumeChanged, timeout=DEMO_TIMEOUT_MS):
        again.start()
    assert again.dialog is None  # opened at once, nothing generated


def test_cancelled_demo_leaves_nothing_behind(qtbot, window, tmp_path):
    opener = DemoOpener(window, base=tmp_path, n_patients=2, matrix=128)
    with qtbot.waitSignal(window.controller.loadCancelled, timeout=DEMO_TIMEOUT_MS):
        opener.start()
        opener.dialog.findChild(QPushButton).click()
    root = demo_root(tmp_path)
    assert not root.exists()
    assert not root.with_name(root.name + ".partial").exists()
    assert window.controller.volume is None
