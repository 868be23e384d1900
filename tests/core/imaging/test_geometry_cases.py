"""The generated geometry test set: each case with its expected decision and geometry.

Decisions: ``load`` (no warning), ``warn`` (loads with a named warning in ``CTVolume.warnings``) or
``refuse`` (a named ``LoadError`` subclass). Every loaded case is also checked against the volume that was
written (array, slice z positions, spacing, direction).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from ssc_core.errors import (
    GantryTilt,
    InconsistentGeometry,
    LoadError,
    MissingSlices,
    NonAxialAcquisition,
    OverlappingSlices,
)
from ssc_core.imaging.dicom_writer import SeriesUIDs
from ssc_core.imaging.loader import find_series, load_scan
from ssc_core.imaging.volume import AXIAL_DIRECTION

from .factory import axial_positions, expected_axial, make_hu, tilted_geometry, write_series

N = 10


@dataclass
class Expect:
    decision: str  # "load", "warn", "refuse"
    error: type[LoadError] | None = None
    text: str = ""  # substring of the warning or the refusal message
    hu: np.ndarray | None = None  # expected array (default: expected_axial of the written volume)
    slice_z: np.ndarray | None = None
    spacing: tuple[float, float, float] | None = None
    checks: list[Callable] = field(default_factory=list)


def case_shuffled(d: Path) -> Expect:
    hu = make_hu(N)
    rng = np.random.default_rng(3)
    order = list(rng.permutation(N))
    names = [f"{rng.integers(1e6):06d}_{k}.dcm" for k in rng.permutation(N)]
    write_series(d, hu, order=order, names=names)
    return Expect("load", hu=expected_axial(hu), slice_z=50.0 - 2.5 * np.arange(N))


def case_feet_first(d: Path) -> Expect:
    """Written caudal-first (InstanceNumber 1 at the feet), PatientPosition FFS."""
    hu = make_hu(N)
    write_series(d, hu, order=list(range(N))[::-1], extra={"PatientPosition": "FFS"})
    return Expect("load", hu=expected_axial(hu), slice_z=50.0 - 2.5 * np.arange(N))


def case_feet_first_mirrored(d: Path) -> Expect:
    """FFS with the row direction towards the patient's right (IOP -1,0,0): flipped back exactly."""
    hu = make_hu(N)
    cols = hu.shape[2]
    positions = [(-7.0 + (cols - 1) * 0.7, -8.0, z) for (_, _, z) in axial_positions(N)]
    write_series(
        d,
        np.ascontiguousarray(hu[:, :, ::-1]),
        positions=positions,
        orientation=(-1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        extra={"PatientPosition": "FFS"},
    )
    return Expect("load", hu=expected_axial(hu), slice_z=50.0 - 2.5 * np.arange(N))


def case_prone(d: Path) -> Expect:
    """Prone (HFP, IOP -1,0,0,0,-1,0): turned to the standard orientation, with a note."""
    hu = make_hu(N)
    rows, cols = hu.shape[1:]
    positions = [(-7.0 + (cols - 1) * 0.7, -8.0 + (rows - 1) * 0.7, z) for (_, _, z) in axial_positions(N)]
    write_series(
        d,
        np.ascontiguousarray(hu[:, ::-1, ::-1]),
        positions=positions,
        orientation=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0),
        extra={"PatientPosition": "HFP"},
    )
    return Expect("warn", text="Prone", hu=expected_axial(hu))


def case_transposed(d: Path) -> Expect:
    """Rows along x, columns along y (IOP 0,1,0,1,0,0): transposed back exactly."""
    hu = make_hu(N)
    write_series(
        d,
        np.ascontiguousarray(hu.transpose(0, 2, 1)),
        orientation=(0.0, 1.0, 0.0, 1.0, 0.0, 0.0),
    )
    return Expect("load", hu=expected_axial(hu))


def _without(d: Path, drop: list[int]) -> None:
    hu = make_hu(N)
    paths = write_series(d, hu)
    for k in drop:
        paths[k].unlink()


def case_one_missing(d: Path) -> Expect:
    _without(d, [4])
    return Expect("refuse", MissingSlices, "About 1 slice is missing")


def case_two_missing_adjacent(d: Path) -> Expect:
    _without(d, [4, 5])
    return Expect("refuse", MissingSlices, "About 2 slices are missing")


def case_two_missing_apart(d: Path) -> Expect:
    _without(d, [2, 6])
    return Expect("refuse", MissingSlices, "About 2 slices are missing")


def case_duplicate(d: Path) -> Expect:
    hu = make_hu(N)
    uids = SeriesUIDs.new()
    write_series(d, hu, uids=uids)
    write_series(d, hu[3:4], positions=[axial_positions(N)[3]], uids=uids, names=["dup.dcm"])
    return Expect("warn", text="duplicate", hu=expected_axial(hu), slice_z=50.0 - 2.5 * np.arange(N))


