"""The export dialog: xlsx and CSV exports that read back, a blinded reader's own export, authors' formats."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import openpyxl
import pytest

from app.dialogs import export_dialog as ed
from app.statistics import CSV_FOLDER, CSV_ZIP, LABEL_WORKBOOK, LIKERT_JSON, XLSX
from ssc_core.analysis.authors_formats import read_label_workbook, read_likert_json
from ssc_core.analysis.export import read_export
from ssc_core.analysis.from_store import study_tables
from ssc_core.study.store import open_study
from tests.app.stats_study import build_study, random_truth

pytestmark = pytest.mark.gui

N_CASES = 6


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("export") / "study.sscstudy"
    build_study(path, random_truth(N_CASES, seed=11), likert_reader="Reader B")
    return path


def make_dialog(qtbot, study, **kw) -> ed.ExportDialog:
    dlg = ed.ExportDialog(study, **kw)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.label_rater.count() > 0, timeout=30_000)  # raters read in a worker
    return dlg


def export(qtbot, dlg: ed.ExportDialog, target: Path) -> Path:
    dlg.target.setText(str(target))
    with qtbot.waitSignal(dlg.exported, timeout=60_000) as blocker:
        dlg.export_button.click()
    return blocker.args[0]


def test_admin_xlsx_export_reads_back(qtbot, study, tmp_path):
    dlg = make_dialog(qtbot, study)
    assert dlg.with_reports.isVisible()
    assert dlg.with_reports.isChecked()
    out = export(qtbot, dlg, tmp_path / "study")  # the suffix is added
    assert out == tmp_path / "study.xlsx"
    assert str(out) in dlg.result_label.text()
    back = read_export(out)
    with open_study(study, readonly=True) as store:
        tables = study_tables(store)
    assert set(back.ratings["rater"]) == set(tables.ratings["rater"])
    assert len(back.ratings) == len(tables.ratings)
    assert back.description.audit_head == tables.description.audit_head
    wb = openpyxl.load_workbook(out, read_only=True)
    assert {"Scores", "Observer study", "AI performance", "Likert"} <= set(wb.sheetnames)
    wb.close()
    assert [p.name for p in tmp_path.iterdir()] == ["study.xlsx"]  # written atomically: no temporary left


def test_blinded_reader_export_holds_only_their_rows(qtbot, study, tmp_path):
    dlg = make_dialog(qtbot, study, reader="Reader A", session="S1")
    assert not dlg.with_reports.isVisible()  # a reader's export never carries report tables
    assert [dlg.label_rater.itemText(i) for i in range(dlg.label_rater.count())] == ["Reader A (S1)"]
    assert not dlg.likert_radio.isEnabled()  # A rated no heat map
    out = export(qtbot, dlg, tmp_path / "mine.xlsx")
    back = read_export(out)
    assert set(back.ratings["rater"]) == {"Reader A (S1)"}
    assert set(back.levels["rater"]) == {"Reader A (S1)"}
    assert back.likert.empty
    assert back.ai.empty
    assert back.ratings["case"].nunique() == N_CASES
    wb = openpyxl.load_workbook(out, read_only=True)
    names = set(wb.sheetnames)
    text = " ".join(str(v) for row in wb["Study"].iter_rows(values_only=True) for v in row if v is not None)
    wb.close()
    assert "Observer study" not in names
    assert "AI performance" not in names
    assert "own readings only" in text
    assert "Reader B" not in text
    assert "Consensus" not in text


def test_reader_of_another_session_is_refused_with_the_core_message(qtbot, study, tmp_path):
    dlg = ed.ExportDialog(study, reader="Reader A", session="GT")
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.last_error is not None, timeout=30_000)
    assert dlg.result_label.text().startswith("Not exported: ")
    assert dlg.last_error.message in dlg.result_label.text()
    dlg.target.setText(str(tmp_path / "x.xlsx"))
    with qtbot.waitSignal(dlg.failed, timeout=30_000):
        dlg.export_button.click()
    assert not (tmp_path / "x.xlsx").exists()


def test_csv_zip_with_decimal_commas(qtbot, study, tmp_path):
    dlg = make_dialog(qtbot, study)
    dlg.set_format(CSV_ZIP)
    assert dlg.decimal_comma.isEnabled()
    dlg.decimal_comma.setChecked(True)
    out = export(qtbot, dlg, tmp_path / "study.zip")
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        scores = zf.read("scores.csv").decode("utf-8-sig")
    assert {"scores.csv", "observer_study.csv", "study.csv"} <= names
    assert scores.splitlines()[0].count(";") > 3
    back = read_export(out)
    assert back.ratings["case"].nunique() == N_CASES


def test_csv_folder_refuses_a_file_in_the_way(qtbot, study, tmp_path):
    in_the_way = tmp_path / "csv"
    in_the_way.write_text("keep me")
    dlg = make_dialog(qtbot, study)
    dlg.set_format(CSV_FOLDER)
    dlg.target.setText(str(in_the_way))
    with qtbot.waitSignal(dlg.failed, timeout=60_000) as blocker:
        dlg.export_button.click()
    error = blocker.args[0]
    assert error.message in dlg.result_label.text()
    assert "is a file" in dlg.result_label.text()
    assert in_the_way.read_text() == "keep me"


def test_authors_formats(qtbot, study, tmp_path):
    dlg = make_dialog(qtbot, study)
    dlg.set_what(LABEL_WORKBOOK, "Consensus (GT)")
    assert not dlg.format_box.isEnabled()
    assert dlg.default_target().name.endswith("Consensus_GT_labels.xlsx")
    labels = export(qtbot, dlg, tmp_path / "gt_labels.xlsx")
    rows = read_label_workbook(labels)
    with open_study(study, readonly=True) as store:
        codes = {c.code for c in store.cases()}
    assert {r.pat_id for r in rows} == codes  # case codes in PatID, never a patient identifier
    dlg.set_what(LIKERT_JSON, "Reader B (HM)")
    likert = export(qtbot, dlg, tmp_path / "b_likert")
    assert likert.suffix == ".json"
    records = read_likert_json(likert)
    assert len(records) == N_CASES * 5
    assert all(r.status == "Done" for r in records)


def test_export_runs_in_a_worker(qtbot, study, tmp_path, monkeypatch):
    threads: list[threading.Thread] = []
    real = ed.run_export

    def watched(request, **kw):
        threads.append(threading.current_thread())
        return real(request, **kw)

    monkeypatch.setattr(ed, "run_export", watched)
    dlg = make_dialog(qtbot, study)
    dlg.set_format(XLSX)
    dlg.with_reports.setChecked(False)
    out = export(qtbot, dlg, tmp_path / "data.xlsx")
    assert threads
    assert threads[0] is not threading.main_thread()
    wb = openpyxl.load_workbook(out, read_only=True)
    assert "Observer study" not in wb.sheetnames
    wb.close()
