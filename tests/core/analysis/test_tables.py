"""The long-format tables: schema, coercion and refusals."""

from __future__ import annotations

import pandas as pd
import pytest

from ssc_core.analysis.tables import (
    StudyTables,
    ai_ratings,
    ai_table,
    level_table,
    likert_table,
    rater_id,
    raters,
    ratings_table,
    sessions,
    timing_table,
)
from ssc_core.errors import AnalysisError


def _score(**kw):
    row = {
        "case": "C1",
        "rater_kind": "reader",
        "reader": "A",
        "session": "S1",
        "level": 1,
        "pattern": "TOT",
        "score": 10,
    }
    row.update(kw)
    return row


def test_rater_ids():
    assert rater_id("reader", "A", "S1") == "A (S1)"
    assert rater_id("consensus", "", "GT") == "Consensus (GT)"
    assert rater_id("ai", "cascade-v1") == "AI (cascade-v1)"
    assert rater_id("reader", "A", "S2", assisted=True) == "A (S2, assisted)"
    assert rater_id("ai", "b", assisted=True) == "AI (b)"


def test_defaults_and_coercion():
    t = ratings_table(
        [
            _score(level="L2", pattern="gg", score="15"),
            _score(level=3.0, score="12,5".replace("12,5", "10")),
            _score(rater_kind="Consensus", reader="", session="GT", score=None),
        ]
    )
    assert list(t.columns[:5]) == ["case", "rater", "rater_kind", "reader", "session"]
    assert t["level"].tolist() == [2, 3, 1]
    assert t["pattern"].tolist() == ["GG", "TOT", "TOT"]
    assert t["score"].iloc[0] == 15.0
    assert pd.isna(t["score"].iloc[2])
    assert t["rater"].tolist() == ["A (S1)", "A (S1)", "Consensus (GT)"]
    assert t["finished"].all()
    assert not t["assisted"].any()
    assert str(t["entered_at"].dt.tz) == "UTC"


def test_timestamps_become_utc():
    t = ratings_table(
        [_score(entered_at="2024-03-04T09:00:00+01:00"), _score(level=2, entered_at="2024-03-04 08:30")]
    )
    assert t["entered_at"].iloc[0] == pd.Timestamp("2024-03-04T08:00:00Z")
    assert t["entered_at"].iloc[1] == pd.Timestamp("2024-03-04T08:30:00Z")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (_score(score=33), r"row 2, score: 33 is not 0..100 in steps of 5"),
        (_score(score=105), r"105 is not 0..100"),
        (_score(score="abc"), r"score: not a number \('abc'\)"),
        (_score(level=6), r"level: 6 is not a level"),
        (_score(pattern="HC"), r"'HC' is not TOT, GG or RET"),
        (_score(rater_kind="robot"), r"'robot' is not reader, consensus or ai"),
        (_score(reader=""), r"empty reader name"),
        (_score(session=""), r"session label is empty"),
        (_score(case=" "), r"empty case code"),
        (_score(rater="B (S1)"), r"'B \(S1\)' does not match its kind, reader and session"),
        (_score(finished="maybe"), r"finished: expected yes/no"),
        (_score(entered_at="yesterday"), r"entered_at: not a date and time"),
    ],
)
def test_refusals_name_row_and_column(row, message):
    with pytest.raises(AnalysisError, match=message):
        ratings_table([_score(level=5, pattern="RET"), row])


def test_row_numbers_and_duplicates():
    with pytest.raises(AnalysisError, match=r"rows 3, 4, 5, 6, 7 and 2 more, score: 1 is not"):
        ratings_table(
            [
                _score(),
                _score(level=2),
                _score(level=3, score=1),
                _score(level=4, score=2),
                _score(level=5, score=3),
                _score(pattern="GG", score=4),
                _score(pattern="GG", level=2, score=6),
                _score(pattern="GG", level=3, score=7),
                _score(pattern="GG", level=4, score=8),
            ]
        )
    with pytest.raises(AnalysisError, match=r"row 2: a second entry for rater A \(S1\), case C1, level 1"):
        ratings_table([_score(), _score(score=20)])
    with pytest.raises(AnalysisError, match=r"row 3, score"):
        ratings_table([_score(), _score(score=7)], row_offset=2)


