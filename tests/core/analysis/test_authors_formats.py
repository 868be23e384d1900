"""The authors' label workbook and Likert JSON, both ways, and their refusals."""

from __future__ import annotations

import json

import openpyxl
import pytest

from ssc_core.analysis.authors_formats import (
    LABEL_COLUMNS,
    LabelRow,
    LikertRecord,
    parse_label_workbook,
    read_label_workbook,
    read_likert_json,
    write_label_workbook,
    write_likert_json,
)
from ssc_core.constants import Level, Pattern
from ssc_core.errors import ImportFormatError
from ssc_core.scoring import LevelScores


def make_row(pat_id: str, base: float = 0.0, tot: int = 30) -> LabelRow:
    return LabelRow(
        pat_id=pat_id,
        positions={lv: base - 25.0 * int(lv) for lv in Level},
        scores={lv: LevelScores(tot, tot - 10, 10) for lv in Level},
    )


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_label_round_trip_keeps_leading_zeros_and_values(tmp_path, suffix):
    rows = [make_row("005"), make_row("017", base=-3.5, tot=100)]
    rows[1] = LabelRow("017", rows[1].positions, {lv: LevelScores(100, 100, 0) for lv in Level})
    path = write_label_workbook(rows, tmp_path / f"GohScores{suffix}")
    back = read_label_workbook(path)
    assert [r.pat_id for r in back] == ["005", "017"]
    assert back[0].positions[Level.L3] == pytest.approx(-75.0)
    assert back[0].scores[Level.L2] == LevelScores(30, 20, 10)
    assert back[1].scores[Level.L5] == LevelScores(100, 100, 0)
    assert back[1].row == 3


def _write_raw(tmp_path, header, rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    path = tmp_path / "labels.xlsx"
    wb.save(path)
    return path


def _good_cells(pat_id="1"):
    return [pat_id, 100, 80, 60, 40, 20] + [30, 20, 10] * 5


def test_problems_name_row_and_field(tmp_path):
    bad_grid = _good_cells("2")
    bad_grid[6] = 33  # L1_disext off grid
    bad_union = _good_cells("3")
    bad_union[9:12] = [50, 20, 10]  # L2 TOT above GG + RET
    bad_order = _good_cells("4")
    bad_order[2] = 120  # L2 above L1
    path = _write_raw(tmp_path, list(LABEL_COLUMNS), [_good_cells("1"), bad_grid, bad_union, bad_order])
    book = parse_label_workbook(path)
    found = {(p.row, p.field) for p in book.problems}
    assert (3, "L1_disext") in found
    assert (4, "L2_disext") in found
    assert (5, "L2_pos") in found
    assert [r.pat_id for r in book.good_rows()] == ["1"]
    with pytest.raises(ImportFormatError, match=r"row 3 \(PatID 2\), L1_disext"):
        read_label_workbook(path)


def test_unknown_and_missing_columns_are_refused(tmp_path):
    path = _write_raw(tmp_path, [*LABEL_COLUMNS, "Comment"], [[*_good_cells(), "x"]])
    with pytest.raises(ImportFormatError, match=r"unknown column.*Comment"):
        read_label_workbook(path)
    assert len(read_label_workbook(path, allow_extra_columns=True)) == 1
    path = _write_raw(tmp_path, list(LABEL_COLUMNS[:-1]), [_good_cells()[:-1]])
    with pytest.raises(ImportFormatError, match=r"missing column.*L5_retp"):
        read_label_workbook(path)


def test_duplicate_id_and_foreign_file(tmp_path):
    path = _write_raw(tmp_path, list(LABEL_COLUMNS), [_good_cells("7"), _good_cells("7")])
    with pytest.raises(ImportFormatError, match="duplicate of row 2"):
        read_label_workbook(path)
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(ImportFormatError, match="not a readable"):
        read_label_workbook(junk)


def test_likert_round_trip_and_refusals(tmp_path):
    recs = [
        LikertRecord("005", Level.L1, {Pattern.TOT: 5, Pattern.GG: 4, Pattern.RET: 5}, index=1),
        LikertRecord("005", Level.L2, {Pattern.TOT: 1, Pattern.GG: 3, Pattern.RET: 2}, index=2),
    ]
    path = write_likert_json(recs, tmp_path / "ratings.json")
    raw = json.loads(path.read_text())
    assert raw[0] == {
        "Index": 1,
        "Pat_ID": "005",
        "Level": "1",
        "TOT": "5",
        "GG": "4",
        "RET": "5",
        "Status": "Done",
    }
    back = read_likert_json(path)
    assert back[1].ratings[Pattern.GG] == 3
    assert back[1].level is Level.L2
    raw[1]["RET"] = "6"
    path.write_text(json.dumps(raw))
    with pytest.raises(ImportFormatError, match=r"row 2 \(PatID 005\), RET: rating 6 outside 1..5"):
        read_likert_json(path)
    path.write_text("{broken")
    with pytest.raises(ImportFormatError, match="not a readable JSON"):
        read_likert_json(path)
