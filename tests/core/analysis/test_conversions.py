"""Study tables to and from the authors' label workbook and Likert JSON."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ssc_core.analysis.authors_formats import read_label_workbook, read_likert_json
from ssc_core.analysis.conversions import (
    export_label_workbook,
    export_likert_json,
    label_rows,
    likert_table_from_records,
    tables_from_label_rows,
)
from ssc_core.analysis.simulate import simulate_study
from ssc_core.constants import Level
from ssc_core.errors import AnalysisError


@pytest.fixture(scope="module")
def study():
    return simulate_study(n_cases=6, likert_readers=("A",), seed=11)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_session_to_the_wide_workbook_and_back(tmp_path, study, suffix):
    path = export_label_workbook(
        study.ratings, study.levels, "Consensus (GT)", tmp_path / f"GohScores{suffix}"
    )
    rows = read_label_workbook(path)  # the authors' reader accepts it: grid, union rule, level order
    assert [r.pat_id for r in rows] == [f"C{i:03d}" for i in range(1, 7)]
    ratings, levels = tables_from_label_rows(rows, kind="consensus", reader="Consensus", session="GT")
    key = ["case", "level", "pattern"]
    orig = study.ratings[study.ratings["rater"] == "Consensus (GT)"]
    merged = orig.merge(ratings, on=key, suffixes=("", "_back"))
    assert len(merged) == len(orig) == len(ratings)
    assert (merged["score"] == merged["score_back"]).all()
    zs = study.levels[study.levels["rater"] == "Consensus (GT)"].merge(levels, on=["case", "level"])
    assert zs["z_mm_x"].tolist() == pytest.approx(zs["z_mm_y"].tolist())
    assert set(ratings["rater"]) == {"Consensus (GT)"}


def test_missing_scores_stay_empty(study):
    r = study.ratings.copy()
    mask = (r["rater"] == "A (S1)") & (r["case"] == "C002") & (r["level"] == 3)
    r.loc[mask, "score"] = float("nan")
    rows = label_rows(r, study.levels, "A (S1)")
    row = next(x for x in rows if x.pat_id == "C002")
    assert row.scores[Level.L3].tot is None
    assert row.scores[Level.L2].tot is not None
    with pytest.raises(AnalysisError, match="No scores of 'Nobody'"):
        label_rows(r, study.levels, "Nobody")


def test_likert_json_both_ways(tmp_path, study):
    path = export_likert_json(study.likert, "A (HM)", tmp_path / "ratings.json")
    raw = json.loads(path.read_text())
    assert set(raw[0]) == {"Index", "Pat_ID", "Level", "TOT", "GG", "RET", "Status"}
    assert raw[0]["Status"] == "Done"
    back = likert_table_from_records(read_likert_json(path), reader="A", session="HM")
    pd.testing.assert_frame_equal(
        study.likert.sort_values(["case", "level", "pattern"]).reset_index(drop=True)[
            ["case", "level", "pattern", "rating"]
        ],
        back.sort_values(["case", "level", "pattern"]).reset_index(drop=True)[
            ["case", "level", "pattern", "rating"]
        ],
    )
