from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from ssc_core.imaging.volume_writer import write_volume


@pytest.mark.parametrize("suffix", [".mha", ".nii.gz", ".nrrd"])
def test_geometry_survives_simpleitk_formats(tmp_path, small_volume, suffix):
    path = write_volume(small_volume, tmp_path / f"v{suffix}")
    image = sitk.ReadImage(str(path))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), small_volume.hu)
    assert image.GetSpacing() == pytest.approx((0.7, 0.7, 2.5))
    # the k-th slice lies at the volume's slice_z[k]
    for k in (0, 7, 19):
        assert image.TransformIndexToPhysicalPoint((0, 0, k))[2] == pytest.approx(small_volume.slice_z[k])
