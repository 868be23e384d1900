"""Geometry of a stack of DICOM slices: order, spacing, orientation and gantry tilt.

Only ImagePositionPatient (IPP) and ImageOrientationPatient (IOP) decide where a slice lies (DICOM PS3.3
C.7.6.2.1.1); file names, InstanceNumber and SliceLocation are never used for ordering. The decisions
(thresholds in ``ssc_core.constants``, policy in docs/architecture.md, "Loading CT"):

* In-plane axes are brought to the standard orientation (columns towards the patient's left, rows towards
  the back) by flips and a transpose, which are exact; slice 0 is the most cranial slice.
* Slices are sorted by their position along the stack axis. Two slices at (nearly) the same position are
  duplicates: one is kept and the volume carries a warning. A gap over ``MISSING_SLICE_GAP_FACTOR`` times
  the median spacing is refused as missing slices, a spacing under ``OVERLAP_SPACING_FACTOR`` times the
  median as overlapping slices; spacings between those bounds but off the median by more than
  ``IRREGULAR_SPACING_TOLERANCE`` load with a warning, smaller jitter silently (each slice keeps its own z).
* Coronal, sagittal and oblique series are refused (Goh scoring is defined on axial slices).
* Gantry tilt (slice planes rotated about the left-right axis while the table moves along z): the stack
  axis is not perpendicular to the slices. Tilts whose sideways drift over the whole stack stays under
  ``GEOMETRY_TOLERANCE_PIXELS`` are ignored; tilts up to ``MAX_CORRECTED_GANTRY_TILT_DEG`` are corrected by
  resampling every image row along z onto true axial planes (:func:`resample_tilt`); larger ones are
  refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ssc_core.constants import (
    AIR_HU,
    DUPLICATE_POSITION_FACTOR,
    GEOMETRY_TOLERANCE_PIXELS,
    IRREGULAR_SPACING_TOLERANCE,
    MAX_CORRECTED_GANTRY_TILT_DEG,
    MISSING_SLICE_GAP_FACTOR,
    ORIENTATION_TOLERANCE_DEG,
    OVERLAP_SPACING_FACTOR,
)
from ssc_core.errors import (
    GantryTilt,
    InconsistentGeometry,
    MissingSlices,
    NonAxialAcquisition,
    OverlappingSlices,
)

#: Name of the plane whose normal lies along patient axis 0 (x), 1 (y), 2 (z).
PLANE_OF_NORMAL = ("sagittal", "coronal", "axial")
_COS_TOL = math.cos(math.radians(ORIENTATION_TOLERANCE_DEG))


def nearest_axis(v: np.ndarray) -> tuple[int, float, float]:
    """(axis index, sign, angle in degrees) of the patient axis nearest to unit vector ``v``."""
    axis = int(np.argmax(np.abs(v)))
    sign = 1.0 if v[axis] >= 0 else -1.0
    cos = min(1.0, abs(float(v[axis])))
    return axis, sign, math.degrees(math.acos(cos))


def unit_vectors(orientation: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Row and column direction cosines of IOP, checked (unit length, perpendicular) and normalised."""
    iop = np.asarray(orientation, dtype=np.float64)
    r, c = iop[:3], iop[3:]
    nr, nc = float(np.linalg.norm(r)), float(np.linalg.norm(c))
    if not (0.9 < nr < 1.1 and 0.9 < nc < 1.1) or abs(float(r @ c)) / (nr * nc) > 0.02:
        raise InconsistentGeometry(
            "The slice orientation in the file header is not valid (its direction vectors are not unit "
            "length or not perpendicular), so the slices cannot be placed in space."
        )
    return r / nr, c / nc


@dataclass(frozen=True)
class InPlane:
    """Exact in-plane reorientation of a slice array: optional transpose, then row and column flips."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    @property
    def identity(self) -> bool:
        return not (self.transpose or self.flip_rows or self.flip_cols)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The reoriented view of a (rows, columns) array."""
        out = image.T if self.transpose else image
        if self.flip_rows:
            out = out[::-1, :]
        if self.flip_cols:
            out = out[:, ::-1]
        return out

    def shape(self, rows: int, cols: int) -> tuple[int, int]:
        return (cols, rows) if self.transpose else (rows, cols)


def canonical_inplane(r: np.ndarray, c: np.ndarray) -> InPlane:
    """The flips/transpose that make the slice's columns run along +x and its rows along +y."""
    transpose = int(np.argmax(np.abs(r))) == 1 and int(np.argmax(np.abs(c))) == 0
    if transpose:
        r, c = c, r
    return InPlane(transpose, flip_rows=bool(c[1] < 0), flip_cols=bool(r[0] < 0))


