"""The authors' file formats (DOMAIN.md section 5), read and written.

* Label workbook (``GohScores.xlsx``): one row per patient, ``PatID``; ``L{n}_pos`` = world z (mm, LPS) of
  level n; ``L{n}_disext``, ``L{n}_gg``, ``L{n}_retp`` = TOT, GG, RET of level n. Also read from ``.csv``.
* Likert ratings (the authors' rating tool): a JSON list of
  ``{"Index": 1, "Pat_ID": "005", "Level": "1", "TOT": "5", "GG": "4", "RET": "5", "Status": "Done"}``.

Parsing collects *every* problem with its row and field (``LabelWorkbook.problems``) so that training can
report bad rows before it starts; the strict readers raise :class:`ImportFormatError` listing them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ssc_core.constants import LEVELS, LIKERT_SCALE, Level, Pattern
from ssc_core.errors import ImportFormatError
from ssc_core.fileio import atomic_write
from ssc_core.scoring import LevelPlacement, LevelScores, level_violations, score_violations

PAT_ID = "PatID"
#: Suffix of each pattern's column in the label workbook.
PATTERN_COLUMN = {Pattern.TOT: "disext", Pattern.GG: "gg", Pattern.RET: "retp"}


def position_column(level: Level) -> str:
    return f"L{int(level)}_pos"


def score_column(level: Level, pattern: Pattern) -> str:
    return f"L{int(level)}_{PATTERN_COLUMN[Pattern(pattern)]}"


#: All columns of the label workbook, in the authors' order.
LABEL_COLUMNS: tuple[str, ...] = (
    PAT_ID,
    *(position_column(lv) for lv in LEVELS),
    *(score_column(lv, p) for lv in LEVELS for p in (Pattern.TOT, Pattern.GG, Pattern.RET)),
)


@dataclass(frozen=True)
class LabelRow:
    """One patient of a label workbook; ``row`` is the 1-based spreadsheet row (header = row 1)."""

    pat_id: str
    positions: Mapping[Level, float | None]
    scores: Mapping[Level, LevelScores]
    row: int = 0


@dataclass(frozen=True)
class FormatProblem:
    """A problem at a row and field of an imported file."""

    row: int
    field: str
    message: str
    pat_id: str = ""

    def __str__(self) -> str:
        who = f" (PatID {self.pat_id})" if self.pat_id else ""
        return f"row {self.row}{who}, {self.field}: {self.message}"


@dataclass(frozen=True)
class LabelWorkbook:
    rows: tuple[LabelRow, ...]
    problems: tuple[FormatProblem, ...] = field(default=())

    @property
    def bad_pat_ids(self) -> frozenset[str]:
        return frozenset(p.pat_id for p in self.problems if p.pat_id)

    def good_rows(self) -> tuple[LabelRow, ...]:
        """Rows without any problem (for "skip the bad cases")."""
        bad = self.bad_pat_ids
        bad_rows = {p.row for p in self.problems}
        return tuple(r for r in self.rows if r.pat_id not in bad and r.row not in bad_rows)


def _raise_problems(
    source: str | os.PathLike[str], problems: Sequence[FormatProblem], limit: int = 20
) -> None:
    lines = [str(p) for p in problems[:limit]]
    more = len(problems) - limit
    if more > 0:
        lines.append(f"... and {more} more")
    raise ImportFormatError(f"{Path(source).name}: " + "; ".join(lines))


def _cell_number(value: object) -> float | None:
    """A cell as float; None when empty. Raises ValueError on text that is not a number."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().replace(",", ".")  # comma-decimal locales
        if not text:
            return None
        return float(text)
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def _read_table(path: Path) -> tuple[list[str], list[list[object]]]:
    """Header and raw cell values of the first sheet (xlsx) or a CSV file, all as read (no coercion)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types on foreign or corrupt files
            raise ImportFormatError(f"{path.name} is not a readable .xlsx workbook ({exc}).") from exc
        try:
            rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
        finally:
            wb.close()
    elif suffix == ".csv":
        import csv

        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [list(r) for r in csv.reader(fh)]
    else:
        raise ImportFormatError(f"{path.name}: a label workbook must be .xlsx or .csv, not '{suffix}'.")
    rows = [r for r in rows if any(c not in (None, "") for c in r)]
    if not rows:
        raise ImportFormatError(f"{path.name} is empty: expected a header row starting with {PAT_ID}.")
    header = ["" if c is None else str(c).strip() for c in rows[0]]
    return header, rows[1:]


def parse_label_workbook(path: str | os.PathLike[str], *, allow_extra_columns: bool = False) -> LabelWorkbook:
    """Read a label workbook, collecting every problem with its row and field.

    Checked: required and unknown columns, unique non-empty ``PatID``, numbers, the score grid and range,
    the union rule, level order (``L1_pos > ... > L5_pos``) and distinct positions.
    """
    p = Path(path)
    if not p.is_file():
        raise ImportFormatError(f"No such file: {p}")
    header, body = _read_table(p)
    problems: list[FormatProblem] = []
    missing = [c for c in LABEL_COLUMNS if c not in header]
    if missing:
        raise ImportFormatError(f"{p.name}, row 1: missing column(s) {', '.join(missing)}.")
    unknown = [c for c in header if c and c not in LABEL_COLUMNS]
    if unknown and not allow_extra_columns:
        raise ImportFormatError(
            f"{p.name}, row 1: unknown column(s) {', '.join(unknown)}; "
            f"expected only {', '.join(LABEL_COLUMNS)}."
        )
    col = {name: header.index(name) for name in LABEL_COLUMNS}
    rows: list[LabelRow] = []
    seen: dict[str, int] = {}
    for offset, cells in enumerate(body):
        rownum = offset + 2
        cells = list(cells) + [None] * (len(header) - len(cells))
        raw_id = cells[col[PAT_ID]]
        pat_id = "" if raw_id is None else str(raw_id).strip()
        if isinstance(raw_id, float) and raw_id.is_integer():
            pat_id = str(int(raw_id))
        if not pat_id:
            problems.append(FormatProblem(rownum, PAT_ID, "empty patient ID"))
            continue
        if pat_id in seen:
            problems.append(FormatProblem(rownum, PAT_ID, f"duplicate of row {seen[pat_id]}", pat_id))
            continue
        seen[pat_id] = rownum

        positions: dict[Level, float | None] = {}
        scores: dict[Level, LevelScores] = {}
        for lv in LEVELS:
            name = position_column(lv)
            try:
                positions[lv] = _cell_number(cells[col[name]])
            except (TypeError, ValueError):
                problems.append(FormatProblem(rownum, name, f"not a number: {cells[col[name]]!r}", pat_id))
                positions[lv] = None
            if positions[lv] is None:
                problems.append(FormatProblem(rownum, name, "level position missing", pat_id))
            values: dict[Pattern, int | None] = {}
            for pat in (Pattern.TOT, Pattern.GG, Pattern.RET):
                name = score_column(lv, pat)
                raw = cells[col[name]]
                try:
                    number = _cell_number(raw)
                except (TypeError, ValueError):
                    problems.append(FormatProblem(rownum, name, f"not a number: {raw!r}", pat_id))
                    values[pat] = None
                    continue
                if number is None:
                    problems.append(FormatProblem(rownum, name, "score missing", pat_id))
                    values[pat] = None
                elif not number.is_integer():
                    problems.append(FormatProblem(rownum, name, f"{number:g} is off the 5 % grid", pat_id))
                    values[pat] = None
                else:
                    values[pat] = int(number)
            level_scores = LevelScores(values[Pattern.TOT], values[Pattern.GG], values[Pattern.RET])
            for v in score_violations(level_scores):
                problems.append(FormatProblem(rownum, score_column(lv, Pattern(v.field)), v.message, pat_id))
            scores[lv] = level_scores
        placed = {
            # The slice index is unknown here; the level number stands in, so only the z order is checked
            # (equal positions count as out of order).
            lv: LevelPlacement(lv, z, i)
            for i, (lv, z) in enumerate(positions.items())
            if z is not None
        }
        for v in level_violations(placed):
            if v.code == "level_order":
                problems.append(
                    FormatProblem(rownum, position_column(Level.parse(v.field)), v.message, pat_id)
                )
        rows.append(LabelRow(pat_id=pat_id, positions=positions, scores=scores, row=rownum))
    if not rows and not problems:
        problems.append(FormatProblem(2, PAT_ID, "no patients in the workbook"))
    return LabelWorkbook(tuple(rows), tuple(problems))


def read_label_workbook(path: str | os.PathLike[str], *, allow_extra_columns: bool = False) -> list[LabelRow]:
    """Read a label workbook; raise :class:`ImportFormatError` naming every bad row and field."""
    book = parse_label_workbook(path, allow_extra_columns=allow_extra_columns)
    if book.problems:
        _raise_problems(path, book.problems)
    return list(book.rows)


def write_label_workbook(rows: Iterable[LabelRow], path: str | os.PathLike[str]) -> Path:
    """Write rows in the authors' layout (``.xlsx`` or ``.csv``), atomically."""
    import pandas as pd

    records = []
    for r in rows:
        rec: dict[str, object] = {PAT_ID: r.pat_id}
        for lv in LEVELS:
            rec[position_column(lv)] = r.positions.get(lv)
        for lv in LEVELS:
            s = r.scores.get(lv, LevelScores())
            for pat in (Pattern.TOT, Pattern.GG, Pattern.RET):
                rec[score_column(lv, pat)] = s.get(pat)
        records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=list(LABEL_COLUMNS))
    target = Path(path)
    with atomic_write(target) as tmp:
        if target.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_excel(tmp, index=False, engine="openpyxl")
    return target


