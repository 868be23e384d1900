"""ICC(2,1) through pingouin, selected by meaning.

ICC(2,1) (Shrout & Fleiss 1979) is the two-way random-effects, absolute-agreement, single-rater ICC.

Two engines give the same figure. ``"pingouin"`` calls ``pingouin.intraclass_corr`` (the reference);
``"anova"`` (the default) computes the same two-way ANOVA mean squares with numpy and the same confidence
interval (McGraw & Wong 1996, case 2A, as pingouin does), about a hundred times faster, which matters for
reports of many comparisons x patterns x levels. The tests hold the two engines equal on many random tables
and both to Shrout & Fleiss's reference values.

pingouin names this row "ICC(A,1)" from version 0.7 (McGraw & Wong notation) and "ICC2" before (with the
description "Single random raters"); the authors' code read "ICC2". The row is chosen by either name or by
that description, never by position, and pingouin's default rounding of the confidence interval to two
decimals is switched off for the call.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

#: Names pingouin has used for ICC(2,1), across versions.
ICC_A1_NAMES = frozenset({"ICC(A,1)", "ICC2", "ICC(2,1)"})
#: pingouin < 0.7 describes ICC(2,1) as this.
ICC_A1_DESCRIPTION = "single random raters"

# pingouin.options is process-wide; the override below must not interleave between threads.
_OPTIONS_LOCK = threading.Lock()


@dataclass(frozen=True)
class ICCRow:
    """The ICC(2,1) row of a pingouin table."""

    value: float
    ci_low: float
    ci_high: float
    f: float
    pval: float


@contextlib.contextmanager
def _unrounded_ci() -> Iterator[None]:
    import pingouin

    with _OPTIONS_LOCK:
        options = getattr(pingouin, "options", None)
        if options is None:  # pragma: no cover - very old pingouin rounds inside the function
            yield
            return
        saved = dict(options)
        for key in list(options):
            if key.startswith("round.column.CI"):
                options[key] = None
        try:
            yield
        finally:
            options.clear()
            options.update(saved)


def select_icc_a1(table: pd.DataFrame) -> ICCRow:
    """Pick the ICC(2,1) row of a pingouin ``intraclass_corr`` table, by name or by description.

    Raises
    ------
    LookupError
        When no row (or more than one) means ICC(2,1): the pingouin output has an unknown layout.
    """
    types = table["Type"].astype(str).str.strip()
    mask = types.isin(ICC_A1_NAMES)
    if "Description" in table.columns:
        mask |= table["Description"].astype(str).str.strip().str.lower() == ICC_A1_DESCRIPTION
    rows = table[mask]
    if len(rows) != 1:
        raise LookupError(f"cannot find the ICC(2,1) row in pingouin's table (types: {list(types)})")
    row = rows.iloc[0]
    ci_cols = [c for c in table.columns if str(c).upper().startswith("CI95")]
    if not ci_cols:
        raise LookupError("pingouin's ICC table has no 95 % confidence-interval column")
    low, high = (float(v) for v in row[ci_cols[0]])
    p_col = "pval" if "pval" in table.columns else "p-val"
    return ICCRow(float(row["ICC"]), low, high, float(row["F"]), float(row[p_col]))


def icc_table(long: pd.DataFrame, *, targets: str, raters: str, ratings: str) -> pd.DataFrame:
    """pingouin's full ICC table (all six forms) with an unrounded confidence interval."""
    import warnings

    import numpy as np
    import pingouin

    with _unrounded_ci(), warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        # pingouin divides by zero on perfect agreement and warns about pandas deprecations of its own.
        warnings.simplefilter("ignore")
        return pingouin.intraclass_corr(data=long, targets=targets, raters=raters, ratings=ratings)


def icc_a1_anova(wide: np.ndarray) -> ICCRow:
    """ICC(2,1) of a complete targets x raters matrix from its two-way ANOVA (numpy), with 95 % CI.

    Mean squares: between targets (MSB), between raters (MSJ), residual (MSE); then
    ICC(A,1) = (MSB - MSE) / (MSB + (k - 1) MSE + k (MSJ - MSE) / n) and the McGraw & Wong (1996)
    confidence interval with Satterthwaite's degrees of freedom. Degenerate tables give NaN.
    """
    import numpy as np
    from scipy.stats import f as f_dist

    x = np.asarray(wide, dtype=float)
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    ss_total = float(((x - grand) ** 2).sum())
    # Rounding can leave a tiny negative residual when the ratings are exactly additive.
    ss_err = max(ss_total - ss_rows - ss_cols, 0.0)
    df1, dfj, dfe = n - 1, k - 1, (n - 1) * (k - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        msb = np.float64(ss_rows) / df1
        msj = np.float64(ss_cols) / dfj
        mse = np.float64(ss_err) / dfe
        value = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
        f_stat = msb / mse
        pval = f_dist.sf(f_stat, df1, dfe)
        fj = msj / mse
        vn = dfe * (k * value * fj + n * (1 + (k - 1) * value) - k * value) ** 2
        vd = df1 * k**2 * value**2 * fj**2 + (n * (1 + (k - 1) * value) - k * value) ** 2
        v = vn / vd
        f_up = f_dist.ppf(0.975, df1, v)
        f_low = f_dist.ppf(0.975, v, df1)
        low = n * (msb - f_up * mse) / (f_up * (k * msj + (k * n - k - n) * mse) + n * msb)
        high = n * (f_low * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f_low * msb)
    return ICCRow(float(value), float(low), float(high), float(f_stat), float(pval))


def icc_a1_matrix(wide: np.ndarray, *, engine: str = "anova") -> ICCRow:
    """ICC(2,1) of a complete targets x raters matrix (no missing values).

    ``engine`` is ``"anova"`` (numpy, default) or ``"pingouin"``; both give the same figures.
    """
    import numpy as np
    import pandas as pd

    if engine == "anova":
        return icc_a1_anova(wide)
    if engine != "pingouin":
        raise ValueError(f"unknown ICC engine {engine!r}")
    n, k = wide.shape
    long = pd.DataFrame(
        {
            "target": np.repeat(np.arange(n), k),
            "rater": np.tile(np.arange(k), n),
            "rating": np.asarray(wide, dtype=float).ravel(),
        }
    )
    return select_icc_a1(icc_table(long, targets="target", raters="rater", ratings="rating"))


def icc_a1_columns(*columns: Sequence[float], engine: str = "anova") -> ICCRow:
    """ICC(2,1) of k raters given as k equally long columns of matched ratings."""
    import numpy as np

    return icc_a1_matrix(np.column_stack([np.asarray(c, dtype=float) for c in columns]), engine=engine)