def case_overlap(d: Path) -> Expect:
    """A second run re-acquired 1 mm off over the last slices of the first (same series)."""
    hu = make_hu(N)
    uids = SeriesUIDs.new()
    write_series(d, hu, uids=uids)
    extra = [(x, y, z - 1.0) for (x, y, z) in axial_positions(N)[6:8]]
    write_series(d, make_hu(2, seed=9), positions=extra, uids=uids, names=["r1.dcm", "r2.dcm"])
    return Expect("refuse", OverlappingSlices, "overlap")


def case_jitter(d: Path) -> Expect:
    """Positions off by up to 0.15 mm (6 % of the spacing): loads silently, each slice at its own z."""
    hu = make_hu(N)
    rng = np.random.default_rng(5)
    z = 50.0 - 2.5 * np.arange(N) + rng.uniform(-0.15, 0.15, N)
    write_series(d, hu, positions=[(-7.0, -8.0, float(v)) for v in z])
    return Expect("load", hu=expected_axial(hu), slice_z=np.array([float(f"{v:.6g}") for v in z]))


def case_irregular(d: Path) -> Expect:
    """One spacing of 3.3 mm in a 2.5 mm series (1.32x): loads with an irregular-spacing warning."""
    hu = make_hu(N)
    z = list(50.0 - 2.5 * np.arange(N))
    z = [v if k < 5 else v - 0.8 for k, v in enumerate(z)]
    write_series(d, hu, positions=[(-7.0, -8.0, v) for v in z])
    return Expect("warn", text="irregular", hu=expected_axial(hu), slice_z=np.array(z))


def _tilt_field(n: int, angle: float, d: Path) -> tuple[np.ndarray, np.ndarray]:
    """Write tilted slices of a field whose HU is 10 * z + 100 (columns 0-1 are air); return truth."""
    orientation, positions = tilted_geometry(n, angle)
    rows, cols, dy = 24, 12, 0.7
    t = math.radians(angle)
    hu = np.empty((n, rows, cols), dtype=np.int16)
    for k, (_, _, z0) in enumerate(positions):
        zrow = z0 + np.arange(rows) * dy * math.sin(t)
        hu[k] = np.rint(10.0 * zrow + 100.0)[:, None].astype(np.int16)
    hu[:, :, :2] = -1000
    write_series(d, hu, positions=positions, orientation=orientation, extra={"GantryDetectorTilt": angle})
    return hu, np.array([p[2] for p in positions])


def case_tilt_10(d: Path) -> Expect:
    return _tilt_case(d, 10.0)


def case_tilt_minus_12(d: Path) -> Expect:
    return _tilt_case(d, -12.0)


def _tilt_case(d: Path, angle: float) -> Expect:
    n = 14
    _tilt_field(n, angle, d)

    def check(v):
        assert v.spacing == pytest.approx((2.5, 0.7 * math.cos(math.radians(angle)), 0.7))
        rise = 1.0 if angle > 0 else -1.0
        np.testing.assert_allclose(v.direction, AXIAL_DIRECTION, atol=1e-9)
        # output planes pass through the centre row of each acquired slice
        rows = v.shape[1]
        half_rise = (rows - 1) / 2 * 0.7 * math.sin(math.radians(angle))
        np.testing.assert_allclose(v.slice_z, 50.0 + half_rise - 2.5 * np.arange(n), atol=1e-6)
        half_rise = abs(half_rise)
        # every output voxel inside the scanned slab holds the field value at its own world z
        inside = (v.slice_z <= v.slice_z[0] - 2 * half_rise) & (v.slice_z >= v.slice_z[-1] + 2 * half_rise)
        assert inside.sum() >= 6
        expected = np.rint(10.0 * v.slice_z[inside] + 100.0)
        got = v.hu[inside][:, :, 5].astype(float)
        assert np.abs(got - expected[:, None]).max() <= 1
        # the unscanned wedges (top rows of the first plane, bottom rows of the last) are air
        top, bottom = (0, -1) if rise > 0 else (-1, 0)
        assert v.hu[0, top, 5] == -1000
        assert v.hu[-1, bottom, 5] == -1000
        assert v.hu[0, bottom, 5] != -1000
        assert (v.hu[:, :, :2] == -1000).all()

    return Expect("warn", text=f"Gantry tilt of {abs(angle):.1f}° corrected", checks=[check])


def case_tilt_25(d: Path) -> Expect:
    _tilt_field(N, 25.0, d)
    return Expect("refuse", GantryTilt, "gantry tilt of 25.0°")


