"""Opening scans from disk through the real loader: progress and first slice, series choice, refusals,
cancel, and that no patient identifier reaches the window."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app import loading
from app.controller import ViewerController
from app.dialogs.load_error import LoadErrorDialog
from app.dialogs.series_choice import SeriesChoiceDialog
from app.main_window import MainWindow
from ssc_core.imaging.dicom_writer import write_dicom_series
from ssc_core.imaging.volume_writer import write_volume
from tests.core.imaging.factory import make_hu, write_series

pytestmark = pytest.mark.gui

LOAD_TIMEOUT_MS = 30_000


def open_and_wait(qtbot, win, path):
    with qtbot.waitSignal(win.controller.volumeChanged, timeout=LOAD_TIMEOUT_MS) as blocker:
        win.open_path(path)
    return blocker.args[0]


def test_open_mha_shows_the_first_slice_while_loading(qtbot, window, chest, tmp_path):
    path = write_volume(chest, tmp_path / "scan.mha")
    c = window.controller
    seen = []

    def on_preview(preview):
        # what the reader sees at that moment: the preview slice, with loading in progress
        seen.append((preview.index, window.slice_view.image.image is not None, c.loading))

    c.loadPreview.connect(on_preview)
    volume = open_and_wait(qtbot, window, path)
    assert seen
    assert seen[0][0] == chest.n_slices // 2  # the loader decodes the middle slice first
    assert seen[0][2]  # it arrived while the load was still running
    np.testing.assert_array_equal(volume.hu, chest.hu)
    assert volume.spacing == pytest.approx(chest.spacing)
    assert c.slice_index == chest.n_slices // 2
    assert not window.load_progress.isVisible()
    np.testing.assert_array_equal(window.slice_view.image.image, chest.hu[chest.n_slices // 2])


def test_open_dicom_folder_at_a_chosen_slice(qtbot, window, chest, tmp_path):
    write_dicom_series(chest, tmp_path / "series", series_description="Thorax 5 mm")
    c = window.controller
    with qtbot.waitSignal(c.volumeChanged, timeout=LOAD_TIMEOUT_MS):
        window.open_path(tmp_path / "series", slice_index=7)
    assert c.volume.shape == chest.shape
    np.testing.assert_allclose(c.volume.slice_z, chest.slice_z)
    assert c.slice_index == 7
    assert c.label == "Thorax 5 mm"
    assert window.windowTitle().startswith("Thorax 5 mm")


def test_a_folder_with_several_series_offers_the_choice(qtbot, window, tmp_path):
    folder = tmp_path / "exam"
    write_series(folder / "thin", make_hu(12), description="Chest 1 mm", kernel="B70f")
    write_series(folder / "thick", make_hu(6, seed=1), description="Chest 5 mm", kernel="B30f")
    coronal_positions = [(-7.0, -8.0 + 0.7 * j, 50.0) for j in range(6)]
    write_series(
        folder / "cor",
        make_hu(6, seed=2),
        positions=coronal_positions,
        orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
        description="Coronal MPR",
    )
    c = window.controller
    with qtbot.waitSignal(window.dialogOpened, timeout=LOAD_TIMEOUT_MS) as blocker:
        window.open_path(folder)
    dialog = blocker.args[0]
    assert isinstance(dialog, SeriesChoiceDialog)
    assert dialog.isVisible()
    rows = {r.description: r for r in dialog.rows}
    assert set(rows) == {"Chest 1 mm", "Chest 5 mm", "Coronal MPR"}
    assert rows["Chest 1 mm"].slices == 12
    assert rows["Chest 1 mm"].kernel == "B70f"
    assert rows["Coronal MPR"].orientation == "coronal"
    assert not rows["Coronal MPR"].scorable
    assert rows["Coronal MPR"].reason  # the reason is listed
    cor = [r.description for r in dialog.rows].index("Coronal MPR")
    assert not (dialog.model.flags(dialog.model.index(cor, 0)) & Qt.ItemFlag.ItemIsEnabled)
    assert dialog.rows[dialog.selected_row()].description == "Chest 1 mm"  # the loader's default
    dialog.select([r.description for r in dialog.rows].index("Chest 5 mm"))
    with qtbot.waitSignal(c.volumeChanged, timeout=LOAD_TIMEOUT_MS):
        dialog.buttons.accepted.emit()
    assert c.volume.n_slices == 6
    assert c.label == "Chest 5 mm"


def test_a_refused_scan_explains_why_and_the_window_stays_usable(qtbot, window, chest, tmp_path):
    c = window.controller
    c.open_volume(chest, slice_index=5)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a scan")
    with qtbot.waitSignal(window.dialogOpened, timeout=LOAD_TIMEOUT_MS) as blocker:
        window.open_path(empty)
    dialog = blocker.args[0]
    assert isinstance(dialog, LoadErrorDialog)
    assert dialog.isVisible()
    assert "No CT images were found" in dialog.text()
    assert "What to do:" in dialog.informativeText()
    assert dialog.error.hint in dialog.informativeText()
    assert str(tmp_path) not in dialog.text() + dialog.informativeText()
    dialog.close()
    # the previous scan is still open and the keys still work
    assert c.volume is chest
    QTest.keyClick(window, Qt.Key.Key_Down)
    assert c.slice_index == 6
    np.testing.assert_array_equal(window.slice_view.image.image, chest.hu[6])


def test_a_damaged_file_is_refused_with_its_reason(qtbot, window, tmp_path):
    bad = tmp_path / "slice.dcm"
    bad.write_bytes(b"DICM" * 40)
    with qtbot.waitSignal(window.dialogOpened, timeout=LOAD_TIMEOUT_MS) as blocker:
        window.open_path(bad)
    dialog = blocker.args[0]
    assert isinstance(dialog, LoadErrorDialog)
    assert dialog.reason
    assert window.controller.volume is None


def test_cancel_stops_the_load_and_keeps_the_open_scan(qtbot, settings, chest, tmp_path):
    write_dicom_series(chest, tmp_path / "series")
    reached = threading.Event()

    def gated_load(path, *, progress=None, cancel=None, **kwargs):
        # The real loader; its progress callback waits, once slices are being read, until the reader
        # has pressed Cancel, so the cancel always lands in the middle of the load.
        def gate(p):
            progress(p)
            if p.total and p.done >= 3 and not reached.is_set() and "slice" in p.message.lower():
                reached.set()
                cancel._event.wait(10)

        return loading.load_volume(path, progress=gate, cancel=cancel, **kwargs)

    controller = ViewerController(load=gated_load)
    win = MainWindow(settings, controller, restore_layout=False)
    qtbot.addWidget(win)
    win.show()
    small = chest  # the scan already open
    controller.open_volume(small, slice_index=3)
    win.open_path(tmp_path / "series")
    qtbot.waitUntil(reached.is_set, timeout=LOAD_TIMEOUT_MS)
    assert win.load_progress.isVisible()
    QTest.keyClick(win, Qt.Key.Key_Down)  # the window stays responsive while the load runs
    assert controller.slice_index == 4
    controller.set_slice(3)
    with qtbot.waitSignal(controller.loadCancelled, timeout=5000):
        win.load_progress.cancel_button.click()
    assert not win.load_progress.isVisible()
    assert controller.volume is small
    assert controller.slice_index == 3
    qtbot.waitUntil(lambda: controller.runner.active_count == 0, timeout=10_000)
    controller.shutdown()


def test_no_patient_identifier_reaches_the_window(qtbot, window, tmp_path):
    folder = tmp_path / "DOE_JANE_123456"
    write_series(folder, make_hu(8), description="Thorax", patient="DOE^JANE")
    open_and_wait(qtbot, window, folder)
    window.flush()
    shown = " ".join(
        [
            window.windowTitle(),
            window.statusBar().currentMessage(),
            *(a.text() for a in window.slice_view.annotations.items),
            window.controller.label,
        ]
    )
    assert "DOE" not in shown.upper()
    assert "123456" not in shown


def test_closing_the_window_during_a_load_stops_it(qtbot, settings, chest, tmp_path):
    write_dicom_series(chest, tmp_path / "series")
    reached = threading.Event()

    def gated_load(path, *, progress=None, cancel=None, **kwargs):
        def gate(p):
            progress(p)
            if p.total and p.done >= 3 and not reached.is_set():
                reached.set()
                cancel._event.wait(10)

        return loading.load_volume(path, progress=gate, cancel=cancel, **kwargs)

    controller = ViewerController(load=gated_load)
    win = MainWindow(settings, controller, restore_layout=False)
    qtbot.addWidget(win)
    win.show()
    win.open_path(tmp_path / "series")
    qtbot.waitUntil(reached.is_set, timeout=LOAD_TIMEOUT_MS)
    assert win.close()
    assert controller.runner.active_count == 0  # the worker was cancelled and joined
    assert controller.volume is None
