"""Marking the five levels: keyboard, localizer lines, L4 proposal, rule violations, shortcut settings."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest

from app.controller import LevelState
from app.dialogs.shortcuts_help import ShortcutsDialog
from app.widgets.localizer import LineStyle
from ssc_core.constants import LEVELS, Level
from tests.app.mouse import drag, view_point

pytestmark = pytest.mark.gui

SHIFT = Qt.KeyboardModifier.ShiftModifier
K = Qt.Key
#: What Shift + the digit keys 1..5 produce on some layouts (Qt reports the character, not the digit).
LAYOUTS = {
    "digits": (K.Key_1, K.Key_2, K.Key_3, K.Key_4, K.Key_5),
    "us": (K.Key_Exclam, K.Key_At, K.Key_NumberSign, K.Key_Dollar, K.Key_Percent),
    "german": (K.Key_Exclam, K.Key_QuoteDbl, K.Key_section, K.Key_Dollar, K.Key_Percent),
}
SLICES = {Level.L1: 8, Level.L2: 14, Level.L3: 20, Level.L4: 27, Level.L5: 34}


def go_to(win, k: int) -> None:
    """Scroll to slice ``k`` with the keyboard."""
    QTest.keyClick(win, Qt.Key.Key_Home)
    for _ in range(k):
        QTest.keyClick(win, Qt.Key.Key_Down)
    assert win.controller.slice_index == k


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_set_all_five_levels_by_keyboard(opened, chest, layout):
    c = opened.controller
    for level, key in zip(LEVELS, LAYOUTS[layout]):
        go_to(opened, SLICES[level])
        QTest.keyClick(opened, key, SHIFT)
    assert {lv: p.slice_index for lv, p in c.placements.items()} == SLICES
    for level, k in SLICES.items():
        assert c.placement(level).world_z == pytest.approx(chest.slice_z[k])
    assert c.violations() == []
    assert c.all_levels_placed()
    # keys 1..5 jump to each level
    for level in (Level.L3, Level.L1, Level.L5):
        QTest.keyClick(opened, getattr(Qt.Key, f"Key_{int(level)}"))
        assert c.slice_index == SLICES[level]
        assert c.current_level == level
    # the panel lists slice (1-based, as on the image) and world z
    model = opened.level_panel.model
    row = LEVELS.index(Level.L2)
    assert model.index(row, 1).data() == str(SLICES[Level.L2] + 1)
    assert model.index(row, 2).data() == f"{chest.slice_z[SLICES[Level.L2]]:.1f}"
    assert model.index(row, 3).data() == "placed"
    # and the localizers show a labelled line per level
    for level, k in SLICES.items():
        line = opened.coronal.level_lines[level]
        assert line.isVisible()
        assert line.value() == pytest.approx(opened.coronal.slice_to_y(k))
        assert line.label.format == level.label


def test_digits_typed_into_a_field_do_not_jump(opened):
    c = opened.controller
    c.place_level(Level.L1, 12)
    c.set_slice(0)
    box = opened.window_controls.width_box
    box.setFocus()
    QTest.keyClick(box, Qt.Key.Key_1)
    assert c.slice_index == 0


def test_dragging_a_level_line_moves_the_level(opened, chest):
    c = opened.controller
    c.place_level(Level.L2, 10)
    loc = opened.sagittal
    x = 0.1 * chest.shape[1] * chest.spacing[1]  # near the label, away from the image centre
    start = view_point(loc, x, loc.slice_to_y(10))
    end = view_point(loc, x, loc.slice_to_y(16))
    drag(loc, start, end, steps=6)
    assert c.placement(Level.L2).slice_index == 16
    assert c.placement(Level.L2).world_z == pytest.approx(chest.slice_z[16])
    assert c.slice_index == 16  # the axial view follows the line
    assert loc.level_lines[Level.L2].value() == pytest.approx(loc.slice_to_y(16))
    assert opened.coronal.level_lines[Level.L2].value() == pytest.approx(opened.coronal.slice_to_y(16))


def test_order_violation_is_reported_inline(opened):
    c = opened.controller
    c.place_level(Level.L1, 20)
    c.place_level(Level.L2, 10)  # L2 above L1
    panel = opened.level_panel
    assert "L2" in panel.problem_text
    assert "must lie below L1" in panel.problem_text
    row = LEVELS.index(Level.L2)
    assert panel.model.index(row, 3).data() == "placed: check order"
    assert "must lie below" in panel.model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert opened.coronal._line_state[Level.L2] == (10, LineStyle.VIOLATION)
    assert opened.coronal._line_state[Level.L1] == (20, LineStyle.PLACED)
    c.place_level(Level.L2, 25)  # fixed: the message goes away
    assert panel.problem_text == ""
    c.place_level(Level.L3, 25)  # same slice as L2
    assert "same slice as L2" in panel.problem_text


def test_l4_proposal_is_confirmed_with_a_key(opened):
    c = opened.controller
    c.place_level(Level.L3, 20)
    c.place_level(Level.L5, 36)
    assert c.level_state(Level.L4) == LevelState.PROPOSED
    assert opened.coronal._line_state[Level.L4] == (28, LineStyle.PROPOSED)
    assert opened.coronal.level_lines[Level.L4].label.format == "L4?"
    assert opened.level_panel.confirm_button.isEnabled()
    assert opened.level_panel.model.index(3, 1).data() == "29"
    QTest.keyClick(opened, Qt.Key.Key_C)
    assert c.placement(Level.L4).slice_index == 28
    assert opened.coronal._line_state[Level.L4] == (28, LineStyle.PLACED)
    assert not opened.level_panel.confirm_button.isEnabled()


def test_l4_proposal_can_be_moved_instead(opened, chest):
    c = opened.controller
    c.place_level(Level.L3, 20)
    c.place_level(Level.L5, 36)
    loc = opened.coronal
    x = 0.05 * chest.shape[2] * chest.spacing[2]
    drag(loc, view_point(loc, x, loc.slice_to_y(28)), view_point(loc, x, loc.slice_to_y(25)), steps=5)
    assert c.placement(Level.L4).slice_index == 25
    assert c.level_state(Level.L4) == LevelState.PLACED


def test_confirm_button_and_remove_key(opened):
    c = opened.controller
    c.place_level(Level.L3, 20)
    c.place_level(Level.L5, 30)
    opened.level_panel.confirm_button.click()
    assert c.placement(Level.L4).slice_index == 25
    assert c.current_level == Level.L4
    QTest.keyClick(opened, Qt.Key.Key_Delete)
    assert c.placement(Level.L4) is None
    assert c.level_state(Level.L4) == LevelState.PROPOSED  # proposed again


def test_shortcuts_are_configurable_and_listed(opened, settings, qtbot):
    c = opened.controller
    c.place_level(Level.L1, 12)
    c.set_slice(0)
    settings.set_shortcut("level.jump.1", [QKeySequence("J")])
    opened.apply_shortcuts()
    QTest.keyClick(opened, Qt.Key.Key_1)
    assert c.slice_index == 0  # 1 is no longer bound
    QTest.keyClick(opened, Qt.Key.Key_J)
    assert c.slice_index == 12
    # F1 lists every action with its keys; an edit there is stored and rebinds the window.
    with qtbot.waitSignal(opened.dialogOpened) as blocker:
        QTest.keyClick(opened, Qt.Key.Key_F1)
    dialog = blocker.args[0]
    assert isinstance(dialog, ShortcutsDialog)
    assert dialog.isVisible()
    model = dialog.model
    rows = {model.index(r, 1).data(): r for r in range(model.rowCount())}
    assert model.index(rows["Go to level L1"], 2).data() == "J"
    assert model.index(rows["Set L3 at the current slice"], 2).data() == "Shift+3"
    assert not model.setData(model.index(rows["Go to level L2"], 2), QKeySequence("F1"))  # taken
    assert "already used" in dialog.message.text()
    assert model.setData(model.index(rows["Go to level L2"], 2), QKeySequence("K"))
    c.place_level(Level.L2, 20)
    c.set_slice(0)
    dialog.close()
    QTest.keyClick(opened, Qt.Key.Key_K)
    assert c.slice_index == 20
    assert settings.qsettings.value("shortcuts/level.jump.2") == "K"


def test_menus_show_the_keys(opened):
    texts = [a.text() for a in opened.level_set_actions]
    assert texts[0] == "Set L1 here\tShift+1"
