"""Enhanced (multi-frame) CT: per-frame geometry from the functional groups, or a clear refusal."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import RLELossless

from ssc_core.errors import UnsupportedMultiFrame
from ssc_core.imaging.dicom_writer import SeriesUIDs, ct_slice_dataset, enhanced_ct_dataset
from ssc_core.imaging.loader import find_series, load_scan

from .factory import axial_positions, expected_axial, make_hu

N = 9


def _shuffled(n=N, seed=4):
    hu = make_hu(n)
    perm = np.random.default_rng(seed).permutation(n)  # frame i holds spatial slice perm[i]
    positions = axial_positions(n)
    return hu, perm, [positions[k] for k in perm]


def test_frames_are_placed_by_their_own_positions(tmp_path):
    hu, perm, positions = _shuffled()
    ds = enhanced_ct_dataset(hu[perm] + 1024, positions=positions, uids=SeriesUIDs.new(), kernel="FC51")
    ds.save_as(tmp_path / "enh.dcm", enforce_file_format=True)
    (c,) = find_series(tmp_path)
    assert c.scorable
    assert c.n_slices == N
    assert c.kernel == "FC51"
    v = load_scan(tmp_path).volume
    np.testing.assert_array_equal(v.hu, expected_axial(hu))
    np.testing.assert_allclose(v.slice_z, 50.0 - 2.5 * np.arange(N))
    assert v.spacing == pytest.approx((2.5, 0.7, 0.7))


def test_compressed_multiframe_with_per_frame_rescale(tmp_path):
    hu, perm, positions = _shuffled()
    intercepts = [-1024.0 if i % 2 else -1000.0 for i in range(N)]
    stored = np.stack([hu[k].astype(np.int32) - intercepts[i] for i, k in enumerate(perm)])
    ds = enhanced_ct_dataset(
        stored, positions=positions, rescale_intercepts=intercepts, uids=SeriesUIDs.new()
    )
    ds.compress(RLELossless)
    ds.save_as(tmp_path / "enh.dcm", enforce_file_format=True)
    v = load_scan(tmp_path / "enh.dcm").volume
    np.testing.assert_array_equal(v.hu, expected_axial(hu))


def test_localizer_frames_are_left_out(tmp_path):
    hu, perm, positions = _shuffled()
    types = ["AXIAL"] * N
    loc = int(np.nonzero(perm == 0)[0][0])  # the frame holding the most cranial slice is a "localizer"
    types[loc] = "LOCALIZER"
    ds = enhanced_ct_dataset(hu[perm] + 1024, positions=positions, uids=SeriesUIDs.new(), frame_types=types)
    ds.save_as(tmp_path / "enh.dcm", enforce_file_format=True)
    v = load_scan(tmp_path).volume
    np.testing.assert_array_equal(v.hu, expected_axial(hu)[1:])


def test_concatenation_over_two_files_is_merged(tmp_path):
    hu, perm, positions = _shuffled()
    uids = SeriesUIDs.new()
    half = N // 2
    for name, part in (("a.dcm", slice(0, half)), ("b.dcm", slice(half, N))):
        ds = enhanced_ct_dataset(hu[perm[part]] + 1024, positions=positions[part], uids=uids)
        ds.save_as(tmp_path / name, enforce_file_format=True)
    v = load_scan(tmp_path).volume
    np.testing.assert_array_equal(v.hu, expected_axial(hu))


def test_multiframe_without_positions_is_refused(tmp_path):
    hu, perm, _ = _shuffled()
    ds = enhanced_ct_dataset(hu[perm] + 1024, positions=None, uids=SeriesUIDs.new())
    ds.save_as(tmp_path / "enh.dcm", enforce_file_format=True)
    (c,) = find_series(tmp_path)
    assert c.refusal == "UnsupportedMultiFrame"
    with pytest.raises(UnsupportedMultiFrame, match="position"):
        load_scan(tmp_path)


def test_classic_ct_with_several_frames_is_refused(tmp_path):
    hu = make_hu(3)
    ds = ct_slice_dataset(hu[0] + 1024, position=(0.0, 0.0, 0.0), uids=SeriesUIDs.new())
    ds.NumberOfFrames = 3
    ds.PixelData = (hu + 1024).astype(np.int16).tobytes()
    ds.save_as(tmp_path / "mf.dcm", enforce_file_format=True)
    with pytest.raises(UnsupportedMultiFrame, match="order of the slices"):
        load_scan(tmp_path)
