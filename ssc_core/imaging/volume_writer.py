"""Write a CTVolume as MHA/MHD, NIfTI or NRRD through SimpleITK, geometry included.

SimpleITK orders index axes (x, y, z) and its direction matrix has one *column* per index axis, while
:class:`CTVolume` keeps array axes (z, y, x) with one *row* per axis; :func:`to_sitk` converts. NIfTI files
are RAS on disk; SimpleITK converts to and from LPS itself, so the geometry round-trips unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ssc_core.imaging.volume import CTVolume

#: Suffixes written by :func:`write_volume`.
VOLUME_SUFFIXES = (".mha", ".mhd", ".nii", ".nii.gz", ".nrrd")


def to_sitk(volume: CTVolume):  # -> SimpleITK.Image (lazy import keeps ssc_core light)
    """A SimpleITK image with the volume's voxels, spacing, origin and direction."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(volume.hu)  # numpy (z, y, x) -> ITK index (x, y, z)
    dz, dy, dx = volume.spacing
    image.SetSpacing((dx, dy, dz))
    image.SetOrigin(volume.origin)
    itk_direction = np.stack([volume.direction[2], volume.direction[1], volume.direction[0]], axis=1)
    image.SetDirection(tuple(float(v) for v in itk_direction.ravel()))
    return image


def write_volume(volume: CTVolume, path: str | os.PathLike[str], *, compress: bool = True) -> Path:
    """Write ``volume`` to ``path``; the format follows the suffix (.mha, .mhd, .nii, .nii.gz, .nrrd)."""
    import SimpleITK as sitk

    target = Path(path)
    name = target.name.lower()
    if not name.endswith(VOLUME_SUFFIXES):
        raise ValueError(f"cannot write '{target.name}': use one of {', '.join(VOLUME_SUFFIXES)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(to_sitk(volume), str(target), useCompression=compress)
    return target
