"""Agreement of level positions (world z, mm) between raters: MAE in mm and ICC per level.

The ICC of positions is computed per level only: pooled over the five levels it would mostly measure how
far apart the levels lie, not how well raters agree (the paper reports the level network's ICC per level).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ssc_core.analysis.agreement import ICC, bland_altman, icc, mae
from ssc_core.analysis.matching import RatingIndex
from ssc_core.analysis.results import BlandAltman, Estimate

if TYPE_CHECKING:
    import pandas as pd

POOLED_ICC_REASON = "the ICC of level positions is reported per level (pooled, it measures level spacing)"


@dataclass(frozen=True)
class PositionAgreement:
    """Agreement of two raters' placements of one level (None = all levels pooled)."""

    rater_a: str
    rater_b: str
    level: int | None
    mae_mm: Estimate
    icc: Estimate
    bland_altman: BlandAltman
    n_cases: int
    n_obs: int
    note: str = ""


def compare_positions(
    levels: pd.DataFrame | RatingIndex, rater_a: str, rater_b: str, *, level: int | None = None
) -> PositionAgreement:
    """MAE (mm, with SD), ICC(2,1) and Bland-Altman of two raters' level positions."""
    index = levels if isinstance(levels, RatingIndex) else RatingIndex(levels, "z_mm")
    m = index.match([rater_a, rater_b], level=level)
    n_cases, n_obs = m.n_cases, m.n_obs
    if m.reason:
        ne = Estimate.not_estimable
        return PositionAgreement(
            rater_a,
            rater_b,
            level,
            ne("MAE (mm)", m.reason, n_cases=n_cases, n_raters=2, n_obs=n_obs),
            ne(ICC, m.reason, n_cases=n_cases, n_raters=2, n_obs=n_obs),
            BlandAltman.not_estimable(m.reason, n_cases=n_cases, n_obs=n_obs),
            n_cases,
            n_obs,
            m.note,
        )
    a, b = m.column(0), m.column(1)
    n, names = m.n_cases, m.raters
    err = mae(a, b, cases=n, names=names)
    err = Estimate(
        "MAE (mm)",
        err.value,
        sd=err.sd,
        n_cases=err.n_cases,
        n_raters=2,
        n_obs=err.n_obs,
        estimable=err.estimable,
        reason=err.reason,
    )
    if level is None:
        agreement = Estimate.not_estimable(ICC, POOLED_ICC_REASON, n_cases=n_cases, n_raters=2, n_obs=n_obs)
    else:
        agreement = icc(a, b, cases=n, names=names)
    return PositionAgreement(
        rater_a,
        rater_b,
        level,
        err,
        agreement,
        bland_altman(a, b, cases=n, names=names),
        n_cases,
        n_obs,
        m.note,
    )
