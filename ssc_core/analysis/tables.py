"""Long-format tables of a reader study: the data model behind statistics, reports and export.

Statistics and exports never read the study store directly: they take these tables (pandas DataFrames with
a fixed schema, made by the validating constructors below), so the same code serves a live study, an
exported workbook read back, and simulated data.

A *rater* is one source of scores: a reader in a session, the consensus (ground truth), or an AI bundle.
Its id (column ``rater``) is derived from ``rater_kind``, ``reader`` and ``session`` by :func:`rater_id`
and is unique per rater.

Schemas (one row per ...)
-------------------------
ratings (case x rater x level x pattern)
    ``case`` case code (a pseudonym, never a patient identifier); ``rater``; ``rater_kind`` ("reader",
    "consensus", "ai"); ``reader`` (reader name, "Consensus", or the AI bundle name); ``session`` (session
    label; may be empty for AI); ``level`` (1..5); ``pattern`` ("TOT", "GG", "RET"); ``score`` (0..100 on
    the 5 % grid, NaN = not entered); ``assisted`` (AI suggestions were shown); ``finished`` (the reading was
    submitted); ``entered_at`` and ``submitted_at`` (UTC; NaT when unknown).
levels (case x rater x level)
    the rater columns, ``level``, ``z_mm`` (world z, LPS mm), ``slice_index`` (nullable), ``assisted``,
    ``finished``, ``entered_at``.
likert (case x rater x level x pattern)
    the rater columns, ``level``, ``pattern``, ``rating`` (1..5, NaN = not rated), ``finished``,
    ``entered_at``.
timing (case x rater x scope)
    the rater columns, ``assisted``, ``scope`` ("case" or "L1".."L5"), ``seconds``, ``started_at``,
    ``submitted_at``.
ai (case x bundle x level x pattern)
    ``case``, ``bundle``, ``level``, ``pattern``, ``output`` (raw network output, %), ``score`` (the shown
    grid score), ``heatmap_score`` (heat-map-derived score, %, NaN when not computed),
    ``heatmap_threshold``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ssc_core import __version__
from ssc_core.constants import LEVELS, LIKERT_SCALE, PATTERNS, SCORE_GRID
from ssc_core.errors import AnalysisError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class RaterKind(str, enum.Enum):
    """Who gave a score."""

    READER = "reader"
    CONSENSUS = "consensus"
    AI = "ai"


#: Reader name used for the consensus when none is given.
CONSENSUS_READER = "Consensus"


def rater_id(kind: RaterKind | str, reader: str, session: str = "", assisted: bool = False) -> str:
    """The display id of a rater: ``"A (S1)"``, ``"A (S2, assisted)"``, ``"Consensus (GT)"``, ``"AI (b)"``.

    A reader's values entered with the AI's output in view ("assisted") are a rater of their own: under the
    after-commit policy one reading has both an unaided and an assisted set of values.
    """
    kind = RaterKind(kind)
    reader = str(reader).strip()
    session = str(session).strip()
    if kind is RaterKind.AI:
        return f"AI ({reader}, {session})" if session else f"AI ({reader})"
    name = reader or (CONSENSUS_READER if kind is RaterKind.CONSENSUS else "")
    inside = ", ".join(x for x in (session, "assisted" if assisted else "") if x)
    return f"{name} ({inside})" if inside else name


# --- schema ----------------------------------------------------------------------------------------------

_STR, _INT, _FLOAT, _BOOL, _TIME, _NULLINT = "str", "int", "float", "bool", "time", "nullint"


@dataclass(frozen=True)
class Column:
    """One column of a table schema; ``default`` is used when the column is absent (required if None)."""

    name: str
    kind: str
    description: str
    default: Any = None

    @property
    def required(self) -> bool:
        return self.default is None


_MISSING_TIME = "NaT"

_RATER_COLUMNS = (
    Column("case", _STR, "case code (pseudonym)"),
    Column("rater", _STR, "rater id: reader (session), consensus or AI bundle", default=""),
    Column("rater_kind", _STR, "reader, consensus or ai"),
    Column("reader", _STR, "reader name, consensus name or AI bundle"),
    Column("session", _STR, "session label", default=""),
)


@dataclass(frozen=True)
class TableSchema:
    """Columns of one table and the columns that identify a row."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    has_rater: bool = True
    #: Unaided and assisted values of one reading are different raters (ids end in ", assisted").
    assisted_in_id: bool = True

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


