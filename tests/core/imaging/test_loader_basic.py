"""find_series / load_scan on uncompressed DICOM and on volume files: the basic contract."""

from __future__ import annotations

import numpy as np
import pytest

from ssc_core.errors import (
    Cancelled,
    LoadError,
    NoImagesFound,
    NotAFileOrFolder,
    SeriesNotFound,
    UnsupportedFormat,
)
from ssc_core.imaging.dicom_writer import write_dicom_series
from ssc_core.imaging.loader import SeriesCandidate, find_series, load_scan
from ssc_core.imaging.volume import AXIAL_DIRECTION, CTVolume, SeriesInfo
from ssc_core.imaging.volume_writer import to_sitk, write_volume
from ssc_core.progress import CancelToken

from .factory import expected_axial, make_hu, write_series


def test_folder_loads_as_axial_volume_cranial_first(tmp_path):
    hu = make_hu(8)
    write_series(tmp_path / "s", hu)
    scan = load_scan(tmp_path)  # the parent: searched recursively
    v = scan.volume
    assert v.shape == (8, 24, 20)
    np.testing.assert_array_equal(v.hu, expected_axial(hu))
    np.testing.assert_allclose(v.slice_z, 50.0 - 2.5 * np.arange(8))
    assert v.spacing == pytest.approx((2.5, 0.7, 0.7))
    np.testing.assert_allclose(v.direction, AXIAL_DIRECTION, atol=1e-12)
    assert v.origin == pytest.approx((-7.0, -8.0, 50.0))
    assert v.info.source_format == "dicom"
    assert v.info.kernel == "B70f"
    assert v.info.slice_thickness_mm == 2.5
    assert "Explicit VR Little Endian" in v.info.transfer_syntax
    assert v.warnings == ()
    assert len(scan.candidates) == 1


def test_candidate_describes_series_without_identifiers(tmp_path):
    write_series(tmp_path, make_hu(6), patient="DOE^JANE", description="Thorax HR")
    (c,) = find_series(tmp_path)
    assert isinstance(c, SeriesCandidate)
    assert (c.n_slices, c.rows, c.columns, c.orientation, c.modality) == (6, 24, 20, "axial", "CT")
    assert c.description == "Thorax HR"
    assert c.slice_thickness_mm == 2.5
    assert c.slice_spacing_mm == pytest.approx(2.5)
    assert c.scorable
    assert c.is_default
    assert c.reason == ""
    assert c.refusal == ""
    assert c.key.startswith("s")
    assert len(c.key) == 13
    assert "DOE" not in repr(c)
    assert "1.2." not in c.key


def test_key_is_stable_between_scans(tmp_path):
    write_series(tmp_path, make_hu(4))
    assert find_series(tmp_path)[0].key == find_series(tmp_path)[0].key


def test_identity_travels_apart_from_the_volume(tmp_path):
    write_series(tmp_path, make_hu(3), patient="DOE^JANE")
    scan = load_scan(tmp_path)
    assert scan.identity.patient_name == "DOE^JANE"
    assert scan.identity.patient_id == "DOE^JANE"
    assert scan.identity.series_instance_uid
    assert "DOE" not in repr(scan.identity)
    assert "DOE" not in repr(scan.volume.info)


def test_single_file_opens_its_series_from_its_folder(tmp_path):
    write_series(tmp_path / "a", make_hu(5), description="first")
    paths = write_series(
        tmp_path / "a", make_hu(7, seed=1), description="second", names=[f"B{k}.dcm" for k in range(7)]
    )
    scan = load_scan(paths[3])
    assert scan.volume.n_slices == 7
    assert scan.volume.info.description == "second"
    default = [c for c in scan.candidates if c.is_default]
    assert len(default) == 1
    assert default[0].description == "second"


def test_explicit_series_choice_and_unknown_key(tmp_path):
    write_series(tmp_path / "a", make_hu(5), description="small")
    write_series(tmp_path / "b", make_hu(9, seed=1), description="large")
    cands = find_series(tmp_path)
    assert [c.description for c in cands] == ["large", "small"]
    assert cands[0].is_default
    assert not cands[1].is_default
    small = load_scan(tmp_path, series=cands[1].key)
    assert small.volume.n_slices == 5
    with pytest.raises(SeriesNotFound):
        load_scan(tmp_path, series="s000000000000")


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(NotAFileOrFolder):
        find_series(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoImagesFound):
        load_scan(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UnsupportedFormat):
        load_scan(tmp_path / "notes.txt")