def case_coronal(d: Path) -> Expect:
    hu = make_hu(N)
    positions = [(-7.0, -20.0 + 2.5 * k, 80.0) for k in range(N)]
    write_series(d, hu, positions=positions, orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0))
    return Expect("refuse", NonAxialAcquisition, "coronal")


def case_sagittal(d: Path) -> Expect:
    hu = make_hu(N)
    positions = [(-20.0 + 2.5 * k, -8.0, 80.0) for k in range(N)]
    write_series(d, hu, positions=positions, orientation=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    return Expect("refuse", NonAxialAcquisition, "sagittal")


def case_oblique(d: Path) -> Expect:
    """Slices rotated 12° about x and stacked along their own normal: an oblique reformat."""
    t = math.radians(12.0)
    normal = np.array([0.0, -math.sin(t), math.cos(t)])
    positions = [tuple(np.array([-7.0, -8.0, 50.0]) - 2.5 * k * normal) for k in range(N)]
    write_series(d, make_hu(N), positions=positions, orientation=(1, 0, 0, 0, math.cos(t), math.sin(t)))
    return Expect("refuse", NonAxialAcquisition, "oblique")


def case_sideways(d: Path) -> Expect:
    """One slice shifted 5 mm to the left: the positions do not line up."""
    positions = axial_positions(N)
    positions[6] = (positions[6][0] + 5.0, positions[6][1], positions[6][2])
    write_series(d, make_hu(N), positions=positions)
    return Expect("refuse", InconsistentGeometry, "line up")


def case_varying_intercept(d: Path) -> Expect:
    hu = make_hu(N)
    intercepts = [-1024.0, -1000.0, 0.0, -1024.0, -2048.0, -500.0, -1024.0, 0.0, -1000.0, -1024.0]
    slopes = [1.0, 1.0, 0.5, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 0.25]
    hu[6] -= hu[6] % 2  # exactly representable with slope 2
    write_series(d, hu, intercepts=intercepts, slopes=slopes)
    return Expect("load", hu=expected_axial(hu))


def case_padding_2000_unsigned_value(d: Path) -> Expect:
    """Signed pixels, outside-circle stored as -2000, PixelPaddingValue written as US 63536 (as GE does)."""
    hu = make_hu(N)
    stored = [(hu[k].astype(np.int32) + 1024) for k in range(N)]
    for s in stored:
        s[:, :1] = -2000
    paths = write_series(d, hu, stored=stored)
    _set_padding(paths, 63536, "US")
    expect = expected_axial(hu)
    expect[:, :, :1] = -1000
    return Expect("load", hu=expect)


def case_padding_2000_unsigned_pixels(d: Path) -> Expect:
    """Unsigned pixels whose padding is the bit pattern of -2000 (63536): far above any HU unless padding."""
    hu = make_hu(N)
    stored = [(hu[k].astype(np.int32) + 1024) for k in range(N)]
    for s in stored:
        s[:, :1] = 63536
    paths = write_series(d, hu, stored=stored, pixel_representation=0)
    _set_padding(paths, 63536, "US")
    expect = expected_axial(hu)
    expect[:, :, :1] = -1000
    return Expect("load", hu=expect)


def case_padding_3024(d: Path) -> Expect:
    """Intercept 0 with -3024 HU outside the circle, declared as PixelPaddingValue -3024."""
    hu = make_hu(N)
    hu[:, :, :1] = -3024
    write_series(d, hu, intercepts=[0.0] * N, extra={"PixelPaddingValue": -3024})
    return Expect("load", hu=expected_axial(hu))


def case_padding_3024_undeclared(d: Path) -> Expect:
    """-3024 HU without a declared padding value: below the CT range, so air as well."""
    hu = make_hu(N)
    hu[:, :, :1] = -3024
    write_series(d, hu, intercepts=[0.0] * N)
    expect = expected_axial(hu)
    assert (expect[:, :, 0] == -1000).all()
    return Expect("load", hu=expect)


def _set_padding(paths: list[Path], value: int, vr: str) -> None:
    import pydicom

    for p in paths:
        ds = pydicom.dcmread(p)
        ds.add_new(0x00280120, vr, value)
        ds.save_as(p)


CASES = {name[5:]: fn for name, fn in sorted(globals().items()) if name.startswith("case_") and callable(fn)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_geometry_case(tmp_path, name):
    expect = CASES[name](tmp_path)
    (candidate,) = find_series(tmp_path)
    if expect.decision == "refuse":
        assert expect.error is not None
        assert not candidate.scorable
        assert candidate.refusal == expect.error.__name__
        with pytest.raises(expect.error) as info:
            load_scan(tmp_path)
        assert expect.text.lower() in str(info.value).lower()
        return
    assert candidate.scorable, candidate.reason
    v = load_scan(tmp_path).volume
    if expect.decision == "warn":
        assert any(expect.text.lower() in w.lower() for w in v.warnings), v.warnings
        assert any(expect.text.lower() in w.lower() for w in candidate.warnings + v.warnings)
    else:
        assert v.warnings == ()
    assert np.all(np.diff(v.slice_z) < 0)
    if expect.hu is not None:
        np.testing.assert_array_equal(v.hu, expect.hu)
    if expect.slice_z is not None:
        np.testing.assert_allclose(v.slice_z, expect.slice_z, atol=1e-4)
    if expect.spacing is not None:
        assert v.spacing == pytest.approx(expect.spacing)
    if (expect.hu is not None and expect.decision != "warn") or name in ("prone", "duplicate"):
        np.testing.assert_allclose(v.direction, AXIAL_DIRECTION, atol=1e-9)
        assert v.origin == pytest.approx((-7.0, -8.0, float(v.slice_z[0])), abs=1e-4)
    for check in expect.checks:
        check(v)


def test_two_series_and_a_localizer(tmp_path):
    big, small = make_hu(12), make_hu(6, seed=1)
    write_series(tmp_path / "a", big, description="Lung 1.0")
    write_series(tmp_path / "b", small, description="Mediastinum 5.0")
    write_series(
        tmp_path / "c",
        make_hu(1, rows=24, cols=20, seed=2),
        positions=[(-7.0, 0.0, 200.0)],
        orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        description="Topogram",
    )
    from ssc_core.imaging.loader import scan_path

    found = scan_path(tmp_path)
    assert [c.description for c in found.candidates] == ["Lung 1.0", "Mediastinum 5.0"]
    assert found.skipped == {"localizer": 1}
    assert found.candidates[0].is_default
    assert load_scan(tmp_path).volume.n_slices == 12
    chosen = load_scan(tmp_path, series=found.candidates[1].key)
    assert chosen.volume.n_slices == 6
    np.testing.assert_array_equal(chosen.volume.hu, expected_axial(small))


def test_secondary_capture_dose_report_and_non_image_objects_are_left_out(tmp_path):
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    write_series(tmp_path, make_hu(5))

    def save(name: str, sop_class: str, with_pixels: bool) -> None:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = generate_uid()
        ds.Modality = "OT" if with_pixels else "SR"
        if with_pixels:
            ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 4, 4, 8, 8, 7
            ds.SamplesPerPixel, ds.PixelRepresentation, ds.PhotometricInterpretation = 1, 0, "MONOCHROME2"
            ds.PixelData = bytes(16)
        ds.save_as(tmp_path / name, enforce_file_format=True)

    save("sc.dcm", "1.2.840.10008.5.1.4.1.1.7", True)
    save("dose.dcm", "1.2.840.10008.5.1.4.1.1.88.67", False)
    save("pr.dcm", "1.2.840.10008.5.1.4.1.1.11.1", False)
    from ssc_core.imaging.loader import scan_path

    found = scan_path(tmp_path)
    assert len(found.candidates) == 1
    assert found.skipped == {"secondary capture": 1, "dose report": 1, "non-image object": 1}
    assert pydicom.dcmread(tmp_path / "sc.dcm").Rows == 4


def test_mixed_orientations_in_one_series_are_split(tmp_path):
    uids = SeriesUIDs.new()
    write_series(tmp_path, make_hu(8), uids=uids)
    positions = [(-7.0, -20.0 + 2.5 * k, 80.0) for k in range(3)]
    write_series(
        tmp_path,
        make_hu(3),
        uids=uids,
        positions=positions,
        orientation=(1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
        names=["c1.dcm", "c2.dcm", "c3.dcm"],
    )
    axial, coronal = find_series(tmp_path)
    assert (axial.orientation, axial.n_slices, axial.is_default) == ("axial", 8, True)
    assert (coronal.orientation, coronal.n_slices, coronal.scorable) == ("coronal", 3, False)
    assert any("separate series" in w for w in axial.warnings)
    v = load_scan(tmp_path).volume
    assert v.n_slices == 8
    assert any("separate series" in w for w in v.warnings)


def test_non_ct_series_is_listed_but_not_scorable(tmp_path):
    from ssc_core.errors import NotCT

    write_series(tmp_path, make_hu(4), extra={"Modality": "MR"})
    (c,) = find_series(tmp_path)
    assert not c.scorable
    assert c.refusal == "NotCT"
    assert c.modality == "MR"
    with pytest.raises(NotCT):
        load_scan(tmp_path)


def test_single_slice_loads_with_its_thickness(tmp_path):
    hu = make_hu(1)
    write_series(tmp_path, hu, thickness=1.25)
    v = load_scan(tmp_path).volume
    assert v.shape == (1, 24, 20)
    assert v.spacing[0] == 1.25
