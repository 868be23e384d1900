"""Volume files (MHA/MHD, NIfTI, NRRD) through SimpleITK, brought to the project's axial convention.

SimpleITK reports every format in LPS (it converts NIfTI's RAS itself). The image is reoriented with
``DICOMOrient(image, "LPI")``, which only permutes and flips axes (exact, no interpolation): afterwards
array axis x runs to the patient's left, y to the back and z downwards, so slice 0 is the most cranial one.
A volume whose axes are not within ``ORIENTATION_TOLERANCE_DEG`` of the patient axes (an oblique volume) is
refused, as is one whose slices were evidently acquired in another plane (the reorientation moved the slice
axis and left non-square pixels in the axial plane).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ssc_core.constants import MAX_MATRIX_SIZE, MAX_SLICES, MAX_VOLUME_BYTES, ORIENTATION_TOLERANCE_DEG
from ssc_core.errors import CorruptFile, ImplausibleHeader, NonAxialAcquisition, UnsupportedFormat
from ssc_core.imaging.candidate import SeriesCandidate
from ssc_core.imaging.hu import array_to_hu, check_contains_air
from ssc_core.imaging.volume import CTVolume, SeriesInfo

#: Suffix -> format name of the volume files read here.
VOLUME_FORMATS = {
    ".mha": "mha",
    ".mhd": "mha",
    ".nii": "nifti",
    ".nii.gz": "nifti",
    ".nrrd": "nrrd",
    ".nhdr": "nrrd",
}
_IMAGE_IO = {"mha": "MetaImageIO", "nifti": "NiftiImageIO", "nrrd": "NrrdImageIO"}
_SYNTAX_NAME = {"mha": "MetaImage", "nifti": "NIfTI", "nrrd": "NRRD"}


def volume_format(path: Path) -> str | None:
    """The format name of a volume file from its suffix, or None when it is not one."""
    name = path.name.lower()
    for suffix in sorted(VOLUME_FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return VOLUME_FORMATS[suffix]
    return None


def _key(path: Path) -> str:
    import hashlib

    return "v" + hashlib.blake2b(path.name.encode(), digest_size=6).hexdigest()


def _reader(path: Path, fmt: str):
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetImageIO(_IMAGE_IO[fmt])
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise CorruptFile(
            f"The {fmt.upper()} file could not be read: it is damaged or not a {fmt.upper()} file.",
        ) from exc
    return reader


def _check_header(reader, fmt: str) -> None:
    size = reader.GetSize()
    if reader.GetDimension() != 3:
        raise UnsupportedFormat(
            f"The {fmt.upper()} file holds a {reader.GetDimension()}-D image; a CT volume is 3-D."
        )
    if reader.GetNumberOfComponents() != 1:
        raise UnsupportedFormat(f"The {fmt.upper()} file holds a colour or vector image, not a CT volume.")
    nx, ny, nz = (int(s) for s in size)
    in_plane = sorted((nx, ny, nz))
    if min(size) < 1 or in_plane[1] > MAX_MATRIX_SIZE or in_plane[2] > max(MAX_MATRIX_SIZE, MAX_SLICES):
        raise ImplausibleHeader(f"The file claims a volume of {nx} x {ny} x {nz} voxels, which no CT has.")
    if nx * ny * nz * 2 > MAX_VOLUME_BYTES:
        raise ImplausibleHeader(
            f"The volume ({nx} x {ny} x {nz} voxels) would need {nx * ny * nz * 2 / 1024**3:.1f} GB."
        )
    if any(not (s > 0 and math.isfinite(s)) for s in reader.GetSpacing()):
        raise CorruptFile("The file states a voxel size that is zero, negative or undefined.")


def _axial(image, fmt: str):
    """``image`` reoriented to LPI (axial, slice 0 cranial); refuses oblique or non-axial volumes."""
    import SimpleITK as sitk

    direction = np.array(image.GetDirection(), dtype=np.float64).reshape(3, 3)  # columns: index axes
    cos_tol = math.cos(math.radians(ORIENTATION_TOLERANCE_DEG))
    for axis in range(3):
        column = direction[:, axis]
        norm = float(np.linalg.norm(column))
        if norm == 0 or float(np.max(np.abs(column))) / norm < cos_tol:
            angle = math.degrees(math.acos(min(1.0, float(np.max(np.abs(column))) / max(norm, 1e-12))))
            raise NonAxialAcquisition(
                f"The volume is oblique: its axes lie up to {angle:.1f}° away from the patient's axes, and "
                "it cannot be turned to axial slices without interpolation."
            )
    slice_axis = int(np.argmax(np.abs(direction[2, :])))  # index axis that runs along patient z
    spacing = image.GetSpacing()
    oriented = sitk.DICOMOrient(image, "LPI")
    if slice_axis != 2:
        sx, sy, _ = oriented.GetSpacing()
        if abs(sx - sy) > 0.1 * min(sx, sy):
            plane = "coronal" if slice_axis == 1 else "sagittal"
            raise NonAxialAcquisition(
                f"The volume was stored as {plane} slices {spacing[slice_axis]:.2f} mm apart; its axial "
                "slices would have non-square pixels. Goh scoring needs an axial acquisition."
            )
    return oriented, slice_axis


def describe_volume_file(path: Path) -> SeriesCandidate:
    """The single candidate of a volume file, judged from its header (no voxels read)."""
    fmt = volume_format(path)
    if fmt is None:
        raise UnsupportedFormat(f"'{path.suffix}' files are not a format the workstation reads.")
    reader = _reader(path, fmt)
    size = reader.GetSize()
    reason, refusal = "", ""
    try:
        _check_header(reader, fmt)
        import SimpleITK as sitk

        probe = sitk.Image([1, 1, 1], sitk.sitkInt8)
        probe.SetDirection(reader.GetDirection())
        probe.SetSpacing(reader.GetSpacing())
        _axial(probe, fmt)
    except (UnsupportedFormat, ImplausibleHeader, NonAxialAcquisition, CorruptFile) as exc:
        reason, refusal = str(exc), type(exc).__name__
    except RuntimeError as exc:
        reason, refusal = (
            f"The file's geometry is not valid ({str(exc).splitlines()[0][:120]}).",
            "CorruptFile",
        )
    spacing = reader.GetSpacing()
    return SeriesCandidate(
        key=_key(path),
        description="",  # file names often carry patient names or IDs: never shown
        n_slices=int(size[2]) if len(size) > 2 else 1,
        slice_thickness_mm=None,
        kernel="",
        modality="CT",
        orientation="axial"
        if not refusal
        else next((plane for plane in ("coronal", "sagittal", "oblique") if plane in reason), "unknown"),
        rows=int(size[1]) if len(size) > 1 else 0,
        columns=int(size[0]),
        transfer_syntax=_SYNTAX_NAME[fmt],
        scorable=not refusal,
        reason=reason,
        refusal=refusal,
        is_default=True,
        slice_spacing_mm=float(spacing[2]) if len(spacing) > 2 else None,
        source_format=fmt,
    )


def load_volume_file(path: Path) -> CTVolume:
    """Read a volume file as an axial :class:`CTVolume` (slice 0 cranial, LPS, HU int16)."""
    fmt = volume_format(path)
    if fmt is None:
        raise UnsupportedFormat(f"'{path.suffix}' files are not a format the workstation reads.")
    reader = _reader(path, fmt)
    _check_header(reader, fmt)
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise CorruptFile(
            f"The voxels of the {fmt.upper()} file could not be read: the file is damaged or incomplete."
        ) from exc
    try:
        oriented, _ = _axial(image, fmt)
    except RuntimeError as exc:
        raise CorruptFile("The file's orientation (direction matrix) is not valid.") from exc
    hu, low = array_to_hu(_array_view(oriented))
    check_contains_air(low)
    sx, sy, sz = oriented.GetSpacing()
    d = np.array(oriented.GetDirection(), dtype=np.float64).reshape(3, 3)
    direction = np.stack([d[:, 2], d[:, 1], d[:, 0]])  # rows: array axes z, y, x
    origin = np.array(oriented.GetOrigin(), dtype=np.float64)
    nz = hu.shape[0]
    slice_z = origin[2] + np.arange(nz) * sz * direction[0, 2]
    return CTVolume(
        hu=hu,
        spacing=(sz, sy, sx),
        origin=tuple(origin),
        direction=direction,
        slice_z=slice_z,
        info=SeriesInfo(source_format=fmt, transfer_syntax=_SYNTAX_NAME[fmt]),
    )


def _array_view(image) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayViewFromImage(image)


def is_volume_file(path: str | os.PathLike[str]) -> bool:
    return volume_format(Path(path)) is not None
