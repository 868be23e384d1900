"""Statistics and exports of a real study file: admin tables, a blinded reader's export, no identifiers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from ssc_core.analysis.export import export_csv, export_workbook, read_export
from ssc_core.analysis.from_store import (
    bundle_name,
    forbidden_texts,
    reader_view_tables,
    study_tables,
)
from ssc_core.analysis.reports import compute_reports
from ssc_core.cli import main
from ssc_core.constants import LEVELS, PATTERNS
from ssc_core.errors import ExportError
from ssc_core.study.clock import ManualClock
from ssc_core.study.store import create_study, open_study
from tests.core.study.helpers import (
    PLANTED_FOLDER,
    PLANTED_IDENTITY_STRINGS,
    fill_ratings,
    fill_reading,
    make_source,
)

BUNDLE = "ab12" * 16
N_CASES = 6


def _build(path: Path) -> Path:
    """A study with planted identifiers: consensus GT, observer S1 (A, B), assisted S2 (A), heat maps."""
    clock = ManualClock()
    store = create_study(path, name="Store study", admin="Admin", clock=clock)
    admin = store.reader_by_name("Admin").id
    a = store.add_reader("Reader A", by=admin).id
    b = store.add_reader("Reader B", by=admin).id
    cases = store.add_cases([make_source(i, planted=True) for i in range(N_CASES)], by=admin)
    codes = [c.code for c in cases]
    for i, c in enumerate(cases):
        store.put_ai_result(
            c.id,
            BUNDLE,
            levels={lv: (100.0 - 20.0 * n + 1.5, 10 + 8 * n) for n, lv in enumerate(LEVELS)},
            scores={lv: {"TOT": 5.0 * i + 17.2, "GG": 5.0 * i + 11.1, "RET": 4.2} for lv in LEVELS},
            details={
                "heatmap_scores": {
                    lv.label: {"TOT": 5.0 * i + 16 + n, "GG": 5.0 * i + 10, "RET": 3.0 + n}
                    for n, lv in enumerate(LEVELS)
                },
                "heatmap_threshold": -0.6,
            },
            heatmaps={(lv, p): np.zeros((4, 4), dtype=np.float32) for lv in LEVELS for p in PATTERNS},
        )

    def session(label, kind, readers, **kw):
        s = store.add_session(label, kind, readers, by=admin, **kw)
        store.open_session(s.id, by=admin)
        return s.id

    gt = session("GT", "consensus", [a])
    s1 = session("S1", "observer", [a, b])
    for i, code in enumerate(codes):
        fill_reading(store, gt, a, code, base=5 * i + 10)
        store.submit(gt, a, code)
        fill_reading(store, s1, a, code, base=5 * i + 10 + (5 if i % 2 else 0))
        store.add_time(s1, a, code, 300.0 + i)
        store.submit(s1, a, code)
        fill_reading(store, s1, b, code, base=5 * i + 15)
        if i < N_CASES - 1:  # B leaves the last case unfinished
            store.submit(s1, b, code)
    s2 = session("S2", "observer", [a], ai_policy="after-commit")
    for i, code in enumerate(codes):
        fill_reading(store, s2, a, code, base=5 * i + 10)
        store.commit_unaided(s2, a, code)
        store.set_score(s2, a, code, 1, "GG", 5 * i + 15)  # revised after seeing the AI
        store.set_score(s2, a, code, 1, "TOT", 5 * i + 20)
        store.submit(s2, a, code)
    hm = session("HM", "heatmap", [b])
    for code in codes:
        fill_ratings(store, hm, b, code, value=4)
        store.submit(hm, b, code)
    store.close()
    return path


@pytest.fixture(scope="module")
def study_file(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("store") / "study.sscstudy")


@pytest.fixture(scope="module")
def tables(study_file):
    with open_study(study_file, readonly=True) as store:
        return study_tables(store)


def test_admin_tables_hold_every_reading(tables, study_file):
    raters = set(tables.ratings["rater"])
    assert raters == {
        "Consensus (GT)",
        "Reader A (S1)",
        "Reader B (S1)",
        "Reader A (S2)",
        "Reader A (S2, assisted)",
    }
    r = tables.ratings
    gt_tot = r[(r["rater"] == "Consensus (GT)") & (r["pattern"] == "TOT") & (r["level"] == 1)]
    assert sorted(gt_tot["score"]) == [5.0 * i + 15 for i in range(N_CASES)]
    unfinished = r[(r["rater"] == "Reader B (S1)") & ~r["finished"]]
    assert unfinished["case"].nunique() == 1
    assisted = r[(r["rater"] == "Reader A (S2, assisted)") & (r["level"] == 1) & (r["pattern"] == "TOT")]
    assert sorted(assisted["score"]) == [5.0 * i + 20 for i in range(N_CASES)]
    assert set(tables.likert["rater"]) == {"Reader B (HM)"}
    assert (tables.likert["rating"] == 4).all()
    ai = tables.ai
    assert set(ai["bundle"]) == {bundle_name(BUNDLE)}
    first = ai[(ai["level"] == 1) & (ai["pattern"] == "TOT")].sort_values("output").iloc[0]
    assert first["output"] == pytest.approx(17.2)
    assert first["score"] == 15  # rounded to the grid, then made consistent with GG 10 + RET 5
    assert first["heatmap_score"] == 16
    assert set(tables.levels["rater_kind"]) == {"consensus", "reader", "ai"}
    with open_study(study_file, readonly=True) as store:
        assert tables.description.audit_head == store.audit_head
    assert any(BUNDLE in n for n in tables.description.notes)
    timing = tables.timing
    assert timing[(timing["rater"] == "Reader A (S1)") & (timing["scope"] == "case")]["seconds"].min() == 300


def test_reports_of_a_study_file(tables):
    reports = compute_reports(tables)
    table6 = reports.observer_table.set_index("Comparison")
    assert "Reader A vs Reader B (S1)" in table6.index
    assert "Reader A: S1 vs S2" in table6.index
    assert "Reader A (S2): unaided vs assisted" in table6.index
    row = table6.loc["Reader A vs Reader B (S1)"]
    assert row["TOT n cases"] == N_CASES - 1  # B's unfinished case is left out ...
    assert "not finished" in row["Notes"]  # ... and said so
    assert reports.ground_truth == "Consensus (GT)"
    assert reports.ai_reference == f"AI ({bundle_name(BUNDLE)})"
    assert not reports.explainability.empty
    fit = reports.explainability.set_index("pattern")
    assert fit.loc["TOT", "r_squared"] > 0.9
    assert np.isnan(fit.loc["RET", "r_squared"])  # the RET output is the same everywhere here
    assert "no variance" in fit.loc["RET", "note"]


def test_ai_level_positions_are_compared(tables):
    ai_rows = tables.levels[tables.levels["rater_kind"] == "ai"]
    assert len(ai_rows) == N_CASES * len(LEVELS)
    assert ai_rows["finished"].all()  # a cached AI result is complete, like a submitted reading
    positions = compute_reports(tables).positions
    ai = positions[positions["rater_a"] == f"AI ({bundle_name(BUNDLE)})"].set_index("level")
    assert ai.loc["L1", "n_obs"] == N_CASES
    assert ai.loc["L1", "mae_mm"] == pytest.approx(1.5)  # AI at 100 - 20 n + 1.5 mm, consensus at 100 - 20 n


def _all_text(path: Path) -> str:
    if path.is_dir():
        return "\n".join(p.read_text(encoding="utf-8-sig") for p in path.iterdir())
    with zipfile.ZipFile(path) as zf:
        return "\n".join(zf.read(n).decode("utf-8", errors="replace") for n in zf.namelist())


def test_exports_never_contain_a_patient_identifier(tmp_path, study_file, tables):
    with open_study(study_file, readonly=True) as store:
        forbidden = forbidden_texts(store)
        view_tables = reader_view_tables(
            store.reader_view(store.session_by_label("S1").id, store.reader_by_name("Reader A").id)
        )
    assert any(PLANTED_FOLDER in f for f in forbidden)
    assert "scans" not in forbidden  # shared by every case: identifies nobody
    outputs = [
        export_workbook(tables, tmp_path / "admin.xlsx", forbidden=forbidden),
        export_csv(tables, tmp_path / "admin_csv", forbidden=forbidden),
        export_workbook(view_tables, tmp_path / "reader.xlsx", with_reports=False, forbidden=forbidden),
    ]
    for out in outputs:
        text = _all_text(out)
        assert "C-" in text  # case codes are there ...
        for planted in (*PLANTED_IDENTITY_STRINGS, PLANTED_FOLDER, "/scans"):
            assert planted not in text, (out.name, planted)  # ... identifiers and scan locations never


def test_export_refuses_a_leaked_source_name(tmp_path, study_file, tables):
    with open_study(study_file, readonly=True) as store:
        forbidden = forbidden_texts(store)
    leaked = tables.ratings.copy()
    leaked.loc[0, "session"] = f"{PLANTED_FOLDER}_0"
    from ssc_core.analysis.tables import StudyTables

    bad = StudyTables.build(ratings=leaked.drop(columns="rater"))
    with pytest.raises(ExportError, match="patient identifier") as err:
        export_workbook(bad, tmp_path / "x.xlsx", with_reports=False, forbidden=forbidden)
    assert PLANTED_FOLDER not in str(err.value)
    assert not (tmp_path / "x.xlsx").exists()


def test_blinded_reader_export_holds_only_their_own_readings(tmp_path, study_file, capsys):
    out = tmp_path / "b.xlsx"
    assert (
        main(["export", str(study_file), "--out", str(out), "--reader", "Reader B", "--session", "S1"]) == 0
    )
    back = read_export(out)
    assert set(back.ratings["rater"]) == {"Reader B (S1)"}
    assert set(back.levels["rater"]) == {"Reader B (S1)"}
    assert back.ai.empty
    assert back.likert.empty
    assert back.ratings["case"].nunique() == N_CASES
    assert (~back.ratings["finished"]).sum() == 15  # the unfinished case, 5 levels x 3 patterns
    assert "Reader B, session S1" in back.description.exported_for
    text = _all_text(out)
    assert "Reader A" not in text
    assert "Consensus" not in text
    assert bundle_name(BUNDLE) not in text
    import openpyxl

    assert "Observer study" not in openpyxl.load_workbook(out, read_only=True).sheetnames
    capsys.readouterr()


def test_cli_stats_and_export_of_a_study_file(tmp_path, study_file, capsys):
    assert main(["stats", str(study_file)]) == 0
    out = capsys.readouterr().out
    assert "Study report: Store study" in out
    assert "Reader A vs Reader B (S1)" in out
    assert main(["export", str(study_file), "--out", str(tmp_path / "all.xlsx")]) == 0
    back = read_export(tmp_path / "all.xlsx")
    assert back.description.audit_head
    assert main(["export", str(study_file), "--out", str(tmp_path / "c.zip"), "--csv"]) == 0
    assert (tmp_path / "c.zip").is_file()
    assert main(["export", str(study_file), "--out", str(tmp_path / "x.xlsx"), "--reader", "Reader B"]) == 2
    assert "needs both --reader NAME and --session LABEL" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                str(study_file),
                "--out",
                str(tmp_path / "y.xlsx"),
                "--reader",
                "Reader A",
                "--session",
                "HM",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.startswith("error:")
