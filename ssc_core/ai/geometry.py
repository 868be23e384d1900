"""Index <-> world z <-> original slice conversions for resampled volumes.

Both level finders resample the scan along z onto a regular grid of world positions (the paper: 256 samples
spanning the scan; the fast finder: a fixed step in mm). A prediction is a fractional index on that grid; it
becomes a world z (LPS mm, +z to the head, DICOM PS3.3 C.7.6.2.1.1) through :class:`ZAxis`, and then the
nearest slice of the *original* scan, or "outside the scanned range" (never clamped).

These functions take the original slice positions as an array and accept either z order (a CTVolume always
has decreasing ``slice_z``, cranial first, but the resampling math must not depend on it): the direction of
every step comes from the positions, never from the array order. Plain numpy; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Half a slice beyond the first/last slice centre still counts as inside the scan (the slice's extent).
INSIDE_MARGIN_SLICES = 0.5


@dataclass(frozen=True)
class ZAxis:
    """A regular grid along world z: sample ``r`` (0 .. n-1) lies at ``first_z + r * step_z`` mm.

    ``step_z`` is signed: negative when the grid runs from head to feet (the CTVolume order).
    """

    first_z: float
    step_z: float
    n: int

    def __post_init__(self) -> None:
        if not np.isfinite(self.first_z) or not np.isfinite(self.step_z) or self.step_z == 0:
            raise ValueError(f"a z grid needs a finite, non-zero step (got {self.step_z!r})")
        if self.n < 1:
            raise ValueError("a z grid needs at least one sample")

    @property
    def last_z(self) -> float:
        return self.first_z + (self.n - 1) * self.step_z

    def index_to_world(self, r: float | np.ndarray) -> float | np.ndarray:
        """World z (mm) of fractional grid index ``r`` (a float for a scalar, else an array)."""
        out = self.first_z + np.asarray(r, dtype=np.float64) * self.step_z
        return float(out) if out.ndim == 0 else out

    def world_to_index(self, z: float | np.ndarray) -> float | np.ndarray:
        """Fractional grid index of world z (may lie outside 0 .. n-1)."""
        out = (np.asarray(z, dtype=np.float64) - self.first_z) / self.step_z
        return float(out) if out.ndim == 0 else out


def _check_positions(slice_z: np.ndarray) -> np.ndarray:
    z = np.asarray(slice_z, dtype=np.float64)
    if z.ndim != 1 or z.size == 0:
        raise ValueError("slice positions must be a non-empty 1-D array")
    if z.size > 1:
        d = np.diff(z)
        if not (np.all(d > 0) or np.all(d < 0)):
            raise ValueError("slice positions must be strictly monotonic")
    return z


def spanning_axis(slice_z: np.ndarray, n: int) -> ZAxis:
    """``n`` samples from the first to the last slice centre, both included (the paper's 256-grid).

    This is the ``align_corners=True`` convention: sample 0 is the first slice and sample ``n - 1`` the
    last, whatever the z order of the source.
    """
    z = _check_positions(slice_z)
    if z.size == 1:
        raise ValueError("a single slice cannot be resampled along z")
    if n < 2:
        raise ValueError("the resampled grid needs at least two samples")
    return ZAxis(first_z=float(z[0]), step_z=float((z[-1] - z[0]) / (n - 1)), n=int(n))


def stepped_axis(slice_z: np.ndarray, step_mm: float) -> ZAxis:
    """Samples every ``step_mm`` from the first slice centre towards the last (never beyond it)."""
    z = _check_positions(slice_z)
    if step_mm <= 0:
        raise ValueError("the z step must be positive")
    if z.size == 1:
        return ZAxis(first_z=float(z[0]), step_z=-float(step_mm), n=1)
    extent = abs(float(z[-1] - z[0]))
    n = int(np.floor(extent / step_mm + 1e-9)) + 1
    sign = 1.0 if z[-1] > z[0] else -1.0
    return ZAxis(first_z=float(z[0]), step_z=sign * float(step_mm), n=n)


def world_to_original_index(slice_z: np.ndarray, world_z: float | np.ndarray) -> np.ndarray:
    """Fractional original slice index of world z: linear between slice centres, extrapolated outside."""
    z = _check_positions(slice_z)
    w = np.asarray(world_z, dtype=np.float64)
    if z.size == 1:
        return np.zeros_like(w)
    idx = np.arange(z.size, dtype=np.float64)
    if z[-1] < z[0]:  # np.interp needs increasing x
        zs, ids = z[::-1], idx[::-1]
    else:
        zs, ids = z, idx
    out = np.interp(w, zs, ids)
    # Extrapolate linearly with the mean step beyond the ends (np.interp would clamp).
    step = (z[-1] - z[0]) / (z.size - 1)
    before = (w - z[0]) / step < 0
    after = (w - z[-1]) / step > 0
    out = np.where(before, (w - z[0]) / step, out)
    out = np.where(after, (z.size - 1) + (w - z[-1]) / step, out)
    return out


def original_index_to_world(slice_z: np.ndarray, k: float | np.ndarray) -> np.ndarray:
    """World z of fractional original index ``k`` (linear between centres, extrapolated outside)."""
    z = _check_positions(slice_z)
    kk = np.asarray(k, dtype=np.float64)
    if z.size == 1:
        return np.full_like(kk, z[0])
    idx = np.arange(z.size, dtype=np.float64)
    out = np.interp(kk, idx, z)
    step = (z[-1] - z[0]) / (z.size - 1)
    out = np.where(kk < 0, z[0] + kk * step, out)
    out = np.where(kk > z.size - 1, z[-1] + (kk - (z.size - 1)) * step, out)
    return out


def sample_indices(slice_z: np.ndarray, axis: ZAxis) -> np.ndarray:
    """Fractional original index of every grid sample (for linear interpolation along z)."""
    return world_to_original_index(slice_z, axis.index_to_world(np.arange(axis.n, dtype=np.float64)))


def nearest_original_slice(slice_z: np.ndarray, world_z: float) -> int | None:
    """Index of the original slice nearest to ``world_z``; ``None`` when z lies outside the scanned range.

    Inside means within half a slice of the first or last slice centre. Never clamps: a level above the
    first or below the last slice is reported as outside, so a reader is never shown a wrong slice.
    """
    z = _check_positions(slice_z)
    if not np.isfinite(world_z):
        return None
    k = float(world_to_original_index(z, world_z))
    if k < -INSIDE_MARGIN_SLICES or k > (z.size - 1) + INSIDE_MARGIN_SLICES:
        return None
    return int(np.argmin(np.abs(z - world_z)))


def outside_side(slice_z: np.ndarray, world_z: float) -> str | None:
    """ "above" (cranial to the first slice), "below" (caudal to the last) or None when inside.

    Uses world z (LPS: larger z is more cranial), so the answer does not depend on the array order.
    """
    z = _check_positions(slice_z)
    if nearest_original_slice(z, world_z) is not None:
        return None
    return "above" if world_z > float(z.max()) else "below"
