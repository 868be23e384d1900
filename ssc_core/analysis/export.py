"""Export a study to a spreadsheet (xlsx) or CSV files, and read such an export back.

Workbook sheets: "Study" (description: sessions, readers, export time, software version, audit-chain head),
"Columns" (what every column means), the data in long format ("Scores", "Level positions", "Likert",
"Timing", "AI results") and the report tables ("Observer study" in the paper's Table 6 layout, "AI
performance" in the Tables 4/5 layout, and their details). Column names of the data sheets are those of
:mod:`ssc_core.analysis.tables` (less the derived ``rater`` id), so an export reads back into the same
tables; times are UTC, to the second.

CSV: one file per table, comma-separated with a decimal point and UTF-8 (with a byte-order mark so that
spreadsheet programs detect the encoding), in a folder or a zip file. Nothing depends on the process
locale; ``decimal=","`` writes the semicolon-separated variant that spreadsheet programs in comma-decimal
locales open directly. The reader detects either.

Every file is written atomically (:func:`ssc_core.fileio.atomic_write`): an interrupted export leaves the
previous file or the new one, never a broken one. A list of forbidden texts (the study's patient
identifiers) can be given: an export that would contain one is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssc_core import RESEARCH_USE_NOTICE, __version__
from ssc_core.analysis.tables import (
    AI_RESULTS,
    LEVEL_POSITIONS,
    LIKERT,
    RATINGS,
    TIMING,
    StudyDescription,
    StudyTables,
    TableSchema,
    validate_table,
)
from ssc_core.errors import Cancelled, ExportError, ImportFormatError, SSCError
from ssc_core.fileio import atomic_write
from ssc_core.progress import CancelToken, ProgressCallback, check_cancel, report

if TYPE_CHECKING:
    import pandas as pd

    from ssc_core.analysis.reports import StudyReports

#: Data sheets: sheet name, CSV file stem, schema, attribute of StudyTables.
DATA_SHEETS: tuple[tuple[str, str, TableSchema, str], ...] = (
    ("Scores", "scores", RATINGS, "ratings"),
    ("Level positions", "level_positions", LEVEL_POSITIONS, "levels"),
    ("Likert", "likert", LIKERT, "likert"),
    ("Timing", "timing", TIMING, "timing"),
    ("AI results", "ai_results", AI_RESULTS, "ai"),
)
STUDY_SHEET = "Study"
COLUMNS_SHEET = "Columns"

_HEADER_FILL = "DDE6F0"
_MAX_WIDTH = 60
_DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
_CSV_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Number formats of report columns, by (suffix of) column name.
_FORMATS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(^|\s|_)p(_vs_ai| vs AI)$"), "0.0000"),
    (re.compile(r"share"), "0.0%"),
    (re.compile(r"_mm$|^z_mm$"), "0.0"),
    (re.compile(r"^seconds$"), "0"),
    (
        re.compile(r"(mae|MAE|kappa|icc|ICC|CI low|CI high|ba_|r_squared|slope|intercept|output|heatmap)"),
        "0.00",
    ),
)


def _number_format(column: str) -> str | None:
    if column.startswith("n_") or column.startswith("n ") or column.endswith(" n cases") or " n " in column:
        return None
    for pattern, fmt in _FORMATS:
        if pattern.search(column):
            return fmt
    return None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# --- sheet contents --------------------------------------------------------------------------------------


#: Float columns whose values are whole numbers on a scale (written as integers).
_WHOLE = frozenset({"score", "rating"})


def _cell_columns(frame: pd.DataFrame) -> list[list[Any]]:
    """Each column as a list of plain Python values for a cell (None for missing; naive UTC datetimes)."""
    import numpy as np
    import pandas as pd

    cols: list[list[Any]] = []
    for name in frame.columns:
        s = frame[name]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            naive = s.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("s")
            missing = naive.isna().to_numpy()
            values = list(naive.dt.to_pydatetime())
            cols.append([None if m else v for v, m in zip(values, missing)])
        elif s.dtype == bool:
            cols.append(s.tolist())
        elif (
            s.dtype.kind in "iu"
            or isinstance(s.dtype, pd.Int64Dtype)
            or (s.dtype.kind == "f" and name in _WHOLE)
        ):
            arr = s.to_numpy(dtype=float, na_value=np.nan)
            cols.append([None if np.isnan(v) else int(v) for v in arr.tolist()])
        elif s.dtype.kind == "f":
            cols.append([None if v != v else v for v in s.tolist()])  # NaN != NaN
        else:
            cols.append([None if v is None or (isinstance(v, float) and v != v) else v for v in s.tolist()])
    return cols


def _study_rows(tables: StudyTables, reports: StudyReports | None, exported_at: datetime) -> list[list[Any]]:
    d = tables.described()
    rows: list[list[Any]] = [
        ["Study", d.title or "(untitled)"],
        ["Exported at (UTC)", exported_at.astimezone(timezone.utc).replace(tzinfo=None)],
        ["Software", f"SSc Scoring Workstation {d.software_version or __version__}"],
        ["Audit-chain head", d.audit_head or "(not from a study file)"],
        ["Exported for", d.exported_for or "the whole study (administrator export)"],
        ["Readers", ", ".join(d.readers)],
        ["Cases", int(tables.ratings["case"].nunique()) if len(tables.ratings) else 0],
        ["Notice", RESEARCH_USE_NOTICE + " AI results are research output."],
    ]
    if reports is not None:
        rows.append(["Ground truth used by the reports", reports.ground_truth or "(none)"])
        rows.append(["AI used for the readers' p-values", reports.ai_reference or "(none)"])
    rows += [[f"Note {i + 1}", n] for i, n in enumerate(d.notes)]
    rows += [[], ["Session", "Kind", "Assisted", "Blinded", "Readers", "Opened", "Closed"]]
    for s in d.sessions:
        rows.append([s.label, s.kind, s.assisted, s.blinded, ", ".join(s.readers), s.opened, s.closed])
    return rows


#: Columns of the tables that exports leave out because they are derived from others.
_DERIVED = ("rater",)


def _codebook() -> list[list[str]]:
    rows = []
    for sheet, _, schema, _ in DATA_SHEETS:
        rows += [[sheet, c.name, c.description] for c in schema.columns if c.name not in _DERIVED]
    return rows


def _all_sheets(
    tables: StudyTables, reports: StudyReports | None
) -> list[tuple[str, str, pd.DataFrame | None, list[list[Any]] | None]]:
    """(sheet name, csv stem, frame or None, raw rows or None) in export order."""
    import pandas as pd

    out: list[tuple[str, str, pd.DataFrame | None, list[list[Any]] | None]] = []
    for sheet, stem, _, attr in DATA_SHEETS:
        frame = getattr(tables, attr)
        # The rater id is derived from rater_kind, reader and session: not written (fewer cells, and
        # nothing to contradict when a sheet is edited by hand).
        out.append((sheet, stem, frame.drop(columns=[c for c in _DERIVED if c in frame.columns]), None))
    if reports is not None:
        for sheet, frame in reports.sheets().items():
            out.append((sheet, _slug(sheet), frame, None))
    codebook = pd.DataFrame(_codebook(), columns=["sheet", "column", "description"])
    out.append((COLUMNS_SHEET, "columns", codebook, None))
    return out


def _check_forbidden(
    sheets: Iterable[tuple[str, str, pd.DataFrame | None, list[list[Any]] | None]],
    study_rows: list[list[Any]],
    forbidden: Sequence[str],
) -> None:
    """Refuse an export that would contain any of ``forbidden`` (never naming the text found)."""
    needles = [str(f).strip() for f in forbidden if str(f).strip()]
    if not needles:
        return
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)

    def refuse(where: str) -> ExportError:
        return ExportError(
            f"The export would contain a patient identifier ({where}); nothing was written.",
            hint="Patient identifiers must never leave the study file. Check the case codes and notes.",
        )

    for r, row in enumerate(study_rows, start=1):
        for value in row:
            if isinstance(value, str) and pattern.search(value):
                raise refuse(f"sheet {STUDY_SHEET}, row {r}")
    for sheet, _, frame, _ in sheets:
        if frame is None:
            continue
        for col in frame.columns:
            if pattern.search(str(col)):
                raise refuse(f"sheet {sheet}, a column name")
            s = frame[col]
            if s.dtype == object or str(s.dtype) in ("str", "string"):
                hit = s.astype(str).str.contains(pattern, regex=True, na=False)
                if hit.any():
                    raise refuse(f"sheet {sheet}, column {col}")


# --- xlsx ------------------------------------------------------------------------------------------------


def _widths(header: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[float]:
    widths: list[float] = []
    for name, values in zip(header, columns):
        sample = values[:200]
        longest = max([len(str(name))] + [_shown_len(v) for v in sample if v is not None])
        widths.append(min(_MAX_WIDTH, longest + 2))
    return widths


def _shown_len(v: Any) -> int:
    if isinstance(v, datetime):
        return 19
    if isinstance(v, float):
        return len(f"{v:.2f}")
    return len(str(v))


def _write_frame(wb: Any, name: str, frame: pd.DataFrame, cancel: CancelToken | None) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title=name[:31])
    header = [str(c) for c in frame.columns]
    columns = _cell_columns(frame)
    for i, w in enumerate(_widths(header, columns), start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A2"
    if header:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(1, len(frame)) + 1}"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor=_HEADER_FILL)
    align = Alignment(vertical="center")
    cells = []
    for h in header:
        c = WriteOnlyCell(ws, value=h)
        c.font, c.fill, c.alignment = bold, fill, align
        cells.append(c)
    ws.append(cells)
    formats = [_number_format(h) for h in header]
    # Only the columns that need a number format get styled cells; the rest are written as plain values,
    # which keeps large sheets fast (openpyxl's write-only mode).
    styled = [j for j, f in enumerate(formats) if f is not None]
    for i, values in enumerate(zip(*columns)):
        row: list[Any] = list(values)
        for j in styled:
            if row[j] is not None:
                cell = WriteOnlyCell(ws, value=row[j])
                cell.number_format = formats[j]  # type: ignore[assignment]
                row[j] = cell
        ws.append(row)
        if i % 5000 == 4999:
            check_cancel(cancel)


def _write_rows(wb: Any, name: str, rows: list[list[Any]]) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    ws = wb.create_sheet(title=name)
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 60
    for c in "CDEFG":
        ws.column_dimensions[c].width = 14
    bold = Font(bold=True)
    header_next = False
    for row in rows:
        if not row:
            ws.append([])
            header_next = True
            continue
        out = []
        for j, v in enumerate(row):
            c = WriteOnlyCell(ws, value=v)
            if j == 0 or header_next:
                c.font = bold
            if isinstance(v, datetime):
                c.number_format = _DATE_FORMAT
            out.append(c)
        header_next = False
        ws.append(out)


def _discard(wb: Any) -> None:
    """Close the sheets of an abandoned write-only workbook and remove openpyxl's temporary files."""
    for ws in wb.worksheets:
        with contextlib.suppress(Exception):
            ws.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()