RATINGS = TableSchema(
    "ratings",
    (
        *_RATER_COLUMNS,
        Column("level", _INT, "level 1..5 (L1 cranial .. L5 caudal)"),
        Column("pattern", _STR, "TOT, GG or RET"),
        Column("score", _FLOAT, "percent of lung area, 0..100 in steps of 5; empty = not entered"),
        Column("assisted", _BOOL, "AI suggestions were shown to the reader", default=False),
        Column("finished", _BOOL, "the reading was submitted", default=True),
        Column("entered_at", _TIME, "when the score was last entered (UTC)", default=_MISSING_TIME),
        Column("submitted_at", _TIME, "when the reading was submitted (UTC)", default=_MISSING_TIME),
    ),
    key=("rater", "case", "level", "pattern"),
)

LEVEL_POSITIONS = TableSchema(
    "levels",
    (
        *_RATER_COLUMNS,
        Column("level", _INT, "level 1..5"),
        Column("z_mm", _FLOAT, "world z of the level, DICOM LPS mm (+z to the head)"),
        Column("slice_index", _NULLINT, "index of the original slice (0 = most cranial)", default=-1),
        Column("assisted", _BOOL, "AI suggestions were shown to the reader", default=False),
        Column("finished", _BOOL, "the reading was submitted", default=True),
        Column("entered_at", _TIME, "when the level was placed (UTC)", default=_MISSING_TIME),
    ),
    key=("rater", "case", "level"),
)

LIKERT = TableSchema(
    "likert",
    (
        *_RATER_COLUMNS,
        Column("level", _INT, "level 1..5"),
        Column("pattern", _STR, "TOT, GG or RET"),
        Column("rating", _FLOAT, "1 strongly disagree .. 5 strongly agree; empty = not rated"),
        Column("assisted", _BOOL, "the network's scores were shown to the reader", default=False),
        Column("finished", _BOOL, "the rating session was submitted", default=True),
        Column("entered_at", _TIME, "when the rating was entered (UTC)", default=_MISSING_TIME),
    ),
    key=("rater", "case", "level", "pattern"),
)

TIMING = TableSchema(
    "timing",
    (
        *_RATER_COLUMNS,
        Column("assisted", _BOOL, "AI suggestions were shown to the reader", default=False),
        Column("scope", _STR, "'case' (whole case) or a level L1..L5", default="case"),
        Column("seconds", _FLOAT, "time spent, in seconds"),
        Column("started_at", _TIME, "when the reader opened the case (UTC)", default=_MISSING_TIME),
        Column("submitted_at", _TIME, "when the reading was submitted (UTC)", default=_MISSING_TIME),
    ),
    key=("rater", "case", "scope"),
    assisted_in_id=False,  # time is spent on the reading as a whole
)

AI_RESULTS = TableSchema(
    "ai",
    (
        Column("case", _STR, "case code (pseudonym)"),
        Column("bundle", _STR, "AI model bundle name"),
        Column("level", _INT, "level 1..5"),
        Column("pattern", _STR, "TOT, GG or RET"),
        Column("output", _FLOAT, "raw network output, percent (research software, not for clinical use)"),
        Column("score", _FLOAT, "score shown: output rounded to the 5 % grid, clipped, made consistent"),
        Column("heatmap_score", _FLOAT, "heat-map-derived score, percent (empty = not computed)", default=""),
        Column("heatmap_threshold", _FLOAT, "heat-map threshold used, score points", default=""),
    ),
    key=("bundle", "case", "level", "pattern"),
    has_rater=False,
)

SCHEMAS: dict[str, TableSchema] = {s.name: s for s in (RATINGS, LEVEL_POSITIONS, LIKERT, TIMING, AI_RESULTS)}

_TRUE = {"true", "1", "yes", "y", "t", "x"}
_FALSE = {"false", "0", "no", "n", "f", ""}


# --- validation ------------------------------------------------------------------------------------------


def _rows_of(mask: pd.Series | np.ndarray, offset: int, limit: int = 5) -> str:
    import numpy as np

    idx = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(i + offset) for i in idx[:limit])
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return f"row{'s' if len(idx) > 1 else ''} {shown}{more}"


def _show(value: object) -> str:
    """A cell value for a message: numbers plainly, text quoted."""
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value) if isinstance(value, str) else str(value)


def _fail(schema: TableSchema, message: str) -> AnalysisError:
    return AnalysisError(f"{schema.name.capitalize()} table: {message}")


