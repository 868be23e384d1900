"""The CT volume record shared by loaders, viewer, scoring and AI.

Conventions (fixed for the whole project):

* ``hu`` is an int16 array of Hounsfield units with axes ``(z, y, x)``, C-contiguous and read-only.
* Slice 0 is the **most cranial** slice; the index grows caudally (towards the feet), so L1 has a smaller
  index than L5. This is the order a radiologist scrolls through a chest CT.
* World coordinates are DICOM patient coordinates (LPS, mm): +x to the patient's left, +y posterior,
  +z towards the head (DICOM PS3.3 C.7.6.2.1.1). Hence ``slice_z`` is strictly **decreasing**.
* ``spacing`` is ``(dz, dy, dx)`` in mm, in array-axis order; ``dz`` is the mean distance between slices.
* ``direction`` is a 3x3 matrix whose row ``a`` is the LPS unit vector along which array axis ``a``
  (z, y, x) increases. For a standard supine axial scan it is ``[[0, 0, -1], [0, 1, 0], [1, 0, 0]]``.
* ``origin`` is the LPS position (x, y, z) of voxel ``[0, 0, 0]``'s centre.

No patient identifier is ever stored here; those travel in :class:`ImportIdentity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssc_core.errors import LoadError

#: Direction of a standard axial volume in the project's convention (rows: z, y, x array axes).
AXIAL_DIRECTION = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class SeriesInfo:
    """Descriptive metadata of a series, free of patient identifiers."""

    description: str = ""
    kernel: str = ""
    slice_thickness_mm: float | None = None
    modality: str = "CT"
    manufacturer: str = ""
    model: str = ""
    transfer_syntax: str = ""
    source_format: str = ""  # "dicom", "mha", "nifti", "nrrd", "phantom", "array"


@dataclass(frozen=True)
class ImportIdentity:
    """Identifiers read at import time. Protected health information: never log, display or export.

    The study layer turns these into keyed hashes (pseudonymous case codes) and then drops them.
    ``repr`` hides every value so that an accidental log line cannot leak one.
    """

    patient_id: str = ""
    patient_name: str = ""
    birth_date: str = ""
    accession_number: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    study_date: str = ""

    def __repr__(self) -> str:
        return "ImportIdentity(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True, eq=False)
class CTVolume:
    """An axial CT volume in Hounsfield units (see the module docstring for the conventions)."""

    hu: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    slice_z: np.ndarray
    info: SeriesInfo = field(default_factory=SeriesInfo)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        hu = self.hu
        if hu.ndim != 3:
            raise LoadError(f"A CT volume needs three dimensions, got an array of shape {hu.shape}.")
        if hu.dtype != np.int16:
            raise LoadError(f"A CT volume holds int16 Hounsfield units, got {hu.dtype}.")
        if not hu.flags.c_contiguous:
            object.__setattr__(self, "hu", np.ascontiguousarray(hu))
        self.hu.flags.writeable = False
        z = np.asarray(self.slice_z, dtype=np.float64).copy()
        if z.shape != (hu.shape[0],):
            raise LoadError(f"{hu.shape[0]} slices but {z.shape[0]} slice positions.")
        if z.size > 1 and not np.all(np.diff(z) < 0):
            raise LoadError("Slice positions must decrease strictly from the first (cranial) slice.")
        z.flags.writeable = False
        object.__setattr__(self, "slice_z", z)
        d = np.asarray(self.direction, dtype=np.float64).reshape(3, 3).copy()
        d.flags.writeable = False
        object.__setattr__(self, "direction", d)
        object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        object.__setattr__(self, "origin", tuple(float(o) for o in self.origin))
        if any(s <= 0 for s in self.spacing):
            raise LoadError(f"Voxel spacing must be positive, got {self.spacing} mm.")

    # --- shape -------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.hu.shape)  # type: ignore[return-value]

    @property
    def n_slices(self) -> int:
        return int(self.hu.shape[0])

    @property
    def z_range(self) -> tuple[float, float]:
        """(most caudal, most cranial) world z in mm."""
        return float(self.slice_z[-1]), float(self.slice_z[0])

    @property
    def nbytes(self) -> int:
        return int(self.hu.nbytes)

    # --- views (no copies) -------------------------------------------------------------------------

    def axial(self, k: int) -> np.ndarray:
        """Axial slice ``k`` (rows y, columns x), a read-only view."""
        return self.hu[k]

    def coronal(self, j: int) -> np.ndarray:
        """Coronal reformat at row ``j``: shape (z, x), a strided view."""
        return self.hu[:, j, :]

    def sagittal(self, i: int) -> np.ndarray:
        """Sagittal reformat at column ``i``: shape (z, y), a strided view."""
        return self.hu[:, :, i]

    # --- geometry ----------------------------------------------------------------------------------

    def index_to_world(self, k: float, j: float, i: float) -> np.ndarray:
        """LPS position (mm) of the voxel at array index (k, j, i); fractional indices allowed."""
        steps = np.array([k * self.spacing[0], j * self.spacing[1], i * self.spacing[2]])
        return np.asarray(self.origin) + steps @ self.direction

    def contains_z(self, world_z: float, *, margin_slices: float = 0.5) -> bool:
        """True when ``world_z`` lies inside the scanned range (plus half a slice at each end)."""
        lo, hi = self.z_range
        pad = margin_slices * self.spacing[0]
        return lo - pad <= world_z <= hi + pad

    def z_to_index(self, world_z: float) -> float:
        """Fractional slice index of world z (linear between slice positions; extrapolated outside)."""
        z = self.slice_z
        if z.size == 1:
            return 0.0
        # slice_z decreases with the index: interpolate on the reversed (increasing) arrays.
        idx = np.arange(z.size, dtype=np.float64)
        if z[-1] <= world_z <= z[0]:
            return float(np.interp(world_z, z[::-1], idx[::-1]))
        step = (z[-1] - z[0]) / (z.size - 1)  # negative
        return float((world_z - z[0]) / step)

    def nearest_slice(self, world_z: float) -> int | None:
        """The original slice nearest to ``world_z``, or None when z lies outside the scanned range.

        Never clamps: a level above the first or below the last slice is reported as outside.
        """
        if not self.contains_z(world_z):
            return None
        return int(np.argmin(np.abs(self.slice_z - world_z)))

    # --- builders ----------------------------------------------------------------------------------

    @classmethod
    def from_array(
        cls,
        hu: np.ndarray,
        spacing: tuple[float, float, float],
        *,
        top_z: float = 0.0,
        origin_xy: tuple[float, float] | None = None,
        info: SeriesInfo | None = None,
        warnings: tuple[str, ...] = (),
    ) -> CTVolume:
        """A standard axial volume from a (z, y, x) array whose slice 0 is cranial at world z ``top_z``.

        ``origin_xy`` defaults to centring the slice on the scanner axis.
        """
        arr = np.ascontiguousarray(hu, dtype=np.int16)
        dz, dy, dx = (float(s) for s in spacing)
        if origin_xy is None:
            origin_xy = (-(arr.shape[2] - 1) * dx / 2.0, -(arr.shape[1] - 1) * dy / 2.0)
        slice_z = top_z - dz * np.arange(arr.shape[0], dtype=np.float64)
        return cls(
            hu=arr,
            spacing=(dz, dy, dx),
            origin=(origin_xy[0], origin_xy[1], top_z),
            direction=AXIAL_DIRECTION,
            slice_z=slice_z,
            info=info or SeriesInfo(source_format="array"),
            warnings=warnings,
        )


@dataclass(frozen=True)
class LoadedScan:
    """What a loader returns: the volume, the identifiers (PHI, kept apart) and what else was found."""

    volume: CTVolume
    identity: ImportIdentity = field(default_factory=ImportIdentity)
    #: Every series candidate found at the path (empty for single-file formats).
    candidates: tuple[object, ...] = ()
