"""Importing the authors' label workbook (consensus) and Likert JSON (heat-map ratings)."""

from __future__ import annotations

import json

import pytest

from ssc_core.analysis.authors_formats import (
    LABEL_COLUMNS,
    LabelRow,
    LikertRecord,
    write_label_workbook,
    write_likert_json,
)
from ssc_core.constants import LEVELS, PATTERNS, Level, Pattern
from ssc_core.errors import ImportFormatError, ProtocolError, StudyError
from ssc_core.scoring import LevelScores
from ssc_core.study import queries
from ssc_core.study.importers import import_label_workbook, import_likert_json, read_mapping
from ssc_core.study.records import ReadingStatus, SessionKind, SessionStatus
from ssc_core.study.store import StudyStore
from tests.core.study.helpers import make_source


@pytest.fixture
def named(tmp_path, clock):
    """A study whose cases' scans are named like the authors' files: 001.mha .. 004.mha."""
    from ssc_core.study.store import create_study

    store = create_study(tmp_path / "i.sscstudy", name="Import", admin="Admin", clock=clock)
    admin = store.reader_by_name("Admin").id
    cases = store.add_cases([make_source(i) for i in range(1, 5)], by=admin)
    yield store, admin, cases
    store.close()


def _row(pat_id: str, base: int = 10) -> LabelRow:
    return LabelRow(
        pat_id=pat_id,
        positions={lv: 150.0 - 25.0 * int(lv) for lv in LEVELS},
        scores={lv: LevelScores(base + 5, base, 5) for lv in LEVELS},
    )


def _state(store: StudyStore):
    return store.audit_head, len(store.sessions()), len(store.readers())


def test_label_workbook_becomes_a_completed_consensus_session(named, tmp_path):
    store, admin, cases = named
    # "002" as written by the authors; "3" as Excel leaves it after dropping the leading zeros
    book = write_label_workbook([_row("001"), _row("002", 20), _row("3", 30)], tmp_path / "GohScores.xlsx")
    s = import_label_workbook(store, book, by=admin, label="GT", reader="Consensus A+B")
    assert s.kind is SessionKind.CONSENSUS
    assert s.status is SessionStatus.CLOSED
    assert len(s.reader_ids) == 1
    assert store.reader(s.reader_ids[0]).name == "Consensus A+B"
    assert sorted(store.session_case_ids(s.id)) == sorted(c.id for c in cases[:3])
    rows = [r for r in queries.score_rows(store) if r.key.session == "GT"]
    assert len(rows) == 3 * 5 * 3
    assert all(r.key.status is ReadingStatus.SUBMITTED for r in rows)
    by_case = {r.key.case_code: r.value for r in rows if r.level == Level.L2 and r.pattern is Pattern.GG}
    assert by_case == {cases[0].code: 10, cases[1].code: 20, cases[2].code: 30}
    levels = [r for r in queries.level_rows(store) if r.key.case_code == cases[0].code]
    assert [(int(r.level), r.world_z, r.slice_index) for r in levels][:2] == [
        (1, 125.0, None),
        (2, 100.0, None),
    ]
    assert store.verify().ok


def test_label_import_with_mapping_file(named, tmp_path):
    store, admin, cases = named
    mapping = tmp_path / "map.csv"
    mapping.write_text(f"PatID,case_code\nGOH-A,{cases[3].code}\nGOH-B,{cases[0].code}\n", encoding="utf-8")
    book = write_label_workbook([_row("GOH-A"), _row("GOH-B", 40)], tmp_path / "g.csv")
    s = import_label_workbook(store, book, by=admin, mapping=read_mapping(mapping))
    assert sorted(store.session_case_ids(s.id)) == sorted([cases[3].id, cases[0].id])


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            [_row("001"), _row("077")],
            r"row 3, PatID: no case of the study has a scan with this patient's name",
        ),
        ([_row("001"), _row("1")], r"row 3, PatID: the same case as row 2"),
    ],
)
def test_unmatched_patients_refused_and_nothing_imported(named, tmp_path, rows, expected):
    store, admin, _ = named
    before = _state(store)
    book = write_label_workbook(rows, tmp_path / "bad.xlsx")
    with pytest.raises(ImportFormatError, match=expected) as info:
        import_label_workbook(store, book, by=admin, reader="New Reader")
    assert "nothing was imported" in str(info.value)
    assert "077" not in str(info.value)  # the PatID value itself is not repeated
    assert _state(store) == before


