"""The viewer controller without widgets: slices, windows, levels and their rules."""

from __future__ import annotations

import pytest

from app.controller import PAGE_STEP, LevelState, ViewerController
from ssc_core.constants import CUSTOM_WINDOW_NAME, LUNG_WINDOW, MEDIASTINUM_WINDOW, WINDOW_WIDTH_LIMITS, Level

pytestmark = pytest.mark.gui


@pytest.fixture
def ctrl(qtbot, chest):
    c = ViewerController()
    c.open_volume(chest, slice_index=0)
    yield c
    c.shutdown()


def test_opens_at_the_middle_slice_with_lung_window(qtbot, chest):
    c = ViewerController()
    c.open_volume(chest)
    assert c.volume is chest
    assert c.slice_index == chest.n_slices // 2
    assert c.window == LUNG_WINDOW
    assert c.label == "Synthetic chest"


def test_scrolling_clamps_to_the_volume(ctrl, chest):
    ctrl.step(-1)
    assert ctrl.slice_index == 0
    ctrl.page(1)
    assert ctrl.slice_index == PAGE_STEP
    ctrl.step(10_000)
    assert ctrl.slice_index == chest.n_slices - 1
    assert ctrl.world_z() == pytest.approx(chest.slice_z[-1])


def test_presets_and_custom_window(ctrl):
    ctrl.set_preset(MEDIASTINUM_WINDOW.name)
    assert ctrl.window == MEDIASTINUM_WINDOW
    ctrl.adjust_window(100, -20)
    assert ctrl.window.name == CUSTOM_WINDOW_NAME
    assert (ctrl.window.width, ctrl.window.level) == (450, 20)
    ctrl.set_preset(LUNG_WINDOW.name)
    ctrl.set_preset(CUSTOM_WINDOW_NAME)  # recalls the last custom window
    assert (ctrl.window.width, ctrl.window.level) == (450, 20)
    ctrl.adjust_window(-10_000, 0)
    assert ctrl.window.width == WINDOW_WIDTH_LIMITS[0]


def test_placements_store_world_z_and_slice(ctrl, chest):
    ctrl.set_slice(7)
    p = ctrl.place_level(Level.L2)
    assert (p.level, p.slice_index, p.world_z) == (Level.L2, 7, pytest.approx(chest.slice_z[7]))
    assert ctrl.current_level == Level.L2
    assert ctrl.level_state(Level.L2) == LevelState.PLACED
    ctrl.clear_level()
    assert ctrl.placement(Level.L2) is None


def test_l4_is_proposed_at_the_midpoint_and_confirmed(ctrl, chest):
    assert ctrl.l4_proposal() is None
    ctrl.place_level(Level.L3, 20)
    assert ctrl.l4_proposal() is None
    ctrl.place_level(Level.L5, 40)
    proposal = ctrl.l4_proposal()
    assert proposal is not None
    assert proposal.slice_index == 30
    assert ctrl.level_state(Level.L4) == LevelState.PROPOSED
    assert Level.L4 not in ctrl.placements  # only proposed until the reader confirms
    assert ctrl.jump_to_level(Level.L4)
    assert ctrl.slice_index == 30
    placed = ctrl.confirm_l4()
    assert placed is not None
    assert placed.slice_index == 30
    assert ctrl.level_state(Level.L4) == LevelState.PLACED
    ctrl.place_level(Level.L5, 44)  # a confirmed L4 stays where the reader put it
    assert ctrl.placement(Level.L4).slice_index == 30


def test_order_and_distinctness_violations_come_from_the_core(ctrl):
    ctrl.place_level(Level.L1, 10)
    ctrl.place_level(Level.L2, 5)  # above L1: wrong order
    problems = ctrl.violations()
    assert [(p.field, p.code) for p in problems] == [("L2", "level_order")]
    ctrl.place_level(Level.L2, 10)  # same slice as L1
    assert [(p.field, p.code) for p in ctrl.violations()] == [("L2", "level_not_distinct")]
    ctrl.place_level(Level.L2, 14)
    assert ctrl.violations() == []


def test_new_volume_resets_levels(ctrl, chest):
    ctrl.place_level(Level.L1, 3)
    ctrl.open_volume(chest)
    assert ctrl.placements == {}
    assert ctrl.current_level is None


def test_jump_to_unplaced_level_says_so(ctrl, qtbot):
    with qtbot.waitSignal(ctrl.message) as blocker:
        assert not ctrl.jump_to_level(Level.L3)
    assert "L3 is not placed yet" in blocker.args[0]