def export_workbook(
    tables: StudyTables,
    path: str | os.PathLike[str],
    *,
    reports: StudyReports | None = None,
    with_reports: bool = True,
    forbidden: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write the study (data sheets, description, report tables) to an ``.xlsx`` workbook, atomically.

    Parameters
    ----------
    tables
        The study's tables.
    path
        Target file; replaced only when the new workbook is complete.
    reports
        Report tables to include; computed here when None and ``with_reports``.
    forbidden
        Texts that must not appear anywhere (the study's patient identifiers); the export is refused
        (:class:`ExportError`) before anything is written if one does.
    progress, cancel
        Progress per sheet; cancelling leaves the previous file untouched.
    """
    from openpyxl import Workbook

    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise ExportError(f"{target.name}: a workbook export must end in .xlsx.")
    if reports is None and with_reports:
        from ssc_core.analysis.reports import compute_reports

        reports = compute_reports(tables, cancel=cancel)
    exported_at = tables.description.exported_at or datetime.now(timezone.utc)
    study_rows = _study_rows(tables, reports, exported_at)
    sheets = _all_sheets(tables, reports)
    _check_forbidden(sheets, study_rows, forbidden)
    total = len(sheets) + 2
    try:
        with atomic_write(target) as tmp:
            wb = Workbook(write_only=True)
            try:
                _write_rows(wb, STUDY_SHEET, study_rows)
                report(progress, 1, total, STUDY_SHEET)
                for i, (sheet, _, frame, _) in enumerate(sheets, start=2):
                    check_cancel(cancel)
                    assert frame is not None
                    _write_frame(wb, sheet, frame, cancel)
                    report(progress, i, total, sheet)
                check_cancel(cancel)
            except BaseException:
                _discard(wb)
                raise
            wb.save(tmp)
    except (SSCError, Cancelled):
        raise
    except OSError as exc:
        raise ExportError(f"Could not write {target.name}: {exc.strerror or exc}.") from exc
    report(progress, total, total, "Export written")
    return target


# --- CSV -------------------------------------------------------------------------------------------------


def _csv_bytes(frame: pd.DataFrame, decimal: str) -> bytes:
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        s = out[name]
        if name in ("score", "rating") and s.dtype.kind == "f":
            out[name] = s.round().astype("Int64")  # scores are whole numbers: "5", never "5.0"
        elif isinstance(s.dtype, pd.DatetimeTZDtype):
            out[name] = s.dt.tz_convert("UTC").dt.strftime(_CSV_DATE_FORMAT)
    sep = ";" if decimal == "," else ","
    buf = io.StringIO()
    out.to_csv(buf, index=False, sep=sep, decimal=decimal, lineterminator="\n")
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _csv_files(
    tables: StudyTables,
    reports: StudyReports | None,
    decimal: str,
    exported_at: datetime,
    forbidden: Sequence[str],
) -> Iterator[tuple[str, bytes]]:
    import pandas as pd

    study_rows = _study_rows(tables, reports, exported_at)
    sheets = _all_sheets(tables, reports)
    _check_forbidden(sheets, study_rows, forbidden)
    study = pd.DataFrame(
        [[str(r[0]), "" if len(r) < 2 else r[1]] for r in study_rows if r and len(r) == 2],
        columns=["item", "value"],
    )
    study["value"] = [
        v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime) else str(v) for v in study["value"]
    ]
    yield "study.csv", _csv_bytes(study, decimal)
    sess = [r for r in study_rows[study_rows.index([]) + 2 :]] if [] in study_rows else []
    sessions = pd.DataFrame(
        sess, columns=["session", "kind", "assisted", "blinded", "readers", "opened", "closed"]
    )
    yield "sessions.csv", _csv_bytes(sessions, decimal)
    for _, stem, frame, _ in sheets:
        assert frame is not None
        yield f"{stem}.csv", _csv_bytes(frame, decimal)


def export_csv(
    tables: StudyTables,
    path: str | os.PathLike[str],
    *,
    reports: StudyReports | None = None,
    with_reports: bool = True,
    decimal: str = ".",
    forbidden: Sequence[str] = (),
    cancel: CancelToken | None = None,
) -> Path:
    """Write one CSV file per table into a folder, or into a zip file when ``path`` ends in ``.zip``.

    ``decimal="."`` (default) writes comma-separated files; ``decimal=","`` semicolon-separated files with
    a decimal comma. The zip is replaced atomically as a whole; in a folder each file is.
    """
    if decimal not in (".", ","):
        raise ExportError("The decimal separator must be '.' or ','.")
    if reports is None and with_reports:
        from ssc_core.analysis.reports import compute_reports

        reports = compute_reports(tables, cancel=cancel)
    exported_at = tables.description.exported_at or datetime.now(timezone.utc)
    target = Path(path)
    files = list(_csv_files(tables, reports, decimal, exported_at, forbidden))
    try:
        if target.suffix.lower() == ".zip":
            with (
                atomic_write(target) as tmp,
                zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf,
            ):
                for name, data in files:
                    check_cancel(cancel)
                    zf.writestr(name, data)
        else:
            if target.exists() and not target.is_dir():
                raise ExportError(
                    f"{target.name} is a file; choose a folder or a .zip name for a CSV export."
                )
            target.mkdir(parents=True, exist_ok=True)
            for name, data in files:
                check_cancel(cancel)
                with atomic_write(target / name) as tmp:
                    tmp.write_bytes(data)
    except (SSCError, Cancelled):
        raise
    except OSError as exc:
        raise ExportError(f"Could not write {target.name}: {exc.strerror or exc}.") from exc
    return target


# --- reading back ----------------------------------------------------------------------------------------


def _description_from(items: dict[str, Any]) -> StudyDescription:
    software = str(items.get("Software", ""))
    version = software.rsplit(" ", 1)[-1] if software else ""
    head = str(items.get("Audit-chain head", ""))
    exported_for = str(items.get("Exported for", ""))
    return StudyDescription(
        title="" if items.get("Study") in (None, "(untitled)") else str(items["Study"]),
        software_version=version,
        audit_head="" if head.startswith("(") else head,
        exported_for="" if exported_for.startswith("the whole study") else exported_for,
    )


def read_workbook(path: str | os.PathLike[str]) -> StudyTables:
    """Read the data sheets of an exported workbook back into validated tables.

    Raises
    ------
    ImportFormatError
        When the file is not a readable workbook or has no "Scores" sheet.
    AnalysisError
        When a sheet breaks its table's rules (naming the spreadsheet row and column).
    """
    import openpyxl
    import pandas as pd

    p = Path(path)
    try:
        wb = openpyxl.load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on foreign or damaged files
        raise ImportFormatError(f"{p.name} is not a readable .xlsx workbook ({exc}).") from exc
    try:
        names = wb.sheetnames
        if DATA_SHEETS[0][0] not in names:
            raise ImportFormatError(f"{p.name} has no '{DATA_SHEETS[0][0]}' sheet: not a study export.")
        frames: dict[str, pd.DataFrame | None] = {}
        for sheet, _, schema, attr in DATA_SHEETS:
            if sheet not in names:
                frames[attr] = None
                continue
            rows = list(wb[sheet].iter_rows(values_only=True))
            header = [str(h) for h in rows[0]] if rows else []
            width = len(header)
            # Read-only rows stop at their last non-empty cell: pad them to the header.
            body = [
                (*r, *([None] * (width - len(r))))[:width] for r in rows[1:] if any(v is not None for v in r)
            ]
            frame = pd.DataFrame.from_records(body, columns=header) if header else None
            frames[attr] = validate_table(schema, frame, row_offset=2) if frame is not None else None
        items: dict[str, Any] = {}
        if STUDY_SHEET in names:
            for row in wb[STUDY_SHEET].iter_rows(values_only=True):
                if not row or row[0] is None:
                    break
                items[str(row[0])] = row[1] if len(row) > 1 else None
    finally:
        wb.close()
    return StudyTables.build(**frames, description=_description_from(items))  # type: ignore[arg-type]


def _read_csv_text(text: str, schema: TableSchema | None, name: str) -> pd.DataFrame:
    import pandas as pd

    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    sep = ";" if first.count(";") > first.count(",") else ","
    frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    if schema is None:
        return frame
    try:
        return validate_table(schema, frame, row_offset=2)
    except SSCError as exc:
        raise type(exc)(f"{name}: {exc}") from exc


def read_csv_tables(path: str | os.PathLike[str]) -> StudyTables:
    """Read a CSV export (folder or zip, either decimal convention) back into validated tables."""
    p = Path(path)
    texts: dict[str, str] = {}
    if p.is_dir():
        for f in p.glob("*.csv"):
            texts[f.name] = f.read_text(encoding="utf-8-sig")
    elif p.suffix.lower() == ".zip" and p.is_file():
        try:
            with zipfile.ZipFile(p) as zf:
                for n in zf.namelist():
                    if n.endswith(".csv"):
                        texts[Path(n).name] = zf.read(n).decode("utf-8-sig")
        except zipfile.BadZipFile as exc:
            raise ImportFormatError(f"{p.name} is not a readable zip file.") from exc
    else:
        raise ImportFormatError(f"{p.name}: expected a folder or a .zip of CSV files from a study export.")
    if "scores.csv" not in texts:
        raise ImportFormatError(f"{p.name} has no scores.csv: not a study export.")
    frames: dict[str, Any] = {}
    for _, stem, schema, attr in DATA_SHEETS:
        name = f"{stem}.csv"
        frames[attr] = _read_csv_text(texts[name], schema, name) if name in texts else None
    items: dict[str, Any] = {}
    if "study.csv" in texts:
        study = _read_csv_text(texts["study.csv"], None, "study.csv")
        if list(study.columns[:2]) == ["item", "value"]:
            items = dict(zip(study["item"], study["value"]))
    return StudyTables.build(**frames, description=_description_from(items))


def read_export(path: str | os.PathLike[str]) -> StudyTables:
    """Read an exported workbook (.xlsx), CSV folder or CSV zip."""
    p = Path(path)
    if p.suffix.lower() == ".xlsx":
        return read_workbook(p)
    return read_csv_tables(p)