def _to_frame(data: pd.DataFrame | Iterable[Mapping[str, Any]] | None) -> pd.DataFrame:
    import pandas as pd

    if data is None:
        return pd.DataFrame()
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True).copy()
    return pd.DataFrame.from_records(list(data))


def _coerce_text(col: pd.Series) -> pd.Series:
    import pandas as pd

    out = col.astype(object).where(col.notna(), "")
    # Integers read back from spreadsheets ("5" typed as 5, "005" is kept as text by our writer).
    out = out.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
    return pd.Series(out, index=col.index, dtype=object).str.strip().astype(object)


def _coerce_number(col: pd.Series, schema: TableSchema, name: str, offset: int) -> pd.Series:
    import pandas as pd

    if col.dtype == bool or isinstance(col.dtype, pd.BooleanDtype):
        raise _fail(schema, f"{name}: expected numbers, got true/false values.")
    if col.dtype.kind in "fiu":
        return col.astype(float)
    text = col.astype(object).where(col.notna(), None)
    # Accept a decimal comma (spreadsheets saved under a comma-decimal locale).
    text = text.map(lambda v: v.strip().replace(",", ".") if isinstance(v, str) else v)
    text = text.map(lambda v: None if v == "" else v)
    num = pd.to_numeric(text, errors="coerce")
    bad = num.isna() & text.notna()
    if bad.any():
        sample = text[bad].iloc[0]
        raise _fail(schema, f"{_rows_of(bad, offset)}, {name}: not a number ({_show(sample)}).")
    return num.astype(float)


def _coerce_bool(col: pd.Series, schema: TableSchema, name: str, offset: int) -> pd.Series:
    if col.dtype == bool:
        return col
    text = col.astype(object).where(col.notna(), "").map(lambda v: str(v).strip().lower())
    text = text.map(lambda v: "1" if v in ("1.0",) else ("0" if v in ("0.0",) else v))
    bad = ~text.isin(_TRUE | _FALSE)
    if bad.any():
        raise _fail(
            schema, f"{_rows_of(bad, offset)}, {name}: expected yes/no, got {_show(col[bad].iloc[0])}."
        )
    return text.isin(_TRUE)


def _coerce_time(col: pd.Series, schema: TableSchema, name: str, offset: int) -> pd.Series:
    import pandas as pd

    if isinstance(col.dtype, pd.DatetimeTZDtype):
        return col.dt.tz_convert("UTC")
    raw = col.astype(object).where(col.notna(), None).map(lambda v: None if v == "" or v == "NaT" else v)
    try:
        out = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    except (TypeError, ValueError) as exc:
        raise _fail(schema, f"{name}: not a date and time ({exc}).") from exc
    bad = out.isna() & raw.notna()
    if bad.any():
        raise _fail(
            schema, f"{_rows_of(bad, offset)}, {name}: not a date and time ({_show(raw[bad].iloc[0])})."
        )
    return out


def _coerce_level(col: pd.Series, schema: TableSchema, offset: int) -> pd.Series:
    import pandas as pd

    text = col.astype(object).where(col.notna(), "").map(lambda v: str(v).strip().upper())
    text = text.str.removeprefix("L").map(lambda v: v[:-2] if v.endswith(".0") else v)
    num = pd.to_numeric(text, errors="coerce")
    bad = ~num.isin([int(lv) for lv in LEVELS])
    if bad.any():
        raise _fail(
            schema, f"{_rows_of(bad, offset)}, level: {_show(col[bad].iloc[0])} is not a level (L1..L5)."
        )
    return num.astype(int)


def _coerce_pattern(col: pd.Series, schema: TableSchema, offset: int) -> pd.Series:
    text = col.astype(object).where(col.notna(), "").map(lambda v: str(v).strip().upper())
    bad = ~text.isin([p.value for p in PATTERNS])
    if bad.any():
        raise _fail(
            schema, f"{_rows_of(bad, offset)}, pattern: {_show(col[bad].iloc[0])} is not TOT, GG or RET."
        )
    return text


def _check_grid(values: pd.Series, schema: TableSchema, name: str, offset: int, grid: Sequence[int]) -> None:
    bad = values.notna() & ~values.isin([float(g) for g in grid])
    if bad.any():
        what = "0..100 in steps of 5" if grid == SCORE_GRID else "1..5"
        raise _fail(schema, f"{_rows_of(bad, offset)}, {name}: {values[bad].iloc[0]:g} is not {what}.")


