"""Heat-map explainability: how much of the network output the heat-map-derived score explains.

The paper thresholds each replacement heat map, takes the thresholded area over the lung area as a
heat-map-derived score, and reports the share of the scoring network's output variance that this score
explains (R-squared of the least-squares line; 84/87/83 % for TOT/GG/RET).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssc_core.analysis.results import LinearFit
from ssc_core.constants import MIN_CASES_FOR_AGREEMENT, MIN_OBSERVATIONS_FOR_AGREEMENT, PATTERNS

if TYPE_CHECKING:
    import pandas as pd


def linear_fit(x: object, y: object, *, cases: object = None) -> LinearFit:
    """Least-squares fit of y on x (scipy ``linregress``) and its R-squared; not estimable if degenerate."""
    import numpy as np
    from scipy import stats

    xs = np.asarray(x, dtype=float).ravel()
    ys = np.asarray(y, dtype=float).ravel()
    if xs.shape != ys.shape:
        raise ValueError("x and y must have the same length")
    n_obs = len(xs)
    n_cases = len(np.unique(np.asarray(cases, dtype=object).astype(str))) if cases is not None else n_obs
    if np.isnan(xs).any() or np.isnan(ys).any():
        return LinearFit.not_estimable("missing values (NaN)", n_cases=n_cases, n_obs=n_obs)
    if n_obs < max(3, MIN_OBSERVATIONS_FOR_AGREEMENT):
        return LinearFit.not_estimable(
            f"only {n_obs} observation(s); a line through fewer than 3 points explains nothing",
            n_cases=n_cases,
            n_obs=n_obs,
        )
    if n_cases < MIN_CASES_FOR_AGREEMENT:
        return LinearFit.not_estimable("only one case", n_cases=n_cases, n_obs=n_obs)
    for name, v in (("heat-map score", xs), ("network output", ys)):
        if np.all(v == v[0]):
            return LinearFit.not_estimable(
                f"no variance: the {name} is {v[0]:g} everywhere", n_cases=n_cases, n_obs=n_obs
            )
    res = stats.linregress(xs, ys)
    return LinearFit(
        float(res.rvalue**2), float(res.slope), float(res.intercept), n_cases=n_cases, n_obs=n_obs
    )


def heatmap_fit(ai: pd.DataFrame, *, pattern: str, bundle: str | None = None) -> LinearFit:
    """R-squared of the network output explained by the heat-map-derived score, for one pattern.

    Uses the rows of ``ai`` (an AI-results table) that have a heat-map score.
    """
    rows = ai[(ai["pattern"] == pattern) & ai["heatmap_score"].notna()]
    if bundle is not None:
        rows = rows[rows["bundle"] == bundle]
    if rows.empty:
        return LinearFit.not_estimable("no heat-map scores computed", n_cases=0, n_obs=0)
    return linear_fit(rows["heatmap_score"], rows["output"], cases=rows["case"])


def explainability_report(ai: pd.DataFrame) -> pd.DataFrame:
    """One row per bundle and pattern: R-squared, slope, intercept, n cases and n slices."""
    import pandas as pd

    rows = []
    for bundle in dict.fromkeys(ai["bundle"]):
        for pattern in (p.value for p in PATTERNS):
            fit = heatmap_fit(ai, pattern=pattern, bundle=bundle)
            rows.append(
                {
                    "bundle": bundle,
                    "pattern": pattern,
                    "n_cases": fit.n_cases,
                    "n_obs": fit.n_obs,
                    "r_squared": fit.r_squared,
                    "slope": fit.slope,
                    "intercept": fit.intercept,
                    "note": fit.reason,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["bundle", "pattern", "n_cases", "n_obs", "r_squared", "slope", "intercept", "note"],
    )
