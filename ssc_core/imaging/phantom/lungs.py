"""The lungs: where they are (per slice and at arbitrary points), their lobes and fissures.

A lung is the thoracic cavity less the mediastinum (a fat core, the heart in its pericardial fat, the left
atrium and a margin around every mediastinal tube), above its hemidiaphragm and below its apical cap. The
same functions serve the slice composer (a 2-D grid at one height) and the vessel-tree generator (points
sampled inside the lungs), so the trees always grow where the lungs are drawn.

Fissures (Webb, Müller & Naidich): the major fissures run from the posterior chest wall at about the level
of T4-T5 obliquely forwards and down to the anterior diaphragm; the right minor fissure is roughly horizontal
at the level of the fourth costal cartilage, in front of the major fissure.
"""

from __future__ import annotations

import numpy as np

from ssc_core.imaging.phantom.anatomy import Anatomy
from ssc_core.imaging.phantom.mediastinum import CH_EXCLUDE, Mediastinum
from ssc_core.imaging.phantom.shapes import clip01, coverage
from ssc_core.imaging.phantom.thorax import Thorax, smooth_interp

Array = np.ndarray

LOBES = ("RUL", "RML", "RLL", "LUL", "LLL")
_CORE_T = np.array([0.0, 0.12, 0.4, 0.7, 1.0], dtype=np.float32)
_CORE_W = np.array([0.05, 0.12, 0.7, 0.8, 0.55], dtype=np.float32)


class Lungs:
    """Lung geometry of one patient."""

    def __init__(self, anat: Anatomy, thorax: Thorax, med: Mediastinum):
        self.a = anat
        self.thorax = thorax
        self.med = med
        self._occupancy: dict[float, tuple[Array, tuple[float, float, float, float]]] = {}

    # --- the mediastinal core ---------------------------------------------------------------------

    def core_sd(self, x: Array, y: Array, z: Array | float) -> Array:
        """Mediastinal fat between the sternum and the spine, narrower in front (the anterior junction)."""
        a = self.a
        _, d, cy = self.thorax.cavity_size(z)
        y_ant = np.asarray(cy - d, dtype=np.float32)
        y_post = np.asarray(a.vb_y - a.vb_radius_at(z), dtype=np.float32)
        half = np.asarray(smooth_interp(z, self.med.core["z"], self.med.core["half_w"]), dtype=np.float32)
        t = (y - y_ant) / np.maximum(y_post - y_ant, np.float32(1.0))
        # a thin anterior junction widening to the vessels, narrower again behind the trachea
        width = half * np.interp(t, _CORE_T, _CORE_W).astype(np.float32)
        xc = np.float32(self.a.carina_xy[0] * 0.5)
        sd_x = width - np.abs(x - xc)
        sd_y = np.minimum(y - y_ant + np.float32(4.0), y_post + np.float32(4.0) - y)
        return np.minimum(sd_x, sd_y)

    def _in_margins(self, pts: Array, margin: float) -> Array:
        """True for points within ``margin`` mm of the fat margins round the mediastinal tubes.

        Looked up in a 2 mm occupancy grid of those margins (grown by ``margin``), rasterised once per
        margin with the same tube rasteriser as the slices.
        """
        key = round(float(margin), 3)
        if key not in self._occupancy:
            self._occupancy[key] = _margin_occupancy(self, margin)
        occ, (x0, y0, z0, step) = self._occupancy[key]
        k = np.clip(np.rint((z0 - pts[:, 2]) / step).astype(int), 0, occ.shape[0] - 1)
        j = np.clip(np.rint((pts[:, 1] - y0) / step).astype(int), 0, occ.shape[1] - 1)
        i = np.clip(np.rint((pts[:, 0] - x0) / step).astype(int), 0, occ.shape[2] - 1)
        return occ[k, j, i]

    def septum_x(self) -> float:
        """x of the midline plane that separates the right from the left lung."""
        return float(self.a.carina_xy[0] * 0.5 + 1.0)

    # --- per slice --------------------------------------------------------------------------------

    def slice_coverage(
        self,
        x: Array,
        y: Array,
        z: float,
        px: float,
        sd_cav: Array,
        exclude: Array,
        above: tuple[Array, Array],
    ) -> Array:
        """Lung coverage on a slice (or part of one).

        ``sd_cav`` is the cavity signed distance at the same pixels, ``exclude`` the coverage of the margins
        round the mediastinal tubes and ``above`` the right/left above-dome coverages.
        """
        t = self.thorax
        c_cav = coverage(sd_cav - np.float32(0.8), px)
        c_med = coverage(self.core_sd(x, y, z), px)
        np.maximum(c_med, exclude, out=c_med)
        for part, margin in zip(self.med.heart_parts, self.med.heart_margins):
            if part.in_slice(z, margin):
                np.maximum(c_med, coverage(part.sd(x, y, z) + np.float32(margin), px), out=c_med)
        right = x < np.float32(self.septum_x())
        env = np.where(right, t.apex_sd(x, y, z, "right"), t.apex_sd(x, y, z, "left"))
        dome = np.where(right, above[0], above[1])
        c_med -= np.float32(1.0)
        c_med *= np.float32(-1.0)
        c_cav *= c_med
        c_cav *= coverage(env, px)
        c_cav *= dome
        return c_cav

    def above_dome(self, x: Array, y: Array, z: float, thickness: float) -> tuple[Array, Array]:
        """Share of the slab (thickness mm) above each hemidiaphragm: partial volume at the dome."""
        t = np.float32(1.0 / max(thickness, 0.5))
        r = clip01((np.float32(z) - self.thorax.dome_z(x, y, "right")) * t + np.float32(0.5))
        lft = clip01((np.float32(z) - self.thorax.dome_z(x, y, "left")) * t + np.float32(0.5))
        return r, lft

    # --- at points --------------------------------------------------------------------------------

    def side_at(self, pts: Array, margin: float = 0.0) -> Array:
        """0 outside the lungs, 1 in the right, 2 in the left lung, at points (n, 3) ``margin`` mm inside."""
        x = pts[:, 0].astype(np.float32)
        y = pts[:, 1].astype(np.float32)
        z = pts[:, 2].astype(np.float32)
        t = self.thorax
        m = np.float32(margin)
        ok = t.cavity_sd(x, y, z) > m + 0.8
        ok &= self.core_sd(x, y, z) < -m
        for part, margin in zip(self.med.heart_parts, self.med.heart_margins):
            ok &= part.sd(x, y, z) < -m - margin
        right = x < np.float32(self.septum_x())
        ok &= np.where(right, t.apex_sd(x, y, z, "right"), t.apex_sd(x, y, z, "left")) > m
        zd = np.where(right, t.dome_z(x, y, "right"), t.dome_z(x, y, "left"))
        ok &= z > zd + m
        if ok.any():
            ok[ok] &= ~self._in_margins(pts[ok], margin)
        return np.where(ok, np.where(right, 1, 2), 0).astype(np.int8)

    # --- lobes and fissures -----------------------------------------------------------------------

    def major_fissure_z(self, x: Array, y: Array, side: str) -> Array:
        a = self.a
        if side == "right":
            z_post, k = a.extras["fissure_r_z"], a.extras["fissure_r_tilt"]
        else:
            z_post, k = a.extras["fissure_l_z"], a.extras["fissure_l_tilt"]
        lateral = np.abs(x) - np.float32(0.5 * a.cavity_w)
        return np.float32(z_post) - np.float32(k) * (np.float32(a.cavity_d) - y) + np.float32(0.22) * lateral

    def lobe_at(self, pts: Array) -> Array:
        """Lobe index into :data:`LOBES` for points inside the lungs (side from x)."""
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        right = x < self.septum_x()
        lower_r = z < self.major_fissure_z(x, y, "right")
        lower_l = z < self.major_fissure_z(x, y, "left")
        middle = z < self.a.extras["minor_fissure_z"]
        lobe_r = np.where(lower_r, 2, np.where(middle, 1, 0))
        lobe_l = np.where(lower_l, 4, 3)
        return np.where(right, lobe_r, lobe_l).astype(np.int8)

    def fissure_hu(self, x: Array, y: Array, z: float, thickness: float, px: float) -> Array:
        """HU added by the two major fissures: a thin pleural sheet smeared across the slab."""
        out = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y)), dtype=np.float32)
        sep = np.float32(self.septum_x())
        for side in ("right", "left"):
            zf = self.major_fissure_z(x, y, side)
            k = self.a.extras["fissure_r_tilt" if side == "right" else "fissure_l_tilt"]
            grad = float(np.hypot(k, 0.22))
            # a 0.3 mm sheet crossing a slab of the given thickness: its in-plane footprint is
            # thickness / grad wide and it fills 0.3 * sqrt(1 + grad^2) / thickness of the slab there
            fill = min(1.0, 0.3 * np.sqrt(1.0 + grad * grad) / max(thickness, 0.3))
            half = max(thickness, px) / 2.0
            band = np.clip(
                (np.float32(half) - np.abs(np.float32(z) - zf)) / np.float32(px * grad) + 0.5, 0.0, 1.0
            )
            mask = (x < sep) if side == "right" else (x >= sep)
            out += np.where(mask, band, np.float32(0.0)) * np.float32(820.0 * fill)
        return out


