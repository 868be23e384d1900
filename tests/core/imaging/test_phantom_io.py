"""Phantoms on disk: DICOM and MHA readable with the right geometry, cohorts with their label workbook."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from ssc_core.analysis.authors_formats import read_label_workbook
from ssc_core.cli import main
from ssc_core.constants import LEVELS
from ssc_core.errors import Cancelled, OutputNotEmpty
from ssc_core.fileio import sha256_file
from ssc_core.imaging.loader import load_scan
from ssc_core.imaging.phantom import DiseaseSpec, generate_phantom, write_cohort, write_phantom
from ssc_core.progress import CancelToken


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(
        12, slice_spacing_mm=3.0, matrix=128, disease=DiseaseSpec.uniform(gg=10.0, ret=5.0)
    )


def test_dicom_series_reads_back_with_simpleitk_and_our_loader(tmp_path, phantom):
    folder = write_phantom(phantom, tmp_path, format="dicom", pseudonym="PH0042")
    assert folder == tmp_path / "PH0042"
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    v = phantom.volume
    arr = sitk.GetArrayFromImage(image)  # ascending z: caudal first
    np.testing.assert_array_equal(arr[::-1], v.hu)
    assert image.GetSpacing() == pytest.approx((v.spacing[2], v.spacing[1], v.spacing[0]))
    assert image.GetOrigin() == pytest.approx((v.origin[0], v.origin[1], float(v.slice_z[-1])), abs=1e-3)
    loaded = load_scan(folder).volume
    np.testing.assert_array_equal(loaded.hu, v.hu)
    np.testing.assert_allclose(loaded.slice_z, v.slice_z, atol=1e-3)
    ds = pydicom.dcmread(sorted(folder.iterdir())[0])
    assert ds.PatientName == "PH0042"
    assert ds.PatientID == "PH0042"
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.PatientBirthDate == ""
    assert ds.Modality == "CT"


def test_dicom_bytes_are_reproducible(tmp_path, phantom):
    a = write_phantom(phantom, tmp_path / "a", pseudonym="PH0001")
    b = write_phantom(
        generate_phantom(12, slice_spacing_mm=3.0, matrix=128, disease=DiseaseSpec.uniform(gg=10.0, ret=5.0)),
        tmp_path / "b",
        pseudonym="PH0001",
    )
    files_a = sorted(a.iterdir())
    files_b = sorted(b.iterdir())
    assert [f.name for f in files_a] == [f.name for f in files_b]
    for fa, fb in zip(files_a[:5], files_b[:5]):
        assert sha256_file(fa) == sha256_file(fb)
    other = write_phantom(phantom, tmp_path / "c", pseudonym="PH0002")
    ds_a = pydicom.dcmread(files_a[0])
    ds_c = pydicom.dcmread(sorted(other.iterdir())[0])
    assert ds_a.SeriesInstanceUID != ds_c.SeriesInstanceUID  # another pseudonym, another series


def test_mha_reads_back_with_the_right_geometry(tmp_path, phantom):
    path = write_phantom(phantom, tmp_path, format="mha", pseudonym="PH0007")
    assert path == tmp_path / "PH0007.mha"
    image = sitk.ReadImage(str(path))
    v = phantom.volume
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), v.hu)
    assert image.GetSpacing() == pytest.approx((v.spacing[2], v.spacing[1], v.spacing[0]))
    assert image.GetOrigin() == pytest.approx(v.origin)
    assert image.GetDirection() == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, -1))
    loaded = load_scan(path).volume
    np.testing.assert_array_equal(loaded.hu, v.hu)
    np.testing.assert_allclose(loaded.slice_z, v.slice_z, atol=1e-3)


def test_cohort_with_label_workbook(tmp_path):
    seen = []
    cohort = write_cohort(
        tmp_path / "cohort", 4, seed=3, format="mha", slice_spacing_mm=3.0, matrix=96, progress=seen.append
    )
    assert [p.pat_id for p in cohort.patients] == ["PH0001", "PH0002", "PH0003", "PH0004"]
    assert sum(p.healthy for p in cohort.patients) == 1  # a quarter healthy, the rest diseased
    assert all(p.path.is_file() for p in cohort.patients)
    assert seen
    assert seen[-1].fraction == 1.0
    assert all(b.done >= a.done for a, b in itertools.pairwise(seen))
    rows = {r.pat_id: r for r in read_label_workbook(cohort.label_workbook)}
    assert set(rows) == {"PH0001", "PH0002", "PH0003", "PH0004"}
    manifest = json.loads(cohort.manifest.read_text())
    assert manifest["cohort_seed"] == 3
    assert len(manifest["patients"]) == 4
    for p in cohort.patients:
        ph = generate_phantom(
            p.seed,
            slice_spacing_mm=3.0,
            matrix=96,
            disease=None
            if p.healthy
            else DiseaseSpec(**manifest["patients"][int(p.pat_id[2:]) - 1]["disease"]),
        )
        row = rows[p.pat_id]
        for lv in LEVELS:
            assert row.positions[lv] == pytest.approx(ph.volume.slice_z[ph.level_slices[lv]], abs=0.05)
            assert row.scores[lv] == ph.level_scores[lv]
    sick = [r for r in rows.values() if any(r.scores[lv].tot for lv in LEVELS)]
    assert len(sick) == 3


def test_cohort_cancel_keeps_whole_patients_and_their_labels(tmp_path):
    token = CancelToken()

    def progress(p):
        if p.message.startswith("Patient 2"):
            token.cancel()

    with pytest.raises(Cancelled):
        write_cohort(
            tmp_path,
            3,
            seed=1,
            format="dicom",
            disease="healthy",
            slice_spacing_mm=3.0,
            matrix=64,
            progress=progress,
            cancel=token,
        )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["GohScores.xlsx", "PH0001", "cohort.json"]  # no half-written patient
    assert [r.pat_id for r in read_label_workbook(tmp_path / "GohScores.xlsx")] == ["PH0001"]


def test_cohort_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(OutputNotEmpty):
        write_cohort(tmp_path, 1, seed=1, format="mha", matrix=64)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_cli_phantom_writes_a_cohort(tmp_path, capsys):
    out = tmp_path / "ph"
    code = main(
        [
            "phantom",
            "--out",
            str(out),
            "--patients",
            "1",
            "--seed",
            "5",
            "--format",
            "mha",
            "--slice-spacing",
            "3",
            "--healthy",
        ]
    )
    assert code == 0
    assert (out / "PH0001.mha").is_file()
    rows = read_label_workbook(out / "GohScores.xlsx")
    assert rows[0].pat_id == "PH0001"
    assert all(rows[0].scores[lv].tot == 0 for lv in LEVELS)
    captured = capsys.readouterr()
    assert "100.0%" in captured.err  # progress bar on stderr
    assert "written" in captured.out
    image = sitk.ReadImage(str(out / "PH0001.mha"))
    assert image.GetSize()[:2] == (512, 512)
    assert main(["phantom", "--out", str(out), "--patients", "1", "--format", "mha"]) == 2  # not empty
    assert "not empty" in capsys.readouterr().err
    assert main(["phantom", "--out", str(tmp_path / "x"), "--seed", "-1"]) == 2
    assert "--seed" in capsys.readouterr().err
