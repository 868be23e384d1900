"""Match raters over case x level (x pattern): the observations that agreement statistics compare.

Only finished readings count, and only observations that every compared rater scored. What is left out
(unfinished readings, scores not entered, cases the other rater did not score) is counted and said in
``Matched.note``; when nothing is left, ``Matched.reason`` says why.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ssc_core.errors import AnalysisError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass(frozen=True, eq=False)
class Matched:
    """Matched observations of k raters: ``values[i, j]`` is rater j's value on observation i."""

    raters: tuple[str, ...]
    cases: np.ndarray
    levels: np.ndarray
    values: np.ndarray
    reason: str = ""
    note: str = ""

    @property
    def n_obs(self) -> int:
        return int(self.values.shape[0])

    @functools.cached_property
    def n_cases(self) -> int:
        import numpy as np

        return len(np.unique(self.cases.astype(str))) if self.n_obs else 0

    @property
    def n_raters(self) -> int:
        return len(self.raters)

    def column(self, rater: int | str) -> np.ndarray:
        j = self.raters.index(rater) if isinstance(rater, str) else rater
        return self.values[:, j]


class RatingIndex:
    """A ratings-like table pivoted once, for fast matching of any raters, pattern and level.

    Parameters
    ----------
    table
        A ratings, Likert or level-positions table (see :mod:`ssc_core.analysis.tables`).
    value
        The column compared: ``"score"``, ``"rating"`` or ``"z_mm"``.
    """

    def __init__(self, table: pd.DataFrame, value: str = "score") -> None:
        import numpy as np

        self.value = value
        self.has_pattern = "pattern" in table.columns
        key = ["case", "level", "pattern"] if self.has_pattern else ["case", "level"]
        self.rater_ids: list[str] = list(dict.fromkeys(table["rater"]))
        # One column per rater: the value where entered (NaN otherwise), and whether its reading is finished.
        entered = table.pivot(index=key, columns="rater", values=value).reindex(columns=self.rater_ids)
        if "finished" in table.columns:
            done = table.pivot(index=key, columns="rater", values="finished").reindex(
                index=entered.index, columns=self.rater_ids
            )
            finished = done.eq(True).to_numpy(dtype=bool)
        else:
            finished = np.ones(entered.shape, dtype=bool)
        self._entered = entered.to_numpy(dtype=float)
        self._values = np.where(finished, self._entered, np.nan)
        self._cases = np.asarray(entered.index.get_level_values("case"), dtype=object)
        self._levels = np.asarray(entered.index.get_level_values("level"), dtype=int)
        self._patterns = (
            np.asarray(entered.index.get_level_values("pattern"), dtype=object) if self.has_pattern else None
        )

    def _rows(self, pattern: str | None, level: int | None) -> np.ndarray:
        import numpy as np

        mask = np.ones(len(self._cases), dtype=bool)
        if pattern is not None:
            if self._patterns is None:
                raise AnalysisError("This table has no patterns.")
            mask &= self._patterns == str(pattern)
        if level is not None:
            mask &= self._levels == int(level)
        return mask

    def match(
        self, raters: Sequence[str], *, pattern: str | None = None, level: int | None = None
    ) -> Matched:
        """The observations every rater in ``raters`` has a finished value for."""
        import numpy as np

        unknown = [r for r in raters if r not in self.rater_ids]
        if unknown:
            known = ", ".join(self.rater_ids) or "none"
            raise AnalysisError(f"Unknown rater {unknown[0]!r}; the table has: {known}.")
        if len(set(raters)) != len(raters):
            raise AnalysisError("A rater cannot be compared with itself.")
        cols = list(raters)
        idx = [self.rater_ids.index(r) for r in cols]
        rows = self._rows(pattern, level)
        values = self._values[rows][:, idx]
        entered = self._entered[rows][:, idx]
        both = ~np.isnan(values).any(axis=1)
        n_both = int(both.sum())
        notes: list[str] = []
        reason = ""
        for j, r in enumerate(cols):
            n_entered = int((~np.isnan(entered[:, j])).sum())
            n_finished = int((~np.isnan(values[:, j])).sum())
            if n_entered > n_finished:
                notes.append(f"{n_entered - n_finished} observation(s) of {r} left out: reading not finished")
            if n_finished == 0 and not reason:
                what = "scores" if self.value == "score" else "values"
                reason = f"{r} has no finished reading here" if n_entered else f"{r} has no {what} here"
            elif n_finished > n_both:
                others = " and ".join(o for o in cols if o != r)
                notes.append(f"{n_finished - n_both} observation(s) of {r} not matched by {others}")
        if n_both == 0 and not reason:
            reason = f"no case x level was scored by all of {', '.join(cols)} (unmatched design)"
        return Matched(
            raters=tuple(cols),
            cases=self._cases[rows][both],
            levels=self._levels[rows][both],
            values=values[both],
            reason=reason,
            note="; ".join(notes),
        )
