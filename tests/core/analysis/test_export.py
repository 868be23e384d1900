"""Spreadsheet and CSV export: round trip, formatting, locale, atomicity, no patient identifiers."""

from __future__ import annotations

import contextlib
import locale
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ssc_core.analysis import export as export_mod
from ssc_core.analysis.export import (
    export_csv,
    export_workbook,
    read_csv_tables,
    read_export,
    read_workbook,
)
from ssc_core.analysis.reports import compute_reports
from ssc_core.analysis.simulate import simulate_study
from ssc_core.analysis.tables import StudyDescription, StudyTables
from ssc_core.constants import SCORE_GRID
from ssc_core.errors import AnalysisError, Cancelled, ExportError, ImportFormatError
from ssc_core.progress import CancelToken

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def study() -> StudyTables:
    st = simulate_study(n_cases=14, readers={"A": 2.0, "B": 6.0}, likert_readers=("A", "B"), seed=5)
    return StudyTables(
        ratings=st.ratings,
        levels=st.levels,
        likert=st.likert,
        timing=st.timing,
        ai=st.ai,
        description=StudyDescription(title="Round trip", audit_head="ab" * 32),
    )


@pytest.fixture(scope="module")
def reports(study):
    return compute_reports(study)


def _assert_tables_equal(a: StudyTables, b: StudyTables) -> None:
    for name in ("ratings", "levels", "likert", "timing", "ai"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=False, obj=name)


def _assert_reports_equal(r1, r2) -> None:
    for name, frame in r1.sheets().items():
        pd.testing.assert_frame_equal(frame, r2.sheets()[name], check_dtype=False, obj=name)


# --- round trips -----------------------------------------------------------------------------------------


def test_workbook_round_trip_gives_the_same_figures(tmp_path, study, reports):
    path = export_workbook(study, tmp_path / "study.xlsx", reports=reports)
    back = read_workbook(path)
    _assert_tables_equal(study, back)
    assert back.description.title == "Round trip"
    assert back.description.audit_head == "ab" * 32
    _assert_reports_equal(reports, compute_reports(back))


@pytest.mark.parametrize(("name", "decimal"), [("csv", "."), ("csv.zip", "."), ("de.zip", ",")])
def test_csv_round_trip_gives_the_same_figures(tmp_path, study, reports, name, decimal):
    path = export_csv(study, tmp_path / name, reports=reports, decimal=decimal)
    back = read_export(path)
    _assert_tables_equal(study, back)
    if decimal == ",":
        _assert_reports_equal(reports, compute_reports(back))