@dataclass(frozen=True)
class StackGeometry:
    """Where the slices of one series go in the output volume, and how."""

    #: Indices into the analysed slice list, in output order (cranial first), duplicates removed.
    order: tuple[int, ...]
    inplane: InPlane
    rows: int
    cols: int
    #: (dy, dx) of the reoriented slices, mm.
    pixel_spacing: tuple[float, float]
    #: Unit LPS vectors of the output axes (z, y, x).
    stack_dir: np.ndarray
    col_dir: np.ndarray
    row_dir: np.ndarray
    origin: np.ndarray
    slice_spacing: float
    slice_z: np.ndarray
    orientation: str
    tilt_deg: float = 0.0
    #: For a corrected tilt: positions (mm along ``stack_dir``) of the acquired slices' centre rows, in
    #: output order, and the offset (mm along ``stack_dir``) of each image row from the centre row; None
    #: when no resampling is needed.
    tilt_positions: np.ndarray | None = None
    tilt_row_offsets: np.ndarray | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_slices(self) -> int:
        return len(self.order)

    @property
    def direction(self) -> np.ndarray:
        return np.stack([self.stack_dir, self.col_dir, self.row_dir])

    @property
    def spacing(self) -> tuple[float, float, float]:
        return (self.slice_spacing, *self.pixel_spacing)


def _reorient(
    inplane: InPlane,
    positions: np.ndarray,
    r: np.ndarray,
    c: np.ndarray,
    dy: float,
    dx: float,
    rows: int,
    cols: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float, int, int]:
    """Positions, directions and spacing of the slices after ``inplane`` is applied to their arrays."""
    p = positions.copy()
    if inplane.transpose:
        r, c, dy, dx, rows, cols = c, r, dx, dy, cols, rows
    if inplane.flip_rows:
        p += (rows - 1) * dy * c
        c = -c
    if inplane.flip_cols:
        p += (cols - 1) * dx * r
        r = -r
    return p, r, c, dy, dx, rows, cols


def _caudal(normal: np.ndarray) -> np.ndarray:
    """The slice normal's sign that points caudally for an axial series (deterministic for the others)."""
    if normal[2] < 0 or (normal[2] == 0 and normal[int(np.argmax(np.abs(normal)))] < 0):
        return normal
    return -normal


def _stack_axis(
    P: np.ndarray, r: np.ndarray, c: np.ndarray, px: float
) -> tuple[str, bool, np.ndarray, float]:
    """(plane name, tilted, unit stack axis, angle to the nearest patient axis) of sorted positions ``P``.

    Without tilt the stack axis is the slice normal; with a tilt (the stack drifts across the slice plane
    by at least ``GEOMETRY_TOLERANCE_PIXELS``) it is the direction of table travel, first to last slice.
    """
    normal = np.cross(r, c)
    s = _caudal(normal)
    span = P[-1] - P[0] if len(P) > 1 else np.zeros(3)
    length = float(np.linalg.norm(span))
    drift = math.hypot(float(span @ r), float(span @ c))
    tilted = len(P) > 1 and length > 0 and drift >= GEOMETRY_TOLERANCE_PIXELS * px
    axis_dir = span / length if tilted else s
    ax, _, angle = nearest_axis(axis_dir)
    plane = PLANE_OF_NORMAL[ax] if angle <= ORIENTATION_TOLERANCE_DEG else "oblique"
    return plane, tilted, axis_dir, angle


def stack_orientation(positions: np.ndarray, orientation: tuple[float, ...]) -> str:
    """The plane of a stack ("axial", "coronal", "sagittal", "oblique"; "unknown" if IOP is invalid)."""
    try:
        r, c = unit_vectors(orientation)
    except InconsistentGeometry:
        return "unknown"
    P = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    P = P[np.argsort(P @ _caudal(np.cross(r, c)), kind="stable")]
    return _stack_axis(P, r, c, 1.0)[0]


def _fmt(z: float) -> str:
    return f"{z:.1f}"