def test_progress_cancel_and_previews(tmp_path):
    hu = make_hu(9)
    write_series(tmp_path, hu)
    seen = []
    previews = []
    scan = load_scan(tmp_path, progress=seen.append, on_slice=previews.append)
    assert seen
    assert seen[-1].fraction == 1.0
    assert next(p.index for p in previews) == 4  # the middle slice first
    assert sorted(p.index for p in previews) == list(range(9))
    assert [p.loaded for p in previews] == list(range(1, 10))
    for p in previews:
        np.testing.assert_array_equal(p.hu, scan.volume.hu[p.index])
        assert p.z == scan.volume.slice_z[p.index]
        assert not p.hu.flags.writeable
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        load_scan(tmp_path, cancel=token)


def test_cancel_during_pixel_loading(tmp_path):
    write_series(tmp_path, make_hu(40, rows=8, cols=8))
    token = CancelToken()

    def stop_after_first(preview):
        token.cancel()

    with pytest.raises(Cancelled):
        load_scan(tmp_path, cancel=token, on_slice=stop_after_first)


# --- volume files ------------------------------------------------------------------------------------


@pytest.fixture
def volume():
    hu = expected_axial(make_hu(7, rows=16, cols=12))
    return CTVolume.from_array(hu, (2.0, 0.8, 0.6), top_z=120.0, origin_xy=(-30.0, 10.0), info=SeriesInfo())


@pytest.mark.parametrize("suffix", [".mha", ".mhd", ".nii", ".nii.gz", ".nrrd"])
def test_volume_file_loads_like_the_volume_written(tmp_path, volume, suffix):
    path = write_volume(volume, tmp_path / f"vol{suffix}")
    (c,) = find_series(path)
    assert c.scorable
    assert c.is_default
    assert c.n_slices == 7
    assert (c.rows, c.columns) == (16, 12)
    assert c.description == ""  # file names may carry identifiers
    v = load_scan(path).volume
    np.testing.assert_array_equal(v.hu, volume.hu)
    np.testing.assert_allclose(v.slice_z, volume.slice_z, atol=1e-4)
    assert v.spacing == pytest.approx(volume.spacing)
    assert v.origin == pytest.approx(volume.origin, abs=1e-4)
    np.testing.assert_allclose(v.direction, AXIAL_DIRECTION, atol=1e-9)


def test_dicom_mha_and_nifti_load_identically(tmp_path, volume):
    write_dicom_series(volume, tmp_path / "dcm")
    loaded = [
        load_scan(tmp_path / "dcm").volume,
        load_scan(write_volume(volume, tmp_path / "v.mha")).volume,
        load_scan(write_volume(volume, tmp_path / "v.nii.gz")).volume,
    ]
    for v in loaded:
        np.testing.assert_array_equal(v.hu, volume.hu)
        np.testing.assert_allclose(v.slice_z, volume.slice_z, atol=1e-4)
        assert v.spacing == pytest.approx(volume.spacing, abs=1e-5)


def _write_sitk(image, path):
    import SimpleITK as sitk

    sitk.WriteImage(image, str(path))
    return path


def test_nifti_stored_ras_caudal_first_is_reoriented(tmp_path, volume):
    """A volume stored x->right, y->anterior, z->up (RAS array order) loads exactly as the standard one."""
    import SimpleITK as sitk

    flipped = volume.hu[::-1, ::-1, ::-1]
    image = sitk.GetImageFromArray(np.ascontiguousarray(flipped))
    image.SetSpacing((0.6, 0.8, 2.0))
    last = volume.index_to_world(6, 15, 11)
    image.SetOrigin(tuple(last))
    image.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    v = load_scan(_write_sitk(image, tmp_path / "ras.nii.gz")).volume
    np.testing.assert_array_equal(v.hu, volume.hu)
    np.testing.assert_allclose(v.slice_z, volume.slice_z, atol=1e-4)
    assert v.origin == pytest.approx(volume.origin, abs=1e-4)


def test_volume_stored_in_permuted_axis_order_is_reoriented(tmp_path):
    """A volume whose index axes are (z, x, y) in patient terms (isotropic voxels) is permuted to axial."""
    import SimpleITK as sitk

    hu = expected_axial(make_hu(10, rows=10, cols=10))
    vol = CTVolume.from_array(hu, (0.8, 0.8, 0.8), top_z=0.0)
    arr = np.ascontiguousarray(np.transpose(hu, (1, 2, 0)))  # numpy (y, x, z) -> ITK index (z, x, y)
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing((0.8, 0.8, 0.8))
    image.SetOrigin(vol.origin)
    # index axis 0 runs along -z (caudal), axis 1 along +x, axis 2 along +y
    image.SetDirection((0, 1, 0, 0, 0, 1, -1, 0, 0))
    v = load_scan(_write_sitk(image, tmp_path / "perm.mha")).volume
    np.testing.assert_array_equal(v.hu, vol.hu)
    np.testing.assert_allclose(v.slice_z, vol.slice_z, atol=1e-4)