def validate_table(
    schema: TableSchema,
    data: pd.DataFrame | Iterable[Mapping[str, Any]] | None,
    *,
    row_offset: int = 1,
    extra_columns: str = "raise",
) -> pd.DataFrame:
    """Return ``data`` as a table of ``schema``: columns in order, types coerced, rules checked.

    Parameters
    ----------
    schema
        One of :data:`RATINGS`, :data:`LEVEL_POSITIONS`, :data:`LIKERT`, :data:`TIMING`,
        :data:`AI_RESULTS`.
    data
        A DataFrame, an iterable of row mappings, or None (an empty table).
    row_offset
        Number of the first data row in error messages (1 = first record; 2 = spreadsheet with a header).
    extra_columns
        ``"raise"`` (default) refuses unknown columns; ``"ignore"`` drops them.

    Raises
    ------
    AnalysisError
        Naming the table, the rows and the column of every kind of problem found first.
    """
    import pandas as pd

    frame = _to_frame(data)
    if frame.empty and len(frame.columns) == 0:
        frame = pd.DataFrame({c.name: pd.Series(dtype=object) for c in schema.columns})
    missing = [c.name for c in schema.columns if c.required and c.name not in frame.columns]
    if missing:
        raise _fail(schema, f"missing column(s) {', '.join(missing)}.")
    unknown = [c for c in frame.columns if c not in schema.names]
    if unknown and extra_columns == "raise":
        raise _fail(schema, f"unknown column(s) {', '.join(map(str, unknown))}.")
    out: dict[str, pd.Series] = {}
    n = len(frame)
    for c in schema.columns:
        if c.name in frame.columns:
            col = frame[c.name]
        else:
            col = pd.Series([None if c.default in ("", _MISSING_TIME) else c.default] * n, dtype=object)
            if c.kind == _STR:
                col = pd.Series([c.default] * n, dtype=object)
        if c.kind == _STR:
            out[c.name] = _coerce_text(col)
        elif c.kind in (_FLOAT, _INT, _NULLINT):
            if c.name == "level":
                out[c.name] = _coerce_level(col, schema, row_offset)
                continue
            num = _coerce_number(col, schema, c.name, row_offset)
            if c.kind == _NULLINT:
                num = num.where(num >= 0)
                if (num.dropna() % 1 != 0).any():
                    raise _fail(schema, f"{c.name}: expected whole numbers.")
                out[c.name] = num.round().astype("Int64")
            else:
                out[c.name] = num
        elif c.kind == _BOOL:
            out[c.name] = _coerce_bool(col, schema, c.name, row_offset)
        elif c.kind == _TIME:
            out[c.name] = _coerce_time(col, schema, c.name, row_offset)
    table = pd.DataFrame(out, index=pd.RangeIndex(n))
    _check_rules(schema, table, row_offset)
    return table