def analyse_stack(
    positions: np.ndarray,
    orientation: tuple[float, ...],
    pixel_spacing: tuple[float, float],
    rows: int,
    cols: int,
    *,
    thickness: float | None = None,
) -> StackGeometry:
    """Check and order a stack of slices; raise the named refusal when it is not a usable axial volume.

    ``positions`` is the (n, 3) IPP of each slice in any order; ``orientation`` the series' IOP;
    ``pixel_spacing`` is DICOM PixelSpacing (row spacing dy, column spacing dx).
    """
    P = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    n = P.shape[0]
    r, c = unit_vectors(orientation)
    normal = np.cross(r, c)
    dy, dx = float(pixel_spacing[0]), float(pixel_spacing[1])
    axis = nearest_axis(normal)[0]
    inplane = canonical_inplane(r, c) if axis == 2 else InPlane()
    P, r, c, dy, dx, rows, cols = _reorient(inplane, P, r, c, dy, dx, rows, cols)
    normal = np.cross(r, c)
    px = min(dy, dx)
    tol_mm = GEOMETRY_TOLERANCE_PIXELS * px

    s = _caudal(normal)
    order = np.lexsort((np.arange(n), P @ s))
    P = P[order]
    span = P[-1] - P[0]
    plane, tilted, axis_dir, angle = _stack_axis(P, r, c, px)
    if plane != "axial":
        if plane == "oblique":
            raise NonAxialAcquisition(
                f"This series is oblique: its slices lie {angle:.1f}° away from the nearest standard plane. "
                "Goh scoring is defined on axial slices."
            )
        raise NonAxialAcquisition(f"This series is {plane}. Goh scoring is defined on axial slices.")
    if float(r[0]) < _COS_TOL:
        raise NonAxialAcquisition(
            "The slices are axial but the images are rotated within the slice plane "
            f"({math.degrees(math.acos(min(1.0, abs(float(r[0]))))):.1f}°); the workstation reads "
            "images aligned with the patient's left-right axis only."
        )
    if not tilted and float(c[1]) < _COS_TOL:
        raise NonAxialAcquisition(
            "The slices are rotated within the slice plane; the workstation reads images aligned with the "
            "patient's axes only."
        )

    # Every slice must lie on the stack axis through the first one.
    rel = P - P[0]
    along = rel @ axis_dir
    off_axis = np.linalg.norm(rel - np.outer(along, axis_dir), axis=1)
    if n > 2 and float(off_axis.max()) > max(tol_mm, 1e-3):
        raise InconsistentGeometry(
            "The slice positions do not line up along one axis (some slices are shifted sideways), so they "
            "do not form one volume."
        )

    warnings: list[str] = []
    keep = np.arange(n)
    if n > 1:
        steps = np.diff(along)
        nonzero = steps[steps > 1e-4]
        if nonzero.size == 0:
            keep = keep[:1]
            warnings.append(f"All {n} images share one position; only one was kept.")
        else:
            median = float(np.median(nonzero))
            duplicate = steps <= max(DUPLICATE_POSITION_FACTOR * median, 1e-4)
            if duplicate.any():
                keep = np.concatenate([[0], np.nonzero(~duplicate)[0] + 1])
                n_dup = int(duplicate.sum())
                warnings.append(
                    f"{n_dup} duplicate slice{'s' if n_dup > 1 else ''} (same position as another) "
                    f"{'were' if n_dup > 1 else 'was'} left out."
                )
    P, along = P[keep], along[keep]
    order = order[keep]
    n = len(order)

    if n > 1:
        steps = np.diff(along)
        median = float(np.median(steps))
        z = P[:, 2]
        gaps = np.nonzero(steps > MISSING_SLICE_GAP_FACTOR * median)[0]
        if gaps.size:
            g = int(gaps[0])
            missing = sum(max(1, round(float(steps[i]) / median) - 1) for i in gaps)
            raise MissingSlices(
                f"About {missing} slice{'s are' if missing > 1 else ' is'} missing: there is a gap of "
                f"{steps[g]:.1f} mm between z = {_fmt(z[g])} mm and z = {_fmt(z[g + 1])} mm in a series "
                f"spaced {median:.2f} mm."
            )
        close = np.nonzero(steps < OVERLAP_SPACING_FACTOR * median)[0]
        if close.size:
            g = int(close[0])
            raise OverlappingSlices(
                f"Slices overlap irregularly: the slices at z = {_fmt(z[g])} mm and z = {_fmt(z[g + 1])} mm "
                f"are only {steps[g]:.2f} mm apart in a series spaced {median:.2f} mm (two acquisitions "
                "mixed, or a damaged export)."
            )
        off = np.abs(steps / median - 1.0)
        if float(off.max()) > IRREGULAR_SPACING_TOLERANCE:
            warnings.append(
                f"The slice spacing is irregular (from {steps.min():.2f} to {steps.max():.2f} mm, usually "
                f"{median:.2f} mm); each slice keeps its own position."
            )
        spacing = float(along[-1] - along[0]) / (n - 1)
    else:
        spacing = thickness if thickness else 1.0
        if thickness is None:
            warnings.append("A single slice without a slice thickness: the slice spacing is shown as 1 mm.")

    if not tilted:
        return StackGeometry(
            order=tuple(int(i) for i in order),
            inplane=inplane,
            rows=rows,
            cols=cols,
            pixel_spacing=(dy, dx),
            stack_dir=s,
            col_dir=c,
            row_dir=r,
            origin=P[0],
            slice_spacing=spacing,
            slice_z=P[:, 2].copy(),
            orientation="axial",
            warnings=tuple(warnings),
        )

    # Gantry tilt: slices rotated about the row (left-right) axis while the table moved along z.
    w = axis_dir
    sideways = abs(float(span @ r))
    tilt = math.degrees(math.atan2(math.hypot(float(span @ r), float(span @ c)), abs(float(span @ normal))))
    if sideways >= tol_mm:
        raise InconsistentGeometry(
            "The slices shift sideways (left-right) from one to the next; this is not a gantry tilt and the "
            "slices do not form one volume."
        )
    if tilt > MAX_CORRECTED_GANTRY_TILT_DEG:
        raise GantryTilt(
            f"The slices were acquired with a gantry tilt of {tilt:.1f}°. Tilts up to "
            f"{MAX_CORRECTED_GANTRY_TILT_DEG:.0f}° are corrected by resampling to axial slices; at larger "
            "tilts too much of the scan would fall outside the corrected volume.",
            hint="Use an axial reconstruction without gantry tilt (an axial reformat from the scanner).",
        )
    v = c - (c @ w) * w
    v /= np.linalg.norm(v)
    out_dy = dy * float(c @ v)
    # Output planes pass through the centre row of each acquired slice (its nominal table position), so
    # the unscanned wedges split evenly between the first and the last planes.
    centre = (rows - 1) / 2.0
    row_offsets = (np.arange(rows, dtype=np.float64) - centre) * dy * float(c @ w)
    origin = P[0] + centre * dy * float(c @ w) * w
    warnings.append(
        f"Gantry tilt of {tilt:.1f}° corrected: the slices were resampled onto axial planes (linear "
        "interpolation along z); the wedges at the first and last slices that were not scanned are air."
    )
    slice_z = origin[2] + np.arange(n) * spacing * float(w[2])
    return StackGeometry(
        order=tuple(int(i) for i in order),
        inplane=inplane,
        rows=rows,
        cols=cols,
        pixel_spacing=(out_dy, dx),
        stack_dir=w,
        col_dir=v,
        row_dir=r,
        origin=origin,
        slice_spacing=spacing,
        slice_z=slice_z,
        orientation="axial",
        tilt_deg=tilt,
        tilt_positions=along - along[0],
        tilt_row_offsets=row_offsets,
        warnings=tuple(warnings),
    )