def test_csv_conventions(tmp_path, study, reports):
    folder = export_csv(study, tmp_path / "out", reports=reports)
    names = {p.name for p in folder.iterdir()}
    assert {"scores.csv", "level_positions.csv", "likert.csv", "timing.csv", "ai_results.csv"} <= names
    assert {"study.csv", "sessions.csv", "observer_study.csv", "ai_performance.csv", "columns.csv"} <= names
    raw = (folder / "scores.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheet programs detect UTF-8
    header, first = raw.decode("utf-8-sig").splitlines()[:2]
    assert header.startswith("case,rater_kind,reader,session,level,pattern,score")
    assert ".0," not in first  # whole scores are written as whole numbers
    assert first.endswith("Z")  # UTC times, ISO 8601
    levels = (folder / "level_positions.csv").read_text(encoding="utf-8-sig").splitlines()[1]
    assert "." in levels.split(",")[5]  # z_mm with a decimal point
    de = export_csv(study, tmp_path / "de", reports=reports, decimal=",")
    de_levels = (de / "level_positions.csv").read_text(encoding="utf-8-sig").splitlines()
    assert de_levels[0].startswith("case;rater_kind;")
    assert "," in de_levels[1].split(";")[5]


# --- comma-decimal locale --------------------------------------------------------------------------------


def _comma_locale(tmp_path_factory) -> str | None:
    """Switch LC_ALL to a comma-decimal locale (compiled with localedef if needed); None if impossible."""
    for name in ("de_DE.UTF-8", "de_DE.utf8"):
        with contextlib.suppress(locale.Error):
            locale.setlocale(locale.LC_ALL, name)
            return name
    if shutil.which("localedef") and Path("/usr/share/i18n/locales/de_DE").is_file():
        folder = tmp_path_factory.mktemp("locales")
        done = subprocess.run(
            ["localedef", "-i", "de_DE", "-f", "UTF-8", str(folder / "de_DE.UTF-8")], capture_output=True
        )
        if done.returncode in (0, 1) and (folder / "de_DE.UTF-8").is_dir():
            os.environ["LOCPATH"] = str(folder)
            with contextlib.suppress(locale.Error):
                locale.setlocale(locale.LC_ALL, "de_DE.UTF-8")
                return "de_DE.UTF-8"
    return None


def _all_grid_scores_study() -> StudyTables:
    rows = []
    for i, score in enumerate(SCORE_GRID):
        for reader in ("A", "B"):
            rows.append(
                {
                    "case": f"{i:03d}",  # leading zeros must survive too
                    "rater_kind": "reader",
                    "reader": reader,
                    "session": "S1",
                    "level": 1,
                    "pattern": "TOT",
                    "score": score if reader == "A" else SCORE_GRID[-1 - i],
                }
            )
    levels = [
        {"case": "000", "rater_kind": "reader", "reader": "A", "session": "S1", "level": 1, "z_mm": -123.45}
    ]
    return StudyTables.build(ratings=rows, levels=levels)


def test_every_score_survives_a_comma_decimal_locale(tmp_path, tmp_path_factory):
    st = _all_grid_scores_study()
    saved = locale.setlocale(locale.LC_ALL)
    saved_locpath = os.environ.get("LOCPATH")
    try:
        active = _comma_locale(tmp_path_factory)
        if active is not None:
            assert locale.localeconv()["decimal_point"] == ","
        outputs = [
            export_workbook(st, tmp_path / "s.xlsx"),
            export_csv(st, tmp_path / "dot.zip"),
            export_csv(st, tmp_path / "comma.zip", decimal=","),
        ]
        for out in outputs:
            back = read_export(out)
            a = back.ratings[back.ratings["reader"] == "A"]
            assert a["score"].tolist() == [float(s) for s in SCORE_GRID], out.name
            assert a["case"].tolist() == [f"{i:03d}" for i in range(21)]
            assert back.levels["z_mm"].iloc[0] == -123.45
        # The locale does not leak into the file: the default CSV has decimal points.
        with zipfile.ZipFile(tmp_path / "dot.zip") as zf:
            assert "-123.45" in zf.read("level_positions.csv").decode("utf-8-sig")
    finally:
        locale.setlocale(locale.LC_ALL, saved)
        if saved_locpath is None:
            os.environ.pop("LOCPATH", None)
        else:
            os.environ["LOCPATH"] = saved_locpath


def test_reading_cells_typed_with_decimal_commas(tmp_path):
    # A sheet edited by hand under a comma-decimal locale may hold numbers as text ("-12,5").
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Scores"
    ws.append(["case", "rater_kind", "reader", "session", "level", "pattern", "score"])
    ws.append(["001", "reader", "A", "S1", "L1", "TOT", "100"])
    wb.create_sheet("Level positions").append(["case", "rater_kind", "reader", "session", "level", "z_mm"])
    wb["Level positions"].append(["001", "reader", "A", "S1", 1, "-12,5"])
    wb.save(tmp_path / "hand.xlsx")
    back = read_workbook(tmp_path / "hand.xlsx")
    assert back.ratings["score"].iloc[0] == 100
    assert back.levels["z_mm"].iloc[0] == -12.5


# --- formatting ------------------------------------------------------------------------------------------


def test_workbook_is_readable(tmp_path, study, reports):
    path = export_workbook(study, tmp_path / "study.xlsx", reports=reports)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:6] == ["Study", "Scores", "Level positions", "Likert", "Timing", "AI results"]
    assert {"Observer study", "AI performance", "Likert summary", "Explainability", "Columns"} <= set(
        wb.sheetnames
    )
    scores = wb["Scores"]
    header = scores[1]
    assert header[0].value == "case"
    assert all(c.font.bold for c in header)
    assert header[0].fill.fgColor.rgb.endswith("DDE6F0")
    assert scores.freeze_panes == "A2"
    assert scores.auto_filter.ref.startswith("A1:")
    assert scores.column_dimensions["A"].width >= len("case")
    entered = next(c for c in header if c.value == "entered_at").column
    assert scores.cell(row=2, column=entered).is_date
    table6 = wb["Observer study"]
    cols = [c.value for c in table6[1]]
    mae_col = cols.index("TOT MAE") + 1
    assert table6.cell(row=2, column=mae_col).number_format == "0.00"
    p_col = cols.index("TOT p vs AI") + 1
    reader_row = next(
        r for r in range(2, table6.max_row + 1) if table6.cell(r, 1).value == "Reader vs ground truth"
    )
    assert table6.cell(reader_row, p_col).number_format == "0.0000"
    study_sheet = {r[0]: r[1] for r in wb["Study"].iter_rows(values_only=True) if r and r[0]}
    assert study_sheet["Audit-chain head"] == "ab" * 32
    assert study_sheet["Software"].startswith("SSc Scoring Workstation")
    assert "Research software" in study_sheet["Notice"]
    assert "Session" in study_sheet  # the sessions block
    codebook = wb["Columns"]
    assert any(r[1] == "z_mm" and "LPS" in r[2] for r in codebook.iter_rows(values_only=True))


