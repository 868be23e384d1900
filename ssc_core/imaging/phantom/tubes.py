"""Tubes (chains of tapered capsules) rasterised slice by slice with partial-volume coverage.

Every tubular structure of the phantom (airways, aorta and great vessels, pulmonary arteries and veins, the
intrapulmonary vessel trees, clavicles) is a set of segments A->B with radii rA->rB. Instead of 3-D distance
fields, each slice is treated as a slab of thickness T: a segment is clipped to the part of it that can reach
the slab, and the in-plane coverage of a pixel is the box-filtered cross-section of the tube at the pixel's
distance from that clipped piece. Thin tubes lying in the slab plane are attenuated by the share of the slab
they fill (``2 r / (T sin(phi))``, phi the angle to the z axis), which is why small vessels fade on thick
slices as they do on a scanner.

All (segment, slice) pairs are found at once (vectorised); a slice then costs one pass over the pixels of
the bounding boxes of its pairs and one ``np.maximum.at`` per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ssc_core.imaging.phantom.shapes import line_coverage


@dataclass(frozen=True)
class TubeSet:
    """Segments ``a[i] -> b[i]`` (x, y, z mm in the phantom frame) with radii and an output channel.

    A segment may also draw a second, wider copy of itself (radius + ``grow2``) on ``channel2`` (-1: none),
    e.g. a vessel and the fat margin round it, for the price of one distance computation.
    """

    a: np.ndarray
    b: np.ndarray
    ra: np.ndarray
    rb: np.ndarray
    channel: np.ndarray
    channel2: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    grow2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = self.a.shape[0]
        if self.channel2.shape[0] != n:
            object.__setattr__(self, "channel2", np.full(n, -1, dtype=np.int16))
        if self.grow2.shape[0] != n:
            object.__setattr__(self, "grow2", np.zeros(n))

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def with_margin(self, channel: int, grow: float) -> TubeSet:
        """The same segments, also drawn ``grow`` mm wider on ``channel``."""
        n = len(self)
        return TubeSet(
            self.a,
            self.b,
            self.ra,
            self.rb,
            self.channel,
            np.full(n, channel, np.int16),
            np.full(n, float(grow)),
        )

    @classmethod
    def empty(cls) -> TubeSet:
        z3 = np.zeros((0, 3))
        z1 = np.zeros(0)
        return cls(z3, z3.copy(), z1, z1.copy(), np.zeros(0, dtype=np.int16))

    @classmethod
    def segments(
        cls, a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray, channel: int | np.ndarray
    ) -> TubeSet:
        a = np.asarray(a, dtype=np.float64).reshape(-1, 3)
        b = np.asarray(b, dtype=np.float64).reshape(-1, 3)
        n = a.shape[0]
        ch = np.broadcast_to(np.asarray(channel, dtype=np.int16), (n,)).copy()
        return cls(
            a,
            b,
            np.broadcast_to(np.asarray(ra, dtype=np.float64), (n,)).copy(),
            np.broadcast_to(np.asarray(rb, dtype=np.float64), (n,)).copy(),
            ch,
        )

    @classmethod
    def polyline(
        cls, points: Sequence[Any] | np.ndarray, radii: Sequence[float] | np.ndarray | float, channel: int
    ) -> TubeSet:
        """A tube through ``points`` (at least two) with a radius per point (or one for all)."""
        p = np.asarray(points, dtype=np.float64)
        r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (p.shape[0],))
        return cls.segments(p[:-1], p[1:], r[:-1], r[1:], channel)

    @classmethod
    def curve(
        cls,
        points: Sequence[Any] | np.ndarray,
        radii: Sequence[float] | np.ndarray | float,
        channel: int,
        n: int = 24,
    ) -> TubeSet:
        """A smooth tube through control ``points``: a Catmull-Rom spline sampled with ``n`` segments."""
        p = np.asarray(points, dtype=np.float64)
        r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (p.shape[0],)).astype(np.float64)
        pts, rad = catmull_rom(p, r, n)
        return cls.polyline(pts, rad, channel)

    @staticmethod
    def concat(sets: Sequence[TubeSet]) -> TubeSet:
        sets = [s for s in sets if len(s)]
        if not sets:
            return TubeSet.empty()
        return TubeSet(
            np.concatenate([s.a for s in sets]),
            np.concatenate([s.b for s in sets]),
            np.concatenate([s.ra for s in sets]),
            np.concatenate([s.rb for s in sets]),
            np.concatenate([s.channel for s in sets]),
            np.concatenate([s.channel2 for s in sets]),
            np.concatenate([s.grow2 for s in sets]),
        )

    def select(self, mask: np.ndarray) -> TubeSet:
        """The segments where ``mask`` is true."""
        return TubeSet(
            self.a[mask],
            self.b[mask],
            self.ra[mask],
            self.rb[mask],
            self.channel[mask],
            self.channel2[mask],
            self.grow2[mask],
        )

    def with_channel(self, channel: int, grow: float = 0.0, scale: float = 1.0) -> TubeSet:
        """The same centrelines on another channel, radii ``r * scale + grow`` (walls, lumens, margins)."""
        return TubeSet(
            self.a,
            self.b,
            self.ra * scale + grow,
            self.rb * scale + grow,
            np.full(len(self), channel, dtype=np.int16),
        )


def catmull_rom(points: np.ndarray, radii: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample a centripetal-free (uniform) Catmull-Rom spline through ``points`` with ``n`` segments."""
    m = points.shape[0]
    if m < 3:
        t = np.linspace(0.0, 1.0, n + 1)[:, None]
        return points[0] + t * (points[-1] - points[0]), radii[0] + t[:, 0] * (radii[-1] - radii[0])
    ext = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    rext = np.concatenate([[radii[0]], radii, [radii[-1]]])
    u = np.linspace(0.0, m - 1, n + 1)
    i = np.minimum(u.astype(int), m - 2)
    t = (u - i)[:, None]
    p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
    t2, t3 = t * t, t * t * t
    pts = 0.5 * (
        2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2 + (3 * p1 - p0 - 3 * p2 + p3) * t3
    )
    rad = rext[i + 1] + (rext[i + 2] - rext[i + 1]) * t[:, 0]
    return pts, rad