def _check_rules(schema: TableSchema, table: pd.DataFrame, offset: int) -> None:
    import numpy as np

    if "case" in table:
        empty = table["case"] == ""
        if empty.any():
            raise _fail(schema, f"{_rows_of(empty, offset)}, case: empty case code.")
    if "pattern" in table:
        table["pattern"] = _coerce_pattern(table["pattern"], schema, offset)
    if schema.has_rater:
        kinds = table["rater_kind"].str.lower()
        bad = ~kinds.isin([k.value for k in RaterKind])
        if bad.any():
            raise _fail(
                schema,
                f"{_rows_of(bad, offset)}, rater_kind: {_show(table['rater_kind'][bad].iloc[0])} "
                "is not reader, consensus or ai.",
            )
        table["rater_kind"] = kinds
        no_reader = (table["reader"] == "") & (kinds != RaterKind.CONSENSUS.value)
        if no_reader.any():
            raise _fail(schema, f"{_rows_of(no_reader, offset)}, reader: empty reader name.")
        table.loc[kinds == RaterKind.CONSENSUS.value, "reader"] = table.loc[
            kinds == RaterKind.CONSENSUS.value, "reader"
        ].replace("", CONSENSUS_READER)
        no_session = (table["session"] == "") & (kinds == RaterKind.READER.value)
        if no_session.any():
            raise _fail(
                schema, f"{_rows_of(no_session, offset)}, session: a reader's session label is empty."
            )
        if schema.assisted_in_id:
            assisted = table["assisted"]
        else:
            import pandas as pd

            assisted = pd.Series(False, index=table.index)
        combos = table[["rater_kind", "reader", "session"]].assign(assisted=assisted).drop_duplicates()
        ids = {
            (k, r, s, a): rater_id(k, r, s, bool(a))
            for k, r, s, a in combos.itertuples(index=False, name=None)  # few distinct raters
        }
        derived = [ids[t] for t in zip(table["rater_kind"], table["reader"], table["session"], assisted)]
        given = table["rater"]
        mismatch = (given != "") & (given != np.asarray(derived, dtype=object))
        if mismatch.any():
            raise _fail(
                schema,
                f"{_rows_of(mismatch, offset)}, rater: {_show(given[mismatch].iloc[0])} does not match its "
                f"kind, reader and session (expected {derived[int(np.flatnonzero(mismatch)[0])]!r}).",
            )
        table["rater"] = derived
        clashes = [rid for rid, n in _count(ids.values()).items() if n > 1]
        if clashes:
            raise _fail(schema, f"two different raters share the id {clashes[0]!r}; rename one.")
    if schema is RATINGS or schema is AI_RESULTS:
        _check_grid(table["score"], schema, "score", offset, SCORE_GRID)
    if schema is LIKERT:
        _check_grid(table["rating"], schema, "rating", offset, LIKERT_SCALE)
    if schema is TIMING:
        bad = table["seconds"].isna() | (table["seconds"] < 0)
        if bad.any():
            raise _fail(schema, f"{_rows_of(bad, offset)}, seconds: a duration must be a number >= 0.")
        scope = table["scope"].str.upper().replace("CASE", "case")
        bad = ~scope.isin(["case", *(lv.label for lv in LEVELS)])
        if bad.any():
            raise _fail(schema, f"{_rows_of(bad, offset)}, scope: expected 'case' or L1..L5.")
        table["scope"] = scope
    if schema is LEVEL_POSITIONS:
        bad = ~np.isfinite(table["z_mm"].to_numpy(dtype=float))
        if bad.any():
            raise _fail(schema, f"{_rows_of(bad, offset)}, z_mm: level position missing.")
    if schema is AI_RESULTS:
        bad = ~np.isfinite(table["output"].to_numpy(dtype=float))
        if bad.any():
            raise _fail(schema, f"{_rows_of(bad, offset)}, output: network output missing.")
    dup = table.duplicated(list(schema.key), keep="first")
    if dup.any():
        first = table[dup].iloc[0]
        what = ", ".join(f"{k} {first[k]}" for k in schema.key)
        raise _fail(schema, f"{_rows_of(dup, offset)}: a second entry for {what}.")


