"""The start flow (study, reader, session; washout refusals) and study administration from the GUI."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app.dialogs.admin import AdminDialog
from app.dialogs.admin_forms import AddReaderDialog, NewSessionDialog, WashoutDialog
from app.dialogs.start_study import StartStudyDialog
from ssc_core.constants import DEMO_READER_NAME
from ssc_core.study.records import SessionStatus
from ssc_core.study.store import open_study

pytestmark = pytest.mark.gui


def start_dialog(qtbot, window, path, **kw) -> StartStudyDialog:
    dlg = window.study.open_study_dialog(path, **kw)
    qtbot.waitUntil(dlg.isVisible)
    return dlg


def pick_reader(dlg: StartStudyDialog, name: str) -> None:
    for i in range(dlg.reader_combo.count()):
        if dlg.reader_combo.itemText(i).split(" (")[0] == name:
            dlg.reader_combo.setCurrentIndex(i)
            return
    raise AssertionError(f"{name} is not listed")


def session_rows(dlg: StartStudyDialog) -> dict[str, tuple[str, bool]]:
    out = {}
    for i in range(dlg.session_list.count()):
        item = dlg.session_list.item(i)
        out[item.text().split(" — ")[0]] = (item.text(), bool(item.flags() & Qt.ItemFlag.ItemIsEnabled))
    return out


def test_start_dialog_lists_readers_and_sessions_with_washout_refusals(qtbot, window, study_file):
    dlg = start_dialog(qtbot, window, study_file)
    names = [dlg.reader_combo.itemText(i) for i in range(dlg.reader_combo.count())]
    assert "Demo reader" in names
    assert "Study admin (admin)" in names
    pick_reader(dlg, DEMO_READER_NAME)
    rows = session_rows(dlg)
    assert rows["T1"][1]
    assert rows["HM"][1]
    text, enabled = rows["T2"]
    assert not enabled
    assert "not available: finish session T1 first" in text  # the repeat waits for T1 and the washout
    assert not dlg.manage_button.isVisible()
    assert dlg.selected_session() is not None
    dlg.start_button.click()
    ws = window.study.workspace
    assert ws is not None
    assert ws.reading.session.label == "T1"
    qtbot.waitUntil(lambda: ws.reading.case_code is not None, timeout=30_000)


def test_locked_study_is_refused_with_the_reason(qtbot, window, study_file):
    with open_study(study_file):  # another workstation has it open
        dlg = start_dialog(qtbot, window, study_file)
        assert dlg.store is None
        assert "another" in dlg.study_status.text().lower() or "lock" in dlg.study_status.text().lower()
        assert not dlg.start_button.isEnabled()
        dlg.reject()


def test_admin_adds_a_reader_plans_and_opens_a_session_and_overrides_a_washout(qtbot, window, study_file):
    dlg = start_dialog(qtbot, window, study_file)
    pick_reader(dlg, "Study admin")
    assert dlg.manage_button.isVisible()
    opened = []
    window.dialogOpened.connect(opened.append)
    dlg.manage_button.click()
    admin = next(d for d in opened if isinstance(d, AdminDialog))

    form = admin.add_reader()
    assert isinstance(form, AddReaderDialog)
    form.name.setText("Second reader")
    form.accept()
    assert "Second reader" in [admin.readers.item(r, 0).text() for r in range(admin.readers.rowCount())]

    form = admin.new_session()
    assert isinstance(form, NewSessionDialog)
    form.accept()  # no label: refused by the form, nothing written
    assert "label" in form.error.text()
    form.label.setText("T3")
    for i in range(form.readers.count()):
        if form.readers.item(i).text() in ("Second reader", DEMO_READER_NAME):
            form.readers.item(i).setCheckState(Qt.CheckState.Checked)
    form.accept()
    admin.select_session("T3")
    admin.findChild(QPushButton, "openSession").click()

    admin.select_session("T2")
    form = admin.override_washout()
    assert isinstance(form, WashoutDialog)
    form.reader.setCurrentIndex(form.reader.findText(DEMO_READER_NAME))
    form.accept()
    assert "reason" in form.error.text()  # a reason is required
    form.reason.setPlainText("Demo: second session on the same day")
    form.accept()
    admin.close()

    with open_study(study_file, readonly=True) as st:
        t3 = st.session_by_label("T3")
        assert t3.status is SessionStatus.OPEN
        assert {st.reader(r).name for r in t3.reader_ids} == {"Second reader", DEMO_READER_NAME}
        assert len(st.session_case_ids(t3.id)) == 2
        audit = [row[0] for row in st.conn.execute("SELECT reason FROM audit WHERE reason IS NOT NULL")]
        assert "Demo: second session on the same day" in audit
    pick_reader(dlg, DEMO_READER_NAME)  # the start dialog has refreshed: T2 may be read now
    assert session_rows(dlg)["T2"][1]
    assert session_rows(dlg)["T3"][1]
    dlg.reject()


def test_admin_adds_cases_from_a_folder_of_scans(qtbot, window, study_file, tmp_path):
    from ssc_core.imaging.phantom import generate_phantom, write_phantom

    folder = tmp_path / "new scans"
    write_phantom(generate_phantom(5, slice_spacing_mm=3.0, matrix=64), folder, format="mha", pseudonym="P9")
    (folder / "broken").mkdir()
    (folder / "broken" / "x.dcm").write_bytes(b"not dicom")
    with open_study(study_file) as st:
        admin = AdminDialog(st, st.reader_by_name("Study admin").id, window.controller.runner, window)
        qtbot.addWidget(admin)
        task = admin.import_scans(folder, list_file=False)
        with qtbot.waitSignal(task.finished, timeout=60_000):
            pass
        question = admin.last_dialog
        assert question.objectName() == "importFailures"  # nothing is added before the admin agrees
        assert len(st.cases()) == 2
        assert "1 scan(s) could not be loaded" in question.text()
        next(b for b in question.buttons() if b.text() == "Add the others").click()
        assert len(st.cases()) == 3  # the phantom was added; the broken entry was reported
        report = admin.last_dialog.text()
        assert "Added 1 case(s)." in report
        assert "Could not load entry 2: No CT images" in report
        assert "new scans" not in report
        assert "P9" not in report
        assert admin.cases.rowCount() == 3
        admin.close()


def test_reading_menu_offers_the_readers_own_export_and_admins_the_statistics(qtbot, window, study_file):
    from app.dialogs.export_dialog import ExportDialog
    from tests.app.reading_helpers import start

    ws = start(qtbot, window, study_file)
    actions = window.study
    assert actions.act_export_mine.isEnabled()
    assert not actions.act_statistics.isEnabled()  # a reader, not an admin
    assert not actions.act_export_study.isEnabled()
    dlg = actions.export_my_readings()
    assert isinstance(dlg, ExportDialog)
    assert dlg.for_reader
    assert (dlg.reader, dlg.session) == (DEMO_READER_NAME, "T1")
    dlg.reject()
    window.study.close_study()
    assert ws.reading.store.closed

    start_admin = start_dialog(qtbot, window, study_file)
    pick_reader(start_admin, "Study admin")
    assert start_admin.statistics_button.isVisible()
    assert start_admin.export_button.isVisible()
    stats = actions.show_statistics(study_file)
    qtbot.addWidget(stats)
    assert stats.study_path == study_file
    stats.close()
    start_admin.reject()
