"""``ssc score``: batch scoring to a workbook, errors per case, single slices, heat maps, torchrun."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ssc_core.cli import main
from ssc_core.imaging.dicom_writer import write_dicom_series
from ssc_core.imaging.volume_writer import write_volume
from tests.core.ai.chest import chest_volume

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("scans")
    out = {}
    out["a"] = write_volume(chest_volume(30, 128, seed=1), folder / "a.mha")
    out["b"] = write_volume(chest_volume(24, 128, seed=2, top_z=50.0), folder / "b.nii.gz")
    broken = folder / "broken.mha"
    broken.write_text("ObjectType = Image\nNDims = 3\nthis is not a volume\n")
    out["broken"] = broken
    out["missing"] = folder / "does-not-exist"
    # Lungs on every slice: wherever the untrained level finder lands, the level is scored.
    out["all_lung"] = write_volume(
        chest_volume(24, 128, seed=4, lung_top=0.0, lung_bottom=1.0), folder / "l.mha"
    )
    out["dicom"] = folder / "dicom"
    write_dicom_series(chest_volume(20, 128, seed=3), out["dicom"])
    return out


def read(path: Path) -> pd.DataFrame:
    return pd.read_excel(path, sheet_name="scores")


def test_batch_writes_one_row_per_case_and_level_and_survives_bad_cases(
    scans, small_bundle_dir, tmp_path, capsys
):
    out = tmp_path / "results.xlsx"
    paths = [
        str(scans["a"]),
        str(scans["broken"]),
        str(scans["b"]),
        str(scans["missing"]),
        str(scans["dicom"]),
    ]
    code = main(["score", *paths, "--bundle", str(small_bundle_dir), "--out", str(out)])
    assert code == 1  # some cases failed, the others were scored
    df = read(out)
    assert list(df.columns[:5]) == ["case", "level", "status", "world_z_mm", "slice_index"]
    good = df[df.status != "error"]
    assert sorted(good.case.unique()) == sorted([paths[0], paths[2], paths[4]])
    assert (good.groupby("case").size() == 5).all()
    assert list(df.case.drop_duplicates()) == paths  # the input order is kept
    errors = df[df.status == "error"]
    assert list(errors.case) == [paths[1], paths[3]]
    assert errors.error.str.len().min() > 10
    assert "does not exist" in errors.error.iloc[1]
    scored = good[good.status == "ok"]
    for _, row in scored.iterrows():
        assert row.TOT % 5 == 0
        assert row.GG % 5 == 0
        assert row.RET % 5 == 0
        assert not np.isnan(row.raw_TOT)
    about = pd.read_excel(out, sheet_name="about").set_index("item")["value"]
    assert about["model bundle"] == "test bundle"
    assert "not a certified medical device" in about["notice"]
    err = capsys.readouterr().err
    assert "FAILED" in err
    assert f"error: {paths[3]}" in err


def test_single_slices_are_scored_with_the_scorer_alone(scans, small_bundle_dir, tmp_path):
    files = sorted(scans["dicom"].glob("*.dcm"))
    pick = [files[3], files[10], files[0]]
    out = tmp_path / "slices.xlsx"
    code = main(["score", "--slices", *map(str, pick), "--bundle", str(small_bundle_dir), "--out", str(out)])
    assert code == 0
    df = read(out)
    assert len(df) == 3
    assert list(df.case) == [str(p) for p in pick]
    assert list(df.slice_index) == [3, 10, 0]  # each file's own slice, found by its position
    assert df.level.isna().all()
    assert df.loc[2, "status"] == "no lung"  # the first slice is above the lungs
    assert df.loc[1, "status"] == "ok"
    # a volume file given as slices: one row per slice
    out2 = tmp_path / "vol.xlsx"
    main(["score", "--slices", str(scans["b"]), "--bundle", str(small_bundle_dir), "--out", str(out2)])
    assert len(read(out2)) == 24


def test_heat_maps_are_written_per_level(scans, small_bundle_dir, tmp_path):
    out = tmp_path / "r.xlsx"
    heat = tmp_path / "heat"
    args = ["score", str(scans["all_lung"]), "--bundle", str(small_bundle_dir), "--out", str(out)]
    main([*args, "--heatmaps", str(heat)])
    df = read(out)
    with_maps = df[df.heatmap_file.notna()]
    assert len(with_maps) == (df.status == "ok").sum() > 0
    for _, row in with_maps.iterrows():
        data = np.load(row.heatmap_file)
        assert data["values"].shape == (3, 128, 128)
        assert int(data["slice_index"]) == row.slice_index
        assert 0 <= row.heatmap_TOT <= 100
        assert str(data["bundle_hash"])
        assert "medical device" in str(data["notice"])


def test_default_bundle_error_is_clear(scans, tmp_path, capsys, monkeypatch):
    from ssc_core.ai import bundle

    monkeypatch.setattr(bundle, "resources_dir", lambda: tmp_path / "resources")  # no demo bundle there
    code = main(["score", str(scans["a"]), "--out", str(tmp_path / "x.xlsx")])
    assert code == 2
    err = capsys.readouterr().err
    assert "demo model bundle is not installed" in err
    assert "--bundle" in err


@pytest.mark.slow
def test_torchrun_shards_cases_and_rank_zero_merges(scans, small_bundle_dir, tmp_path):
    if shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists():
        pytest.skip("torchrun not installed")
    out = tmp_path / "dist.xlsx"
    paths = [str(scans["a"]), str(scans["b"]), str(scans["broken"]), str(scans["dicom"])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "SSC_DEVICE": "cpu"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(29500 + os.getpid() % 1000),
        "-m",
        "ssc_core",
        "score",
        *paths,
        "--bundle",
        str(small_bundle_dir),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.exists(), proc.stderr[-3000:]
    df = read(out)
    assert list(df.case.drop_duplicates()) == paths  # merged in input order
    assert (df[df.status != "error"].groupby("case").size() == 5).all()
    assert "rank 1/2" in proc.stderr
    assert "rank 0/2" in proc.stderr
    # The merged rows equal a single-process run.
    single = tmp_path / "single.xlsx"
    main(["score", *paths, "--bundle", str(small_bundle_dir), "--out", str(single), "--device", "cpu"])
    a, b = read(out), read(single)
    pd.testing.assert_frame_equal(
        a.drop(columns=["error"]), b.drop(columns=["error"]), check_exact=False, rtol=1e-4, atol=1e-4
    )


@pytest.mark.realdata
def test_real_scans_run_through_the_batch(real_data, small_bundle_dir, tmp_path):
    """Real CT (normal lungs; the pancreas scan holds lung only in its top slices) through the whole
    path: loader, level finder, lung mask, scorer; single real slices with the scorer alone."""
    scan = real_data / "tcia-pancreas-ct-001"
    out = tmp_path / "real.xlsx"
    assert main(["score", str(scan), "--bundle", str(small_bundle_dir), "--out", str(out)]) == 0
    df = read(out)
    assert list(df.level) == ["L1", "L2", "L3", "L4", "L5"]
    assert set(df.status) <= {"ok", "no lung", "above the scanned range", "below the scanned range"}
    slices = sorted((real_data / "lidc-idri-partial").rglob("*.dcm"))[:2]
    out2 = tmp_path / "real_slices.xlsx"
    assert (
        main(["score", "--slices", *map(str, slices), "--bundle", str(small_bundle_dir), "--out", str(out2)])
        == 0
    )
    df2 = read(out2)
    assert len(df2) == 2
    assert (df2.status == "ok").all()  # chest slices: lung present, scored
    assert (df2.lung_fraction > 0.05).all()


def test_a_folder_with_several_examinations_is_scored_with_a_warning(small_bundle_dir, tmp_path, capsys):
    folder = tmp_path / "mixed"
    write_dicom_series(chest_volume(20, 96, seed=5), folder / "first", uid_seed="exam one")
    write_dicom_series(chest_volume(16, 96, seed=6), folder / "second", uid_seed="exam two")
    out = tmp_path / "mixed.xlsx"
    assert main(["score", str(folder), "--bundle", str(small_bundle_dir), "--out", str(out)]) == 0
    df = read(out)
    assert len(df) == 5  # the default series only
    assert df.warnings.str.contains("different examinations").all()
    assert f"warning: {folder}: " in capsys.readouterr().err
