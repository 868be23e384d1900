"""Cases from scans: one case per CT series, through the loader (real DICOM and MHA files)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from ssc_core.cli import main
from ssc_core.imaging.dicom_writer import write_dicom_series
from ssc_core.imaging.volume import CTVolume
from ssc_core.imaging.volume_writer import write_volume
from ssc_core.study.scans import collect_case_sources, folder_entries, read_list_file
from ssc_core.study.store import open_study
from tests.core.study.helpers import PLANTED_BIRTH, PLANTED_FOLDER, PLANTED_NAME


def _volume(seed: int, n: int = 8) -> CTVolume:
    rng = np.random.default_rng(seed)
    hu = np.full((n, 32, 32), -1000, dtype=np.int16)
    hu[:, 4:28, 4:28] = 40
    hu[:, 8:24, 6:16] = -850 + rng.integers(-30, 30, size=(n, 16, 10))
    return CTVolume.from_array(hu, (2.5, 0.7, 0.7), top_z=100.0)


def _plant_birth_date(paths) -> None:
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.PatientBirthDate = PLANTED_BIRTH
        ds.save_as(p)


@pytest.fixture
def scans(tmp_path):
    """PACS-like folder: a patient folder (named after the patient) with two axial series, an MHA file,
    and a patient folder holding only a series with a missing slice."""
    root = tmp_path / "scans"
    patient = root / f"{PLANTED_FOLDER}_1"
    _plant_birth_date(write_dicom_series(_volume(1), patient / "lung", patient_pseudonym=PLANTED_NAME))
    write_dicom_series(
        _volume(2), patient / "soft", patient_pseudonym=PLANTED_NAME, series_description="soft"
    )
    write_volume(_volume(3), root / "003.mha")
    gap = write_dicom_series(_volume(4), root / "P4", patient_pseudonym="P4")
    gap[3].unlink()
    return root


def test_one_case_per_scorable_series(scans):
    entries = folder_entries(scans)
    assert [e.path.name for e in entries] == ["003.mha", "P4", f"{PLANTED_FOLDER}_1"]
    found = collect_case_sources(entries)
    assert len(found.sources) == 3  # two series of the patient folder + the MHA file
    assert {s.source_name for s in found.sources} == {"003", f"{PLANTED_FOLDER}_1"}
    assert len({s.content_hash for s in found.sources}) == 3
    assert [p.entry for p in found.failed] == [2]  # P4: its only series misses a slice
    assert any("missing" in p.message for p in found.problems if not p.refused)
    assert all(PLANTED_FOLDER not in str(p) for p in found.problems)


def test_cases_added_once_and_identifiers_dropped(scans, study, tmp_path):
    found = collect_case_sources(folder_entries(scans))
    st = study.store
    added = st.add_cases(found.sources, by=study.admin, skip_duplicates=True)
    assert len(added) == 3
    again = collect_case_sources(folder_entries(scans))  # re-import: same series UIDs / voxels
    assert st.add_cases(again.sources, by=study.admin, skip_duplicates=True) == []
    with pytest.raises(Exception, match="already in the study"):
        st.add_cases(again.sources[:1], by=study.admin)
    mha = next(c for c in added if c.source_name == "003")
    source = st.scan_source(mha.code)
    from ssc_core.imaging.loader import load_scan

    assert load_scan(source.location, series=source.series).volume.shape == (8, 32, 32)
    st.conn.execute("PRAGMA wal_checkpoint(FULL)")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("s.sscstudy*"))
    assert PLANTED_NAME.encode() not in raw
    assert PLANTED_BIRTH.encode() not in raw


def test_list_file(scans, tmp_path):
    lst = tmp_path / "scans.txt"
    lst.write_text(f"# cases\nscans/003.mha\n\n{scans / (PLANTED_FOLDER + '_1')}\n", encoding="utf-8")
    entries = read_list_file(lst)
    assert [e.path.name for e in entries] == ["003.mha", f"{PLANTED_FOLDER}_1"]
    assert len(collect_case_sources(entries).sources) == 3
    lst.write_text("scans/none.mha\n", encoding="utf-8")
    with pytest.raises(Exception, match="line 1: the path does not exist"):
        read_list_file(lst)


def test_cli_create_from_scans(scans, tmp_path, capsys):
    study = tmp_path / "new.sscstudy"
    code = main(["study", "create", str(study), "--name", "From scans", "--scans", str(scans)])
    out = capsys.readouterr()
    assert code == 2
    assert "entry 2" in out.err
    assert "nothing was added" in out.err
    assert not study.exists()  # no study made around a failed import
    code = main(["study", "create", str(study), "--name", "From scans", "--scans", str(scans), "--skip-bad"])
    out = capsys.readouterr()
    assert code == 2  # created, but says that a scan could not be loaded
    assert "Added 3 case(s)" in out.out
    assert PLANTED_FOLDER not in out.out + out.err
    code = main(["study", "add-cases", str(study), "--scans", str(scans), "--skip-bad"])
    out = capsys.readouterr()
    assert "Added 0 case(s); 3 scan(s) already in the study were skipped" in out.out
    with open_study(study, readonly=True) as store:
        assert len(store.cases()) == 3
        assert store.verify().ok


@pytest.mark.realdata
def test_real_dicom_series_become_cases(real_data, study):
    found = collect_case_sources(folder_entries(real_data / "lidc-idri-partial"))
    assert len(found.sources) == 3
    assert not found.failed
    added = study.store.add_cases(found.sources, by=study.admin)
    assert {c.source_name for c in added} == {"LIDC-IDRI-0001", "LIDC-IDRI-0002", "LIDC-IDRI-0003"}
    assert study.store.verify().ok
