"""Heat-map explainability ratings on the 5-point Likert scale (DOMAIN.md section 2).

1 strongly disagree .. 5 strongly agree that the heat map explains the disease of a level. The paper
reports the share of "agree" or "strongly agree" (4 or 5) per pattern; agreement between raters is the
linearly weighted kappa on the full scale 1..5.
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING

from ssc_core.analysis.agreement import weighted_kappa
from ssc_core.analysis.matching import RatingIndex
from ssc_core.analysis.results import Estimate
from ssc_core.analysis.tables import raters
from ssc_core.constants import LIKERT_AGREE, LIKERT_SCALE, PATTERNS

if TYPE_CHECKING:
    import pandas as pd

#: Label of the pooled rows of the distribution table.
ALL_RATERS = "All raters"


def likert_distribution(likert: pd.DataFrame) -> pd.DataFrame:
    """Counts of each rating per rater and pattern (finished, rated entries), and the share of 4-5.

    Columns: ``rater``, ``pattern``, ``n_cases``, ``n_ratings``, ``n_1`` .. ``n_5``, ``n_agree``,
    ``share_agree`` (0..1; NaN when nothing was rated). Pooled rows (``rater`` = "All raters") follow
    each pattern's raters.
    """
    import numpy as np
    import pandas as pd

    done = likert[likert["finished"] & likert["rating"].notna()]
    rows = []
    for pattern in (p.value for p in PATTERNS):
        part = done[done["pattern"] == pattern]
        groups = [(r.id, part[part["rater"] == r.id]) for r in raters(likert)]
        groups.append((ALL_RATERS, part))
        for rid, g in groups:
            counts = {f"n_{v}": int((g["rating"] == v).sum()) for v in LIKERT_SCALE}
            n = len(g)
            agree = int(g["rating"].isin(list(LIKERT_AGREE)).sum())
            rows.append(
                {
                    "rater": rid,
                    "pattern": pattern,
                    "n_cases": int(g["case"].nunique()),
                    "n_ratings": n,
                    **counts,
                    "n_agree": agree,
                    "share_agree": agree / n if n else np.nan,
                }
            )
    return pd.DataFrame(rows)


def likert_kappa(
    likert: pd.DataFrame | RatingIndex,
    rater_a: str,
    rater_b: str,
    *,
    pattern: str,
    level: int | None = None,
) -> Estimate:
    """Linearly weighted kappa of two raters' Likert ratings on the full scale 1..5."""
    index = likert if isinstance(likert, RatingIndex) else RatingIndex(likert, "rating")
    m = index.match([rater_a, rater_b], pattern=pattern, level=level)
    if m.reason:
        return Estimate.not_estimable("kappa", m.reason, n_cases=m.n_cases, n_raters=2, n_obs=m.n_obs)
    return weighted_kappa(m.column(0), m.column(1), labels=LIKERT_SCALE, cases=m.n_cases, names=m.raters)


def likert_agreement(likert: pd.DataFrame) -> pd.DataFrame:
    """Kappa between every pair of Likert raters, per pattern (all levels pooled)."""
    import pandas as pd

    ids = [r.id for r in raters(likert)]
    index = RatingIndex(likert, "rating") if ids else None
    rows = []
    for a, b in combinations(ids, 2):
        for pattern in (p.value for p in PATTERNS):
            assert index is not None
            k = likert_kappa(index, a, b, pattern=pattern)
            rows.append(
                {
                    "rater_a": a,
                    "rater_b": b,
                    "pattern": pattern,
                    "n_cases": k.n_cases,
                    "n_raters": k.n_raters,
                    "n_obs": k.n_obs,
                    "kappa": k.value,
                    "note": k.reason,
                }
            )
    return pd.DataFrame(
        rows, columns=["rater_a", "rater_b", "pattern", "n_cases", "n_raters", "n_obs", "kappa", "note"]
    )
