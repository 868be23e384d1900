"""Between the study tables and the authors' formats (:mod:`ssc_core.analysis.authors_formats`).

* One rater's scores and level positions (a reader's session, or the consensus) <-> the wide label
  workbook (``PatID``, ``L{n}_pos``, ``L{n}_disext/gg/retp``); the case code stands in the ``PatID``
  column, never a patient identifier.
* One rater's Likert ratings <-> the authors' Likert JSON.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ssc_core.analysis.authors_formats import (
    LabelRow,
    LikertRecord,
    write_label_workbook,
    write_likert_json,
)
from ssc_core.analysis.tables import (
    CONSENSUS_READER,
    RaterKind,
    level_table,
    likert_table,
    ratings_table,
)
from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.errors import AnalysisError
from ssc_core.scoring import LevelScores

if TYPE_CHECKING:
    import pandas as pd


def _one_rater(table: pd.DataFrame, rater: str, what: str) -> pd.DataFrame:
    rows = table[table["rater"] == rater]
    if rows.empty:
        known = ", ".join(dict.fromkeys(table["rater"])) or "none"
        raise AnalysisError(f"No {what} of {rater!r}; the study has {what} of: {known}.")
    return rows


def label_rows(ratings: pd.DataFrame, levels: pd.DataFrame, rater: str) -> list[LabelRow]:
    """One rater's scores and level positions as label-workbook rows (one per case, in case order).

    Scores not entered and levels not placed stay empty in the workbook.
    """
    import math

    scores = _one_rater(ratings, rater, "scores")
    own_levels = levels[levels["rater"] == rater]
    positions: dict[str, dict[Level, float]] = {}
    for case, lv, z in own_levels[["case", "level", "z_mm"]].itertuples(index=False, name=None):
        positions.setdefault(case, {})[Level(int(lv))] = float(z)
    values: dict[str, dict[Level, dict[Pattern, int | None]]] = {}
    for case, lv, pat, score in scores[["case", "level", "pattern", "score"]].itertuples(
        index=False, name=None
    ):
        v = None if score is None or math.isnan(score) else int(score)
        values.setdefault(case, {}).setdefault(Level(int(lv)), {})[Pattern(pat)] = v
    rows = []
    for case in sorted(set(values) | set(positions)):
        per_level = values.get(case, {})
        rows.append(
            LabelRow(
                pat_id=case,
                positions={lv: positions.get(case, {}).get(lv) for lv in LEVELS},  # type: ignore[misc]
                scores={
                    lv: LevelScores(
                        per_level.get(lv, {}).get(Pattern.TOT),
                        per_level.get(lv, {}).get(Pattern.GG),
                        per_level.get(lv, {}).get(Pattern.RET),
                    )
                    for lv in LEVELS
                },
            )
        )
    return rows


def export_label_workbook(
    ratings: pd.DataFrame, levels: pd.DataFrame, rater: str, path: str | os.PathLike[str]
) -> Path:
    """Write one rater's session in the authors' wide label-workbook layout (.xlsx or .csv), atomically."""
    return write_label_workbook(label_rows(ratings, levels, rater), path)


def tables_from_label_rows(
    rows: Iterable[LabelRow],
    *,
    kind: RaterKind | str = RaterKind.CONSENSUS,
    reader: str = CONSENSUS_READER,
    session: str = "GT",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A label workbook as one rater's (ratings, level positions) tables; ``PatID`` becomes the case code."""
    kind = RaterKind(kind)
    score_rows = []
    level_rows = []
    common = {"rater_kind": kind.value, "reader": reader, "session": session}
    for r in rows:
        for lv in LEVELS:
            s = r.scores.get(lv, LevelScores())
            for pat in PATTERNS:
                score_rows.append(
                    {**common, "case": r.pat_id, "level": int(lv), "pattern": pat.value, "score": s.get(pat)}
                )
            z = r.positions.get(lv)
            if z is not None:
                level_rows.append({**common, "case": r.pat_id, "level": int(lv), "z_mm": z})
    return ratings_table(score_rows), level_table(level_rows)


def likert_records(likert: pd.DataFrame, rater: str) -> list[LikertRecord]:
    """One rater's Likert ratings as records of the authors' JSON (one per case and level)."""
    import math

    rows = _one_rater(likert, rater, "Likert ratings")
    grouped: dict[tuple[str, int], dict[Pattern, int | None]] = {}
    done: dict[tuple[str, int], bool] = {}
    for case, lv, pat, rating, finished in rows[
        ["case", "level", "pattern", "rating", "finished"]
    ].itertuples(index=False, name=None):
        key = (case, int(lv))
        grouped.setdefault(key, {})[Pattern(pat)] = None if math.isnan(rating) else int(rating)
        done[key] = done.get(key, True) and bool(finished)
    out = []
    for i, key in enumerate(sorted(grouped), start=1):
        ratings = {p: grouped[key].get(p) for p in PATTERNS}
        complete = done[key] and all(v is not None for v in ratings.values())
        out.append(
            LikertRecord(
                pat_id=key[0],
                level=Level(key[1]),
                ratings=ratings,
                index=i,
                status="Done" if complete else "Open",
            )
        )
    return out


def export_likert_json(likert: pd.DataFrame, rater: str, path: str | os.PathLike[str]) -> Path:
    """Write one rater's Likert ratings in the authors' JSON layout, atomically."""
    return write_likert_json(likert_records(likert, rater), path)


def likert_table_from_records(
    records: Iterable[LikertRecord], *, reader: str, session: str = "HM"
) -> pd.DataFrame:
    """The authors' Likert records as one reader's Likert table (``Pat_ID`` becomes the case code)."""
    rows = []
    for r in records:
        for pat in PATTERNS:
            rows.append(
                {
                    "case": r.pat_id,
                    "rater_kind": RaterKind.READER.value,
                    "reader": reader,
                    "session": session,
                    "level": int(r.level),
                    "pattern": pat.value,
                    "rating": r.ratings.get(pat),
                    "finished": r.status == "Done",
                }
            )
    return likert_table(rows)