def test_not_estimable_figures_are_empty_cells_with_the_reason(tmp_path):
    st = simulate_study(n_cases=1, readers={"A": 2.0}, sessions=("S1",), ai_noise=None, seed=2)
    path = export_workbook(st, tmp_path / "one.xlsx")
    ws = openpyxl.load_workbook(path)["Observer study"]
    cols = [c.value for c in ws[1]]
    row = [c.value for c in ws[2]]
    assert row[cols.index("TOT ICC")] is None
    assert "only 1 case" in row[cols.index("Notes")]


# --- atomic writes ---------------------------------------------------------------------------------------


def _leftovers(folder: Path, name: str) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(f".{name}.")]


def test_failure_mid_write_keeps_the_old_file(tmp_path, study, reports, monkeypatch):
    target = tmp_path / "study.xlsx"
    export_workbook(study, target, reports=reports)
    before = target.read_bytes()
    real = export_mod._write_frame
    calls = {"n": 0}

    def failing(wb, name, frame, cancel):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk pulled out")
        return real(wb, name, frame, cancel)

    monkeypatch.setattr(export_mod, "_write_frame", failing)
    with pytest.raises(RuntimeError, match="disk pulled out"):
        export_workbook(study, target, reports=reports)
    assert target.read_bytes() == before
    assert not _leftovers(tmp_path, target.name)


def test_cancel_keeps_the_old_file(tmp_path, study, reports):
    target = tmp_path / "study.xlsx"
    export_workbook(study, target, reports=reports)
    before = target.read_bytes()
    token = CancelToken()

    def cancel_at_sheet_four(p):
        if p.done == 4:
            token.cancel()

    with pytest.raises(Cancelled):
        export_workbook(study, target, reports=reports, progress=cancel_at_sheet_four, cancel=token)
    assert target.read_bytes() == before


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
def test_killed_process_leaves_old_or_new_never_broken(tmp_path, study):
    target = tmp_path / "study.xlsx"
    export_workbook(study, target, with_reports=False)
    before = target.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, signal
        from ssc_core.analysis.export import export_workbook
        from ssc_core.analysis.simulate import simulate_study

        st = simulate_study(n_cases=30, seed=9)

        def die(p):
            if p.done == 3:  # in the middle of writing the sheets
                os.kill(os.getpid(), signal.SIGKILL)

        export_workbook(st, {str(target)!r}, with_reports=False, progress=die)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert done.returncode == -9
    assert target.read_bytes() == before
    _assert_tables_equal(read_workbook(target), read_workbook(target))  # still a readable workbook


def test_write_errors_are_clear(tmp_path, study):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="Could not write"):
        export_workbook(study, blocker / "sub" / "study.xlsx", with_reports=False)
    with pytest.raises(ExportError, match=r"must end in \.xlsx"):
        export_workbook(study, tmp_path / "study.xls", with_reports=False)
    with pytest.raises(ExportError, match="is a file"):
        export_csv(study, blocker, with_reports=False)


# --- patient identifiers ---------------------------------------------------------------------------------


def test_planted_identifier_refuses_the_export(tmp_path, study):
    name, pid = "Mustermann^Erika", "PID-4711-0815"
    planted = StudyTables(
        ratings=study.ratings,
        levels=study.levels,
        likert=study.likert,
        timing=study.timing,
        ai=study.ai,
        description=StudyDescription(title=f"Study of {name}"),
    )
    target = tmp_path / "study.xlsx"
    with pytest.raises(ExportError, match="patient identifier") as err:
        export_workbook(planted, target, with_reports=False, forbidden=[name, pid])
    assert name not in str(err.value)
    assert pid not in str(err.value)
    assert not target.exists()
    ratings = study.ratings.copy()
    ratings.loc[0, "case"] = pid
    leaky = StudyTables.build(ratings=ratings)
    with pytest.raises(ExportError, match="sheet Scores, column case"):
        export_csv(leaky, tmp_path / "csv", with_reports=False, forbidden=[pid.lower()])
    assert not (tmp_path / "csv").exists()
    # Without a forbidden text the same export goes through.
    export_workbook(study, target, with_reports=False, forbidden=[pid])
    assert target.is_file()


# --- refusals on reading ---------------------------------------------------------------------------------


def test_reading_foreign_files_is_refused(tmp_path, study):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    with pytest.raises(ImportFormatError, match="not a readable"):
        read_workbook(junk)
    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Sheet1"
    wb.save(other)
    with pytest.raises(ImportFormatError, match="no 'Scores' sheet"):
        read_workbook(other)
    with pytest.raises(ImportFormatError, match=r"no scores\.csv"):
        read_csv_tables(tmp_path)
    path = export_workbook(study, tmp_path / "s.xlsx", with_reports=False)
    wb = openpyxl.load_workbook(path)
    wb["Scores"]["G5"] = 33
    wb.save(path)
    with pytest.raises(AnalysisError, match=r"row 5, score: 33 is not 0\.\.100"):
        read_workbook(path)
