"""Goh extent scores of one level, per-patient aggregates and staging.

Rules (DOMAIN.md section 1): each score is 0..100 in steps of 5; TOT is the union of the GG and RET areas,
so ``max(GG, RET) <= TOT <= min(100, GG + RET)``. The global extent is the mean of the five levels' TOT;
above 20 % the disease is "extensive", otherwise "limited" (Goh 2008).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ssc_core.constants import (
    GOH_EXTENSIVE_THRESHOLD,
    LEVELS,
    LIKERT_LABELS,
    LIKERT_SCALE,
    SCORE_MAX,
    SCORE_MIN,
    SCORE_STEP,
    Level,
    Pattern,
)
from ssc_core.errors import ScoreRuleError
from ssc_core.scoring.rules import RuleViolation


@dataclass(frozen=True)
class LevelScores:
    """TOT, GG and RET of one level in percent; ``None`` = not entered yet."""

    tot: int | None = None
    gg: int | None = None
    ret: int | None = None

    def get(self, pattern: Pattern) -> int | None:
        return {Pattern.TOT: self.tot, Pattern.GG: self.gg, Pattern.RET: self.ret}[Pattern(pattern)]

    def with_value(self, pattern: Pattern, value: int | None) -> LevelScores:
        key = Pattern(pattern).value.lower()
        return LevelScores(**{**self.as_dict(lower=True), key: value})

    def as_dict(self, *, lower: bool = False) -> dict[str, int | None]:
        d = {"TOT": self.tot, "GG": self.gg, "RET": self.ret}
        return {k.lower(): v for k, v in d.items()} if lower else d

    @property
    def complete(self) -> bool:
        return None not in (self.tot, self.gg, self.ret)


def value_violation(pattern: Pattern | str, value: object) -> RuleViolation | None:
    """Grid and range check of one entered value (``None`` = empty, not a violation)."""
    name = Pattern(pattern).value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return RuleViolation(name, "score_not_number", f"{name} must be a number, got {value!r}.")
    if isinstance(value, float) and not math.isfinite(value):
        return RuleViolation(name, "score_not_number", f"{name} must be a finite number.")
    if not SCORE_MIN <= value <= SCORE_MAX:
        return RuleViolation(
            name, "score_range", f"{name} must lie between {SCORE_MIN} and {SCORE_MAX} %, got {value:g}."
        )
    if value != int(value) or int(value) % SCORE_STEP != 0:
        return RuleViolation(
            name,
            "score_grid",
            f"{name} must be a multiple of {SCORE_STEP} % (0, 5, ..., 100), got {value:g}.",
        )
    return None


def score_violations(scores: LevelScores) -> list[RuleViolation]:
    """Every broken rule of one level's scores (grid, range, union rule); empty fields are skipped."""
    out: list[RuleViolation] = []
    for p in (Pattern.TOT, Pattern.GG, Pattern.RET):
        v = value_violation(p, scores.get(p))
        if v is not None:
            out.append(v)
    if out:
        return out  # the union rule is meaningless on values that are not valid scores
    tot, gg, ret = scores.tot, scores.gg, scores.ret
    if tot is not None and gg is not None and tot < gg:
        out.append(RuleViolation("TOT", "tot_below_component", f"TOT ({tot}) cannot be below GG ({gg})."))
    if tot is not None and ret is not None and tot < ret:
        out.append(RuleViolation("TOT", "tot_below_component", f"TOT ({tot}) cannot be below RET ({ret})."))
    if tot is not None and gg is not None and ret is not None and tot > min(SCORE_MAX, gg + ret):
        out.append(
            RuleViolation(
                "TOT",
                "tot_above_union",
                f"TOT ({tot}) cannot exceed GG + RET ({gg} + {ret} = {gg + ret}): "
                "the total is the union of the two patterns.",
            )
        )
    return out


def missing_scores(scores: LevelScores) -> list[RuleViolation]:
    """One violation per pattern not yet entered."""
    return [
        RuleViolation(p.value, "score_missing", f"{p.value} is not entered yet.")
        for p in (Pattern.TOT, Pattern.GG, Pattern.RET)
        if scores.get(p) is None
    ]


def check_scores(scores: LevelScores, *, complete: bool = True) -> None:
    """Raise :class:`ScoreRuleError` naming every broken rule (and missing scores when ``complete``)."""
    problems = score_violations(scores)
    if complete:
        problems = missing_scores(scores) + problems
    if problems:
        raise ScoreRuleError(" ".join(p.message for p in problems))


def is_consistent(tot: int, gg: int, ret: int) -> bool:
    """True when the triple is a valid, consistent score."""
    return not score_violations(LevelScores(tot, gg, ret))


def round_to_grid(value: float) -> int:
    """Round a raw (network) percentage to the 5 % grid and clip it to 0..100."""
    if not math.isfinite(value):
        raise ValueError("cannot round a non-finite score")
    snapped = SCORE_STEP * math.floor(value / SCORE_STEP + 0.5)  # half up, not banker's rounding
    return int(min(SCORE_MAX, max(SCORE_MIN, snapped)))


def make_consistent(tot: int, gg: int, ret: int) -> tuple[int, int, int]:
    """Nearest consistent grid triple, adjusting TOT only (for displaying network output).

    The network predicts the three scores independently; rounding can break the union rule. TOT is
    clamped into [max(GG, RET), min(100, GG + RET)], which keeps the components as predicted.
    """
    lo, hi = max(gg, ret), min(SCORE_MAX, gg + ret)
    return int(min(hi, max(lo, tot))), int(gg), int(ret)


# --- Likert --------------------------------------------------------------------------------------------


def likert_violation(value: object, *, field: str = "rating") -> RuleViolation | None:
    """Check a Likert rating (1..5); ``None`` = not rated yet."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in LIKERT_SCALE:
        return RuleViolation(
            field,
            "likert_range",
            f"A rating is 1..5 ({LIKERT_LABELS[1]} .. {LIKERT_LABELS[5]}), got {value!r}.",
        )
    return None


# --- per patient ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientSummary:
    """Per-patient aggregates over the five levels (``None`` until every level has the score)."""

    global_tot: float | None
    global_gg: float | None
    global_ret: float | None

    @property
    def goh_stage(self) -> str | None:
        """ "extensive" (global extent > 20 %), "limited", or None when incomplete."""
        return goh_stage(self.global_tot)


def goh_stage(global_extent: float | None) -> str | None:
    """Goh 2008 CT staging from the global extent: "extensive" above 20 %, else "limited"."""
    if global_extent is None:
        return None
    return "extensive" if global_extent > GOH_EXTENSIVE_THRESHOLD else "limited"


def patient_summary(levels: Mapping[Level, LevelScores]) -> PatientSummary:
    """Global extent (mean of the five levels) of TOT, GG and RET."""

    def mean_of(p: Pattern) -> float | None:
        vals = [levels[lv].get(p) if lv in levels else None for lv in LEVELS]
        if any(v is None for v in vals):
            return None
        return sum(vals) / len(vals)  # type: ignore[arg-type]

    return PatientSummary(mean_of(Pattern.TOT), mean_of(Pattern.GG), mean_of(Pattern.RET))