# --- Likert JSON ---------------------------------------------------------------------------------------

LIKERT_KEYS = ("Index", "Pat_ID", "Level", "TOT", "GG", "RET", "Status")


@dataclass(frozen=True)
class LikertRecord:
    """Ratings of one patient's level (1..5 per pattern; None where not rated)."""

    pat_id: str
    level: Level
    ratings: Mapping[Pattern, int | None]
    index: int = 0
    status: str = "Done"


def parse_likert_json(path: str | os.PathLike[str]) -> tuple[list[LikertRecord], list[FormatProblem]]:
    """Read the authors' Likert JSON, collecting problems per record (``row`` = 1-based record number)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFormatError(f"{p.name} is not a readable JSON file ({exc}).") from exc
    if not isinstance(data, list):
        raise ImportFormatError(
            f"{p.name}: expected a JSON list of rating records, got {type(data).__name__}."
        )
    records: list[LikertRecord] = []
    problems: list[FormatProblem] = []
    seen: set[tuple[str, Level]] = set()
    for n, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            problems.append(FormatProblem(n, "record", "not a JSON object"))
            continue
        missing = [k for k in LIKERT_KEYS if k not in obj]
        if missing:
            problems.append(FormatProblem(n, ",".join(missing), "missing key(s)"))
            continue
        unknown = [k for k in obj if k not in LIKERT_KEYS]
        if unknown:
            problems.append(FormatProblem(n, ",".join(unknown), "unknown key(s)"))
            continue
        pat_id = str(obj["Pat_ID"]).strip()
        if not pat_id:
            problems.append(FormatProblem(n, "Pat_ID", "empty patient ID"))
            continue
        try:
            level = Level.parse(obj["Level"])
        except ValueError as exc:
            problems.append(FormatProblem(n, "Level", str(exc), pat_id))
            continue
        status = str(obj["Status"]).strip()
        ratings: dict[Pattern, int | None] = {}
        for pat in (Pattern.TOT, Pattern.GG, Pattern.RET):
            raw = obj[pat.value]
            text = "" if raw is None else str(raw).strip()
            if not text:
                ratings[pat] = None
                if status == "Done":
                    problems.append(
                        FormatProblem(n, pat.value, "rating missing on a record marked Done", pat_id)
                    )
                continue
            try:
                value = int(text)
            except ValueError:
                problems.append(FormatProblem(n, pat.value, f"not a rating: {raw!r}", pat_id))
                continue
            if value not in LIKERT_SCALE:
                problems.append(FormatProblem(n, pat.value, f"rating {value} outside 1..5", pat_id))
                continue
            ratings[pat] = value
        if (pat_id, level) in seen:
            problems.append(FormatProblem(n, "Level", f"second record for level {level.label}", pat_id))
            continue
        seen.add((pat_id, level))
        try:
            index = int(obj["Index"])
        except (TypeError, ValueError):
            index = n
        records.append(LikertRecord(pat_id=pat_id, level=level, ratings=ratings, index=index, status=status))
    return records, problems


def read_likert_json(path: str | os.PathLike[str]) -> list[LikertRecord]:
    """Read the authors' Likert JSON; raise :class:`ImportFormatError` naming every bad record and field."""
    records, problems = parse_likert_json(path)
    if problems:
        _raise_problems(path, problems)
    return records


def write_likert_json(records: Iterable[LikertRecord], path: str | os.PathLike[str]) -> Path:
    """Write records in the authors' JSON layout (all values as strings, as their tool does), atomically."""
    out = []
    for i, r in enumerate(records, start=1):
        out.append(
            {
                "Index": r.index or i,
                "Pat_ID": r.pat_id,
                "Level": str(int(r.level)),
                **{
                    p.value: "" if r.ratings.get(p) is None else str(r.ratings[p])
                    for p in (Pattern.TOT, Pattern.GG, Pattern.RET)
                },
                "Status": r.status,
            }
        )
    target = Path(path)
    with atomic_write(target) as tmp:
        tmp.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return target
