"""``ssc stats`` and ``ssc export`` on exported studies."""

from __future__ import annotations

import pytest

from ssc_core.analysis.export import export_workbook, read_csv_tables, read_workbook
from ssc_core.analysis.simulate import simulate_study
from ssc_core.cli import main


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    st = simulate_study(n_cases=14, readers={"A": 2.0, "B": 5.0}, seed=4)
    return export_workbook(st, tmp_path_factory.mktemp("cli") / "study.xlsx", with_reports=False)


def test_stats_prints_the_report_tables(exported, capsys):
    assert main(["stats", str(exported)]) == 0
    out = capsys.readouterr().out
    assert "Observer study (Table 6 layout)" in out
    assert "A vs B (S1)" in out
    assert "AI (cascade-sim) vs Consensus (GT)" in out
    assert "L5" not in out.split("AI performance")[0]  # pooled observer rows only by default
    assert main(["stats", str(exported), "--per-level"]) == 0
    assert "L5" in capsys.readouterr().out.split("AI performance")[0]


def test_export_to_xlsx_csv_and_authors_formats(exported, tmp_path, capsys):
    assert main(["export", str(exported), "--out", str(tmp_path / "copy.xlsx")]) == 0
    back = read_workbook(tmp_path / "copy.xlsx")
    assert len(back.ratings) == len(read_workbook(exported).ratings)
    assert main(["export", str(exported), "--out", str(tmp_path / "csv"), "--csv", "--decimal-comma"]) == 0
    assert (tmp_path / "csv" / "scores.csv").read_text(encoding="utf-8-sig").startswith("case;rater_kind;")
    assert len(read_csv_tables(tmp_path / "csv").ratings) == len(back.ratings)
    assert (
        main(["export", str(exported), "--out", str(tmp_path / "A.xlsx"), "--label-workbook", "A (S1)"]) == 0
    )
    assert (tmp_path / "A.xlsx").is_file()
    capsys.readouterr()


def test_clear_errors(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "missing.xlsx")]) == 2
    assert "No such file" in capsys.readouterr().err
    junk = tmp_path / "study.sscstudy"
    junk.write_bytes(b"not a study at all" * 100)
    assert main(["stats", str(junk)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:")
    assert "study" in err
