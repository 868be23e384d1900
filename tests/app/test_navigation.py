"""Browsing a scan: scrolling, windowing, zoom and pan, HU readout, orientation and localizers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from ssc_core.constants import CUSTOM_WINDOW_NAME, LUNG_WINDOW, MEDIASTINUM_WINDOW
from ssc_core.imaging.volume import CTVolume
from tests.app.mouse import click, drag, hover, view_point, wheel

pytestmark = pytest.mark.gui


def shown_slice(win) -> np.ndarray:
    return win.slice_view.image.image


def center(view) -> QPoint:
    return view.viewport().rect().center()


def test_wheel_keys_and_pages_scroll_slices(opened, chest):
    c = opened.controller
    wheel(opened.slice_view, center(opened.slice_view), -3)  # towards the reader: caudal
    assert c.slice_index == 3
    wheel(opened.slice_view, center(opened.slice_view), 1)
    assert c.slice_index == 2
    QTest.keyClick(opened, Qt.Key.Key_Down)
    QTest.keyClick(opened, Qt.Key.Key_Down)
    assert c.slice_index == 4
    QTest.keyClick(opened, Qt.Key.Key_Up)
    assert c.slice_index == 3
    QTest.keyClick(opened, Qt.Key.Key_PageDown)
    assert c.slice_index == 13
    QTest.keyClick(opened, Qt.Key.Key_PageUp)
    assert c.slice_index == 3
    QTest.keyClick(opened, Qt.Key.Key_End)
    assert c.slice_index == chest.n_slices - 1
    np.testing.assert_array_equal(shown_slice(opened), chest.hu[-1])
    text = opened.slice_view.text_top_right.text()
    assert f"Slice {chest.n_slices}/{chest.n_slices}" in text
    assert f"z {chest.slice_z[-1]:.1f} mm" in text


def test_display_stays_on_the_int16_fast_path(opened):
    img = opened.slice_view.image
    assert img.image.dtype == np.int16
    assert tuple(img.levels) == (LUNG_WINDOW.lower, LUNG_WINDOW.upper)


def test_presets_by_key_and_toolbar(opened):
    c = opened.controller
    QTest.keyClick(opened, Qt.Key.Key_F3)
    assert c.window == MEDIASTINUM_WINDOW
    assert tuple(opened.slice_view.image.levels) == (MEDIASTINUM_WINDOW.lower, MEDIASTINUM_WINDOW.upper)
    assert "W 350  L 40" in opened.slice_view.text_bottom_left.text()
    assert opened.window_controls.preset.currentText() == "Mediastinum"
    QTest.keyClick(opened, Qt.Key.Key_F2)
    assert c.window == LUNG_WINDOW
    combo = opened.window_controls.preset
    combo.activated.emit(combo.findText("Mediastinum"))
    assert c.window == MEDIASTINUM_WINDOW


def test_right_drag_sets_width_and_level(opened):
    c = opened.controller
    sv = opened.slice_view
    start = center(sv)
    drag(sv, start, start + QPoint(120, 0), Qt.MouseButton.RightButton)
    assert c.window.name == CUSTOM_WINDOW_NAME
    assert c.window.width > LUNG_WINDOW.width
    assert c.window.level == LUNG_WINDOW.level
    width = c.window.width
    drag(sv, start, start + QPoint(0, 60), Qt.MouseButton.RightButton)  # down: higher level (darker)
    assert c.window.width == width
    assert c.window.level > LUNG_WINDOW.level
    assert tuple(sv.image.levels) == (c.window.lower, c.window.upper)
    assert opened.window_controls.width_box.value() == round(c.window.width)
    assert c.slice_index == 0  # right-drag never scrolls


def test_typed_window_becomes_custom_and_persists(opened, settings):
    box = opened.window_controls
    box.width_box.setValue(400)
    box.level_box.setValue(50)
    box.level_box.editingFinished.emit()
    assert opened.controller.window.name == CUSTOM_WINDOW_NAME
    assert (opened.controller.window.width, opened.controller.window.level) == (400, 50)
    assert (settings.custom_window().width, settings.custom_window().level) == (400, 50)


def test_zoom_pan_and_reset(opened):
    sv = opened.slice_view
    full = sv.vb.viewRect()
    wheel(sv, center(sv), 3, Qt.KeyboardModifier.ControlModifier)
    zoomed = sv.vb.viewRect()
    assert zoomed.width() < full.width() * 0.95
    assert opened.controller.slice_index == 0  # Ctrl+wheel zooms, it does not scroll
    drag(sv, center(sv), center(sv) + QPoint(80, 0))
    assert sv.vb.viewRect().center().x() < zoomed.center().x()  # dragged right: the image follows
    QTest.keyClick(opened, Qt.Key.Key_Plus)
    assert sv.vb.viewRect().width() < zoomed.width()
    QTest.keyClick(opened, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    reset = sv.vb.viewRect()
    assert reset.width() == pytest.approx(full.width(), rel=1e-3)
    assert reset.center().x() == pytest.approx(full.center().x(), abs=0.5)


def test_hu_under_the_cursor(opened, chest):
    c = opened.controller
    c.set_slice(20)
    _dz, dy, dx = chest.spacing
    row, col = 40, 30
    hover(opened.slice_view, view_point(opened.slice_view, (col + 0.5) * dx, (row + 0.5) * dy))
    opened.flush()
    assert opened.slice_view.cursor_pixel == (row, col)
    assert opened.hu_label.text().startswith(f"HU {int(chest.hu[20, row, col])} ")
    c.step(1)  # the readout follows the slice under a still cursor
    opened.flush()
    assert opened.hu_label.text().startswith(f"HU {int(chest.hu[21, row, col])} ")


def test_orientation_letters_follow_the_direction(window, chest):
    sv = window.slice_view
    window.controller.open_volume(chest)
    letters = {edge: item.text() for edge, item in sv.orientation.items()}
    # Radiological convention: the patient's right on the viewer's left, anterior up.
    assert letters == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    flipped_dir = np.array(chest.direction)
    flipped_dir[2] = -flipped_dir[2]  # columns run towards the patient's right
    flipped = CTVolume(
        hu=chest.hu, spacing=chest.spacing, origin=chest.origin, direction=flipped_dir, slice_z=chest.slice_z
    )
    window.controller.open_volume(flipped)
    assert sv.orientation["left"].text() == "L"
    assert sv.orientation["right"].text() == "R"


def test_scale_bar_is_a_true_length(opened, qtbot):
    sv = opened.slice_view
    bar = sv.scale_bar
    mm_per_px = sv.view_mm_per_pixel()
    assert bar.length_mm in (10, 20, 50, 100, 200)
    assert 0 < bar.length_mm / mm_per_px <= sv.vb.boundingRect().width() * 0.2 + 1
    before = bar.length_mm
    sv.zoom(4.0)
    qtbot.waitUntil(lambda: bar.length_mm < before)  # zoomed in (on the next paint): a shorter one fits


def test_localizers_have_anatomical_aspect(opened, chest):
    nz, ny, nx = chest.shape
    dz, dy, dx = chest.spacing
    for loc, width_mm in ((opened.coronal, nx * dx), (opened.sagittal, ny * dy)):
        assert loc.image.image.dtype == np.int16
        assert loc.image.image.shape == (nz, nx if loc is opened.coronal else ny)
        top_left = view_point(loc, 0, 0)
        bottom_right = view_point(loc, width_mm, nz * dz)
        w_px = bottom_right.x() - top_left.x()
        h_px = bottom_right.y() - top_left.y()
        assert h_px / w_px == pytest.approx(nz * dz / width_mm, rel=0.03)
    assert opened.coronal.letters["left"].text() == "R"
    assert opened.coronal.letters["top"].text() == "S"
    assert opened.sagittal.letters["left"].text() == "A"


def test_localizer_click_jumps_to_the_slice(opened, chest):
    loc = opened.coronal
    dz = chest.spacing[0]
    click(loc, view_point(loc, 50.0, (30 + 0.5) * dz))
    assert opened.controller.slice_index == 30
    opened.flush()
    assert loc.current_line.value() == pytest.approx(loc.slice_to_y(30))
    assert opened.sagittal.current_line.value() == pytest.approx(opened.sagittal.slice_to_y(30))


def test_double_click_centres_the_localizers(opened, chest):
    _, dy, dx = chest.spacing
    click(opened.slice_view, view_point(opened.slice_view, 20.5 * dx, 60.5 * dy), double=True)
    assert opened.coronal.position == 60
    assert opened.sagittal.position == 20
    np.testing.assert_array_equal(opened.coronal.image.image, chest.hu[:, 60, :])


def test_window_is_shown_on_the_image(opened):
    assert opened.slice_view.text_bottom_left.text() == "W 1500  L -600\nLung"
    opened.controller.adjust_window(100, 0)
    assert opened.slice_view.text_bottom_left.text() == "W 1600  L -600\nCustom"


def test_custom_window_is_restored_from_the_settings(qtbot, settings, chest):
    from app.main_window import MainWindow
    from ssc_core.constants import HUWindow

    settings.set_custom_window(HUWindow(CUSTOM_WINDOW_NAME, 2000, 300))
    win = MainWindow(settings, restore_layout=False)
    qtbot.addWidget(win)
    win.show()
    win.controller.open_volume(chest)
    assert win.controller.window == LUNG_WINDOW  # the default stays the lung window
    QTest.keyClick(win, Qt.Key.Key_F4)
    assert (win.controller.window.width, win.controller.window.level) == (2000, 300)