@dataclass(frozen=True)
class SliceGrid:
    """Pixel grid of the axial slices in the phantom frame: column i at x0 + i*px, row j at y0 + j*px."""

    n: int
    px: float
    x0: float
    y0: float

    @cached_property
    def x(self) -> np.ndarray:
        """x of every column (1-D, float32)."""
        return (self.x0 + self.px * np.arange(self.n)).astype(np.float32)

    @cached_property
    def y(self) -> np.ndarray:
        """y of every row (1-D, float32)."""
        return (self.y0 + self.px * np.arange(self.n)).astype(np.float32)

    def roi(self, xmin: float, xmax: float, ymin: float, ymax: float) -> tuple[slice, slice]:
        """(rows, cols) slices of the pixels whose centres lie in the box (possibly empty)."""
        c0 = int(np.clip(np.ceil((xmin - self.x0) / self.px), 0, self.n))
        c1 = int(np.clip(np.floor((xmax - self.x0) / self.px) + 1, c0, self.n))
        r0 = int(np.clip(np.ceil((ymin - self.y0) / self.px), 0, self.n))
        r1 = int(np.clip(np.floor((ymax - self.y0) / self.px) + 1, r0, self.n))
        return slice(r0, r1), slice(c0, c1)


class TubeRasteriser:
    """Per-slice coverage of a :class:`TubeSet`, one plane per channel.

    ``slice_z`` are the slice heights (phantom frame, decreasing), ``thickness`` the slab thickness.
    """

    def __init__(
        self, tubes: TubeSet, slice_z: np.ndarray, thickness: float, grid: SliceGrid, n_channels: int
    ):
        self.grid = grid
        self.n_channels = n_channels
        zs = np.asarray(slice_z, dtype=np.float64)
        nz = zs.size
        half = thickness / 2.0
        tubes = _split_long(tubes)
        a, b = tubes.a, tubes.b
        d = b - a
        seg_len = np.linalg.norm(d, axis=1)
        horiz = np.linalg.norm(d[:, :2], axis=1)
        sin_phi = np.where(seg_len > 1e-9, horiz / np.maximum(seg_len, 1e-9), 0.0)
        grow2 = np.where(tubes.channel2 >= 0, np.maximum(tubes.grow2, 0.0), 0.0)
        rmax = np.maximum(tubes.ra, tubes.rb) + grow2
        rz = rmax * sin_phi + 1e-6
        zlo = np.minimum(a[:, 2], b[:, 2]) - rz - half
        zhi = np.maximum(a[:, 2], b[:, 2]) + rz + half
        if nz > 1:
            dz = (zs[0] - zs[-1]) / (nz - 1)
            k_lo = np.ceil((zs[0] - zhi) / dz - 1e-9).astype(np.int64)
            k_hi = np.floor((zs[0] - zlo) / dz + 1e-9).astype(np.int64)
        else:
            inside = (zlo <= zs[0]) & (zs[0] <= zhi)
            k_lo = np.where(inside, 0, 1)
            k_hi = np.zeros_like(k_lo)
        k_lo = np.clip(k_lo, 0, nz)
        k_hi = np.clip(k_hi, -1, nz - 1)
        counts = np.maximum(k_hi - k_lo + 1, 0)
        seg = np.repeat(np.arange(len(tubes)), counts)
        starts = np.cumsum(counts) - counts
        k = k_lo[seg] + (np.arange(seg.size) - np.repeat(starts, counts))
        zc = zs[k]
        az, dzs = a[seg, 2], d[seg, 2]
        rzs = rz[seg]
        flat = np.abs(dzs) < 1e-9
        safe = np.where(flat, 1.0, dzs)
        ta = (zc - half - rzs - az) / safe
        tb = (zc + half + rzs - az) / safe
        t0 = np.where(flat, 0.0, np.clip(np.minimum(ta, tb), 0.0, 1.0))
        t1 = np.where(flat, 1.0, np.clip(np.maximum(ta, tb), 0.0, 1.0))
        ok = t1 >= t0
        ra, rb = tubes.ra[seg], tubes.rb[seg]
        p0 = a[seg, :2] + t0[:, None] * d[seg, :2]
        p1 = a[seg, :2] + t1[:, None] * d[seg, :2]
        r0 = ra + t0 * (rb - ra)
        r1 = ra + t1 * (rb - ra)
        # share of the slab filled by a tube lying in it (1 for a tube crossing the slab steeply)
        fill = np.minimum(1.0, (r0 + r1) / np.maximum(thickness * sin_phi[seg], 1e-6))
        rr = np.maximum(r0, r1) + grow2[seg] + 0.5 * grid.px + 1e-3
        px = grid.px
        c0 = np.floor((np.minimum(p0[:, 0], p1[:, 0]) - rr - grid.x0) / px).astype(np.int64)
        c1 = np.ceil((np.maximum(p0[:, 0], p1[:, 0]) + rr - grid.x0) / px).astype(np.int64)
        w0 = np.floor((np.minimum(p0[:, 1], p1[:, 1]) - rr - grid.y0) / px).astype(np.int64)
        w1 = np.ceil((np.maximum(p0[:, 1], p1[:, 1]) + rr - grid.y0) / px).astype(np.int64)
        c0, c1 = np.clip(c0, 0, grid.n - 1), np.clip(c1, 0, grid.n - 1)
        w0, w1 = np.clip(w0, 0, grid.n - 1), np.clip(w1, 0, grid.n - 1)
        bw, bh = c1 - c0 + 1, w1 - w0 + 1
        ok &= (bw > 0) & (bh > 0) & (np.maximum(r0, r1) > 0)
        order = np.argsort(k[ok], kind="stable")
        sel = np.flatnonzero(ok)[order]
        self._k = k[sel]
        self._ch = tubes.channel[seg[sel]].astype(np.int64)
        self._ch2 = tubes.channel2[seg[sel]].astype(np.int64)
        self._grow2 = tubes.grow2[seg[sel]].astype(np.float32)
        self._p0 = p0[sel].astype(np.float32)
        self._e = (p1[sel] - p0[sel]).astype(np.float32)
        self._r0 = r0[sel].astype(np.float32)
        self._dr = (r1[sel] - r0[sel]).astype(np.float32)
        self._fill = fill[sel].astype(np.float32)
        # centreline height along the clipped piece, relative to the slice, and the tilt of the tube
        z0 = a[seg, 2] + t0 * d[seg, 2] - zc
        z1 = a[seg, 2] + t1 * d[seg, 2] - zc
        self._z0 = z0[sel].astype(np.float32)
        self._ez = (z1 - z0)[sel].astype(np.float32)
        self._sin = sin_phi[seg][sel].astype(np.float32)
        self._half = np.float32(half)
        self._c0, self._w0 = c0[sel], w0[sel]
        self._bw, self._bh = bw[sel], bh[sel]
        self._bounds = np.searchsorted(self._k, np.arange(nz + 1))

    @property
    def n_pairs(self) -> int:
        return int(self._k.size)

    def render(self, k: int, out: np.ndarray) -> np.ndarray:
        """Add (maximum) the coverage of slice ``k`` into ``out`` of shape (n_channels, n, n), float32.

        Returns a boolean per channel: whether anything was drawn on it (the caller may skip the others).
        """
        s, e = self._bounds[k], self._bounds[k + 1]
        present = np.zeros(self.n_channels, dtype=bool)
        if e <= s:
            return present
        present[self._ch[s:e]] = True
        ch2 = self._ch2[s:e]
        present[ch2[ch2 >= 0]] = True
        n = self.grid.n
        bw, bh = self._bw[s:e], self._bh[s:e]
        sizes = bw * bh
        total = int(sizes.sum())
        rep = np.repeat(np.arange(e - s), sizes)
        local = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        bwr = bw[rep]
        row = local // bwr + self._w0[s:e][rep]
        col = local % bwr + self._c0[s:e][rep]
        px = np.float32(self.grid.px)
        qx = (np.float32(self.grid.x0) + col.astype(np.float32) * px) - self._p0[s:e, 0][rep]
        qy = (np.float32(self.grid.y0) + row.astype(np.float32) * px) - self._p0[s:e, 1][rep]
        ex, ey = self._e[s:e, 0][rep], self._e[s:e, 1][rep]
        ll = ex * ex + ey * ey
        t = np.clip((qx * ex + qy * ey) / np.maximum(ll, np.float32(1e-9)), 0.0, 1.0)
        dx = qx - t * ex
        dy = qy - t * ey
        dist = np.sqrt(dx * dx + dy * dy)
        radius = self._r0[s:e][rep] + t * self._dr[s:e][rep]
        # a tube passing above or below the slab is cut narrower: at a distance h between its axis and the
        # slab (measured across the axis), its in-plane half-width is sqrt(r^2 - h^2)
        h = (
            np.maximum(np.abs(self._z0[s:e][rep] + t * self._ez[s:e][rep]) - self._half, 0.0)
            * self._sin[s:e][rep]
        )
        h2 = h * h
        fill = self._fill[s:e][rep]
        pix = row * n + col
        cov = line_coverage(dist, np.sqrt(np.maximum(radius * radius - h2, 0.0)), self.grid.px) * fill
        flat_out = out.reshape(-1)
        np.maximum.at(flat_out, self._ch[s:e][rep] * (n * n) + pix, cov)
        second = ch2[rep]
        sel2 = second >= 0
        if sel2.any():
            r2 = radius[sel2] + self._grow2[s:e][rep][sel2]
            cov2 = line_coverage(dist[sel2], np.sqrt(np.maximum(r2 * r2 - h2[sel2], 0.0)), self.grid.px)
            np.maximum.at(flat_out, second[sel2] * (n * n) + pix[sel2], cov2 * fill[sel2])
        return present


def _split_long(tubes: TubeSet) -> TubeSet:
    """Cut segments that run far in the slice plane into pieces, so their bounding boxes stay tight."""
    d = tubes.b - tubes.a
    horiz = np.linalg.norm(d[:, :2], axis=1)
    limit = np.maximum(5.0, 2.5 * (np.maximum(tubes.ra, tubes.rb) + np.maximum(tubes.grow2, 0.0)))
    pieces = np.maximum(1, np.ceil(horiz / limit)).astype(np.int64)
    if not (pieces > 1).any():
        return tubes
    idx = np.repeat(np.arange(len(tubes)), pieces)
    j = np.arange(idx.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t0 = (j / pieces[idx])[:, None]
    t1 = ((j + 1) / pieces[idx])[:, None]
    dr = (tubes.rb - tubes.ra)[idx]
    return TubeSet(
        tubes.a[idx] + t0 * d[idx],
        tubes.a[idx] + t1 * d[idx],
        tubes.ra[idx] + t0[:, 0] * dr,
        tubes.ra[idx] + t1[:, 0] * dr,
        tubes.channel[idx],
        tubes.channel2[idx],
        tubes.grow2[idx],
    )
