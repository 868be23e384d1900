"""Typed results of the agreement statistics.

Every figure carries the n of cases, raters and observations behind it. A figure that the data cannot give
(no variance, one case, no matched cases, unfinished readings) is *not estimable*: ``estimable`` is False,
``value`` is None and ``reason`` says why in words, so no number that looks real is ever shown for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ssc_core.constants import SIGNIFICANCE_LEVEL

#: How a not-estimable figure is shown in tables and on the terminal.
NOT_ESTIMABLE = "n.e."


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _check(estimable: bool, reason: str, *values: float | None) -> None:
    if estimable and not all(_finite(v) for v in values):
        raise ValueError("an estimable result needs finite values")
    if not estimable and not reason:
        raise ValueError("a not-estimable result needs a reason")


@dataclass(frozen=True)
class Estimate:
    """One figure (MAE, kappa, ICC, R-squared ...) with its spread, confidence interval and n.

    Attributes
    ----------
    statistic
        What was computed, e.g. ``"MAE"``, ``"kappa"``, ``"ICC(A,1)"``.
    value
        The figure; None when not estimable.
    ci
        95 % confidence interval, where the statistic has one.
    sd
        Standard deviation (of the absolute errors, for MAE).
    n_cases, n_raters, n_obs
        Patients, raters and matched observations (case x level) behind the figure.
    estimable, reason
        False with a reason in words when the data cannot give the figure. An estimable figure may carry
        a reason too, for a part that is missing (an ICC without its confidence interval).
    """

    statistic: str
    value: float | None
    ci: tuple[float, float] | None = None
    sd: float | None = None
    n_cases: int = 0
    n_raters: int = 0
    n_obs: int = 0
    estimable: bool = True
    reason: str = ""

    def __post_init__(self) -> None:
        _check(self.estimable, self.reason, self.value)
        if not self.estimable and (self.value is not None or self.ci is not None or self.sd is not None):
            raise ValueError("a not-estimable result carries no value")

    @classmethod
    def not_estimable(
        cls, statistic: str, reason: str, *, n_cases: int = 0, n_raters: int = 0, n_obs: int = 0
    ) -> Estimate:
        return cls(
            statistic,
            None,
            n_cases=n_cases,
            n_raters=n_raters,
            n_obs=n_obs,
            estimable=False,
            reason=reason,
        )

    def format(self, digits: int = 2) -> str:
        """``"0.83 [0.75, 0.89]"``, ``"5.25 (3.10)"`` (value and SD), or ``"n.e."``."""
        if not self.estimable or self.value is None:
            return NOT_ESTIMABLE
        text = f"{self.value:.{digits}f}"
        if self.sd is not None:
            text += f" ({self.sd:.{digits}f})"
        if self.ci is not None:
            text += f" [{self.ci[0]:.{digits}f}, {self.ci[1]:.{digits}f}]"
        return text

    def __str__(self) -> str:
        n = f"n = {self.n_cases} cases, {self.n_obs} obs., {self.n_raters} raters"
        if not self.estimable:
            return f"{self.statistic}: not estimable ({self.reason}); {n}"
        return f"{self.statistic} {self.format()}; {n}"


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman agreement of rater A minus rater B: bias and 95 % limits of agreement."""

    bias: float | None
    sd: float | None
    loa: tuple[float, float] | None
    n_cases: int = 0
    n_raters: int = 2
    n_obs: int = 0
    estimable: bool = True
    reason: str = ""

    def __post_init__(self) -> None:
        _check(self.estimable, self.reason, self.bias, self.sd)

    @classmethod
    def not_estimable(cls, reason: str, *, n_cases: int = 0, n_obs: int = 0) -> BlandAltman:
        return cls(None, None, None, n_cases=n_cases, n_obs=n_obs, estimable=False, reason=reason)

    def format(self, digits: int = 2) -> str:
        if not self.estimable or self.bias is None or self.loa is None:
            return NOT_ESTIMABLE
        return f"{self.bias:.{digits}f} [{self.loa[0]:.{digits}f}, {self.loa[1]:.{digits}f}]"


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test of two raters' absolute errors against one reference."""

    statistic: float | None
    p_value: float | None
    mean_error_a: float | None = None
    mean_error_b: float | None = None
    n_cases: int = 0
    n_raters: int = 3
    n_obs: int = 0
    estimable: bool = True
    reason: str = ""

    def __post_init__(self) -> None:
        _check(self.estimable, self.reason, self.statistic, self.p_value)

    @classmethod
    def not_estimable(cls, reason: str, *, n_cases: int = 0, n_obs: int = 0) -> WilcoxonResult:
        return cls(None, None, n_cases=n_cases, n_obs=n_obs, estimable=False, reason=reason)

    @property
    def significant(self) -> bool | None:
        """p < 0.05 (None when not estimable)."""
        return None if self.p_value is None else self.p_value < SIGNIFICANCE_LEVEL

    def format(self) -> str:
        if not self.estimable or self.p_value is None:
            return NOT_ESTIMABLE
        return "< 0.001" if self.p_value < 0.001 else f"{self.p_value:.3f}"


@dataclass(frozen=True)
class LinearFit:
    """Least-squares line y = slope * x + intercept with its R-squared (share of variance explained)."""

    r_squared: float | None
    slope: float | None
    intercept: float | None
    n_cases: int = 0
    n_obs: int = 0
    estimable: bool = True
    reason: str = ""

    def __post_init__(self) -> None:
        _check(self.estimable, self.reason, self.r_squared, self.slope, self.intercept)

    @classmethod
    def not_estimable(cls, reason: str, *, n_cases: int = 0, n_obs: int = 0) -> LinearFit:
        return cls(None, None, None, n_cases=n_cases, n_obs=n_obs, estimable=False, reason=reason)


@dataclass(frozen=True)
class PairAgreement:
    """All agreement figures of two raters on one pattern, at one level (None = all levels pooled)."""

    rater_a: str
    rater_b: str
    pattern: str
    level: int | None
    mae: Estimate
    kappa: Estimate
    icc: Estimate
    bland_altman: BlandAltman
    n_cases: int
    n_obs: int
    note: str = ""
