"""Agreement between raters: MAE, weighted kappa, ICC(2,1), Bland-Altman and Wilcoxon (DOMAIN.md section 3).

The functions on arrays take matched values (observation i of rater A against observation i of rater B)
and an optional ``cases`` array naming the patient of each observation (or the number of patients), so
that the n of cases can be reported beside the n of observations (five levels per patient). The table
functions match raters first (:mod:`ssc_core.analysis.matching`).

Traps avoided on purpose:

* Weighted kappa is always computed on the *full* category list (21 scores 0, 5, ..., 100; Likert 1..5).
  With only the observed categories scikit-learn rescales the linear weights to the observed range and
  kappa changes; the authors' ``labels=range(100)`` silently dropped every score of 100.
* ICC(2,1) is pingouin's ICC(A,1) row, chosen by meaning (:mod:`ssc_core.analysis.icc`).
* Degenerate data (one case, no variance, nothing matched, NaN) give a not-estimable result with the
  reason; scipy's Wilcoxon returns p = 1 for identical samples and sklearn's kappa returns NaN or 0 for a
  constant rater: neither number is passed on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ssc_core.analysis.matching import Matched, RatingIndex
from ssc_core.analysis.results import BlandAltman, Estimate, PairAgreement, WilcoxonResult
from ssc_core.constants import (
    BLAND_ALTMAN_Z,
    MIN_CASES_FOR_AGREEMENT,
    MIN_OBSERVATIONS_FOR_AGREEMENT,
    SCORE_GRID,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import ArrayLike

MAE = "MAE"
KAPPA = "kappa"
ICC = "ICC(A,1)"


def _arrays(*columns: ArrayLike) -> list[np.ndarray]:
    import numpy as np

    arrays = [np.asarray(c, dtype=float).ravel() for c in columns]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError("matched ratings must have the same length")
    return arrays


def _case_count(cases: Sequence[object] | int | None, n_obs: int) -> int:
    import numpy as np

    if cases is None:
        return n_obs
    if isinstance(cases, int):
        return cases
    if len(cases) != n_obs:
        raise ValueError("cases must name the patient of each observation")
    return len(np.unique(np.asarray(cases, dtype=object).astype(str))) if n_obs else 0


def _degenerate(
    arrays: Sequence[np.ndarray],
    n_cases: int,
    *,
    names: Sequence[str] | None = None,
    need_variance: bool = False,
) -> str:
    """Why these matched ratings cannot give an agreement figure ("" when they can)."""
    import numpy as np

    n_obs = len(arrays[0]) if arrays else 0
    missing = int(sum(int(np.isnan(a).sum()) for a in arrays))
    if missing:
        return f"{missing} value(s) missing (NaN) among the matched ratings"
    if n_obs < MIN_OBSERVATIONS_FOR_AGREEMENT:
        return f"only {n_obs} matched observation(s); at least {MIN_OBSERVATIONS_FOR_AGREEMENT} are needed"
    if n_cases < MIN_CASES_FOR_AGREEMENT:
        return (
            f"only {n_cases} case; agreement between raters cannot be estimated from fewer than "
            f"{MIN_CASES_FOR_AGREEMENT} patients"
        )
    if need_variance:
        for j, a in enumerate(arrays):
            if np.all(a == a[0]):
                who = names[j] if names else f"rater {j + 1}"
                return f"no variance: {who} gave every observation the same value ({a[0]:g})"
    return ""


def mae(
    a: ArrayLike,
    b: ArrayLike,
    *,
    cases: Sequence[object] | int | None = None,
    names: Sequence[str] | None = None,
) -> Estimate:
    """Mean absolute difference of matched ratings, with the SD of the absolute differences (ddof 1)."""
    import numpy as np

    x, y = _arrays(a, b)
    n_cases = _case_count(cases, len(x))
    why = _degenerate([x, y], n_cases, names=names)
    if why:
        return Estimate.not_estimable(MAE, why, n_cases=n_cases, n_raters=2, n_obs=len(x))
    err = np.abs(x - y)
    return Estimate(
        MAE,
        float(err.mean()),
        sd=float(err.std(ddof=1)),
        n_cases=n_cases,
        n_raters=2,
        n_obs=len(x),
    )


def weighted_kappa(
    a: ArrayLike,
    b: ArrayLike,
    *,
    labels: Sequence[int] = SCORE_GRID,
    cases: Sequence[object] | int | None = None,
    names: Sequence[str] | None = None,
) -> Estimate:
    """Cohen's linearly weighted kappa on the full category list ``labels`` (scikit-learn).

    A value outside ``labels`` is refused (ValueError): it would otherwise be dropped silently.
    """
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    x, y = _arrays(a, b)
    n_cases = _case_count(cases, len(x))
    why = _degenerate([x, y], n_cases, names=names, need_variance=True)
    if why:
        return Estimate.not_estimable(KAPPA, why, n_cases=n_cases, n_raters=2, n_obs=len(x))
    grid = np.asarray(list(labels), dtype=float)
    off = ~np.isin(x, grid) | ~np.isin(y, grid)
    if off.any():
        bad = np.concatenate([x, y])[np.concatenate([~np.isin(x, grid), ~np.isin(y, grid)])][0]
        raise ValueError(f"{bad:g} is not one of the kappa categories {list(labels)}")
    value = cohen_kappa_score(x.astype(int), y.astype(int), labels=[int(v) for v in labels], weights="linear")
    if not math.isfinite(value):  # pragma: no cover - excluded by the variance check above
        return Estimate.not_estimable(KAPPA, "no variance", n_cases=n_cases, n_raters=2, n_obs=len(x))
    return Estimate(KAPPA, float(value), n_cases=n_cases, n_raters=2, n_obs=len(x))


def icc(
    *raters: ArrayLike,
    cases: Sequence[object] | int | None = None,
    names: Sequence[str] | None = None,
    engine: str = "anova",
) -> Estimate:
    """ICC(2,1) (absolute agreement, two-way random, single rater) of k >= 2 matched raters, with 95 % CI.

    Observations (case x level) are the ICC's targets. ``engine``: ``"anova"`` (numpy, default) or
    ``"pingouin"``, equal to within float rounding (:mod:`ssc_core.analysis.icc`).
    """
    import numpy as np

    from ssc_core.analysis.icc import icc_a1_matrix

    arrays = _arrays(*raters)
    if len(arrays) < 2:
        raise ValueError("an ICC needs at least two raters")
    n_obs = len(arrays[0])
    n_cases = _case_count(cases, n_obs)
    k = len(arrays)
    why = _degenerate(arrays, n_cases, names=names, need_variance=True)
    if why:
        return Estimate.not_estimable(ICC, why, n_cases=n_cases, n_raters=k, n_obs=n_obs)
    row = icc_a1_matrix(np.column_stack(arrays), engine=engine)
    if not math.isfinite(row.value):
        return Estimate.not_estimable(
            ICC, "no variance between observations", n_cases=n_cases, n_raters=k, n_obs=n_obs
        )
    if math.isfinite(row.ci_low) and math.isfinite(row.ci_high):
        return Estimate(
            ICC, row.value, ci=(row.ci_low, row.ci_high), n_cases=n_cases, n_raters=k, n_obs=n_obs
        )
    # With no residual variance (the raters agree exactly, or up to a constant offset) the interval of
    # McGraw & Wong is undefined: the ICC is reported without one, and the reason is kept.
    return Estimate(
        ICC,
        row.value,
        n_cases=n_cases,
        n_raters=k,
        n_obs=n_obs,
        reason="95 % CI not estimable: no residual variance (exact agreement up to a constant offset)",
    )


def bland_altman(
    a: ArrayLike,
    b: ArrayLike,
    *,
    cases: Sequence[object] | int | None = None,
    names: Sequence[str] | None = None,
) -> BlandAltman:
    """Bias (mean of A - B) and 95 % limits of agreement (bias +- 1.96 SD of the differences)."""

    x, y = _arrays(a, b)
    n_cases = _case_count(cases, len(x))
    why = _degenerate([x, y], n_cases, names=names)
    if why:
        return BlandAltman.not_estimable(why, n_cases=n_cases, n_obs=len(x))
    d = x - y
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    return BlandAltman(
        bias,
        sd,
        (bias - BLAND_ALTMAN_Z * sd, bias + BLAND_ALTMAN_Z * sd),
        n_cases=n_cases,
        n_obs=len(x),
    )


def bland_altman_points(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Means ``(A + B) / 2`` and differences ``A - B`` of matched ratings (for a Bland-Altman plot)."""
    x, y = _arrays(a, b)
    return (x + y) / 2.0, x - y


