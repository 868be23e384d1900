"""CTVolume geometry conventions (slice 0 cranial, LPS world z decreasing)."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.errors import LoadError
from ssc_core.imaging.volume import CTVolume, ImportIdentity


def test_from_array_geometry(small_volume):
    v = small_volume
    assert v.shape == (20, 64, 64)
    assert v.hu.flags.c_contiguous
    assert not v.hu.flags.writeable
    assert v.slice_z[0] == 100.0
    assert np.allclose(np.diff(v.slice_z), -2.5)
    assert v.z_range == (100.0 - 19 * 2.5, 100.0)
    # voxel (k, 0, 0) lies at world z of slice k
    assert v.index_to_world(3, 0, 0)[2] == pytest.approx(v.slice_z[3])
    # +x (left) grows with the column, +y (posterior) with the row
    assert v.index_to_world(0, 0, 1)[0] - v.index_to_world(0, 0, 0)[0] == pytest.approx(0.7)
    assert v.index_to_world(0, 1, 0)[1] - v.index_to_world(0, 0, 0)[1] == pytest.approx(0.7)


@pytest.mark.parametrize("spacing", [0.625, 1.25, 2.5, 3.0, 0.83])
def test_z_index_round_trip(spacing):
    hu = np.zeros((33, 4, 4), np.int16)
    v = CTVolume.from_array(hu, (spacing, 1.0, 1.0), top_z=-17.3)
    for k in (0, 5, 32):
        assert v.z_to_index(v.slice_z[k]) == pytest.approx(k)
        assert v.nearest_slice(v.slice_z[k] + 0.4 * spacing) == k
    assert v.z_to_index(v.slice_z[0] + spacing) == pytest.approx(-1.0)


def test_outside_range_is_not_clamped(small_volume):
    v = small_volume
    assert v.nearest_slice(v.slice_z[0] + 10.0) is None
    assert v.nearest_slice(v.slice_z[-1] - 10.0) is None
    assert v.nearest_slice(v.slice_z[-1] - 1.0) == v.n_slices - 1  # within half a slice


def test_invalid_volumes_are_refused():
    with pytest.raises(LoadError, match="int16"):
        CTVolume(
            hu=np.zeros((2, 2, 2), np.float32),
            spacing=(1, 1, 1),
            origin=(0, 0, 0),
            direction=np.eye(3),
            slice_z=np.array([1.0, 0.0]),
        )
    with pytest.raises(LoadError, match="decrease"):
        CTVolume(
            hu=np.zeros((2, 2, 2), np.int16),
            spacing=(1, 1, 1),
            origin=(0, 0, 0),
            direction=np.eye(3),
            slice_z=np.array([0.0, 1.0]),
        )


def test_identity_never_prints_its_values():
    ident = ImportIdentity(patient_id="PAT-123", patient_name="Doe^Jane")
    assert "PAT-123" not in repr(ident)
    assert "Doe" not in str(ident)
    assert "Doe" not in f"{ident}"
