"""Helpers shared by the study tests (and the crash benchmark)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ssc_core.constants import LEVELS, PATTERNS
from ssc_core.imaging.volume import ImportIdentity
from ssc_core.study.records import CaseSource
from ssc_core.study.store import StudyStore

#: Identifier strings planted in imports; none may ever appear in a reader view, log or export.
PLANTED_NAME = "DOE^JOHNATHAN"
PLANTED_ID = "PID-77731234"
PLANTED_BIRTH = "19450817"
PLANTED_ACCESSION = "ACC-99120"
PLANTED_FOLDER = "SMITHERSON_JANE"  # a PACS export folder named after the patient
PLANTED_IDENTITY_STRINGS = (PLANTED_NAME, PLANTED_ID, PLANTED_BIRTH, PLANTED_ACCESSION)


def make_source(i: int, root: str | Path = "/scans", *, planted: bool = False) -> CaseSource:
    """A CaseSource for case ``i`` (no scan is read: the store only records the source)."""
    folder = f"{PLANTED_FOLDER}_{i}" if planted else f"case{i:03d}"
    identity = ImportIdentity(
        patient_id=f"{PLANTED_ID}{i}" if planted else f"P{i}",
        patient_name=f"{PLANTED_NAME}{i}" if planted else f"Name{i}",
        birth_date=PLANTED_BIRTH if planted else "",
        accession_number=f"{PLANTED_ACCESSION}{i}" if planted else "",
        study_instance_uid=f"1.2.826.0.1.{i}",
        series_instance_uid=f"1.2.826.0.1.{i}.7",
    )
    return CaseSource(
        location=str(Path(root) / folder / f"{i:03d}.mha"), content_hash=f"{i:064x}", identity=identity
    )


def fill_reading(store, session_id: int, reader_id: int, code: str, *, base: int = 10, top_z: float = 100.0):
    """Enter a complete, valid observer reading (five levels, TOT = GG + RET at each)."""
    for n, lv in enumerate(LEVELS):
        store.place_level(session_id, reader_id, code, lv, top_z - 20.0 * n, 10 + 8 * n)
        store.set_score(session_id, reader_id, code, lv, "GG", base)
        store.set_score(session_id, reader_id, code, lv, "RET", 5)
        store.set_score(session_id, reader_id, code, lv, "TOT", base + 5)


def fill_ratings(store, session_id: int, reader_id: int, code: str, value: int = 4) -> None:
    for lv in LEVELS:
        for pat in PATTERNS:
            store.set_rating(session_id, reader_id, code, lv, pat, value)


@dataclass
class StudyFixture:
    store: StudyStore
    admin: int
    a: int
    b: int
    codes: list[str]
    case_ids: list[int]


def open_session(st: StudyFixture, label: str = "T1", kind: str = "observer", readers=None, **kw) -> int:
    """Plan and open a session with readers A and B (by default); returns its id."""
    s = st.store.add_session(label, kind, readers or [st.a, st.b], by=st.admin, **kw)
    st.store.open_session(s.id, by=st.admin)
    return s.id
