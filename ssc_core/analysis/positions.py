"""Agreement of level positions (world z, mm) between raters: MAE in mm and ICC per level.

The ICC of positions is computed per level only: pooled over the five levels it would mostly measure how
far apart the levels lie, not how well raters agree (the paper reports the level network's ICC per level).

World z is measured from an arbitrary table origin, so between patients it varies by tens of centimetres
and an ICC on raw z would be close to 1 whatever the raters do. The ICC is therefore computed on
*patient-centred* positions: each case's z minus that case's mean over both raters and all matched levels.
This removes the table offset (a constant per case, shared by both raters) and keeps the anatomical
variation of the level between patients and every disagreement between the raters. MAE and Bland-Altman
are unaffected by the centring and use the raw positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ssc_core.analysis.agreement import ICC, bland_altman, icc, mae
from ssc_core.analysis.matching import Matched, RatingIndex
from ssc_core.analysis.results import BlandAltman, Estimate

if TYPE_CHECKING:
    import pandas as pd

POOLED_ICC_REASON = "the ICC of level positions is reported per level (pooled, it measures level spacing)"


def _case_centres(matched: Matched) -> dict[object, float]:
    """Each case's mean position over both raters and all its matched levels (the table offset)."""
    means = matched.values.mean(axis=1)
    centres: dict[object, float] = {}
    for case in dict.fromkeys(matched.cases):
        centres[case] = float(means[matched.cases == case].mean())
    return centres


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
        centre = _case_centres(index.match([rater_a, rater_b]))
        offsets = np.array([centre[c] for c in m.cases], dtype=float)
        agreement = icc(a - offsets, b - offsets, cases=n, names=names)
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