def wilcoxon_errors(
    a: ArrayLike,
    b: ArrayLike,
    reference: ArrayLike,
    *,
    cases: Sequence[object] | int | None = None,
    names: Sequence[str] | None = None,
) -> WilcoxonResult:
    """Wilcoxon signed-rank test (scipy, two-sided) of |A - ref| against |B - ref|, matched.

    Zero differences are dropped (Wilcoxon's method); when every difference is zero the test is not
    estimable (scipy would report p = 1).
    """
    import numpy as np
    from scipy import stats

    x, y, r = _arrays(a, b, reference)
    n_cases = _case_count(cases, len(x))
    why = _degenerate([x, y, r], n_cases, names=names)
    if why:
        return WilcoxonResult.not_estimable(why, n_cases=n_cases, n_obs=len(x))
    ea, eb = np.abs(x - r), np.abs(y - r)
    if np.all(ea == eb):
        who = " and ".join(names[:2]) if names else "the two raters"
        return WilcoxonResult.not_estimable(
            f"{who} have the same error on every observation", n_cases=n_cases, n_obs=len(x)
        )
    res = stats.wilcoxon(ea, eb, zero_method="wilcox", alternative="two-sided")
    return WilcoxonResult(
        float(res.statistic),
        float(res.pvalue),
        mean_error_a=float(ea.mean()),
        mean_error_b=float(eb.mean()),
        n_cases=n_cases,
        n_obs=len(x),
    )


