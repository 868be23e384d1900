"""Index <-> world mm <-> original slice conversions, both z directions and odd spacings."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.ai.geometry import (
    ZAxis,
    nearest_original_slice,
    original_index_to_world,
    outside_side,
    sample_indices,
    spanning_axis,
    stepped_axis,
    world_to_original_index,
)
from ssc_core.imaging.volume import CTVolume

SPACINGS = [0.625, 1.0, 1.337, 2.5, 5.0]


def positions(n: int, dz: float, top: float, head_first: bool) -> np.ndarray:
    """Slice centres: decreasing (CTVolume order, head first) or increasing (feet first)."""
    z = top - dz * np.arange(n)
    return z if head_first else z[::-1].copy()


@pytest.mark.parametrize("dz", SPACINGS)
@pytest.mark.parametrize("head_first", [True, False])
def test_spanning_axis_hits_first_and_last_slice(dz, head_first):
    z = positions(97, dz, 123.4, head_first)
    axis = spanning_axis(z, 256)
    assert axis.index_to_world(0) == pytest.approx(z[0])
    assert axis.index_to_world(255) == pytest.approx(z[-1])
    assert (axis.step_z < 0) == head_first  # the direction comes from the positions
    idx = sample_indices(z, axis)
    assert idx[0] == pytest.approx(0.0)
    assert idx[-1] == pytest.approx(96.0)
    assert np.all(np.diff(idx) > 0)


@pytest.mark.parametrize("dz", SPACINGS)
@pytest.mark.parametrize("head_first", [True, False])
def test_world_index_round_trip_and_extrapolation(dz, head_first):
    z = positions(41, dz, -17.3, head_first)
    k = np.array([-3.5, -0.5, 0.0, 0.25, 7.6, 40.0, 40.5, 44.0])
    w = original_index_to_world(z, k)
    assert np.allclose(world_to_original_index(z, w), k)
    step = z[1] - z[0]
    assert w[0] == pytest.approx(z[0] - 3.5 * step)  # extrapolated, not clamped
    assert w[-1] == pytest.approx(z[-1] + 4.0 * step)


@pytest.mark.parametrize("dz", SPACINGS)
@pytest.mark.parametrize("head_first", [True, False])
def test_nearest_slice_and_outside_never_clamped(dz, head_first):
    z = positions(30, dz, 250.0, head_first)
    top, bottom = float(z.max()), float(z.min())
    assert nearest_original_slice(z, float(z[7]) + 0.3 * dz * np.sign(z[1] - z[0])) == 7
    # within half a slice of the end slices: inside, on the end slice
    end_top = int(np.argmax(z))
    assert nearest_original_slice(z, top + 0.49 * dz) == end_top
    assert nearest_original_slice(z, top + 0.51 * dz) is None
    assert nearest_original_slice(z, bottom - 0.51 * dz) is None
    assert outside_side(z, top + 40.0) == "above"
    assert outside_side(z, bottom - 40.0) == "below"
    assert outside_side(z, float(z[3])) is None
    assert nearest_original_slice(z, float("nan")) is None


def test_matches_ctvolume_nearest_slice():
    vol = CTVolume.from_array(np.zeros((25, 4, 4), np.int16), (1.337, 0.7, 0.7), top_z=55.5)
    for world in np.linspace(vol.z_range[0] - 3, vol.z_range[1] + 3, 91):
        assert nearest_original_slice(vol.slice_z, float(world)) == vol.nearest_slice(float(world))


@pytest.mark.parametrize("head_first", [True, False])
@pytest.mark.parametrize("dz", [0.625, 1.337, 3.0])
def test_resampling_puts_a_marker_at_its_world_z(head_first, dz):
    """Resample a stack with one bright slice: the grid index of the peak maps back to the marker's z."""
    from ssc_core.ai.preprocess import _interpolate_z

    torch = pytest.importorskip("torch")
    n = 120
    z = positions(n, dz, 300.0, head_first)
    k_marker = 77
    # A symmetric bump 6 mm wide around the marker slice, so every grid step samples it.
    bump = np.clip(1.0 - np.abs(z - z[k_marker]) / 6.0, 0.0, None).astype(np.float32)
    stack = torch.from_numpy(bump)[:, None, None].repeat(1, 2, 2)
    for axis in (spanning_axis(z, 256), stepped_axis(z, 2.5)):
        grid = _interpolate_z(stack, sample_indices(z, axis))
        profile = grid[:, 0, 0].numpy()
        r = float((profile * np.arange(axis.n)).sum() / profile.sum())  # centroid of the bump
        assert axis.index_to_world(r) == pytest.approx(z[k_marker], abs=0.5 * max(dz, abs(axis.step_z)))
        assert nearest_original_slice(z, axis.index_to_world(r)) in (k_marker - 1, k_marker, k_marker + 1)


def test_stepped_axis_size_and_direction():
    z = positions(101, 1.0, 0.0, True)  # 100 mm
    axis = stepped_axis(z, 2.5)
    assert axis.n == 41
    assert axis.step_z == -2.5
    assert axis.last_z == pytest.approx(-100.0)
    axis_up = stepped_axis(z[::-1].copy(), 2.5)
    assert axis_up.step_z == 2.5
    assert axis_up.first_z == -100.0
    assert stepped_axis(np.array([5.0]), 2.5).n == 1


def test_zaxis_rejects_bad_steps_and_converts_both_ways():
    with pytest.raises(ValueError, match="step"):
        ZAxis(0.0, 0.0, 3)
    a = ZAxis(10.0, -2.0, 5)
    assert a.world_to_index(a.index_to_world(3.25)) == pytest.approx(3.25)
    assert np.allclose(a.index_to_world(np.array([0, 4])), [10.0, 2.0])
    with pytest.raises(ValueError, match="monotonic"):
        spanning_axis(np.array([0.0, 1.0, 0.5]), 10)
