"""Blinding and identifiers in the workstation: nothing hidden is loaded into a widget, nothing identifying is
shown or logged."""

from __future__ import annotations

import logging

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from ssc_core.constants import DEMO_READER_NAME, LEVELS, PATTERNS
from ssc_core.study.store import open_study
from tests.app.reading_helpers import key_to_focus, start, type_into_focus, wait_for_case
from tests.app.widget_texts import all_texts

pytestmark = pytest.mark.gui

OTHER_READER = "Dr Hidden Colleague"
AI_SCORES = {lv: {"TOT": 41.375, "GG": 33.125, "RET": 17.875} for lv in LEVELS}
AI_Z = {lv: -777.77 - 11.1 * int(lv) for lv in LEVELS}
OTHER_Z = {lv: -555.55 - 7.3 * int(lv) for lv in LEVELS}


def plant_hidden_data(path) -> None:
    """AI results for every case and a colleague's submitted readings in the observer session T1."""
    with open_study(path) as st:
        admin = st.reader_by_name("Study admin").id
        t1 = st.session_by_label("T1")
        other = st.add_reader(OTHER_READER, by=admin).id
        st.add_session_readers(t1.id, [other], by=admin)
        for cid in st.session_case_ids(t1.id):
            code = st.case(cid).code
            st.put_ai_result(
                cid,
                "hidden-bundle",
                levels={lv: (z, None) for lv, z in AI_Z.items()},
                scores=AI_SCORES,
                details={"secret": "ai-details-9931"},
            )
            for lv in LEVELS:
                st.place_level(t1.id, other, code, lv, OTHER_Z[lv], 3 + int(lv))
                for pat, v in zip(PATTERNS, (85, 70, 45), strict=True):
                    st.set_score(t1.id, other, code, lv, pat, v)
            st.submit(t1.id, other, code)


def hidden_strings() -> list[str]:
    out = [OTHER_READER, "Expert consensus", "hidden-bundle", "ai-details-9931"]
    for per in AI_SCORES.values():
        out += [f"{v:g}" for v in per.values()] + [f"{v:.1f}" for v in per.values()]
    for z in (*AI_Z.values(), *OTHER_Z.values()):
        out += [f"{z:.1f}", f"{z:.2f}", f"{z:g}"]
    return out


def test_blinded_session_widgets_hold_no_hidden_data(qtbot, window, study_file):
    plant_hidden_data(study_file)
    ws = start(qtbot, window, study_file)
    r = ws.reading
    assert r.view.ai is None
    assert r.view.references is None
    assert r.view.disagreements is None
    statements: list[str] = []
    r.store.conn.set_trace_callback(statements.append)
    # work through the session: levels, scores, the next case, the submit check
    QTest.keyClick(window, Qt.Key.Key_Exclam, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(window, Qt.Key.Key_Return)
    type_into_focus("10")
    key_to_focus(Qt.Key.Key_Tab)
    key_to_focus(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    key_to_focus(Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)  # next case, from a score field
    wait_for_case(qtbot, ws, r.view.worklist[1].case_code)
    window.flush()
    texts = all_texts(window) + "\n" + window.windowTitle()
    assert r.case_code in texts
    assert "Demo reader" in texts
    for hidden in hidden_strings():
        assert hidden not in texts, hidden
    # hidden data was not even read from the study file
    assert not [s for s in statements if "ai_result" in s or "ai_heatmap" in s]
    other_id = str(r.store.reader_by_name(OTHER_READER).id)
    reads_of_others = [s for s in statements if "FROM reading" in s and f"reader_id = {other_id}" in s]
    assert not reads_of_others
    r.store.conn.set_trace_callback(None)


def test_window_dialogs_and_logs_carry_no_patient_identifiers(qtbot, window, tmp_path, caplog):
    from ssc_core.imaging.phantom import DiseaseSpec, generate_phantom, write_phantom
    from ssc_core.study.scans import collect_case_sources, folder_entries
    from ssc_core.study.store import create_study

    scans = tmp_path / "Smith_Jane_19600101"
    ph = generate_phantom(11, slice_spacing_mm=3.0, matrix=96, disease=DiseaseSpec.random(11))
    write_phantom(ph, scans, format="dicom", pseudonym="DOE^JOHN^MRN12345678")
    found = collect_case_sources(folder_entries(scans))
    assert len(found.sources) == 1
    path = tmp_path / "ids.sscstudy"
    with create_study(path, name="Identifier check", admin="Study admin") as st:
        admin = st.reader_by_name("Study admin").id
        st.add_cases(found.sources, by=admin)
        reader = st.add_reader(DEMO_READER_NAME, by=admin).id
        s = st.add_session("T1", "observer", [reader, admin], by=admin)
        st.open_session(s.id, by=admin)
    caplog.set_level(logging.DEBUG)
    ws = start(qtbot, window, path, reader="Study admin")
    QTest.keyClick(window, Qt.Key.Key_At, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyClick(window, Qt.Key.Key_Return)
    type_into_focus("15")
    key_to_focus(Qt.Key.Key_Tab)
    admin_dialog = window.study.manage_study()  # the admin's view of the study: codes, never sources
    assert admin_dialog is not None
    window.flush()
    shown = all_texts(window) + "\n" + window.windowTitle() + "\n" + caplog.text
    for identifier in ("DOE", "JOHN", "MRN12345678", "Smith", "Jane", "19600101"):
        assert identifier not in shown, identifier
    assert ws.reading.case_code in window.windowTitle()
    admin_dialog.close()
