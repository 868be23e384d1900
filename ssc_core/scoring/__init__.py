"""Levels, extent scores, Likert ratings and their rules."""

from ssc_core.scoring.levels import (
    LevelPlacement,
    check_levels,
    l4_midpoint_z,
    level_violations,
    missing_levels,
)
from ssc_core.scoring.rules import RuleViolation
from ssc_core.scoring.scores import (
    LevelScores,
    PatientSummary,
    check_scores,
    goh_stage,
    is_consistent,
    likert_violation,
    make_consistent,
    missing_scores,
    patient_summary,
    round_to_grid,
    score_violations,
    value_violation,
)

__all__ = [
    "LevelPlacement",
    "LevelScores",
    "PatientSummary",
    "RuleViolation",
    "check_levels",
    "check_scores",
    "goh_stage",
    "is_consistent",
    "l4_midpoint_z",
    "level_violations",
    "likert_violation",
    "make_consistent",
    "missing_levels",
    "missing_scores",
    "patient_summary",
    "round_to_grid",
    "score_violations",
    "value_violation",
]
