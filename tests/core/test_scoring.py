"""Score and level rules (DOMAIN.md section 1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssc_core.constants import SCORE_GRID, Level
from ssc_core.errors import ScoreRuleError
from ssc_core.scoring import (
    LevelPlacement,
    LevelScores,
    check_levels,
    check_scores,
    goh_stage,
    is_consistent,
    l4_midpoint_z,
    level_violations,
    make_consistent,
    patient_summary,
    round_to_grid,
    score_violations,
    value_violation,
)

grid = st.sampled_from(SCORE_GRID)


def codes(scores: LevelScores) -> set[str]:
    return {v.code for v in score_violations(scores)}


@pytest.mark.parametrize("value", [0, 5, 50, 100])
def test_grid_values_are_valid(value):
    assert value_violation("TOT", value) is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (3, "score_grid"),
        (-5, "score_range"),
        (105, "score_range"),
        (12.5, "score_grid"),
        ("x", "score_not_number"),
    ],
)
def test_off_grid_and_out_of_range_are_named(value, code):
    v = value_violation("GG", value)
    assert v is not None
    assert v.code == code
    assert v.field == "GG"


def test_union_rule_examples():
    assert codes(LevelScores(30, 20, 10)) == set()
    assert codes(LevelScores(20, 20, 10)) == set()  # full overlap of RET inside GG
    assert codes(LevelScores(15, 20, 10)) == {"tot_below_component"}
    assert codes(LevelScores(35, 20, 10)) == {"tot_above_union"}
    assert codes(LevelScores(100, 60, 60)) == set()  # union capped at 100
    assert codes(LevelScores(0, 0, 0)) == set()


def test_partial_entry_only_checks_what_is_there():
    assert codes(LevelScores(10, None, None)) == set()
    assert codes(LevelScores(10, 20, None)) == {"tot_below_component"}
    with pytest.raises(ScoreRuleError, match="RET is not entered"):
        check_scores(LevelScores(10, 10, None))


@given(grid, grid, grid)
def test_consistency_matches_definition(tot, gg, ret):
    expected = max(gg, ret) <= tot <= min(100, gg + ret)
    assert is_consistent(tot, gg, ret) == expected


@given(grid, grid, grid)
def test_make_consistent_yields_a_consistent_triple(tot, gg, ret):
    t, g, r = make_consistent(tot, gg, ret)
    assert (g, r) == (gg, ret)
    assert is_consistent(t, g, r)


@pytest.mark.parametrize(
    ("raw", "expected"), [(-3.0, 0), (2.4, 0), (2.5, 5), (7.49, 5), (97.6, 100), (140.0, 100), (52.5, 55)]
)
def test_round_to_grid(raw, expected):
    assert round_to_grid(raw) == expected


def test_levels_order_and_distinct():
    ok = {lv: LevelPlacement(lv, 100.0 - 20 * lv, 10 * lv) for lv in Level}
    assert level_violations(ok) == []
    check_levels(ok)
    swapped = dict(ok)
    swapped[Level.L2] = LevelPlacement(Level.L2, 10.0, 45)  # below L3
    vs = level_violations(swapped)
    assert {v.code for v in vs} == {"level_order"}
    assert any("L3" in v.message and "L2" in v.message for v in vs)
    same = dict(ok)
    same[Level.L4] = LevelPlacement(Level.L4, ok[Level.L3].world_z, ok[Level.L3].slice_index)
    assert "level_not_distinct" in {v.code for v in level_violations(same)}
    with pytest.raises(ScoreRuleError, match="L5 is not placed"):
        check_levels({lv: p for lv, p in ok.items() if lv != Level.L5})


def test_l4_midpoint_and_summary():
    assert l4_midpoint_z(-50.0, -150.0) == -100.0
    levels = {lv: LevelScores(5 * lv, 5 * lv, 0) for lv in Level}
    s = patient_summary(levels)
    assert s.global_tot == 15.0
    assert s.goh_stage == "limited"
    assert goh_stage(20.0) == "limited"
    assert goh_stage(20.5) == "extensive"
    assert patient_summary({Level.L1: LevelScores(10, 10, 0)}).global_tot is None


def test_level_parse():
    assert Level.parse("L3") is Level.L3
    assert Level.parse(5) is Level.L5
    assert Level.parse("2") is Level.L2
    with pytest.raises(ValueError, match="not a level"):
        Level.parse("L6")
