"""The DICOM writer produces a series that an independent reader (SimpleITK/GDCM) loads back exactly."""

from __future__ import annotations

import numpy as np
import pydicom
import SimpleITK as sitk

from ssc_core.imaging.dicom_writer import SeriesUIDs, write_dicom_series


def test_written_series_reads_back_with_simpleitk(tmp_path, small_volume):
    paths = write_dicom_series(small_volume, tmp_path, series_description="test", uid_seed="s1")
    assert len(paths) == small_volume.n_slices
    reader = sitk.ImageSeriesReader()
    files = reader.GetGDCMSeriesFileNames(str(tmp_path))
    reader.SetFileNames(files)
    image = reader.Execute()
    arr = sitk.GetArrayFromImage(image)  # GDCM sorts along the normal: ascending z = caudal first
    assert arr.shape == small_volume.shape
    np.testing.assert_array_equal(arr[::-1], small_volume.hu)
    assert image.GetSpacing()[2] == 2.5
    ds = pydicom.dcmread(paths[0])
    assert float(ds.ImagePositionPatient[2]) == small_volume.slice_z[0]
    assert ds.PatientIdentityRemoved == "YES"


def test_uid_seed_is_reproducible():
    assert SeriesUIDs.new("a") == SeriesUIDs.new("a")
    assert SeriesUIDs.new("a") != SeriesUIDs.new("b")