def test_bad_scores_in_workbook_name_row_and_field(named, tmp_path):
    store, admin, _ = named
    book = write_label_workbook([_row("001"), _row("002")], tmp_path / "g.csv")
    text = book.read_text(encoding="utf-8").splitlines()
    cells = text[2].split(",")
    cells[LABEL_COLUMNS.index("L1_gg")] = "12"  # second patient, off the 5 % grid
    text[2] = ",".join(cells)
    book.write_text("\n".join(text) + "\n", encoding="utf-8")
    before = _state(store)
    with pytest.raises(ImportFormatError, match=r"row 3.*L1_gg"):
        import_label_workbook(store, book, by=admin)
    assert _state(store) == before


def test_failure_midway_rolls_everything_back(named, tmp_path, monkeypatch):
    store, admin, _ = named
    book = write_label_workbook([_row("001"), _row("002"), _row("003")], tmp_path / "g.xlsx")
    before = _state(store)
    import ssc_core.study.importers as imp

    calls = {"n": 0}
    real = imp._new_reading

    def failing(tx, *args, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(tx, *args, **kw)

    monkeypatch.setattr(imp, "_new_reading", failing)
    with pytest.raises(OSError, match="disk full"):
        import_label_workbook(store, book, by=admin, reader="Someone New")
    assert _state(store) == before
    assert store.conn.execute("SELECT count(*) FROM reading").fetchone()[0] == 0
    assert store.verify().ok


def test_label_import_needs_admin_and_a_free_label(named, tmp_path):
    store, admin, _ = named
    reader = store.add_reader("R", by=admin).id
    book = write_label_workbook([_row("001")], tmp_path / "g.xlsx")
    from ssc_core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        import_label_workbook(store, book, by=reader)
    import_label_workbook(store, book, by=admin, label="GT")
    with pytest.raises(StudyError, match="already a session"):
        import_label_workbook(store, book, by=admin, label="GT")


def _likert(pat_ids, value=4, status="Done", skip=None):
    out = []
    for pid in pat_ids:
        for lv in LEVELS:
            ratings = {p: value for p in PATTERNS}
            if skip == (pid, lv):
                ratings[Pattern.RET] = None
            out.append(LikertRecord(pid, lv, ratings, status=status if skip != (pid, lv) else "Todo"))
    return out


def test_likert_json_into_heatmap_session_for_two_raters(named, tmp_path):
    store, admin, cases = named
    first = write_likert_json(_likert(["001", "002"], 4, skip=("002", Level.L3)), tmp_path / "a.json")
    s = import_likert_json(store, first, by=admin, label="HM1", reader="Rater A")
    assert s.kind is SessionKind.HEATMAP_RATING
    second = write_likert_json(_likert(["001", "002"], 2), tmp_path / "b.json")
    s = import_likert_json(store, second, by=admin, label="HM1", reader="Rater B")
    assert len(s.reader_ids) == 2
    rows = queries.rating_rows(store)
    assert len(rows) == 2 * 2 * 15 - 1  # one RET rating missing in A's file
    status = {(r.key.reader, r.key.case_code): r.key.status for r in rows}
    assert status[("Rater A", cases[0].code)] is ReadingStatus.SUBMITTED
    assert status[("Rater A", cases[1].code)] is ReadingStatus.IN_PROGRESS  # incomplete record kept open
    assert {r.value for r in rows if r.key.reader == "Rater B"} == {2}
    with pytest.raises(ProtocolError, match="already has readings"):
        import_likert_json(store, second, by=admin, label="HM1", reader="Rater B")
    assert store.verify().ok


def test_bad_likert_json_refused_with_row_and_field(named, tmp_path):
    store, admin, _ = named
    data = [
        {"Index": 1, "Pat_ID": "001", "Level": "1", "TOT": "5", "GG": "4", "RET": "5", "Status": "Done"},
        {"Index": 2, "Pat_ID": "001", "Level": "2", "TOT": "7", "GG": "4", "RET": "5", "Status": "Done"},
    ]
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(data), encoding="utf-8")
    before = _state(store)
    with pytest.raises(ImportFormatError, match=r"row 2.*TOT.*outside 1..5"):
        import_likert_json(store, p, by=admin, label="HM", reader="R")
    assert _state(store) == before
    # a label that is not a heat-map session
    store.add_session("OBS", "observer", [admin], by=admin)
    good = write_likert_json(_likert(["001"]), tmp_path / "g.json")
    with pytest.raises(ProtocolError, match="not a heat-map rating session"):
        import_likert_json(store, good, by=admin, label="OBS", reader="R")


def test_mapping_file_errors(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("id,code\n1,C-X\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="row 1"):
        read_mapping(p)
    p.write_text("PatID,case_code\n1,C-X\n1,C-Y\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="row 3, PatID"):
        read_mapping(p)
