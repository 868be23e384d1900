"""``ssc study ...`` end to end: clear output, non-zero exit on every refusal."""

from __future__ import annotations

import sqlite3

import pytest

from ssc_core.analysis.authors_formats import LabelRow, write_label_workbook
from ssc_core.cli import main
from ssc_core.constants import LEVELS
from ssc_core.scoring import LevelScores
from ssc_core.study.store import open_study
from tests.core.study.helpers import PLANTED_FOLDER, PLANTED_IDENTITY_STRINGS, make_source


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["study", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cli_study(tmp_path, capsys):
    path = tmp_path / "trial.sscstudy"
    code, out, _ = run(capsys, "create", tmp_path / "trial", "--name", "SSc trial", "--admin", "Ada")
    assert code == 0
    assert "Created study 'SSc trial'" in out
    with open_study(path) as store:  # cases come from scans (the loader); here from source records
        store.add_cases([make_source(i, tmp_path / "PACS", planted=True) for i in range(1, 4)], by=1)
    return path


def test_study_lifecycle(cli_study, capsys):
    p = cli_study
    assert run(capsys, "add-reader", p, "Bo")[0] == 0
    assert run(capsys, "add-reader", p, "Cy", "--role", "admin")[0] == 0
    code, _, err = run(capsys, "add-session", p, "T1", "--kind", "observer", "--readers", "Bo,Cy")
    assert code == 2
    assert "several admins" in err
    code, out, _ = run(
        capsys, "add-session", p, "T1", "--kind", "observer", "--readers", "Bo,Cy", "--as", "Ada"
    )
    assert code == 0
    assert "3 case(s)" in out
    assert "blinded" in out
    assert run(capsys, "open-session", p, "T1", "--as", "Ada")[0] == 0
    code, out, _ = run(
        capsys,
        "add-session",
        p,
        "T2",
        "--kind",
        "observer",
        "--readers",
        "Bo",
        "--repeat-of",
        "T1",
        "--as",
        "Cy",
    )
    assert code == 0
    code, out, _ = run(capsys, "status", p)
    assert code == 0
    assert "T1: observer, open, blinded, AI hidden" in out
    assert "T2: observer, planned" in out
    assert "Bo: 0/3 submitted" in out
    assert "Cases: 3" in out
    code, out, _ = run(capsys, "verify", p)
    assert code == 0
    assert "Audit chain intact" in out
    head = out.split("head ")[1].strip().rstrip(".")
    code, out, _ = run(capsys, "cases", p)
    assert code == 0
    assert out.count("C-") == 3
    for s in (*PLANTED_IDENTITY_STRINGS, PLANTED_FOLDER):
        assert s not in out
    code, out, _ = run(capsys, "cases", p, "--sources")
    assert PLANTED_FOLDER in out  # only on explicit request (admin)
    backup = p.with_name("copy.sscstudy")
    code, out, _ = run(capsys, "backup", p, backup)
    assert code == 0
    assert backup.exists()
    assert run(capsys, "verify", backup, "--expect-head", head)[0] == 0
    assert run(capsys, "backup", p, backup)[0] == 2  # never overwrites


def test_verify_fails_on_tampering(cli_study, capsys):
    p = cli_study
    raw = sqlite3.connect(p)
    raw.execute("UPDATE case_ SET code = 'C-AAAAAAAAAA' WHERE id = 1")
    raw.commit()
    raw.close()
    code, out, err = run(capsys, "verify", p)
    assert code == 2
    assert "BROKEN" in out
    assert "case_ [1]: code differs" in out
    assert "does not verify" in err


def test_expect_head_detects_rewritten_history(cli_study, capsys):
    p = cli_study
    code, out, _ = run(capsys, "verify", p, "--expect-head", "3:" + "ab" * 32)
    assert code == 2
    assert "not in the chain" in out


def test_import_labels_errors_name_row_and_field(cli_study, capsys, tmp_path):
    p = cli_study
    rows = [
        LabelRow(
            f"{i:03d}",
            {lv: 150.0 - 20 * int(lv) for lv in LEVELS},
            {lv: LevelScores(15, 10, 5) for lv in LEVELS},
        )
        for i in (1, 2, 9)
    ]
    book = write_label_workbook(rows, tmp_path / "GohScores.xlsx")
    code, _, err = run(capsys, "import-labels", p, book)
    assert code == 2
    assert "row 4, PatID" in err
    assert "nothing was imported" in err
    book = write_label_workbook(rows[:2], tmp_path / "GohScores.xlsx")
    code, out, _ = run(capsys, "import-labels", p, book, "--reader", "Consensus")
    assert code == 0
    assert "2 case(s)" in out
    assert "GT" in out
    code, out, _ = run(capsys, "status", p)
    assert "GT: consensus, closed" in out
    assert "Consensus: 2/2 submitted" in out


def test_refusals_exit_non_zero(tmp_path, capsys):
    foreign = tmp_path / "other.sscstudy"
    sqlite3.connect(foreign).execute("CREATE TABLE x (y)").connection.commit()
    code, _, err = run(capsys, "status", foreign)
    assert code == 2
    assert "another program" in err
    code, _, err = run(capsys, "status", tmp_path / "none.sscstudy")
    assert code == 2
    assert "no study file" in err
    assert run(capsys, "create", foreign, "--name", "x")[0] == 2  # exists
    assert run(capsys)[0] == 1  # no action: help