def _margin_occupancy(
    lungs: Lungs, margin: float, step: float = 2.0
) -> tuple[Array, tuple[float, float, float, float]]:
    """Boolean (z, y, x) grid of the mediastinal tube margins grown by ``margin`` (see ``_in_margins``)."""
    from ssc_core.imaging.phantom.tubes import SliceGrid, TubeRasteriser, TubeSet

    a = lungs.a
    t = lungs.med.tubes
    primary = t.channel == CH_EXCLUDE
    second = t.channel2 == CH_EXCLUDE
    sel = primary | second
    grow = np.where(primary, 0.0, t.grow2)[sel] + margin
    tubes = TubeSet.segments(t.a[sel], t.b[sel], t.ra[sel] + grow, t.rb[sel] + grow, 0)
    half = max(a.cavity_w, a.cavity_d) + 20.0
    n = int(np.ceil(2.0 * half / step)) + 1
    grid = SliceGrid(n, step, -half, -half)
    zs = a.z_top - step * np.arange(int(np.ceil((a.z_top - a.z_bottom) / step)) + 1)
    raster = TubeRasteriser(tubes, zs, step, grid, 1)
    occ = np.zeros((zs.size, n, n), dtype=bool)
    buf = np.zeros((1, n, n), dtype=np.float32)
    for k in range(zs.size):
        buf.fill(0.0)
        raster.render(k, buf)
        occ[k] = buf[0] > 0.5
    return occ, (-half, -half, float(zs[0]), step)