def test_oblique_volume_file_is_refused(tmp_path, volume):
    import math

    from ssc_core.errors import NonAxialAcquisition

    image = to_sitk(volume)
    t = math.radians(15)
    image.SetDirection((1, 0, 0, 0, math.cos(t), -math.sin(t), 0, math.sin(t), math.cos(t)))
    path = _write_sitk(image, tmp_path / "oblique.nrrd")
    (c,) = find_series(path)
    assert not c.scorable
    assert c.refusal == "NonAxialAcquisition"
    assert "oblique" in c.reason
    with pytest.raises(NonAxialAcquisition):
        load_scan(path)


def test_coronal_slab_volume_file_is_refused(tmp_path):
    """Coronal slices 3 mm apart stored as a volume: reorienting would give non-square axial pixels."""
    import SimpleITK as sitk

    from ssc_core.errors import NonAxialAcquisition

    image = sitk.GetImageFromArray(expected_axial(make_hu(6, rows=12, cols=12)))
    image.SetSpacing((0.7, 0.7, 3.0))
    image.SetDirection((1, 0, 0, 0, 0, -1, 0, 1, 0))  # index y runs along -z, index z along +y
    with pytest.raises(NonAxialAcquisition, match="coronal"):
        load_scan(_write_sitk(image, tmp_path / "cor.mha"))


def test_volume_file_without_hounsfield_units_is_refused(tmp_path):
    from ssc_core.errors import ImplausibleHU

    hu = make_hu(5).astype(np.int32) + 1024  # stored values, rescale forgotten: no air below -500
    vol = CTVolume.from_array(np.clip(hu, 0, 4000).astype(np.int16), (2.0, 0.7, 0.7))
    with pytest.raises(ImplausibleHU):
        load_scan(write_volume(vol, tmp_path / "raw.mha"))


def test_damaged_volume_file_raises_named_error(tmp_path, volume):
    path = write_volume(volume, tmp_path / "v.mha", compress=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError):
        load_scan(path)


def test_uncompressed_slices_take_the_direct_read_path(tmp_path):
    """Headers record where the pixels start, so slices are read straight into the volume."""
    import pydicom
    from pydicom.uid import RLELossless

    from ssc_core.imaging.dicom_headers import read_file

    (path,) = write_series(tmp_path / "u", make_hu(1))
    (rec,) = read_file(str(path))
    assert rec.native
    assert rec.pixel_length == 24 * 20 * 2
    raw = path.read_bytes()
    stored = pydicom.dcmread(path).PixelData
    assert raw[rec.pixel_offset : rec.pixel_offset + rec.pixel_length] == stored
    (cpath,) = write_series(tmp_path / "c", make_hu(1), transfer_syntax=RLELossless)
    (crec,) = read_file(str(cpath))
    assert not crec.native
    assert crec.pixel_offset is None


def test_unreadable_files_beside_a_series_are_reported(tmp_path):
    """A zero-byte last slice leaves no gap: only the warning tells the reader a slice may be missing."""
    paths = write_series(tmp_path, make_hu(6))
    paths[-1].write_bytes(b"")
    (tmp_path / "README.txt").write_text("exported by PACS")  # ordinary non-DICOM files are not counted
    v = load_scan(tmp_path).volume
    assert v.n_slices == 5
    assert any("1 file in the folder could not be read" in w for w in v.warnings), v.warnings
    paths[0].write_bytes(paths[0].read_bytes()[:300])  # truncated inside the header
    v = load_scan(tmp_path).volume
    assert any("2 files in the folder could not be read" in w for w in v.warnings), v.warnings


def test_dicomdir_opens_the_media_it_describes(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    write_series(tmp_path / "DICOM" / "S1", make_hu(5))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.FileSetID = "CD"
    ds.DirectoryRecordSequence = []
    ds.save_as(tmp_path / "DICOMDIR", enforce_file_format=True)
    assert load_scan(tmp_path / "DICOMDIR").volume.n_slices == 5