def test_missing_and_unknown_columns():
    with pytest.raises(AnalysisError, match=r"missing column.*score"):
        ratings_table([{k: v for k, v in _score().items() if k != "score"}])
    with pytest.raises(AnalysisError, match=r"unknown column.*comment"):
        ratings_table([_score(comment="x")])
    assert "comment" not in ratings_table([_score(comment="x")], extra_columns="ignore").columns


def test_rater_ids_must_be_unique():
    # A reader literally named "AI" with session "cascade" would collide with the AI bundle "cascade"? No:
    # AI ids read "AI (bundle)", readers "name (session)"; a clash is still refused if constructed.
    with pytest.raises(AnalysisError, match="share the id"):
        ratings_table(
            [_score(reader="AI", session="x"), _score(rater_kind="ai", reader="x", session="", level=2)]
        )


def test_other_tables():
    lv = level_table(
        [
            {
                "case": "C1",
                "rater_kind": "consensus",
                "reader": "",
                "session": "GT",
                "level": 1,
                "z_mm": "-12,5",
            }
        ]
    )
    assert lv["z_mm"].iloc[0] == -12.5
    assert pd.isna(lv["slice_index"].iloc[0])
    with pytest.raises(AnalysisError, match="level position missing"):
        level_table(
            [{"case": "C1", "rater_kind": "reader", "reader": "A", "session": "S1", "level": 1, "z_mm": None}]
        )
    lk = likert_table([{k: v for k, v in _score().items() if k != "score"} | {"rating": "5"}])
    assert lk["rating"].iloc[0] == 5
    with pytest.raises(AnalysisError, match=r"6 is not 1\.\.5"):
        likert_table([{k: v for k, v in _score().items() if k != "score"} | {"rating": 6}])
    tm = timing_table(
        [{"case": "C1", "rater_kind": "reader", "reader": "A", "session": "S1", "scope": "l2", "seconds": 30}]
    )
    assert tm["scope"].iloc[0] == "L2"
    with pytest.raises(AnalysisError, match="duration"):
        timing_table([{"case": "C1", "rater_kind": "reader", "reader": "A", "session": "S1", "seconds": -1}])
    ai = ai_table([{"case": "C1", "bundle": "b", "level": 1, "pattern": "TOT", "output": 12.3, "score": 10}])
    assert pd.isna(ai["heatmap_score"].iloc[0])
    r = ai_ratings(ai)
    assert r["rater"].iloc[0] == "AI (b)"
    assert r["score"].iloc[0] == 10


def test_raters_and_sessions_in_order_of_appearance():
    t = ratings_table(
        [
            _score(reader="B", session="S2"),
            _score(reader="A", session="S1", assisted=True),
            _score(rater_kind="consensus", reader="", session="GT"),
            _score(reader="A", session="S2"),
        ]
    )
    ids = [r.id for r in raters(t)]
    assert ids == ["B (S2)", "A (S1, assisted)", "Consensus (GT)", "A (S2)"]
    assert raters(t)[1].assisted
    assert sessions(t) == ["S2", "S1"]


def test_study_description_is_derived_from_the_tables():
    st = StudyTables.build(
        ratings=[_score(), _score(reader="B"), _score(rater_kind="consensus", reader="", session="GT")]
    )
    d = st.described()
    assert d.readers == ("A", "B")
    kinds = {(s.label, s.kind) for s in d.sessions}
    assert kinds == {("S1", "observer"), ("GT", "consensus")}
    assert next(s for s in d.sessions if s.label == "S1").readers == ("A", "B")