def _count(values: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def concat_tables(schema: TableSchema, *tables: pd.DataFrame) -> pd.DataFrame:
    """Stack validated tables of one schema, checking only what stacking can break (ids, duplicates)."""
    import pandas as pd

    table = pd.concat([t for t in tables if len(t)] or [tables[0]], ignore_index=True)
    if schema.has_rater and len(table):
        cols = ["rater", "rater_kind", "reader", "session"] + (["assisted"] if schema.assisted_in_id else [])
        combos = table[cols].drop_duplicates()
        clashes = combos["rater"][combos["rater"].duplicated()]
        if len(clashes):
            raise _fail(schema, f"two different raters share the id {clashes.iloc[0]!r}; rename one.")
    dup = table.duplicated(list(schema.key), keep="first")
    if dup.any():
        first = table[dup].iloc[0]
        what = ", ".join(f"{k} {first[k]}" for k in schema.key)
        raise _fail(schema, f"a second entry for {what} when the tables are combined.")
    return table


def ratings_table(data: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None, **kw: Any) -> pd.DataFrame:
    """A validated ratings table (see the module docstring); keywords as :func:`validate_table`."""
    return validate_table(RATINGS, data, **kw)


def level_table(data: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None, **kw: Any) -> pd.DataFrame:
    """A validated level-positions table."""
    return validate_table(LEVEL_POSITIONS, data, **kw)


def likert_table(data: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None, **kw: Any) -> pd.DataFrame:
    """A validated Likert-ratings table."""
    return validate_table(LIKERT, data, **kw)


def timing_table(data: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None, **kw: Any) -> pd.DataFrame:
    """A validated timing table."""
    return validate_table(TIMING, data, **kw)


def ai_table(data: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None, **kw: Any) -> pd.DataFrame:
    """A validated AI-results table."""
    return validate_table(AI_RESULTS, data, **kw)


def ai_ratings(ai: pd.DataFrame) -> pd.DataFrame:
    """The AI's shown scores as rows of a ratings table (one rater per bundle)."""
    import pandas as pd

    if ai.empty:
        return ratings_table()
    frame = pd.DataFrame(
        {
            "case": ai["case"],
            "rater_kind": RaterKind.AI.value,
            "reader": ai["bundle"],
            "session": "",
            "level": ai["level"],
            "pattern": ai["pattern"],
            "score": ai["score"],
        }
    )
    return ratings_table(frame)


# --- raters ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rater:
    """One rater of a table."""

    id: str
    kind: RaterKind
    reader: str
    session: str
    assisted: bool = False


def raters(table: pd.DataFrame) -> list[Rater]:
    """The raters of a table, in order of first appearance."""
    if table.empty:
        return []
    cols = ["rater", "rater_kind", "reader", "session"]
    has_assist = "assisted" in table.columns
    first = table.drop_duplicates("rater")
    assisted = table.groupby("rater", sort=False)["assisted"].any() if has_assist else None
    return [
        Rater(
            id=r,
            kind=RaterKind(k),
            reader=rd,
            session=s,
            assisted=bool(assisted[r]) if assisted is not None else False,
        )
        for r, k, rd, s in first[cols].itertuples(index=False, name=None)
    ]


def sessions(table: pd.DataFrame, kind: RaterKind = RaterKind.READER) -> list[str]:
    """Session labels of the raters of ``kind``, in order of first appearance."""
    seen: list[str] = []
    for r in raters(table):
        if r.kind is kind and r.session not in seen:
            seen.append(r.session)
    return seen


# --- the whole study -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionInfo:
    """One session of a study as described in an export (no patient data)."""

    label: str
    kind: str = "observer"  # observer, consensus, likert or ai
    assisted: bool = False
    blinded: bool = True
    readers: tuple[str, ...] = ()
    opened: str = ""
    closed: str = ""


@dataclass(frozen=True)
class StudyDescription:
    """What an export says about the study it comes from."""

    title: str = ""
    sessions: tuple[SessionInfo, ...] = ()
    readers: tuple[str, ...] = ()
    software_version: str = __version__
    audit_head: str = ""
    exported_at: datetime | None = None
    exported_for: str = ""  # empty = full study; else "reader NAME, session LABEL" (a blinded export)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class StudyTables:
    """All tables of one study (validated), with its description."""

    ratings: pd.DataFrame
    levels: pd.DataFrame
    likert: pd.DataFrame
    timing: pd.DataFrame
    ai: pd.DataFrame
    description: StudyDescription = field(default_factory=StudyDescription)

    @classmethod
    def build(
        cls,
        *,
        ratings: Any = None,
        levels: Any = None,
        likert: Any = None,
        timing: Any = None,
        ai: Any = None,
        description: StudyDescription | None = None,
    ) -> StudyTables:
        """Validate each table (None = empty) and bundle them."""
        return cls(
            ratings=ratings_table(ratings),
            levels=level_table(levels),
            likert=likert_table(likert),
            timing=timing_table(timing),
            ai=ai_table(ai),
            description=description or StudyDescription(),
        )

    def described(self) -> StudyDescription:
        """The description, with sessions and readers filled in from the tables where it has none."""
        d = self.description
        if d.sessions and d.readers:
            return d
        found: dict[str, SessionInfo] = {}
        readers: list[str] = []
        for frame, kind in ((self.ratings, "observer"), (self.likert, "likert")):
            for r in raters(frame):
                if r.kind is RaterKind.AI:
                    continue
                k = "consensus" if r.kind is RaterKind.CONSENSUS else kind
                key = f"{k}:{r.session}"
                info = found.get(key, SessionInfo(label=r.session, kind=k, assisted=r.assisted))
                if r.reader not in info.readers:
                    info = SessionInfo(
                        label=info.label,
                        kind=info.kind,
                        assisted=info.assisted or r.assisted,
                        blinded=info.blinded,
                        readers=(*info.readers, r.reader),
                    )
                found[key] = info
                if r.kind is RaterKind.READER and r.reader not in readers:
                    readers.append(r.reader)
        return StudyDescription(
            title=d.title,
            sessions=d.sessions or tuple(found.values()),
            readers=d.readers or tuple(readers),
            software_version=d.software_version,
            audit_head=d.audit_head,
            exported_at=d.exported_at,
            exported_for=d.exported_for,
            notes=d.notes,
        )
