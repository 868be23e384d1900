"""The viewer on the project's synthetic chest phantom: reading it and marking its levels at their truth."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ssc_core.constants import Level
from ssc_core.imaging.phantom import generate_phantom

pytestmark = pytest.mark.gui


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