# --- on tables -------------------------------------------------------------------------------------------


def agreement_of(
    matched: Matched, *, pattern: str = "", level: int | None = None, labels: Sequence[int] = SCORE_GRID
) -> PairAgreement:
    """All figures of a matched pair; not estimable with ``matched.reason`` when nothing matched."""
    a_name, b_name = matched.raters
    n_obs, n_cases = matched.n_obs, matched.n_cases
    if matched.reason:
        reason = matched.reason
        return PairAgreement(
            a_name,
            b_name,
            pattern,
            level,
            Estimate.not_estimable(MAE, reason, n_cases=n_cases, n_raters=2, n_obs=n_obs),
            Estimate.not_estimable(KAPPA, reason, n_cases=n_cases, n_raters=2, n_obs=n_obs),
            Estimate.not_estimable(ICC, reason, n_cases=n_cases, n_raters=2, n_obs=n_obs),
            BlandAltman.not_estimable(reason, n_cases=n_cases, n_obs=n_obs),
            n_cases,
            n_obs,
            matched.note,
        )
    a, b = matched.column(0), matched.column(1)
    names = matched.raters
    return PairAgreement(
        a_name,
        b_name,
        pattern,
        level,
        mae(a, b, cases=n_cases, names=names),
        weighted_kappa(a, b, labels=labels, cases=n_cases, names=names),
        icc(a, b, cases=n_cases, names=names),
        bland_altman(a, b, cases=n_cases, names=names),
        n_cases,
        n_obs,
        matched.note,
    )


def compare(
    table: pd.DataFrame | RatingIndex,
    rater_a: str,
    rater_b: str,
    *,
    pattern: str,
    level: int | None = None,
) -> PairAgreement:
    """Agreement of two raters of a ratings table on one pattern, at one level or pooled over all.

    Parameters
    ----------
    table
        A ratings table, or a :class:`RatingIndex` of one (faster for many comparisons).
    rater_a, rater_b
        Rater ids (column ``rater``).
    pattern
        "TOT", "GG" or "RET".
    level
        1..5, or None for all levels pooled (observations = case x level).
    """
    index = table if isinstance(table, RatingIndex) else RatingIndex(table, "score")
    matched = index.match([rater_a, rater_b], pattern=pattern, level=level)
    return agreement_of(matched, pattern=pattern, level=level)


def compare_errors(
    table: pd.DataFrame | RatingIndex,
    rater_a: str,
    rater_b: str,
    reference: str,
    *,
    pattern: str,
    level: int | None = None,
) -> WilcoxonResult:
    """Wilcoxon test of two raters' absolute errors against ``reference``, on observations all three share."""
    index = table if isinstance(table, RatingIndex) else RatingIndex(table, "score")
    matched = index.match([rater_a, rater_b, reference], pattern=pattern, level=level)
    if matched.reason:
        return WilcoxonResult.not_estimable(matched.reason, n_cases=matched.n_cases, n_obs=matched.n_obs)
    return wilcoxon_errors(
        matched.column(0),
        matched.column(1),
        matched.column(2),
        cases=matched.n_cases,
        names=matched.raters,
    )