def resample_tilt(volume: np.ndarray, geometry: StackGeometry) -> np.ndarray:
    """The tilted stack ``volume`` (slices in output order) resampled onto the axial output planes.

    Row ``j`` of acquired slice ``k`` lies at ``positions[k] + offsets[j]`` mm along the stack axis;
    output plane ``k'`` lies at ``k' * spacing`` (through the centre row of acquired slice ``k'``). Each
    output row is interpolated linearly between the two acquired slices around it (only along z, so
    in-plane detail is untouched); outside the scanned slab the output is air.
    """
    assert geometry.tilt_positions is not None
    assert geometry.tilt_row_offsets is not None
    n = volume.shape[0]
    positions = geometry.tilt_positions
    targets = np.arange(n, dtype=np.float64) * geometry.slice_spacing
    index = np.arange(n, dtype=np.float64)
    out = np.empty_like(volume)
    for j, offset in enumerate(geometry.tilt_row_offsets):
        f = np.interp(targets - offset, positions, index, left=np.nan, right=np.nan)
        inside = ~np.isnan(f)
        k0 = np.zeros(n, dtype=np.intp)
        k0[inside] = np.floor(f[inside]).astype(np.intp)
        k0 = np.minimum(k0, n - 2) if n > 1 else k0
        frac = np.where(inside, f - k0, 0.0)[:, None]
        rows0 = volume[k0, j, :].astype(np.float32)
        rows1 = volume[np.minimum(k0 + 1, n - 1), j, :].astype(np.float32)
        values = np.rint(rows0 * (1.0 - frac) + rows1 * frac)
        values[~inside] = AIR_HU
        out[:, j, :] = values.astype(volume.dtype)
    return out
